-- The fleet's own schema (search_path = fleet), separate from the console's read model.
-- Messages each consumer group has handled: redelivered or replayed copies are skipped,
-- so a handler's effect happens once per event id.
CREATE TABLE processed (
    group_id     TEXT        NOT NULL,
    event_id     UUID        NOT NULL,
    topic        TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, event_id)
);
