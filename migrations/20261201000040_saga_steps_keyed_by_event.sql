-- saga_steps is one row per saga.step event, and that event's id is already unique and
-- increasing: the surrogate id, its sequence and its index were a third of the table's
-- write cost on the ingest path (BENCHMARKS.md, ingest) and bought nothing. The event id
-- is the key now; timelines order by (at, event_id).
ALTER TABLE saga_steps
    DROP CONSTRAINT saga_steps_pkey,
    DROP COLUMN id,
    DROP CONSTRAINT saga_steps_event_id_key,
    ADD CONSTRAINT saga_steps_pkey PRIMARY KEY (event_id);
