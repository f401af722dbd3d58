//! User behaviour: registrations, active users, retention, lifecycle, stickiness.

use super::per_period;
use super::{day_index_to_date, non_negative, numeric, prepare};
use crate::calendar::{show, Calendar, Period};
use crate::data::Span;
use crate::errors::bad_argument;
use crate::kernels::numbers::percent_hundredths;
use crate::kernels::usersets::{
    lifecycle as lifecycle_of, retention_matrix, rolling_counts, stickiness as stickiness_of,
    RetentionMode,
};
use crate::sources::Sources;
use pgrx::prelude::*;
use pgrx::AnyNumeric;
use roaring::RoaringTreemap;

type Tstz = TimestampWithTimeZone;

/// Registrations per bucket.
#[pg_extern(stable, parallel_restricted)]
pub fn new_users(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    bucket: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(time, Tstz), name!(new_users, i64))> {
    let period = Period::parse("bucket", bucket);
    let call = prepare(from_ts, to_ts, tz);
    TableIterator::new(per_period(&call, period, 0, |span, lo, hi| {
        let sources = Sources::load();
        let signups = span.active_sets(sources.get("signup").as_slice());
        (lo..=hi)
            .map(|i| (span.start(i), signups.get(i).len() as i64))
            .collect()
    }))
}

