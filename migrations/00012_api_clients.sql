-- +goose Up
-- API clients: machine callers of a tenant (ERPs, scripts) that obtain short-lived
-- access tokens from Ledgerline's OAuth 2.0 token endpoint with the client-credentials
-- grant. A client is its id, its roles and the SHA-256 of its secret; the secret itself
-- is shown once, at creation, and never stored.

CREATE TABLE api_clients (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Role names as the tokens carry them; the service checks them against the known
    -- roles, and that the creator held each one.
    roles       text[] NOT NULL CHECK (cardinality(roles) BETWEEN 1 AND 20),
    -- SHA-256 of the whole secret string. A slow password hash exists to make guessing
    -- a low-entropy secret expensive; this one is 256 random bits, beyond guessing
    -- however cheap each guess is, so a fast hash loses nothing and keeps the token
    -- endpoint fast.
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    -- A deleted client is kept, so the audit trail and the tokens' sub still name a
    -- row; it authenticates no more and its tokens are refused at once.
    deleted_at  timestamptz,
    deleted_by  text,
    CHECK ((deleted_at IS NULL) = (deleted_by IS NULL)),
    UNIQUE (tenant_id, id)
);
-- Newest-first pages of the tenant's live clients.
CREATE INDEX api_clients_page ON api_clients (tenant_id, id DESC) WHERE deleted_at IS NULL;

ALTER TABLE api_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_clients
    USING (tenant_id = current_tenant_id()) WITH CHECK (tenant_id = current_tenant_id());

-- The application creates clients and deletes them (softly); it never reads the
-- hashes back: only the lookup below compares a secret.
GRANT SELECT (id, tenant_id, name, roles, version, created_at, created_by, deleted_at, deleted_by)
    ON api_clients TO ledgerline_app;
GRANT INSERT ON api_clients TO ledgerline_app;
GRANT UPDATE (version, deleted_at, deleted_by) ON api_clients TO ledgerline_app;
GRANT SELECT (id, tenant_id, name, roles, version, created_at, created_by, deleted_at, deleted_by)
    ON api_clients TO ledgerline_readonly;

-- The token endpoint must find a client before any tenant is known: the tenant is what
-- the client tells. Rather than open the table to the application role (a policy for
-- it, or a tenant-less read path), one SECURITY DEFINER function answers the one
-- question authentication asks: for an exact client id, the live client's tenant,
-- roles and secret hash. It lists nothing, and a caller must already know a client id
-- (a random UUID) to learn anything. It runs as ledgerline_client_lookup, a role that
-- cannot log in, bypasses nothing, may read only those columns, and holds the one
-- policy (read-only, this table only) that shows it every tenant's rows. The owner of
-- the table could not serve instead without such a policy of its own, since FORCE
-- ROW LEVEL SECURITY binds it too. search_path is empty, so nothing a session creates
-- can stand in for what the function names.

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledgerline_client_lookup') THEN
        CREATE ROLE ledgerline_client_lookup NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO ledgerline_client_lookup;
GRANT SELECT (id, tenant_id, roles, secret_hash, deleted_at) ON api_clients TO ledgerline_client_lookup;
CREATE POLICY client_lookup_reads_all_tenants ON api_clients FOR SELECT TO ledgerline_client_lookup USING (true);

CREATE FUNCTION api_client_credentials(p_client_id uuid)
    RETURNS TABLE (tenant_id uuid, roles text[], secret_hash bytea)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$
    SELECT c.tenant_id, c.roles, c.secret_hash
      FROM public.api_clients c
     WHERE c.id = p_client_id AND c.deleted_at IS NULL
    $$;

REVOKE ALL ON FUNCTION api_client_credentials(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_client_credentials(uuid) TO ledgerline_app;

-- Handing the function to ledgerline_client_lookup needs the migrator to act as that
-- role, and the role to be allowed to create in the schema, for the moment of the
-- change only.
GRANT CREATE ON SCHEMA public TO ledgerline_client_lookup;
GRANT ledgerline_client_lookup TO CURRENT_USER;
ALTER FUNCTION api_client_credentials(uuid) OWNER TO ledgerline_client_lookup;
REVOKE ledgerline_client_lookup FROM CURRENT_USER;
REVOKE CREATE ON SCHEMA public FROM ledgerline_client_lookup;

-- +goose Down
GRANT ledgerline_client_lookup TO CURRENT_USER;
DROP FUNCTION api_client_credentials(uuid);
REVOKE ledgerline_client_lookup FROM CURRENT_USER;
DROP TABLE api_clients;
REVOKE USAGE ON SCHEMA public FROM ledgerline_client_lookup;
