package functions_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/audit"
)

// Many clients allocate, reverse and credit the same invoices and payments at once,
// through the HTTP functions. Whatever interleaving happens, every invariant holds and
// the audit trail accounts for every change.
func TestConcurrentMoneyMovementsKeepTheInvariants(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Busy")
	var invoiceIDs, paymentIDs []string
	for i := 0; i < 4; i++ {
		invoiceIDs = append(invoiceIDs, f.openInvoice(t, nil).ID) // 45000 each
	}
	for i := 0; i < 4; i++ {
		_, p := f.pay(t, map[string]any{"amount_minor": 50000})
		paymentIDs = append(paymentIDs, p.ID)
	}

	const workers, opsEach = 8, 25
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for op := 0; op < opsEach; op++ {
				inv := invoiceIDs[rng.IntN(len(invoiceIDs))]
				pay := paymentIDs[rng.IntN(len(paymentIDs))]
				var resp apitest.Response
				var kind string
				switch r := rng.IntN(10); {
				case r < 5:
					kind = "allocate"
					resp, _ = f.post(t, "/v1/payments/"+pay+"/allocations", map[string]any{"allocations": []any{
						alloc(inv, int64(1000+rng.IntN(20000))), alloc(invoiceIDs[rng.IntN(len(invoiceIDs))], int64(1+rng.IntN(5000)))}})
				case r < 8:
					kind = "reverse_allocation"
					g := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments/" + pay, Token: f.token})
					var p payment
					g.JSON(t, &p)
					if len(p.Allocations) == 0 {
						continue
					}
					a := p.Allocations[rng.IntN(len(p.Allocations))]
					resp, _ = f.post(t, "/v1/payments/"+pay+"/allocations/"+a.ID+"/reverse", map[string]any{"reason": "race"})
				default:
					kind = "credit"
					resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices/" + inv + "/credit-notes", Token: f.token,
						Body: map[string]any{"amount_minor": 1 + rng.IntN(3000), "reason": "goodwill"}})
				}
				mu.Lock()
				outcomes[fmt.Sprintf("%s %d", kind, resp.Status)]++
				mu.Unlock()
				if resp.Status >= 500 {
					t.Errorf("%s: %d %s", kind, resp.Status, resp.Body)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("outcomes: %v", outcomes)
	require.Positive(t, outcomes["allocate 201"], "some allocations succeeded")

	ctx := context.Background()
	q := func(sql string) int {
		var n int
		require.NoError(t, s.DB.Admin.QueryRow(ctx, sql, f.tenant).Scan(&n), sql)
		return n
	}
	// Counters equal the rows they summarise; sums stay within bounds; status follows.
	require.Zero(t, q(`SELECT count(*) FROM payments p WHERE p.tenant_id = $1 AND (
    p.amount_allocated_minor <> coalesce((SELECT sum(amount_minor) FROM allocations a WHERE a.payment_id = p.id AND a.reversed_at IS NULL), 0)
    OR p.amount_allocated_minor > p.amount_minor)`))
	require.Zero(t, q(`SELECT count(*) FROM invoices i WHERE i.tenant_id = $1 AND (
    i.amount_paid_minor <> coalesce((SELECT sum(amount_minor) FROM allocations a WHERE a.invoice_id = i.id AND a.reversed_at IS NULL), 0)
    OR i.amount_credited_minor <> coalesce((SELECT sum(amount_minor) FROM credit_notes c WHERE c.invoice_id = i.id), 0)
    OR i.amount_paid_minor + i.amount_credited_minor > i.total_minor
    OR (i.status = 'paid') <> (i.amount_due_minor = 0))`))
	// Every change is in the audit trail, and the chain is intact.
	require.Equal(t, q(`SELECT count(*) FROM allocations WHERE tenant_id = $1`),
		q(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'allocation.created'`))
	require.Equal(t, q(`SELECT count(*) FROM allocations WHERE tenant_id = $1 AND reversed_at IS NOT NULL`),
		q(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'allocation.reversed'`))
	require.Equal(t, q(`SELECT count(*) FROM credit_notes WHERE tenant_id = $1`),
		q(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'credit_note.created'`))
	var v audit.Verification
	require.NoError(t, s.DB.App.InTenantTx(ctx, f.tenant, func(tx pgx.Tx) error {
		var err error
		v, err = audit.Verify(ctx, tx)
		return err
	}))
	require.True(t, v.Valid, "audit chain of %d events", v.Events)
}
