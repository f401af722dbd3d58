//! mking-listener end to end: the real binary against the private cluster, a local HTTP receiver
//! (webhook, Slack) and a local SMTP receiver. Rows are inserted and `pg_notify` is called here
//! as the alert evaluator and the report generator will do. The listener runs as a role with
//! exactly the GRANT recipe of docs/listener.md.
//!
//! The binary is built from ../listener (debug profile) on first use, or taken from
//! MKING_LISTENER_BIN.

#[path = "../../listener/testsupport/sinks.rs"]
mod sinks;

use mking_analytics_integration::{
    connect, ensure_login_role, err_text, exec, fresh_db, install_extension, scalar,
};
use postgres::Client;
use sinks::{wait_until, HttpSink, SmtpSink};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const ROLE: &str = "it_listener";

/// The privileges docs/listener.md tells a DBA to grant (kept identical to the doc).
const GRANTS: &str = "GRANT mking_analytics_reader TO it_listener;
GRANT UPDATE (notification_status, resolve_notification_status, delivery_attempts, last_delivery_error, delivered_at)
    ON mking_analytics.alert_triggers TO it_listener;
GRANT UPDATE (delivery_status, delivery_attempts, last_delivery_error, delivered_at)
    ON mking_analytics.reports TO it_listener;
GRANT SELECT ON mking_analytics.report_subscribers TO it_listener;";

/// A tiny but well-formed PDF and its base64 text as a MIME part carries it.
const PDF_HEX: &str =
    "255044462d312e340a312030206f626a3c3c2f547970652f436174616c6f673e3e656e646f626a0a2525454f460a";
const PDF_BASE64: &str = "JVBERi0xLjQKMSAwIG9iajw8L1R5cGUvQ2F0YWxvZz4+ZW5kb2JqCiUlRU9GCg==";

fn listener_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("MKING_LISTENER_BIN") {
            return PathBuf::from(p);
        }
        let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../listener");
        let target = crate_dir.join("target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // What cargo sets for this test process describes pgrx-tests, not the listener; some
        // build scripts (ring) rebuild when e.g. CARGO_MANIFEST_DIR differs.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&name.as_ref())
            {
                build.env_remove(name.as_ref());
            }
        }
        let status = build
            .args(["build", "--bin", "mking-listener", "--manifest-path"])
            .arg(crate_dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo build for the listener");
        assert!(status.success(), "cargo build of listener/ failed");
        target.join("debug/mking-listener")
    })
    .clone()
}

/// A database with the extension and the listener's role granted as documented.
fn setup(db: &str) -> Client {
    let mut su = fresh_db(db);
    install_extension(&mut su);
    ensure_login_role(&mut su, ROLE);
    exec(&mut su, GRANTS);
    su
}

fn database_url(db: &str, user: &str) -> String {
    format!(
        "host={} port={} user={user} dbname={db}",
        std::env::var("PGHOST").expect("PGHOST"),
        std::env::var("PGPORT").unwrap_or_else(|_| "5432".into())
    )
}

