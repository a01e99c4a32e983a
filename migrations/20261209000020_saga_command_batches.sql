-- Saga actions in batch (issue 23): one action over the orders a filter matched, each
-- order's command snapshotted into `saga_commands` when the batch starts (so the set is
-- what the operator confirmed, whatever changes after), sent by a runner that holds a
-- lease on the batch (so a console that dies mid-batch is replaced by another, or by
-- itself restarted, which sends what was not sent yet — the same command ids: the fleet
-- applies each once), throttled, and cancelled between two rounds of sends.
CREATE TABLE saga_command_batches (
    id          UUID PRIMARY KEY,
    action      TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    filter      TEXT        NOT NULL, -- the orders filter, in words
    throttle    INTEGER     NOT NULL DEFAULT 0, -- commands a second; 0: unthrottled
    status      TEXT        NOT NULL DEFAULT 'running', -- running | completed | cancelled
    total       INTEGER     NOT NULL,
    created_by  TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    lease_owner UUID,
    lease_until TIMESTAMPTZ,
    note        TEXT -- why it is not sending right now
);
CREATE INDEX saga_command_batches_running ON saga_command_batches (created_at) WHERE status = 'running';

ALTER TABLE saga_commands
    ADD COLUMN batch_id UUID,
    ADD COLUMN cancelled_at TIMESTAMPTZ;
CREATE INDEX saga_commands_batch ON saga_commands (batch_id, command_id) WHERE batch_id IS NOT NULL;
