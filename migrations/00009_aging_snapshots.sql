-- +goose Up
-- The aging snapshot each daily close stores: open balances by direction and currency
-- in the tenant's aging buckets, as of the close date, so the trend of "who owes what,
-- how late" can be read back without recomputing history.
CREATE TABLE aging_snapshots (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    close_date    date NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('receivable', 'payable')),
    currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    current_minor bigint NOT NULL CHECK (current_minor >= 0),
    -- [{"from_days": 1, "to_days": 30, "amount_minor": 0}, ..., {"from_days": 91, "to_days": null, ...}]
    buckets       jsonb NOT NULL,
    total_minor   bigint NOT NULL CHECK (total_minor >= 0),
    invoice_count integer NOT NULL CHECK (invoice_count >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, close_date, direction, currency)
);
ALTER TABLE aging_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE aging_snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON aging_snapshots USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());
GRANT SELECT, INSERT ON aging_snapshots TO ledgerline_app;
GRANT SELECT ON aging_snapshots TO ledgerline_readonly;

-- +goose Down
DROP TABLE aging_snapshots;
