-- +goose Up
-- Invoices published by a tenant's upstream systems (ERPs) on ledgerline-inbound-invoices.
--
-- external_id stays unique per tenant: it is the one name the tenant's own systems use
-- for a document, whichever of them sent it. An invoice that came from a source also
-- records that source and the source's version of the document it holds; a message
-- from another source (or for an invoice created through the API) with the same
-- external_id is refused rather than taking the invoice over.
ALTER TABLE invoices
    ADD COLUMN source text CHECK (source ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    ADD COLUMN source_version bigint CHECK (source_version >= 1),
    ADD CONSTRAINT invoices_source_versioned CHECK ((source IS NULL) = (source_version IS NULL)),
    ADD CONSTRAINT invoices_source_needs_external_id CHECK (source IS NULL OR external_id IS NOT NULL),
    -- The key inbound messages are applied by; implied by (tenant_id, external_id) today,
    -- stated so it keeps holding if external ids are ever namespaced per source.
    ADD CONSTRAINT invoices_tenant_id_source_external_id_key UNIQUE (tenant_id, source, external_id);

-- Inbound messages that were not applied: invalid ones, and versions that arrived after
-- their invoice was issued. Kept so the tenant can see what its systems sent and why
-- it changed nothing; the processor acknowledges them, so this is their only trace.
CREATE TABLE inbound_rejections (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    message_id     text NOT NULL,
    source         text,
    external_id    text,
    source_version bigint,
    invoice_id     uuid,
    code           text NOT NULL,
    detail         text NOT NULL,
    payload        bytea NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_rejections_page ON inbound_rejections (tenant_id, id DESC);

ALTER TABLE inbound_rejections ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_rejections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbound_rejections USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());

-- The processor only appends.
GRANT INSERT ON inbound_rejections TO ledgerline_app;
GRANT SELECT ON inbound_rejections TO ledgerline_readonly;

-- +goose Down
DROP TABLE inbound_rejections;
ALTER TABLE invoices
    DROP CONSTRAINT invoices_tenant_id_source_external_id_key,
    DROP CONSTRAINT invoices_source_needs_external_id,
    DROP CONSTRAINT invoices_source_versioned,
    DROP COLUMN source_version,
    DROP COLUMN source;
