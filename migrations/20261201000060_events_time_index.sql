-- Events by time, whatever their type. `events_type_time` (event_type, occurred_at) put
-- each insert in the middle of the index, at one of a handful of hot spots (one per type),
-- so every row paid a full descent and the pages split half full: about a quarter of the events
-- table's write cost (BENCHMARKS.md, ingest, 2026-12-01 "index costs"). Events arrive in
-- about time order, so an index on (occurred_at, id) is appended to at its right edge.
-- The one query that filters by type (the assistant's event search, newest first) walks
-- it backwards and filters, which also serves the same search without a type.
DROP INDEX events_type_time;
CREATE INDEX events_time ON events (occurred_at, id);
