-- +goose Up
-- The trace context of the request that wrote an event, so that whoever publishes it
-- (the request itself or, later, the sweeper) continues that trace across Pub/Sub.
ALTER TABLE outbox_events ADD COLUMN trace_parent text CHECK (length(trace_parent) <= 128);

-- +goose Down
ALTER TABLE outbox_events DROP COLUMN trace_parent;
