//! SQL-facing functions, one module per family.

pub mod alerts;
pub mod business;
pub mod content;
pub mod reports;
pub mod social;
pub mod users;
pub mod usersets;

use crate::calendar::{check_range, resolve_tz, Calendar, Period};
use crate::data::Span;
use crate::kernels::numbers::format_hundredths;
use pgrx::prelude::*;
use pgrx::AnyNumeric;

/// Checked common arguments of every analytic call.
pub struct Call {
    pub from: TimestampWithTimeZone,
    pub to: TimestampWithTimeZone,
    pub tz: String,
}

pub fn prepare(
    from_ts: Option<TimestampWithTimeZone>,
    to_ts: Option<TimestampWithTimeZone>,
    tz: Option<&str>,
) -> Call {
    let (from, to) = check_range(from_ts, to_ts);
    let tz = resolve_tz(tz);
    Call { from, to, tz }
}

/// Runs `f(span, lo, hi)` over the periods `lo..=hi` of `period` that overlap the call's range,
/// with `span` reaching `before` periods further back (rolling windows, the previous period).
/// An empty range gives no rows.
pub fn per_period<R>(
    call: &Call,
    period: Period,
    before: i32,
    f: impl FnOnce(&Span, i32, i32) -> Vec<R>,
) -> Vec<R> {
    let cal = Calendar::new(period, &call.tz);
    let Some((lo, hi)) = cal.range(call.from, call.to) else {
        return Vec::new();
    };
    let span = Span::new(&cal, lo - before, hi);
    f(&span, lo, hi)
}

/// Hundredths to `numeric` with two decimals.
pub fn numeric(h: Option<i128>) -> Option<AnyNumeric> {
    h.and_then(|v| AnyNumeric::try_from(format_hundredths(v).as_str()).ok())
}

/// Days since 0001-01-01 (a day period index) as a `date`.
pub fn day_index_to_date(idx: i32) -> Option<pgrx::datum::Date> {
    const PG_EPOCH_DAY_INDEX: i32 = 730_119; // 2000-01-01
    pgrx::datum::Date::try_from(idx - PG_EPOCH_DAY_INDEX).ok()
}

/// A non-negative integer argument.
pub fn non_negative(arg: &str, value: Option<i32>) -> i32 {
    match value {
        Some(v) if v >= 0 => v,
        _ => crate::errors::bad_argument(
            format!(
                "invalid {arg} {}: must be a non-negative integer",
                value.map_or("NULL".into(), |v| v.to_string())
            ),
            "",
        ),
    }
}
