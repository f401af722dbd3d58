//! Exact incremental rollups against real second connections: late-committing transactions,
//! late (old) timestamps, updates / deletes / TRUNCATE of source rows, two refreshes at once,
//! continuous inserts while refreshing, and the pg_cron job of `schedule()` / `unschedule()`.
//!
//! Every check compares the answers of the core functions with `mking_analytics.use_rollups = on`
//! and `off` (the raw path) in UTC, America/New_York and Europe/Berlin, after asserting that the
//! rollups really exist (and, by a negative control, that the `on` answers really read them).

use mking_analytics_integration::{
    connect, cron_database, cron_jobs_use_test_socket, data, err_text, exec, fresh_db,
    install_extension, norm_row, reset_cron_database, scalar, sqlstate, text_rows, CRON_DB,
    PLATFORM_SQL,
};
use postgres::Client;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const ZONES: [&str; 3] = ["UTC", "America/New_York", "Europe/Berlin"];
const INSTALLED: &str = "change capture installed; rollups are built by the next refresh";
const JOB: &str = "mking_analytics_refresh_rollups";

fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    text_rows(c, sql)
        .unwrap_or_else(|e| panic!("{sql}\n=> {}", err_text(&e)))
        .iter()
        .map(|r| norm_row(r).join("|"))
        .collect()
}

fn int(c: &mut Client, sql: &str) -> i64 {
    scalar(c, sql)
        .unwrap_or_else(|| panic!("{sql}: NULL"))
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

type Refresh = (String, String, i64, i64, i64);

fn try_refresh(c: &mut Client) -> Result<Vec<Refresh>, postgres::Error> {
    Ok(c.query(
        "SELECT source_name, status, hours_processed, days_processed, events_processed
               FROM mking_analytics.refresh_rollups()",
        &[],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect())
}

fn refresh(c: &mut Client) -> Vec<Refresh> {
    try_refresh(c).unwrap_or_else(|e| panic!("refresh_rollups(): {}", err_text(&e)))
}

fn status_of<'a>(r: &'a [Refresh], source: &str) -> &'a str {
    r.iter()
        .find(|x| x.0 == source)
        .map(|x| x.1.as_str())
        .unwrap_or_else(|| panic!("no row for source {source} in {r:?}"))
}

/// Fresh database with the platform's tables and the deterministic data set, extension installed.
fn setup(db: &str, seed: u64) -> Client {
    let mut c = fresh_db(db);
    exec(&mut c, PLATFORM_SQL);
    let (sql, _) = data::dataset_sql(seed);
    exec(&mut c, &sql);
    install_extension(&mut c);
    c
}

/// The rollups exist: rows in rollup_hours, every source complete up to `through`.
fn assert_built(c: &mut Client) {
    let hours = int(c, "SELECT count(*) FROM mking_analytics.rollup_hours");
    assert!(hours > 0, "rollup_hours is empty");
    let states = int(c, "SELECT count(*) FROM mking_analytics.rollup_state");
    assert!(states >= 7, "rollup_state has {states} rows");
    let open = int(
        c,
        "SELECT count(*) FROM mking_analytics.rollup_state WHERE through IS NULL",
    );
    assert_eq!(open, 0, "rollup_state.through is NULL for {open} sources");
    for s in ["session", "like", "signup"] {
        let n = int(
            c,
            &format!("SELECT count(*) FROM mking_analytics.rollup_hours WHERE source_name = '{s}'"),
        );
        assert!(n > 0, "no rollup hours for source {s}");
    }
}

/// First refresh installs change capture, the second builds every source.
fn build(c: &mut Client) {
    let r1 = refresh(c);
    assert_eq!(r1.len(), 1, "{r1:?}");
    assert_eq!(r1[0].1, INSTALLED, "{r1:?}");
    assert_eq!(
        int(c, "SELECT count(*) FROM mking_analytics.rollup_hours"),
        0,
        "the first refresh must not build"
    );
    let r2 = refresh(c);
    assert!(r2.len() >= 7, "{r2:?}");
    assert!(r2.iter().all(|x| x.1 == "built"), "{r2:?}");
    assert!(
        r2.iter().any(|x| x.0 == "like" && x.2 > 0 && x.4 > 0),
        "{r2:?}"
    );
    assert_built(c);
}

/// Two ranges: the data window on whole days, and a tail ending after now (partly not rolled up).
fn ranges(c: &mut Client) -> [String; 2] {
    let tail = scalar(
        c,
        "SELECT format('%L::timestamptz, %L::timestamptz',
                       date_trunc('day', now(), 'UTC') - interval '40 days',
                       date_trunc('day', now(), 'UTC') + interval '2 days')",
    )
    .unwrap();
    [
        "'2026-01-19 00:00+00'::timestamptz, '2026-05-11 00:00+00'::timestamptz".to_string(),
        tail,
    ]
}

