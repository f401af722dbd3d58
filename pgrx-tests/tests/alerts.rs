//! Alerts end to end on a running cluster: a real second connection LISTENs while the evaluation
//! loop runs; inserts cross a threshold; the alert arrives; the cooldown holds; the alert
//! resolves; payloads stay under the NOTIFY limit; and the commit-to-NOTIFY latency is measured,
//! once with the loop CALLed directly and once (slow) with the pg_cron job of `schedule()`.
//!
//! Latencies are written to `target/tmp/alert-latency.txt` and checked against the product's
//! promise (at most 10 s), which is a correctness bound, not a benchmark.

use mking_analytics_integration::{
    connect, cron_database, cron_jobs_use_test_socket, exec, fresh_db, install_extension,
    reset_cron_database, scalar, CRON_DB, PLATFORM_SQL,
};
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(10);

fn listener(db: &str) -> Client {
    let mut l = connect(db);
    exec(
        &mut l,
        "LISTEN mking_analytics_alerts; LISTEN mking_analytics_live",
    );
    l
}

/// Waits for the next notification on `channel` (others are collected into `seen`).
fn next_on(
    l: &mut Client,
    channel: &str,
    wait: Duration,
    seen: &mut Vec<(String, String)>,
) -> Option<(Instant, serde_json::Value)> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let mut notes = l.notifications();
        let mut it = notes.timeout_iter(left);
        match it.next() {
            Ok(Some(n)) => {
                let at = Instant::now();
                seen.push((n.channel().to_string(), n.payload().to_string()));
                if n.channel() == channel {
                    let v: serde_json::Value = serde_json::from_str(n.payload())
                        .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", n.payload()));
                    return Some((at, v));
                }
            }
            Ok(None) => return None,
            Err(e) => panic!("notification stream: {e}"),
        }
    }
}

fn posts_now(c: &mut Client, ids: &[i32]) {
    let values: Vec<String> = ids
        .iter()
        .map(|i| format!("({i}, 1, now() AT TIME ZONE 'UTC')"))
        .collect();
    exec(
        c,
        &format!(
            "INSERT INTO public.posts (id, user_id, created_at) VALUES {}",
            values.join(", ")
        ),
    );
}

fn stats(xs: &[Duration]) -> String {
    let mut v: Vec<f64> = xs.iter().map(|d| d.as_secs_f64()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = v[v.len() / 2];
    format!(
        "n={} median={:.2}s max={:.2}s all={:?}",
        v.len(),
        med,
        v[v.len() - 1],
        v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>()
    )
}

fn record(line: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("alert-latency.txt");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::write(&path, format!("{old}{line}\n"));
    eprintln!("{line}");
}

fn setup(db: &str) -> Client {
    let mut c = fresh_db(db);
    exec(&mut c, PLATFORM_SQL);
    install_extension(&mut c);
    exec(
        &mut c,
        "DELETE FROM mking_analytics.alert_rules;
         INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, comparison_operator, threshold_value, cooldown_minutes)
         VALUES ('Posting burst', 'metric', 'posts_1h', '>=', 3, 1);",
    );
    c
}

