#!/usr/bin/env bash
# The mking_analytics benchmark: straightforward SQL vs the extension vs a count(*) floor, on
# deterministic synthetic data (bench/generate.sql), in a private PostgreSQL 15 cluster.
#
#   scripts/bench.sh [SCALE]        SCALE = session rows (default 1000000); `make bench SCALE=...`
#   scripts/bench.sh stop           stop the benchmark cluster (if BENCH_KEEP=1 left it running)
#   scripts/bench.sh reset          stop it and delete .bench/
#
# The cluster lives in .bench/ (pgdata, socket, logs), runs as the `postgres` OS user when started
# by root, listens only on its Unix socket, on the first free port from 55600. The generated data
# is kept in database mking_bench_<SCALE> and reused when the same scale and seed are asked again.
# Output: a table per range (30 and 180 days ending 2026-07-01, the data's end), also written to
# bench/results-<SCALE>.txt.
#
# Environment:
#   BENCH_REPS=3            timed runs per query (median reported)
#   BENCH_TIMEOUT=60        statement_timeout per run, seconds ("timeout" is printed)
#   BENCH_SLOW=5            a first run slower than this many seconds is not repeated
#   BENCH_SEED=42           generator seed
#   BENCH_SHARED_BUFFERS=4GB, BENCH_WORK_MEM=64MB
#   BENCH_ROLLUPS=0         do not call refresh_rollups() (functions then read the raw tables)
#   BENCH_RAW=1             also time every extension query with mking_analytics.use_rollups = off
#   BENCH_KEEP=1            leave the cluster running at the end (default: stop it)
#   BENCH_ONLY=capture      only the change-capture measurements (bench/capture.sh; CAPTURE_* knobs there)
#   BENCH_ONLY=reports      only the report generation timings (written to bench/results-<SCALE>-reports.txt)
#   BENCH_CAPTURE=0         skip the change-capture measurements
#   BENCH_PORT              port to start on (default: first free from 55600)
#   PG_CONFIG               default /usr/bin/pg_config
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO/.bench"
PGDATA="$BENCH_DIR/pgdata"
SOCKDIR="$BENCH_DIR/run"
LOGFILE="$BENCH_DIR/postgres.log"
INST="$BENCH_DIR/inst"   # private snapshot of the PostgreSQL tree with a copy of the extension
PG_CONFIG="${PG_CONFIG:-/usr/bin/pg_config}"
REPS="${BENCH_REPS:-3}"
TIMEOUT="${BENCH_TIMEOUT:-60}"
SLOW="${BENCH_SLOW:-5}"
SEED="${BENCH_SEED:-42}"
SHARED_BUFFERS="${BENCH_SHARED_BUFFERS:-4GB}"
WORK_MEM="${BENCH_WORK_MEM:-64MB}"
RAW="${BENCH_RAW:-0}"

die() { echo "bench: ERROR: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found: install postgresql-server-dev-15 (make deps)"
BINDIR="$("$PG_CONFIG" --bindir)"
LIBDIR="$("$PG_CONFIG" --pkglibdir)"
SHAREDIR="$("$PG_CONFIG" --sharedir)"

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' OS user (apt-get install postgresql-15)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

running() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
current_port() { sed -n 4p "$PGDATA/postmaster.pid"; }
psql_b() { "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$(current_port)" -U postgres "$@"; }
stop_cluster() { if running; then as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; fi; }

case "${1:-}" in
  stop) stop_cluster; exit 0 ;;
  reset) stop_cluster; rm -rf "$BENCH_DIR"; exit 0 ;;
esac

SCALE="${1:-${SCALE:-1000000}}"
[[ "$SCALE" =~ ^[0-9]+$ ]] && [ "$SCALE" -ge 1000 ] || die "SCALE must be a number of session rows >= 1000 (got '$SCALE')"
DB="mking_bench_$SCALE"     # one database per scale, so 1M and 10M data can both be kept
RESULTS="$REPO/bench/results-$SCALE.txt"
[ "${BENCH_ONLY:-}" = reports ] && RESULTS="$REPO/bench/results-$SCALE-reports.txt"

# ---- the extension -------------------------------------------------------------------------
if [ ! -f "$LIBDIR/mking_analytics.so" ] || [ ! -f "$SHAREDIR/extension/mking_analytics.control" ]; then
  say "mking_analytics is not installed: scripts/install.sh"
  (cd "$REPO" && PG_CONFIG="$PG_CONFIG" scripts/install.sh)
fi
[ -f "$SHAREDIR/extension/pg_cron.control" ] || die "pg_cron is missing: apt-get install postgresql-15-cron (make deps)"

