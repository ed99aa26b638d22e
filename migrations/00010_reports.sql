-- +goose NO TRANSACTION
-- +goose Up
-- Indexes for the reports (shared/aging, shared/forecast). Built CONCURRENTLY, outside
-- a transaction, so deploying them on a large ledger never blocks writes; IF NOT EXISTS
-- lets an interrupted build be resumed by running the migration again (drop an index
-- left INVALID first).

-- Today's aging reads only the open items. This partial index holds exactly them, in
-- the order the aging groups them (counterparty, currency), with every other column it
-- reads, so PostgreSQL answers from the index alone (an index-only scan, no visit to
-- the invoice rows) and aggregates as it goes, without hashing or sorting. status lets
-- the cash forecast, which leaves uncollectible invoices out, read it too.
CREATE INDEX CONCURRENTLY IF NOT EXISTS invoices_open_aging ON invoices (tenant_id, direction, counterparty_id, currency)
    INCLUDE (issue_date, due_date, amount_due_minor, id, status)
    WHERE status IN ('open', 'uncollectible');

-- A past date's aging also reads the invoices settled since then; this index holds the
-- paid ones with the columns the aging reads, so the report hash-joins them to what was
-- paid after the date without visiting the rows.
CREATE INDEX CONCURRENTLY IF NOT EXISTS invoices_paid_aging ON invoices (tenant_id, direction, issue_date)
    INCLUDE (id, counterparty_id, currency, due_date)
    WHERE status = 'paid';

-- Allocations and credit notes effective after an as-of date are what separates a past
-- date's balances from today's stored ones; these find them by date (the aging) and
-- give the settlement history by date (the cash forecast's days-to-pay).
CREATE INDEX CONCURRENTLY IF NOT EXISTS allocations_by_effective_date ON allocations (tenant_id, effective_date)
    INCLUDE (invoice_id, invoice_direction, amount_minor)
    WHERE reversed_at IS NULL;
-- Reversed allocations still count for dates between their effective date and their
-- reversal; they are few, so a partial index on the reversal time finds them.
CREATE INDEX CONCURRENTLY IF NOT EXISTS allocations_reversed ON allocations (tenant_id, reversed_at)
    INCLUDE (invoice_id, invoice_direction, amount_minor, effective_date)
    WHERE reversed_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS credit_notes_by_effective_date ON credit_notes (tenant_id, effective_date)
    INCLUDE (invoice_id, direction, amount_minor);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS credit_notes_by_effective_date;
DROP INDEX CONCURRENTLY IF EXISTS allocations_reversed;
DROP INDEX CONCURRENTLY IF EXISTS allocations_by_effective_date;
DROP INDEX CONCURRENTLY IF EXISTS invoices_paid_aging;
DROP INDEX CONCURRENTLY IF EXISTS invoices_open_aging;
