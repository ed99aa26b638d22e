package payments

import (
	"context"
	"sort"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ByExternalIDs reads the payments with the given external ids, with their
// allocations, in the caller's transaction tx, in one round trip: how an import finds
// the payments it recorded before. Unknown ids are missing from the result.
func ByExternalIDs(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, ids []string) (map[string]Payment, error) {
	out := map[string]Payment{}
	if len(ids) == 0 {
		return out, nil
	}
	b := &pgx.Batch{}
	queueByExternalIDs(b, tenantID, ids, out)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// Records reports whether p is the payment in describes: the same direction,
// counterparty, amount, currency, value date, method, reference and external id, and
// allocations of the same amounts to the same invoices on the same dates (reversed
// ones included: they were made). A payment is immutable once posted, so an input that
// differs from the payment recorded under its external id cannot be applied to it.
func (p Payment) Records(in CreateInput) bool {
	if p.Direction != in.Direction || p.CounterpartyID != in.CounterpartyID || p.AmountMinor != in.AmountMinor ||
		p.Currency != in.Currency || p.ValueDate != in.ValueDate || !eq(p.Method, in.Method) ||
		!eq(p.Reference, in.Reference) || !eq(p.ExternalID, in.ExternalID) || len(p.Allocations) != len(in.Allocations) {
		return false
	}
	type key struct {
		invoice uuid.UUID
		amount  int64
		date    string
	}
	have := make([]key, len(p.Allocations))
	for i, a := range p.Allocations {
		have[i] = key{a.InvoiceID, a.AmountMinor, a.EffectiveDate.String()}
	}
	want := make([]key, len(in.Allocations))
	for i, a := range in.Allocations {
		date := in.ValueDate
		if a.EffectiveDate != nil {
			date = *a.EffectiveDate
		}
		want[i] = key{a.InvoiceID, a.AmountMinor, date.String()}
	}
	less := func(ks []key) func(i, j int) bool {
		return func(i, j int) bool {
			if ks[i].invoice != ks[j].invoice {
				return ks[i].invoice.String() < ks[j].invoice.String()
			}
			if ks[i].amount != ks[j].amount {
				return ks[i].amount < ks[j].amount
			}
			return ks[i].date < ks[j].date
		}
	}
	sort.Slice(have, less(have))
	sort.Slice(want, less(want))
	for i := range have {
		if have[i] != want[i] {
			return false
		}
	}
	return true
}

func eq(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// queueByExternalIDs reads payments and their allocations by external id.
func queueByExternalIDs(b *pgx.Batch, tenantID uuid.UUID, ids []string, out map[string]Payment) {
	byID := map[uuid.UUID]string{}
	b.Queue(`SELECT `+summaryColumns+` FROM payments WHERE tenant_id = $1 AND external_id = ANY($2)`, tenantID, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				s, err := scanSummary(rows)
				if err != nil {
					return err
				}
				out[*s.ExternalID] = Payment{Summary: s, Allocations: []Allocation{}}
				byID[s.ID] = *s.ExternalID
			}
			return rows.Err()
		})
	b.Queue(`SELECT `+allocationColumns+` FROM allocations
 WHERE tenant_id = $1 AND payment_id IN (SELECT id FROM payments WHERE tenant_id = $1 AND external_id = ANY($2))
 ORDER BY payment_id, id`, tenantID, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				a, err := scanAllocation(rows)
				if err != nil {
					return err
				}
				ext := byID[a.PaymentID]
				p := out[ext]
				p.Allocations = append(p.Allocations, a)
				out[ext] = p
			}
			return rows.Err()
		})
}
