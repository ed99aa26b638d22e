package audit_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

// A batch appended with QueueMany chains exactly as entries appended one by one: the
// verifier, which recomputes every hash from the stored rows, accepts the whole chain,
// whichever way each part was appended.
func TestQueueManyChainsLikeQueue(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "Bulk audit")
	appendEntries(t, d, tenant, 2)
	many := func(from, n int) {
		t.Helper()
		var es []audit.Entry
		for i := from; i < from+n; i++ {
			es = append(es, entry(tenant, i))
		}
		es[0].Before = nil // a creation
		require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			if err := audit.QueueMany(b, es); err != nil {
				return err
			}
			return tx.SendBatch(ctx, b).Close()
		}))
	}
	many(3, 50)
	require.NoError(t, appendOne(d, tenant, entry(tenant, 53)))
	many(54, 1)

	var v audit.Verification
	require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		v, err = audit.Verify(ctx, tx)
		return err
	}))
	require.True(t, v.Valid, "%+v", v)
	require.Equal(t, int64(54), v.Events)
	require.Equal(t, int64(54), v.HeadSeq)
}
