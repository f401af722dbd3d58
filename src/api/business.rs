//! Business KPIs and growth rates.

use super::per_period;
use super::{numeric, prepare};
use crate::calendar::{show, Calendar, Period};
use crate::data::Span;
use crate::errors::bad_argument;
use crate::kernels::numbers::{growth_hundredths, hundredths, mean_hundredths};
use crate::kernels::usersets::rolling_counts;
use crate::sources::Sources;
use pgrx::prelude::*;
use pgrx::AnyNumeric;

type Tstz = TimestampWithTimeZone;

/// Metrics `growth` accepts, and the source each counts.
pub const GROWTH_METRICS: [(&str, &str); 7] = [
    ("new_users", "signup"),
    ("active_users", "any"),
    ("posts", "post"),
    ("likes", "like"),
    ("comments", "comment"),
    ("shares", "share"),
    ("follows", "follow"),
];

/// Values of a metric for periods `span.first ..= span.last`.
pub fn metric_values(span: &Span, sources: &Sources, metric: &str) -> Vec<i64> {
    match metric {
        "new_users" => {
            let sets = span.active_sets(sources.get("signup").as_slice());
            (span.first..=span.last)
                .map(|i| sets.get(i).len() as i64)
                .collect()
        }
        "active_users" => {
            let sets = span.active_sets(&sources.activity(None));
            rolling_counts(&sets, span.first, span.last, 1)
                .into_iter()
                .map(|n| n as i64)
                .collect()
        }
        other => {
            let source = GROWTH_METRICS
                .iter()
                .find(|(m, _)| *m == other)
                .map(|(_, s)| *s)
                .unwrap_or(other);
            span.event_counts(sources.get(source).as_ref())
        }
    }
}

/// Period-over-period growth of a metric.
#[pg_extern(stable, parallel_restricted)]
pub fn growth(
    metric: Option<&str>,
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    period: default!(Option<&str>, "'month'"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(time, Tstz),
        name!(value, i64),
        name!(previous_value, Option<i64>),
        name!(growth_rate, Option<AnyNumeric>),
    ),
> {
    let metric_name = metric
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !GROWTH_METRICS.iter().any(|(m, _)| *m == metric_name) {
        bad_argument(
            format!(
                "invalid metric {}: accepted values are {}",
                show(metric),
                GROWTH_METRICS
                    .iter()
                    .map(|(m, _)| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "",
        );
    }
    let period = Period::parse("period", period);
    let call = prepare(from_ts, to_ts, tz);
    TableIterator::new(per_period(&call, period, 1, |span, lo, hi| {
        let values = metric_values(&span, &Sources::load(), &metric_name);
        (lo..=hi)
            .map(|i| {
                let off = (i - span.first) as usize;
                let (v, p) = (values[off], values[off - 1]);
                (span.start(i), v, Some(p), numeric(growth_hundredths(v, p)))
            })
            .collect()
    }))
}

/// Active users per period for every period overlapping the range.
fn active_per_period(
    period: Period,
    tz: &str,
    from: Tstz,
    to: Tstz,
    sources: &Sources,
) -> Vec<i64> {
    let cal = Calendar::new(period, tz);
    let Some((lo, hi)) = cal.range(from, to) else {
        return Vec::new();
    };
    let span = Span::new(&cal, lo, hi);
    let sets = span.active_sets(&sources.activity(None));
    rolling_counts(&sets, lo, hi, 1)
        .into_iter()
        .map(|n| n as i64)
        .collect()
}

/// DAU, WAU, MAU (average, max, min) and stickiness (100 × average DAU ÷ average MAU).
#[pg_extern(stable, parallel_restricted)]
pub fn kpis(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(metric, String),
        name!(avg_value, Option<AnyNumeric>),
        name!(max_value, Option<i64>),
        name!(min_value, Option<i64>),
    ),
> {
    let call = prepare(from_ts, to_ts, tz);
    if call.from.into_inner() >= call.to.into_inner() {
        return TableIterator::empty();
    }
    let sources = Sources::load();
    let per = |p| active_per_period(p, &call.tz, call.from, call.to, &sources);
    let (dau, wau, mau) = (per(Period::Day), per(Period::Week), per(Period::Month));
    let sum = |v: &[i64]| v.iter().map(|&x| x as i128).sum::<i128>();
    let row = |name: &str, v: &[i64]| {
        (
            name.to_string(),
            numeric(mean_hundredths(sum(v), v.len() as i64)),
            v.iter().copied().max(),
            v.iter().copied().min(),
        )
    };
    // A ratio of means, exact: (sum_d / n_d) / (sum_m / n_m).
    let stick = hundredths(
        100 * sum(&dau) * mau.len() as i128,
        dau.len() as i128 * sum(&mau),
    );
    let rows = vec![
        row("DAU", &dau),
        row("WAU", &wau),
        row("MAU", &mau),
        ("stickiness".to_string(), numeric(stick), None, None),
    ];
    TableIterator::new(rows)
}
