#!/usr/bin/env bash
# Page latency at volume: seeds a database on a private PostgreSQL cluster (once per size,
# default durability), runs the release console against it (no ingest, the in-process
# broker) and times signed-in GETs of each page (switchyard-tools page-bench).
#
#   scripts/bench-pages.sh [--orders 1000000] [--samples 100]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
orders=1000000; samples=100
while [ $# -gt 0 ]; do
  case "$1" in
    --orders) orders="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
admin="${DATABASE_URL:-$(scripts/pg.sh start bench "${SWITCHYARD_BENCH_PG_PORT:-54331}")}"
db="pages_bench_$orders"
url="${admin%/*}/$db"
cargo build --release -p switchyard --bin switchyard -p switchyard-tools --bin switchyard-tools >&2
bin="$CARGO_TARGET_DIR/release/switchyard"
tools="$CARGO_TARGET_DIR/release/switchyard-tools"
if [ "$(psql "$admin" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
  psql "$admin" -qc "CREATE DATABASE $db"
  DATABASE_URL="$url" "$tools" seed --orders "$orders" --events-per-order 10 --hours 168
fi
user="pagebench$$"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$password" | DATABASE_URL="$url" "$bin" user add "$user" --role viewer --password-stdin >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATABASE_URL="$url" SWITCHYARD_ADDR="127.0.0.1:$port" RUST_LOG=warn "$bin" serve --no-ingest >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(psql "$url" -Atc 'select version()' | cut -d, -f1); $(psql "$url" -Atc 'select count(*) from orders') orders, $(psql "$url" -Atc 'select count(*) from events') events" >&2
DATABASE_URL="$url" SWITCHYARD_BENCH_PASSWORD="$password" "$tools" page-bench \
  --base "http://127.0.0.1:$port" --user "$user" --samples "$samples"
