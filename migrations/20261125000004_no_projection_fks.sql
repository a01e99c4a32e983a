-- saga_steps and breaker_transitions point at events.id. The event store is append-only
-- and the rows are written in the same transaction, so the foreign-key checks bought
-- nothing but a lookup per row on the ingest path: drop them.
ALTER TABLE saga_steps DROP CONSTRAINT saga_steps_event_id_fkey;
ALTER TABLE breaker_transitions DROP CONSTRAINT breaker_transitions_event_id_fkey;
