-- Where a user comes from: 'local' (a password here) or 'oidc' (created at their first
-- single sign-on). An OIDC sign-in never takes over a local user of the same name.
ALTER TABLE users ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'
    CHECK (origin IN ('local', 'oidc'));
