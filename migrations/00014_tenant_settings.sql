-- +goose Up
-- Tenant settings as versioned data, and feature flags per tenant.
--
-- A tenant's settings are a timeline of versions. Each change appends a version: the
-- whole settings document (every setting, validated by shared/settings, so what a
-- version meant never depends on the defaults of the code reading it), the time it
-- takes effect (now or later, never earlier), and who made it. Versions are never
-- changed or deleted: the application role may only insert and read them. Each version
-- takes effect no earlier than the one before it, so the version in effect at any time
-- is simply the newest one that had taken effect by then (tenant_settings_at).
--
-- Documents keep what they were computed with: an invoice stores its tax rounding, line
-- amounts, totals and number when they are computed (00001), so a later version never
-- changes an issued document; only documents computed after it takes effect use it.
--
-- Expand/contract: tenants.settings and tenants.base_currency are no longer read, and
-- no longer written after a tenant is created: its version 1 is built from the row it
-- is created with (provisioning still names the base currency there), and every later
-- change is a version. They stay because the previous release reads them while it
-- drains; a write to them meanwhile (an operator's SQL, the only way settings were
-- changed before this release) is carried into a new version by tenants_settings_legacy
-- below, so none is lost. In the first migration after every instance of the release
-- before 00014 is gone (the release after this one), drop both columns, that trigger and
-- tenant_settings_from_legacy, with provisioning passing the base currency to version 1
-- directly.

CREATE TABLE tenant_settings_versions (
    id              uuid NOT NULL UNIQUE,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    version         integer NOT NULL CHECK (version >= 1),
    effective_from  timestamptz NOT NULL,
    settings        jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by_type text NOT NULL CHECK (created_by_type IN ('user', 'api_client', 'agent', 'system')),
    created_by_id   text NOT NULL CHECK (length(created_by_id) BETWEEN 1 AND 255),
    -- The key serves every read: the newest versions of a tenant first (a tenant has a
    -- handful), and the one in effect is among the first few.
    PRIMARY KEY (tenant_id, version)
);

-- One timeline per tenant: versions are numbered 1, 2, 3, ... and each takes effect no
-- earlier than the one before it. Two concurrent changes both number theirs head + 1,
-- and the primary key lets only the first commit.
-- +goose StatementBegin
CREATE FUNCTION tenant_settings_versions_append() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    head tenant_settings_versions;
BEGIN
    SELECT * INTO head FROM tenant_settings_versions
     WHERE tenant_id = NEW.tenant_id ORDER BY version DESC LIMIT 1;
    IF (head.version IS NULL AND NEW.version <> 1)
       OR (head.version IS NOT NULL AND (NEW.version <> head.version + 1 OR NEW.effective_from < head.effective_from)) THEN
        RAISE EXCEPTION 'tenant settings version % of tenant % does not extend its timeline', NEW.version, NEW.tenant_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_settings_versions_timeline';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tenant_settings_versions_append BEFORE INSERT ON tenant_settings_versions
    FOR EACH ROW EXECUTE FUNCTION tenant_settings_versions_append();

-- The version of a tenant's settings in effect at p_at: the newest one that had taken
-- effect by then; for a time before the first version, the first (the settings the
-- tenant started with). No row for a tenant the caller cannot see. Readers take
-- .settings, the document. A set-returning SQL function, so the planner inlines it into
-- the statement that calls it: two probes of the primary key.
-- +goose StatementBegin
CREATE FUNCTION tenant_settings_at(p_tenant uuid, p_at timestamptz) RETURNS SETOF tenant_settings_versions
    LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
    AS $$
    SELECT * FROM tenant_settings_versions
     WHERE tenant_id = p_tenant
       AND version = coalesce((SELECT max(version) FROM tenant_settings_versions
                                WHERE tenant_id = p_tenant AND effective_from <= p_at), 1)
    $$;
-- +goose StatementEnd

