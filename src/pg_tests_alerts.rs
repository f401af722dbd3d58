//! `#[pg_test]`s of live metrics and alert evaluation, with hand-checked values. Event times are
//! relative to now, since the metrics look at the last hour / 5 minutes.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::pg_tests::tests::{outcome, text};

    /// The platform's tables (in UTC), plus `pg_temp.ago(minutes)`: the UTC wall time that many
    /// minutes before now, as the platform stores it.
    fn platform() {
        crate::pg_tests::tests::platform();
        Spi::run(
            "CREATE FUNCTION pg_temp.ago(minutes numeric) RETURNS timestamp LANGUAGE sql AS
                 $$ SELECT (now() AT TIME ZONE 'UTC') - make_interval(secs => minutes * 60) $$;",
        )
        .unwrap();
    }

    /// `rule name=status` of one evaluation round, in rule order.
    fn evaluate() -> String {
        text("SELECT string_agg(format('%s=%s', rule_name, status), ' ' ORDER BY rule_id) FROM mking_analytics.evaluate_alerts()")
    }

    /// A rule as the test's superuser writes it; query rules are owned by the plain role
    /// `it_rule_runner` (a superuser's query rule is refused).
    fn rule(name: &str, kind: &str, what: &str, op: &str, threshold: &str) {
        let (query, metric, owner) = if kind == "query" {
            Spi::run("DO $$ BEGIN IF to_regrole('it_rule_runner') IS NULL THEN CREATE ROLE it_rule_runner NOLOGIN; END IF; END $$").unwrap();
            (Some(what), None, Some("it_rule_runner"))
        } else {
            (None, Some(what), None)
        };
        Spi::run_with_args(
            "INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, condition_query, metric, comparison_operator, threshold_value, owner_role)
             VALUES ($1, $2, $3, $4, $5, $6::numeric, coalesce($7::name, current_user))",
            &[name.into(), kind.into(), query.into(), metric.into(), op.into(), threshold.into(), owner.into()],
        )
        .unwrap();
    }

    #[pg_test]
    fn live_metrics_count_the_last_hour_and_five_minutes() {
        platform();
        Spi::run(
            "INSERT INTO user_behavior_logs (user_id, session_id, created_at) VALUES
                 (1, 's1', pg_temp.ago(30)), (1, 's1', pg_temp.ago(30)),   -- duplicate row: one user
                 (2, 's2', pg_temp.ago(59)), (3, 's3', pg_temp.ago(61)),   -- 3 is outside the hour
                 (NULL, 's4', pg_temp.ago(10));                           -- no user: not a user
             INSERT INTO likes (user_id, post_id, created_at) VALUES
                 (4, 10, pg_temp.ago(2)), (4, 10, pg_temp.ago(2)),         -- the same like twice: one event
                 (5, 10, pg_temp.ago(20));
             INSERT INTO comments (user_id, post_id, created_at) VALUES (1, 10, pg_temp.ago(4));
             INSERT INTO shares (user_id, post_id, created_at) VALUES (2, 10, pg_temp.ago(6));  -- > 5 min
             INSERT INTO follows (follower_id, following_id, created_at) VALUES (6, 1, pg_temp.ago(1));
             INSERT INTO posts (id, user_id, created_at) VALUES (10, 1, pg_temp.ago(10)), (11, 2, pg_temp.ago(70));",
        )
        .unwrap();
        // Active in the hour: 1, 2 (sessions), 4, 5 (likes), 1 (comment), 2 (share), 6 (follow), 1 (post).
        assert_eq!(
            text("SELECT format('%s/%s/%s/%s', active_users_1h, posts_1h, interactions_5m, coalesce(error_rate::text, 'null')) FROM mking_analytics.live_metrics()"),
            "5/1/3/null"
        );
        // Empty platform tables: zeros, not NULLs.
        Spi::run("TRUNCATE user_behavior_logs, likes, comments, shares, follows, posts").unwrap();
        assert_eq!(
            text("SELECT format('%s/%s/%s', active_users_1h, posts_1h, interactions_5m) FROM mking_analytics.live_metrics()"),
            "0/0/0"
        );
    }

    #[pg_test]
    fn error_rate_from_request_rows_or_counters() {
        platform();
        Spi::run(
            "CREATE TABLE public.requests (at timestamptz, failed boolean);
             INSERT INTO public.requests VALUES (clock_timestamp() - interval '1 min', true),
                 (clock_timestamp() - interval '2 min', false), (clock_timestamp() - interval '3 min', false),
                 (clock_timestamp() - interval '6 min', true);   -- outside the 5-minute window
             SELECT mking_analytics.set_error_rate_source('requests', 'at', 'failed');",
        )
        .unwrap();
        // Resolved with the caller's search_path, stored schema-qualified.
        assert_eq!(
            text("SELECT relation FROM mking_analytics.error_rate_source"),
            "public.requests"
        );
        assert_eq!(
            text("SELECT error_rate::text FROM mking_analytics.live_metrics()"),
            "33.33"
        );
        // Counters summed over the window (timestamp columns are UTC wall time).
        Spi::run(
            "CREATE TABLE public.request_counts (minute timestamp, errors int, requests int);
             INSERT INTO public.request_counts VALUES (pg_temp.ago(1), 3, 40), (pg_temp.ago(3), 0, 40), (pg_temp.ago(30), 50, 50);
             SELECT mking_analytics.set_error_rate_source('public.request_counts', 'minute', 'errors', 'requests');",
        )
        .unwrap();
        assert_eq!(
            text("SELECT error_rate::text FROM mking_analytics.live_metrics()"),
            "3.75"
        );
        // No requests in the window: NULL, not a division by zero.
        Spi::run("DELETE FROM public.request_counts WHERE errors < 50").unwrap();
        assert_eq!(
            text("SELECT coalesce(error_rate::text, 'null') FROM mking_analytics.live_metrics()"),
            "null"
        );
        // Mistakes name the argument.
        assert_eq!(
            outcome("SELECT mking_analytics.set_error_rate_source('public.request_counts', 'minute', 'errors')"),
            "22023: invalid errors_column 'errors': without requests_column it must be a boolean column of public.request_counts (true = the request failed)"
        );
        assert!(
            outcome("SELECT mking_analytics.set_error_rate_source('public.nope', 'a', 'b')")
                .starts_with("42P01: invalid relation 'public.nope'")
        );
    }

    #[pg_test]
    fn default_rules_exist_disabled() {
        assert_eq!(
            text("SELECT string_agg(format('%s %s %s active=%s', metric, comparison_operator, threshold_value::int, is_active), '; ' ORDER BY id) FROM mking_analytics.alert_rules"),
            "active_users_1h < 10 active=f; error_rate > 5 active=f; posts_1h < 1 active=f"
        );
        // Disabled rules are not evaluated.
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.evaluate_alerts()"),
            "0"
        );
    }

    #[pg_test]
    fn fire_cooldown_renotify_resolve() {
        platform();
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        Spi::run("INSERT INTO posts (id, user_id, created_at) VALUES (1, 1, pg_temp.ago(10)), (2, 1, pg_temp.ago(20))").unwrap();
        rule("busy", "metric", "posts_1h", ">=", "2");
        rule("stall", "metric", "posts_1h", "<", "1");
        rule("errors", "metric", "error_rate", ">", "5");
        // errors has no source: skipped, neither fired nor failed.
        assert_eq!(evaluate(), "busy=fired stall=ok errors=skipped");
        assert_eq!(
            text("SELECT format('%s|%s|%s|%s|%s|%s', trigger_value, threshold_value, comparison_operator, notification_status, notification_count, alert_message) FROM mking_analytics.alert_triggers"),
            "2|2.0000|>=|pending|1|busy: posts_1h = 2 >= 2.0000"
        );
        assert_eq!(
            text("SELECT format('%s|%s', last_status, last_error) FROM mking_analytics.alert_rules WHERE rule_name = 'errors'"),
            "skipped|error_rate: no data"
        );
        // Within the cooldown (5 minutes by default): quiet.
        assert_eq!(evaluate(), "busy=firing stall=ok errors=skipped");
        // Cooldown over: one re-notification on the same open trigger.
        Spi::run("UPDATE mking_analytics.alert_triggers SET last_notified_at = last_notified_at - interval '5 minutes', notification_status = 'delivered'").unwrap();
        assert_eq!(evaluate(), "busy=renotified stall=ok errors=skipped");
        assert_eq!(
            text("SELECT format('%s|%s|%s', count(*), max(notification_count), max(notification_status)) FROM mking_analytics.alert_triggers"),
            "1|2|pending"
        );
        // The condition clears: resolved, with a resolve notification pending.
        Spi::run("DELETE FROM posts WHERE id = 2").unwrap();
        assert_eq!(evaluate(), "busy=resolved stall=ok errors=skipped");
        assert_eq!(
            text("SELECT format('%s|%s', resolved_at IS NOT NULL, resolve_notification_status) FROM mking_analytics.alert_triggers"),
            "t|pending"
        );
        assert_eq!(evaluate(), "busy=ok stall=ok errors=skipped");
        // Firing again opens a new trigger; switching the rule off closes it.
        Spi::run("INSERT INTO posts (id, user_id, created_at) VALUES (3, 1, pg_temp.ago(1))")
            .unwrap();
        assert_eq!(evaluate(), "busy=fired stall=ok errors=skipped");
        Spi::run(
            "UPDATE mking_analytics.alert_rules SET is_active = false WHERE rule_name = 'busy'",
        )
        .unwrap();
        assert_eq!(evaluate(), "stall=ok errors=skipped");
        assert_eq!(
            text("SELECT string_agg(format('%s:%s', resolved_at IS NOT NULL, alert_message), ' / ' ORDER BY id) FROM mking_analytics.alert_triggers"),
            "t:busy: posts_1h = 2 >= 2.0000 / t:busy: posts_1h = 2 >= 2.0000"
        );
        assert_eq!(
            text("SELECT format('%s|%s', last_status, last_value) FROM mking_analytics.alert_rules WHERE rule_name = 'busy'"),
            "resolved|2"
        );
        // Every operator, at the boundary: value 2 against threshold 2.
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        for op in [">", "<", ">=", "<=", "="] {
            rule(&format!("op {op}"), "metric", "posts_1h", op, "2");
        }
        assert_eq!(
            evaluate(),
            "op >=ok op <=ok op >==fired op <==fired op ==fired"
        );
    }

    #[pg_test]
    fn failing_rules_are_recorded_and_the_others_run() {
        platform();
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        Spi::run("INSERT INTO likes (user_id, post_id, created_at) VALUES (1, 1, pg_temp.ago(1))")
            .unwrap();
        rule("syntax", "query", "SELEC 1", ">", "0");
        rule("division", "query", "SELECT 1/0", ">", "0");
        rule("text", "query", "SELECT 'many'", ">", "0");
        rule("two rows", "query", "VALUES (1), (2)", ">", "0");
        rule("no rows", "query", "SELECT 1 WHERE false", ">", "0");
        rule("null", "query", "SELECT NULL::int", ">", "0");
        rule("slow", "query", "SELECT 1 FROM pg_sleep(3)", ">", "0");
        Spi::run("UPDATE mking_analytics.alert_rules SET parameters = '{\"timeout_ms\": 200}' WHERE rule_name = 'slow'").unwrap();
        rule(
            "good",
            "query",
            "SELECT count(*) FROM public.likes;  ",
            ">",
            "0",
        );
        Spi::run(
            "CREATE ROLE checker NOLOGIN; GRANT SELECT ON public.likes TO checker;
             UPDATE mking_analytics.alert_rules SET owner_role = 'checker'",
        )
        .unwrap();
        assert_eq!(
            evaluate(),
            "syntax=error division=error text=error two rows=error no rows=skipped null=skipped slow=error good=fired"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s: %s', rule_name, last_error), E'\\n' ORDER BY id) FROM mking_analytics.alert_rules WHERE last_status = 'error'"),
            [
                "syntax: syntax error at or near \"1\" (SQLSTATE 42601)",
                "division: division by zero (SQLSTATE 22012)",
                "text: invalid input syntax for type numeric: \"many\" (SQLSTATE 22P02)",
                "two rows: the condition query returned more than one row; it must return exactly one (SQLSTATE 21000)",
                "slow: canceling statement due to statement timeout: the condition query ran past timeout_ms (200 ms) (SQLSTATE 57014)",
            ]
            .join("\n")
        );
        // The evaluator is itself again afterwards: same user, writable, no pending cancel.
        assert_eq!(
            text("SELECT current_user::text || '/' || current_setting('transaction_read_only')"),
            "postgres/off"
        );
        Spi::run("CREATE TEMP TABLE after_rules (x int); INSERT INTO after_rules VALUES (1)")
            .unwrap();
    }

    #[pg_test]
    fn rule_queries_run_read_only_restricted_as_their_owner() {
        platform();
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        Spi::run(
            "CREATE ROLE rule_owner NOLOGIN IN ROLE mking_analytics_admin;
             CREATE TABLE public.secret (x int); INSERT INTO public.secret VALUES (42);
             CREATE TABLE public.visible (x int); INSERT INTO public.visible VALUES (7);
             GRANT SELECT, INSERT ON public.visible TO rule_owner;
             CREATE SEQUENCE public.counter; GRANT USAGE ON SEQUENCE public.counter TO rule_owner;
             CREATE FUNCTION public.sneaky_write() RETURNS int LANGUAGE sql AS $$ INSERT INTO public.visible VALUES (1) RETURNING x $$;
             GRANT EXECUTE ON FUNCTION public.sneaky_write() TO rule_owner;
             INSERT INTO likes (user_id, post_id, created_at) VALUES (1, 1, pg_temp.ago(1));",
        )
        .unwrap();
        let owned = |name: &str, sql: &str| {
            rule(name, "query", sql, ">", "0");
            Spi::run_with_args(
                "UPDATE mking_analytics.alert_rules SET owner_role = 'rule_owner' WHERE rule_name = $1",
                &[name.into()],
            )
            .unwrap();
        };
        owned("reads its own", "SELECT max(x) FROM public.visible");
        owned("reads secret", "SELECT max(x) FROM public.secret");
        owned("writes", "SELECT public.sneaky_write()");
        owned("nextval", "SELECT nextval('public.counter')");
        owned(
            "set role",
            "SELECT length(set_config('role', 'postgres', false))",
        );
        owned(
            "session auth",
            "SELECT length(set_config('session_authorization', 'postgres', false))",
        );
        owned(
            "read write",
            "SELECT length(set_config('transaction_read_only', 'off', true))",
        );
        owned(
            "who",
            "SELECT CASE WHEN current_user = 'rule_owner' THEN 1 ELSE 0 END",
        );
        // A superuser's query rule is refused when written ...
        assert_eq!(
            outcome("INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, condition_query, threshold_value) VALUES ('mine', 'query', 'SELECT 1', 0)"),
            "42501: alert rule \"mine\": owner_role postgres is a superuser, and condition queries never run with superuser rights"
        );
        // ... and refused when run, if its owner became a superuser since.
        rule("superuser owned", "query", "SELECT 1", ">", "0");
        Spi::run("CREATE ROLE later_super NOLOGIN; UPDATE mking_analytics.alert_rules SET owner_role = 'later_super' WHERE rule_name = 'superuser owned'; ALTER ROLE later_super SUPERUSER").unwrap();
        assert_eq!(
            evaluate(),
            "reads its own=fired reads secret=error writes=error nextval=error set role=error session auth=error read write=error who=fired superuser owned=error"
        );
        let errors = text("SELECT string_agg(format('%s: %s', rule_name, last_error), E'\\n' ORDER BY id) FROM mking_analytics.alert_rules WHERE last_status = 'error'");
        assert_eq!(
            errors,
            [
                "reads secret: permission denied for table secret (SQLSTATE 42501)",
                "writes: cannot execute INSERT in a read-only transaction (SQLSTATE 25006)",
                "nextval: cannot execute nextval() in a read-only transaction (SQLSTATE 25006)",
                "set role: cannot set parameter \"role\" within security-restricted operation (SQLSTATE 42501)",
                "session auth: cannot set parameter \"session_authorization\" within security-restricted operation (SQLSTATE 42501)",
                "read write: cannot set transaction read-write mode inside a read-only transaction (SQLSTATE 25001)",
                "superuser owned: owner role \"later_super\" is a superuser; condition queries never run with superuser rights: recreate the rule as a non-superuser admin (SQLSTATE 42501)",
            ]
            .join("\n")
        );
        assert_eq!(text("SELECT count(*)::text FROM public.visible"), "1");
        assert_eq!(text("SELECT current_user::text"), "postgres");
    }

    #[pg_test]
    fn only_admins_write_rules_and_readers_read_triggers() {
        Spi::run(
            "CREATE ROLE some_admin NOLOGIN IN ROLE mking_analytics_admin;
             CREATE ROLE some_reader NOLOGIN IN ROLE mking_analytics_reader;
             CREATE ROLE nobody NOLOGIN;",
        )
        .unwrap();
        assert_eq!(outcome("SELECT 1"), "ok");
        let insert = "INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, threshold_value) VALUES ('x', 'metric', 'posts_1h', 1)";
        Spi::run("SET LOCAL ROLE some_reader").unwrap();
        assert_eq!(
            outcome(insert),
            "42501: permission denied for table alert_rules"
        );
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.alert_triggers"),
            "0"
        );
        assert!(outcome("SELECT * FROM mking_analytics.evaluate_alerts()")
            .starts_with("42501: permission denied for function evaluate_alerts"));
        Spi::run("RESET ROLE; SET LOCAL ROLE nobody").unwrap();
        assert!(
            outcome("SELECT count(*) FROM mking_analytics.alert_triggers")
                .starts_with("42501: permission denied for schema mking_analytics")
        );
        Spi::run("RESET ROLE; SET LOCAL ROLE some_admin").unwrap();
        assert_eq!(outcome(insert), "ok");
        assert_eq!(
            text("SELECT owner_role::text FROM mking_analytics.alert_rules WHERE rule_name = 'x'"),
            "some_admin"
        );
        // An admin cannot make a rule run as someone else.
        assert_eq!(
            outcome("UPDATE mking_analytics.alert_rules SET owner_role = 'postgres' WHERE rule_name = 'x'"),
            "42501: alert rule \"x\": owner_role postgres is not a role you are a member of"
        );
        assert_eq!(
            outcome("INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, threshold_value, comparison_operator) VALUES ('y', 'metric', 'posts_1h', 1, '!=')"),
            "22023: alert rule \"y\": invalid comparison_operator '!='"
        );
        Spi::run("RESET ROLE").unwrap();
    }

    #[pg_test]
    fn huge_multibyte_names_still_notify() {
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        let long = "警".repeat(5000);
        rule(&long, "query", "SELECT 1", ">", "0");
        Spi::run("CREATE ROLE plain_owner NOLOGIN; UPDATE mking_analytics.alert_rules SET owner_role = 'plain_owner'").unwrap();
        assert_eq!(
            text("SELECT string_agg(status, ',') FROM mking_analytics.evaluate_alerts()"),
            "fired"
        );
        // The full name stays in the table.
        assert_eq!(
            text("SELECT char_length(rule_name)::text FROM mking_analytics.alert_triggers"),
            "5000"
        );
    }

    #[pg_test]
    fn a_source_another_role_wrote_is_refused_and_other_metrics_still_run() {
        platform();
        Spi::run(
            "DELETE FROM mking_analytics.alert_rules;
             CREATE ROLE it_view_owner NOLOGIN;
             GRANT SELECT ON public.posts TO it_view_owner;
             CREATE VIEW public.posts_v AS SELECT * FROM public.posts;
             ALTER VIEW public.posts_v OWNER TO it_view_owner;
             UPDATE mking_analytics.sources SET relation = 'public.posts_v' WHERE source_name = 'post';
             INSERT INTO likes (user_id, post_id, created_at) VALUES (4, 10, pg_temp.ago(2));",
        )
        .unwrap();
        rule("posts", "metric", "posts_1h", ">", "100");
        rule("interactions", "metric", "interactions_5m", ">", "0");
        // The view's functions would run as the evaluator (the extension's owner): refused, and
        // only the rule on that metric fails.
        assert_eq!(evaluate(), "posts=error interactions=fired");
        let error =
            text("SELECT last_error FROM mking_analytics.alert_rules WHERE rule_name = 'posts'");
        assert!(
            error.contains("source \"post\" refused: public.posts_v is a view owned by it_view_owner, not by a superuser"),
            "{error}"
        );
        // The same view owned by a superuser is trusted.
        Spi::run("ALTER VIEW public.posts_v OWNER TO CURRENT_USER").unwrap();
        assert_eq!(evaluate(), "posts=ok interactions=firing");
        Spi::run("DROP VIEW public.posts_v; REVOKE ALL ON public.posts FROM it_view_owner; DROP ROLE it_view_owner").unwrap();
    }

    #[pg_test]
    fn anomaly_rules_work_on_the_error_rate() {
        platform();
        Spi::run(
            "DELETE FROM mking_analytics.alert_rules;
             CREATE TABLE public.req (at timestamptz, failed boolean);
             -- The same minute of the three earlier weeks: 1 of 4 requests failed (25 %).
             INSERT INTO public.req
             SELECT clock_timestamp() - make_interval(days => 7 * w, mins => 1), r = 1
               FROM generate_series(1, 3) w, generate_series(1, 4) r;
             -- Now: 1 of 2 (50 %).
             INSERT INTO public.req VALUES (clock_timestamp() - interval '1 min', true), (clock_timestamp() - interval '1 min', false);
             SELECT mking_analytics.set_error_rate_source('public.req', 'at', 'failed');
             INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric) VALUES ('errors anomaly', 'anomaly', 'error_rate');",
        )
        .unwrap();
        // Band: median 25, half-width 3 × max(MAD 0, sqrt(25) = 5, 2.5, 1) = 15 → [10, 40]; 50 is above.
        assert_eq!(
            text("SELECT format('%s %s', status, value) FROM mking_analytics.evaluate_alerts()"),
            "fired 50.00"
        );
        assert_eq!(
            text("SELECT alert_message FROM mking_analytics.alert_triggers"),
            "errors anomaly: error_rate = 50.00 is above the expected band 10.00 to 40.00 (median 25.00 of the same hour in 3 earlier weeks)"
        );
        // Bad parameters are refused when written.
        let set = |p: &str| {
            outcome(&format!(
                "UPDATE mking_analytics.alert_rules SET parameters = '{p}'"
            ))
        };
        assert_eq!(
            set(r#"{"sensitivity": "3"}"#),
            "22023: alert rule \"errors anomaly\": invalid parameters.sensitivity \"3\""
        );
        assert_eq!(
            set(r#"{"sensitivity": 0}"#),
            "22023: alert rule \"errors anomaly\": invalid parameters.sensitivity 0"
        );
        assert_eq!(
            set(r#"{"sensitivty": 2}"#),
            "22023: alert rule \"errors anomaly\": unknown parameters key 'sensitivty'"
        );
        assert_eq!(
            set(r#"{"weeks": 2}"#),
            "22023: alert rule \"errors anomaly\": invalid parameters.weeks 2"
        );
        assert_eq!(
            set(r#"{"direction": "sideways"}"#),
            "22023: alert rule \"errors anomaly\": invalid parameters.direction \"sideways\""
        );
        assert_eq!(
            set(r#"{"weeks": 52, "direction": "below", "sensitivity": null}"#),
            "ok"
        );
    }

    #[pg_test]
    fn anomaly_band_follows_the_same_hour_of_earlier_weeks() {
        platform();
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        Spi::run(
            "INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, parameters)
             VALUES ('activity anomaly', 'anomaly', 'active_users_1h', '{\"weeks\": 6}');
             -- Four earlier weeks at this hour: 10 users each (a quiet hour, like a weekend).
             INSERT INTO user_behavior_logs (user_id, session_id, created_at)
             SELECT u, 'h' || w, pg_temp.ago(w * 7 * 24 * 60 + 20) FROM generate_series(1, 4) w, generate_series(1, 10) u;
             -- Every other day at this hour is busy (50 users): a daily baseline would call 10 a dip.
             INSERT INTO user_behavior_logs (user_id, session_id, created_at)
             SELECT 100 + u, 'd' || d, pg_temp.ago(d * 24 * 60 + 20) FROM generate_series(1, 27) d, generate_series(1, 50) u
              WHERE d % 7 <> 0;
             -- Now: the usual 10.
             INSERT INTO user_behavior_logs (user_id, session_id, created_at)
             SELECT u, 'now', pg_temp.ago(20) FROM generate_series(1, 10) u;",
        )
        .unwrap();
        // Band: median 10, half-width 3 × max(MAD 0, sqrt(10)) = 9.49 → [0.51, 19.49].
        assert_eq!(
            text("SELECT format('%s %s %s', status, value, threshold) FROM mking_analytics.evaluate_alerts()"),
            "ok 10 0.5132"
        );
        // Flat history and a small wobble (11): still inside.
        Spi::run("INSERT INTO user_behavior_logs (user_id, session_id, created_at) VALUES (11, 'now', pg_temp.ago(5))").unwrap();
        assert_eq!(
            text("SELECT status FROM mking_analytics.evaluate_alerts()"),
            "ok"
        );
        // A surge to 30: above the band.
        Spi::run(
            "INSERT INTO user_behavior_logs (user_id, session_id, created_at) SELECT 200 + u, 'now', pg_temp.ago(5) FROM generate_series(1, 19) u",
        )
        .unwrap();
        assert_eq!(
            text("SELECT format('%s %s %s', status, value, threshold) FROM mking_analytics.evaluate_alerts()"),
            "fired 30 19.4868"
        );
        assert_eq!(
            text("SELECT format('%s %s', comparison_operator, alert_message) FROM mking_analytics.alert_triggers"),
            "> activity anomaly: active_users_1h = 30 is above the expected band 0.51 to 19.49 (median 10.00 of the same hour in 4 earlier weeks)"
        );
        // Only two weeks of history: skipped, not fired.
        Spi::run("DELETE FROM user_behavior_logs WHERE session_id IN ('h3', 'h4') OR session_id LIKE 'd%'").unwrap();
        assert_eq!(
            text("SELECT format('%s: %s', status, message) FROM mking_analytics.evaluate_alerts()"),
            "skipped: active_users_1h: not enough history for an expected band (2 earlier weeks with data at this hour; 3 needed)"
        );
    }

    #[pg_test]
    fn rule_mistakes_are_refused_when_written_with_the_accepted_values() {
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        let insert = |cols: &str, vals: &str| {
            outcome(&format!(
                "INSERT INTO mking_analytics.alert_rules ({cols}) VALUES ({vals})"
            ))
        };
        assert_eq!(
            insert(
                "rule_name, rule_type, metric, comparison_operator, threshold_value",
                "' ', 'metric', 'posts_1h', '>', 1"
            ),
            "22023: alert rule: rule_name must not be blank"
        );
        assert_eq!(
            insert(
                "rule_name, rule_type, comparison_operator, threshold_value",
                "'no metric', 'metric', '>', 1"
            ),
            "22023: alert rule \"no metric\": invalid metric NULL"
        );
        assert_eq!(
            insert(
                "rule_name, rule_type, metric",
                "'no metric', 'anomaly', 'posts'"
            ),
            "22023: alert rule \"no metric\": invalid metric 'posts'"
        );
        assert_eq!(
            insert(
                "rule_name, rule_type, metric, threshold_value",
                "'t', 'metrc', 'posts_1h', 1"
            ),
            "22023: alert rule \"t\": invalid rule_type 'metrc'"
        );
        assert_eq!(
            insert(
                "rule_name, metric, comparison_operator, threshold_value",
                "'op', 'posts_1h', '=>', 1"
            ),
            "22023: alert rule \"op\": invalid comparison_operator '=>'"
        );
        assert_eq!(
            insert("rule_name, metric", "'no threshold', 'posts_1h'"),
            "22023: alert rule \"no threshold\": a metric rule needs a threshold_value"
        );
        assert_eq!(
            insert(
                "rule_name, metric, threshold_value",
                "'nan', 'posts_1h', 'NaN'"
            ),
            "22023: alert rule \"nan\": threshold_value NaN compares above every number"
        );
        assert_eq!(
            insert(
                "rule_name, metric, threshold_value, parameters",
                "'p', 'posts_1h', 1, '{\"timeout_ms\": 100}'"
            ),
            "22023: alert rule \"p\": unknown parameters key 'timeout_ms'"
        );
        Spi::run("CREATE ROLE it_plain NOLOGIN").unwrap();
        assert_eq!(
            insert(
                "rule_name, rule_type, condition_query, threshold_value, owner_role, parameters",
                "'slow', 'query', 'SELECT 1', 0, 'it_plain', '{\"timeout_ms\": 100000}'"
            ),
            "22023: alert rule \"slow\": invalid parameters.timeout_ms 100000"
        );
        assert_eq!(
            insert(
                "rule_name, rule_type, threshold_value, owner_role",
                "'q', 'query', 0, 'it_plain'"
            ),
            "22023: alert rule \"q\": a query rule needs a condition_query"
        );
        assert_eq!(
            insert(
                "rule_name, rule_type, condition_query, threshold_value, owner_role",
                "'q', 'query', E'  \\n ; ', 0, 'it_plain'"
            ),
            "22023: alert rule \"q\": a query rule needs a condition_query"
        );
        assert_eq!(
            insert(
                "rule_name, rule_type, metric, parameters",
                "'s', 'anomaly', 'posts_1h', '{\"sensitivity\": 1000}'"
            ),
            "22023: alert rule \"s\": invalid parameters.sensitivity 1000"
        );
        assert_eq!(
            insert(
                "rule_name, metric, threshold_value, alert_channels",
                "'c', 'posts_1h', 1, '{\"slak\": \"https://x\"}'"
            ),
            "22023: alert rule \"c\": unknown alert_channels key 'slak'"
        );
        assert_eq!(
            insert(
                "rule_name, metric, threshold_value, alert_channels",
                "'c', 'posts_1h', 1, '{\"email\": [\"a@example.com\", 7]}'"
            ),
            "22023: alert rule \"c\": invalid alert_channels.email [\"a@example.com\", 7]"
        );
        // Only CREATE EXTENSION writes built-in rules: pg_dump leaves them out.
        assert_eq!(
            insert(
                "rule_name, metric, threshold_value, builtin",
                "'b', 'posts_1h', 1, true"
            ),
            "22023: alert rule \"b\": builtin cannot be set or cleared"
        );
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.alert_rules"),
            "0"
        );

        // A rule that never fired is "not" above its threshold; one whose alert clears is "no longer".
        platform();
        rule("quiet", "metric", "posts_1h", ">", "5");
        assert_eq!(
            text("SELECT format('%s: %s', status, message) FROM mking_analytics.evaluate_alerts()"),
            "ok: quiet: posts_1h = 0, not > 5.0000"
        );
        // The evaluator's bookkeeping is not an edit: updated_at stays.
        Spi::run("UPDATE mking_analytics.alert_rules SET updated_at = '2020-01-01 00:00+00'")
            .unwrap();
        Spi::run("SELECT count(*) FROM mking_analytics.evaluate_alerts()").unwrap();
        assert_eq!(
            text("SELECT format('%s %s', last_status, updated_at AT TIME ZONE 'UTC') FROM mking_analytics.alert_rules"),
            "ok 2020-01-01 00:00:00"
        );
    }

    #[pg_test]
    fn an_anomaly_band_of_a_count_never_goes_below_zero() {
        platform();
        Spi::run(
            "DELETE FROM mking_analytics.alert_rules;
             -- The platform's first post, 4 weeks and 2 hours ago: four earlier weeks with 0 posts at this hour.
             INSERT INTO posts (id, user_id, created_at) VALUES (1, 1, pg_temp.ago(4 * 7 * 24 * 60 + 120));
             INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric) VALUES ('posts calm', 'anomaly', 'posts_1h');",
        )
        .unwrap();
        // Median 0, half-width 3 × max(MAD 0, √0, 0, 1) = 3: the band is [0, 3], not [-3, 3].
        assert_eq!(
            text("SELECT format('%s %s %s: %s', status, value, threshold, message) FROM mking_analytics.evaluate_alerts()"),
            "ok 0 0.0000: posts calm: posts_1h = 0 is inside the expected band 0.00 to 3.00 (median 0.00 of the same hour in 4 earlier weeks)"
        );
    }

    #[pg_test]
    fn an_unusable_error_rate_source_is_refused_when_set_and_nulls_only_its_metric() {
        platform();
        Spi::run(
            "CREATE ROLE it_vowner NOLOGIN;
             CREATE TABLE public.req (at timestamptz, failed boolean);
             INSERT INTO public.req VALUES (clock_timestamp() - interval '1 min', true);
             CREATE VIEW public.req_v AS SELECT * FROM public.req;
             ALTER VIEW public.req_v OWNER TO it_vowner;
             INSERT INTO likes (user_id, post_id, created_at) VALUES (4, 10, pg_temp.ago(2));",
        )
        .unwrap();
        assert_eq!(
            outcome("SELECT mking_analytics.set_error_rate_source(NULL, 'at', 'failed')"),
            "22004: set_error_rate_source: relation must not be NULL"
        );
        assert_eq!(
            outcome("SELECT mking_analytics.set_error_rate_source('public.req', 'at', 'failed', window_minutes => NULL)"),
            "22004: set_error_rate_source: window_minutes must not be NULL"
        );
        // A temporary table, even a superuser's: the scheduled rounds run in other sessions.
        Spi::run("CREATE TEMP TABLE req_tmp (at timestamptz, failed boolean)").unwrap();
        assert_eq!(
            outcome("SELECT mking_analytics.set_error_rate_source('req_tmp', 'at', 'failed')"),
            "42501: error-rate source refused: req_tmp is a temporary relation, visible only to the session that created it"
        );
        assert_eq!(
            outcome("SELECT mking_analytics.set_error_rate_source('public.req_v', 'at', 'failed')"),
            "42501: error-rate source refused: public.req_v is a view owned by it_vowner, not by a superuser: its code would run with the rights of postgres"
        );
        assert_eq!(
            outcome("SELECT mking_analytics.set_error_rate_source('public.req', 'at', 'failed')"),
            "ok"
        );
        assert_eq!(
            text("SELECT format('%s %s', interactions_5m, error_rate) FROM mking_analytics.live_metrics()"),
            "1 100.00"
        );
        // Pointed at the view behind the function's back (say, by a restore): live_metrics() keeps
        // its other columns, error_rate is NULL (with a WARNING).
        Spi::run("UPDATE mking_analytics.error_rate_source SET relation = 'public.req_v'").unwrap();
        assert_eq!(
            text("SELECT format('%s %s', interactions_5m, coalesce(error_rate::text, 'NULL')) FROM mking_analytics.live_metrics()"),
            "1 NULL"
        );
    }

    #[pg_test]
    fn a_query_returning_nan_or_infinity_is_an_error_not_a_firing() {
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        rule("nan", "query", "SELECT 'NaN'::numeric", ">", "0");
        rule("inf", "query", "SELECT 'Infinity'::float8", ">", "1");
        rule("-inf", "query", "SELECT '-Infinity'::numeric", "<", "1");
        assert_eq!(
            text("SELECT string_agg(format('%s: %s', status, message), E'\n' ORDER BY rule_id) FROM mking_analytics.evaluate_alerts()"),
            [
                "error: value NaN is not a number (SQLSTATE 22P02)",
                "error: value Infinity is not a finite number (SQLSTATE 22P02)",
                "error: value -Infinity is not a finite number (SQLSTATE 22P02)",
            ]
            .join("\n")
        );
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.alert_triggers"),
            "0"
        );
    }

    #[pg_test]
    fn a_query_that_swallows_its_cancel_still_times_out() {
        // plpgsql may catch query_canceled: the cancel repeats after the deadline, and a value
        // returned past it is refused rather than compared.
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        Spi::run(
            "CREATE FUNCTION public.stubborn() RETURNS int LANGUAGE plpgsql AS $$
             BEGIN
                 FOR i IN 1..3 LOOP
                     BEGIN PERFORM pg_sleep(2); EXCEPTION WHEN query_canceled THEN NULL; END;
                 END LOOP;
                 RETURN 42;
             END $$;
             CREATE FUNCTION public.fallback() RETURNS int LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_sleep(2); RETURN 0;
             EXCEPTION WHEN query_canceled THEN RETURN 42; END $$",
        )
        .unwrap();
        rule("stubborn", "query", "SELECT public.stubborn()", ">", "1");
        rule("fallback", "query", "SELECT public.fallback()", ">", "1");
        Spi::run("UPDATE mking_analytics.alert_rules SET parameters = '{\"timeout_ms\": 200}'")
            .unwrap();
        assert_eq!(evaluate(), "stubborn=error fallback=error");
        assert_eq!(
            text("SELECT string_agg(DISTINCT last_error, ' | ') FROM mking_analytics.alert_rules"),
            "canceling statement due to statement timeout: the condition query ran past timeout_ms (200 ms) (SQLSTATE 57014)"
        );
        assert_eq!(
            text("SELECT count(*)::text FROM mking_analytics.alert_triggers"),
            "0"
        );
        // No cancel is left pending for the evaluator's own statements.
        Spi::run("CREATE TEMP TABLE after_timeout (x int)").unwrap();
    }

    #[pg_test]
    fn session_advisory_locks_taken_by_a_query_are_released_and_reported() {
        // A session-level advisory lock outlives the rule's subtransaction: held by the alert
        // loop's session, it would stop refresh_rollups() and the reports (same keys) for good.
        Spi::run("DELETE FROM mking_analytics.alert_rules").unwrap();
        rule(
            "grab refresh",
            "query",
            "SELECT pg_try_advisory_lock(hashtext('mking_analytics.refresh_rollups')::bigint)::int",
            ">",
            "5",
        );
        rule(
            "twice, shared, two keys",
            "query",
            "SELECT 1 FROM pg_advisory_lock(7) a, pg_advisory_lock(7) b, pg_advisory_lock_shared(8, -9) c",
            ">",
            "5",
        );
        rule(
            "transaction lock",
            "query",
            "SELECT pg_try_advisory_xact_lock(7)::int",
            ">",
            "5",
        );
        let locks = "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()";
        assert_eq!(text(locks), "0");
        assert_eq!(
            evaluate(),
            "grab refresh=error twice, shared, two keys=error transaction lock=ok"
        );
        assert_eq!(
            text("SELECT string_agg(format('%s: %s', rule_name, last_error), E'\\n' ORDER BY id) FROM mking_analytics.alert_rules WHERE last_status = 'error'"),
            [
                "grab refresh: the condition query took 1 session-level advisory lock(s), which outlive a rule and would block other work (the rollup refresh, reports, other apps); they were released. Use pg_try_advisory_xact_lock, which ends with the rule (SQLSTATE 42501)",
                "twice, shared, two keys: the condition query took 2 session-level advisory lock(s), which outlive a rule and would block other work (the rollup refresh, reports, other apps); they were released. Use pg_try_advisory_xact_lock, which ends with the rule (SQLSTATE 42501)",
            ]
            .join("\n")
        );
        // Only the evaluator's own transaction lock is left, until this transaction ends.
        assert_eq!(text(locks), "1");
        assert_eq!(
            text(
                "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            ),
            "ExclusiveLock"
        );
    }
}
