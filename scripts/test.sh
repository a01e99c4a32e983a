#!/usr/bin/env bash
# `make test`: every check CI runs — formatting, lints (server and wasm targets), unit and
# integration tests against a real PostgreSQL and a real Kafka-protocol broker (Nisshi),
# then the browser tests in headless Chromium. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh test
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh start test "${SWITCHYARD_TEST_PG_PORT:-54329}")"
  export DATABASE_URL
fi
export NISSHI_BIN="${NISSHI_BIN:-$SY_TOOLS/bin/nisshi}"
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*" >&2; }

step "format"
cargo fmt --all --check
# The server is built with the assistant's embedding model support (candle): the offline
# router's accuracy test then runs with the model that setup installed.
FEATURES="--features switchyard/embeddings,switchyard-tools/embeddings"
step "clippy (server target)"
cargo clippy --workspace --all-targets $FEATURES -- -D warnings
step "clippy (wasm32, hydrate)"
cargo clippy -p switchyard-app --lib --target wasm32-unknown-unknown --no-default-features \
  --features hydrate -- -D warnings
step "site bundle"
scripts/build-site.sh
step "unit and integration tests"
cargo test --workspace $FEATURES
# The soak's short form (issue 21): 3 minutes of the whole system with a 30 s retention
# window in 10 s partitions (so that the steady part after the first retention cycle is
# three quarters of the run, and a database that is not pruned shows), sampled every 15 s
# and judged by the same rules as the 2-hour run (`make soak`); fails the build on FAIL.
# A replay job every 60 s: one in the latency reference (45–105 s) and one in the last
# third, as each window holds one of the fleet's chaos outages (BENCHMARKS.md).
# The debug binaries just built.
step "soak, short form (3 min)"
SOAK_PROFILE=dev SOAK_FEATURES="$FEATURES" scripts/soak.sh --minutes 3 --sample-secs 15 \
  --retain-events-secs 30 --partition-secs 10 --check-secs 5 --retain-secs 30 \
  --replay-every-secs 60 --out target/soak-short
step "browser tests"
scripts/e2e.sh
