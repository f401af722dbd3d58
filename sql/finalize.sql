-- mking_analytics: composed functions, documentation comments and privileges.
-- Runs after every Rust function exists.

CREATE FUNCTION period_label(ts timestamptz, period text DEFAULT 'week', tz text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE lower(period)
        WHEN 'day'   THEN to_char(ts AT TIME ZONE coalesce(tz, current_setting('TimeZone')), 'YYYY-MM-DD')
        WHEN 'month' THEN to_char(ts AT TIME ZONE coalesce(tz, current_setting('TimeZone')), 'YYYY-MM')
        WHEN 'week'  THEN CASE WHEN coalesce(current_setting('mking_analytics.week_start', true), 'monday') = 'sunday'
                               THEN to_char(ts AT TIME ZONE coalesce(tz, current_setting('TimeZone')), 'YYYY-MM-DD') || ' (Sun)'
                               ELSE to_char(ts AT TIME ZONE coalesce(tz, current_setting('TimeZone')), 'IYYY-"W"IW') END
    END
$$;
COMMENT ON FUNCTION period_label(timestamptz, text, text) IS
    'Text label of the period starting at ts: 2024-03-04 (day), 2025-W01 (Monday week, ISO week-year), 2024-03-03 (Sun) (Sunday week), 2024-03 (month). NULL for an unknown period.';

CREATE FUNCTION dashboard(from_ts timestamptz, to_ts timestamptz, tz text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    z text := coalesce(tz, current_setting('TimeZone'));
    result jsonb;
BEGIN
    -- Validates the arguments once, with the same errors as every function.
    PERFORM 1 FROM mking_analytics.new_users(from_ts, to_ts, 'day', z) LIMIT 0;
    SELECT jsonb_build_object(
        'range', jsonb_build_object('from', from_ts, 'to', to_ts, 'tz', z,
                                    'week_start', coalesce(current_setting('mking_analytics.week_start', true), 'monday')),
        'users', jsonb_build_object(
            'new_users', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time), '[]') FROM mking_analytics.new_users(from_ts, to_ts, 'day', z) t),
            'active_users', (SELECT coalesce(jsonb_agg(jsonb_build_object('time', d.time, 'dau', d.active_users, 'wau', w.active_users, 'mau', m.active_users) ORDER BY d.time), '[]')
                               FROM mking_analytics.active_users(from_ts, to_ts, 'day', z) d
                               JOIN mking_analytics.active_users(from_ts, to_ts, 'day', z, '{any}', 7) w USING (time)
                               JOIN mking_analytics.active_users(from_ts, to_ts, 'day', z, '{any}', 30) m USING (time)),
            'retention', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.cohort_date), '[]') FROM mking_analytics.retention_summary(from_ts, to_ts, z) t),
            'lifecycle', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time, t.status), '[]') FROM mking_analytics.lifecycle(from_ts, to_ts, 'week', z) t),
            'devices', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM mking_analytics.devices(from_ts, to_ts, z) t)),
        'content', jsonb_build_object(
            'trend', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time), '[]') FROM mking_analytics.content_trend(from_ts, to_ts, 'day', z) t),
            'top_content', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM mking_analytics.top_content(from_ts, to_ts, 20, z) t),
            'content_types', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM mking_analytics.content_types(from_ts, to_ts, z) t),
            'engagement', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time), '[]') FROM mking_analytics.engagement_trend(from_ts, to_ts, 'day', z) t)),
        'social', jsonb_build_object(
            'follows', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time), '[]') FROM mking_analytics.follow_trend(from_ts, to_ts, 'day', z) t),
            'interactions', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time, t.interaction_type), '[]') FROM mking_analytics.interaction_trend(from_ts, to_ts, 'day', z) t),
            'most_followed', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM mking_analytics.most_followed(from_ts, to_ts, 20, 1000, 100, z) t)),
        'business', jsonb_build_object(
            'kpis', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM mking_analytics.kpis(from_ts, to_ts, z) t),
            'new_user_growth', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.time), '[]') FROM mking_analytics.growth('new_users', from_ts, to_ts, 'month', z) t)),
        'weekly', (SELECT coalesce(jsonb_agg(jsonb_build_object('week', mking_analytics.period_label(n.time, 'week', z), 'time', n.time,
                                                               'new_users', n.new_users, 'active_users', a.active_users, 'posts', c.posts) ORDER BY n.time), '[]')
                     FROM mking_analytics.new_users(from_ts, to_ts, 'week', z) n
                     JOIN mking_analytics.active_users(from_ts, to_ts, 'week', z) a USING (time)
                     JOIN mking_analytics.content_trend(from_ts, to_ts, 'week', z) c USING (time))
    ) INTO result;
    RETURN result;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Documentation: \df+ and BI tools show these.
