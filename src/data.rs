//! The SQL that gathers events into per-period user sets and counts. Aggregation happens in SQL
//! (one row per period), never row by row in Rust.

use crate::calendar::Calendar;
use crate::errors::spi;
use crate::kernels::usersets::{user_key, PeriodSets};
use crate::rollups;
use crate::sources::Source;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use roaring::RoaringTreemap;

/// A run of consecutive periods `first ..= last` of a calendar, with their absolute starts.
pub struct Span<'c> {
    pub cal: &'c Calendar,
    pub first: i32,
    pub last: i32,
    starts: Vec<TimestampWithTimeZone>,
}

impl<'c> Span<'c> {
    pub fn new(cal: &'c Calendar, first: i32, last: i32) -> Self {
        let starts = cal.starts(first, last);
        Span {
            cal,
            first,
            last,
            starts,
        }
    }

    /// Absolute start of period `idx` (any idx in `first ..= last + 1`).
    pub fn start(&self, idx: i32) -> TimestampWithTimeZone {
        self.starts[(idx - self.first) as usize]
    }

    pub fn lo(&self) -> TimestampWithTimeZone {
        self.start(self.first)
    }

    pub fn hi(&self) -> TimestampWithTimeZone {
        self.start(self.last + 1)
    }

    fn args(
        &self,
        lo: TimestampWithTimeZone,
        hi: TimestampWithTimeZone,
    ) -> [DatumWithOid<'static>; 4] {
        [
            DatumWithOid::from(self.cal.tz.clone()),
            DatumWithOid::from(self.cal.source_tz.clone()),
            lo.into(),
            hi.into(),
        ]
    }

