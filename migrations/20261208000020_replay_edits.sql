-- Edit and resend (`replay/edit.rs`): a replay that sent an operator's edited copy of its
-- dead letter, and what changed (one line each, values masked: the topic, payload fields
-- by JSON pointer, headers). The replay row carries the rest (who, where, outcome).
CREATE TABLE replay_edits (
    replay_id UUID PRIMARY KEY REFERENCES replays (replay_id) ON DELETE CASCADE,
    changes   TEXT[] NOT NULL
);