fn queries(ranges: &[String]) -> Vec<String> {
    let mut q = Vec::new();
    for r in ranges {
        for z in ZONES {
            let f = |s: &str| format!("SELECT * FROM mking_analytics.{s}");
            for b in ["day", "week"] {
                for k in [1, 7] {
                    q.push(f(&format!(
                        "active_users({r}, '{b}', '{z}', '{{any}}', {k})"
                    )));
                }
            }
            q.push(f(&format!(
                "active_users({r}, 'day', '{z}', '{{like,session}}', 1)"
            )));
            q.push(f(&format!("new_users({r}, 'day', '{z}')")));
            q.push(f(&format!("new_users({r}, 'week', '{z}')")));
            q.push(f(&format!("engagement_trend({r}, 'day', '{z}')")));
            q.push(f(&format!("engagement_trend({r}, 'week', '{z}')")));
            q.push(f(&format!("growth('likes', {r}, 'day', '{z}')")));
            q.push(f(&format!("growth('likes', {r}, 'week', '{z}')")));
            q.push(f(&format!("kpis({r}, '{z}')")));
            q.push(f(&format!("lifecycle({r}, 'day', '{z}')")));
            q.push(f(&format!("lifecycle({r}, 'week', '{z}')")));
        }
    }
    q
}

/// A smaller set for checks repeated under load.
fn quick_queries(ranges: &[String]) -> Vec<String> {
    let mut q = Vec::new();
    for r in ranges {
        for z in ["UTC", "America/New_York"] {
            q.push(format!(
                "SELECT * FROM mking_analytics.active_users({r}, 'day', '{z}', '{{any}}', 7)"
            ));
            q.push(format!(
                "SELECT * FROM mking_analytics.engagement_trend({r}, 'day', '{z}')"
            ));
            q.push(format!(
                "SELECT * FROM mking_analytics.growth('likes', {r}, 'week', '{z}')"
            ));
        }
    }
    q
}

fn answers(c: &mut Client, qs: &[String], on: bool) -> Vec<Vec<String>> {
    exec(
        c,
        &format!(
            "SET mking_analytics.use_rollups = {}",
            if on { "on" } else { "off" }
        ),
    );
    let out = qs.iter().map(|q| rows(c, q)).collect();
    exec(c, "RESET mking_analytics.use_rollups");
    out
}

fn diff(qs: &[String], on: &[Vec<String>], off: &[Vec<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, q) in qs.iter().enumerate() {
        if on[i] != off[i] {
            let first = on[i]
                .iter()
                .zip(off[i].iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("rollups {a} / raw {b}"))
                .unwrap_or_else(|| format!("{} rows / {} rows", on[i].len(), off[i].len()));
            out.push(format!("{q}\n    first difference: {first}"));
        }
    }
    out
}

/// Answers with rollups equal the raw answers (rollups must exist).
fn assert_exact(c: &mut Client, qs: &[String], ctx: &str) {
    assert_built(c);
    let on = answers(c, qs, true);
    let off = answers(c, qs, false);
    let d = diff(qs, &on, &off);
    assert!(
        d.is_empty(),
        "{ctx}: {} of {} answers differ with use_rollups = on:\n{}",
        d.len(),
        qs.len(),
        d.join("\n")
    );
    assert!(
        on.iter().flatten().count() > 100,
        "{ctx}: suspiciously few answer rows"
    );
}

/// Same, but both paths read one REPEATABLE READ snapshot (for checks while others write).
fn assert_exact_in_snapshot(c: &mut Client, qs: &[String], ctx: &str) {
    exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    let on = answers(c, qs, true);
    let off = answers(c, qs, false);
    exec(c, "COMMIT");
    let d = diff(qs, &on, &off);
    assert!(
        d.is_empty(),
        "{ctx}: {} of {} answers differ with use_rollups = on:\n{}",
        d.len(),
        qs.len(),
        d.join("\n")
    );
}

/// Negative control: with every rolled-up hour removed (in a transaction that is rolled back,
/// so `through` still says they are complete), the `on` answers must change, so the comparisons
/// did read the rollups.
fn assert_rollups_used(c: &mut Client, qs: &[String]) {
    exec(c, "BEGIN");
    exec(c, "DELETE FROM mking_analytics.rollup_hours");
    let on = answers(c, qs, true);
    let off = answers(c, qs, false);
    exec(c, "ROLLBACK");
    let d = diff(qs, &on, &off);
    assert!(
        d.len() > qs.len() / 4,
        "without their rollup rows only {} of {} answers changed: the rollups are not read",
        d.len(),
        qs.len()
    );
}

fn pending_changes(c: &mut Client) -> i64 {
    int(c, "SELECT count(*) FROM mking_analytics.rollup_changes")
}

