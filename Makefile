# The two commands of the README, and the pieces they are made of.
# Everything real lives in scripts/ so it runs the same from make, CI or a shell.

.PHONY: demo test setup site e2e lint fmt bench-ingest bench-events-indexes bench-replay assistant-eval bench-pages bench-push soak suite-bad-input suite-faults suite-attacks

## Install what is missing, build, and run the whole system on embedded defaults.
demo:
	scripts/demo.sh

## Every test: lints, unit, integration (PostgreSQL + Nisshi), browser (Chromium).
test:
	scripts/test.sh

setup:
	scripts/setup.sh all

site:
	scripts/build-site.sh

e2e:
	DATABASE_URL="$${DATABASE_URL:-$$(scripts/pg.sh start test 54329)}" scripts/e2e.sh

lint:
	. scripts/env.sh && cargo fmt --all --check && cargo clippy --workspace --all-targets --features switchyard/embeddings,switchyard-tools/embeddings -- -D warnings

fmt:
	cargo fmt --all

## Ingest throughput vs raw COPY, and NOTIFY latency (BENCHMARKS.md).
bench-ingest:
	scripts/bench.sh ingest-bench $(ARGS)

## What each index of `events` costs a COPY, per row, against no index (BENCHMARKS.md).
bench-events-indexes:
	scripts/bench-events-indexes.sh $(ARGS)

## A replay job of 10,000 dead letters, unthrottled; checks 0 duplicates / 0 lost (BENCHMARKS.md).
bench-replay:
	scripts/bench.sh replay-bench $(ARGS)

## The assistant's offline router over its evaluation set: accuracy and latency (BENCHMARKS.md).
assistant-eval:
	scripts/setup.sh model
	. scripts/env.sh && cargo run -p switchyard-tools --features embeddings -- assistant-eval $(ARGS)

## Page server time at 1M orders / 10M events (BENCHMARKS.md).
bench-pages:
	scripts/bench-pages.sh $(ARGS)

## Event produced -> pushed to an open page, p99 at 5,000 records/s (BENCHMARKS.md).
bench-push:
	scripts/bench-push.sh $(ARGS)

## The whole system for MINUTES (default 120) with a short retention window, sampled and
## judged for flatness: memory, database size, latencies (issue 21; BENCHMARKS.md).
MINUTES ?= 120
soak:
	scripts/soak.sh --minutes $(MINUTES) $(ARGS)

## Bad-input suite, long form: 10,000 hostile records through the real pipeline (issue 9).
suite-bad-input:
	scripts/setup.sh test
	. scripts/env.sh && DATABASE_URL="$${DATABASE_URL:-$$(scripts/pg.sh start test 54329)}" \
	  NISSHI_BIN="$$SY_TOOLS/bin/nisshi" SWITCHYARD_SUITE_RECORDS=10000 \
	  cargo test -p switchyard --features embeddings --test hostile_input -- --nocapture

## Fault suite, long form: PostgreSQL crashes and broker kills during ingest, 5 rounds each,
## plus the kill -9 tests of ingest and of a replay job (20 kills each) and of the fleet (issue 9).
suite-faults:
	scripts/setup.sh test
	. scripts/env.sh && DATABASE_URL="$${DATABASE_URL:-$$(scripts/pg.sh start test 54329)}" \
	  NISSHI_BIN="$$SY_TOOLS/bin/nisshi" SWITCHYARD_SUITE_ROUNDS=5 SWITCHYARD_SUITE_KILLS=20 \
	  cargo test -p switchyard --features embeddings --test fault_suite --test ingest_exactly_once \
	    --test replay_crash --test fleet_crash -- --nocapture --test-threads 1

## Attack suite, long form: issue 20's attacks at volume; prints what it tried and what held.
suite-attacks:
	scripts/setup.sh build
	. scripts/env.sh && DATABASE_URL="$${DATABASE_URL:-$$(scripts/pg.sh start test 54329)}" \
	  SWITCHYARD_ATTACK_VOLUME=$${SWITCHYARD_ATTACK_VOLUME:-50} \
	  cargo test -p switchyard --test attacks -- --nocapture --test-threads 1
