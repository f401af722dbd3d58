-- The demo's reports: generate_report() for the last complete day, week and month of the data, in
-- UTC. Run by `scripts/demo.sh start` (after the rollups are built); regenerating keeps the ids.
-- The periods come from the data, not from the calendar: the dump (2020-06-01) was taken after its
-- last day of activity ended, so the day of the latest event counts as complete; the week (Monday
-- to Sunday) and the month are the last ones that end on or before the following midnight.
\set ON_ERROR_STOP 1
\set QUIET 1
SET TimeZone = 'UTC';
SET client_min_messages = warning;

SELECT (max(t) + interval '1 day')::date AS data_end   -- midnight after the last day of activity
FROM (SELECT max(created_at) AS t FROM public.posts
      UNION ALL SELECT max(created_at) FROM public.comments
      UNION ALL SELECT max(created_at) FROM public.likes
      UNION ALL SELECT max(created_at) FROM public.shares
      UNION ALL SELECT max(created_at) FROM public.follows
      UNION ALL SELECT max(created_at) FROM public.user_behavior_logs
      UNION ALL SELECT max(created_at) FROM public.users) AS latest \gset

SELECT mking_analytics.generate_report('daily', (date :'data_end' - 1), 'UTC') AS daily_id,
       mking_analytics.generate_report('weekly', (date_trunc('week', date :'data_end') - interval '7 days')::date, 'UTC') AS weekly_id,
       mking_analytics.generate_report('monthly', (date_trunc('month', date :'data_end') - interval '1 month')::date, 'UTC') AS monthly_id \gset
