-- +goose Up
-- Hardening of the tenant-trusted issuers (00013).
--
-- 1. One binding claim per issuer. The unique key (issuer, binding_claim,
--    binding_value) alone let a tenant trust another tenant's issuer bound by some
--    other claim the victim's tokens also carry (sub, email, azp...): those tokens then
--    matched two tenants and were refused everywhere (lock-out), or matched the
--    squatter only. With every row of an issuer binding by the same claim, a token of
--    that issuer has exactly one candidate value, so the unique key decides alone.
--    (Which claims may bind at all, per-user ones refused, is checked by
--    shared/issuers before a row gets here.)
-- 2. Role mappings are never empty: a token's role names are no longer taken as
--    Ledgerline's. NOT VALID: rows trusted before keep verifying, granting no role.
-- 3. trusted_issuer_claims(): every trusted issuer and its binding claim, so that an
--    instance answers a token of an unknown issuer without a query of its own.

ALTER TABLE trusted_issuers
    ADD CONSTRAINT trusted_issuers_role_mapping_required CHECK (role_mapping <> '{}'::jsonb) NOT VALID;

-- The check must see every tenant's rows, which the inserting application role cannot
-- (row-level security): the trigger function runs as ledgerline_issuer_lookup, which
-- reads (issuer, binding_claim) of all rows and nothing else. The advisory lock,
-- keyed by the issuer, orders concurrent inserts of one issuer: at READ COMMITTED the
-- query after it runs on a fresh snapshot and sees what the other committed. A
-- REPEATABLE READ transaction would query its older snapshot, so it is refused (the
-- service inserts at READ COMMITTED; SERIALIZABLE would abort on the conflict itself).
-- +goose StatementBegin
CREATE FUNCTION trusted_issuers_one_binding_claim() RETURNS trigger
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $$
BEGIN
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'trusted_issuers rows are written at READ COMMITTED or SERIALIZABLE'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('trusted_issuers:' || NEW.issuer, 0));
    IF EXISTS (SELECT 1 FROM public.trusted_issuers t
                WHERE t.issuer = NEW.issuer AND t.binding_claim <> NEW.binding_claim) THEN
        RAISE EXCEPTION 'the tokens of this issuer are bound to tenants by another claim'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'trusted_issuers_one_binding_claim',
                  TABLE = 'trusted_issuers', SCHEMA = 'public';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER trusted_issuers_one_binding_claim
    BEFORE INSERT OR UPDATE OF issuer, binding_claim ON trusted_issuers
    FOR EACH ROW EXECUTE FUNCTION trusted_issuers_one_binding_claim();

-- Every trusted issuer with the claim(s) binding its tokens: what an instance caches
-- for the configuration TTL, so a token naming any other issuer is refused without a
-- query. It tells the application role which issuers some tenant trusts, never which
-- tenant nor with which binding value. More than one claim for an issuer only for rows
-- older than the trigger above.
CREATE FUNCTION trusted_issuer_claims() RETURNS TABLE (issuer text, claim text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$
    SELECT DISTINCT t.issuer, t.binding_claim FROM public.trusted_issuers t ORDER BY 1, 2
    $$;

REVOKE ALL ON FUNCTION trusted_issuer_claims(), trusted_issuers_one_binding_claim() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trusted_issuer_claims() TO ledgerline_app;

-- As in 00013: the migrator acts as the lookup role, which may create in the schema,
-- for the moment of the hand-over only.
GRANT CREATE ON SCHEMA public TO ledgerline_issuer_lookup;
GRANT ledgerline_issuer_lookup TO CURRENT_USER;
ALTER FUNCTION trusted_issuer_claims() OWNER TO ledgerline_issuer_lookup;
ALTER FUNCTION trusted_issuers_one_binding_claim() OWNER TO ledgerline_issuer_lookup;
REVOKE ledgerline_issuer_lookup FROM CURRENT_USER;
REVOKE CREATE ON SCHEMA public FROM ledgerline_issuer_lookup;

-- +goose Down
GRANT ledgerline_issuer_lookup TO CURRENT_USER;
DROP TRIGGER trusted_issuers_one_binding_claim ON trusted_issuers;
DROP FUNCTION trusted_issuer_claims(), trusted_issuers_one_binding_claim();
REVOKE ledgerline_issuer_lookup FROM CURRENT_USER;
ALTER TABLE trusted_issuers DROP CONSTRAINT trusted_issuers_role_mapping_required;
