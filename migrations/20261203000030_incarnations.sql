-- A partition's log can be replaced under the console (topic deleted and recreated, broker
-- rebuilt, offsets reset): its offsets start again from zero. Each such new log is a new
-- incarnation of the partition (issue 24): rows keep the incarnation they were read from,
-- so offsets of the old and the new log never collide, and history is never rewritten.
-- Adding a column with a constant default is a catalogue change; the unique keys are
-- rebuilt once, with the same names (`ON CONFLICT ON CONSTRAINT` keeps working).
ALTER TABLE consumer_positions ADD COLUMN incarnation INT NOT NULL DEFAULT 0;

ALTER TABLE events ADD COLUMN incarnation INT NOT NULL DEFAULT 0;
ALTER TABLE events DROP CONSTRAINT events_source_position,
    ADD CONSTRAINT events_source_position UNIQUE (topic, kafka_partition, kafka_offset, incarnation);

ALTER TABLE dead_letters ADD COLUMN incarnation INT NOT NULL DEFAULT 0;
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_source_position,
    ADD CONSTRAINT dead_letters_source_position UNIQUE (topic, kafka_partition, kafka_offset, incarnation);

ALTER TABLE quarantine ADD COLUMN incarnation INT NOT NULL DEFAULT 0;
ALTER TABLE quarantine DROP CONSTRAINT quarantine_source_position,
    ADD CONSTRAINT quarantine_source_position UNIQUE (topic, kafka_partition, kafka_offset, incarnation);

-- How an incident was acted on when it was found (the policy applied).
ALTER TABLE log_incidents ADD COLUMN action TEXT;
