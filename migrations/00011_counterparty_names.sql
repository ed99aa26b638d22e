-- +goose NO TRANSACTION
-- +goose Up
-- The aging report names every counterparty it lists, in id order (a Merge Join, see
-- shared/aging/store.go). With the name in the index that pages counterparties, that
-- join reads the index alone instead of visiting 20,000 rows of a large tenant; the
-- list (newest first) uses it as before. Built before the old index is dropped, both
-- CONCURRENTLY, so writes are never blocked and reads always have one of them.
CREATE INDEX CONCURRENTLY IF NOT EXISTS counterparties_named ON counterparties (tenant_id, id DESC) INCLUDE (name);
DROP INDEX CONCURRENTLY IF EXISTS counterparties_page;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS counterparties_page ON counterparties (tenant_id, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS counterparties_named;