-- A complete settings document from the pre-versioning columns. Each setting p_old
-- holds is taken as the readers of the previous release used it: an invalid (or null)
-- value becomes the default, as they fell back to it (an invalid tax_rounding used to
-- refuse every invoice; it becomes per_line). A setting p_old does not hold keeps its
-- value in p_carried (the previous version), else the default; so does base_currency
-- when p_base_currency is NULL. Formats, payment terms and the agent budget had no old
-- setting.
-- +goose StatementBegin
CREATE FUNCTION tenant_settings_from_legacy(p_base_currency text, p_old jsonb, p_carried jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
    WITH d AS (
        SELECT '{"base_currency": "USD", "aging_buckets": [30, 60, 90], "tax_rounding": "per_line",
                 "invoice_number_format": "INV-{number:6}", "bill_number_format": "BILL-{number:6}",
                 "credit_note_number_format": "CN-{number:6}", "payment_terms_days": 30,
                 "dunning_schedule": [7, 14, 30], "reconciliation_auto_threshold": 0.9,
                 "reconciliation_tolerance_minor": 100, "agent_budget_monthly_minor": 0}'::jsonb
               || coalesce(p_carried, '{}'::jsonb) AS doc
    ),
    -- The lists of days, each sorted if it holds 1 to max_len distinct whole days from 1
    -- to 3650 (anything that is not a number counts as missing, failing the distinct
    -- count), else NULL.
    days AS (
        SELECT k, (SELECT CASE WHEN count(*) BETWEEN 1 AND max_len AND count(DISTINCT x) = count(*)
                                    AND bool_and(x = trunc(x) AND x BETWEEN 1 AND 3650)
                               THEN jsonb_agg(x::int ORDER BY x) END
                     FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_old -> k) = 'array' THEN p_old -> k ELSE '[]' END) e,
                          LATERAL (SELECT CASE WHEN jsonb_typeof(e) = 'number' THEN e::text::numeric END) AS num (x))
                  AS v
          FROM (VALUES ('aging_buckets', 12), ('dunning_schedule', 10)) AS lists (k, max_len)
    )
    SELECT d.doc || jsonb_strip_nulls(jsonb_build_object(
        'base_currency', p_base_currency,
        'aging_buckets', CASE WHEN p_old ? 'aging_buckets' THEN coalesce((SELECT v FROM days WHERE k = 'aging_buckets'), '[30, 60, 90]') END,
        'dunning_schedule', CASE WHEN p_old ? 'dunning_schedule' THEN coalesce((SELECT v FROM days WHERE k = 'dunning_schedule'), '[7, 14, 30]') END,
        'tax_rounding', CASE WHEN p_old ? 'tax_rounding' THEN
            CASE WHEN p_old ->> 'tax_rounding' IN ('per_line', 'per_document') THEN p_old -> 'tax_rounding' ELSE '"per_line"' END END,
        'reconciliation_auto_threshold', CASE WHEN p_old ? 'reconciliation_auto_threshold' THEN
            CASE WHEN jsonb_typeof(p_old -> 'reconciliation_auto_threshold') = 'number'
                      AND (p_old ->> 'reconciliation_auto_threshold')::numeric > 0
                      AND (p_old ->> 'reconciliation_auto_threshold')::numeric <= 1
                 THEN p_old -> 'reconciliation_auto_threshold' ELSE '0.9' END END,
        'reconciliation_tolerance_minor', CASE WHEN p_old ? 'reconciliation_tolerance_minor' THEN
            CASE WHEN jsonb_typeof(p_old -> 'reconciliation_tolerance_minor') = 'number'
                      AND (p_old ->> 'reconciliation_tolerance_minor')::numeric
                          BETWEEN 0 AND 9007199254740991
                      AND (p_old ->> 'reconciliation_tolerance_minor')::numeric
                          = trunc((p_old ->> 'reconciliation_tolerance_minor')::numeric)
                 THEN to_jsonb((p_old ->> 'reconciliation_tolerance_minor')::numeric::bigint) ELSE '100' END END))
      FROM d
    $$;
-- +goose StatementEnd

-- Feature flags: the tenant's own choices only (flag name -> on/off). A flag the tenant
-- has not set follows its default in shared/features, so a default can change with a
-- release; the version counts changes, for the outbox and the audit trail.
CREATE TABLE tenant_features (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id),
    flags      jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(flags) = 'object' AND NOT jsonb_path_exists(flags, '$.* ? (@.type() != "boolean")')),
    version    integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every tenant starts with version 1 of its settings and its flags row, like its chain
