package counterparties

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/page"
)

// columns is the one projection of a counterparty row, in scan order.
const columns = `id, name, kind, email, tax_id, default_currency, payment_terms_days, external_id, version, created_at, updated_at`

func scan(row pgx.Row) (Counterparty, error) {
	c := Counterparty{Object: "counterparty"}
	err := row.Scan(&c.ID, &c.Name, &c.Kind, &c.Email, &c.TaxID, &c.DefaultCurrency, &c.PaymentTermsDays,
		&c.ExternalID, &c.Version, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

func queueInsert(b *pgx.Batch, tenantID uuid.UUID, c Counterparty) {
	b.Queue(`INSERT INTO counterparties (id, tenant_id, name, kind, email, tax_id, default_currency,
    payment_terms_days, external_id, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, tenantID, c.Name, c.Kind, c.Email, c.TaxID, c.DefaultCurrency, c.PaymentTermsDays,
		c.ExternalID, c.Version, c.CreatedAt, c.UpdatedAt)
}

// queueUpdate writes c's values as the version after expectedVersion, only if that is
// still the stored version; updated reports whether it was.
func queueUpdate(b *pgx.Batch, tenantID uuid.UUID, expectedVersion int, c Counterparty, updated *bool) {
	b.Queue(`UPDATE counterparties
   SET name = $4, kind = $5, email = $6, tax_id = $7, default_currency = $8, payment_terms_days = $9,
       external_id = $10, version = version + 1, updated_at = $11
 WHERE tenant_id = $1 AND id = $2 AND version = $3
RETURNING version`,
		tenantID, c.ID, expectedVersion, c.Name, c.Kind, c.Email, c.TaxID, c.DefaultCurrency, c.PaymentTermsDays,
		c.ExternalID, c.UpdatedAt).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*updated = true
			}
			return rows.Err()
		})
}

// queueDelete deletes the counterparty (only at expectedVersion, when given) and reads
// back the deleted row.
func queueDelete(b *pgx.Batch, tenantID, id uuid.UUID, expectedVersion *int, deleted *Counterparty, found *bool) {
	b.Queue(`DELETE FROM counterparties
 WHERE tenant_id = $1 AND id = $2 AND ($3::integer IS NULL OR version = $3)
RETURNING `+columns, tenantID, id, expectedVersion).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				c, err := scan(rows)
				if err != nil {
					return err
				}
				*deleted, *found = c, true
			}
			return rows.Err()
		})
}

// QueueGet reads one counterparty; tenant_id is explicit as well as enforced by RLS,
// so the index on (tenant_id, ...) is used and a policy mistake cannot widen a query.
func QueueGet(b *pgx.Batch, tenantID, id uuid.UUID, out *Counterparty, found *bool) {
	b.Queue(`SELECT `+columns+` FROM counterparties WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				c, err := scan(rows)
				if err != nil {
					return err
				}
				*out, *found = c, true
			}
			return rows.Err()
		})
}

// queueList reads a page newest first; served by counterparties_named (tenant_id, id DESC).
func queueList(b *pgx.Batch, tenantID uuid.UUID, f ListFilter, p page.Params, out *[]Counterparty) {
	var kind *string
	if f.Kind != nil {
		k := string(*f.Kind)
		kind = &k
	}
	b.Queue(`SELECT `+columns+` FROM counterparties
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR kind = $2)
   AND ($3::uuid IS NULL OR id < $3)
 ORDER BY id DESC
 LIMIT $4`, tenantID, kind, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				c, err := scan(rows)
				if err != nil {
					return err
				}
				*out = append(*out, c)
			}
			return rows.Err()
		})
}
