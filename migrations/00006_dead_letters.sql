-- +goose Up
-- Dead letters: messages a processor could not process within its subscription's
-- delivery attempts, forwarded by Pub/Sub to ledgerline-dead-letters. They are
-- platform data, not a tenant's: Ledgerline's operators list and replay them across
-- tenants. Like the outbox sweeper (00002), the functions that do so connect as their
-- own role, ledgerline_ops, which bypasses nothing (NOBYPASSRLS) and holds a policy
-- that shows it every dead letter; the application role gets nothing here.

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledgerline_ops') THEN
        CREATE ROLE ledgerline_ops NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO ledgerline_ops;

CREATE TABLE dead_letters (
    id             uuid PRIMARY KEY,
    -- The id of the subscription that gave up (the last segment of its full name).
    subscription   text NOT NULL,
    -- Where a replay publishes; NULL when it could not be determined.
    source_topic   text,
    -- The dead-letter message's own id: a redelivery of it is the same dead letter.
    message_id     text NOT NULL UNIQUE,
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    payload        bytea NOT NULL,
    ordering_key   text,
    delivery_count integer CHECK (delivery_count >= 1),
    last_error     text,
    -- From the message's attributes, for filtering by eye only: it was never verified,
    -- so there is no foreign key and nothing is scoped by it.
    tenant_id      uuid,
    received_at    timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz,
    replay_count   integer NOT NULL DEFAULT 0 CHECK (replay_count >= 0),
    CHECK ((replay_count = 0) = (replayed_at IS NULL))
);
-- Ids are UUIDv7: the primary key serves newest first, this index the same per subscription.
CREATE INDEX dead_letters_by_subscription ON dead_letters (subscription, id DESC);

-- The table has a tenant_id, so it follows the rule for such tables (RLS enabled and
-- forced); its only policy is the ops role's.
ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY ops_reads_all_dead_letters ON dead_letters TO ledgerline_ops USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON dead_letters TO ledgerline_ops;
GRANT UPDATE (replayed_at, replay_count) ON dead_letters TO ledgerline_ops;

-- Pub/Sub forwards a dead letter without the error that killed it, so every processor
-- appends the error of each delivery it refuses here, whatever role it connects as, and
-- the dead-letter processor copies the last one onto the dead letter. A message's
-- id may change when it is forwarded, so a failure is also found by its subscription
-- and a digest of its payload.
CREATE TABLE message_failures (
    id             uuid PRIMARY KEY,
    function       text NOT NULL,
    subscription   text NOT NULL,
    message_id     text NOT NULL,
    payload_sha256 bytea NOT NULL CHECK (length(payload_sha256) = 32),
    attempt        integer NOT NULL,
    error          text NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_failures_by_message ON message_failures (message_id);
CREATE INDEX message_failures_by_payload ON message_failures (payload_sha256);
CREATE INDEX message_failures_by_age ON message_failures (failed_at);

GRANT INSERT ON message_failures TO ledgerline_app, ledgerline_relay, ledgerline_ops;
GRANT SELECT, DELETE ON message_failures TO ledgerline_ops;

-- The replay operation is a POST and takes an Idempotency-Key like every other; the
-- keys stay scoped to the caller's tenant by their own policy.
GRANT SELECT, INSERT, UPDATE ON idempotency_keys TO ledgerline_ops;

-- +goose Down
REVOKE ALL ON idempotency_keys FROM ledgerline_ops;
DROP TABLE message_failures, dead_letters;
REVOKE USAGE ON SCHEMA public FROM ledgerline_ops;
