//! Source configuration: the platform's data under other names, disabled sources, missing tables,
//! and `mking_analytics.source_timezone`. Every expected value below is computed by hand.

use mking_analytics_integration::{
    connect_with_notices, err_text, exec, expect_err, fresh_db, install_extension, norm_row,
    text_rows,
};
use postgres::Client;

fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    text_rows(c, sql)
        .unwrap_or_else(|e| panic!("{sql}\n=> {}", err_text(&e)))
        .iter()
        .map(|r| norm_row(r).join("|"))
        .collect()
}

fn check(c: &mut Client, sql: &str, expected: &[&str], problems: &mut Vec<String>) {
    match text_rows(c, sql) {
        Err(e) => problems.push(format!("{sql}\n    => {}", err_text(&e))),
        Ok(r) => {
            let got: Vec<String> = r.iter().map(|r| norm_row(r).join("|")).collect();
            if got != expected {
                problems.push(format!(
                    "{sql}\n    got      {got:?}\n    expected {expected:?}"
                ));
            }
        }
    }
}

const APP: &str = "
CREATE SCHEMA app;
CREATE TABLE app.members (member_id int PRIMARY KEY, nick text, joined_at timestamptz);
CREATE TABLE app.sessions (uid int, sid text, opened_at timestamp);
CREATE TABLE app.reactions (actor int, item int, reacted_at timestamp);
-- joined: m1 Mar 1 10:00 UTC; m2 Mar 1 23:30 New York = Mar 2 04:30 UTC; m3 Mar 2 12:00 UTC
INSERT INTO app.members VALUES
  (1, 'a', '2026-03-01 10:00+00'), (2, 'b', '2026-03-01 23:30-05'), (3, 'c', '2026-03-02 12:00+00');
-- plain timestamps: UTC
INSERT INTO app.sessions VALUES
  (1, 'x1', '2026-03-01 11:00'), (1, 'x1', '2026-03-01 11:00'),
  (2, 'x2', '2026-03-02 05:00'), (3, 'x3', '2026-03-03 01:00'), (NULL, 'x4', '2026-03-02 00:00');
INSERT INTO app.reactions VALUES (1, 99, '2026-03-03 00:00'), (2, 99, '2026-03-03 23:59:59');
";

const R: &str = "'2026-03-01 00:00+00'::timestamptz, '2026-03-04 00:00+00'::timestamptz";

