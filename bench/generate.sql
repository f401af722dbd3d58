-- Deterministic synthetic platform data for the mking_analytics benchmark (plain SQL, psql).
--
--   psql -v sessions=10000000 [-v users=1000000] [-v seed=42] -f bench/generate.sql
--
-- Fills the platform tables in `public`, created exactly as examples/demo/schema.sql (included
-- with \ir; existing tables are dropped first). Sizes follow the session count S:
--   users = S/10 (or :users), posts = S/10, likes = S/2, comments = S/8, shares = S/20,
--   follows = S/4, user_behavior_logs = S.
-- The same (sessions, users, seed) always give the same rows: every random number is a hash of
-- (row number, stream, seed) (hashint8extended), never random() or now().
--
-- Time line: 400 days ending at 2026-07-01 00:00 UTC (last day of data: 2026-06-30). Columns are
-- plain `timestamp` holding UTC, as in the demo schema.
-- Distributions:
--   * signups: a growing platform (signup density ~ t^(1/3) over the 400 days), ids in signup
--     order (up to the weekend shift below);
--   * activity (sessions, posts, follows) is drawn time first, then who: a loyal core share
--     (sessions 50%, posts 70%, follows 50%) picks a Zipf-like rank among the users signed up by
--     then, so its volume grows with the user base and heavy users stay heavy; the rest picks a
--     recent signup (signup age exponential, 20-30 days), so a user's activity decays after
--     signup. Nothing happens before the actor's signup or after the end of the time line;
--   * weekly rhythm: 35% of weekend events move to a weekday (weekends ~57% of a weekday);
--     daily rhythm: triangular time of day peaking around 14:30 UTC;
--   * heavy tails: Zipf-like ranks (density ~ (rank + 10)^(1/k - 1)) mapped to ids by fixed
--     permutations: activity k=2, post authors k=3, followed users k=4 (at S=10M a few dozen
--     users have more than 1000 followers), post engagement k=3; likes, comments and shares
--     come soon after publication (truncated exponential, 1-3 days, 10% spread to the end);
--   * devices: android 40%, ios 30%, web 20%, desktop 10% (80% of a user's sessions on one
--     device), with different typical time spent (desktop > ios > android > web); content
--     types text 50%, image 30%, video 15%, link 5%; posts' like/comment/share counters equal
--     the event counts.
-- Loading: tables first without indexes (INSERT ... SELECT from generate_series), then the
-- schema's own primary keys and indexes are rebuilt, then VACUUM ANALYZE. Run it in a database
-- with nothing else in `public`. With wal_level = minimal the load writes almost no WAL because
-- the tables are created in the same transaction.

\set ON_ERROR_STOP 1
\if :{?sessions}
\else
\set sessions 1000000
\endif
\if :{?seed}
\else
\set seed 42
\endif
\if :{?users}
\else
SELECT (:sessions / 10)::bigint AS users \gset
\endif
SELECT (:sessions / 10)::bigint AS n_posts, (:sessions / 2)::bigint AS n_likes,
       (:sessions / 8)::bigint AS n_comments, (:sessions / 20)::bigint AS n_shares,
       (:sessions / 4)::bigint AS n_follows,
       timestamp '2026-07-01 00:00' - interval '400 days' AS t_start,
       extract(isodow FROM timestamp '2026-07-01 00:00' - interval '400 days')::int AS start_dow \gset
\echo generate: users=:users sessions=:sessions posts=:n_posts likes=:n_likes comments=:n_comments shares=:n_shares follows=:n_follows seed=:seed from :t_start

-- ---- SQL fragments (psql variables, expanded in place) -------------------------------------
-- :span      seconds in the time line (400 days).
-- :rnd(i,k)  is written out as R(expr, k) below: uniform [0,1) from 53 bits of
--            hashint8extended(expr, k * 1000003 + seed).
\set span 34560000
-- Activity offset from a start `sg` (seconds): needs columns sg, ra, rb, pl (loyal share),
-- tau (seconds). Truncated exponential so it never passes the end of the time line.
\set act_t '(sg + CASE WHEN rb < pl THEN ra * (34560000 - sg) ELSE -tau * ln(1 - ra * (1 - exp(-(34560000 - sg) / tau))) END)'
-- Day and time-of-day rhythm of a raw time `t`: needs columns t, sg, rc, rd, re. Gives z3.tsec.
\set rhythm 'CROSS JOIN LATERAL (SELECT floor(t / 86400) AS dday) z1 CROSS JOIN LATERAL (SELECT dday * 86400 + 86400 * (((rc + rd) / 2 + 0.1) - floor((rc + rd) / 2 + 0.1)) AS t2, ((dday::bigint + ' :start_dow ' - 1) % 7) + 1 AS dow) z2 CROSS JOIN LATERAL (SELECT greatest(CASE WHEN dow >= 6 AND re < 0.35 THEN t2 - 86400 * ((dow - 5) + floor(re / 0.35 * 5)) ELSE t2 END, sg) AS tsec OFFSET 0) z3'