    /// Distinct acting users per period, over all the given sources: from the hourly rollups
    /// where they cover the span, from the raw tables for the rest.
    pub fn active_sets(&self, sources: &[Source]) -> PeriodSets {
        let mut sets = PeriodSets::new(self.first, self.last);
        let raw_sql = |s: &Source| {
            format!(
                "SELECT idx, array_agg(DISTINCT uid) FROM (
                    SELECT {idx} AS idx, e.{user}::bigint AS uid FROM {rel} e WHERE e.{user} IS NOT NULL AND {filter}) s
                  GROUP BY idx",
                idx = self.cal.idx_sql(&s.local_time("e")),
                user = s.user,
                rel = s.rel,
                filter = s.time_filter("e", "$3", "$4"),
            )
        };
        // All activity at once: one combined rollup instead of one per source.
        if let Some(p) = rollups::plan_any(sources, self.lo(), self.hi(), &self.starts) {
            rollups::merge_sets(&self.cal.tz, &self.hour_idx_sql(), &p, &mut sets);
            for s in sources {
                for (a, b) in &p.raw {
                    self.fill_sets(&raw_sql(s), *a, *b, &mut sets);
                }
            }
            return sets;
        }
        for s in sources {
            match rollups::plan(s, self.lo(), self.hi(), &self.starts) {
                Some(p) => {
                    rollups::merge_sets(&self.cal.tz, &self.hour_idx_sql(), &p, &mut sets);
                    for (a, b) in &p.raw {
                        self.fill_sets(&raw_sql(s), *a, *b, &mut sets);
                    }
                }
                None => self.fill_sets(&raw_sql(s), self.lo(), self.hi(), &mut sets),
            }
        }
        sets
    }

    /// Period index of a rollup hour (`h.hour`), in the report zone `$1`.
    fn hour_idx_sql(&self) -> String {
        self.cal.idx_sql("(h.hour AT TIME ZONE $1::text)")
    }

    fn fill_sets(
        &self,
        sql: &str,
        lo: TimestampWithTimeZone,
        hi: TimestampWithTimeZone,
        sets: &mut PeriodSets,
    ) {
        spi(
            Spi::connect(|client| {
                for row in client.select(sql, None, &self.args(lo, hi))? {
                    if let (Some(idx), Some(users)) = (row.get::<i32>(1)?, row.get::<Vec<i64>>(2)?)
                    {
                        sets.add(idx, users);
                    }
                }
                Ok::<_, pgrx::spi::Error>(())
            }),
            "gathering user sets",
        )
    }

    fn cohort_rows(
        &self,
        sql: &str,
        lo: TimestampWithTimeZone,
        hi: TimestampWithTimeZone,
    ) -> Vec<(i32, RoaringTreemap)> {
        spi(
            Spi::connect(|client| {
                let mut out = Vec::new();
                for row in client.select(sql, None, &self.args(lo, hi))? {
                    if let (Some(idx), Some(users)) = (row.get::<i32>(1)?, row.get::<Vec<i64>>(2)?)
                    {
                        out.push((idx, users.into_iter().map(user_key).collect()));
                    }
                }
                Ok::<_, pgrx::spi::Error>(out)
            }),
            "gathering cohorts",
        )
    }

    /// Signup cohorts: users whose (earliest) signup lies in `[from, to)` exactly, by period.
    pub fn signup_cohorts(
        &self,
        signup: &Source,
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
    ) -> Vec<(i32, RoaringTreemap)> {
        let sql = format!(
            "SELECT {idx}, array_agg(f.uid) FROM (
                SELECT e.{user}::bigint AS uid, min({abs}) AS t FROM {rel} e
                 WHERE e.{user} IS NOT NULL AND {filter} GROUP BY 1) f
             GROUP BY 1",
            idx = self.cal.idx_sql("(f.t AT TIME ZONE $1::text)"),
            user = signup.user,
            abs = signup.abs_time("e"),
            rel = signup.rel,
            filter = signup.time_filter("e", "$3", "$4"),
        );
        self.cohort_rows(&sql, from, to)
    }

    /// First-activity cohorts: users whose first activity ever (over `sources`) lies in
    /// `[from, to)`, by the period of that first activity.
    pub fn first_activity_cohorts(
        &self,
        sources: &[Source],
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
    ) -> Vec<(i32, RoaringTreemap)> {
        if sources.is_empty() {
            return Vec::new();
        }
        let parts: Vec<String> = sources
            .iter()
            .map(|s| {
                format!(
                    "SELECT e.{user}::bigint AS uid, min({abs}) AS t FROM {rel} e WHERE e.{user} IS NOT NULL AND {before} GROUP BY 1",
                    user = s.user,
                    abs = s.abs_time("e"),
                    rel = s.rel,
                    before = s.time_before("e", "$4"),
                )
            })
            .collect();
        let sql = format!(
            "SELECT {idx}, array_agg(f.uid) FROM (
                SELECT uid, min(t) AS t FROM ({}) a GROUP BY uid) f
              WHERE f.t >= $3
              GROUP BY 1",
            parts.join(" UNION ALL "),
            idx = self.cal.idx_sql("(f.t AT TIME ZONE $1::text)"),
        );
        self.cohort_rows(&sql, from, to)
    }

    /// Events per period after removing duplicates (same user, target and time).
    pub fn event_counts(&self, source: Option<&Source>) -> Vec<i64> {
        let mut counts = vec![0i64; (self.last - self.first + 1).max(0) as usize];
        let Some(s) = source else { return counts };
        let sql = format!(
            "SELECT {idx}, count(*) FROM (SELECT DISTINCT {key} FROM {rel} e WHERE {filter}) d GROUP BY 1",
            idx = self.cal.idx_sql(&format!("({} AT TIME ZONE $1::text)", s.abs_of("d.t"))),
            key = s.dedup_select("e"),
            rel = s.rel,
            filter = s.time_filter("e", "$3", "$4"),
        );
        match rollups::plan(s, self.lo(), self.hi(), &self.starts) {
            Some(p) => {
                rollups::merge_counts(
                    &self.cal.tz,
                    &self.hour_idx_sql(),
                    &p,
                    self.first,
                    &mut counts,
                );
                for (a, b) in &p.raw {
                    self.fill_counts_between(&sql, *a, *b, &mut counts);
                }
            }
            None => self.fill_counts_between(&sql, self.lo(), self.hi(), &mut counts),
        }
        counts
    }

    /// Runs a query returning `(idx int, value bigint)` rows over `[lo, hi)` into a dense vector.
    fn fill_counts_between(
        &self,
        sql: &str,
        lo: TimestampWithTimeZone,
        hi: TimestampWithTimeZone,
        counts: &mut [i64],
    ) {
        spi(
            Spi::connect(|client| {
                for row in client.select(sql, None, &self.args(lo, hi))? {
                    if let (Some(idx), Some(n)) = (row.get::<i32>(1)?, row.get::<i64>(2)?) {
                        let off = idx as i64 - self.first as i64;
                        if off >= 0 && (off as usize) < counts.len() {
                            counts[off as usize] += n;
                        }
                    }
                }
                Ok::<_, pgrx::spi::Error>(())
            }),
            "counting events",
        )
    }
}