#[test]
fn renamed_tables_and_disabled_sources() {
    let mut c = fresh_db("it_sources");
    exec(&mut c, APP);
    install_extension(&mut c);
    let mut p = Vec::new();
    exec(
        &mut c,
        "SELECT mking_analytics.set_source('signup', 'app.members', 'member_id', 'joined_at', is_activity => false);
         SELECT mking_analytics.set_source('session', 'app.sessions', 'uid', 'opened_at', 'sid');
         SELECT mking_analytics.set_source('like', 'app.reactions', 'actor', 'reacted_at', 'item');
         UPDATE mking_analytics.sources SET enabled = false WHERE source_name IN ('comment', 'share', 'follow');
         SELECT mking_analytics.set_source('post', 'app.sessions', 'uid', 'opened_at', enabled => false);",
    );
    // the configuration is visible in the table
    check(
        &mut c,
        "SELECT source_name, relation, user_column, time_column, coalesce(target_column, '-'), enabled, is_activity
           FROM mking_analytics.sources WHERE source_name IN ('signup', 'session', 'like', 'post') ORDER BY 1",
        &[
            "like|app.reactions|actor|reacted_at|item|t|t",
            "post|app.sessions|uid|opened_at|-|f|t",
            "session|app.sessions|uid|opened_at|sid|t|t",
            "signup|app.members|member_id|joined_at|-|t|f",
        ],
        &mut p,
    );
    exec(&mut c, "SET TimeZone = 'UTC'");
    check(
        &mut c,
        &format!("SELECT time, new_users FROM mking_analytics.new_users({R}, 'day', 'UTC')"),
        &[
            "2026-03-01 00:00:00+00|1",
            "2026-03-02 00:00:00+00|2",
            "2026-03-03 00:00:00+00|0",
        ],
        &mut p,
    );
    // timestamptz signups are absolute: in New York m1 and m2 joined on Mar 1, m3 on Mar 2
    check(
        &mut c,
        "SELECT new_users FROM mking_analytics.new_users('2026-03-01 00:00-05', '2026-03-04 00:00-05', 'day', 'America/New_York')",
        &["2", "1", "0"],
        &mut p,
    );
    // sessions: m1 Mar1 (twice: once), m2 Mar2, m3 Mar3; reactions: m1 Mar3 00:00, m2 Mar3 23:59:59
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
        &["1", "1", "3"],
        &mut p,
    );
    check(
        &mut c,
        &format!(
            "SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC', '{{like}}')"
        ),
        &["0", "0", "2"],
        &mut p,
    );
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC', '{{session}}', 2)"),
        &["1", "2", "2"],
        &mut p,
    );
    // cohort Mar1 {m1}: Mar2 -, Mar3 yes.  cohort Mar2 {m2, m3}: Mar3 both, Mar4 none.
    check(
        &mut c,
        &format!(
            "SELECT cohort::date, cohort_size, period_offset, retained, retention_rate
               FROM mking_analytics.retention({R}, 'day', 2, 'signup', 'on', 'UTC', '2026-06-01')"
        ),
        &[
            "2026-03-01|1|0|1|100",
            "2026-03-01|1|1|0|0",
            "2026-03-01|1|2|1|100",
            "2026-03-02|2|0|2|100",
            "2026-03-02|2|1|2|100",
            "2026-03-02|2|2|0|0",
            "2026-03-03|0|0|0|NULL",
            "2026-03-03|0|1|0|NULL",
            "2026-03-03|0|2|0|NULL",
        ],
        &mut p,
    );
    // source_timezone: the plain timestamps are New York wall-clock times now.
    // sessions: m1 Mar1 16:00Z, m2 Mar2 10:00Z, m3 Mar3 06:00Z; reactions m1 Mar3 05:00Z,
    // m2 Mar4 04:59:59Z (out of the range)
    exec(
        &mut c,
        "SET mking_analytics.source_timezone = 'America/New_York'",
    );
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
        &["1", "1", "2"],
        &mut p,
    );
    // timestamptz columns are not affected
    check(
        &mut c,
        &format!("SELECT new_users FROM mking_analytics.new_users({R}, 'day', 'UTC')"),
        &["1", "2", "0"],
        &mut p,
    );
    exec(&mut c, "RESET mking_analytics.source_timezone");

    // a configured source whose table is missing: an error that names the source
    let mut missing_ok = false;
    match c.batch_execute(
        "SELECT mking_analytics.set_source('share', 'app.nothing_here', 'uid', 'ts')",
    ) {
        Err(e) => {
            let t = err_text(&e);
            if t.contains("share") {
                missing_ok = true;
            } else {
                p.push(format!(
                    "set_source on a missing table: error does not name the source: {t}"
                ));
            }
        }
        Ok(()) => {
            let e = expect_err(
                &mut c,
                &format!("SELECT * FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
            );
            let t = err_text(&e);
            if t.contains("share") {
                missing_ok = true;
            } else {
                p.push(format!(
                    "configured source with a missing table: error does not name the source: {t}"
                ));
            }
            exec(
                &mut c,
                "UPDATE mking_analytics.sources SET enabled = false WHERE source_name = 'share'",
            );
        }
    }
    println!("configured source with missing table reported: {missing_ok}");
    // still fine for the others
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
        &["1", "1", "3"],
        &mut p,
    );

    // a new source (not one of the defaults)
    exec(
        &mut c,
        "CREATE TABLE app.purchases (buyer int, bought_at timestamptz);
         INSERT INTO app.purchases VALUES (3, '2026-03-01 08:00+00');
         SELECT mking_analytics.set_source('purchase', 'app.purchases', 'buyer', 'bought_at');",
    );
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
        &["2", "1", "3"],
        &mut p,
    );
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC', '{{purchase}}')"),
        &["1", "0", "0"],
        &mut p,
    );

    // reset_sources restores the defaults
    exec(&mut c, "SELECT mking_analytics.reset_sources()");
    check(
        &mut c,
        "SELECT string_agg(source_name || ':' || enabled, ',' ORDER BY source_name)
           FROM mking_analytics.sources",
        &["comment:true,follow:true,like:true,post:true,session:true,share:true,signup:true"],
        &mut p,
    );
    check(
        &mut c,
        "SELECT relation ~ 'user_behavior_logs' AND is_default AND NOT (SELECT is_activity FROM mking_analytics.sources
           WHERE source_name = 'signup') FROM mking_analytics.sources WHERE source_name = 'session'",
        &["t"],
        &mut p,
    );
    assert!(
        p.is_empty(),
        "source configuration problems:\n  {}",
        p.join("\n  ")
    );
}

