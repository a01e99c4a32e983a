-- No query reads saga_steps by event id: timelines read by (order_id, at), the failed-step
-- summary by time, retention drops whole partitions. The index stood in for the old
-- primary key and cost one more index entry per saga step on the ingest path.
DROP INDEX IF EXISTS saga_steps_event;
