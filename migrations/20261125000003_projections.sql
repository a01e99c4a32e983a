-- The console's read model, part 2: dead letters, saga steps, breakers and the per-minute
-- rollups behind the charts. All maintained by the ingest transaction.

CREATE TABLE dead_letters (
    id                 BIGSERIAL PRIMARY KEY,
    topic              TEXT        NOT NULL,
    kafka_partition    INTEGER     NOT NULL,
    kafka_offset       BIGINT      NOT NULL,
    kafka_key          BYTEA,
    raw_value          BYTEA,
    headers            JSONB       NOT NULL DEFAULT '[]'::jsonb,
    dialect            TEXT        NOT NULL,
    original_topic     TEXT        NOT NULL,
    original_partition INTEGER,
    original_offset    BIGINT,
    exception_type     TEXT,
    exception_message  TEXT,
    failed_at          TIMESTAMPTZ NOT NULL,
    attempts           INTEGER,
    replay_count       INTEGER     NOT NULL DEFAULT 0,
    replay_id          TEXT,
    replay_value       BYTEA,
    order_id           TEXT,
    parse_note         TEXT,
    -- pending | replaying | replayed | failed_again | parked | discarded
    status             TEXT        NOT NULL DEFAULT 'pending',
    ingested_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT dead_letters_source_position UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_group ON dead_letters (original_topic, status, failed_at DESC);
CREATE INDEX dead_letters_order ON dead_letters (order_id);
CREATE INDEX dead_letters_time ON dead_letters (failed_at DESC);

-- Every saga step event, execute and compensate on one timeline per saga.
CREATE TABLE saga_steps (
    id          BIGSERIAL PRIMARY KEY,
    event_id    BIGINT      NOT NULL UNIQUE REFERENCES events (id),
    saga_id     TEXT        NOT NULL,
    order_id    TEXT        NOT NULL,
    step        TEXT        NOT NULL,
    action      TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    error       TEXT,
    attempt     INTEGER     NOT NULL DEFAULT 1,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX saga_steps_order ON saga_steps (order_id, at);

-- Current state per (service, breaker): the latest transition by its own time wins.
CREATE TABLE breakers (
    service        TEXT        NOT NULL,
    breaker        TEXT        NOT NULL,
    state          TEXT        NOT NULL,
    state_at       TIMESTAMPTZ NOT NULL,
    failure_rate   DOUBLE PRECISION,
    slow_call_rate DOUBLE PRECISION,
    calls          BIGINT,
    failures       BIGINT,
    slow_calls     BIGINT,
    not_permitted  BIGINT,
    metrics_at     TIMESTAMPTZ,
    PRIMARY KEY (service, breaker)
);

CREATE TABLE breaker_transitions (
    id            BIGSERIAL PRIMARY KEY,
    event_id      BIGINT      NOT NULL UNIQUE REFERENCES events (id),
    service       TEXT        NOT NULL,
    breaker       TEXT        NOT NULL,
    from_state    TEXT        NOT NULL,
    to_state      TEXT        NOT NULL,
    failure_count BIGINT,
    success_count BIGINT,
    failure_rate  DOUBLE PRECISION,
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX breaker_transitions_time ON breaker_transitions (service, breaker, at);

-- Per-minute counts by event type (domain, saga, breaker) and for dead letters
-- (kind 'dlq:<original topic>') and quarantine ('quarantine'): the charts' source.
CREATE TABLE minute_rollups (
    minute TIMESTAMPTZ NOT NULL,
    kind   TEXT        NOT NULL,
    count  BIGINT      NOT NULL,
    PRIMARY KEY (minute, kind)
);

-- Where each order's saga is, by the step event with the latest time.
ALTER TABLE orders
    ADD COLUMN current_step TEXT,
    ADD COLUMN step_status  TEXT,
    ADD COLUMN step_at      TIMESTAMPTZ;
