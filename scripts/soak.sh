#!/usr/bin/env bash
# The soak (issue 21, "run for months"): the whole system for --minutes with a short
# retention window, sampled and judged for flatness by `switchyard-tools soak`.
#
# A fresh Nisshi broker (memory storage, its log cut at a short window), fresh
# databases on a private PostgreSQL cluster (or DATABASE_URL's), the console (`switchyard
# serve`, ingest on, retention shortened by the SWITCHYARD_RETAIN_* settings) and the fleet
# with chaos (`switchyard-fleet run --chaos`: a 15 s payment outage every minute, poison
# notifications that become dead letters), each its own process. The fleet keeps its own
# state in a database of its own, trimmed by its own retention (SWITCHYARD_FLEET_RETAIN, set
# to the same window): it is the demo's stand-in for your services, so its size is reported
# but not judged. Likewise the broker is sampled but not judged. Output (CSV, report, SVG,
# process logs) goes to --out.
# The audit log keeps its floor of a day (the console refuses a shorter window): within a
# soak it is not trimmed, and it grows only by sign-ins and replay jobs.
#
#   scripts/soak.sh [--minutes 120] [--sample-secs 60] [--out target/soak] [--rate 5]
#                   [--retain-events-secs 1200] [--partition-secs 300] [--check-secs 60]
#                   [--retain-secs 1800] [--replay-every-secs 300] [--broker-window-secs 300]
#
# SOAK_PROFILE=dev builds and runs the debug binaries (what `make test` has already built,
# with SOAK_FEATURES, its cargo features) instead of release ones.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
minutes=120; sample_secs=60; out="target/soak"; rate=5
retain_events=1200; partition=300; check=60; retain=1800; replay_every=300; broker_window=300
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --sample-secs) sample_secs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --retain-events-secs) retain_events="$2"; shift 2 ;;
    --partition-secs) partition="$2"; shift 2 ;;
    --check-secs) check="$2"; shift 2 ;;
    --retain-secs) retain="$2"; shift 2 ;;
    --replay-every-secs) replay_every="$2"; shift 2 ;;
    --broker-window-secs) broker_window="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
scripts/setup.sh test >&2
admin="${DATABASE_URL:-$(scripts/pg.sh start soak "${SWITCHYARD_SOAK_PG_PORT:-54332}")}"
db="soak_$$"
fleet_db="soak_fleet_$$"
url="${admin%/*}/$db"
fleet_url="${admin%/*}/$fleet_db"
profile="${SOAK_PROFILE:-release}"
if [ "$profile" = release ]; then flag="--release"; dir=release; else flag=""; dir=debug; fi
# shellcheck disable=SC2086 # SOAK_FEATURES is a list of cargo arguments
cargo build $flag ${SOAK_FEATURES:-} -p switchyard --bin switchyard -p switchyard-fleet --bin switchyard-fleet \
  -p switchyard-tools --bin switchyard-tools >&2
bin="$CARGO_TARGET_DIR/$dir/switchyard"
fleet="$CARGO_TARGET_DIR/$dir/switchyard-fleet"
tools="$CARGO_TARGET_DIR/$dir/switchyard-tools"
mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port)
# Memory storage keeps every record: the soak cuts the log every minute at
# --broker-window-secs (`--broker-retention-secs`, DeleteRecords), as a cluster's
# retention.ms would. The window is short, not the events' window: Nisshi's fetch lists
# every batch it holds, so its CPU grows with what it keeps (seen: 148 % of a core and
# push p99 262 ms with 20 minutes kept), and a window filled within the latency
# reference keeps the broker's steady state out of the console's verdict.
"$SY_TOOLS/bin/nisshi" broker --listener-url "tcp://127.0.0.1:$kport" \
  --advertised-listener-url "tcp://127.0.0.1:$kport" --storage-engine memory://nisshi/ \
  --group-initial-rebalance-delay 0s >"$out/broker.log" 2>&1 &
broker=$!
psql "$admin" -qc "CREATE DATABASE $db"
psql "$admin" -qc "CREATE DATABASE $fleet_db"
cleanup() {
  kill "${services:-}" "${server:-}" "$broker" 2>/dev/null || true
  wait "${services:-}" "${server:-}" 2>/dev/null || true
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  psql "$admin" -qc "DROP DATABASE IF EXISTS $fleet_db WITH (FORCE)" || true
}
trap cleanup EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$kport") 2>/dev/null && break; sleep 0.1; done
export KAFKA_BROKERS="127.0.0.1:$kport"
user="soak$$"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
# An operator: the soak starts replay jobs.
printf '%s\n' "$password" | DATABASE_URL="$url" "$bin" user add "$user" --role operator --password-stdin >/dev/null
port=$(free_port)
SWITCHYARD_CREATE_TOPICS=true DATABASE_URL="$url" SWITCHYARD_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  SWITCHYARD_RETAIN_EVENTS="${retain_events}s" SWITCHYARD_EVENTS_PARTITION="${partition}s" \
  SWITCHYARD_RETENTION_CHECK="${check}s" \
  SWITCHYARD_RETAIN_BREAKER_HISTORY="${retain}s" SWITCHYARD_RETAIN_ROLLUPS="${retain}s" \
  SWITCHYARD_RETAIN_QUARANTINE="${retain}s" SWITCHYARD_RETAIN_RESOLVED_DEAD_LETTERS="${retain}s" \
  SWITCHYARD_RETAIN_REPLAY_JOBS="${retain}s" SWITCHYARD_RETAIN_CONVERSATIONS="${retain}s" \
  SWITCHYARD_RETAIN_ORDERS="${retain}s" SWITCHYARD_RETAIN_AUDIT=1d \
  "$bin" serve >"$out/console.log" 2>&1 &
server=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
DATABASE_URL="$fleet_url" RUST_LOG=warn SWITCHYARD_FLEET_RETAIN="${retain}s" \
  "$fleet" run --chaos --rate "$rate" >"$out/fleet.log" 2>&1 &
services=$!
# The first retention cycle: the longest window with its cadence — events: the window,
# one partition (they are dropped whole) and half a partition (partition maintenance runs
# every half width); the rest: the window and one retention check.
events_cycle=$(( retain_events + partition + partition / 2 ))
warmup=$(( events_cycle > retain + check ? events_cycle : retain + check ))
# Without autovacuum the hot tables (orders, rollups: updated by every batch) keep every
# dead row version, and the database grows whatever retention does: a soak there measures
# the cluster's settings, not the console. Said loudly, not hidden.
if [ "$(psql "$url" -Atc 'show autovacuum')" != "on" ]; then
  echo "soak: WARNING: autovacuum is off on this PostgreSQL cluster; sizes and page times will grow regardless of retention (unset DATABASE_URL to use the private cluster)" >&2
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); $(psql "$url" -Atc 'select version()' | cut -d, -f1); broker $KAFKA_BROKERS (Nisshi, memory, log cut at ${broker_window}s); $profile build; fleet $rate orders/s with chaos; retention: events ${retain_events}s in ${partition}s partitions, the rest ${retain}s (audit 1d), checked every ${check}s; judged after ${warmup}s" >&2
DATABASE_URL="$url" SWITCHYARD_BENCH_PASSWORD="$password" RUST_LOG=warn "$tools" soak \
  --base "http://127.0.0.1:$port" --user "$user" --minutes "$minutes" --sample-secs "$sample_secs" \
  --out "$out" --watch "console=$server" --watch "fleet=$services" --observe "broker=$broker" \
  --observe-database "$fleet_db" --warmup-secs "$warmup" --replay-every-secs "$replay_every" \
  --broker-retention-secs "$broker_window"
