-- InvoicesGet, as invoices.Service.Get runs it through db.Read, one pipelined batch
-- (set the tenant, read the invoice, read its lines) in one implicit transaction. The
-- first statement also looks up the slot, the one thing the service does not do.
\set s random(1, :slots)
\startpipeline
SELECT set_config('app.tenant_id', tenant_id::text, true), set_config('bench.invoice', invoice_id::text, true) FROM bench_slots WHERE slot = :s;
SELECT id, direction, status, number, counterparty_id, currency, issue_date, due_date, memo, external_id, subtotal_minor, tax_minor, total_minor, amount_paid_minor, amount_credited_minor, amount_due_minor, tax_rounding, version, created_at, updated_at, finalized_at, voided_at, uncollectible_at FROM invoices WHERE tenant_id = current_tenant_id() AND id = current_setting('bench.invoice')::uuid;
SELECT id, position, description, trim_scale(quantity)::text, unit_amount_minor, trim_scale(unit_price)::text, trim_scale(tax_rate)::text, amount_minor, tax_minor FROM invoice_lines WHERE tenant_id = current_tenant_id() AND invoice_id = current_setting('bench.invoice')::uuid ORDER BY position;
\endpipeline