# ---- the cluster ---------------------------------------------------------------------------
port_in_use() {
  [ -e "/var/run/postgresql/.s.PGSQL.$1" ] && return 0
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  return 1
}
start_cluster() {
  mkdir -p "$BENCH_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$BENCH_DIR"
  as_pg test -x "$REPO" -a -w "$BENCH_DIR" || die "the postgres user cannot reach $BENCH_DIR (parents need o+x)"
  as_pg mkdir -p "$SOCKDIR"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "initdb $PGDATA"
    as_pg "$BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$BENCH_DIR/initdb.log" 2>&1 ||
      { cat "$BENCH_DIR/initdb.log" >&2; die "initdb failed"; }
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<EOF

# ---- mking_analytics benchmark (scripts/bench.sh) ----
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
listen_addresses = ''
timezone = 'UTC'
log_timezone = 'UTC'
effective_cache_size = '16GB'
maintenance_work_mem = '1GB'
random_page_cost = 1.1
effective_io_concurrency = 200
max_wal_size = '8GB'
checkpoint_timeout = '30min'
wal_level = minimal          # the generator creates and loads each table in one transaction
max_wal_senders = 0
include_if_exists = 'bench.conf'
EOF
  fi
  local port="${BENCH_PORT:-}"
  if [ -z "$port" ]; then
    for p in $(seq 55600 55700); do port_in_use "$p" || { port=$p; break; }; done
  fi
  [ -n "$port" ] || die "no free port in 55600-55700 (set BENCH_PORT)"
  printf "port = %s\nunix_socket_directories = '%s'\nshared_buffers = '%s'\nwork_mem = '%s'\ncron.database_name = 'postgres'\n" \
    "$port" "$SOCKDIR" "$SHARED_BUFFERS" "$WORK_MEM" | as_pg tee "$PGDATA/bench.conf" >/dev/null
  say "start cluster .bench/pgdata (port $port, shared_buffers $SHARED_BUFFERS, work_mem $WORK_MEM)"
  as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -p "$PGBIN_SNAP" -l "$LOGFILE" -w -t 120 start >/dev/null ||
    { tail -n 20 "$LOGFILE" >&2 || true; die "the cluster did not start"; }
}