struct Listener {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start(db: &str, user: &str, smtp: &SmtpSink, extra: &[&str]) -> Listener {
        let mut child = Command::new(listener_bin())
            .env("MKING_DATABASE_URL", database_url(db, user))
            .args(["--smtp-host", "127.0.0.1", "--smtp-tls", "none"])
            .args(["--smtp-port", &smtp.port().to_string()])
            .args(["--smtp-from", "mking_analytics <alerts@example.com>"])
            .args(["--max-attempts", "3", "--retry-base-ms", "200"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mking-listener");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().expect("listener stderr");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("  [listener] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        Listener {
            child,
            log,
            reader: Some(reader),
        }
    }

    /// Start a long-running listener and wait until it LISTENs.
    fn serve(db: &str, smtp: &SmtpSink) -> Listener {
        let l = Listener::start(db, ROLE, smtp, &["--poll-interval-secs", "30"]);
        assert!(
            wait_until(Duration::from_secs(30), || l.logged("listening on")),
            "the listener did not start: {:?}",
            l.lines()
        );
        l
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn logged(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }

    fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the listener") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the listener did not exit: {:?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.lines())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A rule with the given alert_channels; returns its id.
fn rule(c: &mut Client, name: &str, channels: &str) -> i64 {
    c.query_one(
        "INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, threshold_value, comparison_operator, alert_channels) \
         VALUES ($1, 'metric', 'error_rate', 5, '>', $2::text::jsonb) RETURNING id",
        &[&name, &channels],
    )
    .unwrap_or_else(|e| panic!("insert rule: {}", err_text(&e)))
    .get(0)
}

/// A rule whose channels alert_rules would refuse today (an unknown key, a wrong value), as one
/// stored before that check was: written with the check disabled. Returns its id.
fn rule_unchecked(c: &mut Client, name: &str, channels: &str) -> i64 {
    let id = rule(c, name, "{}");
    let update = format!(
        "UPDATE mking_analytics.alert_rules SET alert_channels = {} WHERE id = {id}",
        quote_literal(channels)
    );
    exec(
        c,
        &format!(
            "ALTER TABLE mking_analytics.alert_rules DISABLE TRIGGER alert_rules_validate;
             {update};
             ALTER TABLE mking_analytics.alert_rules ENABLE TRIGGER alert_rules_validate;"
        ),
    );
    id
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A pending trigger of `rule_id` as the evaluator records it; returns its id.
fn trigger(c: &mut Client, rule_id: i64, value: &str, message: &str) -> i64 {
    c.query_one(
        "INSERT INTO mking_analytics.alert_triggers (alert_rule_id, trigger_value, threshold_value, alert_message, rule_name, comparison_operator) \
         SELECT id, $2::text::numeric, threshold_value, $3, rule_name, comparison_operator FROM mking_analytics.alert_rules WHERE id = $1 RETURNING id",
        &[&rule_id, &value, &message],
    )
    .unwrap_or_else(|e| panic!("insert trigger: {}", err_text(&e)))
    .get(0)
}

/// NOTIFY as the evaluator does: compact JSON, long text cut to keep the payload small.
fn notify_alert(c: &mut Client, trigger_id: i64, status: &str) {
    exec(
        c,
        &format!(
            "SELECT pg_notify('mking_analytics_alerts', json_build_object(
                'trigger_id', t.id, 'rule_id', t.alert_rule_id, 'rule_name', left(t.rule_name, 100),
                'value', t.trigger_value, 'threshold', t.threshold_value, 'operator', t.comparison_operator,
                'status', '{status}', 'at', CASE WHEN '{status}' = 'firing' THEN t.created_at ELSE t.resolved_at END,
                'message', left(t.alert_message, 100))::text)
             FROM mking_analytics.alert_triggers t WHERE t.id = {trigger_id}"
        ),
    );
}

fn text(c: &mut Client, sql: &str) -> String {
    scalar(c, sql).unwrap_or_else(|| "NULL".into())
}

/// Wait until `sql` (one text value) returns `want`; the last value seen on timeout.
fn wait_for_value(c: &mut Client, sql: &str, want: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = text(c, sql);
        if got == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(got);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A key of a JSON document, read by PostgreSQL (`->>`).
fn json_get(c: &mut Client, doc: &str, key: &str) -> String {
    c.query_one("SELECT $1::text::jsonb ->> $2", &[&doc, &key])
        .unwrap_or_else(|e| panic!("not JSON ({}): {doc}", err_text(&e)))
        .get::<_, Option<String>>(0)
        .unwrap_or_else(|| "NULL".into())
}

/// The message with folded headers and quoted-printable soft breaks joined (text parts only:
/// it would also eat a base64 padding "=" at the end of a line).
fn unfold(data: &str) -> String {
    data.replace("=\r\n", "").replace("\r\n ", " ")
}

#[test]
fn listener_firing_and_resolution_reach_every_channel() {
    const DB: &str = "it_listener_channels";
    let mut su = setup(DB);
    let http = HttpSink::start();
    let smtp = SmtpSink::start();
    let channels = format!(
        r#"{{"webhook": "{}", "slack": ["{}"], "email": ["ops@example.com", "oncall@example.com"], "pager": "555"}}"#,
        http.url("/hook"),
        http.url("/slack")
    );
    // An unknown key ("pager") is refused when a rule is written; one already stored is ignored
    // by the listener with a warning.
    let rule_id = rule_unchecked(&mut su, "High error rate", &channels);
    let listener = Listener::serve(DB, &smtp);

    // A message longer than any NOTIFY payload may carry: the webhook gets it whole.
    let message = format!("error rate 7.5% over the last hour; {}", "x".repeat(9000));
    let id = trigger(&mut su, rule_id, "7.5", &message);
    notify_alert(&mut su, id, "firing");
    let status =
        format!("SELECT notification_status FROM mking_analytics.alert_triggers WHERE id = {id}");
    // Well before the 30 s poll: the notification did it.
    if let Err(got) = wait_for_value(&mut su, &status, "delivered", Duration::from_secs(10)) {
        panic!(
            "firing not delivered (status {got}): {:?}",
            listener.lines()
        );
    }
    assert_eq!(
        text(&mut su, &format!("SELECT delivery_attempts || ' ' || coalesce(last_delivery_error, 'no error') || ' ' || (delivered_at IS NOT NULL) FROM mking_analytics.alert_triggers WHERE id = {id}")),
        "1 no error true"
    );
    assert!(
        listener.logged("unknown key 'pager' ignored"),
        "{:?}",
        listener.lines()
    );

    let hooks = http.requests_to("/hook");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].method, "POST");
    assert_eq!(
        hooks[0].header("content-type").as_deref(),
        Some("application/json")
    );
    let body = &hooks[0].body;
    assert_eq!(json_get(&mut su, body, "trigger_id"), id.to_string());
    assert_eq!(json_get(&mut su, body, "rule_id"), rule_id.to_string());
    assert_eq!(json_get(&mut su, body, "rule_name"), "High error rate");
    assert_eq!(json_get(&mut su, body, "value"), "7.5");
    assert_eq!(json_get(&mut su, body, "threshold"), "5.0000");
    assert_eq!(json_get(&mut su, body, "operator"), ">");
    assert_eq!(json_get(&mut su, body, "status"), "firing");
    assert_eq!(json_get(&mut su, body, "message"), message);
    let created_at = text(&mut su, &format!("SELECT to_json(created_at AT TIME ZONE 'UTC') #>> '{{}}' FROM mking_analytics.alert_triggers WHERE id = {id}"));
    assert_eq!(json_get(&mut su, body, "at"), format!("{created_at}+00:00"));

    let slack = http.requests_to("/slack");
    assert_eq!(slack.len(), 1);
    let slack_text = json_get(&mut su, &slack[0].body, "text");
    assert!(
        slack_text.starts_with(":rotating_light: *FIRING* High error rate: value 7.5 &gt; threshold 5. error rate 7.5% over the last hour; xxx"),
        "{slack_text}"
    );
    assert_eq!(
        text(
            &mut su,
            &format!(
                "SELECT (SELECT count(*) FROM jsonb_object_keys($${}$$::jsonb))::text",
                slack[0].body
            )
        ),
        "1"
    );

    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "one email per address");
    for to in ["ops@example.com", "oncall@example.com"] {
        let m = smtp.messages_to(to);
        assert_eq!(m.len(), 1, "{to}");
        assert_eq!(m[0].from, "alerts@example.com");
        let data = unfold(&m[0].data);
        assert!(
            data.contains("Subject: [mking_analytics] FIRING: High error rate\r\n"),
            "{data}"
        );
        assert!(data.contains("Value: 7.5 > threshold 5"), "{data}");
    }

