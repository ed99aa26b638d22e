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

-- Gapless document numbers: one row per tenant and sequence (invoices, bills, credit
-- notes), locked by the transaction that assigns a number, so a rolled-back finalize
-- leaves no hole.
CREATE TABLE document_counters (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    sequence    text NOT NULL CHECK (sequence IN ('receivable', 'payable', 'credit_note')),
    last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0),
    PRIMARY KEY (tenant_id, sequence)
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
    -- How tax was rounded when the document was computed: a later change of the tenant's
    -- setting never rewrites an existing document.
    tax_rounding          text NOT NULL DEFAULT 'per_line' CHECK (tax_rounding IN ('per_line', 'per_document')),
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
    uncollectible_at      timestamptz,
    CHECK (due_date >= issue_date),
    CHECK (total_minor = subtotal_minor + tax_minor),
    -- Amount due never goes below zero, whatever path wrote the row: allocations and
    -- credit notes (maintained by their triggers) can never exceed the total.
    CONSTRAINT invoices_due_not_negative CHECK (amount_paid_minor + amount_credited_minor <= total_minor),
    -- A draft has no number; everything issued has one.
    CHECK ((status = 'draft') = (number IS NULL)),
    CHECK ((status = 'draft') = (finalized_at IS NULL)),
    CHECK ((status = 'void') = (voided_at IS NOT NULL)),
    -- Nothing is paid or credited on a draft, nothing is allocated to a void invoice.
    CONSTRAINT invoices_draft_untouched CHECK (status <> 'draft' OR (amount_paid_minor = 0 AND amount_credited_minor = 0)),
    CONSTRAINT invoices_void_unallocated CHECK (status <> 'void' OR amount_paid_minor = 0),
    -- Paid means nothing is due; open means something is.
    CONSTRAINT invoices_paid_means_settled CHECK (status <> 'paid' OR amount_due_minor = 0),
    CONSTRAINT invoices_open_means_due CHECK (status <> 'open' OR amount_due_minor > 0),
    UNIQUE (tenant_id, direction, number),
    UNIQUE (tenant_id, external_id),
    UNIQUE (tenant_id, id),
    -- Allocations reference (tenant, invoice, currency, direction) so a cross-currency or
    -- wrong-direction allocation cannot exist even if application code got it wrong.
    UNIQUE (tenant_id, id, currency, direction),
    FOREIGN KEY (tenant_id, counterparty_id) REFERENCES counterparties (tenant_id, id)
);
CREATE INDEX invoices_page ON invoices (tenant_id, id DESC);
CREATE INDEX invoices_by_status ON invoices (tenant_id, status, id DESC);
CREATE INDEX invoices_by_direction ON invoices (tenant_id, direction, id DESC);
CREATE INDEX invoices_by_counterparty ON invoices (tenant_id, counterparty_id, id DESC);
CREATE INDEX invoices_by_due_date ON invoices (tenant_id, due_date, id);

CREATE TABLE invoice_lines (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    invoice_id        uuid NOT NULL,
    position          integer NOT NULL CHECK (position >= 1),
    description       text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    quantity          numeric(30, 12) NOT NULL CHECK (quantity > 0),
    -- A line is priced either in whole minor units or by a decimal unit price in major
    -- units (e.g. 0.0125 USD per unit); exactly one of the two.
    unit_amount_minor bigint CHECK (unit_amount_minor >= 0),
    unit_price        numeric(30, 12) CHECK (unit_price >= 0),
    tax_rate          numeric(9, 6) CHECK (tax_rate >= 0 AND tax_rate <= 100),
    amount_minor      bigint NOT NULL CHECK (amount_minor >= 0),
    tax_minor         bigint NOT NULL CHECK (tax_minor >= 0),
    CHECK ((unit_amount_minor IS NULL) <> (unit_price IS NULL)),
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
    created_by             text NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    reversed_at            timestamptz,
    reversal_reason        text CHECK (length(reversal_reason) BETWEEN 1 AND 500),
    -- Allocations (maintained by their trigger) never exceed the payment.
    CONSTRAINT payments_allocated_within_amount CHECK (amount_allocated_minor BETWEEN 0 AND amount_minor),
    -- A reversed payment pays nothing.
    CONSTRAINT payments_reversed_unallocated CHECK (status <> 'reversed' OR amount_allocated_minor = 0),
    CHECK ((status = 'reversed') = (reversed_at IS NOT NULL)),
    CHECK ((reversed_at IS NULL) = (reversal_reason IS NULL)),
    UNIQUE (tenant_id, external_id),
    UNIQUE (tenant_id, id, currency, direction),
    FOREIGN KEY (tenant_id, counterparty_id) REFERENCES counterparties (tenant_id, id)
);
CREATE INDEX payments_page ON payments (tenant_id, id DESC);

