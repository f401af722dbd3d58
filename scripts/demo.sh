#!/usr/bin/env bash
# The real-data demo of mking_analytics: a private PostgreSQL 15 cluster in .demo/ with pg_cron,
# the beer.stackexchange.com data (examples/demo) and the extension, then a summary.
#
#   scripts/demo.sh start   initdb if needed, start, load the data once, (re)create the
#                           extension, print examples/demo/summary.sql (`make demo`)
#   scripts/demo.sh stop    stop the cluster (`make demo-stop`)
#   scripts/demo.sh psql    psql on the demo database (extra arguments are passed on)
#   scripts/demo.sh reports [dir]  write the demo's daily, weekly and monthly reports as HTML and
#                           PDF to dir (default .demo/reports/), and PNG pictures of both when
#                           chromium and pdftoppm are installed
#   scripts/demo.sh reset   stop and delete .demo/ (the next start loads everything afresh)
#
# Environment: DEMO_PORT (default 5499), PG_CONFIG (default /usr/bin/pg_config).
# As root the cluster runs as the `postgres` OS user (initdb refuses root); otherwise as you.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO_DIR="$REPO/.demo"
PGDATA="$DEMO_DIR/pgdata"
SOCKDIR="$DEMO_DIR/run"
LOGFILE="$DEMO_DIR/postgres.log"
EXAMPLES="$REPO/examples/demo"
DATA="$EXAMPLES/data"
DUMP="$REPO/../shared/data/stackexchange-beer"
DB=mking_demo
PORT="${DEMO_PORT:-5499}"
PG_CONFIG="${PG_CONFIG:-/usr/bin/pg_config}"
TABLES=(users posts likes comments shares follows user_behavior_logs)

die() { echo "demo: ERROR: $*" >&2; exit 1; }
say() { echo "==> $*"; }

