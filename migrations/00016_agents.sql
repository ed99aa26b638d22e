-- +goose Up
-- Agent runs: one row per call of an AI agent through the gateway (shared/agents),
-- whatever its outcome: served from the cache, refused for the budget or the feature
-- flag, failed, or succeeded. The rows are the metering: a tenant's spend in a month
-- is the sum of cost_micros of its runs created in that month, which the gateway
-- checks before every paid call and GET /v1/agents/usage reports.
--
-- cost_micros is in millionths of the major unit of the tenant's base currency, so a
-- call costing a fraction of a cent is still counted exactly.

CREATE TABLE agent_runs (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    agent          text NOT NULL CHECK (agent IN ('ap_extract', 'ar_collections', 'forecast_narrative')),
    provider       text NOT NULL CHECK (provider IN ('builtin', 'gemini', 'mcp')),
    model          text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    prompt_version text NOT NULL CHECK (length(prompt_version) BETWEEN 1 AND 64),
    cache_hit      boolean NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('succeeded', 'repaired', 'invalid_output', 'failed', 'over_budget', 'disabled')),
    -- The error's code and detail for the operator; NULL when the run succeeded.
    error          text CHECK (length(error) <= 2000),
    attempts       integer NOT NULL CHECK (attempts >= 0),
    latency_ms     bigint NOT NULL CHECK (latency_ms >= 0),
    tokens_in      bigint NOT NULL CHECK (tokens_in >= 0),
    tokens_out     bigint NOT NULL CHECK (tokens_out >= 0),
    cost_micros    bigint NOT NULL CHECK (cost_micros >= 0),
    created_at     timestamptz NOT NULL,
    -- A cache hit calls no provider and costs nothing.
    CHECK (NOT cache_hit OR (attempts = 0 AND cost_micros = 0 AND tokens_in = 0 AND tokens_out = 0)),
    CHECK ((outcome IN ('succeeded', 'repaired')) = (error IS NULL)),
    -- Target of composite foreign keys (a proposal naming the run that produced it).
    UNIQUE (tenant_id, id)
);
-- Ids are UUIDv7: (tenant_id, id DESC) serves newest-first pages, filtered or not.
CREATE INDEX agent_runs_page ON agent_runs (tenant_id, id DESC);
-- The budget check before every paid call sums a month's cost: an index-only scan of
-- the month's entries.
CREATE INDEX agent_runs_month ON agent_runs (tenant_id, created_at) INCLUDE (cost_micros);

ALTER TABLE agent_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agent_runs USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());

-- Runs are a ledger of spend: appended, never changed or deleted by the application.
GRANT SELECT, INSERT ON agent_runs TO ledgerline_app;
GRANT SELECT ON agent_runs TO ledgerline_readonly;

-- +goose Down
DROP TABLE agent_runs;