/// Does the rolled-up hour of `source` hold user `uid`?
fn hour_has_user(c: &mut Client, source: &str, hour: &str, uid: i64) -> bool {
    scalar(
        c,
        &format!(
            "SELECT coalesce(bool_or(mking_analytics.user_set_contains(users, {uid})), false)
               FROM mking_analytics.rollup_hours
              WHERE source_name = '{source}' AND hour = '{hour}+00'"
        ),
    )
    .as_deref()
        == Some("t")
}

/// Rolled-up events of `table` equal the raw distinct (user, post, time) count, hour by hour,
/// over every rolled-up hour (no double counting, nothing lost).
fn assert_like_counts_exact(c: &mut Client) {
    let bad = rows(
        c,
        "WITH st AS (SELECT through FROM mking_analytics.rollup_state WHERE source_name = 'like'),
              raw AS (SELECT date_trunc('hour', t AT TIME ZONE 'UTC', 'UTC') AS hour, count(*) AS n
                        FROM (SELECT DISTINCT user_id, post_id, created_at AS t FROM public.likes
                               WHERE created_at IS NOT NULL) d, st
                       WHERE (t AT TIME ZONE 'UTC') < st.through GROUP BY 1),
              roll AS (SELECT hour, events AS n FROM mking_analytics.rollup_hours WHERE source_name = 'like')
         SELECT coalesce(raw.hour, roll.hour), raw.n, roll.n
           FROM raw FULL JOIN roll USING (hour)
          WHERE raw.n IS DISTINCT FROM roll.n
            AND coalesce(raw.hour, roll.hour) NOT IN
                (SELECT hour FROM mking_analytics.rollup_changes WHERE source_name = 'like')
          ORDER BY 1 LIMIT 10",
    );
    assert!(
        bad.is_empty(),
        "rolled-up like counts differ from the raw table (hour|raw|rollup): {bad:?}"
    );
}

// ---------------------------------------------------------------------------------------------

#[test]
fn rollups_late_commit() {
    const DB: &str = "it_rollups_late_commit";
    let mut a = setup(DB, 11);
    build(&mut a);
    let rg = ranges(&mut a);
    let qs = queries(&rg);
    assert_exact(&mut a, &qs, "after build");
    assert_rollups_used(&mut a, &qs);

    let mut b = connect(DB);
    let mut c = connect(DB);
    // B: rows in an hour already rolled up (2026-03-10 12:00 UTC), not committed.
    exec(
        &mut b,
        "BEGIN;
         INSERT INTO public.likes (id, user_id, post_id, created_at) VALUES
           (90001, 9001, 4242, '2026-03-10 12:15'), (90002, 9001, 4243, '2026-03-10 12:59:59.999999'),
           (90003, NULL, 4242, '2026-03-10 12:30');
         INSERT INTO public.user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at)
           VALUES (90001, 9002, 'late-s', 'mobile', 3, 60, '2026-03-10 12:20');",
    );
    // C: newer rows (now) and a row in another rolled-up hour, committed.
    exec(
        &mut c,
        "INSERT INTO public.likes (id, user_id, post_id, created_at) VALUES
           (90010, 9003, 4242, now() AT TIME ZONE 'UTC'), (90011, 9004, 4244, '2026-03-11 08:00');
         INSERT INTO public.user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at)
           VALUES (90010, 9003, 'new-s', 'desktop', 1, 10, now() AT TIME ZONE 'UTC');",
    );
    let r = refresh(&mut a);
    assert_eq!(status_of(&r, "like"), "refreshed", "{r:?}");
    assert!(
        r.iter().any(|x| x.0 == "like" && x.2 >= 1),
        "C's old hour must be reprocessed: {r:?}"
    );
    assert!(hour_has_user(&mut a, "like", "2026-03-11 08:00", 9004));
    assert!(
        !hour_has_user(&mut a, "like", "2026-03-10 12:00", 9001),
        "B's uncommitted row must not be in the rollups"
    );
    assert_eq!(
        int(
            &mut a,
            "SELECT count(*) FROM mking_analytics.rollup_changes WHERE hour = '2026-03-10 12:00+00'"
        ),
        0,
        "B's change entries are not visible yet"
    );
    assert_exact(&mut a, &qs, "B not committed, after A's refresh");
    let before_b = answers(&mut a, &qs, true);

    exec(&mut b, "COMMIT");
    // B's rows count at once, without a refresh.
    assert!(
        int(
            &mut a,
            "SELECT count(*) FROM mking_analytics.rollup_changes WHERE hour = '2026-03-10 12:00+00'"
        ) > 0,
        "B's change entries must be visible after its commit"
    );
    let after_b = answers(&mut a, &qs, true);
    assert_ne!(before_b, after_b, "B's rows must change some answer");
    assert_exact(&mut a, &qs, "B committed, before the next refresh");

    let r = refresh(&mut a);
    assert_eq!(status_of(&r, "like"), "refreshed", "{r:?}");
    assert_eq!(status_of(&r, "session"), "refreshed", "{r:?}");
    assert_exact(&mut a, &qs, "after the refresh following B's commit");
    assert_eq!(
        int(
            &mut a,
            "SELECT count(*) FROM mking_analytics.rollup_changes
              WHERE hour IN ('2026-03-10 12:00+00', '2026-03-11 08:00+00')"
        ),
        0,
        "the refresh must consume the change entries of B's and C's hours"
    );
    assert!(hour_has_user(&mut a, "like", "2026-03-10 12:00", 9001));
    assert!(hour_has_user(&mut a, "session", "2026-03-10 12:00", 9002));
    assert_like_counts_exact(&mut a);
    assert_rollups_used(&mut a, &qs);
    // Nothing changed since: up to date (unless the clock crossed an hour, then 'refreshed').
    let r = refresh(&mut a);
    assert!(
        r.iter().all(|x| x.1 == "up to date" || x.1 == "refreshed"),
        "{r:?}"
    );
    assert_exact(&mut a, &qs, "after an idle refresh");
}

