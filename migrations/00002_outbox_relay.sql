-- +goose Up
-- The outbox relay publishes committed events to Pub/Sub. Right after a request commits,
-- the request's own function publishes its events (as the application role, inside the
-- tenant); a scheduled sweeper publishes whatever was left, across tenants. The sweeper
-- connects as ledgerline_relay: it bypasses nothing (NOBYPASSRLS) and holds a policy
-- that shows it every outbox row, and it may only read rows and mark them published.

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledgerline_relay') THEN
        CREATE ROLE ledgerline_relay NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO ledgerline_relay;
GRANT SELECT ON outbox_events TO ledgerline_relay;
GRANT UPDATE (published_at, attempts, last_error) ON outbox_events TO ledgerline_relay;
CREATE POLICY relay_sweeps_all_tenants ON outbox_events TO ledgerline_relay USING (true) WITH CHECK (true);

-- The post-commit publish finds the events its request wrote.
CREATE INDEX outbox_by_request ON outbox_events (tenant_id, request_id) WHERE published_at IS NULL;

-- +goose Down
DROP INDEX outbox_by_request;
DROP POLICY relay_sweeps_all_tenants ON outbox_events;
REVOKE ALL ON outbox_events FROM ledgerline_relay;
REVOKE USAGE ON SCHEMA public FROM ledgerline_relay;