-- Who acts at time tsec: needs columns mode_u, pl_u (loyal share), zr (Zipf rank), zp (the
-- permutation's multiplier), age (seconds since signup, for the recent share, and for a loyal
-- pick who had not signed up yet at tsec). nn = users signed up by tsec (ids follow the
-- signup order of the unshifted signup times). Gives nn and pk.uid.
\set pick 'CROSS JOIN LATERAL (SELECT greatest(1, least(' :users ', floor(' :users ' * power(greatest(tsec, 0) / 34560000, 4 / 3.0))))::bigint AS nn) zn CROSS JOIN LATERAL (SELECT (zr * zp + zp / 3) % ' :users ' + 1 AS zc) zz CROSS JOIN LATERAL (SELECT CASE WHEN mode_u < pl_u AND zc <= nn THEN zc ELSE least(nn, greatest(1, floor(' :users ' * power(greatest(tsec - (age - greatest(tsec, 1) * floor(age / greatest(tsec, 1))), 0) / 34560000, 4 / 3.0))::bigint + 1)) END AS uid) pk'

-- Uniform [0,1) from a row number and a stream number (inlined by the planner).
CREATE FUNCTION pg_temp.r(i bigint, k bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT ((hashint8extended(i, k) >> 11) & 9007199254740991)::float8 / 9007199254740992.0';
-- A fixed permutation of ranks 0..n-1 onto ids 1..n (p prime, not dividing n).
CREATE FUNCTION pg_temp.perm(r bigint, n bigint, p bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT (r * p + p / 3) % n + 1';
-- Heavy-tailed rank in 0..n-1 from uniform u: density ~ (rank + 10)^(1/k - 1) (a Zipf-like law
-- with exponent 1 - 1/k, softened at the head), k = 2 (activity), 3 (posts), 4 (followers).
CREATE FUNCTION pg_temp.zipf(u float8, n bigint, k float8) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT least(n - 1, floor(power(power(10, 1 / k) + u * (power(n + 10, 1 / k) - power(10, 1 / k)), k) - 10))::bigint';

SELECT (:seed::bigint * 7919) AS sd \gset
-- Multipliers of the permutations: near n * (golden ratio - 1) (or the plastic number - 1 for
-- followed users), coprime with n, so that consecutive ranks land far apart in the id space.
SELECT (SELECT min(x) FROM generate_series(ceil(:users * 0.6180339887)::bigint, ceil(:users * 0.6180339887)::bigint + 1000) x WHERE gcd(x, :users) = 1) AS pu,
       (SELECT min(x) FROM generate_series(ceil(:users * 0.3247179572)::bigint, ceil(:users * 0.3247179572)::bigint + 1000) x WHERE gcd(x, :users) = 1) AS pf,
       (SELECT min(x) FROM generate_series(ceil(:n_posts * 0.6180339887)::bigint, ceil(:n_posts * 0.6180339887)::bigint + 1000) x WHERE gcd(x, :n_posts) = 1) AS pp \gset

BEGIN;
DROP TABLE IF EXISTS public.users, public.posts, public.likes, public.comments, public.shares,
                     public.follows, public.user_behavior_logs;
\ir ../examples/demo/schema.sql

-- Load without indexes: remember the schema's primary keys and indexes, drop them, recreate later.
CREATE TEMP TABLE bench_ddl ON COMMIT DROP AS
SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS ddl, 1 AS ord
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE t.relnamespace = 'public'::regnamespace AND c.contype = 'p'
UNION ALL
SELECT pg_get_indexdef(i.indexrelid), 2
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisprimary;
DO $$
DECLARE x record;
BEGIN
    FOR x IN SELECT i.indexrelid::regclass AS idx FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
             WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisprimary LOOP
        EXECUTE format('DROP INDEX %s', x.idx);
    END LOOP;
    FOR x IN SELECT c.conrelid::regclass AS tbl, c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
             WHERE t.relnamespace = 'public'::regnamespace AND c.contype = 'p' LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', x.tbl, x.conname);
    END LOOP;
END $$;

-- ---- users: signup second sg of every user ---------------------------------------------------
\timing on
CREATE TEMP TABLE g_users ON COMMIT DROP AS
SELECT id, tsec AS sg
FROM generate_series(1, :users) g(id)
CROSS JOIN LATERAL (SELECT 0::float8 AS sg,
                           :span * power((g.id - 1 + pg_temp.r(g.id, :sd + 1)) / :users::float8, 0.75) AS t,
                           pg_temp.r(g.id, :sd + 2) AS rc, pg_temp.r(g.id, :sd + 3) AS rd,
                           pg_temp.r(g.id, :sd + 4) AS re) a
:rhythm;
ALTER TABLE g_users ADD PRIMARY KEY (id);

INSERT INTO public.users (id, username, created_at)
SELECT id, 'user_' || id, :'t_start'::timestamp + sg * interval '1 second' FROM g_users ORDER BY id;

-- ---- sessions: time first (growing platform), then who ------------------------------------
-- Half the sessions come from a loyal core (Zipf-like ranks, k = 2, among users signed up by
-- then; their volume follows the user base), half from recent signups (signup age ~ exponential,
-- 20 days), so a user's activity decays after signup while heavy users stay heavy.
INSERT INTO public.user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at)
SELECT i, uid, 's' || to_hex(hashint8extended(i, :sd)), dev,
       1 + floor(spent / (20 + 60 * pg_temp.r(i, :sd + 18)))::int, spent,
       :'t_start'::timestamp + greatest(tsec, u.sg) * interval '1 second'
FROM generate_series(1, :sessions) g(i)
CROSS JOIN LATERAL (SELECT 0::float8 AS sg, pg_temp.r(g.i, :sd + 11) AS mode_u, 0.5 AS pl_u,
                           :span * power(pg_temp.r(g.i, :sd + 12), CASE WHEN pg_temp.r(g.i, :sd + 11) < 0.5 THEN 3 / 7.0 ELSE 0.75 END) AS t,
                           pg_temp.r(g.i, :sd + 13) AS rc, pg_temp.r(g.i, :sd + 14) AS rd, pg_temp.r(g.i, :sd + 15) AS re,
                           pg_temp.zipf(pg_temp.r(g.i, :sd + 10), :users, 2) AS zr, :pu AS zp,
                           -20 * 86400.0 * ln(1 - pg_temp.r(g.i, :sd + 16)) AS age) a
:rhythm
:pick
JOIN g_users u ON u.id = pk.uid
CROSS JOIN LATERAL (SELECT pg_temp.r(i, :sd + 17) AS rdev0) d0
CROSS JOIN LATERAL (SELECT CASE WHEN rdev0 < 0.8 THEN pg_temp.r(u.id, :sd + 5) ELSE (rdev0 - 0.8) / 0.2 END AS rdev) d1
CROSS JOIN LATERAL (SELECT CASE WHEN rdev < 0.40 THEN 'android' WHEN rdev < 0.70 THEN 'ios'
                                WHEN rdev < 0.90 THEN 'web' ELSE 'desktop' END AS dev) d
CROSS JOIN LATERAL (SELECT least(14400, 5 + round(CASE dev WHEN 'android' THEN 300 WHEN 'ios' THEN 420
                                                            WHEN 'web' THEN 240 ELSE 720 END
                                                   * -ln(1 - pg_temp.r(i, :sd + 19))))::int AS spent) s;

-- ---- posts: time first; authors 70% loyal core (k = 3), 30% recent signups (30 days) -------
-- Counters are filled from the events below.
CREATE TEMP TABLE g_posts ON COMMIT DROP AS
SELECT i AS id, uid AS author, greatest(tsec, u.sg) AS ps,
       CASE WHEN rt < 0.5 THEN 'text' WHEN rt < 0.8 THEN 'image' WHEN rt < 0.95 THEN 'video' ELSE 'link' END AS content_type
FROM generate_series(1, :n_posts) g(i)
CROSS JOIN LATERAL (SELECT 0::float8 AS sg, pg_temp.r(g.i, :sd + 21) AS mode_u, 0.7 AS pl_u,
                           :span * power(pg_temp.r(g.i, :sd + 22), CASE WHEN pg_temp.r(g.i, :sd + 21) < 0.7 THEN 3 / 7.0 ELSE 0.75 END) AS t,
                           pg_temp.r(g.i, :sd + 23) AS rc, pg_temp.r(g.i, :sd + 24) AS rd, pg_temp.r(g.i, :sd + 25) AS re,
                           pg_temp.zipf(pg_temp.r(g.i, :sd + 20), :users, 3) AS zr, :pu AS zp,
                           -30 * 86400.0 * ln(1 - pg_temp.r(g.i, :sd + 26)) AS age,
                           pg_temp.r(g.i, :sd + 27) AS rt) a
:rhythm
:pick
JOIN g_users u ON u.id = pk.uid;
ALTER TABLE g_posts ADD PRIMARY KEY (id);

-- ---- likes, comments, shares: heavy-tailed posts (k = 3), soon after publication -----------
-- (truncated exponential, tau 1-3 days); actors as for sessions, never before their signup.
INSERT INTO public.likes (id, user_id, post_id, created_at)
SELECT i, uid, pid, :'t_start'::timestamp + greatest(tsec, u.sg) * interval '1 second'
FROM generate_series(1, :n_likes) g(i)
JOIN g_posts p ON p.id = pg_temp.perm(pg_temp.zipf(pg_temp.r(g.i, :sd + 30), :n_posts, 3), :n_posts, :pp)
CROSS JOIN LATERAL (SELECT p.id AS pid, p.ps AS sg,
                           pg_temp.r(g.i, :sd + 31) AS ra, pg_temp.r(g.i, :sd + 32) AS rb, 0.1 AS pl, 3 * 86400.0 AS tau,
                           pg_temp.r(g.i, :sd + 33) AS rc, pg_temp.r(g.i, :sd + 34) AS rd, pg_temp.r(g.i, :sd + 35) AS re,
                           pg_temp.r(g.i, :sd + 36) AS mode_u, 0.5 AS pl_u,
                           pg_temp.zipf(pg_temp.r(g.i, :sd + 37), :users, 2) AS zr, :pu AS zp,
                           -20 * 86400.0 * ln(1 - pg_temp.r(g.i, :sd + 38)) AS age) a
CROSS JOIN LATERAL (SELECT :act_t AS t) z0
:rhythm
:pick
JOIN g_users u ON u.id = pk.uid;

INSERT INTO public.comments (id, user_id, post_id, content, created_at)
SELECT i, uid, pid, 'comment ' || i, :'t_start'::timestamp + greatest(tsec, u.sg) * interval '1 second'
FROM generate_series(1, :n_comments) g(i)
JOIN g_posts p ON p.id = pg_temp.perm(pg_temp.zipf(pg_temp.r(g.i, :sd + 40), :n_posts, 3), :n_posts, :pp)
CROSS JOIN LATERAL (SELECT p.id AS pid, p.ps AS sg,
                           pg_temp.r(g.i, :sd + 41) AS ra, pg_temp.r(g.i, :sd + 42) AS rb, 0.1 AS pl, 2 * 86400.0 AS tau,
                           pg_temp.r(g.i, :sd + 43) AS rc, pg_temp.r(g.i, :sd + 44) AS rd, pg_temp.r(g.i, :sd + 45) AS re,
                           pg_temp.r(g.i, :sd + 46) AS mode_u, 0.5 AS pl_u,
                           pg_temp.zipf(pg_temp.r(g.i, :sd + 47), :users, 2) AS zr, :pu AS zp,
                           -20 * 86400.0 * ln(1 - pg_temp.r(g.i, :sd + 48)) AS age) a
CROSS JOIN LATERAL (SELECT :act_t AS t) z0
:rhythm
:pick
JOIN g_users u ON u.id = pk.uid;

INSERT INTO public.shares (id, user_id, post_id, created_at)
SELECT i, uid, pid, :'t_start'::timestamp + greatest(tsec, u.sg) * interval '1 second'
FROM generate_series(1, :n_shares) g(i)
JOIN g_posts p ON p.id = pg_temp.perm(pg_temp.zipf(pg_temp.r(g.i, :sd + 50), :n_posts, 3), :n_posts, :pp)
CROSS JOIN LATERAL (SELECT p.id AS pid, p.ps AS sg,
                           pg_temp.r(g.i, :sd + 51) AS ra, pg_temp.r(g.i, :sd + 52) AS rb, 0.1 AS pl, 1 * 86400.0 AS tau,
                           pg_temp.r(g.i, :sd + 53) AS rc, pg_temp.r(g.i, :sd + 54) AS rd, pg_temp.r(g.i, :sd + 55) AS re,
                           pg_temp.r(g.i, :sd + 56) AS mode_u, 0.5 AS pl_u,
                           pg_temp.zipf(pg_temp.r(g.i, :sd + 57), :users, 2) AS zr, :pu AS zp,
                           -20 * 86400.0 * ln(1 - pg_temp.r(g.i, :sd + 58)) AS age) a
CROSS JOIN LATERAL (SELECT :act_t AS t) z0
:rhythm
:pick
JOIN g_users u ON u.id = pk.uid;

INSERT INTO public.posts (id, user_id, title, content_type, like_count, comment_count, share_count, created_at)
SELECT p.id, p.author, 'Post ' || p.id, p.content_type,
       coalesce(l.n, 0), coalesce(c.n, 0), coalesce(s.n, 0),
       :'t_start'::timestamp + p.ps * interval '1 second'
FROM g_posts p
LEFT JOIN (SELECT post_id, count(*)::int AS n FROM public.likes GROUP BY post_id) l ON l.post_id = p.id
LEFT JOIN (SELECT post_id, count(*)::int AS n FROM public.comments GROUP BY post_id) c ON c.post_id = p.id
LEFT JOIN (SELECT post_id, count(*)::int AS n FROM public.shares GROUP BY post_id) s ON s.post_id = p.id
ORDER BY p.id;

-- ---- follows: time first; followers as for sessions (k = 2, recent: 30 days); followed users
-- heavy-tailed (k = 4, another permutation), among users signed up by then, never oneself.
INSERT INTO public.follows (id, follower_id, following_id, created_at)
SELECT i, u.id, e.id, :'t_start'::timestamp + greatest(tsec, u.sg, e.sg) * interval '1 second'
FROM generate_series(1, :n_follows) g(i)
CROSS JOIN LATERAL (SELECT 0::float8 AS sg, pg_temp.r(g.i, :sd + 61) AS mode_u, 0.5 AS pl_u,
                           :span * power(pg_temp.r(g.i, :sd + 62), CASE WHEN pg_temp.r(g.i, :sd + 61) < 0.5 THEN 3 / 7.0 ELSE 0.75 END) AS t,
                           pg_temp.r(g.i, :sd + 63) AS rc, pg_temp.r(g.i, :sd + 64) AS rd, pg_temp.r(g.i, :sd + 65) AS re,
                           pg_temp.zipf(pg_temp.r(g.i, :sd + 60), :users, 2) AS zr, :pu AS zp,
                           -30 * 86400.0 * ln(1 - pg_temp.r(g.i, :sd + 66)) AS age,
                           pg_temp.perm(pg_temp.zipf(pg_temp.r(g.i, :sd + 67), :users, 4), :users, :pf) AS zf) a
:rhythm
:pick
CROSS JOIN LATERAL (SELECT CASE WHEN zf <= nn THEN zf ELSE (zf - 1) % nn + 1 END AS fz) f0
CROSS JOIN LATERAL (SELECT CASE WHEN fz <> pk.uid THEN fz WHEN fz > 1 THEN fz - 1 ELSE 2 END AS fid) f1
JOIN g_users u ON u.id = pk.uid
JOIN g_users e ON e.id = f1.fid;

-- ---- the schema's primary keys and indexes, after loading -----------------------------------
SET LOCAL maintenance_work_mem = '1GB';
DO $$
DECLARE x record;
BEGIN
    FOR x IN SELECT ddl FROM bench_ddl ORDER BY ord, ddl LOOP
        EXECUTE x.ddl;
    END LOOP;
END $$;
COMMIT;
\timing off

VACUUM (ANALYZE) public.users, public.posts, public.likes, public.comments, public.shares,
                 public.follows, public.user_behavior_logs;
