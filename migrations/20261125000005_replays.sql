-- Replays of dead letters. At most one live replay per dead letter: a double click or two
-- operators at once send it once. A message that fails again comes back as a new dead
-- letter (with x-replay-count), which can be replayed in turn until the limit parks it.
CREATE TABLE replays (
    replay_id        UUID PRIMARY KEY,
    dead_letter_id   BIGINT      NOT NULL REFERENCES dead_letters (id),
    requested_by     TEXT        NOT NULL,
    status           TEXT        NOT NULL, -- sending | sent | failed
    target_topic     TEXT        NOT NULL,
    target_partition INTEGER,
    target_offset    BIGINT,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX replays_once ON replays (dead_letter_id) WHERE status IN ('sending', 'sent');
