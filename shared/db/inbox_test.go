package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestClaimMessageOnce(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	claim := func(tenant [16]byte, consumer, id string) bool {
		var first bool
		require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
			var err error
			first, err = db.ClaimMessage(ctx, tx, tenant, consumer, id)
			return err
		}))
		return first
	}
	require.True(t, claim(a, "webhooks", "m1"))
	require.False(t, claim(a, "webhooks", "m1"), "a redelivery is not the first")
	require.True(t, claim(a, "reconcile", "m1"), "each consumer claims for itself")
	require.True(t, claim(b, "webhooks", "m1"), "and each tenant")

	// A claim rolled back with its effect leaves the message unprocessed.
	require.Error(t, d.App.InTenantTx(ctx, a, func(tx pgx.Tx) error {
		if _, err := db.ClaimMessage(ctx, tx, a, "webhooks", "m2"); err != nil {
			return err
		}
		return context.Canceled
	}))
	require.True(t, claim(a, "webhooks", "m2"))
}
