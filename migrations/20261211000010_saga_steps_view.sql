-- `saga_steps` becomes a view over `events` (issue 21: ingest's ratio to the raw COPY).
--
-- Saga steps are half of all events, and each was written twice: once as the event, once
-- as its `saga_steps` row (a heap tuple, an index entry, a second COPY per batch). Every
-- column of that row but one is a plain read of the event's stored `payload`, so the view
-- reads them there. The one that is not is `at`: the step's own time, parsed as RFC 3339
-- when it is one, else the envelope's time — a parse SQL cannot do without failing on a
-- bad value. Ingest writes it, as `events.step_at`, on the events that project a step (a
-- `saga.step` with a string `step` and `status`; `ingest/project.rs::saga_step`), and
-- leaves it NULL on every other event: `step_at IS NOT NULL` is what makes an event a
-- saga step row.
--
-- The view's reads match `saga_step`'s: a text field is taken only when it is a JSON
-- string; `attempt` only when it is an integer that fits in an i64 (then clamped to
-- 0..2^31-1), else 1; `saga_id` and `order_id` fall back to the aggregate id. (One case
-- differs: jsonb keeps an integer written with an exponent, `1e2`, as 100, where the
-- reader in Rust, seeing a float, takes 1.)
--
-- Upgraded in place without rewriting a row: the table ingest wrote so far keeps its rows
-- as `saga_steps_stored` (its partitions renamed with it, dropped by retention as they
-- age out, no new ones made), and the view is the union of it and the events ingested
-- from now on. Building the two partial indexes reads every partition of `events` once;
-- they hold only the new saga-step events.

ALTER TABLE events ADD COLUMN step_at TIMESTAMPTZ;

ALTER TABLE saga_steps RENAME TO saga_steps_stored;
ALTER INDEX saga_steps_order RENAME TO saga_steps_stored_order;
DO $$
DECLARE
    part TEXT;
BEGIN
    FOR part IN
        SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'saga_steps_stored'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', part,
                       'saga_steps_stored' || substr(part, length('saga_steps') + 1));
    END LOOP;
END $$;

-- The timeline of one order, oldest first.
CREATE INDEX events_saga_order ON events (
    (COALESCE(CASE WHEN jsonb_typeof(payload -> 'order_id') = 'string'
                   THEN payload ->> 'order_id' END, aggregate_id)),
    step_at)
    WHERE step_at IS NOT NULL;

-- The failed steps of a time window (the assistant's failure summary): few rows.
CREATE INDEX events_saga_failed ON events (step_at)
    WHERE step_at IS NOT NULL
      AND CASE WHEN jsonb_typeof(payload -> 'status') = 'string'
               THEN payload ->> 'status' END = 'failed';

CREATE VIEW saga_steps AS
SELECT id AS event_id,
       COALESCE(CASE WHEN jsonb_typeof(payload -> 'saga_id') = 'string'
                     THEN payload ->> 'saga_id' END, aggregate_id) AS saga_id,
       COALESCE(CASE WHEN jsonb_typeof(payload -> 'order_id') = 'string'
                     THEN payload ->> 'order_id' END, aggregate_id) AS order_id,
       CASE WHEN jsonb_typeof(payload -> 'step') = 'string'
            THEN payload ->> 'step' END AS step,
       COALESCE(CASE WHEN jsonb_typeof(payload -> 'action') = 'string'
                     THEN payload ->> 'action' END, 'execute') AS action,
       CASE WHEN jsonb_typeof(payload -> 'status') = 'string'
            THEN payload ->> 'status' END AS status,
       CASE WHEN jsonb_typeof(payload -> 'error') = 'string'
            THEN payload ->> 'error' END AS error,
       CASE WHEN jsonb_typeof(payload -> 'attempt') = 'number'
                 AND (payload ->> 'attempt') ~ '^-?[0-9]+$'
                 AND (payload ->> 'attempt')::numeric
                     BETWEEN -9223372036854775808 AND 9223372036854775807
            THEN least(greatest((payload ->> 'attempt')::numeric, 0), 2147483647)::int4
            ELSE 1 END AS attempt,
       step_at AS at,
       ingested_at
  FROM events
 WHERE step_at IS NOT NULL
UNION ALL
SELECT event_id, saga_id, order_id, step, action, status, error, attempt, at, ingested_at
  FROM saga_steps_stored;
