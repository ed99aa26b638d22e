package settings

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/page"
)

// columns is the one projection of a version row, in scan order.
const columns = `id, version, effective_from, created_at, created_by_type, created_by_id, settings`

func scan(row pgx.Row) (Version, error) {
	v := Version{Object: "tenant_settings"}
	var doc []byte
	if err := row.Scan(&v.ID, &v.Version, &v.EffectiveFrom, &v.CreatedAt, &v.CreatedBy.Type, &v.CreatedBy.ID, &doc); err != nil {
		return Version{}, err
	}
	s, err := Parse(doc)
	if err != nil {
		return Version{}, err
	}
	v.Settings = s
	v.EffectiveFrom, v.CreatedAt = v.EffectiveFrom.UTC(), v.CreatedAt.UTC()
	return v, nil
}

// queueOne runs a query for at most one version.
func queueOne(b *pgx.Batch, out *Version, found *bool, sql string, args ...any) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			*out, *found = v, true
		}
		return rows.Err()
	})
}

// queueAt reads the version in effect at at (tenant_settings_at, migrations/00014);
// found is false for a tenant the transaction cannot see.
func queueAt(b *pgx.Batch, tenantID uuid.UUID, at time.Time, out *Version, found *bool) {
	queueOne(b, out, found, `SELECT `+columns+` FROM tenant_settings_at($1, $2)`, tenantID, at)
}

// queueNextChange reads when the first version after the one in effect at at takes
// effect (nil: none is scheduled), which bounds how long the current one may be cached.
func queueNextChange(b *pgx.Batch, tenantID uuid.UUID, at time.Time, out **time.Time) {
	b.Queue(`SELECT min(effective_from) FROM tenant_settings_versions WHERE tenant_id = $1 AND effective_from > $2`,
		tenantID, at).QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// queueHead reads the latest version, the one a change builds on, and locks nothing:
// two changes built on the same head both insert its successor, and the primary key
// lets only one commit.
func queueHead(b *pgx.Batch, tenantID uuid.UUID, out *Version, found *bool) {
	queueOne(b, out, found, `SELECT `+columns+` FROM tenant_settings_versions
 WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1`, tenantID)
}

func queueInsert(b *pgx.Batch, tenantID uuid.UUID, v Version) error {
	doc, err := json.Marshal(v.Settings)
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO tenant_settings_versions (id, tenant_id, version, effective_from, settings, created_at,
    created_by_type, created_by_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		v.ID, tenantID, v.Version, v.EffectiveFrom, doc, v.CreatedAt, v.CreatedBy.Type, v.CreatedBy.ID)
	return nil
}

// queueList reads a page of versions, newest first. The cursor is a version's id; its
// number is what orders the page (the primary key serves it).
func queueList(b *pgx.Batch, tenantID uuid.UUID, p page.Params, out *[]Version) {
	b.Queue(`SELECT `+columns+` FROM tenant_settings_versions
 WHERE tenant_id = $1
   AND ($2::uuid IS NULL OR version < (SELECT version FROM tenant_settings_versions WHERE tenant_id = $1 AND id = $2))
 ORDER BY version DESC
 LIMIT $3`, tenantID, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				v, err := scan(rows)
				if err != nil {
					return err
				}
				*out = append(*out, v)
			}
			return rows.Err()
		})
}
