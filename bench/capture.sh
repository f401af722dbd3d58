#!/usr/bin/env bash
# Change capture in the benchmark (issue 3): what it costs the platform's inserts, and whether the
# refresh keeps up while a second connection inserts continuously. Called by scripts/bench.sh after
# the main measurements (or alone: BENCH_ONLY=capture scripts/bench.sh SCALE); prints a report.
#
# Everything runs in a scratch database, a file copy of the benchmark database (same data, same
# rollups, change capture installed), dropped at the end, so the benchmark data stays as generated.
#
#  1. Refresh under concurrent inserts: pgbench (CAPTURE_CLIENTS clients, CAPTURE_WRITE_T seconds)
#     inserts into likes and user_behavior_logs, single rows at now() and batches of CAPTURE_BATCH
#     rows spread over the last 2 hours (late events, so most land in hours the rollups already
#     cover), while this connection calls refresh_rollups() every CAPTURE_EVERY seconds. A probe
#     loop commits a like in the previous (closed) hour every 0.5 s; after each refresh the probes
#     found in rollup_hours (user_set_contains) get their "seen" time: lag = seen - commit.
#     At the end: one catch-up refresh, then active_users and engagement_trend over the last day
#     with use_rollups on and off, in one REPEATABLE READ snapshot, must be equal.
#  2. Insert overhead: pgbench, CAPTURE_CLIENTS clients, CAPTURE_T seconds per run, four workloads
#     (single-row autocommit INSERT and INSERT ... SELECT generate_series(1, CAPTURE_BULK), into
#     likes and user_behavior_logs), synchronous_commit = CAPTURE_SYNC (default off: the WAL
#     flush of each commit, ~1 ms and very noisy on a shared disk, would otherwise dominate and
#     hide the trigger's CPU cost, so off gives the larger, stricter overhead figure),
#     capture off / on / on / off, CAPTURE_ROUNDS times
#     (remove_change_capture() / install_change_capture()); overhead = 1 - mean on / mean off.
#
# Environment (set by scripts/bench.sh): BINDIR SOCKDIR PORT SRC_DB; optional CAPTURE_T=3,
# CAPTURE_ROUNDS=2, CAPTURE_SYNC=off, CAPTURE_WRITE_T=60, CAPTURE_EVERY=5, CAPTURE_CLIENTS=2, CAPTURE_BATCH=500,
# CAPTURE_BULK=10000.
set -euo pipefail

: "${BINDIR:?}" "${SOCKDIR:?}" "${PORT:?}" "${SRC_DB:?}"
T="${CAPTURE_T:-3}"
WRITE_T="${CAPTURE_WRITE_T:-60}"
EVERY="${CAPTURE_EVERY:-5}"
CLIENTS="${CAPTURE_CLIENTS:-2}"
BATCH="${CAPTURE_BATCH:-500}"
ROUNDS="${CAPTURE_ROUNDS:-2}"
SYNC="${CAPTURE_SYNC:-off}"   # synchronous_commit of the overhead runs (the writer of part 1 keeps on)
BULK="${CAPTURE_BULK:-10000}"
DB="mking_bench_capture"

say() { echo "==> capture: $*" >&2; }
psql_c() { "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U postgres "$@"; }
qs() { psql_c -d "$DB" -tA "$@"; }
now_s() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b - a}'; }
pgb() { "$BINDIR/pgbench" -h "$SOCKDIR" -p "$PORT" -U postgres -n "$@" "$DB"; }

TMP="$(mktemp -d)"
PROBE_PID=""
finish() {
  local rc=$?
  [ -n "$PROBE_PID" ] && kill "$PROBE_PID" 2>/dev/null || true
  psql_c -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
  exit "$rc"
}
trap finish EXIT

