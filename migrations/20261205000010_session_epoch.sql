-- Ends sessions: a password change or a disable moves the user's epoch on, and the auth
-- layer refuses a session signed in under an older one (issue 20).
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
