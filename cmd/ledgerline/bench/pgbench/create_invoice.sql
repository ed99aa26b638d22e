-- InvoicesCreate of an invoice issued at once, the statements invoices.Service.Create
-- runs in db.InTenantTx, in as many round trips (four) though grouped differently.
-- The service begins and sets the tenant; reads the counterparty and the tax rounding
-- setting and takes the next number; inserts the invoice, its lines, the outbox event
-- and the audit record; commits. pgbench cannot pipeline a statement whose results it
-- needs, so here the reads go with the begin and the number is taken alone, which also
-- makes the ids the service makes in Go (UUIDv7 layout, in SQL here). The first
-- statement also looks up the slot, which the service does not do.
\set s random(1, :slots)
\startpipeline
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT set_config('app.tenant_id', tenant_id::text, true), set_config('bench.counterparty', counterparty_id::text, true), set_config('bench.currency', currency, true) FROM bench_slots WHERE slot = :s;
SELECT id, name, kind, email, tax_id, default_currency, payment_terms_days, external_id, version, created_at, updated_at FROM counterparties WHERE tenant_id = current_tenant_id() AND id = current_setting('bench.counterparty')::uuid;
SELECT settings->>'tax_rounding' FROM tenants WHERE id = current_tenant_id();
\endpipeline
UPDATE document_counters SET last_number = last_number + 1 WHERE tenant_id = current_tenant_id() AND sequence = 'receivable' RETURNING 'INV-' || lpad(last_number::text, greatest(6, length(last_number::text)), '0') AS number, tenant_id AS tenant, current_setting('bench.counterparty') AS counterparty, current_setting('bench.currency') AS currency, @V7@ AS invoice_id, '{' || @V7@ || ',' || @V7@ || ',' || @V7@ || '}' AS line_ids, @V7@ AS event_id, @V7@ AS audit_id, md5(random()::text) AS request_id \gset
\startpipeline
INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency, issue_date, due_date, memo, external_id, subtotal_minor, tax_minor, total_minor, tax_rounding, version, created_at, updated_at, finalized_at) VALUES (:invoice_id, :tenant, 'receivable', 'open', :number, :counterparty, :currency, current_date, current_date + 30, NULL, NULL, :subtotal, :tax, :total, 'per_line', 1, now(), now(), now());
INSERT INTO invoice_lines (id, tenant_id, invoice_id, position, description, quantity, unit_amount_minor, unit_price, tax_rate, amount_minor, tax_minor) SELECT t.id, :tenant::uuid, :invoice_id::uuid, t.position, t.description, t.quantity::numeric, t.unit, t.price::numeric, t.rate::numeric, t.amount, t.tax FROM unnest(:line_ids::uuid[], :positions::int[], :descriptions::text[], :quantities::text[], :units::bigint[], :prices::text[], :rates::text[], :amounts::bigint[], :taxes::bigint[]) AS t(id, position, description, quantity, unit, price, rate, amount, tax);
INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, request_id, created_at, trace_parent) VALUES (:event_id, :tenant, 'invoice.created', 'invoice', :invoice_id, 1, :invoice_json, :request_id, now(), NULL);
WITH head AS (UPDATE audit_chain_heads SET seq = seq + 1, hash = sha256(hash || audit_content_hash(:tenant, seq + 1, :audit_id, now(), 'user', :actor, 'invoice.created', 'invoice', :invoice_id, NULL, :invoice_json, :request_id)) WHERE tenant_id = :tenant RETURNING seq, hash) INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type, entity_id, before, after, request_id, hash) SELECT :tenant::uuid, head.seq, :audit_id::uuid, now(), 'user', :actor::text, 'invoice.created', 'invoice', :invoice_id::uuid, NULL, :invoice_json::jsonb, :request_id::text, head.hash FROM head;
\endpipeline
COMMIT;
