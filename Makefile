# mking_analytics: the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
.PHONY: deps install demo demo-stop test test-unit test-pg test-integration bench fmt

deps:            ## install system packages, cargo-pgrx 0.18.1 and pgrx's config (idempotent)
	scripts/install-deps.sh

install: deps    ## build and install the extension into the system PostgreSQL 15
	scripts/install.sh

demo: install    ## private cluster + real Stack Exchange data + summary
	scripts/demo.sh start

demo-stop:       ## stop the demo cluster
	scripts/demo.sh stop

test: deps test-unit test-pg test-integration  ## every test, from a fresh clone

test-unit:       ## pure-Rust kernels and the listener (listener/), no PostgreSQL needed
	cargo test --lib -- kernels::
	cargo test --manifest-path listener/Cargo.toml

test-pg: deps    ## #[pg_test] tests inside a throwaway cluster (run as the postgres user)
	scripts/pg-test.sh

test-integration: install  ## second-connection tests against a private cluster
	scripts/integration-test.sh

fmt:
	cargo fmt --all

bench:           ## benchmark: plain SQL vs the extension vs count(*), SCALE=session rows (default 1000000)
	scripts/bench.sh $(SCALE)
