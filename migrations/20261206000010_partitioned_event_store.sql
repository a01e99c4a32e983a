-- The event store (`events`) and the saga timeline (`saga_steps`) become range-partitioned
-- by ingestion time, so that retention drops a whole partition (a metadata operation)
-- instead of deleting hundreds of millions of rows (issue 21; `server/src/retention/`).
--
-- Partitioned by `ingested_at`, the console's own clock, not `occurred_at`, the producer's:
-- every batch lands in the newest partition whatever a producer's clock says, and a
-- partition is dropped only once everything in it was ingested before the window.
-- `saga_steps` gets an `ingested_at` of its own (the ingest transaction writes both with
-- the same `now()`), so a saga step always lives and dies with its event.
--
-- Upgraded in place: today's tables become each one partition (`events_legacy`,
-- `saga_steps_legacy`) holding everything ingested before the next whole hour; nothing is
-- copied. Attaching them checks their rows against the range once and builds the two
-- indexes they lack; they are dropped whole when the window passes their upper bound.
-- An empty table (a new database) is simply replaced. The console creates the partitions
-- from that bound on (`retention::partitions::ensure`), ahead of time.
--
-- Uniqueness of a source position can no longer be an index (a unique index on a
-- partitioned table must contain the partition key, and a re-read record would carry a
-- new `ingested_at`): exactly once is kept, as it always was, by the consumer positions
-- claimed in the same transaction as the rows (`ingest/writer.rs`), which the kill -9,
-- two-instance and crash suites test; the position stays indexed for the lookups.

-- events --------------------------------------------------------------------------------
ALTER TABLE events RENAME TO events_legacy;
ALTER INDEX events_pkey RENAME TO events_legacy_pkey;
ALTER INDEX events_source_position RENAME TO events_legacy_source_position;
ALTER INDEX events_aggregate RENAME TO events_legacy_aggregate;
ALTER INDEX events_time RENAME TO events_legacy_time;
ALTER INDEX events_correlation RENAME TO events_legacy_correlation;

CREATE TABLE events (LIKE events_legacy INCLUDING DEFAULTS) PARTITION BY RANGE (ingested_at);
ALTER SEQUENCE events_id_seq OWNED BY events.id;
CREATE INDEX events_id ON events (id);
CREATE INDEX events_source_position ON events (topic, kafka_partition, kafka_offset, incarnation);
CREATE INDEX events_aggregate ON events (aggregate_id, occurred_at);
CREATE INDEX events_time ON events (occurred_at, id);
CREATE INDEX events_correlation ON events (correlation_id) WHERE correlation_id <> aggregate_id;

-- saga_steps ----------------------------------------------------------------------------
ALTER TABLE saga_steps RENAME TO saga_steps_legacy;
ALTER INDEX saga_steps_pkey RENAME TO saga_steps_legacy_pkey;
ALTER INDEX saga_steps_order RENAME TO saga_steps_legacy_order;
-- `now()` is stable: a default every existing row shares, without rewriting the table.
ALTER TABLE saga_steps_legacy ADD COLUMN ingested_at TIMESTAMPTZ NOT NULL DEFAULT now();

CREATE TABLE saga_steps (LIKE saga_steps_legacy INCLUDING DEFAULTS) PARTITION BY RANGE (ingested_at);
CREATE INDEX saga_steps_event ON saga_steps (event_id);
CREATE INDEX saga_steps_order ON saga_steps (order_id, at);

-- The old tables become the first partitions, or go -------------------------------------
DO $$
DECLARE
    bound TIMESTAMPTZ := date_trunc('hour', now()) + interval '1 hour';
BEGIN
    IF EXISTS (SELECT 1 FROM events_legacy) OR EXISTS (SELECT 1 FROM saga_steps_legacy) THEN
        bound := greatest(bound,
            (SELECT date_trunc('hour', max(ingested_at)) + interval '1 hour' FROM events_legacy));
        EXECUTE format('ALTER TABLE events ATTACH PARTITION events_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
        EXECUTE format('ALTER TABLE saga_steps ATTACH PARTITION saga_steps_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
        -- The partitioned indexes replace these.
        ALTER TABLE events_legacy DROP CONSTRAINT events_legacy_pkey;
        ALTER TABLE events_legacy DROP CONSTRAINT events_legacy_source_position;
        ALTER TABLE saga_steps_legacy DROP CONSTRAINT saga_steps_legacy_pkey;
    ELSE
        DROP TABLE events_legacy;
        DROP TABLE saga_steps_legacy;
    END IF;
END $$;

-- Settings the console keeps with the data: the partition width in force (set from
-- `SWITCHYARD_EVENTS_PARTITION` by the instance that maintains the partitions).
INSERT INTO settings (key, value) VALUES ('events_partition_secs', '86400'::jsonb)
    ON CONFLICT (key) DO NOTHING;

-- The audit log stays append-only for everyone but retention: a DELETE is allowed inside a
-- transaction that says it is retention's, and only of rows older than the window it
-- states (`retention/rows.rs`); UPDATE and TRUNCATE stay refused.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('switchyard.audit_retention_before', true) IS NOT NULL
       AND current_setting('switchyard.audit_retention_before', true) <> ''
       AND OLD.at < current_setting('switchyard.audit_retention_before', true)::timestamptz
       AND current_setting('switchyard.audit_retention_before', true)::timestamptz < now() - interval '1 day' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