#[test]
fn missing_default_sources_are_skipped_with_a_notice() {
    let _ = fresh_db("it_sources_default");
    let (mut c, notices) = connect_with_notices("it_sources_default");
    // only users and sessions; no posts, likes, comments, shares, follows at all
    exec(
        &mut c,
        "CREATE TABLE public.users (id int PRIMARY KEY, username text, created_at timestamp);
         CREATE TABLE public.user_behavior_logs (id int, user_id int, session_id text, device_type text,
                                                 page_views int, time_spent int, created_at timestamp);
         INSERT INTO public.users VALUES (1, 'a', '2026-03-01 10:00'), (2, 'b', '2026-03-02 10:00');
         INSERT INTO public.user_behavior_logs VALUES
           (1, 1, 's', 'mobile', 1, 1, '2026-03-01 11:00'), (2, 2, 't', 'mobile', 1, 1, '2026-03-02 11:00'),
           (3, 1, 'u', 'mobile', 1, 1, '2026-03-02 12:00');",
    );
    install_extension(&mut c);
    notices.lock().unwrap().clear();
    let got = rows(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
    );
    assert_eq!(got, vec!["1", "2", "0"]);
    let n = notices.lock().unwrap().clone();
    assert!(
        n.iter().any(|m| m.contains("follow")),
        "expected a NOTICE about the missing default source follow, got {n:?}"
    );
    let got = rows(
        &mut c,
        &format!("SELECT value FROM mking_analytics.growth('active_users', {R}, 'day', 'UTC')"),
    );
    assert_eq!(got, vec!["1", "2", "0"]);
    let got = rows(
        &mut c,
        &format!("SELECT new_users FROM mking_analytics.new_users({R}, 'day', 'UTC')"),
    );
    assert_eq!(got, vec!["1", "1", "0"]);
    // a metric that needs a missing default table is 0 (skipped) or a clear error, never a crash
    match text_rows(
        &mut c,
        &format!("SELECT value FROM mking_analytics.growth('follows', {R}, 'day', 'UTC')"),
    ) {
        Ok(r) => println!("growth('follows') without a follows table: {r:?}"),
        Err(e) => println!(
            "growth('follows') without a follows table: {}",
            err_text(&e)
        ),
    }
    // the connection still works
    assert_eq!(rows(&mut c, "SELECT 1"), vec!["1"]);
}

