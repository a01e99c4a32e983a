-- Users, the audit log and console-wide settings (the write kill-switch).
--
-- Sessions live in tower-sessions' own table (created by its Postgres store at start-up).
CREATE TABLE users (
    name          TEXT PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash TEXT        NOT NULL,           -- argon2id PHC string
    role          TEXT        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled      BOOLEAN     NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every state change: who, when, what, from where. Append-only: the trigger below refuses
-- UPDATE, DELETE and TRUNCATE for every role the application connects as.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor   TEXT        NOT NULL,           -- user name, or 'system' / 'cli:<user>'
    action  TEXT        NOT NULL,           -- e.g. login, login_failed, replay, discard
    target  TEXT,                           -- what it acted on (dead letter id, job id, user)
    detail  JSONB       NOT NULL DEFAULT '{}'::jsonb,
    source  TEXT                            -- client address, or 'cli'
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Console-wide switches, one row each.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      JSONB       NOT NULL,
    updated_by TEXT        NOT NULL DEFAULT 'system',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO settings (key, value) VALUES ('writes_enabled', 'true'::jsonb);
