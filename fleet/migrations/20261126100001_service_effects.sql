-- What each step service did, one row per order, so that a redelivered, re-sent or
-- replayed request never reserves, charges or ships twice: the primary key is the order,
-- and an undo only moves a row from its done state to its undone state once.
--   inventory: reserved | failed | released
--   payment:   charged  | failed | refunded
--   shipment:  created  | failed | cancelled
CREATE TABLE inventory_reservations (
    order_id   TEXT PRIMARY KEY,
    saga_id    TEXT        NOT NULL,
    status     TEXT        NOT NULL CHECK (status IN ('reserved', 'failed', 'released')),
    reason     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE payments (
    order_id   TEXT PRIMARY KEY,
    saga_id    TEXT        NOT NULL,
    status     TEXT        NOT NULL CHECK (status IN ('charged', 'failed', 'refunded')),
    reason     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE shipments (
    order_id   TEXT PRIMARY KEY,
    saga_id    TEXT        NOT NULL,
    status     TEXT        NOT NULL CHECK (status IN ('created', 'failed', 'cancelled')),
    reason     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The orchestrator re-sends a step's request when no outcome came back within its lease;
-- each re-send is a new attempt (and a new event id), so the service handles it again.
ALTER TABLE sagas ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
-- Which way the saga runs: orchestrated (driven from saga_log) or choreographed.
ALTER TABLE sagas ADD COLUMN mode TEXT NOT NULL DEFAULT 'orchestrated';
