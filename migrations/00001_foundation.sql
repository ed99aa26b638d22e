-- +goose Up
-- The foundation schema: tenants, counterparties, invoices and lines, payments and
-- allocations, audit trail, outbox, idempotency keys and consumer dedupe.
--
-- Tenancy: every business row carries tenant_id and row-level security, enabled AND
-- forced, is the boundary. Functions connect as ledgerline_app (or an IAM user that is
-- a member of it), which owns nothing, is not a superuser and has no BYPASSRLS, so the
-- policies below are the only way it sees rows. Each transaction sets app.tenant_id
-- transaction-locally; an unset setting matches no row.
--
-- Money: BIGINT minor units beside a CHAR(3) currency; never floating point.

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledgerline_app') THEN
        CREATE ROLE ledgerline_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledgerline_readonly') THEN
        CREATE ROLE ledgerline_readonly NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO ledgerline_app, ledgerline_readonly;

-- The tenant id of the current transaction, or NULL when none is set. STABLE so the
-- planner evaluates it once per statement and can use it in index conditions.
CREATE FUNCTION current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_currency char(3) NOT NULL DEFAULT 'USD' CHECK (base_currency ~ '^[A-Z]{3}$'),
    -- Settings are versioned data; the full settings model arrives with tenant settings.
    settings      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE counterparties (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind               text NOT NULL CHECK (kind IN ('customer', 'vendor', 'both')),
    email              text CHECK (length(email) <= 254),
    tax_id             text CHECK (length(tax_id) <= 64),
    default_currency   char(3) CHECK (default_currency ~ '^[A-Z]{3}$'),
    payment_terms_days integer NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 365),
    external_id        text CHECK (length(external_id) BETWEEN 1 AND 128),
    version            integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- Target of composite foreign keys: a document can only name a counterparty of its own tenant.
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, external_id)
);
-- Ids are UUIDv7 (time ordered), so (tenant_id, id DESC) serves newest-first cursor pages.
CREATE INDEX counterparties_page ON counterparties (tenant_id, id DESC);

-- Gapless document numbers: one row per tenant and direction, locked by the transaction
-- that assigns a number, so a rolled-back finalize leaves no hole.
CREATE TABLE document_counters (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    direction   text NOT NULL CHECK (direction IN ('receivable', 'payable')),
    last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0),
    PRIMARY KEY (tenant_id, direction)
);

CREATE TABLE invoices (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    direction             text NOT NULL CHECK (direction IN ('receivable', 'payable')),
    status                text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    number                text,
    counterparty_id       uuid NOT NULL,
    currency              char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    issue_date            date NOT NULL,
    due_date              date NOT NULL,
    memo                  text CHECK (length(memo) <= 2000),
    external_id           text CHECK (length(external_id) BETWEEN 1 AND 128),
    subtotal_minor        bigint NOT NULL,
    tax_minor             bigint NOT NULL CHECK (tax_minor >= 0),
    total_minor           bigint NOT NULL CHECK (total_minor >= 0),
    amount_paid_minor     bigint NOT NULL DEFAULT 0 CHECK (amount_paid_minor >= 0),
    amount_credited_minor bigint NOT NULL DEFAULT 0 CHECK (amount_credited_minor >= 0),
    amount_due_minor      bigint GENERATED ALWAYS AS (total_minor - amount_paid_minor - amount_credited_minor) STORED,
    version               integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    finalized_at          timestamptz,
    voided_at             timestamptz,
    CHECK (due_date >= issue_date),
    CHECK (total_minor = subtotal_minor + tax_minor),
    -- Amount due never goes below zero, whatever path wrote the row.
    CHECK (amount_paid_minor + amount_credited_minor <= total_minor),
    -- A draft has no number; everything issued has one.
    CHECK ((status = 'draft') = (number IS NULL)),
    CHECK ((status = 'draft') = (finalized_at IS NULL)),
    UNIQUE (tenant_id, direction, number),
    UNIQUE (tenant_id, external_id),
    UNIQUE (tenant_id, id),
    -- Allocations reference (tenant, invoice, currency) so a cross-currency allocation
    -- cannot exist even if application code got it wrong.
    UNIQUE (tenant_id, id, currency),
    FOREIGN KEY (tenant_id, counterparty_id) REFERENCES counterparties (tenant_id, id)
);
CREATE INDEX invoices_page ON invoices (tenant_id, id DESC);
CREATE INDEX invoices_by_status ON invoices (tenant_id, status, id DESC);
CREATE INDEX invoices_by_direction ON invoices (tenant_id, direction, id DESC);
CREATE INDEX invoices_by_counterparty ON invoices (tenant_id, counterparty_id, id DESC);

