-- ============================================================================================
-- Reference oracle for mking_analytics, in plain SQL, written from docs metrics.md only.
--
-- It reads the platform's default tables (tables.md) directly: every activity source of the
-- default configuration (session, post, like, comment, share, follow; `signup` is not activity),
-- plain `timestamp` columns taken as UTC (or mking_analytics.source_timezone when set). Nothing here is clever: every bucket is generated with
-- generate_series over LOCAL bucket starts and every value is recounted from the raw rows with a
-- sub-select over the whole bucket [bucket start, next bucket start).
--
-- Settings read: TimeZone (tz NULL), mking_analytics.week_start ('sunday' or Monday otherwise),
-- oracle.on_or_after_upper ('period' (default): `on_or_after` counts activity up to the END of the
-- last observed period, i.e. the period containing as_of; 'as_of': only activity before as_of).
-- ============================================================================================
CREATE SCHEMA oracle;

-- The zone a call works in: tz, or the session's TimeZone when tz is NULL.
CREATE FUNCTION oracle.zone(tz text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT coalesce(tz, current_setting('TimeZone')) $$;

CREATE FUNCTION oracle.sunday_weeks() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT lower(coalesce(nullif(current_setting('mking_analytics.week_start', true), ''), 'monday')) = 'sunday'
$$;

-- Zone of plain `timestamp` source columns: mking_analytics.source_timezone, UTC by default.
CREATE FUNCTION oracle.src_tz() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('mking_analytics.source_timezone', true), ''), 'UTC')
$$;

CREATE FUNCTION oracle.step(unit text) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT ('1 ' || unit)::interval $$;

-- Local (wall-clock) start of the bucket containing instant ts.
CREATE FUNCTION oracle.trunc_local(ts timestamptz, unit text, z text) RETURNS timestamp
LANGUAGE sql STABLE AS $$
  SELECT CASE
           WHEN unit = 'week' AND oracle.sunday_weeks()
             THEN date_trunc('week', (ts AT TIME ZONE z) + interval '1 day') - interval '1 day'
           ELSE date_trunc(unit, ts AT TIME ZONE z)
         END
$$;

