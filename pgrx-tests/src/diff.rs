//! Row-by-row comparison of the extension's result sets with the oracle's.

use crate::{err_text, norm_row, text_rows};
use postgres::Client;

/// One comparison: the same call against `mking_analytics.` and `oracle.`.
#[derive(Clone, Debug)]
pub struct Case {
    /// Human label (zone, week start, range, ...).
    pub label: String,
    /// Session settings applied before both calls (e.g. `SET TimeZone = ...`).
    pub setup: String,
    /// Function call with the schema written as `SCHEMA.`, e.g.
    /// `SCHEMA.active_users('2026-01-01', '2026-02-01', 'day', 'UTC')`.
    pub call: String,
    /// Number of result columns.
    pub ncols: usize,
    /// Select list over the result `q` (default `*`): lets a case normalise a column.
    pub select: Option<String>,
    /// Is the first column `time`, which must come back sorted?
    pub timeseries: bool,
}

impl Case {
    pub fn new(
        label: impl Into<String>,
        setup: impl Into<String>,
        call: impl Into<String>,
        ncols: usize,
    ) -> Self {
        let call = call.into();
        Case {
            label: label.into(),
            setup: setup.into(),
            timeseries: call.contains("new_users(")
                || call.contains("active_users(")
                || call.contains("lifecycle(")
                || call.contains("growth("),
            call,
            ncols,
            select: None,
        }
    }
    pub fn select(mut self, s: &str) -> Self {
        self.select = Some(s.to_string());
        self
    }
    pub fn ext_call(&self) -> String {
        self.call.replace("SCHEMA.", "mking_analytics.")
    }
    pub fn oracle_call(&self) -> String {
        self.call.replace("SCHEMA.", "oracle.")
    }
    fn sorted_sql(&self, call: &str) -> String {
        let order: Vec<String> = (1..=self.ncols).map(|i| i.to_string()).collect();
        format!(
            "SELECT {} FROM {} q ORDER BY {}",
            self.select.as_deref().unwrap_or("*"),
            call,
            order.join(", ")
        )
    }
}

/// Outcome of one case.
#[derive(Debug)]
pub struct Mismatch {
    pub case: Case,
    pub report: String,
    /// Extension rows (normalised, sorted), oracle rows (normalised, sorted).
    pub ext: Vec<Vec<String>>,
    pub oracle: Vec<Vec<String>>,
}

fn fmt_row(r: &[String]) -> String {
    format!("({})", r.join(", "))
}

/// Compare the extension's and the oracle's result of `case`. `None` when they agree.
pub fn compare(client: &mut Client, case: &Case) -> Option<Mismatch> {
    if !case.setup.is_empty() {
        if let Err(e) = client.batch_execute(&case.setup) {
            panic!("setup `{}` failed: {}", case.setup, err_text(&e));
        }
    }
    let oracle = match text_rows(client, &case.sorted_sql(&case.oracle_call())) {
        Ok(r) => r.iter().map(|r| norm_row(r)).collect::<Vec<_>>(),
        Err(e) if client.is_closed() => {
            return Some(Mismatch {
                case: case.clone(),
                report: format!(
                    "connection lost while running the oracle query (server crash? see the server log): {}",
                    err_text(&e)
                ),
                ext: vec![],
                oracle: vec![],
            })
        }
        Err(e) => panic!(
            "ORACLE failed on {}: {}\n  {}",
            case.label,
            err_text(&e),
            case.oracle_call()
        ),
    };
    let ext = match text_rows(client, &case.sorted_sql(&case.ext_call())) {
        Ok(r) => r.iter().map(|r| norm_row(r)).collect::<Vec<_>>(),
        Err(e) => {
            return Some(Mismatch {
                case: case.clone(),
                report: if client.is_closed() {
                    format!(
                        "connection lost: the server process died (crash?): {}",
                        err_text(&e)
                    )
                } else {
                    format!("extension raised {}", err_text(&e))
                },
                ext: vec![],
                oracle,
            })
        }
    };
    let mut report = String::new();
    if ext != oracle {
        report.push_str(&diff_report(&ext, &oracle, 8));
    }
    // Time series come back sorted by `time` without an ORDER BY.
    if case.timeseries && report.is_empty() {
        let sql = format!(
            "SELECT extract(epoch FROM q.time)::text FROM {} q",
            case.ext_call()
        );
        match text_rows(client, &sql) {
            Ok(rows) => {
                let t: Vec<f64> = rows
                    .iter()
                    .map(|r| r[0].as_deref().unwrap_or("0").parse().unwrap_or(0.0))
                    .collect();
                if t.windows(2).any(|w| w[0] > w[1]) {
                    report.push_str("rows not sorted by `time` in the extension's natural order\n");
                }
            }
            Err(e) => report.push_str(&format!("order check failed: {}\n", err_text(&e))),
        }
    }
    if report.is_empty() {
        None
    } else {
        Some(Mismatch {
            case: case.clone(),
            report,
            ext,
            oracle,
        })
    }
}

/// Describe how two sorted row lists differ: the first `max` differing rows.
pub fn diff_report(ext: &[Vec<String>], oracle: &[Vec<String>], max: usize) -> String {
    let mut s = String::new();
    if ext.len() == oracle.len() {
        let diffs: Vec<usize> = (0..ext.len()).filter(|&i| ext[i] != oracle[i]).collect();
        s.push_str(&format!(
            "{} of {} rows differ; first differing rows (expected = oracle, actual = extension):\n",
            diffs.len(),
            ext.len()
        ));
        for &i in diffs.iter().take(max) {
            s.push_str(&format!(
                "  row {:>3}: expected {}\n           actual   {}\n",
                i + 1,
                fmt_row(&oracle[i]),
                fmt_row(&ext[i])
            ));
        }
    } else {
        s.push_str(&format!(
            "row counts differ: expected (oracle) {}, actual (extension) {}\n",
            oracle.len(),
            ext.len()
        ));
        let missing: Vec<&Vec<String>> = oracle.iter().filter(|r| !ext.contains(r)).collect();
        let extra: Vec<&Vec<String>> = ext.iter().filter(|r| !oracle.contains(r)).collect();
        s.push_str(&format!(
            "  {} expected rows missing, first ones:\n",
            missing.len()
        ));
        for r in missing.iter().take(max) {
            s.push_str(&format!("    - {}\n", fmt_row(r)));
        }
        s.push_str(&format!("  {} unexpected rows, first ones:\n", extra.len()));
        for r in extra.iter().take(max) {
            s.push_str(&format!("    + {}\n", fmt_row(r)));
        }
    }
    s
}
