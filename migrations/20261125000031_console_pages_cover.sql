-- The overview's saga-duration sample and DLQ depth without heap visits (measured at 1M
-- orders: the sample's index scan spent most of its time fetching created_at).
DROP INDEX orders_finished;
CREATE INDEX orders_finished ON orders (status_at) INCLUDE (created_at) WHERE status_rank = 3;
CREATE INDEX dead_letters_open ON dead_letters (failed_at) WHERE status NOT IN ('replayed', 'discarded');
