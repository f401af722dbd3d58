//! Harness of the client-side integration tests of `mking_analytics`.
//!
//! The tests need a running PostgreSQL 15 cluster with the extension installed and pg_cron
//! preloaded; `scripts/integration-test.sh` starts a private one and exports `PGHOST`, `PGPORT`
//! and `PGUSER` (superuser). Every test works in its own freshly created database.

pub mod data;
pub mod diff;

use postgres::{Client, Config, NoTls, SimpleQueryMessage};
use std::sync::{Arc, Mutex};

/// The platform's tables as in docs/tables.md.
pub const PLATFORM_SQL: &str = include_str!("../sql/platform.sql");
/// The plain-SQL reference oracle (schema `oracle`), written from docs/metrics.md.
pub const ORACLE_SQL: &str = include_str!("../sql/oracle.sql");

/// Analytic functions of the contract.
pub const ANALYTIC_FUNCTIONS: [&str; 8] = [
    "new_users",
    "active_users",
    "retention",
    "retention_summary",
    "lifecycle",
    "stickiness",
    "growth",
    "kpis",
];

/// The nine analytics tables of docs/tables.md with their fixed column names (plus `id`).
pub const ANALYTICS_TABLES: [(&str, &[&str]); 9] = [
    (
        "user_behavior_analytics",
        &[
            "id",
            "user_id",
            "session_id",
            "device_type",
            "browser",
            "ip_address",
            "page_views",
            "time_spent",
            "actions_count",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "content_performance_analytics",
        &[
            "id",
            "post_id",
            "views_count",
            "likes_count",
            "comments_count",
            "shares_count",
            "engagement_score",
            "reach_count",
            "click_through_rate",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "social_interaction_analytics",
        &[
            "id",
            "user_id",
            "interaction_type",
            "target_id",
            "target_type",
            "interaction_value",
            "created_at",
        ],
    ),
    (
        "business_metrics",
        &[
            "id",
            "metric_name",
            "metric_value",
            "metric_type",
            "calculation_date",
            "metadata",
            "created_at",
        ],
    ),
    (
        "report_generation_logs",
        &[
            "id",
            "report_type",
            "report_date",
            "generation_status",
            "file_path",
            "generation_time",
            "error_message",
            "created_at",
            "completed_at",
        ],
    ),
    (
        "dashboard_configs",
        &[
            "id",
            "user_id",
            "dashboard_name",
            "config_data",
            "is_default",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "data_export_logs",
        &[
            "id",
            "user_id",
            "export_type",
            "data_range",
            "file_path",
            "file_size",
            "export_status",
            "created_at",
            "completed_at",
        ],
    ),
    (
        "alert_rules",
        &[
            "id",
            "rule_name",
            "rule_type",
            "condition_query",
            "threshold_value",
            "comparison_operator",
            "alert_channels",
            "is_active",
            "cooldown_minutes",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "alert_triggers",
        &[
            "id",
            "alert_rule_id",
            "trigger_value",
            "threshold_value",
            "alert_message",
            "notification_status",
            "created_at",
            "resolved_at",
        ],
    ),
];

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// Connection settings of the test cluster (from `PGHOST`, `PGPORT`, `PGUSER`).
pub fn config(dbname: &str, user: Option<&str>) -> Config {
    let host = std::env::var("PGHOST").unwrap_or_else(|_| {
        panic!(
            "PGHOST is not set: these tests need the private cluster started by \
             scripts/integration-test.sh (make test-integration)"
        )
    });
    let mut cfg = Config::new();
    cfg.host(&host)
        .port(env_or("PGPORT", "5432").parse().expect("PGPORT"))
        .user(
            &user
                .map(str::to_string)
                .unwrap_or_else(|| env_or("PGUSER", "postgres")),
        )
        .dbname(dbname)
        .application_name("mking_analytics_integration");
    cfg
}

/// Connect, waiting up to 30 s while the server is starting or recovering (after a crash one
/// test reports it; the others should not fail only because recovery was still running).
fn connect_retrying(cfg: &Config, what: &str) -> Client {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match cfg.connect(NoTls) {
            Ok(c) => return c,
            Err(e) => {
                let starting = matches!(sqlstate(&e).as_deref(), Some("57P03"))
                    || err_text(&e).contains("Connection refused")
                    || err_text(&e).contains("No such file")
                    || err_text(&e).contains("connection closed")
                    || matches!(sqlstate(&e).as_deref(), Some("57P01") | Some("57P02"));
                if !starting || std::time::Instant::now() > deadline {
                    panic!("connect to {what}: {}", err_text(&e));
                }
                eprintln!(
                    "server not accepting connections yet ({}), retrying",
                    err_text(&e)
                );
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
    }
}

/// Connect to `dbname` as the superuser.
pub fn connect(dbname: &str) -> Client {
    connect_retrying(&config(dbname, None), &format!("database {dbname}"))
}

/// Connect to `dbname` as `user` (trust authentication on the private socket).
pub fn connect_as(dbname: &str, user: &str) -> Client {
    connect_retrying(
        &config(dbname, Some(user)),
        &format!("database {dbname} as {user}"),
    )
}

/// Connect and collect every NOTICE/WARNING the server sends.
pub fn connect_with_notices(dbname: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = notices.clone();
    let mut cfg = config(dbname, None);
    cfg.notice_callback(move |n| {
        sink.lock()
            .unwrap()
            .push(format!("{}: {}", n.severity(), n.message()))
    });
    let client = cfg
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("connect to database {dbname}: {}", err_text(&e)));
    (client, notices)
}

/// Drop (if present) and create database `name` from template0; return a superuser connection.
pub fn fresh_db(name: &str) -> Client {
    let mut admin = connect("postgres");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"),
    ] {
        admin
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {}", err_text(&e)));
    }
    connect(name)
}

/// Is the extension installed in the system PostgreSQL?
pub fn extension_installed(client: &mut Client) -> bool {
    client
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'mking_analytics'",
            &[],
        )
        .map(|r| r.get::<_, i64>(0) == 1)
        .unwrap_or(false)
}

/// `CREATE EXTENSION mking_analytics` (panics with the server's message on failure).
pub fn install_extension(client: &mut Client) {
    client
        .batch_execute("CREATE EXTENSION mking_analytics")
        .unwrap_or_else(|e| panic!("CREATE EXTENSION mking_analytics: {}", err_text(&e)));
}

/// SQLSTATE of a server error.
pub fn sqlstate(e: &postgres::Error) -> Option<String> {
    e.as_db_error().map(|d| d.code().code().to_string())
}

/// Full text of an error: SQLSTATE, message, detail, hint.
pub fn err_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => {
            let mut s = format!("{} {}: {}", d.severity(), d.code().code(), d.message());
            if let Some(x) = d.detail() {
                s.push_str(&format!(" DETAIL: {x}"));
            }
            if let Some(x) = d.hint() {
                s.push_str(&format!(" HINT: {x}"));
            }
            s
        }
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// Rows of a query in PostgreSQL's text format (NULL = None), via the simple query protocol.
/// With several statements, the rows of all of them.
pub fn text_rows(
    client: &mut Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, postgres::Error> {
    let mut out = Vec::new();
    for m in client.simple_query(sql)? {
        if let SimpleQueryMessage::Row(r) = m {
            out.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
        }
    }
    Ok(out)
}

/// One scalar, text format.
pub fn scalar(client: &mut Client, sql: &str) -> Option<String> {
    let rows = text_rows(client, sql).unwrap_or_else(|e| panic!("{sql}: {}", err_text(&e)));
    rows.into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
}

/// Run statements, panicking with the server's message.
pub fn exec(client: &mut Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}\n=> {}", err_text(&e)));
}

/// Create the platform's tables and the oracle in the current database.
pub fn create_platform_and_oracle(client: &mut Client) {
    exec(client, PLATFORM_SQL);
    exec(client, ORACLE_SQL);
}

/// Numeric text normalised to its value: trailing fractional zeros dropped
/// (`100.00` and `100` are the same number; `30.83` and `30.8333` are not).
pub fn norm_cell(v: &Option<String>) -> String {
    match v {
        None => "NULL".to_string(),
        Some(s) => {
            let is_decimal = !s.is_empty()
                && s.contains('.')
                && s.chars()
                    .enumerate()
                    .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && c == '-'));
            if is_decimal {
                let t = s.trim_end_matches('0').trim_end_matches('.');
                if t.is_empty() || t == "-" {
                    "0".to_string()
                } else {
                    t.to_string()
                }
            } else {
                s.clone()
            }
        }
    }
}

