package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// insertCounterparty inserts a customer of tenant into tx and returns its id.
func insertCounterparty(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, name string) (uuid.UUID, error) {
	id := uuid.Must(uuid.NewV7())
	_, err := tx.Exec(ctx, `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, $3, 'customer')`, id, tenant, name)
	return id, err
}

// seedCounterparties inserts n counterparties for tenant through the application role.
func seedCounterparties(t *testing.T, d *dbtest.Database, tenant uuid.UUID, n int) {
	t.Helper()
	err := d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := insertCounterparty(context.Background(), tx, tenant, "cp"); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// requireAppErr asserts err is (or wraps) an *apperr.Error of kind and code.
func requireAppErr(t *testing.T, err error, kind apperr.Kind, code string) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "want *apperr.Error, got %T: %v", err, err)
	require.Equal(t, kind, ae.Kind, "kind of %v", err)
	require.Equal(t, code, ae.Code, "code of %v", err)
	return ae
}
