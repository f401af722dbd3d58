-- The demo's summary: what mking_analytics computes on real data (beer.stackexchange.com, data
-- dump of 2020-06-01; activity from 2014-01-21 to 2020-05-31). Run by `scripts/demo.sh start`;
-- run it again any time with:  scripts/demo.sh psql -f examples/demo/summary.sql
-- All ranges are half-open [from, to) and read in UTC.
\set ON_ERROR_STOP 1
\set QUIET 1
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\pset footer off
\pset null '-'
\pset border 1
\pset linestyle unicode

\echo
\echo '================================================================================'
\echo ' mking_analytics demo: Beer, Wine & Spirits Stack Exchange (CC BY-SA)'
\echo ' data dump 2020-06-01, activity 2014-01-21 .. 2020-05-31, times in UTC'
\echo '================================================================================'
\pset tuples_only on
SELECT format(' rows: users %s | posts %s | likes %s | comments %s | shares %s | follows %s | sessions %s',
              (SELECT count(*) FROM public.users), (SELECT count(*) FROM public.posts),
              (SELECT count(*) FROM public.likes), (SELECT count(*) FROM public.comments),
              (SELECT count(*) FROM public.shares), (SELECT count(*) FROM public.follows),
              (SELECT count(*) FROM public.user_behavior_logs));
\pset tuples_only off

\echo
\echo '--- KPIs over the last 12 months of data: kpis(2019-06-01, 2020-06-01) ---'
\echo '    DAU/WAU/MAU = distinct active users per day/week/month; stickiness = 100 x avg DAU / avg MAU'
SELECT metric,
       round(avg_value, 2) AS avg,
       max_value           AS max,
       min_value           AS min
FROM mking_analytics.kpis('2019-06-01', '2020-06-01');

\echo
\echo '--- Registrations and active users per month, last 24 months ---'
\echo '    new_users(2018-06-01, 2020-06-01, ''month'') joined with active_users(..., ''month'')'
WITH n AS (SELECT * FROM mking_analytics.new_users('2018-06-01', '2020-06-01', 'month')),
     a AS (SELECT * FROM mking_analytics.active_users('2018-06-01', '2020-06-01', 'month')),
     m AS (SELECT greatest(max(active_users), 1) AS top FROM a)
SELECT to_char(n."time", 'YYYY-MM')                                   AS month,
       n.new_users                                                     AS registrations,
       a.active_users,
       repeat('#', (ceil(30.0 * a.active_users / m.top))::int)         AS active_users_bar
FROM n JOIN a USING ("time") CROSS JOIN m
ORDER BY n."time";

\echo
\echo '--- Retention of daily signup cohorts, pooled per cohort month, last 12 months ---'
\echo '    retention_summary(2019-06-01, 2020-06-01, ''UTC'', as_of => 2020-06-01): a user is'
\echo '    retained on day N if active on the N-th day after signup. Rates are pooled:'
\echo '    100 x sum(retained) / sum(cohort size), over the cohorts whose day N was observed'
\echo '    (day N before 2020-06-01, the end of the data); "-" = not observed yet.'
SELECT to_char(date_trunc('month', cohort_date), 'YYYY-MM')                          AS cohort_month,
       sum(cohort_size)                                                              AS signups,
       sum(day_1_retained)                                                           AS d1,
       sum(day_7_retained)                                                           AS d7,
       sum(day_30_retained)                                                          AS d30,
       round(100.0 * sum(day_1_retained)
             / nullif(sum(cohort_size) FILTER (WHERE day_1_retained IS NOT NULL), 0), 2)  AS d1_pct,
       round(100.0 * sum(day_7_retained)
             / nullif(sum(cohort_size) FILTER (WHERE day_7_retained IS NOT NULL), 0), 2)  AS d7_pct,
       round(100.0 * sum(day_30_retained)
             / nullif(sum(cohort_size) FILTER (WHERE day_30_retained IS NOT NULL), 0), 2) AS d30_pct
FROM mking_analytics.retention_summary('2019-06-01', '2020-06-01', 'UTC', '2020-06-01')
GROUP BY 1
ORDER BY 1;

\echo
\echo '--- Top 10 content, whole span: top_content(2014-01-01, 2020-06-01, 10, counts => ''counters'') ---'
\echo '    counters: likes/comments/shares read from posts.like_count/comment_count/share_count;'
\echo '    likes = upvotes (the dump keeps them only as per-post totals), shares = tweets by the site'
SELECT post_id,
       content_type                                        AS type,
       CASE WHEN length(title) > 48 THEN left(title, 47) || '…' ELSE title END AS title,
       author,
       likes, comments, shares,
       engagement_score                                    AS score,
       'https://beer.stackexchange.com/'
         || CASE content_type WHEN 'answer' THEN 'a/' ELSE 'q/' END || post_id AS url
FROM mking_analytics.top_content('2014-01-01', '2020-06-01', 10, counts => 'counters');

\echo
\echo '--- Top 10 contributors, whole span: top_contributors(2014-01-01, 2020-06-01, 10) ---'
\echo '    likes_received = favourites of their posts (the likes table); followers = the demo''s'
\echo '    follow proxy (users who answered or commented on their posts)'
SELECT user_id, username, posts, comments, likes_received, followers, activity
FROM mking_analytics.top_contributors('2014-01-01', '2020-06-01', 10);

\echo
\echo '--- Monitoring: live_metrics() now, and one alert round (docs/alerts.md) ---'
\echo '    The dump ends in 2020, so the last hour is quiet: the plan''s default rules "low activity"'
\echo '    and "publishing stall" fire, "high error rate" is skipped (no error source configured).'
\echo '    The demo enables them; schedule() already runs the alert loop every 5 s via pg_cron.'
SELECT active_users_1h, posts_1h, interactions_5m, error_rate FROM mking_analytics.live_metrics();
UPDATE mking_analytics.alert_rules SET is_active = true WHERE builtin;
SELECT rule_id, left(rule_name, 40) AS rule, status, value, threshold, message
FROM mking_analytics.evaluate_alerts();

\echo
\echo '--- Reports: the last complete day, week and month of the data (docs/reports.md) ---'
\echo '    generated by examples/demo/reports.sql at start (generate_report(kind, period_start, ''UTC''));'
\echo '    seconds = generation time (queries + HTML + PDF); write all six files with: scripts/demo.sh reports [dir]'
SELECT r.id,
       r.report_type                                        AS kind,
       r.period_start || ' .. ' || (r.period_end - 1)        AS period,
       r.data ->> 'coverage'                                AS coverage,
       pg_size_pretty(octet_length(r.html)::bigint)         AS html,
       pg_size_pretty(octet_length(r.pdf)::bigint)          AS pdf,
       r.generation_time                                    AS seconds
FROM mking_analytics.reports AS r
ORDER BY r.period_end - r.period_start, r.period_start, r.id;
\echo
\echo 'Content: beer.stackexchange.com, CC BY-SA; authors and links in examples/demo/ATTRIBUTION.md.'