#[test]
fn rollups_late_timestamps() {
    const DB: &str = "it_rollups_late_ts";
    let mut a = setup(DB, 12);
    build(&mut a);
    let qs = queries(&ranges(&mut a));
    assert_exact(&mut a, &qs, "after build");
    let mut w = connect(DB);
    // Rows inserted today with timestamps weeks old, around local midnights and DST changes,
    // duplicates of rolled-up rows, NULL users and times, a signup, one bulk insert.
    exec(
        &mut w,
        "INSERT INTO public.likes (id, user_id, post_id, created_at) VALUES
           (80001, 7001, 11, '2026-02-03 07:10'),
           (80002, 7001, 11, '2026-03-08 04:59:59.999999'), (80003, 7002, 12, '2026-03-08 05:00'),
           (80004, NULL, 12, '2026-03-29 00:59:59'), (80005, 7003, NULL, '2026-03-29 01:00'),
           (80007, -5, 13, '2026-02-05 10:00'), (80008, 2147483647, 13, '2026-02-05 10:30'),
           (80006, 7004, 13, NULL);
         INSERT INTO public.likes SELECT * FROM public.likes WHERE id < 80000 ORDER BY id LIMIT 5;
         INSERT INTO public.comments (id, user_id, post_id, content, created_at) VALUES
           (80001, 7005, 14, 'late', '2026-01-28 23:30'), (80002, 1, 14, 'late', '2026-04-30 22:00');
         INSERT INTO public.shares (id, user_id, post_id, created_at) VALUES (80001, 7006, 15, '2026-02-22 05:00');
         INSERT INTO public.follows (id, follower_id, following_id, created_at) VALUES
           (80001, 7007, 3, '2026-03-29 01:30');
         INSERT INTO public.posts (id, user_id, title, content_type, like_count, comment_count, share_count, created_at)
           VALUES (80001, 7008, 'late post', 'text', 0, 0, 0, '2026-02-14 04:59:59');
         INSERT INTO public.user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at)
           VALUES (80001, 7009, 'late', 'web', 1, 5, '2026-02-01 23:00'), (80002, NULL, 'anon', 'web', 1, 5, '2026-02-02 00:00');
         INSERT INTO public.users (id, username, created_at) VALUES
           (7001, 'late1', '2026-02-02 04:59:59'), (7002, 'late2', '2026-03-01 23:00');
         INSERT INTO public.likes (id, user_id, post_id, created_at)
           SELECT 81000 + g, 7100 + g % 40, g % 17,
                  timestamp '2026-01-26 00:00' + (g % 60) * interval '37 hours' + g * interval '1 second'
             FROM generate_series(1, 1200) g;",
    );
    assert!(pending_changes(&mut a) > 0);
    assert_exact(&mut a, &qs, "late timestamps, before refresh");
    let r = refresh(&mut a);
    for s in [
        "like", "comment", "share", "follow", "post", "session", "signup",
    ] {
        assert_eq!(status_of(&r, s), "refreshed", "{s}: {r:?}");
    }
    assert_eq!(
        pending_changes(&mut a),
        0,
        "every change entry must be consumed"
    );
    assert_exact(&mut a, &qs, "late timestamps, after refresh");
    assert!(hour_has_user(&mut a, "like", "2026-02-03 07:00", 7001));
    assert!(hour_has_user(&mut a, "like", "2026-02-05 10:00", -5));
    assert!(hour_has_user(
        &mut a,
        "like",
        "2026-02-05 10:00",
        2147483647
    ));
    assert!(hour_has_user(&mut a, "signup", "2026-02-02 04:00", 7001));
    assert_like_counts_exact(&mut a);
    assert_rollups_used(&mut a, &qs);
}

