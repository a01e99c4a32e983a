#!/usr/bin/env bash
# Benchmarks with public tools only: builds the release tools binary and runs one of its bench
# commands against a real broker (a fresh in-memory Nisshi unless KAFKA_BROKERS is set) and
# a private PostgreSQL cluster with default durability settings (unless DATABASE_URL is set).
#
#   scripts/bench.sh ingest-bench [--records N] [--latency-rate R] ...
#   scripts/bench.sh replay-bench [--records N] [--batch B]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh test >&2
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh start bench "${SWITCHYARD_BENCH_PG_PORT:-54331}")"
  export DATABASE_URL
fi
cargo build --release -p switchyard-tools --bin switchyard-tools >&2
if [ -z "${KAFKA_BROKERS:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$SY_TOOLS/bin/nisshi" broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://nisshi/ \
    --group-initial-rebalance-delay 0s >/dev/null 2>&1 &
  broker=$!
  trap 'kill $broker 2>/dev/null || true' EXIT
  export KAFKA_BROKERS="127.0.0.1:$port"
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); broker $KAFKA_BROKERS; $(psql "$DATABASE_URL" -Atc 'select version()' | cut -d, -f1)" >&2
RUST_LOG="${RUST_LOG:-warn}" "$CARGO_TARGET_DIR/release/switchyard-tools" "$@"
