-- Indexes behind the console pages (overview, breakers, order search), sized for 1M orders
-- and 10M events (see BENCHMARKS.md, page latency).

-- Overview throughput: the outcome kinds' rollups over a window, without the heap.
CREATE INDEX minute_rollups_kind ON minute_rollups (kind, minute) INCLUDE (count);
-- Saga durations: the latest finished orders in a window.
CREATE INDEX orders_finished ON orders (status_at) WHERE status_rank = 3;
-- Orders filters: saga step (keyset order), customer, order-id prefix.
CREATE INDEX orders_step ON orders (current_step, updated_at DESC, order_id DESC);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_id_pattern ON orders (order_id text_pattern_ops);
-- Orders search by correlation id.
CREATE INDEX events_correlation ON events (correlation_id);
-- Breaker history over a window (the existing index leads with service and breaker).
CREATE INDEX breaker_transitions_at ON breaker_transitions (at);
