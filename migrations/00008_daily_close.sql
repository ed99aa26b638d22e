-- +goose Up
-- Daily close. A scheduled tick lists the tenants (as the relay role, the platform's
-- background role that works across tenants: it may read tenant ids and nothing else
-- of them) and publishes one close message per tenant; each tenant's close then runs
-- as the application role inside that tenant.
GRANT SELECT (id) ON tenants TO ledgerline_relay;
CREATE POLICY relay_lists_tenants ON tenants FOR SELECT TO ledgerline_relay USING (true);

-- When an invoice was first found overdue by a close (NULL: not yet, or not overdue).
ALTER TABLE invoices ADD COLUMN overdue_since date;
-- The close's overdue scan: open or uncollectible invoices past due, not yet marked.
CREATE INDEX invoices_overdue_scan ON invoices (tenant_id, due_date)
    WHERE status IN ('open', 'uncollectible') AND overdue_since IS NULL;

-- A dunning proposal: a counterparty whose oldest overdue receivable reached a stage of
-- the tenant's dunning schedule. A person (or, later, an agent drafting the message)
-- acts on it; one proposal per counterparty and stage.
CREATE TABLE dunning_proposals (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    counterparty_id uuid NOT NULL,
    stage           integer NOT NULL CHECK (stage >= 1),
    days_overdue    integer NOT NULL CHECK (days_overdue >= 0),
    invoice_ids     uuid[] NOT NULL CHECK (cardinality(invoice_ids) >= 1),
    amounts_due     jsonb NOT NULL, -- [{"currency": "USD", "amount_due_minor": 123}]
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    close_date      date NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, counterparty_id, stage),
    FOREIGN KEY (tenant_id, counterparty_id) REFERENCES counterparties (tenant_id, id)
);
ALTER TABLE dunning_proposals ENABLE ROW LEVEL SECURITY;
ALTER TABLE dunning_proposals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dunning_proposals USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());
GRANT SELECT, INSERT, UPDATE (status) ON dunning_proposals TO ledgerline_app;
GRANT SELECT ON dunning_proposals TO ledgerline_readonly;

-- +goose Down
DROP TABLE dunning_proposals;
DROP INDEX invoices_overdue_scan;
ALTER TABLE invoices DROP COLUMN overdue_since;
DROP POLICY relay_lists_tenants ON tenants;
REVOKE SELECT (id) ON tenants FROM ledgerline_relay;
