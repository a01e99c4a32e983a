-- Partitions whose log no longer agreed with the position ingest stored (issue 24): the
-- log replaced under it (stored position past the log's end) or records expired before
-- they were read (stored position below the log's start). One open row per group,
-- partition, kind and stored position: a second console, or a restart, finds it recorded
-- and does not report it again. Resolved rows stay as history.
CREATE TABLE log_incidents (
    id             BIGSERIAL PRIMARY KEY,
    group_id       TEXT NOT NULL,
    topic          TEXT NOT NULL,
    kafka_partition INT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('log_replaced', 'records_expired')),
    stored_offset  BIGINT NOT NULL,
    log_start      BIGINT NOT NULL,
    log_end        BIGINT NOT NULL,
    detected_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at    TIMESTAMPTZ,
    resolved_by    TEXT,
    resolution     TEXT
);
CREATE UNIQUE INDEX log_incidents_open
    ON log_incidents (group_id, topic, kafka_partition, kind, stored_offset)
    WHERE resolved_at IS NULL;