T0=$(now_s)
say "scratch database $DB: file copy of $SRC_DB"
psql_c -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB TEMPLATE $SRC_DB STRATEGY FILE_COPY" >/dev/null
COPY_S=$(sub "$T0" "$(now_s)")
USERS=$(qs -c "SELECT max(id) FROM users")
POSTS=$(qs -c "SELECT max(id) FROM posts")
qs >/dev/null <<'SQL'
CREATE SCHEMA IF NOT EXISTS bench;
-- Ids of inserted rows: single rows from 10^12, batches from 2*10^12 (base * 100000 + g).
CREATE SEQUENCE bench.cap_row START 1000000000000;
CREATE SEQUENCE bench.cap_batch START 20000000;
CREATE SEQUENCE bench.cap_probe_seq;
CREATE TABLE bench.cap_probe (uid bigint PRIMARY KEY, hour timestamptz NOT NULL,
                              committed_at timestamptz NOT NULL, seen_at timestamptz);
SQL

# ---- pgbench scripts --------------------------------------------------------------------------
NOW="(now() AT TIME ZONE 'UTC')"
cat >"$TMP/like_single.sql" <<EOF
\set u random(1, :users)
\set p random(1, :posts)
INSERT INTO likes (id, user_id, post_id, created_at) VALUES (nextval('bench.cap_row'), :u, :p, $NOW);
EOF
cat >"$TMP/session_single.sql" <<EOF
\set u random(1, :users)
\set d random(1, 4)
\set pv random(1, 30)
\set ts random(10, 1800)
INSERT INTO user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at)
VALUES (nextval('bench.cap_row'), :u, md5(random()::text), (ARRAY['android','ios','web','desktop'])[:d], :pv, :ts, $NOW);
EOF
# many NAME ROWS SPAN_SECONDS: INSERT ... SELECT of ROWS rows, timestamps spread over the last SPAN.
many() {
  local ids="b.base + g FROM (SELECT nextval('bench.cap_batch') * 100000 AS base) b, generate_series(1, $2) g"
  local ts="$NOW - random() * $3 * interval '1 second'"
  case "$1" in
  like) echo "INSERT INTO likes (id, user_id, post_id, created_at)
SELECT b.base + g, 1 + floor(random() * :users)::bigint, 1 + floor(random() * :posts)::bigint, $ts
  FROM (SELECT nextval('bench.cap_batch') * 100000 AS base) b, generate_series(1, $2) g;" ;;
  session) echo "INSERT INTO user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at)
SELECT b.base + g, 1 + floor(random() * :users)::bigint, md5(random()::text),
       (ARRAY['android','ios','web','desktop'])[1 + floor(random() * 4)::int], 1 + floor(random() * 30)::int,
       10 + floor(random() * 1800)::int, $ts
  FROM (SELECT nextval('bench.cap_batch') * 100000 AS base) b, generate_series(1, $2) g;" ;;
  esac
}
many like "$BULK" 3600 >"$TMP/like_bulk.sql"
many session "$BULK" 3600 >"$TMP/session_bulk.sql"
many like "$BATCH" 7200 >"$TMP/like_batch.sql"
many session "$BATCH" 7200 >"$TMP/session_batch.sql"
VARS=(-D "users=$USERS" -D "posts=$POSTS")

# refresh: one timed refresh_rollups() call -> "seconds events hours statuses"
refresh() {
  local t0 r
  t0=$(now_s)
  r="$(qs -F ' ' -c "SELECT coalesce(sum(events_processed), 0), coalesce(sum(hours_processed), 0),
                            string_agg(DISTINCT status, ',') FROM mking_analytics.refresh_rollups()")"
  echo "$(sub "$t0" "$(now_s)") $r"
}

# ---- 1. refresh while a second connection inserts -------------------------------------------------
# Bring the copy's rollups up to date (hours that closed since the benchmark built them; builds
# them when the benchmark ran with BENCH_ROLLUPS=0).
for i in 1 2 3 4; do
  read -r s e h st <<<"$(refresh)"
  [ "$i" -gt 1 ] && [[ "$st" != *built* ]] && [[ "$st" != *installed* ]] && break
