-- The order service's event store: the order aggregate is its events. Optimistic
-- concurrency: two writers appending the same version collide on the primary key.
CREATE TABLE order_events (
    order_id   TEXT        NOT NULL,
    version    BIGINT      NOT NULL CHECK (version > 0),
    event_id   UUID        NOT NULL UNIQUE,
    event_type TEXT        NOT NULL,
    data       JSONB       NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, version)
);
