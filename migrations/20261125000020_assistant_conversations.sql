-- The assistant's conversations: one per user session (the sidebar keeps the id for as
-- long as the page lives), each turn kept in order so a follow-up question has the context
-- of the earlier ones. Only the user who owns a conversation can read it back or add to it.
CREATE TABLE assistant_conversations (
    id          UUID PRIMARY KEY,
    owner       TEXT        NOT NULL,           -- user name
    backend     TEXT        NOT NULL,           -- who answered (offline, anthropic:..., ...)
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX assistant_conversations_owner ON assistant_conversations (owner, updated_at DESC);

CREATE TABLE assistant_turns (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id UUID        NOT NULL REFERENCES assistant_conversations (id) ON DELETE CASCADE,
    role            TEXT        NOT NULL CHECK (role IN ('user', 'assistant')),
    turn            JSONB       NOT NULL,       -- text, citations, proposals, notes
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX assistant_turns_conversation ON assistant_turns (conversation_id, id);
