-- Orders search by correlation id reads this index. A correlation id equal to the event's
-- own aggregate id (every event of a saga the fleet runs for one order) names an order the
-- search finds by its id already, so only the others are indexed: one index entry fewer
-- for nearly every event ingested. The search asks for `correlation_id <> aggregate_id`
-- too, so the planner can use this index.
DROP INDEX events_correlation;
CREATE INDEX events_correlation ON events (correlation_id) WHERE correlation_id <> aggregate_id;