    // Resolution: same row, its own status column, after the firing.
    exec(&mut su, &format!("UPDATE mking_analytics.alert_triggers SET resolved_at = now(), resolve_notification_status = 'pending' WHERE id = {id}"));
    notify_alert(&mut su, id, "resolved");
    let resolve = format!(
        "SELECT resolve_notification_status FROM mking_analytics.alert_triggers WHERE id = {id}"
    );
    if let Err(got) = wait_for_value(&mut su, &resolve, "delivered", Duration::from_secs(10)) {
        panic!(
            "resolution not delivered (status {got}): {:?}",
            listener.lines()
        );
    }
    let hooks = http.requests_to("/hook");
    assert_eq!(hooks.len(), 2);
    assert_eq!(json_get(&mut su, &hooks[1].body, "status"), "resolved");
    let resolved_at = text(&mut su, &format!("SELECT to_json(resolved_at AT TIME ZONE 'UTC') #>> '{{}}' FROM mking_analytics.alert_triggers WHERE id = {id}"));
    assert_eq!(
        json_get(&mut su, &hooks[1].body, "at"),
        format!("{resolved_at}+00:00")
    );
    let slack = http.requests_to("/slack");
    assert!(json_get(&mut su, &slack[1].body, "text").starts_with(
        ":white_check_mark: *RESOLVED* High error rate: value was 7.5 &gt; threshold 5."
    ));
    let resolved_mails: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| {
            unfold(&m.data).contains("Subject: [mking_analytics] RESOLVED: High error rate\r\n")
        })
        .collect();
    assert_eq!(resolved_mails.len(), 2);
    assert_eq!(text(&mut su, &format!("SELECT delivery_attempts::text FROM mking_analytics.alert_triggers WHERE id = {id}")), "2");

