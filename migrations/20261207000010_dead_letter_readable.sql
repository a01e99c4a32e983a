-- A dead letter's payload as a person may read and search it: decoded (JSON, text, or a
-- Schema Registry format read with its schema) and masked. Filled behind ingest by the
-- console's reader (`replay/readable.rs`), so ingest never waits for a registry; NULL
-- until read. The original bytes stay in raw_value for replay.
ALTER TABLE dead_letters
    ADD COLUMN readable        TEXT,
    ADD COLUMN readable_format TEXT;
CREATE INDEX dead_letters_unread ON dead_letters (id) WHERE readable IS NULL;
