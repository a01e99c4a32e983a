-- Operators' commands to sagas (issue 23), as this console sent them. Written before the
-- command goes to Kafka (`sent_at` once the broker has it), so a command is never sent
-- without a record. The fleet's answer is an event (`saga.command`, status applied or
-- rejected) that ingest stores with the order's other events; the order page joins the two
-- by command id.
CREATE TABLE saga_commands (
    command_id   UUID PRIMARY KEY,
    order_id     TEXT        NOT NULL,
    action       TEXT        NOT NULL, -- retry_step | compensate | terminate
    step         TEXT,
    phase        TEXT,
    reason       TEXT        NOT NULL,
    requested_by TEXT        NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    send_error   TEXT
);
CREATE INDEX saga_commands_order ON saga_commands (order_id, requested_at);
CREATE INDEX saga_commands_time ON saga_commands (requested_at);
