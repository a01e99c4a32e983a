#!/usr/bin/env bash
# Push latency under load: a fresh in-memory Nisshi broker, a fresh database on a private
# PostgreSQL cluster (default durability), the release console with ingest, then
# `switchyard-tools push-bench`: the realistic mix at --rate records/s with probe orders inside,
# each timed from the producer to its message on the page's push stream (/api/live).
#
#   scripts/bench-push.sh [--rate 5000] [--secs 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rate=5000; secs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate="$2"; shift 2 ;;
    --secs) secs="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
scripts/setup.sh test >&2
admin="${DATABASE_URL:-$(scripts/pg.sh start bench "${SWITCHYARD_BENCH_PG_PORT:-54331}")}"
db="push_bench_$$"
url="${admin%/*}/$db"
cargo build --release -p switchyard --bin switchyard -p switchyard-tools --bin switchyard-tools >&2
bin="$CARGO_TARGET_DIR/release/switchyard"
tools="$CARGO_TARGET_DIR/release/switchyard-tools"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port)
"$SY_TOOLS/bin/nisshi" broker --listener-url "tcp://127.0.0.1:$kport" \
  --advertised-listener-url "tcp://127.0.0.1:$kport" --storage-engine memory://nisshi/ \
  --group-initial-rebalance-delay 0s >/dev/null 2>&1 &
broker=$!
psql "$admin" -qc "CREATE DATABASE $db"
cleanup() {
  kill "${server:-}" "$broker" 2>/dev/null || true
  wait "${server:-}" 2>/dev/null || true
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$kport") 2>/dev/null && break; sleep 0.1; done
export KAFKA_BROKERS="127.0.0.1:$kport"
user="pushbench$$"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$password" | DATABASE_URL="$url" "$bin" user add "$user" --role viewer --password-stdin >/dev/null
port=$(free_port)
SWITCHYARD_CREATE_TOPICS=true DATABASE_URL="$url" SWITCHYARD_ADDR="127.0.0.1:$port" RUST_LOG=warn "$bin" serve >/dev/null 2>&1 &
server=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); $(psql "$url" -Atc 'select version()' | cut -d, -f1); broker $KAFKA_BROKERS (Nisshi, memory)" >&2
DATABASE_URL="$url" SWITCHYARD_BENCH_PASSWORD="$password" RUST_LOG=warn "$tools" push-bench \
  --base "http://127.0.0.1:$port" --user "$user" --rate "$rate" --secs "$secs" --server-pid "$server"
