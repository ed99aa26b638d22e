package webhooks

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/page"
)

// endpointColumns is the one projection of an endpoint row, in scan order; the sealed
// secret is read only by the dispatcher's own query.
const endpointColumns = `id, url, enabled_events, description, status, version, created_at`

func scanEndpoint(row pgx.Row) (Endpoint, error) {
	e := Endpoint{Object: "webhook_endpoint"}
	err := row.Scan(&e.ID, &e.URL, &e.EnabledEvents, &e.Description, &e.Status, &e.Version, &e.CreatedAt)
	return e, err
}

func queueInsertEndpoint(b *pgx.Batch, tenantID uuid.UUID, e Endpoint, sealed []byte) {
	b.Queue(`INSERT INTO webhook_endpoints (id, tenant_id, url, enabled_events, description, status, secret_sealed, version, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, tenantID, e.URL, e.EnabledEvents, e.Description, e.Status, sealed, e.Version, e.CreatedAt)
}

// queueGetEndpoint reads one endpoint; tenant_id is explicit as well as enforced by RLS.
func queueGetEndpoint(b *pgx.Batch, tenantID, id uuid.UUID, out *Endpoint, found *bool) {
	b.Queue(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				e, err := scanEndpoint(rows)
				if err != nil {
					return err
				}
				*out, *found = e, true
			}
			return rows.Err()
		})
}

// queueListEndpoints reads a page newest first; served by webhook_endpoints_page.
func queueListEndpoints(b *pgx.Batch, tenantID uuid.UUID, p page.Params, out *[]Endpoint) {
	b.Queue(`SELECT `+endpointColumns+` FROM webhook_endpoints
 WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
 ORDER BY id DESC
 LIMIT $3`, tenantID, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				e, err := scanEndpoint(rows)
				if err != nil {
					return err
				}
				*out = append(*out, e)
			}
			return rows.Err()
		})
}

// queueDeleteEndpoint deletes the endpoint (only at expectedVersion, when given) and
// reads back the deleted row; its delivery log goes with it (ON DELETE CASCADE).
func queueDeleteEndpoint(b *pgx.Batch, tenantID, id uuid.UUID, expectedVersion *int, deleted *Endpoint, found *bool) {
	b.Queue(`DELETE FROM webhook_endpoints
 WHERE tenant_id = $1 AND id = $2 AND ($3::integer IS NULL OR version = $3)
RETURNING `+endpointColumns, tenantID, id, expectedVersion).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				e, err := scanEndpoint(rows)
				if err != nil {
					return err
				}
				*deleted, *found = e, true
			}
			return rows.Err()
		})
}

// deliveryColumns is the one projection of a delivery row, in scan order.
const deliveryColumns = `id, endpoint_id, event_id, event_type, status, attempts, last_status_code, last_error,
       last_attempt_at, delivered_at, created_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	d := Delivery{Object: "webhook_delivery"}
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &d.LastStatusCode,
		&d.LastError, &d.LastAttemptAt, &d.DeliveredAt, &d.CreatedAt)
	return d, err
}

// queueListDeliveries reads a page of an endpoint's deliveries newest first, and
// whether the endpoint exists; served by webhook_deliveries_page.
func queueListDeliveries(b *pgx.Batch, tenantID, endpointID uuid.UUID, p page.Params, out *[]Delivery, found *bool) {
	b.Queue(`SELECT true FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, endpointID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*found = true
			}
			return rows.Err()
		})
	b.Queue(`SELECT `+deliveryColumns+` FROM webhook_deliveries
 WHERE tenant_id = $1 AND endpoint_id = $2 AND ($3::uuid IS NULL OR id < $3)
 ORDER BY id DESC
 LIMIT $4`, tenantID, endpointID, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				d, err := scanDelivery(rows)
				if err != nil {
					return err
				}
				*out = append(*out, d)
			}
			return rows.Err()
		})
}

// target is an enabled endpoint an event is for, with its sealed secret.
type target struct {
	ID     uuid.UUID
	URL    string
	Sealed []byte
}

// queueTargets reads whether the tenant exists (the message named it; nothing else
// vouches for it) and its enabled endpoints subscribed to eventType, by name or "*".
func queueTargets(b *pgx.Batch, tenantID uuid.UUID, eventType string, tenantExists *bool, out *[]target) {
	b.Queue(`SELECT true FROM tenants WHERE id = $1`, tenantID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*tenantExists = true
			}
			return rows.Err()
		})
	b.Queue(`SELECT id, url, secret_sealed FROM webhook_endpoints
 WHERE tenant_id = $1 AND status = 'enabled' AND enabled_events && ARRAY[$2, $3]::text[]
 ORDER BY id`, tenantID, AllEvents, eventType).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var t target
				if err := rows.Scan(&t.ID, &t.URL, &t.Sealed); err != nil {
					return err
				}
				*out = append(*out, t)
			}
			return rows.Err()
		})
}

// queueClaim takes the delivery of event eventID to endpointID for one attempt: it
// creates the row (pending), or takes over an existing one that has not succeeded and
// has no live lease, and sets the lease. claimed reports whether it did; the row's id
// comes back either way it was taken.
func queueClaim(b *pgx.Batch, tenantID, newID, endpointID, eventID uuid.UUID, eventType string, now, leaseUntil time.Time, id *uuid.UUID, claimed *bool) {
	b.Queue(`INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status, attempts, created_at, lease_expires_at)
VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)
ON CONFLICT (tenant_id, endpoint_id, event_id) DO UPDATE
   SET lease_expires_at = EXCLUDED.lease_expires_at
 WHERE webhook_deliveries.status <> 'succeeded'
   AND (webhook_deliveries.lease_expires_at IS NULL OR webhook_deliveries.lease_expires_at <= $6)
RETURNING id`, newID, tenantID, endpointID, eventID, eventType, now, leaseUntil).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				if err := rows.Scan(id); err != nil {
					return err
				}
				*claimed = true
			}
			return rows.Err()
		})
}

// queueDeliveryStatuses reads the status of every delivery of eventID, by endpoint.
func queueDeliveryStatuses(b *pgx.Batch, tenantID, eventID uuid.UUID, out map[uuid.UUID]DeliveryStatus) {
	b.Queue(`SELECT endpoint_id, status FROM webhook_deliveries WHERE tenant_id = $1 AND event_id = $2`, tenantID, eventID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var endpoint uuid.UUID
				var status DeliveryStatus
				if err := rows.Scan(&endpoint, &status); err != nil {
					return err
				}
				out[endpoint] = status
			}
			return rows.Err()
		})
}

// attempt is the outcome of one POST.
type attempt struct {
	Status     DeliveryStatus
	StatusCode *int
	Error      *string
	At         time.Time
}

// queueRecordAttempt adds an attempt to a claimed delivery and releases its lease. A
// delivery whose endpoint was deleted meanwhile is gone, and nothing is written.
func queueRecordAttempt(b *pgx.Batch, tenantID, id uuid.UUID, a attempt) {
	b.Queue(`UPDATE webhook_deliveries
   SET attempts = attempts + 1, status = $3::text, last_status_code = $4, last_error = $5,
       last_attempt_at = $6::timestamptz,
       delivered_at = CASE WHEN $3::text = 'succeeded' THEN $6::timestamptz END, lease_expires_at = NULL
 WHERE tenant_id = $1 AND id = $2`, tenantID, id, a.Status, a.StatusCode, a.Error, a.At)
}
