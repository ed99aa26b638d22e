-- PaymentsCreate of an incoming payment with one allocation, the statements
-- payments.Service.Create runs in db.InTenantTx, in as many round trips (five) though
-- grouped differently. The service begins and sets the tenant; reads the counterparty
-- and locks the invoice; inserts the payment and the allocation (whose trigger applies
-- it to both) and reads back the payment, its allocations and the invoice; inserts three
-- outbox events and three audit records; commits. pgbench cannot pipeline a statement
-- whose results it needs, so here the counterparty read goes with the begin and the
-- invoice is locked alone, which also makes the ids the service makes in Go (UUIDv7
-- layout, in SQL here). The first statement also looks up the slot, which the service
-- does not do.
\set s random(1, :slots)
\set amount random(1, 100)
\startpipeline
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT set_config('app.tenant_id', tenant_id::text, true), set_config('bench.counterparty', counterparty_id::text, true), set_config('bench.invoice', invoice_id::text, true) FROM bench_slots WHERE slot = :s;
SELECT id, name, kind, email, tax_id, default_currency, payment_terms_days, external_id, version, created_at, updated_at FROM counterparties WHERE tenant_id = current_tenant_id() AND id = current_setting('bench.counterparty')::uuid;
\endpipeline
SELECT id AS invoice_id, direction, status, currency, total_minor, amount_paid_minor, amount_credited_minor, amount_due_minor, version, tenant_id AS tenant, current_setting('bench.counterparty') AS counterparty, @V7@ AS payment_id, @V7@ AS allocation_id, @V7@ AS payment_event, @V7@ AS allocation_event, @V7@ AS invoice_event, @V7@ AS payment_audit, @V7@ AS allocation_audit, @V7@ AS invoice_audit, md5(random()::text) AS request_id FROM invoices WHERE tenant_id = current_tenant_id() AND id = ANY(ARRAY[current_setting('bench.invoice')::uuid]) ORDER BY id FOR UPDATE \gset
\set invoice_version :version + 1
\startpipeline
INSERT INTO payments (id, tenant_id, direction, status, counterparty_id, amount_minor, currency, value_date, method, reference, external_id, version, created_by, created_at, updated_at) VALUES (:payment_id, :tenant, 'incoming', 'posted', :counterparty, :amount, :currency, current_date, 'bank_transfer', NULL, NULL, 1, :actor, now(), now());
INSERT INTO allocations (id, tenant_id, payment_id, invoice_id, currency, payment_direction, invoice_direction, amount_minor, effective_date, created_by, created_at) SELECT t.id, :tenant::uuid, :payment_id::uuid, t.invoice_id, :currency::text, 'incoming', 'receivable', t.amount, t.effective, :actor::text, now() FROM unnest(ARRAY[:allocation_id]::uuid[], ARRAY[:invoice_id]::uuid[], ARRAY[:amount]::bigint[], ARRAY[current_date]::date[]) AS t(id, invoice_id, amount, effective);
SELECT id, direction, status, counterparty_id, amount_minor, amount_allocated_minor, currency, value_date, method, reference, external_id, version, created_by, created_at, updated_at, reversed_at, reversal_reason FROM payments WHERE tenant_id = :tenant AND id = :payment_id;
SELECT id, payment_id, invoice_id, amount_minor, currency, effective_date, created_at, reversed_at, reversal_reason FROM allocations WHERE tenant_id = :tenant AND payment_id = :payment_id ORDER BY id;
SELECT id, direction, status, currency, total_minor, amount_paid_minor, amount_credited_minor, amount_due_minor, version FROM invoices WHERE tenant_id = :tenant AND id = ANY(ARRAY[:invoice_id]::uuid[]);
\endpipeline
\startpipeline
INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, request_id, created_at, trace_parent) VALUES (:payment_event, :tenant, 'payment.created', 'payment', :payment_id, 2, :payment_json, :request_id, now(), NULL);
INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, request_id, created_at, trace_parent) VALUES (:allocation_event, :tenant, 'allocation.created', 'allocation', :allocation_id, 1, :allocation_json, :request_id, now(), NULL);
INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, request_id, created_at, trace_parent) VALUES (:invoice_event, :tenant, 'invoice.allocated', 'invoice', :invoice_id, :invoice_version, :invoice_json, :request_id, now(), NULL);
WITH head AS (UPDATE audit_chain_heads SET seq = seq + 1, hash = sha256(hash || audit_content_hash(:tenant, seq + 1, :payment_audit, now(), 'user', :actor, 'payment.created', 'payment', :payment_id, NULL, :payment_json, :request_id)) WHERE tenant_id = :tenant RETURNING seq, hash) INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type, entity_id, before, after, request_id, hash) SELECT :tenant::uuid, head.seq, :payment_audit::uuid, now(), 'user', :actor::text, 'payment.created', 'payment', :payment_id::uuid, NULL, :payment_json::jsonb, :request_id::text, head.hash FROM head;
WITH head AS (UPDATE audit_chain_heads SET seq = seq + 1, hash = sha256(hash || audit_content_hash(:tenant, seq + 1, :allocation_audit, now(), 'user', :actor, 'allocation.created', 'allocation', :allocation_id, NULL, :allocation_json, :request_id)) WHERE tenant_id = :tenant RETURNING seq, hash) INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type, entity_id, before, after, request_id, hash) SELECT :tenant::uuid, head.seq, :allocation_audit::uuid, now(), 'user', :actor::text, 'allocation.created', 'allocation', :allocation_id::uuid, NULL, :allocation_json::jsonb, :request_id::text, head.hash FROM head;
WITH head AS (UPDATE audit_chain_heads SET seq = seq + 1, hash = sha256(hash || audit_content_hash(:tenant, seq + 1, :invoice_audit, now(), 'user', :actor, 'invoice.allocated', 'invoice', :invoice_id, :invoice_before_json, :invoice_json, :request_id)) WHERE tenant_id = :tenant RETURNING seq, hash) INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type, entity_id, before, after, request_id, hash) SELECT :tenant::uuid, head.seq, :invoice_audit::uuid, now(), 'user', :actor::text, 'invoice.allocated', 'invoice', :invoice_id::uuid, :invoice_before_json::jsonb, :invoice_json::jsonb, :request_id::text, head.hash FROM head;
\endpipeline
COMMIT;
