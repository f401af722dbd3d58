//! Calendar periods in a time zone, by PostgreSQL's own rules.
//!
//! A period (day, week or month) is numbered by a dense index computed from the *local* date, so a
//! day is always local midnight to local midnight (23 or 25 hours across DST) and a week starts on
//! the configured day. Indices are computed in SQL (`idx_sql`), bucket starts are turned back into
//! absolute instants with `AT TIME ZONE`; Rust only does integer arithmetic on the indices.
//!
//! Every query built here takes the same four parameters: `$1` the report zone, `$2` the zone of
//! `timestamp without time zone` source columns, `$3`/`$4` the absolute bounds `[lo, hi)`.

use crate::errors::{bad_argument, spi};
use crate::gucs;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// Parses a bucket/period argument; `arg` names it in the error.
    pub fn parse(arg: &str, value: Option<&str>) -> Period {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("day") => Period::Day,
            Some("week") => Period::Week,
            Some("month") => Period::Month,
            _ => bad_argument(
                format!(
                    "invalid {arg} {}: accepted values are 'day', 'week', 'month'",
                    show(value)
                ),
                "Buckets are calendar periods in the tz argument's time zone.",
            ),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

pub fn show(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("'{}'", v.replace('\'', "''")),
        None => "NULL".to_string(),
    }
}

/// Resolves and checks the `tz` argument: NULL means the session's TimeZone.
pub fn resolve_tz(tz: Option<&str>) -> String {
    let zone = match tz {
        Some(z) => z.to_string(),
        None => spi(
            Spi::get_one::<String>("SELECT current_setting('TimeZone')"),
            "reading TimeZone",
        )
        .unwrap_or_else(|| "UTC".to_string()),
    };
    let ok = spi(
        Spi::get_one_with_args::<bool>(
            "SELECT mking_analytics.is_valid_time_zone($1)",
            &[DatumWithOid::from(zone.as_str())],
        ),
        "checking the time zone",
    )
    .unwrap_or(false);
    if !ok {
        bad_argument(
            format!("invalid tz {}: unknown time zone", show(Some(&zone))),
            "Use a name from pg_timezone_names (e.g. 'UTC', 'America/New_York'), an abbreviation, or NULL for the session's TimeZone.",
        );
    }
    zone
}

/// Checks a `[from_ts, to_ts)` pair: both given, finite, not reversed.
pub fn check_range(
    from_ts: Option<TimestampWithTimeZone>,
    to_ts: Option<TimestampWithTimeZone>,
) -> (TimestampWithTimeZone, TimestampWithTimeZone) {
    let from = from_ts.unwrap_or_else(|| {
        bad_argument(
            "invalid from_ts NULL: a start time is required".into(),
            "Ranges are half-open [from_ts, to_ts).",
        )
    });
    let to = to_ts.unwrap_or_else(|| {
        bad_argument(
            "invalid to_ts NULL: an end time is required".into(),
            "Ranges are half-open [from_ts, to_ts).",
        )
    });
    if !from.is_finite() || !to.is_finite() {
        bad_argument(
            "invalid range: from_ts and to_ts must be finite".into(),
            "Pass real timestamps, not infinity.",
        );
    }
    if from.into_inner() > to.into_inner() {
        bad_argument(
            "invalid range: from_ts is after to_ts".into(),
            "Ranges are half-open [from_ts, to_ts); swap the two arguments.",
        );
    }
    (from, to)
}

/// A period kind in a zone, with the week start and the source zone fixed for one call.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub period: Period,
    pub tz: String,
    pub sunday: bool,
    pub source_tz: String,
}

/// Upper bound on periods one call may span, so a typo such as year 20224 is an error, not a
/// multi-gigabyte allocation.
const MAX_PERIODS: i64 = 200_000;

impl Calendar {
    pub fn new(period: Period, tz: &str) -> Self {
        Calendar {
            period,
            tz: tz.to_string(),
            sunday: gucs::sunday_weeks(),
            source_tz: gucs::source_timezone(),
        }
    }

