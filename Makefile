# Every target installs what it needs: a fresh clone needs only `make test`
# or `make run`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser screenshots test test-unit lint run kafka-up kafka-down pg-up pg-down bench bench-pipeline bench-verify bench-writers bench-latency bench-projections bench-relay bench-cold-write bench-consumer-rss clean mutation

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: install browser
	$(BIN)/python -m pytest

# The support console's tests drive Debian's Chromium through chromedriver
# (tests/e2e/test_console_browser.py). Installed when missing, which needs
# root; without them those tests skip, or fail under CI=true.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver) \
	  || echo "warning: could not install chromium and chromium-driver; the browser tests will not run"; \
	fi

# The console's pages as PNGs under docs/screenshots, shown in the README.
screenshots: install browser
	$(BIN)/python docs/screenshots/make_screenshots.py

test-unit: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain application consumers projections infra
	$(BIN)/lint-imports

# The whole service (consumer, relay, projections, API) on the embedded SQLite
# store, against PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS when set, else against
# the local broker, started first (needs Java 17+ and Maven) on
# PROMOCREDITS_KAFKA_PORT (9092).
run: install
	@if [ -z "$$PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS" ]; then bash ops/kafka/kafka.sh up; fi
	PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS=$${PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$${PROMOCREDITS_KAFKA_PORT:-9092}} \
	  $(BIN)/promocredits run

kafka-up:
	bash ops/kafka/kafka.sh up

kafka-down:
	bash ops/kafka/kafka.sh down

pg-up:
	bash ops/postgres/pg.sh up

pg-down:
	bash ops/postgres/pg.sh down

# Benchmarks, not timed tests: each prints rates and a ratio to a floor
# measured in the same run. BENCH_ARGS passes options through (to the
# pipeline benchmark; each other one has its own *_ARGS, `--quick` shortens
# any of them).
bench: bench-pipeline bench-verify bench-writers bench-latency bench-projections bench-relay bench-cold-write bench-consumer-rss

bench-pipeline: install pg-up
	@if [ -z "$$PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS" ]; then bash ops/kafka/kafka.sh up; fi
	$(BIN)/python bench/bench_pipeline.py $(BENCH_ARGS)

# Write throughput of 1, 2 and 4 consumer processes on one PostgreSQL database.
bench-writers: install pg-up
	@if [ -z "$$PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS" ]; then bash ops/kafka/kafka.sh up; fi
	$(BIN)/python bench/bench_writers.py $(BENCH_WRITERS_ARGS)

bench-verify: install
	$(BIN)/python bench/bench_verify.py $(BENCH_VERIFY_ARGS)

# Settlement latency p50/p99 at 1,000 and 2,500 offered invoices/s.
bench-latency: install pg-up
	@if [ -z "$$PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS" ]; then bash ops/kafka/kafka.sh up; fi
	$(BIN)/python bench/bench_latency.py $(BENCH_LATENCY_ARGS)

# Views projection events/s on SQLite and PostgreSQL.
bench-projections: install pg-up
	$(BIN)/python bench/bench_projections.py $(BENCH_PROJECTIONS_ARGS)

# Relay restart to first publish with 100,000 accounts in the store.
bench-relay: install pg-up
	@if [ -z "$$PROMOCREDITS_KAFKA_BOOTSTRAP_SERVERS" ]; then bash ops/kafka/kafka.sh up; fi
	$(BIN)/python bench/bench_relay.py $(BENCH_RELAY_ARGS)

# A cold write at 1, 10,000 and 100,000 events of account history.
bench-cold-write: install pg-up
	$(BIN)/python bench/bench_cold_write.py $(BENCH_COLD_WRITE_ARGS)

# The consumer's ledger's RSS after 1,000,000 distinct accounts.
bench-consumer-rss: install
	$(BIN)/python bench/bench_consumer_rss.py $(BENCH_CONSUMER_RSS_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info mutants

# Mutation testing of the ledger's rules with mutmut (docs/mutation.md). It
# runs the fast tests once per mutant, which takes tens of minutes, so it is
# not part of `make test`. Stopped and started again, it goes on where it
# stopped. MUTATION_CHILDREN mutants are tested at a time.
MUTATION_CHILDREN ?= 2

mutation: install
	$(BIN)/pip install --quiet -e ".[dev,mutation]"
	-nice $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python tests/mutation_score.py
