#!/usr/bin/env bash
# Client-side integration tests of mking_analytics against a private, throwaway PostgreSQL 15 cluster.
#
# Called by `make test-integration` after `make install` (the extension must already be installed
# into the system PostgreSQL 15). Runs as root: the cluster itself runs as the `postgres` user in a
# temporary directory, listens only on a Unix socket in that directory, and is stopped and removed
# on exit, also on failure or Ctrl-C.
#
# Usage: scripts/integration-test.sh [extra args for the libtest harness, e.g. a test-name filter]
# Env:   IT_PORT (default: first free port from 55432), IT_KEEP=1 keeps the cluster dir for debugging
#        (it is still stopped), PG_BINDIR (default /usr/lib/postgresql/15/bin).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
pg_user=postgres

if [ "$(id -u)" -eq 0 ]; then
  if command -v runuser >/dev/null 2>&1; then
    as_pg() { runuser -u "$pg_user" -- "$@"; }
  else
    as_pg() { sudo -u "$pg_user" -- "$@"; }
  fi
elif [ "$(id -un)" = "$pg_user" ]; then
  as_pg() { "$@"; }
else
  as_pg() { sudo -u "$pg_user" -- "$@"; }
fi

for f in /usr/share/postgresql/15/extension/mking_analytics.control /usr/lib/postgresql/15/lib/mking_analytics.so; do
  if [ ! -f "$f" ]; then
    echo "integration-test: $f not found: run 'make install' first" >&2
    exit 1
  fi
done

workdir="$(mktemp -d /tmp/mking_it.XXXXXX)"
chown "$pg_user": "$workdir"
chmod 700 "$workdir"
pgdata="$workdir/data"
logfile="$workdir/server.log"
started=0

cleanup() {
  local rc=$?
  set +e
  if [ "$started" -eq 1 ]; then
    as_pg "$bindir/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1
  fi
  if [ -f "$logfile" ] && [ -d "$here/pgrx-tests/target/tmp" ]; then
    cp "$logfile" "$here/pgrx-tests/target/tmp/server-last.log"
  fi
  if [ "$rc" -ne 0 ] && [ -f "$logfile" ]; then
    echo "---- last lines of the server log (whole log: pgrx-tests/target/tmp/server-last.log) ----" >&2
    tail -n 40 "$logfile" >&2
  fi
  if [ "${IT_KEEP:-0}" = "1" ]; then
    echo "integration-test: kept $workdir" >&2
  else
    rm -rf "$workdir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port: the socket lives in our private directory, but stay clear of running servers anyway.
port_in_use() {
  local p=$1
  [ -e "/var/run/postgresql/.s.PGSQL.$p" ] && return 0
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
  return 1
}
port="${IT_PORT:-}"
if [ -z "$port" ]; then
  for p in $(seq 55432 55532); do
    if ! port_in_use "$p"; then port=$p; break; fi
  done
fi
[ -n "$port" ] || { echo "integration-test: no free port in 55432-55532" >&2; exit 1; }

echo "==> initdb in $pgdata (port $port)"
as_pg "$bindir/initdb" -D "$pgdata" -U "$pg_user" --auth=trust -E UTF8 --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 \
  || { cat "$workdir/initdb.log" >&2; exit 1; }
cat >>"$pgdata/postgresql.conf" <<CONF

# ---- mking_analytics integration tests ----
port = $port
listen_addresses = ''
unix_socket_directories = '$workdir'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'mking_it'
max_connections = 50
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF

echo "==> starting the cluster"
started=1
as_pg "$bindir/pg_ctl" -D "$pgdata" -l "$logfile" -w -t 60 start >/dev/null

export PGHOST="$workdir" PGPORT="$port" PGUSER="$pg_user" PGDATABASE=postgres
# pg_cron's launcher wants its database to exist.
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE mking_it" >/dev/null

echo "==> cargo test (pgrx-tests)"
cd "$here"
cargo test --no-fail-fast --manifest-path pgrx-tests/Cargo.toml -- --test-threads=1 "$@"
