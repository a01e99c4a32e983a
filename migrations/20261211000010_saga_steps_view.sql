-- `saga_steps` becomes a view over `events` (issue 21: ingest's ratio to the raw COPY).
--
-- Saga steps are half of all events, and each was written twice: once as the event, once
-- as its `saga_steps` row (a heap tuple, an index entry, a second COPY per batch). Most
-- columns of that row are plain reads of the event's stored `payload`, so the view reads
-- them there. Two are not, and ingest writes them on the event (`ingest/project.rs`,
-- `saga_step`, `step_columns`):
-- - `step_at`: the step's own time, parsed as RFC 3339 when it is one, else the envelope's
--   time (a parse SQL cannot do without failing on a bad value). Only the events that
--   project a step (a `saga.step` with a string `step` and `status`) have it: `step_at IS
--   NOT NULL` is what makes an event a row of the view.
-- - `step_order`: the step's order id when it is not the event's aggregate id (a producer
--   keying steps by saga), else NULL. Steps keyed by their order (every producer of ours)
--   are found by the aggregate index `events` has anyway; only the others need an index
--   of their own, and a small one. An index on an expression of every step's payload cost
--   the COPY a sixth of its rate.
--
-- The view's reads match `saga_step`'s (`server/tests/saga_steps_view.rs` holds them
-- together): a text field is taken only when it is a JSON string; `attempt` only when it
-- is an integer that fits in an i64 (then clamped to 0..2^31-1), else 1; `saga_id` falls
-- back to the aggregate id. (One case differs: jsonb keeps an integer written with an
-- exponent, `1e2`, as 100, where the reader in Rust, seeing a float, takes 1.)
--
-- Upgraded in place without rewriting a row: the table ingest wrote so far keeps its rows
-- as `saga_steps_stored` (its partitions renamed with it, dropped by retention as they
-- age out, no new ones made), and the view is the union of it and the events ingested
-- from now on. Building the two partial indexes reads every partition of `events` once;
-- they hold only new saga-step events, and few of them.
--
-- The view is three branches over one reading of the step events (a CTE the planner
-- inlines), so that `WHERE order_id = $1` reaches an index in each: steps keyed by their
-- order (`events_aggregate`), the others (`events_step_order`), and the rows stored before.

ALTER TABLE events ADD COLUMN step_at TIMESTAMPTZ, ADD COLUMN step_order TEXT;

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

-- The timeline of a step keyed by something else than its order.
CREATE INDEX events_step_order ON events (step_order) WHERE step_order IS NOT NULL;

-- The failed steps of a time window (the assistant's failure summary): few rows.
CREATE INDEX events_saga_failed ON events (step_at)
    WHERE step_at IS NOT NULL
      AND CASE WHEN jsonb_typeof(payload -> 'status') = 'string'
               THEN payload ->> 'status' END = 'failed';

-- A step's text field: only a JSON string is one. (Plain SQL functions: inlined.)
CREATE FUNCTION saga_step_text(data JSONB, key TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN jsonb_typeof(data -> key) = 'string' THEN data ->> key END $$;

-- A step's attempt: an integer that fits in an i64, clamped; else 1.
CREATE FUNCTION saga_step_attempt(data JSONB) RETURNS INT4
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN jsonb_typeof(data -> 'attempt') = 'number'
                     AND (data ->> 'attempt') ~ '^-?[0-9]+$'
                     AND (data ->> 'attempt')::numeric
                         BETWEEN -9223372036854775808 AND 9223372036854775807
                THEN least(greatest((data ->> 'attempt')::numeric, 0), 2147483647)::int4
                ELSE 1 END $$;

CREATE VIEW saga_steps AS
WITH step AS NOT MATERIALIZED (
    SELECT id AS event_id,
           COALESCE(saga_step_text(payload, 'saga_id'), aggregate_id) AS saga_id,
           aggregate_id,
           step_order,
           saga_step_text(payload, 'step') AS step,
           COALESCE(saga_step_text(payload, 'action'), 'execute') AS action,
           -- Written out, as the failure index's predicate is.
           CASE WHEN jsonb_typeof(payload -> 'status') = 'string'
                THEN payload ->> 'status' END AS status,
           saga_step_text(payload, 'error') AS error,
           saga_step_attempt(payload) AS attempt,
           step_at AS at,
           ingested_at
      FROM events
     WHERE step_at IS NOT NULL
)
SELECT event_id, saga_id, aggregate_id AS order_id, step, action, status, error, attempt, at,
       ingested_at
  FROM step WHERE step_order IS NULL
UNION ALL
SELECT event_id, saga_id, step_order, step, action, status, error, attempt, at, ingested_at
  FROM step WHERE step_order IS NOT NULL
UNION ALL
SELECT event_id, saga_id, order_id, step, action, status, error, attempt, at, ingested_at
  FROM saga_steps_stored;