-- head and counters (00001), so reads always find them and a change is always an
-- append or an update.
-- +goose StatementBegin
CREATE FUNCTION bootstrap_tenant_settings() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO tenant_settings_versions (id, tenant_id, version, effective_from, settings, created_at, created_by_type, created_by_id)
    VALUES (gen_random_uuid(), NEW.id, 1, NEW.created_at, tenant_settings_from_legacy(NEW.base_currency, NEW.settings, NULL),
            NEW.created_at, 'system', 'tenant_created');
    INSERT INTO tenant_features (tenant_id, updated_at) VALUES (NEW.id, NEW.created_at);
    RETURN NEW;
END
$$;

-- The expand phase's bridge (see the top): a write to the old columns becomes a new
-- version, in effect at once, that changes exactly the settings the write changed (a
-- key it removed goes back to its default, as the old readers had it). While a change
-- made through the API is scheduled the timeline refuses it, rather than reorder.
CREATE FUNCTION tenants_settings_legacy() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    head tenant_settings_versions;
    changed jsonb;
BEGIN
    SELECT * INTO head FROM tenant_settings_versions WHERE tenant_id = NEW.id ORDER BY version DESC LIMIT 1;
    SELECT coalesce(jsonb_object_agg(k, coalesce(NEW.settings -> k, 'null')), '{}') INTO changed
      FROM (SELECT jsonb_object_keys(NEW.settings) UNION SELECT jsonb_object_keys(OLD.settings)) AS keys (k)
     WHERE NEW.settings -> k IS DISTINCT FROM OLD.settings -> k;
    INSERT INTO tenant_settings_versions (id, tenant_id, version, effective_from, settings, created_by_type, created_by_id)
    VALUES (gen_random_uuid(), NEW.id, coalesce(head.version, 0) + 1, now(),
            tenant_settings_from_legacy(CASE WHEN NEW.base_currency IS DISTINCT FROM OLD.base_currency THEN NEW.base_currency END,
                                        changed, head.settings),
            'system', 'tenants.settings');
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tenants_settings_bootstrap AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION bootstrap_tenant_settings();
CREATE TRIGGER tenants_settings_legacy AFTER UPDATE OF settings, base_currency ON tenants
    FOR EACH ROW WHEN (OLD.settings IS DISTINCT FROM NEW.settings OR OLD.base_currency IS DISTINCT FROM NEW.base_currency)
    EXECUTE FUNCTION tenants_settings_legacy();

-- Version 1 of every existing tenant: what its readers used until now, in effect since
-- the tenant was created. FORCE ROW LEVEL SECURITY subjects even the owner (the
-- migrator, which has no tenant set) to the policies, so the owner reads tenants and
-- writes the new tables with it lifted; this transaction holds tenants' exclusive lock
-- until it commits with FORCE back on, so nothing else runs in the gap.
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
INSERT INTO tenant_settings_versions (id, tenant_id, version, effective_from, settings, created_at, created_by_type, created_by_id)
SELECT gen_random_uuid(), id, 1, created_at, tenant_settings_from_legacy(base_currency, settings, NULL), now(), 'system', 'migration'
  FROM tenants;
INSERT INTO tenant_features (tenant_id) SELECT id FROM tenants;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

ALTER TABLE tenant_settings_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_settings_versions USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());
ALTER TABLE tenant_features ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_features FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_features USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());

-- Versions are appended, never changed; flags are changed in place, never removed.
GRANT SELECT, INSERT ON tenant_settings_versions TO ledgerline_app;
GRANT SELECT, UPDATE (flags, version, updated_at) ON tenant_features TO ledgerline_app;
GRANT SELECT ON tenant_settings_versions, tenant_features TO ledgerline_readonly;

-- +goose Down
DROP TRIGGER tenants_settings_legacy ON tenants;
DROP TRIGGER tenants_settings_bootstrap ON tenants;
-- tenant_settings_at returns the table's row type, so it goes first.
DROP FUNCTION tenant_settings_at(uuid, timestamptz);
DROP TABLE tenant_features, tenant_settings_versions;
DROP FUNCTION tenants_settings_legacy(), bootstrap_tenant_settings(), tenant_settings_from_legacy(text, jsonb, jsonb),
    tenant_settings_versions_append();