/// Advisory locks the session of `c` holds (the loop's session lock is one).
fn advisory_locks_held(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

/// Fire and resolve cycles against a running loop; returns the commit-to-NOTIFY latencies.
fn cycles(
    c: &mut Client,
    l: &mut Client,
    n: usize,
    seen: &mut Vec<(String, String)>,
) -> Vec<Duration> {
    let mut lat = Vec::new();
    for i in 0..n {
        let base = 100 * (i as i32 + 1);
        posts_now(c, &[base, base + 1, base + 2]);
        let committed = Instant::now();
        let (at, v) = next_on(l, "mking_analytics_alerts", Duration::from_secs(20), seen)
            .unwrap_or_else(|| panic!("cycle {i}: no firing alert within 20 s; seen {seen:?}"));
        assert_eq!(v["status"], "firing", "{v}");
        lat.push(at - committed);
        exec(c, "DELETE FROM public.posts");
        let cleared = Instant::now();
        let (at, v) = next_on(l, "mking_analytics_alerts", Duration::from_secs(20), seen)
            .unwrap_or_else(|| panic!("cycle {i}: no resolve within 20 s"));
        assert_eq!(v["status"], "resolved", "{v}");
        lat.push(at - cleared);
        // Different phases of the 5-second round.
        thread::sleep(Duration::from_millis(700 * (i as u64 % 5)));
    }
    lat
}

#[test]
fn alerts_listen_fire_cooldown_resolve() {
    let db = "it_alerts_e2e";
    let mut c = setup(db);
    let mut l = listener(db);
    let loop_db = db.to_string();
    // The production loop (a round every 5 s) for 75 s, in its own session, as pg_cron would.
    let runner = thread::spawn(move || {
        let mut r = connect(&loop_db);
        r.batch_execute("CALL mking_analytics.run_alert_loop(75, 5)")
    });
    let mut seen = Vec::new();
    // The live metrics arrive every round.
    let (_, live) = next_on(
        &mut l,
        "mking_analytics_live",
        Duration::from_secs(15),
        &mut seen,
    )
    .expect("no live metrics within 15 s");
    for key in [
        "time",
        "active_users_1h",
        "posts_1h",
        "interactions_5m",
        "error_rate",
    ] {
        assert!(live.get(key).is_some(), "live payload lacks {key}: {live}");
    }
    assert_eq!(live["posts_1h"], 0);
    assert!(live["error_rate"].is_null());

    // Cross the threshold.
    posts_now(&mut c, &[1, 2, 3]);
    let committed = Instant::now();
    let (at, v) = next_on(
        &mut l,
        "mking_analytics_alerts",
        Duration::from_secs(20),
        &mut seen,
    )
    .expect("no alert within 20 s");
    let first = at - committed;
    let trigger_id = scalar(&mut c, "SELECT id FROM mking_analytics.alert_triggers").unwrap();
    let rule_id = scalar(&mut c, "SELECT id FROM mking_analytics.alert_rules").unwrap();
    assert_eq!(v["trigger_id"].to_string(), trigger_id);
    assert_eq!(v["rule_id"].to_string(), rule_id);
    assert_eq!(v["rule_name"], "Posting burst");
    // Exact digits on the wire (serde_json here would read 3.0000 as 3.0).
    let raw = &seen.last().unwrap().1;
    assert!(
        raw.contains(r#""value":3,"threshold":3.0000,"operator":">=""#),
        "{raw}"
    );
    assert_eq!(v["operator"], ">=");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["message"], "Posting burst: posts_1h = 3 >= 3.0000");
    assert!(v["at"].as_str().unwrap().ends_with('Z'));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 9, "exactly the nine keys: {keys:?}");

    // Still true, cooldown 1 minute: no second alert over the next 3 rounds.
    posts_now(&mut c, &[4]);
    assert!(
        next_on(
            &mut l,
            "mking_analytics_alerts",
            Duration::from_secs(16),
            &mut seen
        )
        .is_none(),
        "re-notified within the cooldown"
    );
    assert_eq!(
        scalar(
            &mut c,
            "SELECT notification_count FROM mking_analytics.alert_triggers"
        )
        .as_deref(),
        Some("1")
    );

    // Clear it: resolved, on the same trigger.
    exec(&mut c, "DELETE FROM public.posts");
    let cleared = Instant::now();
    let (at, v) = next_on(
        &mut l,
        "mking_analytics_alerts",
        Duration::from_secs(20),
        &mut seen,
    )
    .expect("no resolve within 20 s");
    let resolve = at - cleared;
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["trigger_id"].to_string(), trigger_id);
    assert_eq!(
        scalar(&mut c, "SELECT format('%s %s', resolved_at IS NOT NULL, resolve_notification_status) FROM mking_analytics.alert_triggers").as_deref(),
        Some("t pending")
    );

    // More cycles for the latency distribution.
    let mut lat = vec![first, resolve];
    lat.extend(cycles(&mut c, &mut l, 4, &mut seen));
    record(&format!(
        "direct CALL run_alert_loop(75, 5): commit-to-NOTIFY {}",
        stats(&lat)
    ));
    for d in &lat {
        assert!(*d <= LIMIT, "latency {d:?} over 10 s");
    }
    runner.join().unwrap().expect("run_alert_loop failed");
}

#[test]
fn alerts_second_loop_returns_at_once() {
    let db = "it_alerts_lock";
    let _c = setup(db);
    let loop_db = db.to_string();
    let first = thread::spawn(move || {
        connect(&loop_db).batch_execute("CALL mking_analytics.run_alert_loop(6, 1)")
    });
    thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    connect(db)
        .batch_execute("CALL mking_analytics.run_alert_loop(6, 1)")
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "the second loop ran instead of returning"
    );
    first.join().unwrap().unwrap();
}