done

say "refresh every ${EVERY}s while pgbench inserts for ${WRITE_T}s ($CLIENTS clients)"
MAX0=$(qs -c "SELECT (SELECT count(*) FROM likes WHERE id >= 1000000000000) + (SELECT count(*) FROM user_behavior_logs WHERE id >= 1000000000000)")
(
  while [ ! -e "$TMP/stop" ]; do
    qs >/dev/null -c "WITH p AS (INSERT INTO bench.cap_probe (uid, hour, committed_at)
        VALUES (900000000 + nextval('bench.cap_probe_seq'), date_trunc('hour', now() - interval '1 hour', 'UTC'), clock_timestamp())
        RETURNING uid, hour)
      INSERT INTO likes (id, user_id, post_id, created_at)
      SELECT nextval('bench.cap_row'), uid, 1, (hour + interval '30 minutes') AT TIME ZONE 'UTC' FROM p" || true
    sleep 0.5
  done
) &
PROBE_PID=$!
W0=$(now_s)
pgb -c "$CLIENTS" -j "$CLIENTS" -T "$WRITE_T" "${VARS[@]}" \
  -f "$TMP/like_single.sql@1" -f "$TMP/like_batch.sql@1" -f "$TMP/session_single.sql@1" -f "$TMP/session_batch.sql@1" \
  >"$TMP/writer.out" 2>&1 &
WRITER=$!
mark_seen() {
  qs >/dev/null -c "UPDATE bench.cap_probe p SET seen_at = clock_timestamp() WHERE seen_at IS NULL AND EXISTS (
      SELECT 1 FROM mking_analytics.rollup_hours h
       WHERE h.source_name = 'like' AND h.hour = p.hour AND mking_analytics.user_set_contains(h.users, p.uid))"
}
: >"$TMP/refreshes"
sleep 1
while kill -0 "$WRITER" 2>/dev/null; do
  t0=$(now_s)
  r="$(refresh)"; mark_seen
  echo "$(sub "$W0" "$t0") $r" >>"$TMP/refreshes"
  rest=$(awk -v a="$t0" -v b="$(now_s)" -v e="$EVERY" 'BEGIN{r = e - (b - a); print (r > 0 ? r : 0)}')
  for ((k = 0; k < 10; k++)); do kill -0 "$WRITER" 2>/dev/null || break; sleep "$(awk -v r="$rest" 'BEGIN{print r / 10}')"; done
