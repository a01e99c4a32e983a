-- Operator commands the order service has answered (`saga.command`, issue 23). The command
-- id is the key and the row is written in the same transaction as what the command does,
-- so a command delivered again (after a crash, a rebalance, a replay) is answered the same
-- way again and never applied twice. Rejections are kept too: a second delivery of a
-- command refused once is refused the same way.
CREATE TABLE saga_commands (
    command_id   UUID PRIMARY KEY,
    order_id     TEXT        NOT NULL,
    action       TEXT        NOT NULL, -- retry_step | compensate | terminate
    status       TEXT        NOT NULL, -- applied | rejected
    detail       TEXT        NOT NULL,
    requested_by TEXT        NOT NULL,
    reason       TEXT        NOT NULL,
    answered_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX saga_commands_order ON saga_commands (order_id);
