-- Breaker-aware replay: a job holds while a breaker its messages would run into is not
-- closed (`replay/hold.rs`). `hold_breakers` are the breakers it waits on (from the
-- contract's service map by default, or the operator's list; empty: it never waits);
-- `waiting` is what its progress says while it holds ("waiting: payment-gateway OPEN
-- since 10:42:03"), NULL while it sends.
ALTER TABLE replay_jobs
    ADD COLUMN hold_breakers TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN waiting       TEXT,
    ADD COLUMN waiting_since TIMESTAMPTZ;