/// Distinct active users per bucket, over a rolling window of buckets.
#[pg_extern(stable, parallel_restricted)]
pub fn active_users(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    bucket: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
    events: default!(Option<Vec<Option<String>>>, "'{any}'"),
    rolling: default!(Option<i32>, "1"),
) -> TableIterator<'static, (name!(time, Tstz), name!(active_users, i64))> {
    let period = Period::parse("bucket", bucket);
    let window = match rolling {
        Some(r) if r >= 1 => r,
        _ => bad_argument(
            format!(
                "invalid rolling {}: must be at least 1",
                rolling.map_or("NULL".into(), |r| r.to_string())
            ),
            "rolling => 7 with bucket 'day' is a rolling weekly active user count.",
        ),
    };
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let activity = sources.activity(events.as_deref());
    TableIterator::new(per_period(&call, period, window - 1, |span, lo, hi| {
        let sets = span.active_sets(&activity);
        let counts = rolling_counts(&sets, lo, hi, window as u32);
        (lo..=hi)
            .zip(counts)
            .map(|(i, n)| (span.start(i), n as i64))
            .collect()
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CohortKind {
    Signup,
    FirstActivity,
    Recurring,
}

struct RetentionArgs<'a> {
    period: Period,
    periods: i32,
    cohort: CohortKind,
    mode: RetentionMode,
    as_of: Tstz,
    events: Option<&'a [Option<String>]>,
}

struct Cell {
    cohort_idx: i32,
    cohort: Tstz,
    size: i64,
    offset: i32,
    retained: Option<i64>,
}

fn retention_cells(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    tz: Option<&str>,
    a: RetentionArgs,
) -> Vec<Cell> {
    let call = prepare(from_ts, to_ts, tz);
    if !a.as_of.is_finite() {
        bad_argument(
            "invalid as_of: must be a finite timestamp".into(),
            "as_of hides cells whose period starts at or after it; the default is now().",
        );
    }
    let sources = Sources::load();
    let activity = sources.activity(a.events);
    let cal = Calendar::new(a.period, &call.tz);
    let Some((lo, hi)) = cal.range(call.from, call.to) else {
        return Vec::new();
    };
    let mut last = hi + a.periods;
    if a.mode == RetentionMode::OnOrAfter {
        // "on or after" looks at every observed period, up to the one containing as_of.
        if let Some(as_of_idx) = cal.index_of(a.as_of) {
            last = last.max(as_of_idx);
        }
    }
    let span = Span::new(&cal, lo, last);
    let active = span.active_sets(&activity);
    let mut cohorts: Vec<(i32, RoaringTreemap)> =
        (lo..=hi).map(|i| (i, RoaringTreemap::new())).collect();
    let found = match a.cohort {
        CohortKind::Signup => match sources.get("signup") {
            // A range of whole periods over a signup table keyed by user: each cohort is exactly
            // the period's signup set, which the rollups hold.
            Some(s)
                if span.start(lo).into_inner() == call.from.into_inner()
                    && span.start(hi + 1).into_inner() == call.to.into_inner()
                    && s.user_is_unique() =>
            {
                let sets = span.active_sets(std::slice::from_ref(&s));
                (lo..=hi).map(|i| (i, sets.get(i).clone())).collect()
            }
            Some(s) => span.signup_cohorts(&s, call.from, call.to),
            None => Vec::new(),
        },
        CohortKind::FirstActivity => span.first_activity_cohorts(&activity, call.from, call.to),
        CohortKind::Recurring => (lo..=hi).map(|i| (i, active.get(i).clone())).collect(),
    };
    for (idx, members) in found {
        if idx >= lo && idx <= hi {
            cohorts[(idx - lo) as usize].1 |= members;
        }
    }
    let as_of = a.as_of.into_inner();
    let observed =
        |idx: i32| idx >= span.first && idx <= span.last && span.start(idx).into_inner() < as_of;
    retention_matrix(&cohorts, &active, a.periods as u32, a.mode, observed)
        .into_iter()
        .map(|c| Cell {
            cohort_idx: c.cohort,
            cohort: span.start(c.cohort),
            size: c.cohort_size as i64,
            offset: c.offset as i32,
            retained: c.retained.map(|r| r as i64),
        })
        .collect()
}

fn rate(cell: &Cell) -> Option<AnyNumeric> {
    numeric(cell.retained.and_then(|r| percent_hundredths(r, cell.size)))
}

/// Cohort retention: how many of each cohort were active N periods later.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments)]
pub fn retention(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    period: default!(Option<&str>, "'day'"),
    periods: default!(Option<i32>, "30"),
    cohort: default!(Option<&str>, "'signup'"),
    mode: default!(Option<&str>, "'on'"),
    tz: default!(Option<&str>, "NULL"),
    as_of: default!(Option<Tstz>, "now()"),
    events: default!(Option<Vec<Option<String>>>, "'{any}'"),
) -> TableIterator<
    'static,
    (
        name!(cohort, Tstz),
        name!(cohort_size, i64),
        name!(period_offset, i32),
        name!(retained, Option<i64>),
        name!(retention_rate, Option<AnyNumeric>),
    ),
> {
    let period = Period::parse("period", period);
    let periods = non_negative("periods", periods);
    let cohort = match cohort.map(|c| c.trim().to_ascii_lowercase()).as_deref() {
        Some("signup") => CohortKind::Signup,
        Some("first_activity") => CohortKind::FirstActivity,
        Some("recurring") => CohortKind::Recurring,
        _ => bad_argument(
            format!(
                "invalid cohort {}: accepted values are 'signup', 'first_activity', 'recurring'",
                show(cohort)
            ),
            "",
        ),
    };
    let mode = match mode.map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        Some("on") => RetentionMode::On,
        Some("on_or_after") => RetentionMode::OnOrAfter,
        _ => bad_argument(
            format!(
                "invalid mode {}: accepted values are 'on', 'on_or_after'",
                show(mode)
            ),
            "",
        ),
    };
    let as_of = as_of.unwrap_or_else(now);
    let args = RetentionArgs {
        period,
        periods,
        cohort,
        mode,
        as_of,
        events: events.as_deref(),
    };
    let rows: Vec<_> = retention_cells(from_ts, to_ts, tz, args)
        .into_iter()
        .map(|c| {
            let r = rate(&c);
            (c.cohort, c.size, c.offset, c.retained, r)
        })
        .collect();
    TableIterator::new(rows)
}

fn now() -> Tstz {
    crate::errors::spi(Spi::get_one::<Tstz>("SELECT now()"), "reading now()")
        .expect("now() is never NULL")
}

/// Day-1, day-7 and day-30 retention of daily signup cohorts.
#[pg_extern(stable, parallel_restricted)]
pub fn retention_summary(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    tz: default!(Option<&str>, "NULL"),
    as_of: default!(Option<Tstz>, "now()"),
) -> TableIterator<
    'static,
    (
        name!(cohort_date, Option<pgrx::datum::Date>),
        name!(cohort_size, i64),
        name!(day_1_retained, Option<i64>),
        name!(day_7_retained, Option<i64>),
        name!(day_30_retained, Option<i64>),
        name!(day_1_rate, Option<AnyNumeric>),
        name!(day_7_rate, Option<AnyNumeric>),
        name!(day_30_rate, Option<AnyNumeric>),
    ),
> {
    let as_of = as_of.unwrap_or_else(now);
    let args = RetentionArgs {
        period: Period::Day,
        periods: 30,
        cohort: CohortKind::Signup,
        mode: RetentionMode::On,
        as_of,
        events: None,
    };
    let cells = retention_cells(from_ts, to_ts, tz, args);
    let rows: Vec<_> = cells
        .chunks(31)
        .map(|c| {
            (
                day_index_to_date(c[0].cohort_idx),
                c[0].size,
                c[1].retained,
                c[7].retained,
                c[30].retained,
                rate(&c[1]),
                rate(&c[7]),
                rate(&c[30]),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// New, returning, resurrecting and dormant users per period.
#[pg_extern(stable, parallel_restricted)]
pub fn lifecycle(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    period: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
    events: default!(Option<Vec<Option<String>>>, "'{any}'"),
) -> TableIterator<'static, (name!(time, Tstz), name!(status, String), name!(users, i64))> {
    let period = Period::parse("period", period);
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let activity = sources.activity(events.as_deref());
    TableIterator::new(per_period(&call, period, 1, |span, lo, hi| {
        let active = span.active_sets(&activity);
        let signups = span.active_sets(sources.get("signup").as_slice());
        let mut rows = Vec::with_capacity(((hi - lo + 1) * 4) as usize);
        for i in lo..=hi {
            let l = lifecycle_of(&active, &signups, i);
            let t = span.start(i);
            rows.push((t, "new".to_string(), l.new as i64));
            rows.push((t, "returning".to_string(), l.returning as i64));
            rows.push((t, "resurrecting".to_string(), l.resurrecting as i64));
            rows.push((t, "dormant".to_string(), l.dormant as i64));
        }
        rows
    }))
}

/// How many users were active in exactly k of the range's periods.
#[pg_extern(stable, parallel_restricted)]
pub fn stickiness(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    period: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
    events: default!(Option<Vec<Option<String>>>, "'{any}'"),
) -> TableIterator<'static, (name!(active_periods, i32), name!(users, i64))> {
    let period = Period::parse("period", period);
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let activity = sources.activity(events.as_deref());
    TableIterator::new(per_period(&call, period, 0, |span, lo, hi| {
        let active = span.active_sets(&activity);
        stickiness_of(&active, lo, hi)
            .into_iter()
            .enumerate()
            .map(|(k, n)| (k as i32 + 1, n as i64))
            .collect()
    }))
}