-- Every bucket overlapping [f, t): index (1-based), local start, absolute start and end.
CREATE FUNCTION oracle.buckets(f timestamptz, t timestamptz, unit text, z text)
RETURNS TABLE(idx int, lstart timestamp, bstart timestamptz, bend timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT (row_number() OVER (ORDER BY l))::int,
         l,
         l AT TIME ZONE z,
         (l + oracle.step(unit)) AT TIME ZONE z
  FROM generate_series(oracle.trunc_local(f, unit, z), t AT TIME ZONE z, oracle.step(unit)) AS g(l)
  WHERE f < t
    AND (l AT TIME ZONE z) < t
$$;

-- Absolute instant of a local wall-clock time.
CREATE FUNCTION oracle.at(l timestamp, z text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$ SELECT l AT TIME ZONE z $$;

-- ---------------------------------------------------------------- raw events -----------------
CREATE VIEW oracle.activity AS
          SELECT 'session'::text AS source, user_id::bigint AS user_id, created_at AT TIME ZONE oracle.src_tz() AS ts
            FROM public.user_behavior_logs WHERE user_id IS NOT NULL AND created_at IS NOT NULL
UNION ALL SELECT 'post', user_id, created_at AT TIME ZONE oracle.src_tz()
            FROM public.posts WHERE user_id IS NOT NULL AND created_at IS NOT NULL
UNION ALL SELECT 'like', user_id, created_at AT TIME ZONE oracle.src_tz()
            FROM public.likes WHERE user_id IS NOT NULL AND created_at IS NOT NULL
UNION ALL SELECT 'comment', user_id, created_at AT TIME ZONE oracle.src_tz()
            FROM public.comments WHERE user_id IS NOT NULL AND created_at IS NOT NULL
UNION ALL SELECT 'share', user_id, created_at AT TIME ZONE oracle.src_tz()
            FROM public.shares WHERE user_id IS NOT NULL AND created_at IS NOT NULL
UNION ALL SELECT 'follow', follower_id, created_at AT TIME ZONE oracle.src_tz()
            FROM public.follows WHERE follower_id IS NOT NULL AND created_at IS NOT NULL;

-- Activity rows of the sources named in `events` ('any' = all activity sources).
CREATE FUNCTION oracle.act(events text[]) RETURNS TABLE(user_id bigint, ts timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT a.user_id, a.ts FROM oracle.activity a
  WHERE 'any' = ANY (events) OR a.source = ANY (events)
$$;

CREATE VIEW oracle.signups AS
  SELECT id::bigint AS user_id, created_at AT TIME ZONE oracle.src_tz() AS ts
  FROM public.users WHERE created_at IS NOT NULL;

-- ---------------------------------------------------------------- new_users ------------------
CREATE FUNCTION oracle.new_users(from_ts timestamptz, to_ts timestamptz, bucket text DEFAULT 'day',
                                 tz text DEFAULT NULL)
RETURNS TABLE("time" timestamptz, new_users bigint)
LANGUAGE sql STABLE AS $$
  SELECT b.bstart,
         (SELECT count(DISTINCT s.user_id) FROM oracle.signups s
           WHERE s.ts >= b.bstart AND s.ts < b.bend)
  FROM oracle.buckets(from_ts, to_ts, bucket, oracle.zone(tz)) b
  ORDER BY b.bstart
$$;

-- ---------------------------------------------------------------- active_users ---------------
CREATE FUNCTION oracle.active_users(from_ts timestamptz, to_ts timestamptz, bucket text DEFAULT 'day',
                                    tz text DEFAULT NULL, events text[] DEFAULT '{any}',
                                    rolling int DEFAULT 1)
RETURNS TABLE("time" timestamptz, active_users bigint)
LANGUAGE sql STABLE AS $$
  SELECT b.bstart,
         (SELECT count(DISTINCT a.user_id) FROM oracle.act(events) a
           WHERE a.ts >= oracle.at(b.lstart - (rolling - 1) * oracle.step(bucket), oracle.zone(tz))
             AND a.ts < b.bend)
  FROM oracle.buckets(from_ts, to_ts, bucket, oracle.zone(tz)) b
  ORDER BY b.bstart
$$;

-- ---------------------------------------------------------------- retention ------------------
-- Cohort members: one row per (cohort bucket index, user).
CREATE FUNCTION oracle.cohort_members(from_ts timestamptz, to_ts timestamptz, period text,
                                      cohort text, z text, events text[])
RETURNS TABLE(idx int, user_id bigint)
LANGUAGE sql STABLE AS $$
  -- signup: signup instant in [from_ts, to_ts) exactly, grouped by its period
  SELECT b.idx, s.user_id
    FROM oracle.buckets(from_ts, to_ts, period, z) b
    JOIN oracle.signups s
      ON s.ts >= from_ts AND s.ts < to_ts AND s.ts >= b.bstart AND s.ts < b.bend
   WHERE cohort = 'signup'
  UNION
  -- first_activity: first (events-filtered) activity ever in [from_ts, to_ts) exactly
  SELECT b.idx, f.user_id
    FROM oracle.buckets(from_ts, to_ts, period, z) b
    JOIN (SELECT a.user_id, min(a.ts) AS first_ts FROM oracle.act(events) a GROUP BY a.user_id) f
      ON f.first_ts >= from_ts AND f.first_ts < to_ts AND f.first_ts >= b.bstart AND f.first_ts < b.bend
   WHERE cohort = 'first_activity'
  UNION
  -- recurring: every (whole) period of the range in which the user is active
  SELECT b.idx, a.user_id
    FROM oracle.buckets(from_ts, to_ts, period, z) b
    JOIN oracle.act(events) a ON a.ts >= b.bstart AND a.ts < b.bend
   WHERE cohort = 'recurring'
$$;

CREATE FUNCTION oracle.retention(from_ts timestamptz, to_ts timestamptz, period text DEFAULT 'day',
                                 periods int DEFAULT 30, cohort text DEFAULT 'signup',
                                 mode text DEFAULT 'on', tz text DEFAULT NULL,
                                 as_of timestamptz DEFAULT now(), events text[] DEFAULT '{any}')
RETURNS TABLE(cohort timestamptz, cohort_size bigint, period_offset int, retained bigint,
              retention_rate numeric)
LANGUAGE sql STABLE AS $$
  WITH m AS (
    SELECT * FROM oracle.cohort_members(from_ts, to_ts, period, cohort, oracle.zone(tz), events)
  ),
  -- one cell per (cohort period, offset); cl = local start of the period cohort+offset
  cells AS (
    SELECT b.idx, b.bstart, o AS off,
           b.lstart + o * oracle.step(period) AS cl,
           oracle.at(b.lstart + o * oracle.step(period), oracle.zone(tz)) AS cstart
      FROM oracle.buckets(from_ts, to_ts, period, oracle.zone(tz)) b,
           generate_series(0, periods) AS o
  ),
  sizes AS (SELECT m.idx, count(*) AS n FROM m GROUP BY m.idx),
  -- (user, local start of a period in which the user is active)
  act_p AS (
    SELECT DISTINCT a.user_id, oracle.trunc_local(a.ts, period, oracle.zone(tz)) AS p
      FROM oracle.act(events) a
  ),
  -- per user: last active period that is observed (starts before as_of), last activity before as_of
  last_seen AS (
    SELECT x.user_id, max(x.p) AS last_obs_p
      FROM act_p x WHERE oracle.at(x.p, oracle.zone(tz)) < as_of GROUP BY x.user_id
  ),
  last_ts AS (
    SELECT a.user_id, max(a.ts) AS last_ts FROM oracle.act(events) a WHERE a.ts < as_of GROUP BY a.user_id
  ),
  -- mode 'on': active in exactly the period cohort+N
  on_counts AS (
    SELECT c.idx, c.off, count(*) AS n
      FROM cells c
      JOIN m ON m.idx = c.idx
      JOIN act_p x ON x.user_id = m.user_id AND x.p = c.cl
     GROUP BY c.idx, c.off
  ),
  -- mode 'on_or_after': active in period cohort+N or any later observed period
  -- (oracle.on_or_after_upper = 'as_of': any activity in [start of cohort+N, as_of))
  ooa_counts AS (
    SELECT c.idx, c.off, count(*) AS n
      FROM cells c
      JOIN m ON m.idx = c.idx
      LEFT JOIN last_seen l ON l.user_id = m.user_id
      LEFT JOIN last_ts t ON t.user_id = m.user_id
     WHERE CASE WHEN coalesce(current_setting('oracle.on_or_after_upper', true), '') = 'as_of'
                  THEN t.last_ts >= c.cstart
                ELSE l.last_obs_p >= c.cl END
     GROUP BY c.idx, c.off
  ),
  r AS (
    SELECT c.bstart, c.off, coalesce(s.n, 0) AS size,
           CASE
             WHEN c.cstart >= as_of THEN NULL          -- not observed yet
             WHEN c.off = 0 THEN coalesce(s.n, 0)
             WHEN mode = 'on' THEN coalesce(oc.n, 0)
             ELSE coalesce(oo.n, 0)
           END AS ret
      FROM cells c
      LEFT JOIN sizes s ON s.idx = c.idx
      LEFT JOIN on_counts oc ON oc.idx = c.idx AND oc.off = c.off
      LEFT JOIN ooa_counts oo ON oo.idx = c.idx AND oo.off = c.off
  )
  SELECT r.bstart, r.size, r.off, r.ret,
         CASE WHEN r.size = 0 OR r.ret IS NULL THEN NULL
              ELSE round(100.0 * r.ret / r.size, 2) END
    FROM r
   ORDER BY r.bstart, r.off
$$;

-- ---------------------------------------------------------------- retention_summary ----------
CREATE FUNCTION oracle.retention_summary(from_ts timestamptz, to_ts timestamptz, tz text DEFAULT NULL,
                                         as_of timestamptz DEFAULT now())
RETURNS TABLE(cohort_date date, cohort_size bigint, day_1_retained bigint, day_7_retained bigint,
              day_30_retained bigint, day_1_rate numeric, day_7_rate numeric, day_30_rate numeric)
LANGUAGE sql STABLE AS $$
  SELECT (r.cohort AT TIME ZONE oracle.zone(tz))::date,
         max(r.cohort_size),
         max(r.retained) FILTER (WHERE r.period_offset = 1),
         max(r.retained) FILTER (WHERE r.period_offset = 7),
         max(r.retained) FILTER (WHERE r.period_offset = 30),
         max(r.retention_rate) FILTER (WHERE r.period_offset = 1),
         max(r.retention_rate) FILTER (WHERE r.period_offset = 7),
         max(r.retention_rate) FILTER (WHERE r.period_offset = 30)
    FROM oracle.retention(from_ts, to_ts, 'day', 30, 'signup', 'on', tz, as_of, '{any}') r
   GROUP BY r.cohort
   ORDER BY r.cohort
$$;

-- ---------------------------------------------------------------- lifecycle ------------------
CREATE FUNCTION oracle.lifecycle(from_ts timestamptz, to_ts timestamptz, period text DEFAULT 'day',
                                 tz text DEFAULT NULL, events text[] DEFAULT '{any}')
RETURNS TABLE("time" timestamptz, status text, users bigint)
LANGUAGE sql STABLE AS $$
  WITH b AS (SELECT * FROM oracle.buckets(from_ts, to_ts, period, oracle.zone(tz))),
  -- (user, local period start) pairs with activity / with the signup
  act_p AS (SELECT DISTINCT a.user_id, oracle.trunc_local(a.ts, period, oracle.zone(tz)) AS p
              FROM oracle.act(events) a),
  sign_p AS (SELECT DISTINCT s.user_id, oracle.trunc_local(s.ts, period, oracle.zone(tz)) AS p
               FROM oracle.signups s),
  now_p  AS (SELECT b.bstart, x.user_id FROM b JOIN act_p x ON x.p = b.lstart),
  prev_p AS (SELECT b.bstart, x.user_id FROM b JOIN act_p x ON x.p = b.lstart - oracle.step(period)),
  sgn_p  AS (SELECT b.bstart, x.user_id FROM b JOIN sign_p x ON x.p = b.lstart),
  -- every user active in the period or the previous one, with three flags
  cls AS MATERIALIZED (
    SELECT coalesce(n.bstart, p.bstart) AS bstart,
           coalesce(n.user_id, p.user_id) AS user_id,
           n.user_id IS NOT NULL AS now_active,
           p.user_id IS NOT NULL AS prev_active,
           EXISTS (SELECT 1 FROM sgn_p g WHERE g.bstart = coalesce(n.bstart, p.bstart)
                                            AND g.user_id = coalesce(n.user_id, p.user_id)) AS signed_now
      FROM now_p n FULL JOIN prev_p p ON n.bstart = p.bstart AND n.user_id = p.user_id
  )
  SELECT b.bstart, s.status,
         (SELECT count(*) FROM cls c WHERE c.bstart = b.bstart AND
            CASE s.status
              WHEN 'new'          THEN c.now_active AND c.signed_now
              WHEN 'returning'    THEN c.now_active AND c.prev_active AND NOT c.signed_now
              WHEN 'resurrecting' THEN c.now_active AND NOT c.prev_active AND NOT c.signed_now
              WHEN 'dormant'      THEN c.prev_active AND NOT c.now_active
            END)
    FROM b, (VALUES ('new'), ('returning'), ('resurrecting'), ('dormant')) AS s(status)
   ORDER BY b.bstart, s.status
$$;

-- ---------------------------------------------------------------- stickiness -----------------
CREATE FUNCTION oracle.stickiness(from_ts timestamptz, to_ts timestamptz, period text DEFAULT 'day',
                                  tz text DEFAULT NULL, events text[] DEFAULT '{any}')
RETURNS TABLE(active_periods int, users bigint)
LANGUAGE sql STABLE AS $$
  WITH b AS (SELECT * FROM oracle.buckets(from_ts, to_ts, period, oracle.zone(tz))),
  -- the bucket of an event is the one whose local start is the event's local period start
  per_user AS MATERIALIZED (
    SELECT a.user_id, count(DISTINCT b.idx) AS k
      FROM oracle.act(events) a
      JOIN b ON b.lstart = oracle.trunc_local(a.ts, period, oracle.zone(tz))
     GROUP BY a.user_id
  )
  SELECT g.k::int, (SELECT count(*) FROM per_user p WHERE p.k = g.k)
    FROM generate_series(1, (SELECT count(*) FROM b)) AS g(k)
   ORDER BY g.k
$$;

-- ---------------------------------------------------------------- growth ---------------------
-- Value of a growth metric over [s, e). Duplicate events (same source, user, target and
-- timestamp) count once.
CREATE FUNCTION oracle.metric_value(metric text, s timestamptz, e timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT CASE metric
    WHEN 'new_users' THEN
      (SELECT count(DISTINCT x.user_id) FROM oracle.signups x WHERE x.ts >= s AND x.ts < e)
    WHEN 'active_users' THEN
      (SELECT count(DISTINCT a.user_id) FROM oracle.act('{any}') a WHERE a.ts >= s AND a.ts < e)
    WHEN 'posts' THEN
      (SELECT count(DISTINCT (x.user_id, x.created_at)) FROM public.posts x
        WHERE x.user_id IS NOT NULL AND x.created_at AT TIME ZONE oracle.src_tz() >= s AND x.created_at AT TIME ZONE oracle.src_tz() < e)
    WHEN 'likes' THEN
      (SELECT count(DISTINCT (x.user_id, x.post_id, x.created_at)) FROM public.likes x
        WHERE x.user_id IS NOT NULL AND x.created_at AT TIME ZONE oracle.src_tz() >= s AND x.created_at AT TIME ZONE oracle.src_tz() < e)
    WHEN 'comments' THEN
      (SELECT count(DISTINCT (x.user_id, x.post_id, x.created_at)) FROM public.comments x
        WHERE x.user_id IS NOT NULL AND x.created_at AT TIME ZONE oracle.src_tz() >= s AND x.created_at AT TIME ZONE oracle.src_tz() < e)
    WHEN 'shares' THEN
      (SELECT count(DISTINCT (x.user_id, x.post_id, x.created_at)) FROM public.shares x
        WHERE x.user_id IS NOT NULL AND x.created_at AT TIME ZONE oracle.src_tz() >= s AND x.created_at AT TIME ZONE oracle.src_tz() < e)
    WHEN 'follows' THEN
      (SELECT count(DISTINCT (x.follower_id, x.following_id, x.created_at)) FROM public.follows x
        WHERE x.follower_id IS NOT NULL AND x.created_at AT TIME ZONE oracle.src_tz() >= s AND x.created_at AT TIME ZONE oracle.src_tz() < e)
  END
$$;

CREATE FUNCTION oracle.growth(metric text, from_ts timestamptz, to_ts timestamptz,
                              period text DEFAULT 'month', tz text DEFAULT NULL)
RETURNS TABLE("time" timestamptz, value bigint, previous_value bigint, growth_rate numeric)
LANGUAGE sql STABLE AS $$
  WITH v AS (
    SELECT b.bstart,
           oracle.metric_value(metric, b.bstart, b.bend) AS cur,
           oracle.metric_value(metric, oracle.at(b.lstart - oracle.step(period), oracle.zone(tz)),
                               b.bstart) AS prev
      FROM oracle.buckets(from_ts, to_ts, period, oracle.zone(tz)) b
  )
  SELECT v.bstart, v.cur, v.prev,
         CASE WHEN v.prev IS NULL OR v.prev = 0 THEN NULL
              ELSE round(100.0 * (v.cur - v.prev) / v.prev, 2) END
    FROM v
   ORDER BY v.bstart
$$;

-- ---------------------------------------------------------------- kpis -----------------------
CREATE FUNCTION oracle.kpis(from_ts timestamptz, to_ts timestamptz, tz text DEFAULT NULL)
RETURNS TABLE(metric text, avg_value numeric, max_value bigint, min_value bigint)
LANGUAGE sql STABLE AS $$
  WITH per AS (
    SELECT k.metric, k.ord,
           (SELECT count(DISTINCT a.user_id) FROM oracle.act('{any}') a
             WHERE a.ts >= b.bstart AND a.ts < b.bend) AS n
      FROM (VALUES ('DAU', 'day', 1), ('WAU', 'week', 2), ('MAU', 'month', 3)) AS k(metric, unit, ord)
      CROSS JOIN LATERAL oracle.buckets(from_ts, to_ts, k.unit, oracle.zone(tz)) b
  ),
  agg AS (
    SELECT per.metric, per.ord, avg(per.n) AS a, max(per.n) AS mx, min(per.n) AS mn
      FROM per GROUP BY per.metric, per.ord
  )
  SELECT x.metric, x.avg_value, x.max_value, x.min_value FROM (
    SELECT agg.metric, agg.a AS avg_value, agg.mx AS max_value, agg.mn AS min_value, agg.ord FROM agg
    UNION ALL
    SELECT 'stickiness',
           round(100 * (SELECT a FROM agg WHERE metric = 'DAU') / nullif((SELECT a FROM agg WHERE metric = 'MAU'), 0), 2),
           NULL::bigint, NULL::bigint, 4
     WHERE from_ts < to_ts
  ) x
  ORDER BY x.ord
$$;