-- ---------------------------------------------------------------------------------------------
COMMENT ON FUNCTION new_users(timestamptz, timestamptz, text, text) IS
    'Registrations per bucket (day, week or month in tz; NULL tz = session TimeZone). Every bucket overlapping [from_ts, to_ts) is returned whole and zero-filled. Example: SELECT * FROM mking_analytics.new_users(''2024-03-01'', ''2024-04-01'', ''day'', ''UTC'');';
COMMENT ON FUNCTION active_users(timestamptz, timestamptz, text, text, text[], integer) IS
    'Distinct users active (any row of the chosen activity sources, events => ''{any}'' for all) in each bucket and the rolling-1 buckets before it: bucket day, rolling 7 = rolling WAU; rolling 30 = rolling MAU.';
COMMENT ON FUNCTION retention(timestamptz, timestamptz, text, integer, text, text, text, timestamptz, text[]) IS
    'Cohort retention. cohort: signup | first_activity | recurring; mode: on (active in period cohort+N) | on_or_after (in it or any later period up to as_of). Offset 0 = cohort (100%). Cells whose period starts at or after as_of are NULL; empty cohorts have rate NULL. Rates are percentages rounded to 2.';
COMMENT ON FUNCTION retention_summary(timestamptz, timestamptz, text, timestamptz) IS
    'Day 1, 7 and 30 retention (mode on) of daily signup cohorts whose signup lies in [from_ts, to_ts); NULL where not yet observed at as_of.';
COMMENT ON FUNCTION lifecycle(timestamptz, timestamptz, text, text, text[]) IS
    'Per period: new (active, signed up in it; takes precedence), returning (active now and in the previous period), resurrecting (active now, not before, not new), dormant (active before, not now). Four rows per period.';
COMMENT ON FUNCTION stickiness(timestamptz, timestamptz, text, text, text[]) IS
    'Among users active in the range, how many were active in exactly k distinct periods, k = 1..number of periods (zero-filled).';
COMMENT ON FUNCTION growth(text, timestamptz, timestamptz, text, text) IS
    'Period-over-period growth of new_users, active_users, posts, likes, comments, shares or follows: value, previous period''s value (even before from_ts), growth_rate = 100*(value-previous)/previous rounded to 2, NULL when previous is 0.';
COMMENT ON FUNCTION kpis(timestamptz, timestamptz, text) IS
    'DAU, WAU, MAU: average (rounded to 2), max and min of distinct active users over the days, weeks and months overlapping the range; stickiness = 100 * average DAU / average MAU (ratio of means).';
COMMENT ON FUNCTION content_trend(timestamptz, timestamptz, text, text) IS
    'Posts (duplicates removed) and distinct authors per bucket.';
COMMENT ON FUNCTION engagement_trend(timestamptz, timestamptz, text, text) IS
    'Posts, likes, comments and shares per bucket; each event counted once (same user, target and time).';
COMMENT ON FUNCTION top_content(timestamptz, timestamptz, integer, text, text) IS
    'The most engaging posts published in [from_ts, to_ts): likes, comments and shares received before to_ts, total, and engagement_score = likes + 2*comments + 3*shares (missing parts count 0). counts => ''counters'' reads the post''s like_count/comment_count/share_count columns instead of the event tables.';
