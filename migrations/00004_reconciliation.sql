-- +goose Up
-- Reconciliation of inbound payments: the suggestions the InboundPayments processor
-- makes when it cannot allocate a payment with confidence, and the inbound payment
-- messages it refused.

-- A proposed allocation of one payment to one or more invoices. The amounts are a
-- jsonb array of {invoice_id, amount_minor}: they are only ever read and written
-- whole, and accepting one hands them to the payments domain, whose allocation rules
-- and constraints decide. Currency and direction ride along so the key below ties a
-- suggestion to a payment of its own tenant, like allocations are tied.
CREATE TABLE reconciliation_suggestions (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    payment_id        uuid NOT NULL,
    currency          char(3) NOT NULL,
    payment_direction text NOT NULL,
    amounts           jsonb NOT NULL CHECK (jsonb_typeof(amounts) = 'array' AND jsonb_array_length(amounts) >= 1),
    score             numeric(4, 3) NOT NULL CHECK (score BETWEEN 0 AND 1),
    reasons           jsonb NOT NULL CHECK (jsonb_typeof(reasons) = 'array'),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected', 'superseded')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz,
    decided_by        text,
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((decided_at IS NULL) = (decided_by IS NULL)),
    CONSTRAINT reconciliation_suggestions_payment_fk FOREIGN KEY (tenant_id, payment_id, currency, payment_direction)
        REFERENCES payments (tenant_id, id, currency, direction)
);
CREATE INDEX reconciliation_suggestions_page ON reconciliation_suggestions (tenant_id, id DESC);
CREATE INDEX reconciliation_suggestions_by_status ON reconciliation_suggestions (tenant_id, status, id DESC);
CREATE INDEX reconciliation_suggestions_by_payment ON reconciliation_suggestions (tenant_id, payment_id, id);

-- Inbound payment messages that can never be processed (invalid, or naming no
-- counterparty the tenant has), kept for people to follow up with the bank. Only
-- messages naming an existing tenant land here: row-level security needs one, and a
-- message without is logged instead. One row per message, however often it arrives.
-- The body is kept as text, cut at 64 KiB: it is evidence, not data to query.
CREATE TABLE inbound_payment_rejections (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    message_id  text NOT NULL,
    external_id text,
    reason      text NOT NULL CHECK (reason IN ('invalid_message', 'counterparty_unresolved')),
    detail      jsonb NOT NULL,
    body        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, message_id)
);
CREATE INDEX inbound_payment_rejections_page ON inbound_payment_rejections (tenant_id, id DESC);

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['reconciliation_suggestions', 'inbound_payment_rejections']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Suggestions change only by their decision; rejections are a record and never change.
GRANT SELECT, INSERT ON reconciliation_suggestions, inbound_payment_rejections TO ledgerline_app;
GRANT UPDATE (status, decided_at, decided_by) ON reconciliation_suggestions TO ledgerline_app;
GRANT SELECT ON reconciliation_suggestions, inbound_payment_rejections TO ledgerline_readonly;

-- +goose Down
DROP TABLE inbound_payment_rejections, reconciliation_suggestions;
