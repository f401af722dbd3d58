#!/usr/bin/env bash
# Runs the #[pg_test]s (and the pure-Rust unit tests) in a throwaway cluster owned by `postgres`,
# since initdb refuses to run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PGDATA_DIR="${PGRX_TEST_PGDATA:-/tmp/mking_analytics-pgrx-test}"
rm -rf "$PGDATA_DIR"
mkdir -p "$PGDATA_DIR" && chown postgres: "$PGDATA_DIR"
# pgrx writes its test cluster's logs under target/; postgres must be able to reach it.
chmod o+rx "$PWD" "$PWD/.." 2>/dev/null || true
cargo pgrx test pg15 --runas postgres --pgdata "$PGDATA_DIR"
