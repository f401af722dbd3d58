//! Live metrics and alert evaluation.
//!
//! `evaluate_alerts()` computes each active rule's value in its own subtransaction, so one failing
//! rule is recorded and the others still run. A query rule runs read-only, under a time limit,
//! as its owner and as a security-restricted operation (the way `REFRESH MATERIALIZED VIEW` runs
//! user code), so its SQL can neither write nor `RESET ROLE` back to the evaluator.

use crate::errors::spi;
use crate::kernels::alerts::{
    anomaly_band, decide, live_payload, payload_json, Action, Direction, OpenTrigger, Operator,
    Payload, RuleParams,
};
use crate::sources::{Source, Sources};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::AnyNumeric;
use std::ffi::CString;

const ALERT_CHANNEL: &str = "mking_analytics_alerts";
const LIVE_CHANNEL: &str = "mking_analytics_live";
const INTERACTION_SOURCES: [&str; 4] = ["like", "comment", "share", "follow"];

// timeout.h is not in pgrx's bindings; these are exported by every backend.
extern "C-unwind" {
    fn enable_timeout_every(id: u32, fin_time: i64, delay_ms: i32);
    fn enable_timeout_at(id: u32, fin_time: i64);
    fn disable_timeout(id: u32, keep_indicator: bool);
    fn get_timeout_active(id: u32) -> bool;
    fn get_timeout_indicator(id: u32, reset_indicator: bool) -> bool;
    fn get_timeout_finish_time(id: u32) -> i64;
}
/// `STATEMENT_TIMEOUT` of `enum TimeoutId` (PostgreSQL 15).
const STATEMENT_TIMEOUT: u32 = 3;
/// After its deadline a condition query is cancelled again this often, so a function that catches
/// `query_canceled` and goes on is cancelled at its next wait as well.
const RECANCEL_MS: i32 = 100;

/// The built-in metrics (alert_rules.metric accepts these, see sql/alerts.sql).
const METRICS: [&str; 4] = [
    "active_users_1h",
    "posts_1h",
    "interactions_5m",
    "error_rate",
];

/// The live metrics at one instant, as exact numeric text (None = no data / no source).
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub active_users_1h: Option<i64>,
    pub posts_1h: Option<i64>,
    pub interactions_5m: Option<i64>,
    pub error_rate: Option<String>,
    /// Metrics whose computation failed this round, with the error: their rules are recorded
    /// as failing, not as skipped, and the other metrics' rules still run.
    pub failed: Vec<(String, String)>,
}

impl Live {
    fn set(&mut self, metric: &str, value: Option<String>) {
        let int = || value.as_deref().and_then(|v| v.parse::<i64>().ok());
        match metric {
            "active_users_1h" => self.active_users_1h = int(),
            "posts_1h" => self.posts_1h = int(),
            "interactions_5m" => self.interactions_5m = int(),
            "error_rate" => self.error_rate = value,
            _ => {}
        }
    }

    fn failure(&self, metric: &str) -> Option<&str> {
        self.failed
            .iter()
            .find(|(m, _)| m == metric)
            .map(|(_, e)| e.as_str())
    }

    fn get(&self, metric: &str) -> Option<String> {
        match metric {
            "active_users_1h" => self.active_users_1h.map(|v| v.to_string()),
            "posts_1h" => self.posts_1h.map(|v| v.to_string()),
            "interactions_5m" => self.interactions_5m.map(|v| v.to_string()),
            "error_rate" => self.error_rate.clone(),
            _ => None,
        }
    }
}

type Tstz = TimestampWithTimeZone;

fn window_args(lo: Tstz, hi: Tstz) -> [DatumWithOid<'static>; 4] {
    [
        DatumWithOid::from("UTC"),
        DatumWithOid::from(crate::gucs::source_timezone()),
        lo.into(),
        hi.into(),
    ]
}

fn shift(at: Tstz, interval: &str) -> Tstz {
    spi(
        Spi::get_one_with_args::<Tstz>(
            "SELECT $1 - $2::interval",
            &[at.into(), DatumWithOid::from(interval)],
        ),
        "computing a window",
    )
    .unwrap_or(at)
}

/// Distinct users acting in any of `sources` during `[lo, hi)`.
fn distinct_users(sources: &[Source], lo: Tstz, hi: Tstz) -> Option<i64> {
    if sources.is_empty() {
        return None;
    }
    let parts: Vec<String> = sources
        .iter()
        .map(|s| {
            format!(
                "SELECT e.{} AS u FROM {} e WHERE {}",
                s.user,
                s.rel,
                s.time_filter("e", "$3", "$4")
            )
        })
        .collect();
    let sql = format!(
        "SELECT count(DISTINCT u) FROM ({}) x",
        parts.join(" UNION ALL ")
    );
    spi(
        Spi::get_one_with_args::<i64>(&sql, &window_args(lo, hi)),
        "counting active users",
    )
}

