-- Replay jobs: dead letters replayed as a unit (selected ids or everything matching a
-- filter). A job snapshots its items at start; the runner sends them in batches, marking a
-- batch 'sending' and recording the target partitions' high watermarks in the same
-- transaction before producing (replays.marks), so after a crash it looks for what was
-- already sent instead of sending it again (see server/src/replay/recover.rs).
CREATE TABLE replay_jobs (
    id            UUID PRIMARY KEY,
    kind          TEXT        NOT NULL CHECK (kind IN ('selected', 'filter')),
    filter        JSONB,                          -- the DeadLetterFilter, for kind 'filter'
    status        TEXT        NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'completed', 'cancelled', 'failed')),
    throttle      INTEGER     NOT NULL DEFAULT 0 CHECK (throttle >= 0), -- msgs/s, 0 = unthrottled
    strip_headers TEXT[]      NOT NULL,           -- header-name prefixes not carried
    max_replays   INTEGER     NOT NULL,
    created_by    TEXT        NOT NULL,
    created_from  TEXT,
    total         INTEGER     NOT NULL DEFAULT 0,
    sent          INTEGER     NOT NULL DEFAULT 0,
    skipped       INTEGER     NOT NULL DEFAULT 0, -- replayed or discarded since the snapshot
    parked        INTEGER     NOT NULL DEFAULT 0,
    failed        INTEGER     NOT NULL DEFAULT 0,
    cancelled     INTEGER     NOT NULL DEFAULT 0,
    error         TEXT,
    cancelled_by  TEXT,
    lease_owner   UUID,                           -- the runner driving it
    lease_until   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    progress_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ
);
CREATE INDEX replay_jobs_recent ON replay_jobs (created_at DESC);
CREATE INDEX replay_jobs_running ON replay_jobs (created_at) WHERE status = 'running';

-- One active job per dead-letter topic: a job holds every DLQ topic its items come from
-- until it ends.
CREATE TABLE replay_job_topics (
    job_id    UUID    NOT NULL REFERENCES replay_jobs (id),
    dlq_topic TEXT    NOT NULL,
    active    BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (job_id, dlq_topic)
);
CREATE UNIQUE INDEX replay_job_topics_one_active ON replay_job_topics (dlq_topic) WHERE active;

-- The snapshot: one row per dead letter of the job, in sending order.
CREATE TABLE replay_job_items (
    job_id         UUID    NOT NULL REFERENCES replay_jobs (id),
    seq            INTEGER NOT NULL,
    dead_letter_id BIGINT  NOT NULL REFERENCES dead_letters (id),
    status         TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'parked', 'failed', 'cancelled')),
    replay_id      UUID,
    note           TEXT,
    PRIMARY KEY (job_id, seq),
    UNIQUE (job_id, dead_letter_id)
);
CREATE INDEX replay_job_items_open ON replay_job_items (job_id, seq) WHERE status IN ('pending', 'sending');

-- A replay sent by a job names it; replays cancelled before sending keep their row.
-- `marks`: the high watermark of every partition of the target topic ({"0": 17, ...}),
-- read before the replay was marked 'sending' and committed with it: whatever it sent lies
-- at or after them, which is where recovery looks for its x-replay-id after a crash.
ALTER TABLE replays
    ADD COLUMN job_id UUID REFERENCES replay_jobs (id),
    ADD COLUMN marks  JSONB;
CREATE INDEX replays_sending ON replays (created_at) WHERE status = 'sending';
CREATE INDEX replays_job ON replays (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX replays_dead_letter ON replays (dead_letter_id, created_at);

-- Discarding needs a reason, kept with the dead letter (and in the audit log).
ALTER TABLE dead_letters
    ADD COLUMN discarded_by   TEXT,
    ADD COLUMN discard_reason TEXT,
    ADD COLUMN discarded_at   TIMESTAMPTZ;

-- Keyset pagination of the dead-letter list (newest first) and the outcome lookup (a
-- replayed message that failed again comes back carrying its x-replay-id).
CREATE INDEX dead_letters_page ON dead_letters (failed_at DESC, id DESC);
CREATE INDEX dead_letters_replay_id ON dead_letters (replay_id) WHERE replay_id IS NOT NULL;

-- A replayed message that comes back as a new dead letter marks the one it was replayed
-- from 'failed_again', in the ingest transaction that stores it. Replay ids written by
-- other tools need not be UUIDs: those are left alone.
CREATE FUNCTION dead_letters_failed_again() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.replay_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        UPDATE dead_letters d SET status = 'failed_again'
        FROM replays r
        WHERE r.replay_id = NEW.replay_id::uuid AND d.id = r.dead_letter_id
          AND d.status IN ('replaying', 'replayed');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dead_letters_came_back AFTER INSERT ON dead_letters
    FOR EACH ROW WHEN (NEW.replay_id IS NOT NULL) EXECUTE FUNCTION dead_letters_failed_again();