#[test]
fn quoted_names_views_and_big_ids() {
    let mut c = fresh_db("it_sources_names");
    exec(
        &mut c,
        r#"CREATE SCHEMA "Mixed Case";
           CREATE TABLE "Mixed Case"."Sess-ions" ("User Id" bigint, "Opened At" timestamp, "Sid" text);
           -- ids beyond 32 bits must not collide (2^32 + 1 vs 1, 2^53 + 1), a negative id is an id
           INSERT INTO "Mixed Case"."Sess-ions" VALUES
             (1, '2026-03-01 05:00', 'a'), (4294967297, '2026-03-01 06:00', 'b'),
             (9007199254740993, '2026-03-01 07:00', 'c'), (-5, '2026-03-01 08:00', 'd'),
             (1, '2026-03-02 05:00', 'e');
           CREATE TABLE app_members (uid bigint, joined timestamptz);
           INSERT INTO app_members VALUES (1, '2026-03-01 01:00+00'), (4294967297, '2026-03-01 02:00+00'),
             (9007199254740993, '2026-03-02 03:00+00');
           CREATE VIEW public.member_view AS SELECT uid AS member, joined FROM app_members;"#,
    );
    install_extension(&mut c);
    exec(
        &mut c,
        r#"SELECT mking_analytics.set_source('session', '"Mixed Case"."Sess-ions"', 'User Id', 'Opened At', 'Sid');
           SELECT mking_analytics.set_source('signup', 'public.member_view', 'member', 'joined', is_activity => false);
           UPDATE mking_analytics.sources SET enabled = false
            WHERE source_name IN ('post', 'like', 'comment', 'share', 'follow');"#,
    );
    let mut p = Vec::new();
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
        &["4", "1", "0"],
        &mut p,
    );
    check(
        &mut c,
        &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC', '{{any}}', 2)"),
        &["4", "4", "1"],
        &mut p,
    );
    check(
        &mut c,
        &format!("SELECT new_users FROM mking_analytics.new_users({R}, 'day', 'UTC')"),
        &["2", "1", "0"],
        &mut p,
    );
    // cohort Mar1 {1, 2^32+1}: on Mar2 only 1 is active
    check(
        &mut c,
        &format!(
            "SELECT cohort_size, period_offset, retained FROM mking_analytics.retention({R}, 'day', 1, 'signup', 'on', 'UTC', '2026-06-01')
              WHERE cohort = '2026-03-01 00:00+00'"
        ),
        &["2|0|2", "2|1|1"],
        &mut p,
    );
    // lifecycle Mar2: 2^53+1 signed up but is not active; 1 returning; three dormant
    check(
        &mut c,
        &format!(
            "SELECT status, users FROM mking_analytics.lifecycle({R}, 'day', 'UTC')
              WHERE time = '2026-03-02 00:00+00' ORDER BY status"
        ),
        &["dormant|3", "new|0", "resurrecting|0", "returning|1"],
        &mut p,
    );
    check(
        &mut c,
        &format!("SELECT * FROM mking_analytics.stickiness({R}, 'day', 'UTC')"),
        &["1|3", "2|1", "3|0"],
        &mut p,
    );
    assert!(p.is_empty(), "problems:\n  {}", p.join("\n  "));
}

#[test]
fn configured_source_dropped_later_is_an_error_naming_it() {
    drop(fresh_db("it_sources_dropped"));
    let (mut c, notices) = connect_with_notices("it_sources_dropped");
    exec(
        &mut c,
        "CREATE TABLE public.users (id int PRIMARY KEY, username text, created_at timestamp);
         CREATE TABLE public.user_behavior_logs (id int, user_id int, session_id text, device_type text,
                                                 page_views int, time_spent int, created_at timestamp);
         CREATE TABLE public.reac (actor int, item int, ts timestamp);
         INSERT INTO public.user_behavior_logs VALUES (1, 1, 's', 'mobile', 1, 1, '2026-03-01 11:00');
         INSERT INTO public.reac VALUES (2, 1, '2026-03-01 12:00');",
    );
    install_extension(&mut c);
    exec(
        &mut c,
        "SELECT mking_analytics.set_source('like', 'public.reac', 'actor', 'ts', 'item')",
    );
    assert_eq!(
        rows(
            &mut c,
            &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')")
        ),
        vec!["2", "0", "0"]
    );
    exec(&mut c, "DROP TABLE public.reac");
    let e = expect_err(
        &mut c,
        &format!("SELECT * FROM mking_analytics.active_users({R}, 'day', 'UTC')"),
    );
    let t = err_text(&e);
    assert!(
        t.contains("\"like\"") || t.contains("'like'") || t.contains(" like "),
        "error must name the source: {t}"
    );
    // a column that does not exist is refused when configuring
    exec(
        &mut c,
        "CREATE TABLE public.reac2 (actor int, ts timestamp)",
    );
    let e = expect_err(
        &mut c,
        "SELECT mking_analytics.set_source('like', 'public.reac2', 'no_such_column', 'ts')",
    );
    let t = err_text(&e);
    assert!(
        t.contains("like") && t.contains("no_such_column"),
        "error must name source and column: {t}"
    );
    // a dropped DEFAULT table is skipped with a NOTICE
    exec(&mut c, "SELECT mking_analytics.reset_sources()");
    notices.lock().unwrap().clear();
    assert_eq!(
        rows(
            &mut c,
            &format!("SELECT active_users FROM mking_analytics.active_users({R}, 'day', 'UTC')")
        ),
        vec!["1", "0", "0"]
    );
    let n = notices.lock().unwrap().clone();
    assert!(
        n.iter()
            .any(|m| m.starts_with("NOTICE") && m.contains("like")),
        "NOTICE for the missing likes table: {n:?}"
    );
}