/// Distinct events (equal user, target and time are one event) of `sources` during `[lo, hi)`.
fn distinct_events(sources: &[Source], lo: Tstz, hi: Tstz) -> Option<i64> {
    if sources.is_empty() {
        return None;
    }
    let parts: Vec<String> = sources
        .iter()
        .map(|s| {
            format!(
                "(SELECT count(*) FROM (SELECT DISTINCT {} FROM {} e WHERE {}) d)",
                s.dedup_select("e"),
                s.rel,
                s.time_filter("e", "$3", "$4")
            )
        })
        .collect();
    let sql = format!("SELECT {}", parts.join(" + "));
    spi(
        Spi::get_one_with_args::<i64>(&sql, &window_args(lo, hi)),
        "counting events",
    )
}

/// The configured error-rate source, its identifiers quoted.
struct ErrorSource {
    rel: String,
    time: String,
    errors: String,
    requests: Option<String>,
    minutes: i32,
    /// The time column is timestamptz (else a wall-clock timestamp in the source zone `$2`).
    absolute: bool,
}

impl ErrorSource {
    /// None without a configured source. Refuses (42501) a relation that would run another
    /// role's code with this function's rights (see `source_trust_problem` in sql/schema.sql).
    fn load() -> Option<ErrorSource> {
        let (source, problem) = spi(
            Spi::connect(|c| {
                let rows = c.select(
                    "SELECT quote_ident(n.nspname) || '.' || quote_ident(r.relname), quote_ident(s.time_column),
                            quote_ident(s.errors_column), quote_ident(s.requests_column), s.window_minutes,
                            format_type(a.atttypid, NULL) = 'timestamp with time zone',
                            CASE WHEN (SELECT mking_analytics.reads_elevated()) THEN
                                mking_analytics.source_trust_problem(r.oid, ARRAY[s.time_column, s.errors_column, s.requests_column]) END
                       FROM mking_analytics.error_rate_source s
                       JOIN pg_catalog.pg_class r ON r.oid = to_regclass(s.relation)
                       JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attname = s.time_column",
                    None,
                    &[],
                )?;
                let mut out = None;
                for row in rows {
                    out = Some((
                        ErrorSource {
                            rel: row.get::<String>(1)?.unwrap_or_default(),
                            time: row.get::<String>(2)?.unwrap_or_default(),
                            errors: row.get::<String>(3)?.unwrap_or_default(),
                            requests: row.get::<String>(4)?,
                            minutes: row.get::<i32>(5)?.unwrap_or(5),
                            absolute: row.get::<bool>(6)?.unwrap_or(true),
                        },
                        row.get::<String>(7)?,
                    ));
                }
                Ok::<_, pgrx::spi::Error>(out)
            }),
            "reading the error-rate source",
        )?;
        if let Some(problem) = problem {
            crate::errors::raise(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("error-rate source refused: {problem}"),
                "Point set_error_rate_source() at a plain table, or have a superuser own the relation.",
            );
        }
        Some(source)
    }

    /// Index-friendly filter on the time column for the instants `[$3, $4)`.
    fn window_filter(&self) -> String {
        let t = &self.time;
        if self.absolute {
            format!("e.{t} >= $3 AND e.{t} < $4")
        } else {
            format!("e.{t} >= ($3 AT TIME ZONE $2::text) AND e.{t} < ($4 AT TIME ZONE $2::text)")
        }
    }

    /// The time column as an absolute instant.
    fn instant(&self) -> String {
        if self.absolute {
            format!("e.{}", self.time)
        } else {
            format!("(e.{}::timestamp AT TIME ZONE $2::text)", self.time)
        }
    }
}

/// 100 × errors / requests over the configured window before `at`, two decimals; None without a
/// configured source or without requests.
fn error_rate(at: Tstz) -> Option<String> {
    let src = ErrorSource::load()?;
    let errors = &src.errors;
    let ratio = match &src.requests {
        Some(req) => format!("sum(e.{errors})::numeric, sum(e.{req})::numeric"),
        None => format!("(count(*) FILTER (WHERE e.{errors}))::numeric, count(*)::numeric"),
    };
    let sql = format!(
        "SELECT round(100 * err / NULLIF(req, 0), 2)::text FROM (SELECT {ratio} FROM {rel} e WHERE {filter}) x(err, req)",
        rel = src.rel,
        filter = src.window_filter()
    );
    let lo = shift(at, &format!("{} minutes", src.minutes));
    spi(
        Spi::get_one_with_args::<String>(&sql, &window_args(lo, at)),
        "computing the error rate",
    )
}

/// One live metric at `at` (the window ends there).
fn metric_at(sources: &Sources, metric: &str, at: Tstz) -> Option<String> {
    match metric {
        "active_users_1h" => {
            distinct_users(&sources.activity(None), shift(at, "1 hour"), at).map(|v| v.to_string())
        }
        "posts_1h" => {
            let posts: Vec<Source> = sources.get("post").into_iter().collect();
            distinct_events(&posts, shift(at, "1 hour"), at).map(|v| v.to_string())
        }
        "interactions_5m" => {
            let s: Vec<Source> = INTERACTION_SOURCES
                .iter()
                .filter_map(|n| sources.get(n))
                .collect();
            distinct_events(&s, shift(at, "5 minutes"), at).map(|v| v.to_string())
        }
        "error_rate" => error_rate(at),
        _ => None,
    }
}