COMMENT ON FUNCTION content_types(timestamptz, timestamptz, text, text) IS
    'Per content type, over posts published in the range: posts, total and average likes, comments, shares and engagement score.';
COMMENT ON FUNCTION follow_trend(timestamptz, timestamptz, text, text) IS
    'New follows per bucket (duplicates removed), with the number of distinct users who followed someone.';
COMMENT ON FUNCTION interaction_trend(timestamptz, timestamptz, text, text) IS
    'Per bucket and interaction type (comment, follow, like, share): interactions and distinct users. Long format: Grafana splits series by interaction_type.';
COMMENT ON FUNCTION most_followed(timestamptz, timestamptz, integer, integer, integer, text) IS
    'Users with the most followers as of to_ts: followers, following, new followers in the range, class influencer (> influencer_above), active (> active_above) or regular.';
COMMENT ON FUNCTION top_contributors(timestamptz, timestamptz, integer, text) IS
    'Users who made the most posts, comments, likes and shares in the range (activity), with likes their posts received in the range and followers as of to_ts.';
COMMENT ON FUNCTION devices(timestamptz, timestamptz, text) IS
    'Sessions started in the range by device type: sessions, distinct users, average time spent (seconds) and page views, share of sessions in percent.';
COMMENT ON FUNCTION dashboard(timestamptz, timestamptz, text) IS
    'Every dashboard panel for [from_ts, to_ts) as one jsonb document (users, content, social, business, weekly with ISO week labels), each computed by the function of the same family.';

-- ---------------------------------------------------------------------------------------------
-- Privileges: readers run analytics and read results; admins also change configuration.
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA @extschema@ TO mking_analytics_reader, mking_analytics_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA @extschema@ TO mking_analytics_reader;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ TO mking_analytics_reader;
REVOKE EXECUTE ON FUNCTION set_source(text, text, text, text, text, jsonb, boolean, boolean), reset_sources(),
       grant_source_access(name) FROM mking_analytics_reader;
GRANT EXECUTE ON FUNCTION set_source(text, text, text, text, text, jsonb, boolean, boolean), reset_sources(),
      grant_source_access(name), sources_mark_configured() TO mking_analytics_admin;
GRANT INSERT, UPDATE, DELETE ON sources, alert_rules, dashboard_configs TO mking_analytics_admin;
-- The refresh must see every session's transaction start (pg_stat_activity) and write the
-- rollups: it runs as the extension's owner, for admins only, with a pinned search_path.
ALTER FUNCTION refresh_rollups() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
-- So do the functions around it: change capture creates triggers on the platform's tables and
-- functions in our schema, and the pg_cron jobs are registered (and pruned) as the extension's
-- owner, so a non-superuser admin can run them. Their commands are fixed; an admin chooses none
-- of the SQL they run.
ALTER FUNCTION install_change_capture() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION remove_change_capture() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION schedule() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION unschedule() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION prune_job_log(interval) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION refresh_rollups(), install_change_capture(), remove_change_capture(), schedule(), unschedule(), prune_job_log(interval)
    FROM mking_analytics_reader;
GRANT EXECUTE ON FUNCTION refresh_rollups(), install_change_capture(), remove_change_capture(), schedule(), unschedule(), prune_job_log(interval)
    TO mking_analytics_admin;
COMMENT ON FUNCTION refresh_rollups() IS
    'Admins (and the pg_cron job): bring the rollups up to date. Returns per source the status (built, refreshed, up to date; or skipped when another refresh runs), hours and days recomputed and events processed. The watermark stops at the hour the oldest running transaction began.';
-- Analytic functions run with the caller's rights: let readers read the platform tables that exist.
SELECT grant_source_access('mking_analytics_reader');

-- ---------------------------------------------------------------------------------------------
-- Alerts. Evaluation runs as the extension's owner (it writes triggers, reads every source and
-- switches to each rule's owner for its query), for admins only, with a pinned search_path.
-- ---------------------------------------------------------------------------------------------
ALTER FUNCTION evaluate_alerts() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION evaluate_alerts(), set_error_rate_source(text, text, text, text, integer)
    FROM mking_analytics_reader;
