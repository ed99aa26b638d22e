package issuers

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// bindingConstraint is the unique (issuer, claim, value) across all tenants that
// makes a token bind to one tenant at most.
const bindingConstraint = "trusted_issuers_binding_key"

// bindingClaimConstraint is what the trigger of migrations/00018_issuer_hardening.sql
// names when a row would bind an issuer's tokens by another claim than its other rows.
const bindingClaimConstraint = "trusted_issuers_one_binding_claim"

// issuerColumns is the one projection of a trusted_issuers row, in scan order.
const issuerColumns = `id, issuer, audience, algorithms, jwks_url, roles_claim, role_mapping,
       binding_claim, binding_value, version, created_at`

func scanIssuer(row pgx.Row) (Issuer, error) {
	i := Issuer{Object: "trusted_issuer"}
	err := row.Scan(&i.ID, &i.Issuer, &i.Audience, &i.Algorithms, &i.JWKSURL, &i.RolesClaim, &i.RoleMapping,
		&i.Binding.Claim, &i.Binding.Value, &i.Version, &i.CreatedAt)
	if i.RoleMapping == nil {
		i.RoleMapping = map[string]string{}
	}
	return i, err
}

func queueInsertIssuer(b *pgx.Batch, tenantID uuid.UUID, i Issuer) {
	b.Queue(`INSERT INTO trusted_issuers (id, tenant_id, issuer, audience, algorithms, jwks_url, roles_claim,
                             role_mapping, binding_claim, binding_value, version, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		i.ID, tenantID, i.Issuer, i.Audience, i.Algorithms, i.JWKSURL, i.RolesClaim, i.RoleMapping,
		i.Binding.Claim, i.Binding.Value, i.Version, i.CreatedAt)
}

// queueGetIssuer reads one issuer; tenant_id is explicit as well as enforced by RLS.
func queueGetIssuer(b *pgx.Batch, tenantID, id uuid.UUID, out *Issuer, found *bool) {
	b.Queue(`SELECT `+issuerColumns+` FROM trusted_issuers WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				i, err := scanIssuer(rows)
				if err != nil {
					return err
				}
				*out, *found = i, true
			}
			return rows.Err()
		})
}

// queueListIssuers reads a page newest first; served by trusted_issuers_page.
func queueListIssuers(b *pgx.Batch, tenantID uuid.UUID, p page.Params, out *[]Issuer) {
	b.Queue(`SELECT `+issuerColumns+` FROM trusted_issuers
 WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
 ORDER BY id DESC
 LIMIT $3`, tenantID, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				i, err := scanIssuer(rows)
				if err != nil {
					return err
				}
				*out = append(*out, i)
			}
			return rows.Err()
		})
}

// queueDeleteIssuer deletes the issuer (only at expectedVersion, when given) and reads
// back the deleted row.
func queueDeleteIssuer(b *pgx.Batch, tenantID, id uuid.UUID, expectedVersion *int, deleted *Issuer, found *bool) {
	b.Queue(`DELETE FROM trusted_issuers
 WHERE tenant_id = $1 AND id = $2 AND ($3::integer IS NULL OR version = $3)
RETURNING `+issuerColumns, tenantID, id, expectedVersion).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				i, err := scanIssuer(rows)
				if err != nil {
					return err
				}
				*deleted, *found = i, true
			}
			return rows.Err()
		})
}

// trustedIssuers returns every issuer some tenant trusts, with the claim names that
// bind its tokens. It runs before any tenant is known, so it goes through
// trusted_issuer_claims, a SECURITY DEFINER function (see
// migrations/00018_issuer_hardening.sql): the application role still cannot read
// other tenants' rows, and learns neither tenants nor binding values from it.
func trustedIssuers(ctx context.Context, d *db.DB) (map[string][]string, error) {
	rows, err := d.Pool.Query(ctx, `SELECT issuer, claim FROM trusted_issuer_claims()`)
	if err != nil {
		return nil, db.Map(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var iss, claim string
		if err := rows.Scan(&iss, &claim); err != nil {
			return nil, db.Map(err)
		}
		out[iss] = append(out[iss], claim)
	}
	return out, db.Map(rows.Err())
}

// binding returns the configuration that binds tokens of issuer whose claim is value,
// through the SECURITY DEFINER function trusted_issuer_binding; found is false when no
// tenant binds it. The unique binding key makes it one row at most.
func binding(ctx context.Context, d *db.DB, issuer, claim, value string) (cfg config, found bool, err error) {
	rows, err := d.Pool.Query(ctx, `SELECT tenant_id, audience, algorithms, jwks_url, roles_claim, role_mapping
  FROM trusted_issuer_binding($1, $2, $3)`, issuer, claim, value)
	if err != nil {
		return config{}, false, db.Map(err)
	}
	defer rows.Close()
	for rows.Next() {
		cfg = config{Issuer: issuer, BindingClaim: claim, BindingValue: value}
		if err := rows.Scan(&cfg.TenantID, &cfg.Audience, &cfg.Algorithms, &cfg.JWKSURL, &cfg.RolesClaim, &cfg.RoleMapping); err != nil {
			return config{}, false, db.Map(err)
		}
		found = true
	}
	return cfg, found, db.Map(rows.Err())
}