#[test]
fn rollups_updates_deletes_truncate() {
    const DB: &str = "it_rollups_updates";
    let mut a = setup(DB, 13);
    build(&mut a);
    let qs = queries(&ranges(&mut a));
    assert_exact(&mut a, &qs, "after build");
    let mut w = connect(DB);
    let before = answers(&mut a, &qs, true);
    exec(
        &mut w,
        "UPDATE public.likes SET created_at = created_at + interval '3 days 5 hours' WHERE id % 41 = 0;
         UPDATE public.likes SET user_id = user_id + 1 WHERE id % 43 = 0;
         UPDATE public.likes SET post_id = NULL WHERE id % 47 = 0;
         UPDATE public.user_behavior_logs SET user_id = 9500 WHERE id % 37 = 0;
         UPDATE public.user_behavior_logs SET created_at = NULL WHERE id % 53 = 0;
         UPDATE public.user_behavior_logs SET created_at = created_at - interval '20 days' WHERE id % 59 = 1;
         UPDATE public.users SET created_at = created_at - interval '2 days' WHERE id % 4 = 0;
         UPDATE public.posts SET title = 'retitled' WHERE id % 13 = 0;
         DELETE FROM public.likes WHERE id % 31 = 0;
         DELETE FROM public.comments WHERE id % 29 = 0;
         DELETE FROM public.follows WHERE id % 23 = 1;
         DELETE FROM public.posts WHERE id % 19 = 0;
         DELETE FROM public.users WHERE id % 9 = 0;",
    );
    assert!(pending_changes(&mut a) > 0);
    assert_ne!(
        before,
        answers(&mut a, &qs, true),
        "the changes must change answers"
    );
    assert_exact(&mut a, &qs, "updates and deletes, before refresh");
    let r = refresh(&mut a);
    for s in ["like", "comment", "follow", "post", "session", "signup"] {
        assert_eq!(status_of(&r, s), "refreshed", "{s}: {r:?}");
    }
    assert_eq!(pending_changes(&mut a), 0);
    assert_exact(&mut a, &qs, "updates and deletes, after refresh");
    assert_like_counts_exact(&mut a);
    let h9500 = scalar(
        &mut a,
        "SELECT date_trunc('hour', min(created_at))::text FROM public.user_behavior_logs WHERE user_id = 9500",
    )
    .unwrap();
    assert!(hour_has_user(&mut a, "session", &h9500, 9500));
    assert_rollups_used(&mut a, &qs);

    // An update in a transaction that rolls back changes nothing but stays exact.
    exec(
        &mut w,
        "BEGIN; UPDATE public.likes SET user_id = 1; ROLLBACK;",
    );
    assert_exact(&mut a, &qs, "after a rolled-back update");
}

