-- +goose Up
-- Bulk imports: a CSV or XLSX file of counterparties, invoices or payments, read and
-- validated by the request that uploads it, stored as chunks of records and applied
-- chunk by chunk by the ImportChunks processor (one transaction per chunk).
--
-- What is kept of the file: not the file itself, but its records (what to write) and
-- the original cells of its rows, both per chunk, and the cells of every row that
-- failed with its errors. The errors download gives failed rows back as they were
-- uploaded, so they can be fixed and uploaded again; a row can fail when its chunk is
-- applied (an unknown counterparty, an invoice issued since), so the cells of every
-- row stay with its chunk until then. The file's size and SHA-256 identify it.

CREATE TABLE imports (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    kind                 text NOT NULL CHECK (kind IN ('counterparties', 'invoices', 'payments')),
    status               text NOT NULL CHECK (status IN ('validating', 'running', 'completed', 'completed_with_errors', 'failed')),
    -- A dry run applies each chunk in a transaction that is rolled back: the counts
    -- below are then what would have been created, updated or left unchanged.
    dry_run              boolean NOT NULL,
    file_name            text CHECK (length(file_name) BETWEEN 1 AND 255),
    format               text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    size_bytes           bigint NOT NULL CHECK (size_bytes >= 0),
    sha256               bytea NOT NULL CHECK (length(sha256) = 32),
    rows_total           integer NOT NULL CHECK (rows_total >= 0),
    rows_succeeded       integer NOT NULL DEFAULT 0 CHECK (rows_succeeded >= 0),
    rows_failed          integer NOT NULL DEFAULT 0 CHECK (rows_failed >= 0),
    chunks_total         integer NOT NULL CHECK (chunks_total >= 0),
    chunks_done          integer NOT NULL DEFAULT 0 CHECK (chunks_done >= 0),
    chunks_dead_lettered integer NOT NULL DEFAULT 0 CHECK (chunks_dead_lettered >= 0),
    created_count        integer NOT NULL DEFAULT 0 CHECK (created_count >= 0),
    updated_count        integer NOT NULL DEFAULT 0 CHECK (updated_count >= 0),
    unchanged_count      integer NOT NULL DEFAULT 0 CHECK (unchanged_count >= 0),
    -- Who uploaded the file: every change the import makes is audited as theirs.
    created_by_type      text NOT NULL CHECK (created_by_type IN ('user', 'api_client', 'agent', 'system')),
    created_by           text NOT NULL,
    request_id           text,
    trace_parent         text CHECK (length(trace_parent) <= 128),
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    finished_at          timestamptz,
    failure_reason       text CHECK (length(failure_reason) <= 2000),
    -- Every row is accounted for once: applied, or failed (when read or when applied).
    CHECK (rows_succeeded + rows_failed <= rows_total),
    CHECK (chunks_done + chunks_dead_lettered <= chunks_total),
    CHECK ((status IN ('completed', 'completed_with_errors', 'failed')) = (finished_at IS NOT NULL)),
    UNIQUE (tenant_id, id)
);
-- Ids are UUIDv7: (tenant_id, id DESC) serves newest-first pages.
CREATE INDEX imports_page ON imports (tenant_id, id DESC);

CREATE TABLE import_chunks (
    tenant_id       uuid NOT NULL,
    import_id       uuid NOT NULL,
    seq             integer NOT NULL CHECK (seq >= 1),
    -- pending until applied; failed after an attempt that will be retried;
    -- dead_lettered once its last delivery attempt failed (a replay may still apply it).
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'failed', 'dead_lettered')),
    -- The records to apply (shared/imports Records of the import's kind) and the
    -- original cells of their rows by row number, for rows that fail when applied.
    records         jsonb NOT NULL,
    cells           jsonb NOT NULL,
    record_count    integer NOT NULL CHECK (record_count >= 1),
    row_count       integer NOT NULL CHECK (row_count >= 1),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text CHECK (length(last_error) <= 2000),
    applied_at      timestamptz,
    created_count   integer NOT NULL DEFAULT 0 CHECK (created_count >= 0),
    updated_count   integer NOT NULL DEFAULT 0 CHECK (updated_count >= 0),
    unchanged_count integer NOT NULL DEFAULT 0 CHECK (unchanged_count >= 0),
    failed_rows     integer NOT NULL DEFAULT 0 CHECK (failed_rows >= 0),
    CHECK ((status = 'applied') = (applied_at IS NOT NULL)),
    PRIMARY KEY (tenant_id, import_id, seq),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);
-- Records and cells are written once and read once or twice; lz4 compresses them
-- several times faster than the default pglz, which matters at upload time.
ALTER TABLE import_chunks ALTER COLUMN records SET COMPRESSION lz4;
ALTER TABLE import_chunks ALTER COLUMN cells SET COMPRESSION lz4;

CREATE TABLE import_row_errors (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    import_id   uuid NOT NULL,
    row_number  integer NOT NULL CHECK (row_number >= 1),
    -- The canonical column at fault; NULL when the row as a whole is.
    column_name text CHECK (length(column_name) <= 64),
    code        text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    -- The row's cells as uploaded (canonical column → text), repeated on each error of
    -- the row so the errors download is one scan of this table.
    cells       jsonb NOT NULL,
    -- The chunk whose application failed the row; NULL when the row failed when read.
    chunk_seq   integer,
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);
-- The errors download reads an import's errors in row order.
CREATE INDEX import_row_errors_by_row ON import_row_errors (tenant_id, import_id, row_number, id);

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['imports', 'import_chunks', 'import_row_errors']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Imports are never deleted through the API; errors are appended only.
GRANT SELECT, INSERT, UPDATE ON imports, import_chunks TO ledgerline_app;
GRANT SELECT, INSERT ON import_row_errors TO ledgerline_app;
GRANT SELECT ON imports, import_chunks, import_row_errors TO ledgerline_readonly;

-- The outbox also carries work for processors: a row with a topic is published there
-- (as a plain message of its payload) instead of to the events topic. The import's
-- chunk messages commit with the import this way, so a crash between the commit and
-- the publish loses none: the sweeper publishes what the request did not.
ALTER TABLE outbox_events ADD COLUMN topic text CHECK (topic ~ '^[a-z][a-z0-9-]{2,254}$');

-- Appending many audit events at once: the chain is sequential (each hash covers the
-- previous one), so a batch is chained by a running aggregate over the entries in
-- order, seeded with the head's hash: a strict transition function with no initial
-- value starts from its first input, the head.
CREATE FUNCTION audit_chain_step(state bytea, content bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT sha256(state || content) $$;
CREATE AGGREGATE audit_chain(bytea) (SFUNC = audit_chain_step, STYPE = bytea);

-- +goose Down
DROP AGGREGATE audit_chain(bytea);
DROP FUNCTION audit_chain_step(bytea, bytea);
ALTER TABLE outbox_events DROP COLUMN topic;
DROP TABLE import_row_errors, import_chunks, imports;