CREATE TABLE invoice_lines (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    invoice_id        uuid NOT NULL,
    position          integer NOT NULL CHECK (position >= 1),
    description       text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    quantity          numeric(30, 12) NOT NULL CHECK (quantity > 0),
    unit_amount_minor bigint NOT NULL CHECK (unit_amount_minor >= 0),
    tax_rate          numeric(9, 6) CHECK (tax_rate >= 0 AND tax_rate <= 100),
    amount_minor      bigint NOT NULL CHECK (amount_minor >= 0),
    tax_minor         bigint NOT NULL CHECK (tax_minor >= 0),
    UNIQUE (invoice_id, position),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE payments (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    direction              text NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    status                 text NOT NULL DEFAULT 'posted' CHECK (status IN ('posted', 'reversed')),
    counterparty_id        uuid NOT NULL,
    amount_minor           bigint NOT NULL CHECK (amount_minor > 0),
    currency               char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_allocated_minor bigint NOT NULL DEFAULT 0,
    value_date             date NOT NULL,
    method                 text CHECK (length(method) <= 64),
    reference              text CHECK (length(reference) <= 500),
    external_id            text CHECK (length(external_id) BETWEEN 1 AND 128),
    version                integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- Allocations never exceed the payment.
    CHECK (amount_allocated_minor BETWEEN 0 AND amount_minor),
    UNIQUE (tenant_id, external_id),
    UNIQUE (tenant_id, id, currency),
    FOREIGN KEY (tenant_id, counterparty_id) REFERENCES counterparties (tenant_id, id)
);
CREATE INDEX payments_page ON payments (tenant_id, id DESC);

CREATE TABLE allocations (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    payment_id      uuid NOT NULL,
    invoice_id      uuid NOT NULL,
    currency        char(3) NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    effective_date  date NOT NULL,
    reversed_at     timestamptz,
    reversal_reason text CHECK (length(reversal_reason) <= 500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((reversed_at IS NULL) = (reversal_reason IS NULL)),
    -- Same tenant and same currency on both sides, enforced by the keys themselves.
    FOREIGN KEY (tenant_id, payment_id, currency) REFERENCES payments (tenant_id, id, currency),
    FOREIGN KEY (tenant_id, invoice_id, currency) REFERENCES invoices (tenant_id, id, currency)
);
CREATE INDEX allocations_by_invoice ON allocations (tenant_id, invoice_id);
CREATE INDEX allocations_by_payment ON allocations (tenant_id, payment_id);

-- Audit trail: append-only (the application role may only insert and read) and
-- hash-chained per tenant: hash(n) = sha256(hash(n-1) || audit_content_hash(row n)),
-- starting from 32 zero bytes. Editing, inserting or deleting any row breaks the chain
-- from that row on, which the verifier detects.
CREATE TABLE audit_events (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    seq         bigint NOT NULL CHECK (seq >= 1),
    id          uuid NOT NULL UNIQUE,
    occurred_at timestamptz NOT NULL,
    actor_type  text NOT NULL CHECK (actor_type IN ('user', 'api_client', 'agent', 'system')),
    actor_id    text NOT NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   uuid NOT NULL,
    before      jsonb,
    after       jsonb,
    request_id  text,
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_by_entity ON audit_events (tenant_id, entity_type, entity_id, seq);

-- The canonical digest of one audit row's content. Computed in SQL both when appending
-- and when verifying, over jsonb's own deterministic text form, so the bytes hashed
-- never depend on a client's JSON encoder or the session's time zone.
CREATE FUNCTION audit_content_hash(
    tenant_id uuid, seq bigint, id uuid, occurred_at timestamptz, actor_type text, actor_id text,
    action text, entity_type text, entity_id uuid, before jsonb, after jsonb, request_id text
) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT sha256(convert_to(jsonb_build_array(
        tenant_id, seq, id, (extract(epoch FROM occurred_at) * 1000000)::bigint, actor_type, actor_id,
        action, entity_type, entity_id, before, after, request_id)::text, 'UTF8'))
    $$;

-- The head of each tenant's chain. The appending statement updates it (taking its row
-- lock), which is why services append audit events last: the lock is then held only
-- until commit.
CREATE TABLE audit_chain_heads (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    seq       bigint NOT NULL CHECK (seq >= 0),
    hash      bytea NOT NULL CHECK (length(hash) = 32)
);

-- Every tenant starts with its chain head and its document counters, so the hot paths
-- only ever UPDATE (lock) an existing row and never race to create one.
-- +goose StatementBegin
CREATE FUNCTION bootstrap_tenant() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES (NEW.id, 0, decode(repeat('00', 32), 'hex'));
    INSERT INTO document_counters (tenant_id, direction) VALUES (NEW.id, 'receivable'), (NEW.id, 'payable');
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tenants_bootstrap AFTER INSERT ON tenants FOR EACH ROW EXECUTE FUNCTION bootstrap_tenant();

-- Transactional outbox: written with the business change, relayed to Pub/Sub after
-- commit and by the sweeper. id is the event id consumers dedupe on.
CREATE TABLE outbox_events (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    event_type     text NOT NULL,
    entity_type    text NOT NULL,
    entity_id      uuid NOT NULL,
    entity_version integer NOT NULL CHECK (entity_version >= 1),
    payload        jsonb NOT NULL,
    request_id     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text
);
-- The sweeper scans only what is still unpublished, oldest first.
CREATE INDEX outbox_unpublished ON outbox_events (created_at) WHERE published_at IS NULL;
CREATE INDEX outbox_by_entity ON outbox_events (tenant_id, entity_id, entity_version);

-- Idempotency keys (Stripe's semantics): the stored response of the first successful
-- request, replayed for the same key and request fingerprint for 24 hours.
CREATE TABLE idempotency_keys (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation       text NOT NULL,
    fingerprint     bytea NOT NULL CHECK (length(fingerprint) = 32),
    response_status integer NOT NULL CHECK (response_status BETWEEN 200 AND 599),
    response_body   bytea NOT NULL,
    response_header jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Consumer dedupe: a processor records the event id in the same transaction as its
-- effect, so a redelivered message finds the row and does nothing.
CREATE TABLE processed_messages (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    consumer     text NOT NULL,
    message_id   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, consumer, message_id)
);

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['counterparties', 'document_counters', 'invoices', 'invoice_lines',
                             'payments', 'allocations', 'audit_events', 'audit_chain_heads',
                             'outbox_events', 'idempotency_keys', 'processed_messages']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (id = current_tenant_id());

-- Least privilege: the application reads its tenant but never creates or alters tenants;
-- the audit trail is insert-only.
GRANT SELECT ON tenants TO ledgerline_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON counterparties, document_counters, invoices, invoice_lines,
    payments, allocations, outbox_events, idempotency_keys, processed_messages TO ledgerline_app;
GRANT SELECT, INSERT ON audit_events TO ledgerline_app;
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO ledgerline_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ledgerline_readonly;

-- +goose Down
DROP TABLE processed_messages, idempotency_keys, outbox_events, audit_chain_heads, audit_events,
    allocations, payments, invoice_lines, invoices, document_counters, counterparties, tenants;
DROP FUNCTION bootstrap_tenant(), audit_content_hash(uuid, bigint, uuid, timestamptz, text, text, text, text, uuid, jsonb, jsonb, text), current_tenant_id();