/// TRUNCATE of a source and disabling a source: answers stay exact and the next refreshes
/// succeed and rebuild. Problems are collected so one run reports all of them.
#[test]
fn rollups_truncate_and_disabled_source() {
    const DB: &str = "it_rollups_truncate";
    let mut a = setup(DB, 17);
    build(&mut a);
    let qs = queries(&ranges(&mut a));
    assert_exact(&mut a, &qs, "after build");
    let mut w = connect(DB);
    let mut problems: Vec<String> = Vec::new();
    let compare = |c: &mut Client, ctx: &str, problems: &mut Vec<String>| {
        let on = answers(c, &qs, true);
        let off = answers(c, &qs, false);
        let d = diff(&qs, &on, &off);
        if !d.is_empty() {
            problems.push(format!(
                "{ctx}: {} of {} answers differ with use_rollups = on, e.g.\n{}",
                d.len(),
                qs.len(),
                d.iter().take(3).cloned().collect::<Vec<_>>().join("\n")
            ));
        }
    };

    // TRUNCATE: the source's rollups are dropped (through NULL, read raw).
    exec(&mut w, "TRUNCATE public.shares");
    assert_eq!(
        scalar(
            &mut a,
            "SELECT through IS NULL FROM mking_analytics.rollup_state WHERE source_name = 'share'"
        )
        .as_deref(),
        Some("t")
    );
    compare(
        &mut a,
        "after TRUNCATE public.shares, before a refresh",
        &mut problems,
    );
    exec(
        &mut w,
        "INSERT INTO public.shares (id, user_id, post_id, created_at) VALUES (1, 3, 4, '2026-03-03 03:03')",
    );
    match try_refresh(&mut a) {
        Err(e) => problems.push(format!(
            "refresh_rollups() after TRUNCATE failed: {}",
            err_text(&e).lines().next().unwrap_or("")
        )),
        Ok(r) => {
            if status_of(&r, "share") != "built" {
                problems.push(format!("share not rebuilt after TRUNCATE: {r:?}"));
            }
            if !hour_has_user(&mut a, "share", "2026-03-03 03:00", 3) {
                problems.push("the rebuilt share rollup lacks the new row".into());
            }
        }
    }
    compare(&mut a, "after TRUNCATE and a refresh", &mut problems);

    // Disabling an activity source (a configuration change of the combined activity set).
    exec(
        &mut w,
        "UPDATE mking_analytics.sources SET enabled = false WHERE source_name = 'comment'",
    );
    compare(
        &mut a,
        "after disabling comments, before a refresh",
        &mut problems,
    );
    for i in 1..=2 {
        if let Err(e) = try_refresh(&mut a) {
            problems.push(format!(
                "refresh_rollups() #{i} after disabling comments failed: {}",
                err_text(&e).lines().next().unwrap_or("")
            ));
        }
    }
    compare(
        &mut a,
        "after disabling comments and two refreshes",
        &mut problems,
    );
    let open = int(
        &mut a,
        "SELECT count(*) FROM mking_analytics.rollup_state WHERE through IS NULL",
    );
    if open > 0 {
        problems.push(format!(
            "{open} rollups still not built after the refreshes"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_exact(&mut a, &qs, "at the end");
    assert_rollups_used(&mut a, &qs);
}

#[test]
fn rollups_concurrent_refresh_skips() {
    const DB: &str = "it_rollups_concurrent";
    let mut setup_c = setup(DB, 14);
    build(&mut setup_c);
    let qs = queries(&ranges(&mut setup_c));
    let mut a = connect(DB);
    let mut b = connect(DB);
    exec(&mut b, "SET statement_timeout = '5s'");
    let state_sql = "SELECT (SELECT md5(string_agg(source_name || hour::text || md5(users) || events, ',' ORDER BY source_name, hour))
                               FROM mking_analytics.rollup_hours),
                            (SELECT string_agg(source_name || coalesce(through::text, '-') || coalesce(refreshed_at::text, '-'), ',' ORDER BY source_name)
                               FROM mking_analytics.rollup_state),
                            (SELECT count(*) FROM mking_analytics.rollup_changes)";

    for round in ["commit", "rollback", "commit again"] {
        // committed changes in rolled-up hours for A's refresh to process
        exec(
            &mut setup_c,
            &format!(
                "INSERT INTO public.likes (id, user_id, post_id, created_at)
                   SELECT 70000 + g, 6000 + g % 9, g % 7, timestamp '2026-02-{day} 00:00' + g * interval '37 minutes'
                     FROM generate_series(1, 100) g;
                 DELETE FROM public.likes WHERE id % 23 = {k};",
                day = if round == "commit" { "05" } else { "15" },
                k = round.len() % 23
            ),
        );
        exec(&mut a, "BEGIN");
        let ra = refresh(&mut a);
        assert_eq!(status_of(&ra, "like"), "refreshed", "{ra:?}");

        let state_before = rows(&mut b, state_sql);
        let t = Instant::now();
        let rb = try_refresh(&mut b).unwrap_or_else(|e| {
            panic!(
                "the second refresh must not block or fail (statement_timeout 5s): {}",
                err_text(&e)
            )
        });
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "second refresh took {took:?}"
        );
        assert_eq!(rb.len(), 1, "{rb:?}");
        assert!(rb[0].1.starts_with("skipped"), "{rb:?}");
        assert_eq!((rb[0].2, rb[0].3, rb[0].4), (0, 0, 0), "{rb:?}");
        assert_eq!(
            rows(&mut b, state_sql),
            state_before,
            "the skipped refresh changed the rollups"
        );
        // B (not seeing A's uncommitted refresh) still answers exactly.
        assert_exact(&mut b, &qs, &format!("{round}: during A's refresh, from B"));

        exec(
            &mut a,
            if round == "rollback" {
                "ROLLBACK"
            } else {
                "COMMIT"
            },
        );
        assert_exact(&mut b, &qs, &format!("{round}: after A's {round}"));
        assert_like_counts_exact(&mut b);
        let rb = refresh(&mut b);
        assert!(!rb.iter().any(|x| x.1.starts_with("skipped")), "{rb:?}");
        if round == "rollback" {
            assert_eq!(status_of(&rb, "like"), "refreshed", "{rb:?}");
        }
        assert_eq!(pending_changes(&mut b), 0);
        assert_exact(&mut b, &qs, &format!("{round}: after B's own refresh"));
        assert_like_counts_exact(&mut b);
    }
    assert_rollups_used(&mut b, &qs);
}

#[test]
fn rollups_continuous_inserts() {
    const DB: &str = "it_rollups_continuous";
    let mut main = setup(DB, 15);
    build(&mut main);
    let rg = ranges(&mut main);
    let qs = queries(&rg);
    let quick = quick_queries(&rg);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut w = connect(DB);
            let mut rng = data::Rng::new(77);
            let mut id = 200_000i64;
            let (mut txs, mut rows) = (0u64, 0u64);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) && !stop.load(Ordering::Relaxed) {
                let n = 1 + rng.below(4);
                let mut vals = Vec::new();
                for _ in 0..n {
                    id += 1;
                    let ts = if rng.chance(0.3) {
                        "now() AT TIME ZONE 'UTC'".to_string()
                    } else {
                        // any minute of the data window (already rolled up)
                        format!(
                            "timestamp '2026-01-25 00:00' + interval '{} minutes'",
                            rng.below(100 * 1440)
                        )
                    };
                    vals.push(format!(
                        "({id}, {}, {}, {ts})",
                        1 + rng.below(70),
                        rng.below(50)
                    ));
                }
                let mut sql = format!(
                    "BEGIN; INSERT INTO public.likes (id, user_id, post_id, created_at) VALUES {};",
                    vals.join(", ")
                );
                if rng.chance(0.1) {
                    sql.push_str(&format!(
                        "DELETE FROM public.likes WHERE id = {};",
                        rng.below(400)
                    ));
                }
                if rng.chance(0.1) {
                    sql.push_str(&format!(
                        "UPDATE public.likes SET created_at = created_at - interval '1 day' WHERE id = {};",
                        200_000 + rng.below((id - 200_000 + 1) as u64)
                    ));
                }
                exec(&mut w, &sql);
                // now and then a transaction that commits late, across refreshes
                if rng.chance(0.05) {
                    thread::sleep(Duration::from_millis(400));
                }
                exec(&mut w, "COMMIT");
                txs += 1;
                rows += n;
            }
            (txs, rows)
        })
    };

    let mut refreshes = 0;
    let mut checks = 0;
    while !writer.is_finished() {
        let r = refresh(&mut main);
        assert!(
            !r.iter().any(|x| x.1.starts_with("skipped")),
            "only one refresher: {r:?}"
        );
        refreshes += 1;
        if refreshes % 2 == 0 {
            assert_exact_in_snapshot(
                &mut main,
                &quick,
                &format!("while inserting, after refresh {refreshes}"),
            );
            checks += 1;
        }
        thread::sleep(Duration::from_millis(150));
    }
    stop.store(true, Ordering::Relaxed);
    let (txs, n) = writer.join().expect("writer thread");
    eprintln!("continuous: {txs} writer transactions, {n} rows, {refreshes} refreshes, {checks} snapshot checks");
    assert!(txs > 20, "the writer made only {txs} transactions");
    assert!(refreshes >= 5, "only {refreshes} refreshes");
    assert_exact(
        &mut main,
        &qs,
        "after the writer stopped, before the final refresh",
    );
    refresh(&mut main);
    assert_eq!(pending_changes(&mut main), 0);
    assert_exact(&mut main, &qs, "after the final refresh");
    assert_like_counts_exact(&mut main);
    assert_rollups_used(&mut main, &qs);
}