#[test]
fn alerts_cancelled_loop_releases_its_lock() {
    // A loop cancelled mid-sleep (statement_timeout, Ctrl-C) must not leave its session lock
    // behind: the session lives on, and later loops would return at once until it ends.
    let db = "it_alerts_lock_cancel";
    let _c = setup(db);
    let mut a = connect(db);
    // Two round trips: a multi-statement query is one implicit transaction, where CALL cannot
    // COMMIT.
    a.batch_execute("SET statement_timeout = '1500ms'").unwrap();
    let err = a
        .batch_execute("CALL mking_analytics.run_alert_loop(30, 5)")
        .expect_err("the loop outlived its statement_timeout");
    assert!(format!("{err:?}").contains("statement timeout"), "{err:?}");
    a.batch_execute("RESET statement_timeout").unwrap();
    let held = advisory_locks_held(&mut a);
    assert_eq!(held, 0, "the cancelled loop still holds its advisory lock");
    let mut b = connect(db);
    let free = b
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('mking_analytics.run_alert_loop'))",
            &[],
        )
        .unwrap()
        .get::<_, bool>(0);
    assert!(free, "another session cannot start a loop");
}

#[test]
fn alerts_loop_in_a_transaction_block_is_refused_before_its_lock() {
    // Its COMMIT after each round cannot work there. Refused up front, the loop leaves no session
    // lock behind that would silence the scheduled loop until this session ends.
    let db = "it_alerts_loop_txn";
    let _c = setup(db);
    let mut a = connect(db);
    for (how, sql) in [
        (
            "after BEGIN",
            "BEGIN; CALL mking_analytics.run_alert_loop(5, 1); COMMIT",
        ),
        (
            "in one query string",
            "SET application_name = 'x'; CALL mking_analytics.run_alert_loop(5, 1)",
        ),
    ] {
        let err = a.batch_execute(sql).expect_err(how);
        let db_err = err
            .as_db_error()
            .unwrap_or_else(|| panic!("{how}: {err:?}"));
        assert_eq!(db_err.code().code(), "25001", "{how}: {db_err:?}");
        assert!(
            db_err
                .message()
                .contains("cannot run inside a transaction block"),
            "{how}: {db_err:?}"
        );
        a.batch_execute("ROLLBACK").unwrap();
        let held = advisory_locks_held(&mut a);
        assert_eq!(held, 0, "{how}: the refused loop holds its advisory lock");
    }
    // On its own it runs: one round, committed.
    a.batch_execute("CALL mking_analytics.run_alert_loop(0, 1)")
        .unwrap();
    let rounds = scalar(
        &mut a,
        "SELECT count(*) FROM mking_analytics.alert_rules WHERE last_evaluated_at IS NOT NULL",
    )
    .unwrap();
    assert_eq!(rounds, "1", "the rule was not evaluated");
}

#[test]
fn alerts_payload_fits_notify_limit() {
    let db = "it_alerts_payload";
    let mut c = setup(db);
    let long_name = "警报".repeat(2500); // 15,000 bytes
    exec(
        &mut c,
        &format!(
            "CREATE ROLE it_alert_owner NOLOGIN;
             UPDATE mking_analytics.alert_rules SET is_active = false;
             INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, condition_query, comparison_operator, threshold_value, owner_role)
             VALUES ('{long_name}', 'query', 'SELECT 1', '>', 0, 'it_alert_owner');"
        ),
    );
    let mut l = listener(db);
    let r = scalar(
        &mut c,
        "SELECT string_agg(status, ',') FROM mking_analytics.evaluate_alerts()",
    );
    exec(&mut c, "DROP OWNED BY it_alert_owner; DELETE FROM mking_analytics.alert_rules; DROP ROLE it_alert_owner");
    assert_eq!(r.as_deref(), Some("fired"));
    let mut seen = Vec::new();
    let (_, v) = next_on(
        &mut l,
        "mking_analytics_alerts",
        Duration::from_secs(5),
        &mut seen,
    )
    .expect("no alert");
    let raw = &seen
        .iter()
        .find(|(ch, _)| ch == "mking_analytics_alerts")
        .unwrap()
        .1;
    assert!(raw.len() < 8000, "{} bytes", raw.len());
    let name = v["rule_name"].as_str().unwrap();
    assert!(name.ends_with('…') && long_name.starts_with(name.trim_end_matches('…')));
}

