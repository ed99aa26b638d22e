package counterparties

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queueByExternalIDs reads the counterparties with the given external ids into out,
// by external id; forUpdate locks them until commit, so the upsert that compares them
// writes over exactly what it compared. Served by the unique (tenant_id, external_id).
func queueByExternalIDs(b *pgx.Batch, tenantID uuid.UUID, ids []string, forUpdate bool, out map[string]Counterparty) {
	sql := `SELECT ` + columns + ` FROM counterparties WHERE tenant_id = $1 AND external_id = ANY($2)`
	if forUpdate {
		// Locked in id order, the order every bulk writer takes them in.
		sql += ` ORDER BY id FOR UPDATE`
	}
	b.Queue(sql, tenantID, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scan(rows)
			if err != nil {
				return err
			}
			out[*c.ExternalID] = c
		}
		return rows.Err()
	})
}

// columnsOf splits counterparties into one array per column, for unnest.
type columnsOf struct {
	ids                        []uuid.UUID
	names, kinds               []string
	emails, taxIDs, currencies []*string
	terms                      []int32
	externalIDs                []*string
	versions                   []int32
	createdAt, updatedAt       []time.Time
}

func split(cs []Counterparty) columnsOf {
	n := len(cs)
	c := columnsOf{
		ids: make([]uuid.UUID, n), names: make([]string, n), kinds: make([]string, n), emails: make([]*string, n),
		taxIDs: make([]*string, n), currencies: make([]*string, n), terms: make([]int32, n), externalIDs: make([]*string, n),
		versions: make([]int32, n), createdAt: make([]time.Time, n), updatedAt: make([]time.Time, n),
	}
	for i, x := range cs {
		c.ids[i], c.names[i], c.kinds[i], c.emails[i], c.taxIDs[i] = x.ID, x.Name, string(x.Kind), x.Email, x.TaxID
		c.currencies[i], c.terms[i], c.externalIDs[i] = x.DefaultCurrency, int32(x.PaymentTermsDays), x.ExternalID
		c.versions[i], c.createdAt[i], c.updatedAt[i] = int32(x.Version), x.CreatedAt, x.UpdatedAt
	}
	return c
}

// queueInsertMany inserts counterparties with one statement.
func queueInsertMany(b *pgx.Batch, tenantID uuid.UUID, cs []Counterparty) {
	if len(cs) == 0 {
		return
	}
	c := split(cs)
	b.Queue(`INSERT INTO counterparties (id, tenant_id, name, kind, email, tax_id, default_currency,
    payment_terms_days, external_id, version, created_at, updated_at)
SELECT t.id, $1, t.name, t.kind, t.email, t.tax_id, t.currency, t.terms, t.external_id, t.version, t.created_at, t.updated_at
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::int[],
              $11::timestamptz[], $12::timestamptz[])
       AS t(id, name, kind, email, tax_id, currency, terms, external_id, version, created_at, updated_at)`,
		tenantID, c.ids, c.names, c.kinds, c.emails, c.taxIDs, c.currencies, c.terms, c.externalIDs, c.versions,
		c.createdAt, c.updatedAt)
}

// queueUpdateMany writes each counterparty's values as its version, over the version
// before it (which the caller holds locked), with one statement.
func queueUpdateMany(b *pgx.Batch, tenantID uuid.UUID, cs []Counterparty) {
	if len(cs) == 0 {
		return
	}
	c := split(cs)
	b.Queue(`UPDATE counterparties AS cp
   SET name = t.name, kind = t.kind, email = t.email, tax_id = t.tax_id, default_currency = t.currency,
       payment_terms_days = t.terms, external_id = t.external_id, version = t.version, updated_at = t.updated_at
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::int[],
              $11::timestamptz[])
       AS t(id, name, kind, email, tax_id, currency, terms, external_id, version, updated_at)
 WHERE cp.tenant_id = $1 AND cp.id = t.id AND cp.version = t.version - 1`,
		tenantID, c.ids, c.names, c.kinds, c.emails, c.taxIDs, c.currencies, c.terms, c.externalIDs, c.versions,
		c.updatedAt).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != int64(len(cs)) {
			return fmt.Errorf("counterparties: %d of %d updates matched their version", ct.RowsAffected(), len(cs))
		}
		return nil
	})
}

// QueueGetMany reads the counterparties with the given ids into out (absent ones are
// simply missing): the bulk form of QueueGet, for documents imported in bulk.
func QueueGetMany(b *pgx.Batch, tenantID uuid.UUID, ids []uuid.UUID, out map[uuid.UUID]Counterparty) {
	b.Queue(`SELECT `+columns+` FROM counterparties WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, tenantID, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				c, err := scan(rows)
				if err != nil {
					return err
				}
				out[c.ID] = c
			}
			return rows.Err()
		})
}