// ---- pg_cron -------------------------------------------------------------------------------

/// pg_cron's database with the platform's tables, a small data set and both extensions, and no
/// job of ours.
fn cron_db() -> Client {
    let mut c = cron_database();
    let (sql, _) = data::dataset_sql(16);
    exec(&mut c, &sql);
    install_extension(&mut c);
    c
}

fn cron_cleanup(c: &mut Client) {
    reset_cron_database(c);
}

fn our_jobs(c: &mut Client) -> Vec<String> {
    rows(
        c,
        "SELECT jobname, schedule, command, database FROM cron.job
          WHERE jobname LIKE 'mking\\_analytics\\_%' ORDER BY jobid",
    )
}

#[test]
fn rollups_cron_schedule_unschedule() {
    // Without pg_cron: a clear error.
    let mut plain = fresh_db("it_rollups_nocron");
    install_extension(&mut plain);
    let e = plain
        .batch_execute("SELECT * FROM mking_analytics.schedule()")
        .expect_err("schedule() without pg_cron must fail");
    assert_eq!(sqlstate(&e).as_deref(), Some("55000"), "{}", err_text(&e));
    assert!(rows(&mut plain, "SELECT * FROM mking_analytics.unschedule()").is_empty());
    drop(plain);

    let mut c = cron_db();
    // Every feature's jobs (rollups, alerts, reports, housekeeping), each registered once.
    let expected = rows(
        &mut c,
        "SELECT * FROM mking_analytics.rollup_jobs() UNION ALL SELECT * FROM mking_analytics.alert_jobs()
         UNION ALL SELECT * FROM mking_analytics.report_jobs() UNION ALL SELECT * FROM mking_analytics.maintenance_jobs()",
    );
    assert!(expected.contains(&format!(
        "{JOB}|* * * * *|SELECT * FROM mking_analytics.refresh_rollups()"
    )));
    let want: Vec<String> = expected.iter().map(|r| format!("{r}|{CRON_DB}")).collect();
    // A non-superuser admin can schedule, prune and unschedule too (the functions run as the
    // extension's owner): the second call is theirs.
    exec(
        &mut c,
        "DROP ROLE IF EXISTS it_cron_admin; CREATE ROLE it_cron_admin NOLOGIN IN ROLE mking_analytics_admin",
    );
    for i in 1..=2 {
        if i == 2 {
            exec(&mut c, "SET ROLE it_cron_admin");
        }
        let r = rows(&mut c, "SELECT * FROM mking_analytics.schedule()");
        exec(&mut c, "RESET ROLE");
        assert_eq!(r, expected, "schedule() call {i}");
        assert_eq!(
            our_jobs(&mut c),
            want,
            "after schedule() call {i}: each job exactly once"
        );
    }
    // schedule() installs change capture: the next refresh builds.
    assert!(
        int(&mut c, "SELECT count(*) FROM mking_analytics.rollup_state") >= 7,
        "schedule() must install change capture"
    );
    // The nightly pruning: finished runs of our jobs older than `keep` go; a running one, a recent
    // one and another job's stay.
    exec(
        &mut c,
        "SELECT cron.schedule('it_other_job', '0 0 1 1 *', 'SELECT 1');
         INSERT INTO cron.job_run_details (jobid, database, username, command, status, start_time, end_time)
         SELECT j.jobid, current_database(), current_user, j.command, 'succeeded', now() - a, now() - a + interval '1 second'
           FROM cron.job j, (VALUES (interval '8 days'), (interval '1 day')) v(a)
          WHERE j.jobname IN ('mking_analytics_alerts', 'it_other_job');
         INSERT INTO cron.job_run_details (jobid, database, username, command, status, start_time)
         SELECT jobid, current_database(), current_user, command, 'running', now() - interval '9 days'
           FROM cron.job WHERE jobname = 'mking_analytics_alerts';",
    );
    let runs = "SELECT string_agg(format('%s %s %s', j.jobname, d.status, extract(day FROM now() - d.start_time)), ', ' ORDER BY j.jobname, d.start_time)
                  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                 WHERE j.jobname IN ('mking_analytics_alerts', 'it_other_job') AND d.start_time < now() - interval '1 hour'";
    exec(&mut c, "SET ROLE it_cron_admin");
    assert_eq!(
        int(&mut c, "SELECT mking_analytics.prune_job_log('7 days')"),
        1
    );
    exec(&mut c, "RESET ROLE");
    assert_eq!(
        scalar(&mut c, runs).as_deref(),
        Some("it_other_job succeeded 8, it_other_job succeeded 1, mking_analytics_alerts running 9, mking_analytics_alerts succeeded 1")
    );
    exec(&mut c, "SELECT cron.unschedule('it_other_job'); DELETE FROM cron.job_run_details WHERE jobid NOT IN (SELECT jobid FROM cron.job)");
    exec(&mut c, "SET ROLE it_cron_admin");
    let mut removed = rows(&mut c, "SELECT * FROM mking_analytics.unschedule()");
    exec(&mut c, "RESET ROLE");
    removed.sort();
    let mut names: Vec<String> = expected
        .iter()
        .map(|r| r.split('|').next().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(removed, names);
    assert!(our_jobs(&mut c).is_empty(), "unschedule() left a job");
    assert!(rows(&mut c, "SELECT * FROM mking_analytics.unschedule()").is_empty());
    cron_cleanup(&mut c);
    exec(&mut c, "DROP ROLE it_cron_admin");
}

/// Slow (up to ~80 s): the scheduled job really runs and builds the rollups.
#[test]
fn rollups_cron_job_runs_slow() {
    let mut c = cron_db();
    exec(&mut c, "SELECT * FROM mking_analytics.schedule()");
    cron_jobs_use_test_socket(&mut c);
    let jobid = int(
        &mut c,
        &format!("SELECT jobid FROM cron.job WHERE jobname = '{JOB}'"),
    );
    let t0 = Instant::now();
    let mut last;
    let ok = loop {
        last = rows(
            &mut c,
            &format!("SELECT status, return_message FROM cron.job_run_details WHERE jobid = {jobid} ORDER BY runid"),
        );
        if last.iter().any(|r| r.starts_with("succeeded|")) {
            break true;
        }
        if t0.elapsed() > Duration::from_secs(80) {
            break false;
        }
        thread::sleep(Duration::from_secs(2));
    };
    let through_set = int(
        &mut c,
        "SELECT count(*) FROM mking_analytics.rollup_state WHERE through IS NOT NULL",
    );
    cron_result_cleanup(&mut c, ok, &last, through_set);
}

fn cron_result_cleanup(c: &mut Client, ok: bool, runs: &[String], through_set: i64) {
    let built = if ok && through_set > 0 {
        let qs = queries(&ranges(c));
        // compare before cleaning up
        let on = answers(c, &qs, true);
        let off = answers(c, &qs, false);
        Some(diff(&qs, &on, &off))
    } else {
        None
    };
    let hours = int(c, "SELECT count(*) FROM mking_analytics.rollup_hours");
    cron_cleanup(c);
    assert!(ok, "no successful run of {JOB} within 80 s; runs: {runs:?}");
    assert!(
        through_set >= 7 && hours > 0,
        "the cron run did not build the rollups ({through_set} sources complete, {hours} hours)"
    );
    let d = built.unwrap();
    assert!(d.is_empty(), "after the cron refresh:\n{}", d.join("\n"));
}