/// Slow (about 2.5 minutes): the real mechanism. `schedule()` registers the loop with pg_cron,
/// which starts it once a minute; alerts must still arrive within 10 s of the commit, also
/// across the minute boundary where one loop ends and the next begins.
#[test]
fn alerts_cron_latency_slow() {
    let mut c = cron_database();
    install_extension(&mut c);
    exec(
        &mut c,
        "DELETE FROM mking_analytics.alert_rules;
         INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, comparison_operator, threshold_value, cooldown_minutes)
         VALUES ('Posting burst', 'metric', 'posts_1h', '>=', 3, 1);
         SELECT * FROM mking_analytics.schedule();",
    );
    cron_jobs_use_test_socket(&mut c);
    let mut l = listener(CRON_DB);
    let mut seen = Vec::new();
    // Wait for the first loop to start (the next minute).
    let started = next_on(
        &mut l,
        "mking_analytics_live",
        Duration::from_secs(75),
        &mut seen,
    );
    let mut lat = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(
            started.is_some(),
            "the cron job never ran a round within 75 s"
        );
        let t0 = Instant::now();
        let mut i = 0;
        while t0.elapsed() < Duration::from_secs(130) {
            lat.extend(cycles(&mut c, &mut l, 1, &mut seen));
            i += 1;
            thread::sleep(Duration::from_millis(1300 * (i % 4)));
        }
    }));
    let runs = scalar(
        &mut c,
        "SELECT string_agg(DISTINCT status, ',') FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'mking_analytics_alerts'",
    );
    reset_cron_database(&mut c);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    record(&format!("pg_cron job (CALL run_alert_loop(58, 5) every minute): commit-to-NOTIFY {}; job runs: {runs:?}", stats(&lat)));
    for d in &lat {
        assert!(*d <= LIMIT, "latency {d:?} over 10 s: {}", stats(&lat));
    }
}

/// pg_dump keeps the rules and alerts users wrote; the restore recreates the built-in rules once.
#[test]
fn alerts_survive_dump_and_restore() {
    let db = "it_alerts_dump";
    let mut c = setup(db);
    exec(
        &mut c,
        "INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, comparison_operator, threshold_value)
         VALUES ('Another', 'metric', 'posts_1h', '>', 100);
         INSERT INTO public.posts (id, user_id, created_at) VALUES (1, 1, now() AT TIME ZONE 'UTC'), (2, 1, now() AT TIME ZONE 'UTC'), (3, 1, now() AT TIME ZONE 'UTC');
         SELECT * FROM mking_analytics.evaluate_alerts();
         CREATE TABLE public.req (at timestamptz, failed boolean);
         SELECT mking_analytics.set_error_rate_source('public.req', 'at', 'failed');",
    );
    let q = "SELECT string_agg(format('%s|%s|%s|%s', r.rule_name, r.is_active, r.builtin, t.trigger_value), ';' ORDER BY r.rule_name)
               FROM mking_analytics.alert_rules r LEFT JOIN mking_analytics.alert_triggers t ON t.alert_rule_id = r.id
              WHERE NOT r.builtin";
    let before = scalar(&mut c, q);
    let src = scalar(
        &mut c,
        "SELECT relation FROM mking_analytics.error_rate_source",
    );
    let restored = "it_alerts_restored";
    let mut admin = connect("postgres");
    exec(&mut admin, &format!("DROP DATABASE IF EXISTS {restored}"));
    exec(
        &mut admin,
        &format!("CREATE DATABASE {restored} TEMPLATE template0"),
    );
    let bindir = std::env::var("PG_BINDIR").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    let dump = std::process::Command::new(format!("{bindir}/pg_dump"))
        .args(["-d", db])
        .output()
        .expect("pg_dump");
    assert!(
        dump.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut psql = std::process::Command::new(format!("{bindir}/psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", restored])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql");
    use std::io::Write;
    psql.stdin.take().unwrap().write_all(&dump.stdout).unwrap();
    let out = psql.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = connect(restored);
    assert_eq!(scalar(&mut r, q), before);
    // The built-in rules come back once, from CREATE EXTENSION.
    assert_eq!(
        scalar(
            &mut r,
            "SELECT count(*) FROM mking_analytics.alert_rules WHERE builtin"
        )
        .as_deref(),
        Some("3")
    );
    assert_eq!(
        scalar(
            &mut r,
            "SELECT relation FROM mking_analytics.error_rate_source"
        ),
        src
    );
    // New rows do not reuse restored ids.
    exec(&mut r, "INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, threshold_value) VALUES ('New', 'metric', 'posts_1h', 1)");
    assert_eq!(
        scalar(
            &mut r,
            "SELECT count(DISTINCT id) = count(*) FROM mking_analytics.alert_rules"
        )
        .as_deref(),
        Some("t")
    );
    drop(r);
    exec(&mut admin, &format!("DROP DATABASE {restored}"));
}
