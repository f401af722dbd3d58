//! `#[pg_test]`s with exact, hand-checked expected values. Each runs in its own transaction
//! (rolled back), creating the platform tables as tables.md defines them.

use pgrx::prelude::*;

#[pg_schema]
pub(crate) mod tests {
    use pgrx::prelude::*;

    /// The platform tables of tables.md, empty.
    pub fn platform() {
        Spi::run(
            "CREATE TABLE public.users (id bigint PRIMARY KEY, username text, created_at timestamp);
             CREATE TABLE public.posts (id bigint PRIMARY KEY, user_id bigint, title text, content_type text,
                 like_count int, comment_count int, share_count int, created_at timestamp);
             CREATE TABLE public.likes (id bigserial PRIMARY KEY, user_id bigint, post_id bigint, created_at timestamp);
             CREATE TABLE public.shares (id bigserial PRIMARY KEY, user_id bigint, post_id bigint, created_at timestamp);
             CREATE TABLE public.comments (id bigserial PRIMARY KEY, user_id bigint, post_id bigint, content text, created_at timestamp);
             CREATE TABLE public.follows (id bigserial PRIMARY KEY, follower_id bigint, following_id bigint, created_at timestamp);
             CREATE TABLE public.user_behavior_logs (id bigserial PRIMARY KEY, user_id bigint, session_id text,
                 device_type text, page_views int, time_spent int, created_at timestamp);
             SET LOCAL TimeZone = 'UTC';",
        )
        .unwrap();
    }

    pub fn text(sql: &str) -> String {
        Spi::get_one::<String>(sql).unwrap().unwrap_or_default()
    }

    /// `SQLSTATE: message` of a statement, or `ok`. The helper function is created once per
    /// test, so it also works after `SET ROLE`.
    pub fn outcome(sql: &str) -> String {
        Spi::run(
            "DO $do$ BEGIN IF to_regprocedure('pg_temp.outcome(text)') IS NULL THEN
             CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
             END IF; END $do$",
        )
        .unwrap();
        Spi::get_one_with_args::<String>("SELECT pg_temp.outcome($1)", &[sql.into()])
            .unwrap()
            .unwrap()
    }

