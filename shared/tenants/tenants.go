// Package tenants provisions tenants. Creating a tenant is an operator action (the
// application role may only read its own tenant row), so these functions take a pool
// connected as an operator role.
package tenants

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tenant is one customer organisation of Ledgerline.
type Tenant struct {
	ID           uuid.UUID
	Name         string
	BaseCurrency string
}

// Ensure creates t if it does not exist. The tenant setting is set to the new id so
// the bootstrap rows (audit chain head, document counters) pass row-level security even
// for a non-superuser operator.
func Ensure(ctx context.Context, pool *pgxpool.Pool, t Tenant) error {
	if t.BaseCurrency == "" {
		t.BaseCurrency = "USD"
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, t.ID.String()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, base_currency) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
			t.ID, t.Name, t.BaseCurrency)
		return err
	})
	if err != nil {
		return fmt.Errorf("tenants: ensure %s: %w", t.ID, err)
	}
	return nil
}