GRANT EXECUTE ON FUNCTION evaluate_alerts(), set_error_rate_source(text, text, text, text, integer),
      alert_rules_validate() TO mking_analytics_admin;
COMMENT ON FUNCTION alert_rule_parameters_problem(text, jsonb) IS
    'Internal: why parameters do not suit a rule type (message, hint), or no row; alert_rules_validate() and the evaluator read parameters with the same code.';
REVOKE ALL ON PROCEDURE run_alert_loop(integer, numeric) FROM PUBLIC;
COMMENT ON FUNCTION alert_loop_precheck() IS
    'Internal: run_alert_loop calls it first; SQLSTATE 25001 inside BEGIN … COMMIT or a multi-statement query string, where the loop could not COMMIT after each round.';
GRANT EXECUTE ON PROCEDURE run_alert_loop(integer, numeric) TO mking_analytics_admin;
GRANT INSERT, UPDATE, DELETE ON error_rate_source TO mking_analytics_admin;
-- The listener (mking-listener) claims and records deliveries; it needs nothing else.
GRANT UPDATE (notification_status, resolve_notification_status, delivery_attempts, last_delivery_error, delivered_at)
    ON alert_triggers TO mking_analytics_admin;
COMMENT ON FUNCTION evaluate_alerts() IS
    'Admins (and the pg_cron job via run_alert_loop): one evaluation round. Each active rule is computed in its own subtransaction (a failing rule is recorded in alert_rules.last_status/last_error and the others run); a firing records an alert_triggers row and NOTIFYs mking_analytics_alerts, re-notifies at most once per cooldown, and resolves with a notification when the condition clears; rules without data are skipped. Then the live metrics go out on mking_analytics_live. Returns one row per rule.';
COMMENT ON FUNCTION live_metrics() IS
    'Live platform metrics now: users active in the last hour (all activity sources), posts published in the last hour, likes+comments+shares+follows in the last 5 minutes, and the error rate in percent (NULL without set_error_rate_source). For Grafana polling; evaluate_alerts() also pushes them on channel mking_analytics_live.';

-- Reports (sql/reports.sql, src/api/reports.rs): readers read stored reports; admins generate
-- them, change thresholds and schedule, and manage subscribers (emails are personal data, so
-- readers cannot see report_subscribers).
COMMENT ON FUNCTION report_threshold_names() IS
    'Internal: the names of the report thresholds the insight rules read (report_settings.name); the check on report_settings refuses other names.';
COMMENT ON FUNCTION report_period(text, date, text) IS
    'The period a report covers: kind checked (daily, weekly, monthly; else SQLSTATE 22023), the first day of the day, week (mking_analytics.week_start) or month containing period_start, the day after its last, and the zone (NULL = session TimeZone).';
COMMENT ON FUNCTION report_build(text, date, text) IS
    'Internal (generate_report): gather, judge, render and upsert one report; returns its id. Call generate_report() instead, which logs the run.';
REVOKE SELECT ON report_subscribers FROM mking_analytics_reader;
GRANT SELECT, INSERT, DELETE ON report_subscribers TO mking_analytics_admin;
GRANT INSERT, UPDATE ON reports, report_generation_logs TO mking_analytics_admin;
GRANT INSERT, UPDATE, DELETE ON report_settings, report_schedule TO mking_analytics_admin;
REVOKE EXECUTE ON FUNCTION generate_report(text, date, text), report_build(text, date, text), report_section(text, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz),
       run_due_reports(timestamptz), report_subscribe(text, text), report_unsubscribe(text, text) FROM mking_analytics_reader;
GRANT EXECUTE ON FUNCTION generate_report(text, date, text), report_build(text, date, text), report_section(text, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz),
      run_due_reports(timestamptz), report_subscribe(text, text), report_unsubscribe(text, text) TO mking_analytics_admin;
