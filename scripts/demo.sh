#!/usr/bin/env bash
# `make demo`: install what is missing, build, and run the whole system on embedded
# defaults — a private PostgreSQL cluster unless DATABASE_URL is set, the in-process Kafka
# broker unless KAFKA_BROKERS is set, the fleet (the demo services), and the console.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh build
if [ -z "${DATABASE_URL:-}" ]; then
  cluster="$(scripts/pg.sh start demo "${SWITCHYARD_DEMO_PG_PORT:-54330}")"
  DATABASE_URL="${cluster%/*}/switchyard_demo"
  export DATABASE_URL
  if [ -z "${KAFKA_BROKERS:-}" ]; then
    # The embedded broker starts empty every time; a read model kept from an earlier run
    # would hold positions (and rows) of records that no longer exist, and the new records
    # at the same offsets would be taken for duplicates. Start the demo database afresh.
    psql "$cluster" -qc "DROP DATABASE IF EXISTS switchyard_demo WITH (FORCE)"
  fi
  psql "$cluster" -tAc "SELECT 1 FROM pg_database WHERE datname = 'switchyard_demo'" | grep -q 1 \
    || psql "$cluster" -qc "CREATE DATABASE switchyard_demo"
  echo "[demo] PostgreSQL: private cluster in $SY_CACHE/pg/demo ($DATABASE_URL)" >&2
fi
scripts/build-site.sh
cargo build -p switchyard --bin switchyard -p switchyard-tools --bin switchyard-tools \
  --features switchyard/embeddings ${CARGO_PROFILE_FLAG:-}
bin="$CARGO_TARGET_DIR/${PROFILE_DIR:-debug}/switchyard"
# The first admin: a random password, printed once (no default password exists).
"$bin" user add admin --role admin --if-missing
export SWITCHYARD_SITE_ROOT="${SWITCHYARD_SITE_ROOT:-$PWD/target/site}"
echo "[demo] starting the console; open the URL it prints (Ctrl-C stops everything)" >&2
# Console and fleet in one process (the fleet is its own crate; the demo command joins them).
exec "$CARGO_TARGET_DIR/${PROFILE_DIR:-debug}/switchyard-tools" demo --rate "${SWITCHYARD_DEMO_RATE:-2}"