-- An allocation applies part of a payment to an invoice. Rows are never deleted or
-- changed, only reversed; the trigger below keeps payments.amount_allocated_minor and
-- invoices.amount_paid_minor equal to the sums of the active allocations, so the CHECK
-- constraints on those tables bound the sums: no path can over-allocate.
CREATE TABLE allocations (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    payment_id        uuid NOT NULL,
    invoice_id        uuid NOT NULL,
    currency          char(3) NOT NULL,
    payment_direction text NOT NULL,
    invoice_direction text NOT NULL,
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    effective_date    date NOT NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    reversed_at       timestamptz,
    reversed_by       text,
    reversal_reason   text CHECK (length(reversal_reason) BETWEEN 1 AND 500),
    CHECK ((reversed_at IS NULL) = (reversal_reason IS NULL)),
    CHECK ((reversed_at IS NULL) = (reversed_by IS NULL)),
    -- Customers' payments settle receivables; payments to vendors settle bills.
    CONSTRAINT allocations_direction_matches CHECK (
        (payment_direction = 'incoming' AND invoice_direction = 'receivable') OR
        (payment_direction = 'outgoing' AND invoice_direction = 'payable')),
    -- Same tenant, currency and direction on both sides, enforced by the keys themselves.
    CONSTRAINT allocations_payment_fk FOREIGN KEY (tenant_id, payment_id, currency, payment_direction)
        REFERENCES payments (tenant_id, id, currency, direction),
    CONSTRAINT allocations_invoice_fk FOREIGN KEY (tenant_id, invoice_id, currency, invoice_direction)
        REFERENCES invoices (tenant_id, id, currency, direction)
);
CREATE INDEX allocations_by_invoice ON allocations (tenant_id, invoice_id);
CREATE INDEX allocations_by_payment ON allocations (tenant_id, payment_id);

-- Credit notes reduce an invoice's amount due; like allocations they are applied to the
-- invoice by trigger, so the invoice's CHECK constraints bound them. Append-only.
CREATE TABLE credit_notes (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    invoice_id     uuid NOT NULL,
    number         text NOT NULL,
    currency       char(3) NOT NULL,
    direction      text NOT NULL,
    subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
    tax_minor      bigint NOT NULL CHECK (tax_minor >= 0),
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    lines          jsonb,
    effective_date date NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (amount_minor = subtotal_minor + tax_minor),
    UNIQUE (tenant_id, number),
    CONSTRAINT credit_notes_invoice_fk FOREIGN KEY (tenant_id, invoice_id, currency, direction)
        REFERENCES invoices (tenant_id, id, currency, direction)
);
CREATE INDEX credit_notes_by_invoice ON credit_notes (tenant_id, invoice_id);