/// Every live metric at `at`, each in its own subtransaction: one that cannot be computed (a
/// refused or unreadable source) is NULL with a WARNING naming the cause, and the others still
/// count, so a dashboard panel and the rules on other metrics keep working.
fn live_at(sources: &Sources, at: Tstz) -> Live {
    let mut live = Live::default();
    for metric in METRICS {
        match isolated(|| metric_at(sources, metric, at)) {
            Ok(value) => live.set(metric, value),
            Err(e) => {
                pgrx::warning!("mking_analytics: live metric {metric} is NULL: {e}");
                live.failed.push((metric.to_string(), e));
            }
        }
    }
    live
}

fn clock() -> Tstz {
    spi(
        Spi::get_one::<Tstz>("SELECT clock_timestamp()"),
        "reading the clock",
    )
    .unwrap_or_else(|| {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "clock_timestamp() returned NULL".into(),
            "",
        )
    })
}

fn num(text: &Option<String>) -> Option<AnyNumeric> {
    text.as_deref().and_then(|t| AnyNumeric::try_from(t).ok())
}

/// Live platform metrics for monitoring: users active in the last hour, posts in the last hour,
/// interactions in the last 5 minutes and the application's error rate (NULL without a source).
/// Subtransactions (one per metric) rule out parallel workers.
#[pg_extern(volatile, parallel_unsafe)]
fn live_metrics() -> TableIterator<
    'static,
    (
        name!(time, Tstz),
        name!(active_users_1h, Option<i64>),
        name!(posts_1h, Option<i64>),
        name!(interactions_5m, Option<i64>),
        name!(error_rate, Option<AnyNumeric>),
    ),
> {
    let at = clock();
    let l = live_at(&Sources::load(), at);
    TableIterator::once((
        at,
        l.active_users_1h,
        l.posts_1h,
        l.interactions_5m,
        num(&l.error_rate),
    ))
}

fn iso(at: Tstz) -> String {
    spi(
        Spi::get_one_with_args::<String>(
            "SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[at.into()],
        ),
        "formatting a time",
    )
    .unwrap_or_default()
}

fn live_json(at: Tstz, l: &Live) -> String {
    live_payload(
        &iso(at),
        l.active_users_1h,
        l.posts_1h,
        l.interactions_5m,
        l.error_rate.as_deref(),
    )
}

fn notify(channel: &str, payload: &str) {
    spi(
        Spi::run_with_args(
            "SELECT pg_notify($1, $2)",
            &[DatumWithOid::from(channel), DatumWithOid::from(payload)],
        ),
        "sending NOTIFY",
    );
}

// ---------------------------------------------------------------------------------------------
// Running code that may fail: an internal subtransaction, always rolled back (nothing a rule
// computes may persist), with the error turned into a message.
// ---------------------------------------------------------------------------------------------

fn isolated<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    unsafe {
        let old_cxt = pg_sys::CurrentMemoryContext;
        let old_owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(old_cxt);
        let f = std::panic::AssertUnwindSafe(f);
        let result = PgTryBuilder::new(move || {
            let f = f;
            Ok((f.0)())
        })
        .catch_others(|e| Err(caught_message(e)))
        .execute();
        pg_sys::MemoryContextSwitchTo(old_cxt);
        pg_sys::RollbackAndReleaseCurrentSubTransaction();
        pg_sys::MemoryContextSwitchTo(old_cxt);
        pg_sys::CurrentResourceOwner = old_owner;
        result
    }
}

fn caught_message(e: pg_sys::panic::CaughtError) -> String {
    use pg_sys::panic::CaughtError;
    match e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => {
            format!(
                "{} (SQLSTATE {})",
                r.message(),
                sqlstate(r.sql_error_code() as i32)
            )
        }
        CaughtError::RustPanic { ereport, .. } => ereport.message().to_string(),
    }
}

/// A rule failure the evaluator itself detects, recorded like PostgreSQL's: message (SQLSTATE).
fn failure(code: &str, message: impl std::fmt::Display) -> String {
    format!("{message} (SQLSTATE {code})")
}

/// The five-character SQLSTATE of PostgreSQL's packed error code (MAKE_SQLSTATE).
fn sqlstate(code: i32) -> String {
    (0..5)
        .map(|i| char::from(b'0' + ((code >> (6 * i)) & 0x3F) as u8))
        .collect()
}

