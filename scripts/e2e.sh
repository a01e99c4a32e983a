#!/usr/bin/env bash
# Browser tests (end2end/): playwright-core from the tool cache drives Debian's Chromium
# against the real server binary, a Nisshi broker and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
: "${DATABASE_URL:?DATABASE_URL must be set (scripts/test.sh sets it)}"
# The console, the fleet (traffic) and the tools (seeding), in one build: one feature set.
cargo build -p switchyard --bin switchyard -p switchyard-fleet --bin switchyard-fleet \
  -p switchyard-tools --bin switchyard-tools --features switchyard/embeddings
ln -sfn "$SY_NPM/node_modules" end2end/node_modules
export SWITCHYARD_BIN="$CARGO_TARGET_DIR/debug/switchyard"
export SWITCHYARD_FLEET_BIN="$CARGO_TARGET_DIR/debug/switchyard-fleet"
export SWITCHYARD_TOOLS_BIN="$CARGO_TARGET_DIR/debug/switchyard-tools"
export SWITCHYARD_SITE_ROOT="${SWITCHYARD_SITE_ROOT:-$PWD/target/site}"
export NISSHI_BIN="${NISSHI_BIN:-$SY_TOOLS/bin/nisshi}"
cd end2end && node --test --test-concurrency=1 tests/