    // The connection drops (server restart, network): the listener reconnects, and what was
    // notified while it was away is found by the catch-up after reconnecting.
    let killed = text(&mut su, &format!("SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity WHERE usename = '{ROLE}' AND datname = '{DB}'"));
    assert_eq!(killed, "1");
    let id2 = trigger(&mut su, rule_id, "9", "error rate 9%");
    notify_alert(&mut su, id2, "firing");
    let status2 =
        format!("SELECT notification_status FROM mking_analytics.alert_triggers WHERE id = {id2}");
    if let Err(got) = wait_for_value(&mut su, &status2, "delivered", Duration::from_secs(15)) {
        panic!(
            "not delivered after reconnecting (status {got}): {:?}",
            listener.lines()
        );
    }
    assert!(
        listener.logged("lost the database connection"),
        "{:?}",
        listener.lines()
    );
    assert_eq!(http.requests_to("/hook").len(), 3);
}

#[test]
fn listener_failing_webhook_is_retried_with_backoff_then_failed() {
    const DB: &str = "it_listener_retry";
    let mut su = setup(DB);
    let http = HttpSink::start();
    http.respond("/fail", 500, "boom");
    let smtp = SmtpSink::start();
    let failing = rule(
        &mut su,
        "Publishing stall",
        &format!(
            r#"{{"webhook": "{}", "slack": "{}"}}"#,
            http.url("/fail"),
            http.url("/slack")
        ),
    );
    // alert_rules refuses such channels when written; one already stored must still fail
    // cleanly in the listener.
    let misconfigured = rule_unchecked(&mut su, "Bad channels", r#"{"webhook": 42}"#);
    let silent = rule(&mut su, "No channels", "{}");
    let t_fail = trigger(&mut su, failing, "0", "no posts in the last hour");
    let t_bad = trigger(&mut su, misconfigured, "1", "x");
    let t_none = trigger(&mut su, silent, "1", "y");

    let (status, log) = Listener::start(DB, ROLE, &smtp, &["--once"]).wait();
    assert_eq!(
        status.code(),
        Some(1),
        "a failed delivery makes --once exit 1: {log:?}"
    );

    let row = |su: &mut Client, id: i64| {
        text(su, &format!("SELECT notification_status || ' | ' || delivery_attempts || ' | ' || coalesce(last_delivery_error, 'NULL') || ' | ' || (delivered_at IS NULL) FROM mking_analytics.alert_triggers WHERE id = {id}"))
    };
    assert_eq!(
        row(&mut su, t_fail),
        format!(
            "failed | 3 | after 3 attempts: webhook {}: HTTP 500: boom (delivered: slack http://127.0.0.1:{}/…) | true",
            http.url("/fail"),
            http.url("").trim_start_matches("http://127.0.0.1:")
        )
    );
    let posts = http.requests_to("/fail");
    assert_eq!(posts.len(), 3, "three attempts");
    let gap1 = posts[1].at - posts[0].at;
    let gap2 = posts[2].at - posts[1].at;
    assert!(
        gap1 >= Duration::from_millis(200) && gap1 < Duration::from_secs(3),
        "{gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(400) && gap2 < Duration::from_secs(3),
        "{gap2:?}"
    );
    assert_eq!(
        http.requests_to("/slack").len(),
        1,
        "only the failed target is retried"
    );

    assert_eq!(
        row(&mut su, t_bad),
        format!("failed | 0 | rule {misconfigured}: alert_channels: 'webhook' must be a string or an array of strings, got a number | true")
    );
    assert_eq!(row(&mut su, t_none), "none | 0 | NULL | true");
    assert!(
        log.iter()
            .any(|l| l.contains("done: 0 delivered, 2 failed, 1 without channels")),
        "{log:?}"
    );
}

#[test]
fn listener_catch_up_after_downtime_and_two_never_double_send() {
    const DB: &str = "it_listener_catchup";
    let mut su = setup(DB);
    let http = HttpSink::start();
    // Slow enough that the two listeners below overlap for the whole backlog.
    http.delay("/hook", Duration::from_millis(50));
    let smtp = SmtpSink::start();
    // At most one open trigger per rule (the evaluator's invariant): one rule per trigger.
    let channels = format!(r#"{{"webhook": "{}"}}"#, http.url("/hook"));
    let next_rule = |su: &mut Client, i: usize| rule(su, &format!("Low activity {i}"), &channels);

    // Running, then stopped: nothing is listening while the triggers below are recorded.
    let first = Listener::serve(DB, &smtp);
    drop(first);
    let mut ids = Vec::new();
    for i in 0..20 {
        let rule_id = next_rule(&mut su, i);
        ids.push(trigger(
            &mut su,
            rule_id,
            &i.to_string(),
            &format!("{i} active users"),
        ));
    }
    // Left 'sending' by a listener that died mid-delivery: nobody holds it, so it is taken over.
    let rule_id = next_rule(&mut su, 20);
    let orphan = trigger(&mut su, rule_id, "99", "orphan");
    exec(&mut su, &format!("UPDATE mking_analytics.alert_triggers SET notification_status = 'sending' WHERE id = {orphan}"));
    ids.push(orphan);
    // Fired and resolved while down: the resolution must come after the firing.
    let rule_id = next_rule(&mut su, 21);
    let both = trigger(&mut su, rule_id, "3", "fired and resolved");
    exec(&mut su, &format!("UPDATE mking_analytics.alert_triggers SET resolved_at = now(), resolve_notification_status = 'pending' WHERE id = {both}"));
    ids.push(both);

    let a = Listener::start(DB, ROLE, &smtp, &["--once"]);
    let b = Listener::start(DB, ROLE, &smtp, &["--once"]);
    let (sa, la) = a.wait();
    let (sb, lb) = b.wait();
    assert!(sa.success() && sb.success(), "{la:?}\n{lb:?}");

    assert_eq!(
        text(&mut su, "SELECT string_agg(DISTINCT notification_status || '/' || coalesce(resolve_notification_status, '-'), ',') FROM mking_analytics.alert_triggers"),
        "delivered/-,delivered/delivered"
    );
    let hooks = http.requests_to("/hook");
    let mut seen: Vec<(i64, String)> = hooks
        .iter()
        .map(|h| {
            (
                json_get(&mut su, &h.body, "trigger_id").parse().unwrap(),
                json_get(&mut su, &h.body, "status"),
            )
        })
        .collect();
    let firing_of_both = seen.iter().position(|s| *s == (both, "firing".to_string()));
    let resolution_of_both = seen
        .iter()
        .position(|s| *s == (both, "resolved".to_string()));
    assert!(
        firing_of_both < resolution_of_both && firing_of_both.is_some(),
        "{seen:?}"
    );
    seen.sort();
    let mut want: Vec<(i64, String)> = ids.iter().map(|&i| (i, "firing".to_string())).collect();
    want.push((both, "resolved".to_string()));
    want.sort();
    assert_eq!(
        seen, want,
        "every notification exactly once, across two listeners"
    );
    assert_eq!(
        text(&mut su, "SELECT string_agg(DISTINCT delivery_attempts::text, ',') FROM mking_analytics.alert_triggers WHERE resolve_notification_status IS NULL"),
        "1"
    );
}

#[test]
fn listener_report_is_emailed_with_its_pdf_to_the_subscribers_of_its_kind() {
    const DB: &str = "it_listener_reports";
    let mut su = setup(DB);
    let smtp = SmtpSink::start();
    exec(
        &mut su,
        "INSERT INTO mking_analytics.report_subscribers (report_type, email) VALUES
           ('daily', 'ceo@example.com'), ('daily', 'analyst@example.com'), ('weekly', 'weekly-only@example.com')",
    );
    let listener = Listener::serve(DB, &smtp);
    let id: i64 = su
        .query_one(
            &format!(
                "INSERT INTO mking_analytics.reports (report_type, period_start, period_end, tz, data, html, pdf)
                 VALUES ('daily', '2026-11-30', '2026-12-01', 'Europe/Berlin', '{{}}',
                         '<html><body><h1>Daily report 2026-11-30</h1><p>42 active users</p></body></html>',
                         '\\x{PDF_HEX}'::bytea) RETURNING id"
            ),
            &[],
        )
        .unwrap_or_else(|e| panic!("insert report: {}", err_text(&e)))
        .get(0);
    exec(&mut su, &format!("SELECT pg_notify('mking_analytics_reports', json_build_object('report_id', {id}, 'kind', 'daily', 'period_start', '2026-11-30', 'status', 'completed')::text)"));
    let status = format!("SELECT delivery_status FROM mking_analytics.reports WHERE id = {id}");
    if let Err(got) = wait_for_value(&mut su, &status, "delivered", Duration::from_secs(10)) {
        panic!(
            "report not delivered (status {got}): {:?}",
            listener.lines()
        );
    }
    assert_eq!(
        text(&mut su, &format!("SELECT delivery_attempts || ' ' || (delivered_at IS NOT NULL) FROM mking_analytics.reports WHERE id = {id}")),
        "1 true"
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "the two daily subscribers only");
    assert!(smtp.messages_to("weekly-only@example.com").is_empty());
    for to in ["ceo@example.com", "analyst@example.com"] {
        let m = smtp.messages_to(to);
        assert_eq!(m.len(), 1, "{to}");
        let data = unfold(&m[0].data);
        assert!(data.contains("Subject: [mking_analytics] Daily report, period starting 2026-11-30 (Europe/Berlin)\r\n"), "{data}");
        assert!(
            data.contains("Content-Type: text/html; charset=utf-8"),
            "{data}"
        );
        assert!(
            data.contains("<h1>Daily report 2026-11-30</h1><p>42 active users</p>"),
            "{data}"
        );
        assert!(
            data.contains("Content-Type: text/plain; charset=utf-8"),
            "{data}"
        );
        assert!(
            data.contains(
                "Content-Disposition: attachment; filename=\"daily-report-2026-11-30.pdf\""
            ),
            "{data}"
        );
        assert!(data.contains("Content-Type: application/pdf"), "{data}");
        // base64 lines as sent (unfold() would eat the padding's "=" before a line end)
        assert!(
            m[0].data.contains(&format!("\r\n\r\n{PDF_BASE64}\r\n")),
            "{}",
            m[0].data
        );
    }

    // A report nobody subscribed to: nothing to send, status none; a failed generation's
    // notification sends nothing.
    let monthly: i64 = su
        .query_one(
            "INSERT INTO mking_analytics.reports (report_type, period_start, period_end, tz, html)
             VALUES ('monthly', '2026-11-01', '2026-12-01', 'UTC', '<p>m</p>') RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    exec(&mut su, &format!("SELECT pg_notify('mking_analytics_reports', json_build_object('report_id', {monthly}, 'kind', 'monthly', 'period_start', '2026-11-01', 'status', 'completed')::text)"));
    let status =
        format!("SELECT delivery_status FROM mking_analytics.reports WHERE id = {monthly}");
    if let Err(got) = wait_for_value(&mut su, &status, "none", Duration::from_secs(10)) {
        panic!("monthly report status {got}: {:?}", listener.lines());
    }
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn listener_refuses_to_start_without_privileges_or_configuration() {
    const DB: &str = "it_listener_setup";
    let mut su = setup(DB);
    let smtp = SmtpSink::start();
    ensure_login_role(&mut su, "it_listener_reader");
    exec(
        &mut su,
        "GRANT mking_analytics_reader TO it_listener_reader",
    );
    let (status, log) = Listener::start(DB, "it_listener_reader", &smtp, &["--once"]).wait();
    assert_eq!(status.code(), Some(2), "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("role it_listener_reader lacks privileges the listener needs: SELECT ON mking_analytics.report_subscribers, UPDATE (notification_status) ON mking_analytics.alert_triggers")),
        "{log:?}"
    );

    let mut admin = connect("postgres");
    exec(
        &mut admin,
        "DROP DATABASE IF EXISTS it_listener_noext WITH (FORCE)",
    );
    exec(&mut admin, "CREATE DATABASE it_listener_noext");
    let (status, log) = Listener::start("it_listener_noext", ROLE, &smtp, &["--once"]).wait();
    assert_eq!(status.code(), Some(2), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains("database it_listener_noext has no schema mking_analytics")),
        "{log:?}"
    );

    let out = Command::new(listener_bin())
        .env("MKING_DATABASE_URL", database_url(DB, ROLE))
        .args(["--smtp-host", "127.0.0.1", "--once"])
        .output()
        .expect("run mking-listener");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("configuration: --smtp-from / MKING_SMTP_FROM is required with --smtp-host"),
        "{stderr}"
    );
}

/// The whole chain: inserts cross a threshold, the evaluation loop fires and NOTIFYs, the
/// listener delivers to the HTTP and SMTP sinks; clearing it delivers the resolution.
#[test]
fn listener_delivers_what_the_evaluation_loop_fires() {
    const DB: &str = "it_listener_chain";
    let mut su = setup(DB);
    exec(&mut su, mking_analytics_integration::PLATFORM_SQL);
    let http = HttpSink::start();
    let smtp = SmtpSink::start();
    exec(
        &mut su,
        &format!(
            r#"INSERT INTO mking_analytics.alert_rules (rule_name, rule_type, metric, comparison_operator, threshold_value, alert_channels)
               VALUES ('Posting burst', 'metric', 'posts_1h', '>=', 3,
                       '{{"webhook": "{}", "email": "ops@example.com"}}')"#,
            http.url("/hook")
        ),
    );
    let listener = Listener::serve(DB, &smtp);
    let db = DB.to_string();
    let evaluator = std::thread::spawn(move || {
        connect(&db).batch_execute("CALL mking_analytics.run_alert_loop(25, 1)")
    });
    exec(
        &mut su,
        "INSERT INTO public.posts (id, user_id, created_at)
         SELECT i, 1, now() AT TIME ZONE 'UTC' FROM generate_series(1, 3) i",
    );
    let committed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(15), || !http
            .requests_to("/hook")
            .is_empty()),
        "no webhook within 15 s of the commit: {:?}",
        listener.lines()
    );
    let webhook_after = committed.elapsed();
    let body = http.requests_to("/hook")[0].body.clone();
    assert_eq!(json_get(&mut su, &body, "status"), "firing");
    assert_eq!(json_get(&mut su, &body, "value"), "3");
    assert_eq!(
        json_get(&mut su, &body, "message"),
        "Posting burst: posts_1h = 3 >= 3.0000"
    );
    assert!(wait_until(Duration::from_secs(10), || smtp
        .messages_to("ops@example.com")
        .len()
        == 1));
    let mail = unfold(&smtp.messages_to("ops@example.com")[0].data);
    assert!(mail.contains("FIRING: Posting burst"), "{mail}");
    let status = "SELECT notification_status FROM mking_analytics.alert_triggers";
    wait_for_value(&mut su, status, "delivered", Duration::from_secs(10))
        .expect("firing not marked delivered");

    exec(&mut su, "DELETE FROM public.posts");
    assert!(
        wait_until(Duration::from_secs(15), || http.requests_to("/hook").len()
            == 2),
        "no resolution webhook: {:?}",
        listener.lines()
    );
    let body = http.requests_to("/hook")[1].body.clone();
    assert_eq!(json_get(&mut su, &body, "status"), "resolved");
    assert!(wait_until(Duration::from_secs(10), || smtp
        .messages_to("ops@example.com")
        .len()
        == 2));
    assert!(
        unfold(&smtp.messages_to("ops@example.com")[1].data).contains("RESOLVED: Posting burst")
    );
    wait_for_value(
        &mut su,
        "SELECT resolve_notification_status FROM mking_analytics.alert_triggers",
        "delivered",
        Duration::from_secs(10),
    )
    .expect("resolution not marked delivered");
    eprintln!(
        "commit to webhook delivery: {:.2} s (loop interval 1 s)",
        webhook_after.as_secs_f64()
    );
    drop(listener);
    evaluator.join().unwrap().expect("run_alert_loop failed");
}