STARTED=0
cleanup() {
  local rc=$?
  if [ "$STARTED" -eq 1 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then stop_cluster || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server runs from a private snapshot of the PostgreSQL tree (.bench/inst: the postgres binary
# copied, every other file linked) with a *copy* of mking_analytics.so and its SQL, taken now: a
# `make install` during the run then cannot swap the library under a running backend (which
# crashes it), and every run measures one build. PostgreSQL finds $libdir and the share directory
# relative to its binary, so the snapshot's lib/ and share/ are used.
snapshot() {
  local pgbin="$BINDIR/postgres" rel_lib rel_share
  rm -rf "$INST"
  # Debian: /usr/lib/postgresql/15/{bin,lib} and /usr/share/postgresql/15; keep that layout.
  rel_lib="${LIBDIR#/usr/}"; rel_share="${SHAREDIR#/usr/}"
  [ "$rel_lib" != "$LIBDIR" ] && [ "$rel_share" != "$SHAREDIR" ] && [ "$(dirname "$BINDIR")/lib" = "$LIBDIR" ] ||
    die "unexpected PostgreSQL layout ($BINDIR, $LIBDIR, $SHAREDIR)"
  mkdir -p "$INST/$(dirname "$rel_lib")/bin" "$INST/$rel_lib" "$INST/$rel_share/extension"
  cp "$pgbin" "$INST/$(dirname "$rel_lib")/bin/postgres"
  local f
  for f in "$LIBDIR"/*; do
    case "$(basename "$f")" in mking_analytics*) cp -a "$f" "$INST/$rel_lib/" ;; *) ln -s "$f" "$INST/$rel_lib/" ;; esac
  done
  for f in "$SHAREDIR"/*; do [ "$(basename "$f")" = extension ] || ln -s "$f" "$INST/$rel_share/"; done
  for f in "$SHAREDIR"/extension/*; do
    case "$(basename "$f")" in mking_analytics*) cp -a "$f" "$INST/$rel_share/extension/" ;; *) ln -s "$f" "$INST/$rel_share/extension/" ;; esac
  done
  [ "$(id -u)" -eq 0 ] && chown -R -h postgres:postgres "$INST"
  PGBIN_SNAP="$INST/$(dirname "$rel_lib")/bin/postgres"
  SO_SNAP="$INST/$rel_lib/mking_analytics.so"
}
if running; then
  say "stopping the running benchmark cluster (it restarts on a fresh snapshot of the extension)"
  stop_cluster
fi
snapshot
start_cluster
STARTED=1

if [ -z "$(psql_b -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
  psql_b -d postgres -c "CREATE DATABASE $DB"
fi
q() { psql_b -d "$DB" -tA "$@"; }

# ---- data ----------------------------------------------------------------------------------
# Reused only when scale, seed and the generator (and the schema it includes) are unchanged:
# GEN_ID is the md5 of both files without their comment lines.
GEN_ID="$(cat "$REPO/bench/generate.sql" "$REPO/examples/demo/schema.sql" | grep -v '^[[:space:]]*--' | md5sum | cut -c1-12)"
have="$(q -c "SELECT sessions || ':' || seed || ':' || generator FROM bench.meta" 2>/dev/null || true)"
GEN_SECS=""
if [ "$have" = "$SCALE:$SEED:$GEN_ID" ]; then
  say "reusing generated data (scale $SCALE, seed $SEED)"
  GEN_SECS="$(q -c "SELECT round(seconds) FROM bench.meta")"
else
  say "generating data: $SCALE sessions, seed $SEED (bench/generate.sql)"
  q -c "DROP EXTENSION IF EXISTS mking_analytics CASCADE" -c "DROP SCHEMA IF EXISTS bench CASCADE" >/dev/null
  t0=$(date +%s.%N)
  psql_b -d "$DB" -v sessions="$SCALE" -v seed="$SEED" -f "$REPO/bench/generate.sql" >&2
  GEN_SECS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')
  q >/dev/null <<SQL
CREATE SCHEMA bench;
CREATE TABLE bench.meta AS SELECT $SCALE::bigint AS sessions, $SEED::bigint AS seed, '$GEN_ID'::text AS generator,
                                  $GEN_SECS::numeric AS seconds, now() AS generated_at;
SQL
  say "generated in ${GEN_SECS}s"
fi

# Plain activity: every activity source, as the extension's defaults define it (a view is inlined).
q >/dev/null <<'SQL'
CREATE SCHEMA IF NOT EXISTS bench;
CREATE OR REPLACE VIEW bench.activity AS
          SELECT user_id, created_at FROM public.user_behavior_logs
UNION ALL SELECT user_id, created_at FROM public.posts
UNION ALL SELECT user_id, created_at FROM public.likes
UNION ALL SELECT user_id, created_at FROM public.comments
UNION ALL SELECT user_id, created_at FROM public.shares
UNION ALL SELECT follower_id, created_at FROM public.follows;
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
DROP EXTENSION IF EXISTS mking_analytics CASCADE;
CREATE EXTENSION mking_analytics;
SQL

# Rollups (when this build of the extension has them): the first refresh builds them from the raw
# tables; the second, with nothing changed, shows the incremental no-op.
ROLLUPS="$(q -c "SELECT count(*) FROM pg_proc WHERE proname = 'refresh_rollups' AND pronamespace = 'mking_analytics'::regnamespace")"
ROLLUP_INFO="none in this build: every function reads the raw tables"
if [ "$ROLLUPS" != 0 ] && [ "${BENCH_ROLLUPS:-1}" = 0 ]; then
  ROLLUP_INFO="present in this build but not built (BENCH_ROLLUPS=0): every function reads the raw tables"
  RAW=0
elif [ "$ROLLUPS" != 0 ]; then
  # refresh_rollups() first installs change capture, then builds; call it until a call processes
  # no hours (at most 5 calls), then time one more call with nothing changed.
  say "building rollups: mking_analytics.refresh_rollups() until nothing is left"
  build_secs=0; calls=()
  for i in 1 2 3 4 5; do
    t0=$(date +%s.%N)
    r1="$(q -F ' ' -c "SELECT coalesce(sum(hours_processed), 0), string_agg(format('%s %s %s h', source_name, status, hours_processed), '; ' ORDER BY source_name) FROM mking_analytics.refresh_rollups()")"
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    build_secs=$(awk -v a="$build_secs" -v b="$dt" 'BEGIN{print a + b}')
    calls+=("call $i: ${dt}s (${r1#* })")
    [ "$i" -gt 1 ] && [ "${r1%% *}" = 0 ] && break
  done
  t0=$(date +%s.%N)
  q -c "SELECT * FROM mking_analytics.refresh_rollups()" >/dev/null
  noop=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
  ROLLUP_INFO="built by refresh_rollups() in ${build_secs}s over ${#calls[@]} calls; a refresh with nothing changed: ${noop}s"
  for c in "${calls[@]}"; do ROLLUP_INFO+=$'\n'"         $c"; done
else
  RAW=0
fi

say "prewarming tables and indexes"
q -c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','i')" >/dev/null

# ---- timing --------------------------------------------------------------------------------
# One run: its own connection, statement_timeout, result discarded, psql's \timing (client wall
# time of the statement, including sending the small result).
# time_once SQL [SETTING...]: prints the milliseconds, "timeout" or "error" (details on stderr).
time_once() {
  local sql="$1" out; shift
  local sets=(-c "SET statement_timeout = '${TIMEOUT}s'")
  local x; for x in "$@"; do sets+=(-c "SET $x"); done
  if out="$(psql_b -d "$DB" "${sets[@]}" -c '\timing on' -c '\o /dev/null' -c "$sql" 2>&1)"; then
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tail -n 1
  elif grep -q 'statement timeout' <<<"$out"; then
    echo timeout
  else
    printf 'bench: query failed: %s\n%s\n' "$sql" "$out" >&2; echo error
  fi
}
# measure SQL [SETTING...] -> "median_ms runs", "timeout 0" or "error 0"
measure() {
  local runs=() t i
  for ((i = 0; i < REPS; i++)); do
    t="$(time_once "$@")"
    [ "$t" = error ] || [ -z "$t" ] && { echo "error 0"; return; }
    if [ "$t" = timeout ]; then
      [ "${#runs[@]}" -eq 0 ] && { echo "timeout 0"; return; }
      break
    fi
    runs+=("$t")
    awk -v t="$t" -v s="$SLOW" 'BEGIN{exit !(t > s * 1000)}' && break
  done
  printf '%s\n' "${runs[@]}" | sort -g | awk '{a[NR]=$1} END{m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f %d\n", m, NR}'
}

# ---- the queries ---------------------------------------------------------------------------
PANELS=(new_users dau kpis retention_summary devices content_trend top_content content_types
        engagement_trend follow_trend interaction_trend most_followed)
declare -A TITLE=(
  [new_users]="new users per day" [dau]="DAU per day" [kpis]="DAU/WAU/MAU summary"
  [retention_summary]="signup retention d1/d7/d30" [devices]="sessions by device"
  [content_trend]="posts + authors per day" [top_content]="top 20 content"
  [content_types]="content types" [engagement_trend]="daily engagement" [follow_trend]="follows per day"
  [interaction_trend]="interactions per day by type" [most_followed]="most-followed users"
)

# baseline PANEL F T: the straightforward SQL over the raw tables ([F, T), timestamps in UTC).
baseline() {
  local F="'$2'::timestamp" T="'$3'::timestamp"
  local R="created_at >= $F AND created_at < $T"
  case "$1" in
  new_users) echo "SELECT date_trunc('day', created_at) AS day, count(*) AS new_users
      FROM users WHERE $R GROUP BY 1 ORDER BY 1" ;;
  dau) echo "SELECT date_trunc('day', created_at) AS day, count(DISTINCT user_id) AS dau
      FROM bench.activity WHERE $R GROUP BY 1 ORDER BY 1" ;;
  kpis) echo "SELECT 'DAU' AS metric, avg(n), max(n), min(n) FROM (
        SELECT date_trunc('day', created_at), count(DISTINCT user_id) AS n FROM bench.activity
        WHERE $R GROUP BY 1) d
      UNION ALL SELECT 'WAU', avg(n), max(n), min(n) FROM (
        SELECT date_trunc('week', created_at), count(DISTINCT user_id) AS n FROM bench.activity
        WHERE created_at >= date_trunc('week', $F)
          AND created_at < date_trunc('week', $T - interval '1 microsecond') + interval '1 week' GROUP BY 1) w
      UNION ALL SELECT 'MAU', avg(n), max(n), min(n) FROM (
        SELECT date_trunc('month', created_at), count(DISTINCT user_id) AS n FROM bench.activity
        WHERE created_at >= date_trunc('month', $F)
          AND created_at < date_trunc('month', $T - interval '1 microsecond') + interval '1 month' GROUP BY 1) m" ;;
  retention_summary) echo "WITH c AS (SELECT id, created_at::date AS cohort FROM users WHERE $R),
           a AS (SELECT DISTINCT user_id, created_at::date AS d FROM bench.activity
                 WHERE created_at >= $F + interval '1 day' AND created_at < $T + interval '31 days')
      SELECT cohort, size, d1, d7, d30, round(100.0 * d1 / nullif(size, 0), 2) AS d1_rate,
             round(100.0 * d7 / nullif(size, 0), 2) AS d7_rate, round(100.0 * d30 / nullif(size, 0), 2) AS d30_rate
      FROM (SELECT c.cohort, count(DISTINCT c.id) AS size,
                   count(DISTINCT a.user_id) FILTER (WHERE a.d = c.cohort + 1) AS d1,
                   count(DISTINCT a.user_id) FILTER (WHERE a.d = c.cohort + 7) AS d7,
                   count(DISTINCT a.user_id) FILTER (WHERE a.d = c.cohort + 30) AS d30
            FROM c LEFT JOIN a ON a.user_id = c.id AND a.d IN (c.cohort + 1, c.cohort + 7, c.cohort + 30)
            GROUP BY c.cohort) r ORDER BY cohort" ;;
  devices) echo "SELECT device_type, count(*) AS sessions, count(DISTINCT user_id) AS users,
             avg(time_spent), avg(page_views), round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share
      FROM user_behavior_logs WHERE $R GROUP BY device_type ORDER BY sessions DESC" ;;
  content_trend) echo "SELECT date_trunc('day', created_at) AS day, count(*) AS posts, count(DISTINCT user_id) AS authors
      FROM posts WHERE $R GROUP BY 1 ORDER BY 1" ;;
  top_content|content_types)
    local joins="FROM posts p
      LEFT JOIN (SELECT post_id, count(*) AS n FROM likes WHERE created_at < $T GROUP BY post_id) l ON l.post_id = p.id
      LEFT JOIN (SELECT post_id, count(*) AS n FROM comments WHERE created_at < $T GROUP BY post_id) c ON c.post_id = p.id
      LEFT JOIN (SELECT post_id, count(*) AS n FROM shares WHERE created_at < $T GROUP BY post_id) s ON s.post_id = p.id"
    local score="coalesce(l.n, 0) + 2 * coalesce(c.n, 0) + 3 * coalesce(s.n, 0)"
    if [ "$1" = top_content ]; then
      echo "SELECT p.id, p.title, p.user_id, u.username, p.content_type, p.created_at,
             coalesce(l.n, 0) AS likes, coalesce(c.n, 0) AS comments, coalesce(s.n, 0) AS shares,
             coalesce(l.n, 0) + coalesce(c.n, 0) + coalesce(s.n, 0) AS total, $score AS score
      $joins LEFT JOIN users u ON u.id = p.user_id
      WHERE p.created_at >= $F AND p.created_at < $T ORDER BY score DESC, p.id LIMIT 20"
    else
      echo "SELECT p.content_type, count(*) AS posts, sum(coalesce(l.n, 0)) AS likes, sum(coalesce(c.n, 0)) AS comments,
             sum(coalesce(s.n, 0)) AS shares, avg(coalesce(l.n, 0)), avg(coalesce(c.n, 0)), avg(coalesce(s.n, 0)), avg($score)
      $joins WHERE p.created_at >= $F AND p.created_at < $T GROUP BY p.content_type ORDER BY posts DESC"
    fi ;;
  engagement_trend) echo "SELECT d.day, coalesce(p.n, 0) AS posts, coalesce(l.n, 0) AS likes,
             coalesce(c.n, 0) AS comments, coalesce(s.n, 0) AS shares
      FROM generate_series($F, $T - interval '1 day', interval '1 day') d(day)
      LEFT JOIN (SELECT date_trunc('day', created_at) AS day, count(*) AS n FROM posts WHERE $R GROUP BY 1) p USING (day)
      LEFT JOIN (SELECT date_trunc('day', created_at) AS day, count(*) AS n FROM likes WHERE $R GROUP BY 1) l USING (day)
      LEFT JOIN (SELECT date_trunc('day', created_at) AS day, count(*) AS n FROM comments WHERE $R GROUP BY 1) c USING (day)
      LEFT JOIN (SELECT date_trunc('day', created_at) AS day, count(*) AS n FROM shares WHERE $R GROUP BY 1) s USING (day)
      ORDER BY d.day" ;;
  follow_trend) echo "SELECT date_trunc('day', created_at) AS day, count(*) AS follows,
             count(DISTINCT follower_id) AS followers, count(DISTINCT following_id) AS followed_users
      FROM follows WHERE $R GROUP BY 1 ORDER BY 1" ;;
  interaction_trend) echo "SELECT day, type, count(*) AS interactions, count(DISTINCT user_id) AS users FROM (
                SELECT date_trunc('day', created_at) AS day, 'like' AS type, user_id FROM likes WHERE $R
      UNION ALL SELECT date_trunc('day', created_at), 'comment', user_id FROM comments WHERE $R
      UNION ALL SELECT date_trunc('day', created_at), 'share', user_id FROM shares WHERE $R
      UNION ALL SELECT date_trunc('day', created_at), 'follow', follower_id FROM follows WHERE $R) x
      GROUP BY 1, 2 ORDER BY 1, 2" ;;
  most_followed) echo "SELECT f.following_id AS user_id, u.username, count(*) AS followers,
             (SELECT count(*) FROM follows g WHERE g.follower_id = f.following_id AND g.created_at < $T) AS following,
             count(*) FILTER (WHERE f.created_at >= $F) AS new_followers,
             CASE WHEN count(*) > 1000 THEN 'influencer' WHEN count(*) > 100 THEN 'active' ELSE 'regular' END AS class
      FROM follows f LEFT JOIN users u ON u.id = f.following_id
      WHERE f.created_at < $T GROUP BY f.following_id, u.username ORDER BY followers DESC, user_id LIMIT 20" ;;
  retention) echo "WITH c AS (SELECT id, created_at::date AS cohort FROM users WHERE $R),
           a AS (SELECT DISTINCT user_id, created_at::date AS d FROM bench.activity
                 WHERE created_at >= $F AND created_at < $T + interval '31 days')
      SELECT c.cohort, a.d - c.cohort AS period_offset, count(*) AS retained
      FROM c JOIN a ON a.user_id = c.id AND a.d BETWEEN c.cohort AND c.cohort + 30
      GROUP BY 1, 2 ORDER BY 1, 2" ;;
  esac
}

# extension PANEL F T: the extension's function for the panel.
extension() {
  local A="'$2'::timestamptz, '$3'::timestamptz"
  case "$1" in
  new_users|content_trend|engagement_trend|follow_trend|interaction_trend)
    echo "SELECT * FROM mking_analytics.$1($A, 'day', 'UTC')" ;;
  dau) echo "SELECT * FROM mking_analytics.active_users($A, 'day', 'UTC')" ;;
  kpis|retention_summary|devices|content_types) echo "SELECT * FROM mking_analytics.$1($A, 'UTC')" ;;
  top_content) echo "SELECT * FROM mking_analytics.top_content($A, 20, 'UTC')" ;;
  most_followed) echo "SELECT * FROM mking_analytics.most_followed($A, 20, 1000, 100, 'UTC')" ;;
  dashboard) echo "SELECT mking_analytics.dashboard($A, 'UTC')" ;;
  retention) echo "SELECT * FROM mking_analytics.retention($A, 'day', 30, tz => 'UTC')" ;;
  esac
}

row() { # a markdown table row; the 6th column only with BENCH_RAW=1
  if [ "$RAW" = 1 ]; then printf '| %-30s | %18s | %18s | %13s | %10s | %18s |\n' "$@"
  else printf '| %-30s | %18s | %18s | %13s | %10s |\n' "${@:1:5}"; fi
}
checked() { # checked VAR-NAME ARGS...: measure, and stop the run on a failed query (e.g. a crashed server)
  local _res; _res="$(measure "${@:2}")"
  [[ "$_res" == error* ]] && die "a query failed (see above and $LOGFILE)"
  printf -v "$1" '%s' "$_res"
}

ratio() { # ratio A B -> A/B with 2 significant-ish decimals, or "-"
  awk -v a="$1" -v b="$2" -v to="$TIMEOUT" 'BEGIN{
    if (a == "timeout" && b != "" && b != "timeout" && b > 0) { r = to * 1000 / b; printf (r >= 10 ? ">%.0f\n" : ">%.2f\n"), r; exit }
    if (b == "timeout" && a != "" && a != "timeout") { r = a / (to * 1000); printf (r >= 0.1 ? "<%.2f\n" : "<%.2g\n"), r; exit }
    if (a == "" || b == "" || a == "timeout" || b == "timeout" || b == 0) print "-";
    else if (a / b >= 100) printf "%.0f\n", a / b; else if (a / b >= 10) printf "%.1f\n", a / b;
    else if (a / b >= 0.1) printf "%.2f\n", a / b; else printf "%.2g\n", a / b }'
}
fmt_ms() { # fmt_ms MEDIAN RUNS
  if [ "$1" = timeout ]; then echo "timeout (>${TIMEOUT}s)"; else printf '%.1f' "$1"; [ "$2" -lt "$REPS" ] && printf ' (n=%s)' "$2"; echo; fi
}

# ---- the run -------------------------------------------------------------------------------
if [ "${BENCH_ONLY:-}" != capture ]; then   # BENCH_ONLY=capture: only the change-capture block below
END_TS="2026-07-01"
declare -A FROM_TS=([30]="2026-06-01" [180]="2026-01-02")
T_RUN=$(date +%s)

{
  echo "mking_analytics benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "Load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at start; other work on the machine slows every timing)"
  echo "Server:  $(q -c 'SHOW server_version'), shared_buffers $(q -c 'SHOW shared_buffers'), work_mem $(q -c 'SHOW work_mem'), max_parallel_workers_per_gather $(q -c 'SHOW max_parallel_workers_per_gather'), jit $(q -c 'SHOW jit')"
  echo "Extension: mking_analytics $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'mking_analytics'"), copy of $LIBDIR/mking_analytics.so of $(date -u -r "$SO_SNAP" '+%Y-%m-%d %H:%M UTC') (md5 $(md5sum "$SO_SNAP" | cut -c1-12)); repo HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "Rollups: $ROLLUP_INFO"
  echo "Scale:   $SCALE sessions, seed $SEED (bench/generate.sql, id $GEN_ID; generation took ${GEN_SECS}s)"
  echo "Rows:    $(q -c "SELECT string_agg(format('%s %s', t, n), ', ' ORDER BY o) FROM (VALUES
      (1, 'users', (SELECT count(*) FROM users)), (2, 'user_behavior_logs', (SELECT count(*) FROM user_behavior_logs)),
      (3, 'posts', (SELECT count(*) FROM posts)), (4, 'likes', (SELECT count(*) FROM likes)),
      (5, 'comments', (SELECT count(*) FROM comments)), (6, 'shares', (SELECT count(*) FROM shares)),
      (7, 'follows', (SELECT count(*) FROM follows))) v(o, t, n)")"
  echo "Size:    $(q -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'") (tables + indexes)"
  echo "Method:  median of up to $REPS runs per query (n=1 when the first run took over ${SLOW}s), each in its own"
  echo "         connection, psql \\timing wall time, statement_timeout ${TIMEOUT}s, data prewarmed (pg_prewarm)."
  echo "         Ranges end at $END_TS 00:00 UTC (the data's last day is 2026-06-30), tz 'UTC'."
  echo "         floor/ext > 1 means the extension answered faster than one count(*) scan of user_behavior_logs."
} | tee "$RESULTS.tmp"

say "floor: count(*) of user_behavior_logs"
checked FL "SELECT count(*) FROM user_behavior_logs"; read -r FLOOR FLOOR_N <<<"$FL"
printf '\nFloor: SELECT count(*) FROM user_behavior_logs: %s ms\n' "$(fmt_ms "$FLOOR" "$FLOOR_N")" | tee -a "$RESULTS.tmp"

PANEL_DAYS="30 180"; [ "${BENCH_ONLY:-}" = reports ] && PANEL_DAYS=""
for days in $PANEL_DAYS; do
  F="${FROM_TS[$days]}"
  declare -A BASE=() EXT=() RAWX=()
  for p in "${PANELS[@]}"; do
    say "$days days: $p (baseline)"
    checked r "$(baseline "$p" "$F" "$END_TS")"; BASE[$p]="$r"
    say "$days days: $p (extension)"
    checked r "$(extension "$p" "$F" "$END_TS")"; EXT[$p]="$r"
    if [ "$RAW" = 1 ]; then
      say "$days days: $p (extension, use_rollups = off)"
      checked r "$(extension "$p" "$F" "$END_TS")" "mking_analytics.use_rollups = off"; RAWX[$p]="$r"
    fi
  done
  say "$days days: dashboard()"
  checked DASH "$(extension dashboard "$F" "$END_TS")"
  if [ "$RAW" = 1 ]; then
    say "$days days: dashboard() (use_rollups = off)"
    checked r "$(extension dashboard "$F" "$END_TS")" "mking_analytics.use_rollups = off"; RAWX[dashboard]="$r"
  fi
  {
    printf '\n%s-day range [%s, %s)\n\n' "$days" "$F" "$END_TS"
    row panel "baseline ms" "extension ms" "baseline/ext" "floor/ext" "ext, use_rollups=off ms"
    row "---" "---:" "---:" "---:" "---:" "---:"
    bsum=0; esum=0; rsum=0; btime=0; etime=0; rtime=0
    for p in "${PANELS[@]}"; do
      read -r bm bn <<<"${BASE[$p]}"; read -r em en <<<"${EXT[$p]}"; read -r rm rn <<<"${RAWX[$p]:-0 0}"
      [ "$bm" = timeout ] && btime=1 || bsum=$(awk -v a="$bsum" -v b="$bm" 'BEGIN{print a + b}')
      [ "$em" = timeout ] && etime=1 || esum=$(awk -v a="$esum" -v b="$em" 'BEGIN{print a + b}')
      [ "$rm" = timeout ] && rtime=1 || rsum=$(awk -v a="$rsum" -v b="$rm" 'BEGIN{print a + b}')
      row "${TITLE[$p]}" "$(fmt_ms "$bm" "$bn")" "$(fmt_ms "$em" "$en")" \
        "$(ratio "$bm" "$em")" "$(ratio "$FLOOR" "$em")" "$(fmt_ms "$rm" "$rn")"
    done
    bs="$bsum"; [ "$btime" = 1 ] && bs="timeout"
    es="$esum"; [ "$etime" = 1 ] && es="timeout"
    btxt="$(printf '%.1f' "$bsum")"; [ "$btime" = 1 ] && btxt=">$(printf '%.0f' "$bsum") (timeouts)"
    etxt="$(printf '%.1f' "$esum")"; [ "$etime" = 1 ] && etxt=">$(printf '%.0f' "$esum") (timeouts)"
    rtxt="$(printf '%.1f' "$rsum")"; [ "$rtime" = 1 ] && rtxt=">$(printf '%.0f' "$rsum") (timeouts)"
    row "**sum of the 12 panels**" "$btxt" "$etxt" "$(ratio "$bs" "$es")" "$(ratio "$FLOOR" "$es")" "$rtxt"
    read -r dm dn <<<"$DASH"; read -r rm rn <<<"${RAWX[dashboard]:-0 0}"
    row "**dashboard() (one call)**" "$btxt" "$(fmt_ms "$dm" "$dn")" "$(ratio "$bs" "$dm")" "$(ratio "$FLOOR" "$dm")" "$(fmt_ms "$rm" "$rn")"
  } | tee -a "$RESULTS.tmp"
done

F="${FROM_TS[180]}"
if [ "${BENCH_ONLY:-}" != reports ]; then
  say "retention matrix over 180 daily cohorts x offsets 0..30"
  checked r "$(baseline retention "$F" "$END_TS")"; read -r RB RBN <<<"$r"
  checked r "$(extension retention "$F" "$END_TS")"; read -r RE REN <<<"$r"
fi
# Reports: one generate_report() per kind for the data's last day, week (Monday weeks) and month,
# plus the month before: a period with later events, which content_types/top_content read from the
# raw tables (their rollups only answer ranges with no event after them). Every run regenerates
# (upserts) the same row. Rendering is included.
REP_RUNS=("daily 2026-06-30" "weekly 2026-06-22" "monthly 2026-06-01" "monthly 2026-05-01"); declare -A REP=()
for kd in "${REP_RUNS[@]}"; do
  read -r k d <<<"$kd"
  say "report: generate_report('$k', '$d')"
  checked r "SELECT mking_analytics.generate_report('$k', '$d', 'UTC')"; REP[$kd]="$r"
done
REP_ERRORS="$(q -c "SELECT coalesce(string_agg(report_type || ': ' || (data->'section_errors')::text, '; '), 'none') FROM mking_analytics.reports WHERE jsonb_array_length(data->'section_errors') > 0")"
{
  if [ "${BENCH_ONLY:-}" != reports ]; then
  printf '\nRetention matrix: retention(%s, %s, '"'"'day'"'"', 30): 180 daily signup cohorts x offsets 0..30\n\n' "$F" "$END_TS"
  printf '| %-30s | %18s | %18s | %13s | %10s |\n' query "baseline ms" "extension ms" "baseline/ext" "floor/ext"
  printf '| %-30s | %18s | %18s | %13s | %10s |\n' "---" "---:" "---:" "---:" "---:"
  printf '| %-30s | %18s | %18s | %13s | %10s |\n' "retention, 180 cohorts x 0..30" "$(fmt_ms "$RB" "$RBN")" "$(fmt_ms "$RE" "$REN")" "$(ratio "$RB" "$RE")" "$(ratio "$FLOOR" "$RE")"
  fi
  printf '\nReports: generate_report(kind, period, '"'"'UTC'"'"') (gather, judge, render, store, log); section errors: %s\n\n' "$REP_ERRORS"
  printf '| %-30s | %18s |\n' report "ms" "---" "---:"
  for kd in "${REP_RUNS[@]}"; do
    read -r rm rn <<<"${REP[$kd]}"
    printf '| %-30s | %18s |\n' "$kd" "$(fmt_ms "$rm" "$rn")"
  done
  printf '\nBenchmark wall time: %ss (without data generation); load average at the end: %s\n' \
    "$(( $(date +%s) - T_RUN ))" "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
say "results written to ${RESULTS#$REPO/}"
fi   # BENCH_ONLY

# ---- change capture: insert overhead and refresh under concurrent inserts (bench/capture.sh) ----
# In a scratch file copy of $DB (dropped at the end; the benchmark data stays as generated):
# single-row and bulk inserts with capture off/on, and refresh_rollups() every few seconds while
# pgbench inserts, with lag probes and a rollups-vs-raw check. About 3 minutes. Appended to the
# results file; with BENCH_ONLY=capture written to bench/results-<SCALE>-capture.txt.
# BENCH_CAPTURE=0 skips it.
if [ "${BENCH_CAPTURE:-1}" = 1 ] && [ "${BENCH_ONLY:-}" != reports ]; then
  if [ "$ROLLUPS" = 0 ]; then
    say "change capture: this build has no refresh_rollups(), skipped"
  else
    say "change capture: insert overhead and refresh throughput (bench/capture.sh)"
    CAP_OUT="$RESULTS"; [ "${BENCH_ONLY:-}" = capture ] && { CAP_OUT="$REPO/bench/results-$SCALE-capture.txt"; : >"$CAP_OUT"; }
    BINDIR="$BINDIR" SOCKDIR="$SOCKDIR" PORT="$(current_port)" SRC_DB="$DB" \
      CAP_BUILD="mking_analytics.so of $(date -u -r "$SO_SNAP" '+%Y-%m-%d %H:%M UTC') (md5 $(md5sum "$SO_SNAP" | cut -c1-12))" bash "$REPO/bench/capture.sh" >"$CAP_OUT.cap.tmp" ||
      { cat "$CAP_OUT.cap.tmp" >&2; rm -f "$CAP_OUT.cap.tmp"; die "bench/capture.sh failed"; }
    tee -a "$CAP_OUT" <"$CAP_OUT.cap.tmp"; rm -f "$CAP_OUT.cap.tmp"
    say "change-capture results appended to ${CAP_OUT#$REPO/}"
  fi
fi