-- Settlement status follows the amount due: an open (or uncollectible) invoice whose
-- amount due reaches zero is paid; a paid invoice that owes again (an allocation was
-- reversed) re-opens. Drafts and void invoices keep their status, so the CHECK
-- constraints refuse any money applied to them.
-- +goose StatementBegin
CREATE FUNCTION apply_to_invoice(p_tenant uuid, p_invoice uuid, p_paid bigint, p_credited bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE invoices
       SET amount_paid_minor = amount_paid_minor + p_paid,
           amount_credited_minor = amount_credited_minor + p_credited,
           status = CASE
               WHEN status NOT IN ('open', 'paid', 'uncollectible') THEN status
               WHEN total_minor - (amount_paid_minor + p_paid) - (amount_credited_minor + p_credited) = 0 THEN 'paid'
               WHEN status = 'paid' THEN 'open'
               ELSE status END,
           version = version + 1,
           updated_at = now()
     WHERE tenant_id = p_tenant AND id = p_invoice;
END
$$;

CREATE FUNCTION allocations_apply() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.reversed_at IS NOT NULL THEN
            RAISE EXCEPTION 'an allocation cannot be created reversed' USING ERRCODE = 'check_violation';
        END IF;
        delta := NEW.amount_minor;
    ELSIF TG_OP = 'UPDATE' THEN
        -- The only change an allocation accepts is its reversal, once.
        IF OLD.reversed_at IS NOT NULL OR NEW.reversed_at IS NULL
           OR (NEW.id, NEW.tenant_id, NEW.payment_id, NEW.invoice_id, NEW.currency, NEW.amount_minor, NEW.effective_date, NEW.created_by, NEW.created_at)
              IS DISTINCT FROM
              (OLD.id, OLD.tenant_id, OLD.payment_id, OLD.invoice_id, OLD.currency, OLD.amount_minor, OLD.effective_date, OLD.created_by, OLD.created_at) THEN
            RAISE EXCEPTION 'allocations are immutable except for a single reversal' USING ERRCODE = 'check_violation';
        END IF;
        delta := -OLD.amount_minor;
    ELSE
        RAISE EXCEPTION 'allocations are never deleted; reverse them' USING ERRCODE = 'check_violation';
    END IF;
    -- Payment first, then invoice: the same lock order the services use.
    UPDATE payments
       SET amount_allocated_minor = amount_allocated_minor + delta, version = version + 1, updated_at = now()
     WHERE tenant_id = NEW.tenant_id AND id = NEW.payment_id;
    PERFORM apply_to_invoice(NEW.tenant_id, NEW.invoice_id, delta, 0);
    RETURN NEW;
END
$$;

CREATE FUNCTION credit_notes_apply() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'credit notes are append-only' USING ERRCODE = 'check_violation';
    END IF;
    PERFORM apply_to_invoice(NEW.tenant_id, NEW.invoice_id, 0, NEW.amount_minor);
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER allocations_apply AFTER INSERT OR UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_apply();
CREATE TRIGGER credit_notes_apply AFTER INSERT OR UPDATE OR DELETE ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION credit_notes_apply();

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
-- never depend on a client's JSON encoder or the session's time zone. STABLE, not
-- IMMUTABLE: it calls stable functions, and only a correctly labelled SQL function is
-- inlined by the planner (otherwise its body is planned again on every call).
CREATE FUNCTION audit_content_hash(
    tenant_id uuid, seq bigint, id uuid, occurred_at timestamptz, actor_type text, actor_id text,
    action text, entity_type text, entity_id uuid, before jsonb, after jsonb, request_id text
) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
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
    INSERT INTO document_counters (tenant_id, sequence) VALUES (NEW.id, 'receivable'), (NEW.id, 'payable'), (NEW.id, 'credit_note');
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
                             'payments', 'allocations', 'credit_notes', 'audit_events', 'audit_chain_heads',
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
    outbox_events, idempotency_keys, processed_messages TO ledgerline_app;
-- Money movements are never deleted: payments and allocations are reversed, credit notes
-- are final.
GRANT SELECT, INSERT, UPDATE ON payments, allocations TO ledgerline_app;
GRANT SELECT, INSERT ON credit_notes TO ledgerline_app;
GRANT SELECT, INSERT ON audit_events TO ledgerline_app;
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO ledgerline_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ledgerline_readonly;

-- +goose Down
DROP TABLE processed_messages, idempotency_keys, outbox_events, audit_chain_heads, audit_events,
    credit_notes, allocations, payments, invoice_lines, invoices, document_counters, counterparties, tenants;
DROP FUNCTION credit_notes_apply(), allocations_apply(), apply_to_invoice(uuid, uuid, bigint, bigint), bootstrap_tenant(), audit_content_hash(uuid, bigint, uuid, timestamptz, text, text, text, text, uuid, jsonb, jsonb, text), current_tenant_id();
