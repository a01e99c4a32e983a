#!/usr/bin/env bash
# What each index of `events` costs the ingest path: backend CPU per row of a server-side
# binary COPY of N events-shaped rows into a copy of the table with a chosen set of
# indexes. The baselines are measured in the same run: no index at all, and the table as
# the migrations define it.
#
# Why CPU and not wall time: the backend's own user+system time (from /proc) moves far less
# with whatever else the machine is doing than the elapsed time does.
#
#   scripts/bench-events-indexes.sh [ROWS] [ROUNDS]     (default 1000000 rows, 2 rounds)
#
# Needs a local PostgreSQL (the private bench cluster is started when DATABASE_URL is
# unset): the backend's /proc entry is read, and the server writes the rows to a file.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
rounds="${2:-2}"
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh start bench "${SWITCHYARD_BENCH_PG_PORT:-54331}")"
fi
db="sy_index_costs"
export PGOPTIONS="-c client_min_messages=warning"
admin() { psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
url="${DATABASE_URL%/*}/$db"
q() { psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }
work="$(mktemp -d)"
chmod 777 "$work"
trap 'rm -rf "$work"; admin -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true' EXIT

admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
for f in migrations/*.sql; do q -f "$f" >/dev/null; done

# Rows shaped like the synthetic mix: ten event kinds (four of them saga.step), eight
# partitions, one order per ten events, payloads of the sizes ingest stores.
q >/dev/null <<SQL
CREATE TABLE src AS
SELECT g::bigint AS id, k.kind AS topic, ((g / 10) % 8)::int AS kafka_partition,
  g::bigint AS kafka_offset, convert_to(o.id, 'UTF8') AS kafka_key, gen_random_uuid() AS event_id,
  k.kind AS event_type, o.id AS aggregate_id, (g % 10)::bigint AS aggregate_version,
  now() - interval '1 hour' + g * interval '1 ms' AS occurred_at, 'order-service'::text AS source,
  o.id AS correlation_id, gen_random_uuid()::text AS causation_id, '[]'::jsonb AS headers,
  CASE WHEN k.kind = 'saga.step' THEN jsonb_build_object('saga_id', 'SAGA-' || o.id,
         'order_id', o.id, 'step', 'payment', 'action', 'execute', 'status', 'succeeded',
         'attempt', 1, 'at', now()::text)
       ELSE jsonb_build_object('order_id', o.id, 'total', 123.45) END AS payload
FROM generate_series(1, $rows) g,
  LATERAL (SELECT 'ORD-BENCH-' || lpad((g / 10)::text, 7, '0') AS id) o,
  LATERAL (SELECT (ARRAY['order.created', 'inventory.reserved', 'payment.completed',
    'saga.step', 'saga.step', 'saga.step', 'saga.step', 'shipment.created', 'order.completed',
    'notification.sent'])[1 + g % 10] AS kind) k;
COPY (SELECT id, topic, kafka_partition, kafka_offset, kafka_key, event_id, event_type,
  aggregate_id, aggregate_version, occurred_at, source, correlation_id, causation_id, headers,
  payload FROM src) TO '$work/events.bin' (FORMAT binary);
SQL

# variant NAME DDL: copies the rows into a fresh copy of `events` with DDL applied (its
# indexes); prints backend CPU and elapsed time per row.
variant() {
  q -c "DROP TABLE IF EXISTS ev" -c "CREATE TABLE ev (LIKE events INCLUDING DEFAULTS); $2" >/dev/null
  local out
  out=$(q -t -A <<SQL
CHECKPOINT;
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $work/cpu0
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
COPY ev (id, topic, kafka_partition, kafka_offset, kafka_key, event_id, event_type,
  aggregate_id, aggregate_version, occurred_at, source, correlation_id, causation_id, headers,
  payload) FROM '$work/events.bin' (FORMAT binary);
\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $work/cpu1
SELECT round((extract(epoch FROM clock_timestamp()) - :t0) * 1e6 / $rows, 2);
SQL
)
  local hz ticks
  hz=$(getconf CLK_TCK)
  ticks=$(($(cat "$work/cpu1") - $(cat "$work/cpu0")))
  printf '%-28s cpu %6s us/row   elapsed %6s us/row\n' "$1" \
    "$(echo "scale=2; $ticks * 1000000 / $hz / $rows" | bc)" "$out"
}

pk="ALTER TABLE ev ADD PRIMARY KEY (id);"
position="ALTER TABLE ev ADD UNIQUE (topic, kafka_partition, kafka_offset);"
aggregate="CREATE INDEX ON ev (aggregate_id, occurred_at);"
correlation="CREATE INDEX ON ev (correlation_id) WHERE correlation_id <> aggregate_id;"
type_time="CREATE INDEX ON ev (event_type, occurred_at);"
time_id="CREATE INDEX ON ev (occurred_at, id);"
# The table's indexes as the migrations leave them, recreated (unnamed) on the copy.
shipped=$(q -t -A -c "SELECT string_agg(regexp_replace(pg_get_indexdef(indexrelid),
  'INDEX \S+ ON public\.events ', 'INDEX ON ev '), '; ') || ';'
  FROM pg_index WHERE indrelid = 'events'::regclass")
echo "as migrated: $shipped"
echo "events COPY, $rows rows, $(nproc) cores; backend CPU and elapsed time per row"
for r in $(seq "$rounds"); do
  echo "round $r"
  variant "no index" ""
  variant "as migrated" "$shipped"
  variant "only id (primary key)" "$pk"
  variant "only source position" "$position"
  variant "only (aggregate_id, time)" "$aggregate"
  variant "only correlation (partial)" "$correlation"
  variant "only (event_type, time)" "$type_time"
  variant "only (time, id)" "$time_id"
  variant "before migration 60" "$pk $position $aggregate $correlation $type_time"
done