    /// SQL for the period index of a local `timestamp` expression. Days count from 0001-01-01
    /// (a Monday), so weeks are plain integer division; Sunday weeks shift by one day.
    pub fn idx_sql(&self, local: &str) -> String {
        match self.period {
            Period::Day => format!("(({local})::date - DATE '0001-01-01')"),
            Period::Week if self.sunday => {
                format!("((({local})::date - DATE '0001-01-01' + 1) / 7)")
            }
            Period::Week => format!("((({local})::date - DATE '0001-01-01') / 7)"),
            Period::Month => format!(
                "(date_part('year', {local})::int * 12 + date_part('month', {local})::int - 1)"
            ),
        }
    }

    /// SQL for the local start (a `date`) of period index expression `i`.
    fn start_date_sql(&self, i: &str) -> String {
        match self.period {
            Period::Day => format!("(DATE '0001-01-01' + {i})"),
            Period::Week if self.sunday => format!("(DATE '0001-01-01' + {i} * 7 - 1)"),
            Period::Week => format!("(DATE '0001-01-01' + {i} * 7)"),
            Period::Month => format!("make_date({i} / 12, {i} % 12 + 1, 1)"),
        }
    }

    /// Indices of the first and last period overlapping `[from, to)`; `None` for an empty range.
    pub fn range(
        &self,
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
    ) -> Option<(i32, i32)> {
        if from.into_inner() >= to.into_inner() {
            return None;
        }
        let sql = format!(
            "SELECT {}, {}",
            self.idx_sql("$2::timestamptz AT TIME ZONE $1::text"),
            self.idx_sql("($3::timestamptz - interval '1 microsecond') AT TIME ZONE $1::text")
        );
        let (lo, hi) = spi(
            Spi::get_two_with_args::<i32, i32>(
                &sql,
                &[DatumWithOid::from(self.tz.as_str()), from.into(), to.into()],
            ),
            "computing period bounds",
        );
        let (lo, hi) = (lo?, hi?);
        if (hi as i64 - lo as i64) > MAX_PERIODS {
            bad_argument(
                format!(
                    "invalid range: it spans {} {}s, more than {MAX_PERIODS}",
                    hi as i64 - lo as i64 + 1,
                    self.period.name()
                ),
                "Use a shorter range or a longer bucket.",
            );
        }
        Some((lo, hi))
    }

    /// Absolute start instants of the periods `first ..= last + 1` (so period `k` spans
    /// `[starts[k - first], starts[k - first + 1])`).
    pub fn starts(&self, first: i32, last: i32) -> Vec<TimestampWithTimeZone> {
        let sql = format!(
            "SELECT ({})::timestamp AT TIME ZONE $1::text FROM generate_series($2::int, $3::int) AS g(i) ORDER BY i",
            self.start_date_sql("g.i")
        );
        spi(
            Spi::connect(|client| {
                let rows = client.select(
                    &sql,
                    None,
                    &[
                        DatumWithOid::from(self.tz.as_str()),
                        first.into(),
                        (last + 1).into(),
                    ],
                )?;
                let mut out = Vec::with_capacity((last - first + 2).max(0) as usize);
                for row in rows {
                    if let Some(ts) = row.get::<TimestampWithTimeZone>(1)? {
                        out.push(ts);
                    }
                }
                Ok::<_, pgrx::spi::Error>(out)
            }),
            "computing period starts",
        )
    }

    /// The index of the period containing an instant.
    pub fn index_of(&self, ts: TimestampWithTimeZone) -> Option<i32> {
        let sql = format!(
            "SELECT {}",
            self.idx_sql("$2::timestamptz AT TIME ZONE $1::text")
        );
        spi(
            Spi::get_one_with_args::<i32>(&sql, &[DatumWithOid::from(self.tz.as_str()), ts.into()]),
            "computing a period index",
        )
    }
}
