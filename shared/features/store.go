package features

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// row is a tenant's stored flags: its own choices only. Version 0 stands for a tenant
// without a row (one that does not exist, or that the transaction cannot see).
type row struct {
	Set       map[Flag]bool `json:"set"`
	Version   int           `json:"version"`
	UpdatedAt time.Time     `json:"updated_at"`
}

func (r row) features() Features { return resolve(r.Set, r.Version, r.UpdatedAt) }

// queueGet reads the tenant's flags; lock holds the row until commit, so concurrent
// replacements apply one after the other and each records what it replaced.
func queueGet(b *pgx.Batch, tenantID uuid.UUID, lock bool, out *row) {
	sql := `SELECT flags, version, updated_at FROM tenant_features WHERE tenant_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	b.Queue(sql, tenantID).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var doc []byte
			var r row
			if err := rows.Scan(&doc, &r.Version, &r.UpdatedAt); err != nil {
				return err
			}
			if err := json.Unmarshal(doc, &r.Set); err != nil {
				return err
			}
			r.UpdatedAt = r.UpdatedAt.UTC()
			*out = r
		}
		return rows.Err()
	})
}

func queueUpdate(b *pgx.Batch, tenantID uuid.UUID, r row) error {
	doc, err := json.Marshal(r.Set)
	if err != nil {
		return err
	}
	b.Queue(`UPDATE tenant_features SET flags = $2, version = $3, updated_at = $4 WHERE tenant_id = $1`,
		tenantID, doc, r.Version, r.UpdatedAt)
	return nil
}