[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found: install postgresql-server-dev-15 (make deps)"
BINDIR="$("$PG_CONFIG" --bindir)"
SHAREDIR="$("$PG_CONFIG" --sharedir)"

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' OS user (apt-get install postgresql-15)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# The port of a running cluster is in line 4 of postmaster.pid; DEMO_PORT is only for starting.
running() { [ -d "$PGDATA" ] && as_pg "$BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
current_port() { sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || echo "$PORT"; }
psql_demo() { # psql_demo DB [psql args...]: a client connection over the demo's unix socket
  local db="$1"; shift
  "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$(current_port)" -U postgres -d "$db" "$@"
}

# ---- step timing -------------------------------------------------------------------------
STEP_NAMES=(); STEP_SECS=(); T_STEP=0; T_ALL=$(date +%s.%N)
step_begin() { say "$1"; STEP_NAMES+=("$1"); T_STEP=$(date +%s.%N); }
step_end() { STEP_SECS+=("$(awk -v a="$T_STEP" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')"); }
print_timings() {
  echo
  echo "Timings"
  local i
  for i in "${!STEP_NAMES[@]}"; do printf '  %-58s %7ss\n' "${STEP_NAMES[$i]}" "${STEP_SECS[$i]}"; done
  printf '  %-58s %7ss\n' "total" "$(awk -v a="$T_ALL" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')"
}

# ---- commands ------------------------------------------------------------------------------
ensure_csvs() {
  local t missing=0
  for t in "${TABLES[@]}"; do [ -f "$DATA/$t.csv.gz" ] || missing=1; done
  if [ "$missing" -eq 1 ]; then
    [ -f "$DUMP/Posts.xml" ] || die "CSVs missing in $DATA and no dump at $DUMP: restore them with git checkout -- examples/demo/data"
    command -v python3 >/dev/null || die "python3 is needed to convert $DUMP"
    python3 "$EXAMPLES/convert.py" "$DUMP" "$DATA"
  fi
}

init_cluster() {
  mkdir -p "$DEMO_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DEMO_DIR"; fi
  as_pg test -x "$REPO" -a -w "$DEMO_DIR" ||
    die "the cluster's OS user cannot reach $DEMO_DIR (every parent directory of the repo needs o+x)"
  as_pg mkdir -p "$SOCKDIR"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    as_pg "$BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$DEMO_DIR/initdb.log" 2>&1 ||
      { cat "$DEMO_DIR/initdb.log" >&2; die "initdb failed"; }
    # Settings that do not depend on the run: appended once. Port and socket dir: demo.conf below.
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<'EOF'

# ---- mking_analytics demo (scripts/demo.sh) ----
shared_preload_libraries = 'pg_cron'
cron.database_name = 'mking_demo'
listen_addresses = 'localhost'
timezone = 'UTC'
log_timezone = 'UTC'
include_if_exists = 'demo.conf'
EOF
  fi
  # Rewritten on every start so DEMO_PORT and the repo's location can change between runs.
  printf "port = %s\nunix_socket_directories = '%s'\n" "$PORT" "$SOCKDIR" | as_pg tee "$PGDATA/demo.conf" >/dev/null
}

cmd_start() {
  step_begin "data files (examples/demo/data)"
  ensure_csvs
  step_end

  if running; then
    step_begin "cluster already running (.demo/pgdata, port $(current_port))"
    step_end
  else
    step_begin "initdb if missing + start cluster (.demo/pgdata, port $PORT)"
    init_cluster
    # A developer's RUST_BACKTRACE would make the server append Rust backtraces to error details.
    as_pg env -u RUST_BACKTRACE "$BINDIR/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t 60 start >/dev/null ||
      { tail -n 20 "$LOGFILE" >&2 || true; die "the cluster did not start (port $PORT in use? set DEMO_PORT)"; }
    step_end
  fi

  step_begin "database $DB"
  if [ -z "$(psql_demo postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    psql_demo postgres -c "CREATE DATABASE $DB"
  fi
  step_end

  local loaded
  loaded="$(psql_demo "$DB" -tAc "SELECT coalesce(obj_description(to_regclass('public.users'), 'pg_class') LIKE 'mking_analytics demo data%', false)")"
  if [ "$loaded" = "t" ]; then
    step_begin "schema + data already loaded (reused)"
    step_end
  else
    step_begin "load schema + CSVs (one transaction)"
    (cd "$DATA" && psql_demo "$DB" -1 -f "$EXAMPLES/schema.sql" -f "$EXAMPLES/load.sql")
    step_end
  fi

  step_begin "CREATE EXTENSION pg_cron"
  psql_demo "$DB" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_cron;"
  step_end

  step_begin "(re)create extension mking_analytics"
  [ -f "$SHAREDIR/extension/mking_analytics.control" ] ||
    die "mking_analytics is not installed in $SHAREDIR/extension: run 'make install' (or 'make demo')"
  psql_demo "$DB" -c "SET client_min_messages = warning; DROP EXTENSION IF EXISTS mking_analytics CASCADE;" \
                  -c "CREATE EXTENSION mking_analytics;" ||
    die "CREATE EXTENSION mking_analytics failed (see the error above and $LOGFILE)"
  step_end

  # Change capture + the pg_cron refresh job, then build the rollups now rather than in a minute.
  step_begin "schedule() and build the rollups"
  psql_demo "$DB" -q -c "SET client_min_messages = warning;" \
                  -c "SELECT job_name, job_schedule FROM mking_analytics.schedule();" \
                  -c "SELECT source_name, status, hours_processed FROM mking_analytics.refresh_rollups();" >/dev/null ||
    die "scheduling or building the rollups failed (see the error above and $LOGFILE)"
  step_end

  # The reports of the last complete day, week and month of the data (periods derived from it).
  step_begin "generate the daily, weekly and monthly reports"
  psql_demo "$DB" -f "$EXAMPLES/reports.sql" ||
    die "generating the reports failed (see the error above and $LOGFILE)"
  step_end

  step_begin "summary (examples/demo/summary.sql)"
  psql_demo "$DB" -f "$EXAMPLES/summary.sql" || die "examples/demo/summary.sql failed"
  step_end

  echo
  echo "The demo database is running. Connect with:"
  echo "  scripts/demo.sh psql"
  echo "  psql -h $SOCKDIR -p $(current_port) -U postgres $DB"
  echo "  psql -h localhost -p $(current_port) -U postgres $DB"
  echo "Stop it with: make demo-stop   (scripts/demo.sh stop)"
  print_timings
}

cmd_stop() {
  if running; then
    as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    say "demo cluster stopped (data kept in .demo/pgdata; scripts/demo.sh reset deletes it)"
  else
    say "demo cluster is not running"
  fi
}

cmd_psql() {
  running || die "the demo cluster is not running: make demo (or scripts/demo.sh start)"
  exec "$BINDIR/psql" -X -h "$SOCKDIR" -p "$(current_port)" -U postgres -d "$DB" "$@"
}

# Writes the HTML and PDF of the newest UTC report of each kind (examples/demo/reports.sql made
# them) to DIR as daily.html, daily.pdf, weekly.*, monthly.*.
cmd_reports() {
  local dir="${1:-$DEMO_DIR/reports}" kind id
  running || die "the demo cluster is not running: make demo (or scripts/demo.sh start)"
  mkdir -p "$dir"
  for kind in daily weekly monthly; do
    id="$(psql_demo "$DB" -tAc "SELECT max(id) FROM mking_analytics.reports WHERE report_type = '$kind' AND tz = 'UTC'")"
    [ -n "$id" ] || die "no $kind report in the demo database: run scripts/demo.sh start"
    psql_demo "$DB" -tAc "SELECT mking_analytics.report_html($id)" >"$dir/$kind.html"
    psql_demo "$DB" -tAc "SELECT encode(mking_analytics.report_pdf($id), 'base64')" | base64 -d >"$dir/$kind.pdf"
    say "$kind report $id: $dir/$kind.html ($(wc -c <"$dir/$kind.html") bytes), $dir/$kind.pdf ($(wc -c <"$dir/$kind.pdf") bytes)"
    render_png "$dir" "$kind"
  done
}

# Pictures to look at, when the tools are there (apt-get install chromium poppler-utils):
# the HTML as a browser shows it (headless Chromium, trimmed by ImageMagick if present) and each
# PDF page (pdftoppm).
render_png() {
  local dir="$1" kind="$2" profile
  if command -v chromium >/dev/null 2>&1; then
    profile="$(mktemp -d)"
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$profile" --hide-scrollbars --window-size=1000,5000 \
      --screenshot="$dir/$kind-html.png" "file://$(realpath "$dir/$kind.html")" >/dev/null 2>&1 || true
    rm -rf "$profile"
    if [ -f "$dir/$kind-html.png" ] && command -v convert >/dev/null 2>&1; then
      convert "$dir/$kind-html.png" -trim +repage "$dir/$kind-html.png" 2>/dev/null || true
    fi
    [ -f "$dir/$kind-html.png" ] && say "  $dir/$kind-html.png (HTML in headless Chromium)"
  fi
  if command -v pdftoppm >/dev/null 2>&1; then
    pdftoppm -r 60 -png "$dir/$kind.pdf" "$dir/$kind-pdf" && say "  $dir/$kind-pdf-*.png (PDF pages)"
  fi
}

cmd_reset() {
  cmd_stop
  rm -rf "$DEMO_DIR"
  say "deleted $DEMO_DIR"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  psql) shift; cmd_psql "$@" ;;
  reports) shift; cmd_reports "$@" ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 start|stop|psql [psql args]|reports [dir]|reset" >&2; exit 2 ;;
esac