pub fn norm_row(r: &[Option<String>]) -> Vec<String> {
    r.iter().map(norm_cell).collect()
}

/// Run `sql` and expect an error; returns it (panics if the statement succeeded).
pub fn expect_err(client: &mut Client, sql: &str) -> postgres::Error {
    match client.batch_execute(sql) {
        Ok(()) => panic!("expected an error from: {sql}"),
        Err(e) => e,
    }
}

/// Create a login role if it does not exist yet (roles are cluster-wide).
pub fn ensure_login_role(client: &mut Client, role: &str) {
    exec(
        client,
        &format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN \
             CREATE ROLE {role} LOGIN; END IF; END $$"
        ),
    );
}

/// A call of every analytic function of the contract on a small range (for privilege checks).
pub fn analytic_calls() -> Vec<String> {
    let r = "'2026-03-01 00:00+00'::timestamptz, '2026-03-05 00:00+00'::timestamptz";
    vec![
        format!("SELECT * FROM mking_analytics.new_users({r}, 'day', 'UTC')"),
        format!("SELECT * FROM mking_analytics.active_users({r}, 'day', 'UTC')"),
        format!("SELECT * FROM mking_analytics.retention({r}, 'day', 3)"),
        format!("SELECT * FROM mking_analytics.retention_summary({r}, 'UTC')"),
        format!("SELECT * FROM mking_analytics.lifecycle({r}, 'day', 'UTC')"),
        format!("SELECT * FROM mking_analytics.stickiness({r}, 'day', 'UTC')"),
        format!("SELECT * FROM mking_analytics.growth('likes', {r}, 'day', 'UTC')"),
        format!("SELECT * FROM mking_analytics.kpis({r}, 'UTC')"),
    ]
}