done
wait "$WRITER" || { cat "$TMP/writer.out" >&2; echo "capture: the writer failed" >&2; exit 1; }
touch "$TMP/stop"; wait "$PROBE_PID" || true; PROBE_PID=""
read -r CS CE CH CST <<<"$(refresh)"; mark_seen
INSERTED=$(( $(qs -c "SELECT (SELECT count(*) FROM likes WHERE id >= 1000000000000) + (SELECT count(*) FROM user_behavior_logs WHERE id >= 1000000000000)") - MAX0 ))
LATE=$(qs -c "SELECT round(100.0 * count(*) FILTER (WHERE created_at < date_trunc('hour', now() AT TIME ZONE 'UTC')) / greatest(count(*), 1))
              FROM (SELECT created_at FROM likes WHERE id >= 1000000000000 UNION ALL SELECT created_at FROM user_behavior_logs WHERE id >= 1000000000000) x")
WTPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$TMP/writer.out")
WSECS=$(sed -n 's/^duration: \([0-9.]*\) s.*/\1/p' "$TMP/writer.out")   # pgbench's own run time
# Exactness: rollups vs raw in one snapshot, yesterday and today (UTC), after the catch-up refresh.
EXACT=$(qs <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TEMP TABLE r AS SELECT date_trunc('day', now(), 'UTC') - interval '1 day' AS f, date_trunc('day', now(), 'UTC') + interval '1 day' AS t;
SET LOCAL mking_analytics.use_rollups = on;
CREATE TEMP TABLE a_on AS
  SELECT 'active_users' AS q, x::text AS v FROM r, mking_analytics.active_users(r.f, r.t, 'day', 'UTC') x
  UNION ALL SELECT 'engagement_trend', x::text FROM r, mking_analytics.engagement_trend(r.f, r.t, 'day', 'UTC') x;
SET LOCAL mking_analytics.use_rollups = off;
CREATE TEMP TABLE a_off AS
  SELECT 'active_users' AS q, x::text AS v FROM r, mking_analytics.active_users(r.f, r.t, 'day', 'UTC') x
  UNION ALL SELECT 'engagement_trend', x::text FROM r, mking_analytics.engagement_trend(r.f, r.t, 'day', 'UTC') x;
SELECT CASE WHEN NOT EXISTS (SELECT * FROM a_on EXCEPT ALL SELECT * FROM a_off)
             AND NOT EXISTS (SELECT * FROM a_off EXCEPT ALL SELECT * FROM a_on)
            THEN 'equal' ELSE 'DIFFERENT' END
       || format(' (yesterday and today UTC, day buckets, one REPEATABLE READ snapshot; with rollups: %s)',
                 (SELECT string_agg(q || ' ' || v, '; ' ORDER BY q, v) FROM a_on));
COMMIT;
SQL
)
PROBES=$(qs -F ' ' -c "SELECT count(*), count(seen_at),
    round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY seen_at - committed_at))::numeric, 1),
    round(extract(epoch FROM max(seen_at - committed_at))::numeric, 1) FROM bench.cap_probe")