/// Runs `f` as `owner`, read-only, as a security-restricted operation, with `timeout_ms`.
/// The caller's user, security context and settings come back when the subtransaction ends.
fn as_restricted_owner<T>(owner: pg_sys::Oid, timeout_ms: i32, f: impl FnOnce() -> T) -> T {
    unsafe {
        let mut save_user = pg_sys::Oid::INVALID;
        let mut save_sec: i32 = 0;
        pg_sys::GetUserIdAndSecContext(&mut save_user, &mut save_sec);
        let nest = pg_sys::NewGUCNestLevel();
        // As REFRESH MATERIALIZED VIEW runs the view owner's query.
        // (The evaluator's own SECURITY DEFINER flag is dropped: the rule is not the definer.)
        let sec = (save_sec & !(pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32))
            | pg_sys::SECURITY_RESTRICTED_OPERATION as i32;
        pg_sys::SetUserIdAndSecContext(owner, sec);
        set_local("transaction_read_only", "on");
        set_local("search_path", "pg_catalog, public, pg_temp");

        // statement_timeout only times top-level statements, so time this query ourselves,
        // restoring any outer statement timeout afterwards.
        let outer = get_timeout_active(STATEMENT_TIMEOUT)
            .then(|| get_timeout_finish_time(STATEMENT_TIMEOUT));
        let deadline = pg_sys::GetCurrentTimestamp() + i64::from(timeout_ms) * 1000;
        enable_timeout_every(STATEMENT_TIMEOUT, deadline, RECANCEL_MS);
        let restore_timeout = move || {
            let fired = get_timeout_indicator(STATEMENT_TIMEOUT, false);
            disable_timeout(STATEMENT_TIMEOUT, false);
            if fired {
                // It fired after the query ended: do not cancel the evaluator's next statement.
                pg_sys::QueryCancelPending = 0;
            }
            if let Some(fin) = outer {
                enable_timeout_at(STATEMENT_TIMEOUT, fin);
            }
        };
        let f = std::panic::AssertUnwindSafe(f);
        let timed_out = move || {
            crate::errors::raise(
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                format!(
                    "canceling statement due to statement timeout: the condition query ran past timeout_ms ({timeout_ms} ms)"
                ),
                "",
            )
        };
        let out = PgTryBuilder::new(move || {
            let f = f;
            let out = (f.0)();
            // A query that caught the cancel and still returned is not trusted: its value came
            // after the limit (or from a fallback the cancel provoked).
            if pg_sys::GetCurrentTimestamp() >= deadline {
                timed_out();
            }
            out
        })
        // The repeated cancels are reported by PostgreSQL as "user request"; past the deadline
        // they are this query's timeout.
        .catch_when(PgSqlErrorCode::ERRCODE_QUERY_CANCELED, move |e| {
            if pg_sys::GetCurrentTimestamp() >= deadline {
                timed_out()
            }
            e.rethrow()
        })
        .finally(restore_timeout)
        .execute();
        pg_sys::AtEOXact_GUC(false, nest);
        pg_sys::SetUserIdAndSecContext(save_user, save_sec);
        out
    }
}

unsafe fn set_local(name: &str, value: &str) {
    let n = CString::new(name).unwrap_or_default();
    let v = CString::new(value).unwrap_or_default();
    pg_sys::set_config_option(
        n.as_ptr(),
        v.as_ptr(),
        pg_sys::GucContext::PGC_USERSET,
        pg_sys::GucSource::PGC_S_SESSION,
        pg_sys::GucAction::GUC_ACTION_SAVE,
        true,
        0,
        false,
    );
}

