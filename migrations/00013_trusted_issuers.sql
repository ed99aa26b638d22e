-- +goose Up
-- External OIDC issuers a tenant trusts to sign its users' tokens. A token names its
-- issuer (iss) and carries a claim that binds it to one tenant (binding_claim =
-- binding_value, e.g. org_id = org_123); that triple is unique across all tenants, so
-- a token binds to one tenant at most.

CREATE TABLE trusted_issuers (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    -- Compared byte for byte with a token's iss, as OIDC requires.
    issuer        text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 1024),
    audience      text NOT NULL CHECK (length(audience) BETWEEN 1 AND 512),
    -- Pinned: a token signed with anything else is refused before its key is looked
    -- up. Asymmetric algorithms only, so a public key can never serve as an HMAC secret.
    algorithms    text[] NOT NULL CHECK (cardinality(algorithms) BETWEEN 1 AND 6
                      AND algorithms <@ ARRAY['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256']),
    -- NULL: discovered from the issuer's /.well-known/openid-configuration.
    jwks_url      text CHECK (length(jwks_url) BETWEEN 1 AND 2048),
    roles_claim   text NOT NULL CHECK (length(roles_claim) BETWEEN 1 AND 128),
    -- Issuer role name -> Ledgerline role; empty: the issuer's names are Ledgerline's.
    role_mapping  jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(role_mapping) = 'object'),
    binding_claim text NOT NULL CHECK (length(binding_claim) BETWEEN 1 AND 128),
    binding_value text NOT NULL CHECK (length(binding_value) BETWEEN 1 AND 512),
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Across tenants, not per tenant: this is what makes the binding unambiguous. Its
    -- index, led by issuer, also serves the verifier's lookups.
    CONSTRAINT trusted_issuers_binding_key UNIQUE (issuer, binding_claim, binding_value)
);
-- Newest-first pages of a tenant's issuers.
CREATE INDEX trusted_issuers_page ON trusted_issuers (tenant_id, id DESC);

ALTER TABLE trusted_issuers ENABLE ROW LEVEL SECURITY;
ALTER TABLE trusted_issuers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON trusted_issuers
    USING (tenant_id = current_tenant_id()) WITH CHECK (tenant_id = current_tenant_id());

-- Issuers are created and deleted, never edited: a changed trust is a new row.
GRANT SELECT, INSERT, DELETE ON trusted_issuers TO ledgerline_app;
GRANT SELECT ON trusted_issuers TO ledgerline_readonly;

-- Verifying a token needs the configuration before any tenant is known: the tenant is
-- what the configuration tells. Rather than open the table to the application role
-- (a policy for it, or a tenant-less read path), two SECURITY DEFINER functions answer
-- the only two questions verification asks, for an exact issuer:
--   trusted_issuer_binding_claims(issuer): which claims bind its tokens (names only);
--   trusted_issuer_binding(issuer, claim, value): the one configuration with that
--   binding, without its id, and only the columns verification reads.
-- A caller must already hold the binding value to learn a tenant, and can list
-- nothing. The functions run as ledgerline_issuer_lookup, a role that cannot log in,
-- bypasses nothing, may read only those columns of this table, and holds the one
-- policy (read-only, this table only) that shows it every tenant's rows. search_path
-- is empty, so nothing a session creates can stand in for what the functions call.

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledgerline_issuer_lookup') THEN
        CREATE ROLE ledgerline_issuer_lookup NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO ledgerline_issuer_lookup;
GRANT SELECT (tenant_id, issuer, audience, algorithms, jwks_url, roles_claim, role_mapping, binding_claim, binding_value)
    ON trusted_issuers TO ledgerline_issuer_lookup;
CREATE POLICY issuer_lookup_reads_all_tenants ON trusted_issuers FOR SELECT TO ledgerline_issuer_lookup USING (true);

CREATE FUNCTION trusted_issuer_binding_claims(p_issuer text) RETURNS TABLE (claim text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$
    SELECT DISTINCT t.binding_claim FROM public.trusted_issuers t WHERE t.issuer = p_issuer ORDER BY 1
    $$;

CREATE FUNCTION trusted_issuer_binding(p_issuer text, p_claim text, p_value text)
    RETURNS TABLE (tenant_id uuid, audience text, algorithms text[], jwks_url text, roles_claim text, role_mapping jsonb)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$
    SELECT t.tenant_id, t.audience, t.algorithms, t.jwks_url, t.roles_claim, t.role_mapping
      FROM public.trusted_issuers t
     WHERE t.issuer = p_issuer AND t.binding_claim = p_claim AND t.binding_value = p_value
    $$;

REVOKE ALL ON FUNCTION trusted_issuer_binding_claims(text), trusted_issuer_binding(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trusted_issuer_binding_claims(text), trusted_issuer_binding(text, text, text) TO ledgerline_app;

-- Handing the functions to ledgerline_issuer_lookup needs the migrator to act as that
-- role, and the role to be allowed to create in the schema, for the moment of the
-- change only.
GRANT CREATE ON SCHEMA public TO ledgerline_issuer_lookup;
GRANT ledgerline_issuer_lookup TO CURRENT_USER;
ALTER FUNCTION trusted_issuer_binding_claims(text) OWNER TO ledgerline_issuer_lookup;
ALTER FUNCTION trusted_issuer_binding(text, text, text) OWNER TO ledgerline_issuer_lookup;
REVOKE ledgerline_issuer_lookup FROM CURRENT_USER;
REVOKE CREATE ON SCHEMA public FROM ledgerline_issuer_lookup;

-- +goose Down
GRANT ledgerline_issuer_lookup TO CURRENT_USER;
DROP FUNCTION trusted_issuer_binding(text, text, text), trusted_issuer_binding_claims(text);
REVOKE ledgerline_issuer_lookup FROM CURRENT_USER;
DROP TABLE trusted_issuers;
REVOKE USAGE ON SCHEMA public FROM ledgerline_issuer_lookup;