read -r NPROBE NSEEN LAG_MED LAG_MAX <<<"$PROBES"
REF_STATS=$(awk '{n++; s += $2; e += $3; if ($2 > m) m = $2; st[n] = $1}
  END { if (n == 0) { print "0 0 0 0 0"; exit }
        gap = 0; for (i = 2; i <= n; i++) if (st[i] - st[i - 1] > gap) gap = st[i] - st[i - 1];
        printf "%d %.2f %.0f %.0f %.1f\n", n, m, e, (s > 0 ? e / s : 0), gap }' "$TMP/refreshes")
DMED=$(awk '{print $2}' "$TMP/refreshes" | sort -g | awk '{a[NR] = $1} END {if (NR == 0) print 0; else printf "%.2f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
read -r NREF DMAX EVSUM EVRATE GAPMAX <<<"$REF_STATS"

# ---- 2. insert overhead, capture off / on / on / off ------------------------------------------------
WORK=(like_single like_bulk session_single session_bulk)
declare -A ROWS=([like_single]=1 [session_single]=1 [like_bulk]=$BULK [session_bulk]=$BULK)
declare -A RS=()
PHASES=(); for ((i = 0; i < ROUNDS; i++)); do PHASES+=(off on on off); done
prev=""
for phase in "${PHASES[@]}"; do
  if [ "$phase" != "$prev" ]; then
    if [ "$phase" = off ]; then qs -c "SELECT count(*) FROM mking_analytics.remove_change_capture()" >/dev/null
    else qs -c "SELECT count(*) FROM mking_analytics.install_change_capture()" >/dev/null; fi
    qs -c "CHECKPOINT" >/dev/null
    prev="$phase"
  fi
  for w in "${WORK[@]}"; do
    say "overhead: $w, capture $phase, ${T}s"
    out="$(PGOPTIONS="-c synchronous_commit=$SYNC" pgb -c "$CLIENTS" -j "$CLIENTS" -T "$T" "${VARS[@]}" -f "$TMP/$w.sql" 2>&1)" ||
      { echo "$out" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
    RS[$w,$phase]+="$(awk -v t="$tps" -v r="${ROWS[$w]}" 'BEGIN{printf "%.0f", t * r}') "
  done
done
END_S=$(sub "$T0" "$(now_s)")

# ---- report ---------------------------------------------------------------------------------------
echo
echo "Change capture (bench/capture.sh) — $(date -u '+%Y-%m-%d %H:%M UTC'), scratch copy of $SRC_DB (${COPY_S}s), load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${CAP_BUILD:-}" ] && echo "Build: $CAP_BUILD"
echo
echo "Refresh while a second connection inserts: pgbench $CLIENTS clients for ${WRITE_T}s, single rows at now() and batches of $BATCH"
echo "rows over the last 2 h ($LATE% of the rows landed in closed hours), into likes and user_behavior_logs; refresh_rollups()"
echo "every ${EVERY}s from this connection; a probe like in the previous hour committed every 0.5s."
echo
printf '| %-44s | %26s |\n' measure value
printf '| %-44s | %26s |\n' "---" "---:"
printf '| %-44s | %26s |\n' "rows inserted (writer + probes)" "$INSERTED in ${WSECS}s"
printf '| %-44s | %26s |\n' "inserted rows/s" "$(awk -v a="$INSERTED" -v s="$WSECS" 'BEGIN{printf "%.0f", a / s}') (writer tps $(printf '%.0f' "$WTPS"))"
printf '| %-44s | %26s |\n' "refreshes during the writes" "$NREF, started every ${EVERY}s (max gap ${GAPMAX}s)"
printf '| %-44s | %26s |\n' "refresh duration median / max" "${DMED}s / ${DMAX}s"
printf '| %-44s | %26s |\n' "events recomputed by refreshes" "$EVSUM"
printf '| %-44s | %26s |\n' "refresh rows/s (events / refresh time)" "$EVRATE"
printf '| %-44s | %26s |\n' "catch-up refresh after the writer stopped" "${CS}s, $CE events, $CH hours"
printf '| %-44s | %26s |\n' "lag, commit -> in rollups, median / max" "${LAG_MED}s / ${LAG_MAX}s ($NSEEN of $NPROBE probes seen)"
printf '| %-44s | %26s |\n' "rows at now(): in rollups" "when their hour closes + next refresh"
printf '| %-44s | %26s |\n' "answers use_rollups on = off (end of run)" "${EXACT%% *}"
echo
echo "Exactness check, active_users and engagement_trend: ${EXACT}"
echo "Refreshes (s since the writer started, duration s, events, hours, status):"
sed 's/^/    /' "$TMP/refreshes"
echo
echo "Insert overhead of change capture: pgbench $CLIENTS clients, ${T}s per run, autocommit, synchronous_commit $SYNC, capture"
echo "off, on, on, off x $ROUNDS (remove_change_capture() / install_change_capture()); mean rows/s; overhead = 1 - on/off."
echo
printf '| %-46s | %9s | %9s | %9s | %-30s | %-30s |\n' workload "off rows/s" "on rows/s" overhead "runs off" "runs on"
printf '| %-46s | %9s | %9s | %9s | %-30s | %-30s |\n' "---" "---:" "---:" "---:" "---" "---"
declare -A LABEL=([like_single]="likes, single-row INSERT" [like_bulk]="likes, INSERT ... SELECT $BULK rows"
                  [session_single]="user_behavior_logs, single-row INSERT" [session_bulk]="user_behavior_logs, INSERT ... SELECT $BULK rows")
for w in "${WORK[@]}"; do
  awk -v l="${LABEL[$w]}" -v a="${RS[$w,off]}" -v b="${RS[$w,on]}" 'BEGIN{
    n = split(a, x, " "); m = split(b, y, " "); off = 0; on = 0
    for (i = 1; i <= n; i++) off += x[i] / n; for (i = 1; i <= m; i++) on += y[i] / m
    printf "| %-46s | %9.0f | %9.0f | %8.1f%% | %-30s | %-30s |\n", l, off, on, 100 * (1 - on / off), a, b }'
done
echo
echo "Change-capture part: ${END_S}s in all."