/// The condition query's value: first column of its only row, as numeric text.
fn run_condition_query(sql: &str, owner: &str, timeout_ms: i32) -> Result<Option<String>, String> {
    let role = spi(
        Spi::connect(|c| {
            let mut out = None;
            for row in c.select(
                "SELECT oid, rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1",
                None,
                &[DatumWithOid::from(owner)],
            )? {
                out = Some((
                    row.get::<pg_sys::Oid>(1)?,
                    row.get::<bool>(2)?.unwrap_or(true),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "looking up the rule owner",
    );
    let Some((Some(oid), is_super)) = role else {
        return Err(failure(
            "42704",
            format!("owner role \"{owner}\" does not exist"),
        ));
    };
    if is_super {
        return Err(failure(
            "42501",
            format!("owner role \"{owner}\" is a superuser; condition queries never run with superuser rights: recreate the rule as a non-superuser admin"),
        ));
    }
    let body = sql
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    // A subquery admits one SELECT (or VALUES/TABLE) only: no second statement, no DML.
    let wrapped = format!("SELECT q.v::numeric::text FROM ({body}\n) AS q(v) LIMIT 2");
    let locks_before = advisory_locks_held();
    let result = isolated(|| {
        as_restricted_owner(oid, timeout_ms, || {
            Spi::connect(|c| {
                let rows = c.select(&wrapped, None, &[])?;
                let n = rows.len();
                let v = rows
                    .into_iter()
                    .next()
                    .map(|row| row.get::<String>(1))
                    .transpose()?
                    .flatten();
                Ok::<_, pgrx::spi::Error>((n, v))
            })
        })
    })
    .and_then(|r| r.map_err(|e| e.to_string()))
    .and_then(|(n, v)| match n {
        0 => Ok(None),
        1 => Ok(v),
        _ => Err(failure(
            "21000",
            "the condition query returned more than one row; it must return exactly one",
        )),
    });
    let leaked = release_advisory_locks_taken_since(&locks_before);
    if leaked > 0 {
        return Err(failure(
            "42501",
            format!(
                "the condition query took {leaked} session-level advisory lock(s), which outlive a rule and would block other work (the rollup refresh, reports, other apps); they were released. Use pg_try_advisory_xact_lock, which ends with the rule"
            ),
        ));
    }
    result
}

/// An advisory lock as `pg_locks` shows it: classid, objid, objsubid (1 = one bigint key, 2 = two
/// int4 keys) and mode.
type AdvisoryLock = (u32, u32, i16, String);

/// The advisory locks this backend holds.
fn advisory_locks_held() -> Vec<AdvisoryLock> {
    spi(
        Spi::connect(|c| {
            let mut out = Vec::new();
            for row in c.select(
                "SELECT classid::bigint, objid::bigint, objsubid, mode FROM pg_catalog.pg_locks
                  WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted",
                None,
                &[],
            )? {
                out.push((
                    row.get::<i64>(1)?.unwrap_or(0) as u32,
                    row.get::<i64>(2)?.unwrap_or(0) as u32,
                    row.get::<i16>(3)?.unwrap_or(0),
                    row.get::<String>(4)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "listing advisory locks",
    )
}

/// Releases the advisory locks held now that were not held `before`: the session-level ones a
/// condition query took (its transaction-level ones ended with its subtransaction). A lock taken
/// several times is released as often. Returns how many distinct locks were released.
fn release_advisory_locks_taken_since(before: &[AdvisoryLock]) -> usize {
    let leaked: Vec<AdvisoryLock> = advisory_locks_held()
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    for (classid, objid, objsubid, mode) in &leaked {
        let shared = if mode == "ShareLock" { "_shared" } else { "" };
        let (sql, args) = if *objsubid == 2 {
            (
                format!("SELECT pg_catalog.pg_advisory_unlock{shared}($1::int4, $2::int4)"),
                vec![
                    DatumWithOid::from(*classid as i32),
                    DatumWithOid::from(*objid as i32),
                ],
            )
        } else {
            let key = ((u64::from(*classid) << 32) | u64::from(*objid)) as i64;
            (
                format!("SELECT pg_catalog.pg_advisory_unlock{shared}($1)"),
                vec![DatumWithOid::from(key)],
            )
        };
        // Unlock once per time it was taken, stopping when the lock is gone (one more unlock
        // would only warn); bounded, in case something re-takes it.
        for _ in 0..10_000 {
            let released = spi(
                Spi::get_one_with_args::<bool>(&sql, &args),
                "releasing an advisory lock",
            );
            if released != Some(true)
                || !advisory_locks_held().contains(&(*classid, *objid, *objsubid, mode.clone()))
            {
                break;
            }
        }
    }
    leaked.len()
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

struct Rule {
    id: i64,
    name: String,
    rule_type: String,
    query: Option<String>,
    metric: Option<String>,
    threshold: Option<String>,
    operator: String,
    cooldown: i32,
    owner: String,
    params: serde_json::Value,
    open: Option<OpenTrigger>,
}

fn load_rules(at: Tstz) -> Vec<Rule> {
    spi(
        Spi::connect(|c| {
            let mut out = Vec::new();
            for row in c.select(
                "SELECT r.id, r.rule_name, r.rule_type, r.condition_query, r.metric, r.threshold_value::text,
                        r.comparison_operator, r.cooldown_minutes, r.owner_role::text, r.parameters::text,
                        t.id, extract(epoch FROM $1 - t.last_notified_at)::float8
                   FROM mking_analytics.alert_rules r
                   LEFT JOIN mking_analytics.alert_triggers t ON t.alert_rule_id = r.id AND t.resolved_at IS NULL
                  WHERE r.is_active
                  ORDER BY r.id",
                None,
                &[at.into()],
            )? {
                let open = match (row.get::<i64>(11)?, row.get::<f64>(12)?) {
                    (Some(id), Some(s)) => Some(OpenTrigger { id, seconds_since_notified: s }),
                    _ => None,
                };
                out.push(Rule {
                    id: row.get::<i64>(1)?.unwrap_or_default(),
                    name: row.get::<String>(2)?.unwrap_or_default(),
                    rule_type: row.get::<String>(3)?.unwrap_or_default(),
                    query: row.get::<String>(4)?,
                    metric: row.get::<String>(5)?,
                    threshold: row.get::<String>(6)?,
                    operator: row.get::<String>(7)?.unwrap_or_default(),
                    cooldown: row.get::<i32>(8)?.unwrap_or(5),
                    owner: row.get::<String>(9)?.unwrap_or_default(),
                    params: row
                        .get::<String>(10)?
                        .and_then(|p| serde_json::from_str(&p).ok())
                        .unwrap_or(serde_json::Value::Null),
                    open,
                });
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading alert rules",
    )
}

/// The outcome of computing one rule.
struct Verdict {
    /// None = no data: skipped.
    condition: Option<bool>,
    value: Option<String>,
    /// The threshold the value was compared with (an anomaly band's edge).
    threshold: Option<String>,
    operator: String,
    message: String,
}

fn compare(value: &str, op: &str, threshold: &str) -> Result<bool, String> {
    let o = Operator::parse(op).ok_or_else(|| {
        failure(
            "22023",
            format!(
                "invalid comparison_operator '{op}'; accepted {}",
                Operator::ACCEPTED
            ),
        )
    })?;
    // NaN compares above every number in PostgreSQL: it would fire every '>' rule.
    if value.trim().eq_ignore_ascii_case("nan") {
        return Err(failure("22P02", "value NaN is not a number"));
    }
    // ±Infinity would fire every '>' (or '<') rule whatever its threshold, and is no JSON number.
    if value
        .trim()
        .trim_start_matches(['+', '-'])
        .eq_ignore_ascii_case("infinity")
    {
        return Err(failure(
            "22P02",
            format!("value {} is not a finite number", value.trim()),
        ));
    }
    let v = AnyNumeric::try_from(value)
        .map_err(|e| failure("22P02", format!("value {value} is not a number: {e}")))?;
    let t = AnyNumeric::try_from(threshold).map_err(|e| {
        failure(
            "22P02",
            format!("threshold {threshold} is not a number: {e}"),
        )
    })?;
    Ok(o.holds(v.cmp(&t)))
}

/// Why `parameters` do not suit a rule of `rule_type` (one row: message and hint), or no row. The
/// check on alert_rules calls it, and the evaluator parses with the same code.
#[pg_extern(immutable, parallel_safe)]
fn alert_rule_parameters_problem(
    rule_type: Option<&str>,
    parameters: Option<pgrx::JsonB>,
) -> TableIterator<'static, (name!(message, String), name!(hint, String))> {
    match RuleParams::parse(
        rule_type.unwrap_or_default(),
        parameters.as_ref().map(|p| &p.0),
    ) {
        Ok(_) => TableIterator::new(Vec::new()),
        Err(p) => TableIterator::once((p.message, p.hint)),
    }
}

/// The rule's parameters as the evaluator uses them; refused ones are the rule's error.
fn rule_params(rule: &Rule) -> Result<RuleParams, String> {
    RuleParams::parse(&rule.rule_type, Some(&rule.params)).map_err(|p| failure("22023", p.message))
}

fn evaluate_rule(rule: &Rule, sources: &Sources, live: &Live, at: Tstz) -> Result<Verdict, String> {
    let label = rule.metric.clone().unwrap_or_else(|| "value".into());
    match rule.rule_type.as_str() {
        "query" => {
            let sql = rule
                .query
                .as_deref()
                .ok_or_else(|| failure("22004", "condition_query is NULL"))?;
            let timeout = rule_params(rule)?.timeout_ms;
            let value = run_condition_query(sql, &rule.owner, timeout)?;
            threshold_verdict(rule, "value", value)
        }
        "metric" | "anomaly" if let Some(e) = live.failure(&label) => {
            Err(format!("metric {label} could not be computed: {e}"))
        }
        "metric" => threshold_verdict(rule, &label, live.get(&label)),
        "anomaly" => anomaly_verdict(rule, &label, sources, live.get(&label), at),
        other => Err(failure(
            "22023",
            format!("unknown rule_type '{other}'; accepted 'query', 'metric', 'anomaly'"),
        )),
    }
}

fn threshold_verdict(rule: &Rule, label: &str, value: Option<String>) -> Result<Verdict, String> {
    let threshold = rule
        .threshold
        .clone()
        .ok_or_else(|| failure("22004", "threshold_value is NULL"))?;
    let Some(v) = value else {
        return Ok(Verdict {
            condition: None,
            value: None,
            threshold: Some(threshold),
            operator: rule.operator.clone(),
            message: format!("{label}: no data"),
        });
    };
    let fires = compare(&v, &rule.operator, &threshold)?;
    let message = if fires {
        format!("{}: {label} = {v} {} {threshold}", rule.name, rule.operator)
    } else {
        // "no longer" only when an open alert is being resolved.
        let not = if rule.open.is_some() {
            "no longer"
        } else {
            "not"
        };
        format!(
            "{}: {label} = {v}, {not} {} {threshold}",
            rule.name, rule.operator
        )
    };
    Ok(Verdict {
        condition: Some(fires),
        value: Some(v),
        threshold: Some(threshold),
        operator: rule.operator.clone(),
        message,
    })
}

/// The earliest event of the metric's sources: history before it is not history.
fn first_event(sources: &Sources, metric: &str) -> Option<Tstz> {
    let list: Vec<Source> = match metric {
        "active_users_1h" => sources.activity(None),
        "posts_1h" => sources.get("post").into_iter().collect(),
        "interactions_5m" => INTERACTION_SOURCES
            .iter()
            .filter_map(|n| sources.get(n))
            .collect(),
        _ => Vec::new(),
    };
    let mut parts: Vec<String> = list
        .iter()
        .map(|s| {
            format!(
                "(SELECT min({}) FROM {} e)",
                s.abs_of(&format!("e.{}", s.time)),
                s.rel
            )
        })
        .collect();
    if metric == "error_rate" {
        let src = ErrorSource::load()?;
        parts.push(format!(
            "(SELECT min({}) FROM {} e)",
            src.instant(),
            src.rel
        ));
    }
    if parts.is_empty() {
        return None;
    }
    let sql = format!(
        "SELECT LEAST({}) FROM (SELECT $1::text, $2::text) p",
        parts.join(", ")
    );
    spi(
        Spi::get_one_with_args::<Tstz>(
            &sql,
            &[
                DatumWithOid::from("UTC"),
                DatumWithOid::from(crate::gucs::source_timezone()),
            ],
        ),
        "finding the first event",
    )
}

fn anomaly_verdict(
    rule: &Rule,
    metric: &str,
    sources: &Sources,
    value: Option<String>,
    at: Tstz,
) -> Result<Verdict, String> {
    let RuleParams {
        sensitivity,
        weeks,
        direction,
        ..
    } = rule_params(rule)?;
    let skip = |why: String| Verdict {
        condition: None,
        value: value.clone(),
        threshold: None,
        operator: rule.operator.clone(),
        message: why,
    };
    let Some(v) = value.as_deref().and_then(|t| t.parse::<f64>().ok()) else {
        return Ok(skip(format!("{metric}: no data")));
    };
    let first = first_event(sources, metric);
    let mut history = Vec::new();
    for k in 1..=weeks {
        let past = shift(at, &format!("{} days", 7 * k));
        // Only weeks in which the platform already had events count as history.
        let covered = matches!(first, Some(f) if f <= past);
        if covered {
            if let Some(x) = metric_at(sources, metric, past).and_then(|t| t.parse::<f64>().ok()) {
                history.push(x);
            }
        }
    }
    let Some(mut band) = anomaly_band(&history, sensitivity) else {
        return Ok(skip(format!(
            "{metric}: not enough history for an expected band ({} earlier weeks with data at this hour; 3 needed)",
            history.len()
        )));
    };
    // Every metric is a count or a percentage: a band edge below 0 would be unreachable noise.
    band.lower = band.lower.max(0.0);
    let round4 = |x: f64| format!("{:.4}", x);
    let (fires, op, edge) = if v < band.lower && direction != Direction::Above {
        (true, "<", band.lower)
    } else if v > band.upper && direction != Direction::Below {
        (true, ">", band.upper)
    } else {
        (
            false,
            if direction == Direction::Above {
                ">"
            } else {
                "<"
            },
            if direction == Direction::Above {
                band.upper
            } else {
                band.lower
            },
        )
    };
    let message = format!(
        "{}: {metric} = {} is {} the expected band {:.2} to {:.2} (median {:.2} of the same hour in {} earlier weeks)",
        rule.name,
        value.as_deref().unwrap_or("?"),
        match (fires, op, rule.open.is_some()) {
            (true, "<", _) => "below",
            (true, _, _) => "above",
            (false, _, true) => "back inside",
            (false, _, false) => "inside",
        },
        band.lower,
        band.upper,
        band.median,
        history.len()
    );
    Ok(Verdict {
        condition: Some(fires),
        value,
        threshold: Some(round4(edge)),
        operator: op.into(),
        message,
    })
}

fn record_rule(rule_id: i64, at: Tstz, status: &str, value: Option<&str>, error: Option<&str>) {
    spi(
        Spi::run_with_args(
            "UPDATE mking_analytics.alert_rules
                SET last_evaluated_at = $2, last_status = $3, last_value = $4::numeric, last_error = $5
              WHERE id = $1",
            &[
                rule_id.into(),
                at.into(),
                DatumWithOid::from(status),
                DatumWithOid::from(value.map(str::to_string)),
                DatumWithOid::from(error.map(str::to_string)),
            ],
        ),
        "recording a rule's evaluation",
    );
}

fn send_alert(trigger_id: i64, rule: &Rule, verdict: &Verdict, status: &str, at: Tstz) {
    let at_text = iso(at);
    let payload = payload_json(&Payload {
        trigger_id,
        rule_id: rule.id,
        rule_name: &rule.name,
        value: verdict.value.as_deref(),
        threshold: verdict.threshold.as_deref(),
        operator: &verdict.operator,
        status,
        at: &at_text,
        message: &verdict.message,
    });
    notify(ALERT_CHANNEL, &payload);
}

/// Applies the action to the rule's triggers and sends the notification. Returns the trigger id.
fn apply(rule: &Rule, verdict: &Verdict, action: Action, at: Tstz) -> Option<i64> {
    let value = DatumWithOid::from(verdict.value.clone());
    let threshold = DatumWithOid::from(verdict.threshold.clone());
    let message = DatumWithOid::from(verdict.message.clone());
    match action {
        Action::Fire => {
            let id = spi(
                Spi::get_one_with_args::<i64>(
                    "INSERT INTO mking_analytics.alert_triggers
                            (alert_rule_id, trigger_value, threshold_value, alert_message, rule_name,
                             comparison_operator, created_at, last_notified_at)
                     VALUES ($1, $2::numeric, $3::numeric, $4, $5, $6, $7, $7) RETURNING id",
                    &[
                        rule.id.into(),
                        value,
                        threshold,
                        message,
                        DatumWithOid::from(rule.name.clone()),
                        DatumWithOid::from(verdict.operator.clone()),
                        at.into(),
                    ],
                ),
                "recording an alert",
            )?;
            send_alert(id, rule, verdict, "firing", at);
            Some(id)
        }
        Action::Renotify => {
            let id = rule.open?.id;
            spi(
                Spi::run_with_args(
                    "UPDATE mking_analytics.alert_triggers
                        SET trigger_value = $2::numeric, threshold_value = $3::numeric, alert_message = $4,
                            last_notified_at = $5, notification_count = notification_count + 1,
                            notification_status = CASE WHEN notification_status = 'sending' THEN 'sending' ELSE 'pending' END
                      WHERE id = $1",
                    &[id.into(), value, threshold, message, at.into()],
                ),
                "re-notifying an alert",
            );
            send_alert(id, rule, verdict, "firing", at);
            Some(id)
        }
        Action::Resolve => {
            let id = rule.open?.id;
            spi(
                Spi::run_with_args(
                    "UPDATE mking_analytics.alert_triggers
                        SET resolved_at = $2, resolve_notification_status = 'pending'
                      WHERE id = $1 AND resolved_at IS NULL",
                    &[id.into(), at.into()],
                ),
                "resolving an alert",
            );
            send_alert(id, rule, verdict, "resolved", at);
            Some(id)
        }
        Action::StillFiring => rule.open.map(|t| t.id),
        Action::Ok | Action::Skip => None,
    }
}

/// Resolves the open triggers of rules that were switched off.
fn resolve_inactive(at: Tstz) {
    let rows = spi(
        Spi::connect(|c| {
            let mut out = Vec::new();
            for row in c.select(
                "SELECT t.id, r.id, r.rule_name, t.trigger_value::text, t.threshold_value::text, t.comparison_operator
                   FROM mking_analytics.alert_triggers t JOIN mking_analytics.alert_rules r ON r.id = t.alert_rule_id
                  WHERE t.resolved_at IS NULL AND NOT r.is_active",
                None,
                &[],
            )? {
                out.push((
                    row.get::<i64>(1)?.unwrap_or_default(),
                    row.get::<i64>(2)?.unwrap_or_default(),
                    row.get::<String>(3)?.unwrap_or_default(),
                    row.get::<String>(4)?,
                    row.get::<String>(5)?,
                    row.get::<String>(6)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading alerts of inactive rules",
    );
    for (tid, rid, name, value, threshold, op) in rows {
        let rule = Rule {
            id: rid,
            name: name.clone(),
            rule_type: String::new(),
            query: None,
            metric: None,
            threshold: threshold.clone(),
            operator: op.clone(),
            cooldown: 0,
            owner: String::new(),
            params: serde_json::Value::Null,
            open: Some(OpenTrigger {
                id: tid,
                seconds_since_notified: 0.0,
            }),
        };
        let verdict = Verdict {
            condition: Some(false),
            value,
            threshold,
            operator: op,
            message: format!("{name}: rule deactivated, alert closed"),
        };
        apply(&rule, &verdict, Action::Resolve, at);
        // Its last status said "firing"; the alert is closed now (its last value stays).
        spi(
            Spi::run_with_args(
                "UPDATE mking_analytics.alert_rules SET last_status = 'resolved', last_evaluated_at = $2, last_error = NULL WHERE id = $1",
                &[rid.into(), at.into()],
            ),
            "recording a deactivated rule's closed alert",
        );
    }
}

/// Refuses to start `run_alert_loop` where its COMMIT after each round cannot work: inside
/// `BEGIN … COMMIT` or a multi-statement query string. Checked before the loop takes its session
/// lock, because a failed COMMIT would leave that lock held and silence the scheduled loop until
/// the session ends.
#[pg_extern(volatile, parallel_safe)]
fn alert_loop_precheck() {
    // SAFETY: reads the current transaction state; no arguments, no side effects.
    if unsafe { pg_sys::IsTransactionBlock() } {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_ACTIVE_SQL_TRANSACTION,
            "run_alert_loop commits after each round, so it cannot run inside a transaction block"
                .to_string(),
            "CALL it as a statement of its own: not after BEGIN, and not together with other \
             statements in one query string (psql -c 'SET …; CALL …' is one transaction).",
        );
    }
}

/// One evaluation round: every active rule, then the live metrics on `mking_analytics_live`.
#[pg_extern(volatile, parallel_unsafe)]
fn evaluate_alerts() -> TableIterator<
    'static,
    (
        name!(rule_id, i64),
        name!(rule_name, String),
        name!(status, String),
        name!(value, Option<AnyNumeric>),
        name!(threshold, Option<AnyNumeric>),
        name!(trigger_id, Option<i64>),
        name!(message, String),
    ),
> {
    // A second concurrent round waits, then sees the first one's triggers.
    spi(
        Spi::run("SELECT pg_advisory_xact_lock(hashtext('mking_analytics.evaluate_alerts'))"),
        "waiting for another evaluation",
    );
    let at = clock();
    // Each metric in its own subtransaction: a broken error-rate source must not silence the
    // rules on the other metrics.
    let sources = Sources::load();
    let live = live_at(&sources, at);
    let mut out = Vec::new();
    resolve_inactive(at);
    for rule in load_rules(at) {
        let result = isolated(|| evaluate_rule(&rule, &sources, &live, at)).and_then(|r| r);
        match result {
            Ok(verdict) => {
                let action = decide(verdict.condition, rule.open, rule.cooldown);
                let trigger = apply(&rule, &verdict, action, at);
                let note = (action == Action::Skip).then_some(verdict.message.as_str());
                record_rule(rule.id, at, action.status(), verdict.value.as_deref(), note);
                out.push((
                    rule.id,
                    rule.name.clone(),
                    action.status().to_string(),
                    num(&verdict.value),
                    num(&verdict.threshold),
                    trigger,
                    verdict.message,
                ));
            }
            Err(e) => {
                pgrx::warning!(
                    "mking_analytics: alert rule {} \"{}\" failed: {e}",
                    rule.id,
                    rule.name
                );
                record_rule(rule.id, at, "error", None, Some(&e));
                out.push((
                    rule.id,
                    rule.name.clone(),
                    "error".into(),
                    None,
                    num(&rule.threshold),
                    None,
                    e,
                ));
            }
        }
    }
    notify(LIVE_CHANNEL, &live_json(at, &live));
    TableIterator::new(out)
}