    #[pg_test]
    fn week_start_decides_weekly_cohorts() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'sun', '2024-03-03 12:00'), (2, 'mon', '2024-03-04 12:00');
             INSERT INTO posts (id, user_id, created_at) VALUES (10, 1, '2024-01-01');
             INSERT INTO likes (user_id, post_id, created_at) VALUES (1, 10, '2024-03-12 10:00'), (2, 10, '2024-03-12 11:00');",
        )
        .unwrap();
        let q = "SELECT string_agg(format('%s:%s:%s=%s', to_char(cohort, 'MM-DD'), cohort_size, period_offset, retained), ' ' ORDER BY cohort, period_offset)
                   FROM mking_analytics.retention('2024-02-26', '2024-03-10', 'week', 2, tz => 'UTC')";
        assert_eq!(
            text(q),
            "02-26:1:0=1 02-26:1:1=0 02-26:1:2=1 03-04:1:0=1 03-04:1:1=1 03-04:1:2=0"
        );
        Spi::run("SET LOCAL mking_analytics.week_start = 'sunday'").unwrap();
        assert_eq!(
            text(q),
            "02-25:0:0=0 02-25:0:1=0 02-25:0:2=0 03-03:2:0=2 03-03:2:1=2 03-03:2:2=0"
        );
        // Sunday weeks bucket every weekly series the same way.
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', to_char(time, 'MM-DD'), new_users), ' ' ORDER BY time)
                    FROM mking_analytics.new_users('2024-03-01', '2024-03-08', 'week', 'UTC')"),
            "02-25=0 03-03=2"
        );
    }

    #[pg_test]
    fn monday_weeks_carry_iso_week_year_labels() {
        platform();
        Spi::run(
            "INSERT INTO posts (id, user_id, created_at) VALUES (1, 1, '2024-12-30 09:00'), (2, 1, '2025-01-01 09:00'), (3, 2, '2021-01-01 09:00');",
        )
        .unwrap();
        assert_eq!(
            text("SELECT string_agg(w->>'week' || '=' || (w->>'posts'), ' ') FROM jsonb_array_elements(
                    mking_analytics.dashboard('2024-12-30', '2025-01-06', 'UTC')->'weekly') w"),
            "2025-W01=2"
        );
        assert_eq!(
            text("SELECT string_agg(w->>'week' || '=' || (w->>'posts'), ' ') FROM jsonb_array_elements(
                    mking_analytics.dashboard('2021-01-01', '2021-01-02', 'UTC')->'weekly') w"),
            "2020-W53=1"
        );
        assert_eq!(
            text("SELECT mking_analytics.period_label('2024-12-30 00:00+00', 'week', 'UTC')"),
            "2025-W01"
        );
    }

    #[pg_test]
    fn day_buckets_follow_local_midnights_across_dst() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'a', '2024-11-03 04:30'), (2, 'b', '2024-11-03 04:40');
             INSERT INTO posts (id, user_id, created_at) VALUES (7, 9, '2024-10-01');
             INSERT INTO likes (user_id, post_id, created_at) VALUES
               (1, 7, '2024-11-03 04:30'), (1, 7, '2024-11-04 04:30'), (2, 7, '2024-11-04 05:30');",
        )
        .unwrap();
        let ny = "'America/New_York'";
        assert_eq!(
            text(&format!("SELECT string_agg(format('%s=%s', to_char(time AT TIME ZONE {ny}, 'MM-DD HH24:MI'), likes), ' ' ORDER BY time)
                   FROM mking_analytics.engagement_trend('2024-11-03 00:00-04', '2024-11-05 00:00-05', 'day', {ny})")),
            "11-03 00:00=2 11-04 00:00=1"
        );
        // The 25-hour day: bucket starts are local midnights, 25 hours apart.
        assert_eq!(
            text(&format!("SELECT string_agg(time::text, ' ' ORDER BY time) FROM mking_analytics.active_users('2024-11-03 12:00-05', '2024-11-04 12:00-05', 'day', {ny})")),
            "2024-11-03 04:00:00+00 2024-11-04 05:00:00+00"
        );
        // Retention offsets agree with those buckets: user 1's like at 23:30 local on 11-03 is
        // offset 0, not offset 1 as 24-hour steps would say; user 2 is retained at offset 1.
        assert_eq!(
            text(&format!("SELECT string_agg(format('%s=%s', period_offset, retained), ' ' ORDER BY period_offset)
                   FROM mking_analytics.retention('2024-11-03 00:00-04', '2024-11-04 00:00-05', 'day', 1, tz => {ny}, as_of => '2025-01-01')")),
            "0=2 1=1"
        );
    }

    #[pg_test]
    fn cohort_rates_use_their_own_denominators_and_hide_young_cells() {
        platform();
        Spi::run(
            "INSERT INTO users SELECT g, 'u' || g, '2024-05-01 10:00' FROM generate_series(1, 120) g;
             INSERT INTO users SELECT g, 'u' || g, '2024-05-02 10:00' FROM generate_series(201, 203) g;
             INSERT INTO user_behavior_logs (user_id, session_id, created_at)
               SELECT g, 's' || g, '2024-05-02 08:00' FROM generate_series(1, 37) g;
             INSERT INTO user_behavior_logs (user_id, session_id, created_at) VALUES (201, 'x', '2024-05-03 09:00');",
        )
        .unwrap();
        let q = "SELECT string_agg(format('%s|%s|%s|%s|%s', to_char(cohort, 'DD'), cohort_size, period_offset, coalesce(retained::text, 'NULL'), coalesce(retention_rate::text, 'NULL')), ' ' ORDER BY cohort, period_offset)
                   FROM mking_analytics.retention('2024-05-01', '2024-05-04', 'day', 2, tz => 'UTC', as_of => '2024-05-03 12:00')";
        assert_eq!(
            text(q),
            "01|120|0|120|100.00 01|120|1|37|30.83 01|120|2|0|0.00 \
             02|3|0|3|100.00 02|3|1|1|33.33 02|3|2|NULL|NULL \
             03|0|0|0|NULL 03|0|1|NULL|NULL 03|0|2|NULL|NULL"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s|%s|%s|%s|%s', cohort_date, cohort_size, day_1_retained, day_1_rate, coalesce(day_7_rate::text, 'NULL')), ' ' ORDER BY cohort_date)
                    FROM mking_analytics.retention_summary('2024-05-01', '2024-05-03', 'UTC', '2024-05-05')"),
            "2024-05-01|120|37|30.83|NULL 2024-05-02|3|1|33.33|NULL"
        );
    }

    #[pg_test]
    fn on_or_after_and_other_cohort_kinds() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'a', '2024-01-01 10:00'), (2, 'b', '2024-01-01 11:00'), (3, 'c', '2023-06-01');
             INSERT INTO user_behavior_logs (user_id, session_id, created_at) VALUES
               (1, 'a1', '2024-01-01 10:05'), (1, 'a2', '2024-01-04 10:00'),
               (2, 'b1', '2024-01-02 10:00'),
               (3, 'c1', '2023-12-31 10:00'), (3, 'c2', '2024-01-02 10:00');",
        )
        .unwrap();
        let cells = |cohort: &str, mode: &str| {
            text(&format!(
                "SELECT string_agg(format('%s:%s=%s', to_char(cohort, 'DD'), period_offset, retained), ' ' ORDER BY cohort, period_offset)
                   FROM mking_analytics.retention('2024-01-01', '2024-01-02', 'day', 3, '{cohort}', '{mode}', 'UTC', '2024-02-01')"
            ))
        };
        assert_eq!(cells("signup", "on"), "01:0=2 01:1=1 01:2=0 01:3=1");
        assert_eq!(
            cells("signup", "on_or_after"),
            "01:0=2 01:1=2 01:2=1 01:3=1"
        );
        // user 3 was first active 2023-12-31: not in the 01-01 first-activity cohort; user 2 first
        // acted on 01-02, outside the range.
        assert_eq!(cells("first_activity", "on"), "01:0=1 01:1=0 01:2=0 01:3=1");
        assert_eq!(cells("recurring", "on"), "01:0=1 01:1=0 01:2=0 01:3=1");
    }

    #[pg_test]
    fn lifecycle_stickiness_and_kpis_by_hand() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'a', '2024-01-01'), (2, 'b', '2024-01-02'), (3, 'c', '2023-01-01'), (4, 'd', '2023-01-01');
             INSERT INTO user_behavior_logs (user_id, session_id, created_at) VALUES
               (3, 's', '2023-12-31 12:00'), (4, 's', '2023-12-31 12:00'),
               (1, 's', '2024-01-01 12:00'), (3, 's', '2024-01-01 12:00'),
               (2, 's', '2024-01-02 12:00'), (1, 's', '2024-01-02 12:00'),
               (4, 's', '2024-01-03 12:00');",
        )
        .unwrap();
        assert_eq!(
            text("SELECT string_agg(format('%s:%s=%s', to_char(time, 'DD'), status, users), ' ' ORDER BY time, status)
                    FROM mking_analytics.lifecycle('2024-01-01', '2024-01-04', 'day', 'UTC')"),
            "01:dormant=1 01:new=1 01:resurrecting=0 01:returning=1 \
             02:dormant=1 02:new=1 02:resurrecting=0 02:returning=1 \
             03:dormant=2 03:new=0 03:resurrecting=1 03:returning=0"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', active_periods, users), ' ' ORDER BY active_periods)
                    FROM mking_analytics.stickiness('2024-01-01', '2024-01-04', 'day', 'UTC')"),
            "1=3 2=1 3=0"
        );
        // Days 01-01..01-03: DAU 2, 2, 1; the one week (Mon 01-01) and the one month have 4 users.
        assert_eq!(
            text("SELECT string_agg(format('%s|%s|%s|%s', metric, avg_value, coalesce(max_value::text, 'NULL'), coalesce(min_value::text, 'NULL')), ' ' ORDER BY metric)
                    FROM mking_analytics.kpis('2024-01-01', '2024-01-04', 'UTC')"),
            "DAU|1.67|2|1 MAU|4.00|4|4 WAU|4.00|4|4 stickiness|41.67|NULL|NULL"
        );
    }

    #[pg_test]
    fn growth_from_zero_and_gaps() {
        platform();
        Spi::run(
            "INSERT INTO posts (id, user_id, created_at) VALUES (1, 1, '2024-01-01');
             INSERT INTO likes (user_id, post_id, created_at)
               SELECT g, 1, '2024-02-01 10:00'::timestamp FROM generate_series(1, 10) g
               UNION ALL SELECT g, 1, '2024-02-03 10:00' FROM generate_series(1, 5) g
               UNION ALL SELECT g, 1, '2024-02-05 10:00' FROM generate_series(1, 5) g;",
        )
        .unwrap();
        assert_eq!(
            text("SELECT string_agg(format('%s:%s/%s=%s', to_char(time, 'DD'), value, previous_value, coalesce(growth_rate::text, 'NULL')), ' ' ORDER BY time)
                    FROM mking_analytics.growth('likes', '2024-02-01', '2024-02-06', 'day', 'UTC')"),
            "01:10/0=NULL 02:0/10=-100.00 03:5/0=NULL 04:0/5=-100.00 05:5/0=NULL"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', value, coalesce(growth_rate::text, 'NULL')), ' ' ORDER BY time)
                    FROM mking_analytics.growth('likes', '2024-02-02', '2024-02-04', 'day', 'UTC')"),
            "0=-100.00 5=NULL"
        );
    }

    #[pg_test]
    fn scores_survive_missing_parts_and_duplicates_count_once() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'alice', '2024-01-01'), (2, 'bob', '2024-01-01');
             INSERT INTO posts (id, user_id, title, content_type, created_at) VALUES
               (1, 1, 'only likes', 'text', '2024-01-02 10:00'), (2, 2, 'mixed', 'image', '2024-01-02 11:00');
             INSERT INTO likes (user_id, post_id, created_at) VALUES
               (2, 1, '2024-01-02 12:00'), (2, 1, '2024-01-02 12:00'), (1, 1, '2024-01-03 12:00'), (1, 2, '2024-01-03 12:00');
             INSERT INTO comments (user_id, post_id, content, created_at) VALUES (1, 2, 'hi', '2024-01-03 13:00');
             INSERT INTO shares (user_id, post_id, created_at) VALUES (1, 2, '2024-01-03 14:00');",
        )
        .unwrap();
        assert_eq!(
            text("SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', post_id, author, likes, comments, shares, total_interactions, engagement_score), ' ')
                    FROM mking_analytics.top_content('2024-01-01', '2024-01-10', 10, 'UTC')"),
            "2|bob|1|1|1|3|6.00 1|alice|2|0|0|2|2.00"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', to_char(time, 'DD'), likes), ' ' ORDER BY time)
                    FROM mking_analytics.engagement_trend('2024-01-02', '2024-01-04', 'day', 'UTC')"),
            "02=1 03=2"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s|%s|%s|%s', content_type, posts, avg_likes, avg_engagement_score), ' ')
                    FROM mking_analytics.content_types('2024-01-01', '2024-01-10', 'UTC')"),
            "image|1|1.00|6.00 text|1|2.00|2.00"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', value, previous_value), ' ') FROM mking_analytics.growth('likes', '2024-01-01', '2024-01-10', 'month', 'UTC')"),
            "3=0"
        );
    }

    #[pg_test]
    fn social_panels_by_hand() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'star', '2024-01-01'), (2, 'b', '2024-01-01'), (3, 'c', '2024-01-01');
             INSERT INTO follows (follower_id, following_id, created_at) VALUES
               (2, 1, '2024-01-05 10:00'), (3, 1, '2024-01-06 10:00'), (3, 1, '2024-01-06 10:00'), (1, 2, '2024-01-06 11:00');
             INSERT INTO user_behavior_logs (user_id, session_id, device_type, page_views, time_spent, created_at) VALUES
               (1, 'a', 'ios', 3, 60, '2024-01-05 10:00'), (1, 'a', 'ios', 3, 60, '2024-01-05 10:00'),
               (2, 'b', 'ios', 4, 30, '2024-01-05 11:00'), (3, 'c', NULL, 1, 10, '2024-01-05 12:00');",
        )
        .unwrap();
        assert_eq!(
            text("SELECT string_agg(format('%s|%s|%s|%s|%s|%s', user_id, username, followers, following, new_followers, class), ' ')
                    FROM mking_analytics.most_followed('2024-01-06', '2024-01-07', 10, 1, 0, 'UTC')"),
            "1|star|2|1|1|influencer 2|b|1|1|1|active"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s=%s/%s', to_char(time, 'DD'), follows, followers), ' ' ORDER BY time)
                    FROM mking_analytics.follow_trend('2024-01-05', '2024-01-07', 'day', 'UTC')"),
            "05=1/1 06=2/2"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s|%s|%s|%s|%s|%s', device_type, sessions, users, avg_time_spent, avg_page_views, session_share), ' ')
                    FROM mking_analytics.devices('2024-01-01', '2024-02-01', 'UTC')"),
            "ios|2|2|45.00|3.50|66.67 unknown|1|1|10.00|1.00|33.33"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s:%s=%s', interaction_type, interactions, users), ' ' ORDER BY interaction_type)
                    FROM mking_analytics.interaction_trend('2024-01-06', '2024-01-07', 'day', 'UTC')"),
            "comment:0=0 follow:2=2 like:0=0 share:0=0"
        );
        assert_eq!(
            outcome("SELECT * FROM mking_analytics.most_followed('2024-01-06', '2024-01-07', 10, 5, 50)"),
            "22023: invalid active_above 50: must not exceed influencer_above 5"
        );
    }

    #[pg_test]
    fn empty_tables_and_empty_ranges_never_fail() {
        platform();
        let (f, t) = ("'2024-01-01'", "'2024-01-03'");
        for (q, want) in [
            (format!("SELECT count(*) || '/' || sum(new_users) FROM mking_analytics.new_users({f}, {t})"), "2/0"),
            (format!("SELECT count(*) || '/' || sum(active_users) FROM mking_analytics.active_users({f}, {t}, rolling => 7)"), "2/0"),
            (format!("SELECT count(*) || '/' || count(retention_rate) FROM mking_analytics.retention({f}, {t}, periods => 2)"), "6/0"),
            (format!("SELECT count(*)::text FROM mking_analytics.retention_summary({f}, {t})"), "2"),
            (format!("SELECT count(*) || '/' || sum(users) FROM mking_analytics.lifecycle({f}, {t})"), "8/0"),
            (format!("SELECT count(*) || '/' || sum(users) FROM mking_analytics.stickiness({f}, {t})"), "2/0"),
            (format!("SELECT count(*) || '/' || count(growth_rate) FROM mking_analytics.growth('posts', {f}, {t}, 'day')"), "2/0"),
            (format!("SELECT string_agg(metric || '=' || coalesce(avg_value::text, 'NULL'), ' ' ORDER BY metric) FROM mking_analytics.kpis({f}, {t})"),
             "DAU=0.00 MAU=0.00 WAU=0.00 stickiness=NULL"),
            (format!("SELECT count(*)::text FROM mking_analytics.top_content({f}, {t})"), "0"),
            (format!("SELECT count(*)::text FROM mking_analytics.content_types({f}, {t})"), "0"),
            (format!("SELECT count(*)::text FROM mking_analytics.most_followed({f}, {t})"), "0"),
            (format!("SELECT count(*)::text FROM mking_analytics.top_contributors({f}, {t})"), "0"),
            (format!("SELECT count(*)::text FROM mking_analytics.devices({f}, {t})"), "0"),
            (format!("SELECT count(*) || '/' || sum(interactions) FROM mking_analytics.interaction_trend({f}, {t})"), "8/0"),
            (format!("SELECT jsonb_array_length(mking_analytics.dashboard({f}, {t})->'users'->'new_users')::text"), "2"),
            // an empty range: no rows, no error
            (format!("SELECT count(*)::text FROM mking_analytics.new_users({f}, {f})"), "0"),
            (format!("SELECT count(*)::text FROM mking_analytics.retention({f}, {f})"), "0"),
            (format!("SELECT count(*)::text FROM mking_analytics.kpis({f}, {f})"), "0"),
        ] {
            assert_eq!(text(&q), want, "{q}");
        }
    }

    #[pg_test]
    fn bad_arguments_raise_22023_naming_the_argument() {
        platform();
        for (q, want) in [
            ("SELECT * FROM mking_analytics.new_users('2024-02-01', '2024-01-01')", "22023: invalid range: from_ts is after to_ts"),
            ("SELECT * FROM mking_analytics.new_users('2024-01-01', '2024-02-01', 'hour')", "22023: invalid bucket 'hour': accepted values are 'day', 'week', 'month'"),
            ("SELECT * FROM mking_analytics.active_users('2024-01-01', '2024-02-01', tz => 'Mars/Base')", "22023: invalid tz 'Mars/Base': unknown time zone"),
            ("SELECT * FROM mking_analytics.growth('revenue', '2024-01-01', '2024-02-01')", "22023: invalid metric 'revenue': accepted values are 'new_users', 'active_users', 'posts', 'likes', 'comments', 'shares', 'follows'"),
            ("SELECT * FROM mking_analytics.retention('2024-01-01', '2024-02-01', periods => -1)", "22023: invalid periods -1: must be a non-negative integer"),
            ("SELECT * FROM mking_analytics.retention('2024-01-01', '2024-02-01', period => 'year')", "22023: invalid period 'year': accepted values are 'day', 'week', 'month'"),
            ("SELECT * FROM mking_analytics.retention('2024-01-01', '2024-02-01', cohort => 'x')", "22023: invalid cohort 'x': accepted values are 'signup', 'first_activity', 'recurring'"),
            ("SELECT * FROM mking_analytics.active_users('2024-01-01', '2024-02-01', rolling => 0)", "22023: invalid rolling 0: must be at least 1"),
            ("SELECT * FROM mking_analytics.active_users('2024-01-01', '2024-02-01', events => '{clicks}')", "22023: invalid events element 'clicks': not an enabled activity source"),
            ("SELECT * FROM mking_analytics.kpis(NULL, '2024-02-01')", "22023: invalid from_ts NULL: a start time is required"),
            ("SELECT mking_analytics.dashboard('2024-02-01', '2024-01-01')", "22023: invalid range: from_ts is after to_ts"),
        ] {
            assert_eq!(outcome(q), want, "{q}");
        }
    }

    #[pg_test]
    fn sources_are_configuration() {
        Spi::run(
            "SET LOCAL TimeZone = 'UTC';
             CREATE SCHEMA app;
             CREATE TABLE app.members (member_id int, joined timestamptz);
             CREATE TABLE app.visits (member_id int, visit_key text, at timestamptz);
             INSERT INTO app.members VALUES (1, '2024-01-01 10:00+00'), (2, '2024-01-01 11:00+00');
             INSERT INTO app.visits VALUES (1, 'v1', '2024-01-02 09:00+00'), (2, 'v2', '2024-01-02 23:30+00');
             SELECT mking_analytics.set_source('signup', 'app.members', 'member_id', 'joined');
             SELECT mking_analytics.set_source('session', 'app.visits', 'member_id', 'at', 'visit_key');",
        )
        .unwrap();
        // No posts/likes/... tables exist: those default sources are skipped, not errors.
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', period_offset, retained), ' ' ORDER BY period_offset)
                    FROM mking_analytics.retention('2024-01-01', '2024-01-02', 'day', 1, tz => 'UTC')"),
            "0=2 1=2"
        );
        // The same visits in Asia/Tokyo (UTC+9): 23:30Z is already 01-03 there.
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', to_char(time AT TIME ZONE 'Asia/Tokyo', 'DD'), active_users), ' ' ORDER BY time)
                    FROM mking_analytics.active_users('2024-01-02 00:00+09', '2024-01-04 00:00+09', 'day', 'Asia/Tokyo')"),
            "02=1 03=1"
        );
        // A configured source whose table disappears is an error naming it.
        Spi::run("DROP TABLE app.visits").unwrap();
        assert!(
            outcome("SELECT * FROM mking_analytics.active_users('2024-01-01', '2024-01-02')")
                .starts_with("42P01: source \"session\" points at relation")
        );
        // Bad configuration is refused on the spot.
        assert!(outcome(
            "SELECT mking_analytics.set_source('like', 'app.members', 'nobody', 'joined')"
        )
        .starts_with("42703: source \"like\": column nobody does not exist"));
        Spi::run("SELECT mking_analytics.reset_sources()").unwrap();
        assert_eq!(text("SELECT string_agg(source_name, ',' ORDER BY source_name) FROM mking_analytics.sources WHERE is_default"),
            "comment,follow,like,post,session,share,signup");
    }

    #[pg_test]
    fn timestamp_columns_follow_source_timezone() {
        platform();
        Spi::run(
            "INSERT INTO users VALUES (1, 'a', '2024-01-01 23:30');
             SET LOCAL mking_analytics.source_timezone = 'Asia/Tokyo';",
        )
        .unwrap();
        // 23:30 Tokyo time is 14:30 UTC on the same day.
        assert_eq!(
            text("SELECT string_agg(format('%s=%s', to_char(time, 'DD'), new_users), ' ' ORDER BY time) FROM mking_analytics.new_users('2024-01-01', '2024-01-03', 'day', 'UTC')"),
            "01=1 02=0"
        );
    }

    /// Every panel query, in several zones and buckets, as one text: equal text = equal answers.
    fn panel_answers() -> String {
        let mut out = Vec::new();
        for tz in ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin"] {
            for q in [
                format!("SELECT string_agg(format('%s=%s', time, active_users), ',' ORDER BY time) FROM mking_analytics.active_users('2024-10-28', '2024-11-12', 'day', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s', time, active_users), ',' ORDER BY time) FROM mking_analytics.active_users('2024-10-28', '2024-11-12', 'day', '{tz}', rolling => 7)"),
                format!("SELECT string_agg(format('%s=%s', time, active_users), ',' ORDER BY time) FROM mking_analytics.active_users('2024-10-01', '2024-12-01', 'week', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s', time, new_users), ',' ORDER BY time) FROM mking_analytics.new_users('2024-10-28', '2024-11-12', 'day', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s/%s/%s/%s', time, posts, likes, comments, shares), ',' ORDER BY time) FROM mking_analytics.engagement_trend('2024-10-28', '2024-11-12', 'day', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s/%s', time, value, growth_rate), ',' ORDER BY time) FROM mking_analytics.growth('likes', '2024-10-01', '2024-12-01', 'month', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s/%s/%s', metric, avg_value, max_value, min_value), ',' ORDER BY metric) FROM mking_analytics.kpis('2024-10-28', '2024-11-12', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s=%s', time, status, users), ',' ORDER BY time, status) FROM mking_analytics.lifecycle('2024-10-28', '2024-11-12', 'day', '{tz}')"),
                format!("SELECT string_agg(format('%s=%s=%s', cohort, period_offset, retained), ',' ORDER BY cohort, period_offset) FROM mking_analytics.retention('2024-10-28', '2024-11-05', 'day', 5, 'recurring', 'on_or_after', '{tz}', '2024-11-08')"),
                format!("SELECT string_agg(format('%s=%s', active_periods, users), ',' ORDER BY active_periods) FROM mking_analytics.stickiness('2024-10-28', '2024-11-12', 'day', '{tz}')"),
            ] {
                out.push(text(&q));
            }
        }
        for (f, t) in [
            ("2024-10-28", "2024-11-12"),
            ("2024-10-28 14:37", "2024-11-10 08:05"),
            ("2024-10-30 10:10", "2024-10-30 10:50"),
        ] {
            out.push(text(&format!(
                "SELECT string_agg(format('%s=%s/%s/%s/%s/%s', device_type, sessions, users, avg_time_spent, avg_page_views, session_share), ',' ORDER BY device_type)
                   FROM mking_analytics.devices('{f}', '{t}', 'UTC')"
            )));
        }
        // Ranges ending after the rollups' watermark (now) can use the per-target totals.
        for q in [
            "SELECT string_agg(format('%s=%s/%s/%s/%s/%s/%s', post_id, title, author, content_type, likes, comments, shares), ',') FROM mking_analytics.top_content('2024-10-01', '2030-01-01', 15, 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s', post_id, likes, comments, shares), ',') FROM mking_analytics.top_content('2024-10-01', '2024-11-05', 15, 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s/%s/%s', content_type, posts, likes, comments, shares, avg_engagement_score), ',') FROM mking_analytics.content_types('2024-10-01', '2030-01-01', 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s/%s/%s', content_type, posts, likes, comments, shares, avg_engagement_score), ',') FROM mking_analytics.content_types('2024-11-02', '2030-01-01', 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s', post_id, likes, comments, shares), ',') FROM mking_analytics.top_content('2024-10-01', '2025-01-01', 15, 'UTC')",
            // Ranges ending before the watermark with events after them (a past period's
            // report): totals through the watermark minus the events from to_ts up to it.
            "SELECT string_agg(format('%s=%s/%s/%s/%s/%s', content_type, posts, likes, comments, shares, avg_engagement_score), ',') FROM mking_analytics.content_types('2024-10-01', '2024-11-05', 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s/%s/%s', content_type, posts, likes, comments, shares, avg_engagement_score), ',') FROM mking_analytics.content_types('2024-10-28 10:00', '2024-10-29 05:00', 'America/New_York')",
            "SELECT string_agg(format('%s=%s/%s/%s/%s/%s', content_type, posts, likes, comments, shares, avg_engagement_score), ',') FROM mking_analytics.content_types('2024-10-28', '2024-10-29 06:00', 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s/%s', post_id, title, likes, comments, shares), ',') FROM mking_analytics.top_content('2024-10-28', '2024-10-29 06:00', 10, 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s', post_id, likes, comments, shares), ',') FROM mking_analytics.top_content('2024-10-30', '2024-11-03', 8, 'Europe/Berlin')",
            "SELECT string_agg(format('%s=%s/%s/%s', user_id, followers, following, new_followers), ',') FROM mking_analytics.most_followed('2024-10-01', '2025-01-01', 6, 4, 2, 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s/%s', user_id, followers, following, new_followers, class), ',') FROM mking_analytics.most_followed('2024-10-01', '2030-01-01', 6, 4, 2, 'UTC')",
            "SELECT string_agg(format('%s=%s/%s/%s', user_id, followers, following, new_followers), ',') FROM mking_analytics.most_followed('2024-10-01', '2024-11-01', 6, 4, 2, 'UTC')",
        ] {
            out.push(text(q));
        }
        out.join("\n")
    }

    fn answers_with_rollups(on: bool) -> String {
        Spi::run(&format!(
            "SET LOCAL mking_analytics.use_rollups = {}",
            if on { "on" } else { "off" }
        ))
        .unwrap();
        panel_answers()
    }

    #[pg_test]
    fn rollups_answer_exactly_like_raw_tables() {
        platform();
        // 30 users over 3 weeks around the US DST change, hour by hour with gaps.
        Spi::run(
            "INSERT INTO users SELECT g, 'u' || g, timestamp '2024-10-27' + g * interval '9 hours' FROM generate_series(1, 30) g;
             INSERT INTO posts (id, user_id, title, content_type, created_at) SELECT g, 1 + g % 30, 'post ' || g, (ARRAY['text', 'image', NULL])[1 + g % 3], timestamp '2024-10-28' + g * interval '5 hours' FROM generate_series(1, 60) g;
             INSERT INTO likes (user_id, post_id, created_at)
               SELECT 1 + (g * 7) % 30, 1 + g % 60, timestamp '2024-10-28 03:00' + g * interval '47 minutes' FROM generate_series(1, 400) g;
             INSERT INTO likes (user_id, post_id, created_at) SELECT user_id, post_id, created_at FROM likes WHERE id % 10 = 0;  -- duplicates
             INSERT INTO follows (follower_id, following_id, created_at)
               SELECT 1 + (g * 17) % 30, 1 + (g * g) % 7, timestamp '2024-10-28 01:00' + g * interval '3 hours 1 minute' FROM generate_series(1, 120) g;
             INSERT INTO comments (user_id, post_id, created_at)
               SELECT 1 + (g * 11) % 30, 1 + g % 60, timestamp '2024-10-28 04:30' + g * interval '3 hours 7 minutes' FROM generate_series(1, 100) g;
             INSERT INTO user_behavior_logs (user_id, session_id, device_type, page_views, time_spent, created_at)
               SELECT 1 + (g * 13) % 30, 's' || g, (ARRAY['ios', 'android', NULL])[1 + g % 3], g % 7, g % 100,
                      timestamp '2024-10-28' + g * interval '2 hours 13 minutes' FROM generate_series(1, 150) g;
             INSERT INTO user_behavior_logs (user_id, session_id, device_type, page_views, time_spent, created_at)
               SELECT user_id, session_id, 'web', 1, 1, created_at FROM user_behavior_logs WHERE id % 9 = 0;  -- duplicates, other payload",
        )
        .unwrap();
        let raw = answers_with_rollups(false);
        assert_eq!(
            text("SELECT string_agg(status, ',') FROM mking_analytics.refresh_rollups()"),
            "change capture installed; rollups are built by the next refresh"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s:%s', source_name, status), ',' ORDER BY source_name) FROM mking_analytics.refresh_rollups()"),
            "*any:built,comment:built,follow:built,like:built,post:built,session:built,share:built,signup:built"
        );
        assert_eq!(
            text("SELECT (count(*) > 100)::text FROM mking_analytics.rollup_hours"),
            "true"
        );
        assert_eq!(answers_with_rollups(true), raw);

        assert_eq!(
            text("SELECT (count(*) > 50)::text FROM mking_analytics.rollup_device_hours"),
            "true"
        );
        assert_eq!(text("SELECT string_agg(DISTINCT source_name, ',') FROM mking_analytics.rollup_target_totals"), "comment,follow,like");
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.rollup_posts"),
            "60"
        );
        // Whole UTC days (this session's zone) are kept as day rows too.
        assert_eq!(
            text("SELECT (count(*) > 10)::text FROM mking_analytics.rollup_days WHERE source_name = '*any' AND zone = 'UTC'"),
            "true"
        );

        // New rows in the current hour (after the watermark): read raw on top of the totals.
        Spi::run(
            "INSERT INTO likes (user_id, post_id, created_at) VALUES (3, 5, now() AT TIME ZONE 'UTC'), (4, 5, now() AT TIME ZONE 'UTC');
             INSERT INTO follows (follower_id, following_id, created_at) VALUES (9, 6, now() AT TIME ZONE 'UTC'), (1, 6, now() AT TIME ZONE 'UTC'), (29, 1, now() AT TIME ZONE 'UTC');
             INSERT INTO posts (id, user_id, title, content_type, created_at) VALUES (500, 2, 'fresh', 'video', now() AT TIME ZONE 'UTC');
             INSERT INTO likes (user_id, post_id, created_at) SELECT g, 500, now() AT TIME ZONE 'UTC' FROM generate_series(1, 25) g;",
        )
        .unwrap();
        // Rows of the current hour need no change-log entry (cheap inserts): they are read raw.
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.rollup_changes"),
            "0"
        );
        let raw_now = answers_with_rollups(false);
        assert_eq!(answers_with_rollups(true), raw_now);

        // Late rows with old timestamps, an update that moves a row, a delete, a duplicate.
        Spi::run(
            "INSERT INTO likes (user_id, post_id, created_at) VALUES (29, 3, '2024-10-29 05:10'), (29, 3, '2024-10-29 05:10');
             UPDATE user_behavior_logs SET created_at = created_at - interval '3 days' WHERE id = 40;
             UPDATE follows SET following_id = 2 WHERE id = 7;
             DELETE FROM likes WHERE id = 77;
             DELETE FROM user_behavior_logs WHERE id = 41;",
        )
        .unwrap();
        let raw2 = answers_with_rollups(false);
        assert_ne!(raw2, raw, "the changes must show in the answers");
        assert_eq!(answers_with_rollups(true), raw2);
        assert_eq!(
            text("SELECT (count(*) > 0)::text FROM mking_analytics.rollup_changes"),
            "true"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s:%s', source_name, status), ',' ORDER BY source_name) FROM mking_analytics.refresh_rollups() WHERE status <> 'up to date'"),
            "*any:refreshed,follow:refreshed,like:refreshed,session:refreshed"
        );
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.rollup_changes"),
            "0"
        );
        assert_eq!(answers_with_rollups(true), raw2);

        // Proof the rollups are read: rows removed behind change capture's back still count there.
        Spi::run("ALTER TABLE likes DISABLE TRIGGER USER; DELETE FROM likes; ALTER TABLE likes ENABLE TRIGGER USER;").unwrap();
        let q = "SELECT sum(likes)::text FROM mking_analytics.engagement_trend('2024-10-28', '2024-11-12', 'day', 'UTC')";
        Spi::run("SET LOCAL mking_analytics.use_rollups = off").unwrap();
        assert_eq!(text(q), "0");
        Spi::run("SET LOCAL mking_analytics.use_rollups = on").unwrap();
        assert_ne!(text(q), "0");
        // ... also for a range ending before the watermark (totals minus the later likes, none now).
        let past = "SELECT sum(likes)::text FROM mking_analytics.content_types('2024-10-01', '2024-11-05', 'UTC')";
        assert_ne!(text(past), "0");
        Spi::run("SET LOCAL mking_analytics.use_rollups = off").unwrap();
        assert_eq!(text(past), "0");
        Spi::run("SET LOCAL mking_analytics.use_rollups = on").unwrap();
        // Asia/Kolkata (+05:30) days do not start on UTC hours: always read raw.
        assert_eq!(
            text("SELECT sum(likes)::text FROM mking_analytics.engagement_trend('2024-10-28', '2024-11-12', 'day', 'Asia/Kolkata')"),
            "0"
        );
        // Generated capture functions belong to the extension: DROP EXTENSION takes them and the triggers.
        assert_eq!(
            text("SELECT count(*)::text FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
                   WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mking_analytics')
                     AND p.proname LIKE 'capture\\_%'"),
            "7"
        );
        // TRUNCATE drops the source's rollups until the next build.
        Spi::run("TRUNCATE likes").unwrap();
        assert_eq!(text(q), "0");
        // ... and the combined activity rollup no longer counts the truncated likes.
        let raw_truncated = answers_with_rollups(false);
        assert_eq!(answers_with_rollups(true), raw_truncated);
        Spi::run("SELECT * FROM mking_analytics.refresh_rollups()").unwrap();
        assert_eq!(answers_with_rollups(true), raw_truncated);
        // Disabling a source changes what "any" means: still exact, and refresh keeps working.
        Spi::run(
            "UPDATE mking_analytics.sources SET enabled = false WHERE source_name = 'comment'",
        )
        .unwrap();
        let raw_disabled = answers_with_rollups(false);
        assert_eq!(answers_with_rollups(true), raw_disabled);
        Spi::run("SELECT * FROM mking_analytics.refresh_rollups()").unwrap();
        Spi::run("SELECT * FROM mking_analytics.refresh_rollups()").unwrap();
        assert_eq!(answers_with_rollups(true), raw_disabled);
    }

    #[pg_test]
    fn schedule_explains_missing_pg_cron() {
        assert_eq!(
            outcome("SELECT * FROM mking_analytics.schedule()"),
            "55000: pg_cron is not installed in this database"
        );
        // Pruning pg_cron's run log: nothing to prune without pg_cron; a bad keep is named.
        assert_eq!(text("SELECT mking_analytics.prune_job_log()::text"), "0");
        assert_eq!(
            outcome("SELECT mking_analytics.prune_job_log('-1 day')"),
            "22023: invalid keep '-1 days': give an interval from 0 to 100 years"
        );
        assert_eq!(
            outcome("SELECT mking_analytics.prune_job_log(NULL)"),
            "22023: invalid keep NULL: give an interval from 0 to 100 years"
        );
    }
}