/// Message prefix for missing analytics tables/columns.
pub const ANALYSIS_TABLES_HINT: &str = "analytics tables of docs/tables.md missing or incomplete";

/// The test cluster listens on a Unix socket only, while pg_cron connects to each job's nodename
/// (`cron.host`, default localhost): point mking_analytics' jobs at the test socket.
pub fn cron_jobs_use_test_socket(client: &mut Client) {
    let host = std::env::var("PGHOST").unwrap_or_default();
    let port = env_or("PGPORT", "5432");
    if host.starts_with('/') {
        exec(
            client,
            &format!(
                "UPDATE cron.job SET nodename = '{host}', nodeport = {port} WHERE jobname LIKE 'mking\\_analytics\\_%'"
            ),
        );
    }
}

/// pg_cron's database in the test cluster (`cron.database_name` of scripts/integration-test.sh).
pub const CRON_DB: &str = "mking_it";

/// A superuser connection to pg_cron's database, created if missing, with pg_cron and the
/// platform's (empty) tables, and neither the extension nor any job of ours.
pub fn cron_database() -> Client {
    let mut admin = connect("postgres");
    if scalar(
        &mut admin,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{CRON_DB}'"),
    )
    .as_deref()
        != Some("1")
    {
        exec(&mut admin, &format!("CREATE DATABASE {CRON_DB}"));
    }
    let mut c = connect(CRON_DB);
    exec(&mut c, "CREATE EXTENSION IF NOT EXISTS pg_cron");
    reset_cron_database(&mut c);
    exec(&mut c, PLATFORM_SQL);
    c
}

/// Removes our jobs, the extension and the platform's tables from pg_cron's database, so the
/// next test there starts clean.
pub fn reset_cron_database(client: &mut Client) {
    exec(
        client,
        "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'mking\\_analytics\\_%';
         DROP EXTENSION IF EXISTS mking_analytics CASCADE;
         DROP TABLE IF EXISTS public.users, public.posts, public.likes, public.comments, public.shares,
                              public.follows, public.user_behavior_logs CASCADE;",
    );
}
