-- The orchestrated saga's durable state: one row per saga (with a lease so that one
-- runner drives it at a time and a crashed runner's sagas are picked up again), and the
-- append-only log every decision is derived from.
CREATE TABLE sagas (
    saga_id     TEXT PRIMARY KEY,
    order_id    TEXT        NOT NULL,
    state       TEXT        NOT NULL DEFAULT 'running', -- running | completed | compensated | stuck
    lease_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sagas_running ON sagas (created_at) WHERE state = 'running';

CREATE TABLE saga_log (
    saga_id TEXT        NOT NULL REFERENCES sagas (saga_id),
    seq     INTEGER     NOT NULL,
    step    INTEGER     NOT NULL,
    phase   TEXT        NOT NULL, -- execute | compensate
    outcome TEXT        NOT NULL, -- started | succeeded | failed
    error   TEXT,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (saga_id, seq)
);

-- Runtime fault injection, changeable while the fleet runs (the admin page will write it).
CREATE TABLE faults (
    name       TEXT PRIMARY KEY,
    value      DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
