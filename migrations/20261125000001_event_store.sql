-- The console's read model, part 1: the append-only event store, consumer positions and
-- quarantine. Every consumed Kafka record ends up in exactly one of `events` or `quarantine`,
-- identified by its source position; `consumer_positions` is written in the same transaction.

CREATE TABLE events (
    id              BIGSERIAL PRIMARY KEY,
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    kafka_key       BYTEA,
    event_id        UUID,
    event_type      TEXT        NOT NULL,
    aggregate_id    TEXT        NOT NULL,
    aggregate_version BIGINT,
    occurred_at     TIMESTAMPTZ NOT NULL,
    source          TEXT,
    correlation_id  TEXT,
    causation_id    TEXT,
    headers         JSONB       NOT NULL DEFAULT '{}'::jsonb,
    payload         JSONB       NOT NULL,
    ingested_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT events_source_position UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX events_aggregate ON events (aggregate_id, occurred_at);
CREATE INDEX events_type_time ON events (event_type, occurred_at);

-- Next offset to read per (group, topic, partition). Updated in the ingest transaction.
CREATE TABLE consumer_positions (
    group_id        TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     BIGINT  NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, kafka_partition)
);

-- Records that could not be understood, kept byte for byte with the reason.
CREATE TABLE quarantine (
    id              BIGSERIAL PRIMARY KEY,
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    kafka_key       BYTEA,
    raw_value       BYTEA,
    headers         JSONB       NOT NULL DEFAULT '{}'::jsonb,
    reason          TEXT        NOT NULL,
    quarantined_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT quarantine_source_position UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX quarantine_time ON quarantine (quarantined_at DESC);
