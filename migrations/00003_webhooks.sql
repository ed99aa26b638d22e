-- +goose Up
-- Webhooks: the endpoints a tenant registers to receive its domain events, and the log
-- of every delivery to them. The dispatcher dedupes on (endpoint, event): a delivery
-- that succeeded is never sent again, however often Pub/Sub redelivers the event.

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    url              text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    enabled_events   text[] NOT NULL CHECK (cardinality(enabled_events) >= 1),
    description      text CHECK (length(description) <= 500),
    status           text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    -- The signing secret, sealed with AES-256-GCM under WEBHOOK_SECRET_KEY (nonce ||
    -- ciphertext, bound to tenant and endpoint id). It cannot be a one-way hash: every
    -- delivery computes an HMAC with it.
    secret_sealed    bytea NOT NULL,
    version          integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
-- Newest-first pages, and the dispatcher's per-tenant scan (a tenant has few endpoints).
CREATE INDEX webhook_endpoints_page ON webhook_endpoints (tenant_id, id DESC);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    endpoint_id      uuid NOT NULL,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status_code integer CHECK (last_status_code BETWEEN 100 AND 599),
    last_error       text CHECK (length(last_error) <= 1000),
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    -- Set while an attempt is in flight, so a duplicate copy of the event arriving at
    -- the same time does not POST it a second time; an expired lease (the attempt's
    -- instance died) may be taken over.
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'succeeded') = (delivered_at IS NOT NULL)),
    UNIQUE (tenant_id, endpoint_id, event_id),
    -- Deleting an endpoint deletes its log with it.
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_page ON webhook_deliveries (tenant_id, endpoint_id, id DESC);

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (tenant_id = current_tenant_id()) WITH CHECK (tenant_id = current_tenant_id());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = current_tenant_id()) WITH CHECK (tenant_id = current_tenant_id());

-- Endpoints are created and deleted, never edited through the API. The delivery log is
-- written only by the dispatcher's claim (insert or take over) and attempt updates;
-- rows go away only with their endpoint.
GRANT SELECT, INSERT, DELETE ON webhook_endpoints TO ledgerline_app;
GRANT SELECT, INSERT ON webhook_deliveries TO ledgerline_app;
GRANT UPDATE (status, attempts, last_status_code, last_error, last_attempt_at, delivered_at, lease_expires_at)
    ON webhook_deliveries TO ledgerline_app;
-- Read-only access sees the configuration and the log, never the sealed secrets.
GRANT SELECT (id, tenant_id, url, enabled_events, description, status, version, created_at)
    ON webhook_endpoints TO ledgerline_readonly;
GRANT SELECT ON webhook_deliveries TO ledgerline_readonly;

-- +goose Down
DROP TABLE webhook_deliveries, webhook_endpoints;
