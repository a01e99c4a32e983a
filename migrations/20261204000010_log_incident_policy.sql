-- What ingest does about a log that changed under a stored position is a policy per case
-- (issue 24): a replaced log is read as a new incarnation or its partition is paused; an
-- expired gap is recorded and read past, or its partition is paused. A paused partition
-- stores nothing and its position does not move until an admin decides (resume from the
-- log's start or end, or keep it paused). The flag lives with the position, so whichever
-- console holds the partition, now or after a restart, honours it.
ALTER TABLE consumer_positions ADD COLUMN paused BOOLEAN NOT NULL DEFAULT false;

-- The incarnation of the log an incident was found on (an expired gap's offsets are
-- offsets of that log: the order history matches them against its events), and whether
-- the incident holds its partition paused.
ALTER TABLE log_incidents ADD COLUMN incarnation INT NOT NULL DEFAULT 0;
ALTER TABLE log_incidents ADD COLUMN paused BOOLEAN NOT NULL DEFAULT false;

-- Topic ids (KIP-516): the id of the topic whose log each stored position is in. A topic
-- deleted and created again gets a new id, so a recreated log that has already grown past
-- a stored position is still told apart from the same log grown (kind `topic_recreated`).
-- Null until ingest first sees the id (or on a broker without topic ids).
ALTER TABLE consumer_positions ADD COLUMN topic_id TEXT;
ALTER TABLE log_incidents ADD COLUMN topic_id TEXT;
ALTER TABLE log_incidents ADD COLUMN stored_topic_id TEXT;
ALTER TABLE log_incidents DROP CONSTRAINT log_incidents_kind_check;
ALTER TABLE log_incidents ADD CONSTRAINT log_incidents_kind_check
    CHECK (kind IN ('log_replaced', 'records_expired', 'topic_recreated'));

-- Each topic's id as ingest last saw it (at an assignment or a check): a partition's first
-- stored position takes it when the position is created, so a topic recreated soon after
-- ingest first read from it is still told apart.
CREATE TABLE ingest_topic_ids (
    group_id TEXT NOT NULL,
    topic    TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic)
);
