-- The orders projection: one row per order, folded from its events by the ingest
-- transaction. Status changes are ordered by the event's own time, never by arrival.

CREATE TABLE orders (
    order_id        TEXT PRIMARY KEY,
    customer_id     TEXT,
    status          TEXT        NOT NULL,
    status_at       TIMESTAMPTZ NOT NULL,
    status_rank     SMALLINT    NOT NULL DEFAULT 0,
    total_cents     BIGINT,
    currency        TEXT,
    item_count      INTEGER,
    failure_reason  TEXT,
    created_at      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    event_count     INTEGER     NOT NULL DEFAULT 0
);
-- Keyset pagination: newest first, ties broken by id.
CREATE INDEX orders_recent ON orders (updated_at DESC, order_id DESC);
CREATE INDEX orders_status ON orders (status, updated_at DESC);
