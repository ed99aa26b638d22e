package apiclients

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/shared/page"
)

// clientColumns is the one projection of a client row, in scan order. The secret hash
// is not among them: the application role may not read it; only the credentials
// lookup compares it.
const clientColumns = `id, name, roles, version, created_at, created_by`

func scanClient(row pgx.Row) (Client, error) {
	c := Client{Object: "api_client"}
	var roles []string
	err := row.Scan(&c.ID, &c.Name, &roles, &c.Version, &c.CreatedAt, &c.CreatedBy)
	c.Roles, c.CreatedAt = rolesOf(roles), c.CreatedAt.UTC()
	return c, err
}

func collectClients(out *[]Client) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanClient(rows)
			if err != nil {
				return err
			}
			*out = append(*out, c)
		}
		return rows.Err()
	}
}

func collectClient(out *Client, found *bool) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanClient(rows)
			if err != nil {
				return err
			}
			*out, *found = c, true
		}
		return rows.Err()
	}
}

func queueInsertClient(b *pgx.Batch, tenantID uuid.UUID, c Client, secretHash []byte) {
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = string(r)
	}
	b.Queue(`INSERT INTO api_clients (id, tenant_id, name, roles, secret_hash, version, created_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, tenantID, c.Name, roles, secretHash, c.Version, c.CreatedAt, c.CreatedBy)
}

// queueGetClient reads one live client; tenant_id is explicit as well as enforced by RLS.
func queueGetClient(b *pgx.Batch, tenantID, id uuid.UUID, out *Client, found *bool) {
	b.Queue(`SELECT `+clientColumns+` FROM api_clients WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
		tenantID, id).Query(collectClient(out, found))
}

// queueListClients reads a page of live clients newest first; served by api_clients_page.
func queueListClients(b *pgx.Batch, tenantID uuid.UUID, p page.Params, out *[]Client) {
	b.Queue(`SELECT `+clientColumns+` FROM api_clients
 WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id < $2)
 ORDER BY id DESC
 LIMIT $3`, tenantID, p.StartingAfter, p.Limit+1).Query(collectClients(out))
}

// queueDeleteClient marks a live client deleted (only at expectedVersion, when given)
// and reads it back as it is now. The row stays: the audit trail names it.
func queueDeleteClient(b *pgx.Batch, tenantID, id uuid.UUID, expectedVersion *int, at time.Time, by string, deleted *Client, found *bool) {
	b.Queue(`UPDATE api_clients
   SET deleted_at = $4, deleted_by = $5, version = version + 1
 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND ($3::integer IS NULL OR version = $3)
RETURNING `+clientColumns, tenantID, id, expectedVersion, at, by).Query(collectClient(deleted, found))
}

// queueLive reads whether a client is live: the primary key's index, one row.
func queueLive(b *pgx.Batch, tenantID, id uuid.UUID, live *bool) {
	b.Queue(`SELECT true FROM api_clients WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*live = true
			}
			return rows.Err()
		})
}

// credentials is what authenticating a client needs.
type credentials struct {
	TenantID   uuid.UUID
	Roles      []string
	SecretHash []byte
}

// lookupCredentials finds a live client by id across tenants, before any tenant is
// known, through the one SECURITY DEFINER function that may (see the migration).
func lookupCredentials(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) (credentials, bool, error) {
	var c credentials
	err := pool.QueryRow(ctx, `SELECT tenant_id, roles, secret_hash FROM api_client_credentials($1)`, id).
		Scan(&c.TenantID, &c.Roles, &c.SecretHash)
	if err == pgx.ErrNoRows {
		return credentials{}, false, nil
	}
	if err != nil {
		return credentials{}, false, err
	}
	return c, true, nil
}
