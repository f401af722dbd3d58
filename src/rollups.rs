//! Exact incremental rollups: hourly user sets and event counts per source.
//!
//! Why hours: every day, week and month boundary of a zone with a whole-hour UTC offset falls on a
//! UTC hour, so one rollup serves every such zone; ranges whose boundaries are not on the hour
//! (Asia/Kolkata, a 14:37 start, ...) read the raw tables instead. Why exact: hours listed in
//! `rollup_changes` (touched since the last refresh) and hours after `rollup_state.through` are
//! read raw at query time, so an answer always equals the raw tables' answer.

use crate::errors::spi;
use crate::gucs;
use crate::kernels::usersets::{decode, encode, user_key, PeriodSets};
use crate::sources::{Source, Sources};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use roaring::RoaringTreemap;
use std::collections::BTreeMap;

type Tstz = TimestampWithTimeZone;

const HOUR: i64 = 3_600_000_000;

/// Beyond this many separate raw ranges a read falls back to the raw table alone.
const MAX_RAW_RANGES: usize = 16;

fn micros(t: Tstz) -> i64 {
    t.into_inner()
}

fn tstz(m: i64) -> Tstz {
    Tstz::try_from(m).unwrap_or_else(|_| Tstz::positive_infinity())
}

/// Arguments of a query in the `Source` SQL convention: `$1` (the report zone, unused here),
/// `$2` the source zone, then `rest` from `$3` on.
fn source_args<const N: usize>(rest: [DatumWithOid<'static>; N]) -> Vec<DatumWithOid<'static>> {
    let mut args = vec![
        DatumWithOid::from("UTC"),
        DatumWithOid::from(gucs::source_timezone()),
    ];
    args.extend(rest);
    args
}

/// How one source's data for `[lo, hi)` splits between rollups and raw reads.
pub struct Plan {
    /// The rollup to read (a source name, or `ANY`).
    pub rollup: String,
    /// Rolled hours are `[lo, rolled_hi)` minus `dirty`.
    pub lo: Tstz,
    pub rolled_hi: Tstz,
    pub dirty: Vec<Tstz>,
    /// Ranges to read from the raw table.
    pub raw: Vec<(Tstz, Tstz)>,
}

/// Name of the combined rollup of all enabled activity sources (`events => '{any}'`).
pub const ANY: &str = "*any";

/// SQL giving the signature of the combined activity rollup for source zone `$1`.
const ANY_SIGNATURE_SQL: &str = "
    SELECT coalesce(string_agg(s.source_name || '=' || mking_analytics.rollup_signature(s, $1), ';' ORDER BY s.source_name), '')
      FROM mking_analytics.sources s
     WHERE s.enabled AND s.is_activity AND to_regclass(s.relation) IS NOT NULL";

fn optional_tstz(sql: &str, args: &[DatumWithOid<'static>]) -> Option<Tstz> {
    spi(
        Spi::connect(|client| {
            let rows = client.select(sql, Some(1), args)?;
            if rows.is_empty() {
                return Ok(None);
            }
            rows.first().get::<Tstz>(1)
        }),
        "reading rollup state",
    )
}

fn hour_aligned(starts: &[Tstz]) -> bool {
    gucs::USE_ROLLUPS.get() && starts.iter().all(|s| micros(*s).rem_euclid(HOUR) == 0)
}

/// Plans a read of `source` over `[lo, hi)` whose period boundaries are `starts`. `None` means
/// read everything raw.
pub fn plan(source: &Source, lo: Tstz, hi: Tstz, starts: &[Tstz]) -> Option<Plan> {
    if !hour_aligned(starts) {
        return None;
    }
    let through = optional_tstz(
        "SELECT st.through FROM mking_analytics.rollup_state st JOIN mking_analytics.sources s USING (source_name)
          WHERE st.source_name = $1 AND st.signature = mking_analytics.rollup_signature(s, $2)",
        &[DatumWithOid::from(source.name.clone()), DatumWithOid::from(gucs::source_timezone())],
    )?;
    plan_from(
        source.name.clone(),
        vec![source.name.clone()],
        through,
        lo,
        hi,
    )
}

/// Plans a read of the combined activity rollup, usable when `sources` are exactly the enabled
/// activity sources. Changed hours of any member are read raw from every member.
pub fn plan_any(sources: &[Source], lo: Tstz, hi: Tstz, starts: &[Tstz]) -> Option<Plan> {
    if sources.len() < 2 || !hour_aligned(starts) {
        return None;
    }
    let through = optional_tstz(
        &format!("SELECT st.through FROM mking_analytics.rollup_state st WHERE st.source_name = '{ANY}' AND st.signature = ({ANY_SIGNATURE_SQL})"),
        &[DatumWithOid::from(gucs::source_timezone())],
    )?;
    let members: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let all = spi(
        Spi::get_one_with_args::<bool>(
            "SELECT array_agg(s.source_name ORDER BY s.source_name) = (SELECT array_agg(x ORDER BY x) FROM unnest($1::text[]) x)
               FROM mking_analytics.sources s WHERE s.enabled AND s.is_activity AND to_regclass(s.relation) IS NOT NULL",
            &[DatumWithOid::from(members.clone())],
        ),
        "matching activity sources",
    )
    .unwrap_or(false);
    if !all {
        return None;
    }
    plan_from(ANY.to_string(), members, through, lo, hi)
}

fn plan_from(
    rollup: String,
    change_sources: Vec<String>,
    through: Tstz,
    lo: Tstz,
    hi: Tstz,
) -> Option<Plan> {
    if micros(through) <= micros(lo) {
        return None;
    }
    let rolled_hi = tstz(micros(through).min(micros(hi)));
    // Loose index scan over (source_name, hour): distinct changed hours without reading every entry.
    let dirty: Vec<Tstz> = spi(
        Spi::connect(|client| {
            let rows = client.select(
                "WITH RECURSIVE h AS (
                    SELECT (SELECT min(hour) FROM mking_analytics.rollup_changes WHERE source_name = ANY ($1) AND hour >= $2 AND hour < $3) AS hour
                    UNION ALL
                    SELECT (SELECT min(c.hour) FROM mking_analytics.rollup_changes c WHERE c.source_name = ANY ($1) AND c.hour > h.hour AND c.hour < $3)
                      FROM h WHERE h.hour IS NOT NULL)
                 SELECT hour FROM h WHERE hour IS NOT NULL",
                None,
                &[DatumWithOid::from(change_sources), lo.into(), rolled_hi.into()],
            )?;
            let mut out = Vec::new();
            for r in rows {
                if let Some(h) = r.get::<Tstz>(1)? {
                    out.push(h);
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading changed hours",
    );
    let mut raw: Vec<(Tstz, Tstz)> = Vec::new();
    for h in &dirty {
        let (a, b) = (micros(*h), micros(*h) + HOUR);
        match raw.last_mut() {
            Some(last) if micros(last.1) == a => last.1 = tstz(b),
            _ => raw.push((*h, tstz(b))),
        }
    }
    if micros(rolled_hi) < micros(hi) {
        raw.push((rolled_hi, hi));
    }
    // Many scattered changed hours (a bulk load of old rows): one raw scan is cheaper than a
    // query per range, until the next refresh folds them in.
    if raw.len() > MAX_RAW_RANGES {
        return None;
    }
    Some(Plan {
        rollup,
        lo,
        rolled_hi,
        dirty,
        raw,
    })
}

fn rollup_args(cal_tz: &str, p: &Plan, days: &[Tstz]) -> Vec<DatumWithOid<'static>> {
    vec![
        DatumWithOid::from(cal_tz.to_string()),
        DatumWithOid::from(p.rollup.clone()),
        p.lo.into(),
        p.rolled_hi.into(),
        DatumWithOid::from(p.dirty.clone()),
        DatumWithOid::from(days.to_vec()),
    ]
}

/// Day rows (of the report zone) that can stand for their 24 hours in this plan: inside the
/// rolled range and with no changed hour.
fn usable_days(cal_tz: &str, p: &Plan) -> Vec<Tstz> {
    let rows: Vec<(Tstz, Tstz)> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(
                // A day row serves any zone whose day is the same interval (UTC = Etc/UTC, ...).
                "SELECT day, ((day AT TIME ZONE $1) + interval '1 day') AT TIME ZONE $1 FROM mking_analytics.rollup_days
                  WHERE source_name = $2 AND day >= $3 AND day < $4
                    AND date_trunc('day', day, $1) = day
                    AND ((day AT TIME ZONE zone) + interval '1 day') AT TIME ZONE zone
                        = ((day AT TIME ZONE $1) + interval '1 day') AT TIME ZONE $1",
                None,
                &[DatumWithOid::from(cal_tz.to_string()), DatumWithOid::from(p.rollup.clone()), p.lo.into(), p.rolled_hi.into()],
            )? {
                if let (Some(a), Some(b)) = (r.get::<Tstz>(1)?, r.get::<Tstz>(2)?) {
                    out.push((a, b));
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading day rollups",
    );
    rows.into_iter()
        .filter(|(a, b)| {
            micros(*b) <= micros(p.rolled_hi)
                && !p
                    .dirty
                    .iter()
                    .any(|h| micros(*h) >= micros(*a) && micros(*h) < micros(*b))
        })
        .map(|(a, _)| a)
        .collect()
}

/// Merges the rolled-up user sets of a plan into `sets`; `idx_sql` maps `$1`-local time of
/// `h.hour` to a period index. Whole unchanged days come from day rows, the rest from hours.
pub fn merge_sets(cal_tz: &str, idx_sql: &str, p: &Plan, sets: &mut PeriodSets) {
    let days = usable_days(cal_tz, p);
    // First the row versions only; the sets themselves come from the backend's cache, and only
    // rows not seen in that version are fetched and decoded.
    let sql = format!(
        "SELECT {idx_sql}, h.day_row, h.hour, h.v FROM (
            SELECT true AS day_row, d.day AS hour, d.xmin::text || d.ctid::text AS v FROM mking_analytics.rollup_days d
             WHERE d.source_name = $2 AND d.day = ANY ($6::timestamptz[])
            UNION ALL
            SELECT false, r.hour, r.xmin::text || r.ctid::text FROM mking_analytics.rollup_hours r
             WHERE r.source_name = $2 AND r.hour >= $3 AND r.hour < $4 AND r.hour <> ALL ($5::timestamptz[])
               AND date_trunc('day', r.hour, $1) <> ALL ($6::timestamptz[])) h"
    );
    let rows: Vec<(i32, bool, i64, String)> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(&sql, None, &rollup_args(cal_tz, p, &days))? {
                if let (Some(idx), Some(d), Some(h), Some(v)) = (
                    r.get::<i32>(1)?,
                    r.get::<bool>(2)?,
                    r.get::<Tstz>(3)?,
                    r.get::<String>(4)?,
                ) {
                    out.push((idx, d, micros(h), v));
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading rollups",
    );
    SET_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        for day_rows in [true, false] {
            let missing: Vec<Tstz> = rows
                .iter()
                .filter(|(_, d, h, v)| *d == day_rows && cache.get(&p.rollup, *d, *h, v).is_none())
                .map(|(_, _, h, _)| tstz(*h))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let fetch = if day_rows {
                "SELECT day, xmin::text || ctid::text, users FROM mking_analytics.rollup_days WHERE source_name = $1 AND day = ANY ($2::timestamptz[])"
            } else {
                "SELECT hour, xmin::text || ctid::text, users FROM mking_analytics.rollup_hours WHERE source_name = $1 AND hour = ANY ($2::timestamptz[])"
            };
            spi(
                Spi::connect(|client| {
                    for r in client.select(fetch, None, &[DatumWithOid::from(p.rollup.clone()), DatumWithOid::from(missing)])? {
                        if let (Some(h), Some(v), Some(bytes)) = (r.get::<Tstz>(1)?, r.get::<String>(2)?, r.get::<Vec<u8>>(3)?) {
                            match decode(&bytes) {
                                Ok(set) => cache.put(&p.rollup, day_rows, micros(h), v, set, bytes.len()),
                                Err(e) => crate::errors::raise(
                                    PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                                    format!("rollup \"{}\" is unreadable: {e}", p.rollup),
                                    "Rebuild it: SELECT mking_analytics.remove_change_capture(); SELECT mking_analytics.schedule();",
                                ),
                            }
                        }
                    }
                    Ok::<_, pgrx::spi::Error>(())
                }),
                "reading rollups",
            );
        }
        for (idx, d, h, v) in &rows {
            match cache.get(&p.rollup, *d, *h, v) {
                Some(set) => sets.merge(*idx, set),
                // Changed between the two reads (only possible outside a read-only snapshot).
                None => crate::errors::raise(
                    PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                    format!("rollup \"{}\" changed while it was read", p.rollup),
                    "Run the query again.",
                ),
            }
        }
    });
}

/// Decoded hourly sets of this backend, keyed by rollup and hour and valid for one row version
/// (`xmin` + `ctid`): a changed row is a new version, so a stale entry is never used. Dashboards
/// read the same hours many times (several panels, every refresh of a Grafana panel).
struct SetCache {
    entries: std::collections::HashMap<(String, bool, i64), (String, RoaringTreemap)>,
    bytes: usize,
}

/// Upper bound of the serialized size the cache holds per backend; past it, it starts over.
const SET_CACHE_BYTES: usize = 128 << 20;

impl SetCache {
    fn get(&self, rollup: &str, day_row: bool, at: i64, version: &str) -> Option<&RoaringTreemap> {
        match self.entries.get(&(rollup.to_string(), day_row, at)) {
            Some((v, set)) if v == version => Some(set),
            _ => None,
        }
    }

    fn put(
        &mut self,
        rollup: &str,
        day_row: bool,
        at: i64,
        version: String,
        set: RoaringTreemap,
        size: usize,
    ) {
        if self.bytes + size > SET_CACHE_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        self.entries
            .insert((rollup.to_string(), day_row, at), (version, set));
    }
}

thread_local! {
    static SET_CACHE: std::cell::RefCell<SetCache> =
        std::cell::RefCell::new(SetCache { entries: std::collections::HashMap::new(), bytes: 0 });
}

/// Adds the rolled-up event counts of a plan into `counts` (indexed from `first`).
pub fn merge_counts(cal_tz: &str, idx_sql: &str, p: &Plan, first: i32, counts: &mut [i64]) {
    let days = usable_days(cal_tz, p);
    let sql = format!(
        "SELECT {idx_sql}, sum(h.events)::bigint FROM (
            SELECT d.day AS hour, d.events FROM mking_analytics.rollup_days d
             WHERE d.source_name = $2 AND d.day = ANY ($6::timestamptz[])
            UNION ALL
            SELECT r.hour, r.events FROM mking_analytics.rollup_hours r
             WHERE r.source_name = $2 AND r.hour >= $3 AND r.hour < $4 AND r.hour <> ALL ($5::timestamptz[])
               AND date_trunc('day', r.hour, $1) <> ALL ($6::timestamptz[])) h
          GROUP BY 1"
    );
    spi(
        Spi::connect(|client| {
            for r in client.select(&sql, None, &rollup_args(cal_tz, p, &days))? {
                if let (Some(idx), Some(n)) = (r.get::<i32>(1)?, r.get::<i64>(2)?) {
                    let off = idx as i64 - first as i64;
                    if off >= 0 && (off as usize) < counts.len() {
                        counts[off as usize] += n;
                    }
                }
            }
            Ok::<_, pgrx::spi::Error>(())
        }),
        "reading rollup counts",
    )
}

/// Per-hour users and distinct events of `source`, for the hours selected by `where_sql`.
/// Parameters follow the `Source` SQL convention: `$2` is the source zone; `$3` is `arg`
/// (a `timestamptz[]`); `$1` is unused.
fn compute_hours(
    source: &Source,
    where_sql: &str,
    arg: DatumWithOid<'static>,
) -> BTreeMap<i64, (RoaringTreemap, i64)> {
    let sql = format!(
        "SELECT date_trunc('hour', {abs}, 'UTC') AS h, array_agg(DISTINCT d.u::bigint) FILTER (WHERE d.u IS NOT NULL), count(*)
           FROM (SELECT DISTINCT {key} FROM {rel} e WHERE {where_sql}) d
          GROUP BY 1",
        abs = source.abs_of("d.t"),
        key = source.dedup_select("e"),
        rel = source.rel,
    );
    spi(
        Spi::connect(|client| {
            let mut out = BTreeMap::new();
            for r in client.select(&sql, None, &source_args([arg]))? {
                if let Some(h) = r.get::<Tstz>(1)? {
                    let users: RoaringTreemap = r
                        .get::<Vec<i64>>(2)?
                        .unwrap_or_default()
                        .into_iter()
                        .map(user_key)
                        .collect();
                    out.insert(micros(h), (users, r.get::<i64>(3)?.unwrap_or(0)));
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "computing hourly rollups",
    )
}

/// Replaces the rollup rows of `hours` (and of every hour in `[from, to)` when given) with
/// `computed`.
fn store(
    name: &str,
    replace_hours: &[Tstz],
    range: Option<(Tstz, Tstz)>,
    computed: &BTreeMap<i64, (RoaringTreemap, i64)>,
    through: Tstz,
) {
    let name = || DatumWithOid::from(name.to_string());
    spi(
        Spi::run_with_args(
            "DELETE FROM mking_analytics.rollup_hours WHERE source_name = $1 AND hour = ANY ($2::timestamptz[])",
            &[name(), DatumWithOid::from(replace_hours.to_vec())],
        ),
        "replacing rollups",
    );
    if let Some((a, b)) = range {
        spi(
            Spi::run_with_args(
                "DELETE FROM mking_analytics.rollup_hours WHERE source_name = $1 AND hour >= $2 AND hour < $3",
                &[name(), a.into(), b.into()],
            ),
            "replacing rollups",
        );
    }
    let hours: Vec<Tstz> = computed.keys().map(|h| tstz(*h)).collect();
    let users: Vec<Vec<u8>> = computed.values().map(|(u, _)| encode(u)).collect();
    let events: Vec<i64> = computed.values().map(|(_, n)| *n).collect();
    spi(
        Spi::run_with_args(
            "INSERT INTO mking_analytics.rollup_hours (source_name, hour, users, events)
             SELECT $1, h, u, n FROM unnest($2::timestamptz[], $3::bytea[], $4::bigint[]) AS x(h, u, n)",
            &[name(), DatumWithOid::from(hours.clone()), DatumWithOid::from(users), DatumWithOid::from(events)],
        ),
        "storing rollups",
    );
    // Whole days of the owners' zone (this session's TimeZone) touched by these hours.
    let mut touched: Vec<Tstz> = replace_hours.to_vec();
    touched.extend(hours);
    let all = range.is_some();
    spi(
        Spi::run_with_args(
            "WITH days AS (SELECT DISTINCT date_trunc('day', h, current_setting('TimeZone')) AS d FROM unnest($2::timestamptz[]) h)
             DELETE FROM mking_analytics.rollup_days WHERE source_name = $1 AND ($3 OR day IN (SELECT d FROM days)
                                                                                  OR zone <> current_setting('TimeZone'))",
            &[name(), DatumWithOid::from(touched.clone()), DatumWithOid::from(all)],
        ),
        "replacing day rollups",
    );
    spi(
        Spi::run_with_args(
            "WITH days AS (SELECT DISTINCT date_trunc('day', h, current_setting('TimeZone')) AS d FROM unnest($2::timestamptz[]) h)
             INSERT INTO mking_analytics.rollup_days (source_name, day, zone, users, events)
             SELECT $1, x.d, current_setting('TimeZone'), mking_analytics.user_set_union(x.users), sum(x.events)
               FROM (SELECT date_trunc('day', h.hour, current_setting('TimeZone')) AS d, h.users, h.events
                       FROM mking_analytics.rollup_hours h
                      WHERE h.source_name = $1
                        AND ($3 OR date_trunc('day', h.hour, current_setting('TimeZone')) IN (SELECT d FROM days))) x
              WHERE ((x.d AT TIME ZONE current_setting('TimeZone')) + interval '1 day') AT TIME ZONE current_setting('TimeZone') <= $4
                AND NOT EXISTS (SELECT 1 FROM mking_analytics.rollup_days r WHERE r.source_name = $1 AND r.day = x.d)
              GROUP BY x.d",
            &[name(), DatumWithOid::from(touched), DatumWithOid::from(all), through.into()],
        ),
        "storing day rollups",
    );
}

type RefreshRow = (String, String, i64, i64, i64);

/// Brings the rollups up to date with what changed since the last refresh.
#[pg_extern(volatile, parallel_unsafe)]
pub fn refresh_rollups() -> TableIterator<
    'static,
    (
        name!(source_name, String),
        name!(status, String),
        name!(hours_processed, i64),
        name!(days_processed, i64),
        name!(events_processed, i64),
    ),
> {
    let got = spi(
        Spi::get_one::<bool>(
            "SELECT pg_try_advisory_xact_lock(hashtext('mking_analytics.refresh_rollups')::bigint)",
        ),
        "taking the refresh lock",
    )
    .unwrap_or(false);
    if !got {
        return TableIterator::once((
            "*".into(),
            "skipped: another refresh is running".into(),
            0,
            0,
            0,
        ));
    }
    // A source whose configuration changed (or never captured) gets its triggers first; its
    // rollups are built by the next refresh, so no long lock is held on the platform's tables.
    let stale = spi(
        Spi::get_one_with_args::<i64>(
            "SELECT count(*) FROM mking_analytics.sources s LEFT JOIN mking_analytics.rollup_state st USING (source_name)
              WHERE s.enabled AND to_regclass(s.relation) IS NOT NULL
                AND (st.source_name IS NULL OR st.signature <> mking_analytics.rollup_signature(s, $1))",
            &[DatumWithOid::from(gucs::source_timezone())],
        ),
        "checking rollup state",
    )
    .unwrap_or(0);
    let mut rows: Vec<RefreshRow> = Vec::new();
    if stale > 0 {
        spi(
            Spi::run("SELECT mking_analytics.install_change_capture()"),
            "installing change capture",
        );
        rows.push((
            "*".into(),
            "change capture installed; rollups are built by the next refresh".into(),
            0,
            0,
            0,
        ));
        return TableIterator::new(rows);
    }
    // The watermark: the current hour, held back to the hour in which the oldest running
    // transaction began. Change capture skips new rows of the current hour, so a transaction
    // still running may hold such rows for any hour from its start on; they must stay raw.
    let now_hour = spi(
        Spi::get_one::<Tstz>(
            "SELECT date_trunc('hour', least(now(),
                        (SELECT min(xact_start) FROM pg_catalog.pg_stat_activity
                          WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type <> 'autovacuum worker'),
                        (SELECT min(prepared) FROM pg_catalog.pg_prepared_xacts)), 'UTC')",
        ),
        "reading the clock",
    )
    .expect("now() is never NULL");
    let state: Vec<(String, Option<Tstz>)> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(
                "SELECT source_name, through FROM mking_analytics.rollup_state ORDER BY 1",
                None,
                &[],
            )? {
                out.push((r.get::<String>(1)?.unwrap_or_default(), r.get::<Tstz>(2)?));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading rollup state",
    );
    let sources = Sources::load();
    let mut any_rebuild = false;
    let mut posts_rebuild = false;
    let mut posts_touched: Vec<i64> = Vec::new();
    let mut any_hours: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
    for (name, through) in state {
        if name == ANY {
            continue;
        }
        let Some(source) = sources.get(&name) else {
            continue;
        };
        // Entries seen now are covered by the recomputation below, which reads a later snapshot;
        // entries of transactions that commit later stay for the next refresh.
        let (changed, logged_targets): (Vec<Tstz>, Vec<i64>) = spi(
            Spi::connect_mut(|client| {
                let r = client
                    .update(
                        "WITH d AS (DELETE FROM mking_analytics.rollup_changes WHERE source_name = $1 RETURNING hour, target)
                         SELECT (SELECT array_agg(DISTINCT hour ORDER BY hour) FROM d),
                                (SELECT array_agg(DISTINCT target) FROM d WHERE target IS NOT NULL)",
                        None,
                        &[DatumWithOid::from(name.as_str())],
                    )?
                    .first();
                Ok::<_, pgrx::spi::Error>((
                    r.get::<Vec<Tstz>>(1)?.unwrap_or_default(),
                    r.get::<Vec<i64>>(2)?.unwrap_or_default(),
                ))
            }),
            "reading the change log",
        );
        let (status, computed, replaced) = match through {
            None => {
                pgrx::notice!("mking_analytics: building rollups of source \"{name}\"");
                let before = source.time_before("e", "($3::timestamptz[])[1]");
                let computed = compute_hours(&source, &before, DatumWithOid::from(vec![now_hour]));
                store(
                    &name,
                    &[],
                    Some((Tstz::negative_infinity(), now_hour)),
                    &computed,
                    now_hour,
                );
                any_rebuild = true;
                if name == "session" {
                    refresh_devices(&source, None, now_hour);
                }
                refresh_totals(&source, None, now_hour);
                if matches!(name.as_str(), "post" | "like" | "comment" | "share") {
                    posts_rebuild = true;
                }
                ("built", computed, 0usize)
            }
            Some(t) => {
                let old: Vec<Tstz> = changed
                    .into_iter()
                    .filter(|h| micros(*h) < micros(t))
                    .collect();
                let mut hours = old.clone();
                let mut h = micros(t);
                while h < micros(now_hour) {
                    hours.push(tstz(h));
                    h += HOUR;
                }
                if hours.is_empty() {
                    rows.push((name.clone(), "up to date".into(), 0, 0, 0));
                    continue;
                }
                let filter = format!(
                    "EXISTS (SELECT 1 FROM unnest($3::timestamptz[]) AS x(h) WHERE {})",
                    source.time_filter("e", "x.h", "(x.h + interval '1 hour')")
                );
                let computed = compute_hours(&source, &filter, DatumWithOid::from(hours.clone()));
                store(&name, &hours, None, &computed, now_hour);
                any_hours.extend(hours.iter().map(|h| micros(*h)));
                if name == "session" {
                    refresh_devices(&source, Some(&hours), now_hour);
                }
                // Integer targets only: the sources with per-target totals, and posts.
                let touched = if name == "post" || TOTALS_SOURCES.contains(&name.as_str()) {
                    touched_targets(&source, &hours, &logged_targets)
                } else {
                    Vec::new()
                };
                refresh_totals(&source, Some(&touched), now_hour);
                if matches!(name.as_str(), "post" | "like" | "comment" | "share") {
                    posts_touched.extend(touched);
                }
                ("refreshed", computed, hours.len())
            }
        };
        spi(
            Spi::run_with_args(
                "UPDATE mking_analytics.rollup_state SET through = $2, refreshed_at = now() WHERE source_name = $1",
                &[DatumWithOid::from(name.as_str()), now_hour.into()],
            ),
            "advancing rollup state",
        );
        let days: std::collections::BTreeSet<i64> =
            computed.keys().map(|h| h.div_euclid(24 * HOUR)).collect();
        let events: i64 = computed.values().map(|(_, n)| *n).sum();
        let hours = if status == "built" {
            computed.len()
        } else {
            replaced
        };
        rows.push((name, status.into(), hours as i64, days.len() as i64, events));
    }
    if posts_rebuild {
        refresh_posts(&sources, None, now_hour);
    } else if !posts_touched.is_empty() {
        posts_touched.sort_unstable();
        posts_touched.dedup();
        refresh_posts(&sources, Some(&posts_touched), now_hour);
    }
    if let Some(row) = refresh_any(any_rebuild, &any_hours) {
        rows.push(row);
    }
    TableIterator::new(rows)
}

/// Keeps the combined activity rollup (`ANY`) equal to the union of its members' hourly sets.
fn refresh_any(rebuild: bool, changed: &std::collections::BTreeSet<i64>) -> Option<RefreshRow> {
    let tz = DatumWithOid::from(gucs::source_timezone());
    let signature = spi(
        Spi::get_one_with_args::<String>(ANY_SIGNATURE_SQL, &[tz]),
        "reading sources",
    )?;
    let (members, through, missing): (Vec<String>, Option<Tstz>, i64) = spi(
        Spi::connect(|client| {
            let r = client
                .select(
                    "SELECT array_agg(s.source_name ORDER BY s.source_name), min(st.through), count(*) FILTER (WHERE st.through IS NULL)
                       FROM mking_analytics.sources s LEFT JOIN mking_analytics.rollup_state st USING (source_name)
                      WHERE s.enabled AND s.is_activity AND to_regclass(s.relation) IS NOT NULL",
                    Some(1),
                    &[],
                )?
                .first();
            Ok::<_, pgrx::spi::Error>((
                r.get::<Vec<String>>(1)?.unwrap_or_default(),
                r.get::<Tstz>(2)?,
                r.get::<i64>(3)?.unwrap_or(0),
            ))
        }),
        "reading member rollups",
    );
    if members.len() < 2 || missing > 0 {
        return None;
    }
    let through = through?;
    let previous = optional_tstz(
        &format!("SELECT through FROM mking_analytics.rollup_state WHERE source_name = '{ANY}' AND signature = $1"),
        &[DatumWithOid::from(signature.clone())],
    );
    let rebuild = rebuild || previous.is_none();
    if !rebuild && changed.is_empty() && previous.map(micros) == Some(micros(through)) {
        return None;
    }
    let hours: Vec<Tstz> = changed.iter().map(|h| tstz(*h)).collect();
    let mut computed: BTreeMap<i64, (RoaringTreemap, i64)> = BTreeMap::new();
    spi(
        Spi::connect(|client| {
            let rows = client.select(
                "SELECT hour, users FROM mking_analytics.rollup_hours
                  WHERE source_name = ANY ($1) AND ($2 OR hour = ANY ($3::timestamptz[]))",
                None,
                &[
                    DatumWithOid::from(members.clone()),
                    DatumWithOid::from(rebuild),
                    DatumWithOid::from(hours.clone()),
                ],
            )?;
            for r in rows {
                if let (Some(h), Some(bytes)) = (r.get::<Tstz>(1)?, r.get::<Vec<u8>>(2)?) {
                    let part = decode(&bytes).unwrap_or_else(|e| {
                        crate::errors::raise(
                            PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                            format!("a rollup is unreadable: {e}"),
                            "Rebuild: SELECT mking_analytics.remove_change_capture(); SELECT mking_analytics.schedule();",
                        )
                    });
                    computed
                        .entry(micros(h))
                        .or_insert_with(|| (RoaringTreemap::new(), 0))
                        .0 |= part;
                }
            }
            Ok::<_, pgrx::spi::Error>(())
        }),
        "combining activity rollups",
    );
    if rebuild {
        store(
            ANY,
            &[],
            Some((Tstz::negative_infinity(), Tstz::positive_infinity())),
            &computed,
            through,
        );
    } else {
        store(ANY, &hours, None, &computed, through);
    }
    spi(
        Spi::run_with_args(
            "INSERT INTO mking_analytics.rollup_state (source_name, signature, through, refreshed_at) VALUES ($1, $2, $3, now())
             ON CONFLICT (source_name) DO UPDATE SET signature = EXCLUDED.signature, through = EXCLUDED.through, refreshed_at = now()",
            &[DatumWithOid::from(ANY), DatumWithOid::from(signature), through.into()],
        ),
        "advancing the combined rollup",
    );
    let days: std::collections::BTreeSet<i64> =
        computed.keys().map(|h| h.div_euclid(24 * HOUR)).collect();
    Some((
        ANY.to_string(),
        if rebuild { "built" } else { "refreshed" }.to_string(),
        computed.len() as i64,
        days.len() as i64,
        0,
    ))
}

/// Per device: sessions, users, and sums/counts of time spent and page views.
#[derive(Default, Clone)]
pub struct DeviceTotals {
    pub sessions: i64,
    pub users: RoaringTreemap,
    pub time_sum: i64,
    pub time_n: i64,
    pub views_sum: i64,
    pub views_n: i64,
}

impl DeviceTotals {
    fn add(&mut self, o: &DeviceTotals) {
        self.sessions += o.sessions;
        self.users |= &o.users;
        self.time_sum += o.time_sum;
        self.time_n += o.time_n;
        self.views_sum += o.views_sum;
        self.views_n += o.views_n;
    }
}

/// SQL of device totals of the session source per `group` (an SQL expression list ending in
/// the device), over rows matching `filter`. Duplicates (same user, session, time) count once,
/// keeping the same row whichever path reads them.
pub fn device_sql(s: &Source, hour_group: bool, filter: &str) -> String {
    let col = |role: &str, ty: &str| {
        s.column(role)
            .map_or(format!("NULL::{ty}"), |c| format!("e.{c}::{ty}"))
    };
    let target = s
        .target
        .as_ref()
        .map_or("NULL::int".to_string(), |t| format!("e.{t}"));
    format!(
        "SELECT {hour} d.device, count(*), array_agg(DISTINCT d.uid) FILTER (WHERE d.uid IS NOT NULL),
                coalesce(sum(d.ts), 0)::bigint, count(d.ts), coalesce(sum(d.pv), 0)::bigint, count(d.pv)
           FROM (SELECT DISTINCT ON (e.{user}, {target}, e.{time}) e.{user}::bigint AS uid, {abs} AS at,
                        coalesce({device}, 'unknown') AS device, {ts} AS ts, {pv} AS pv
                   FROM {rel} e WHERE {filter}
                  ORDER BY e.{user}, {target}, e.{time}, 3, 4, 5) d
          GROUP BY {group} d.device",
        hour = if hour_group { "date_trunc('hour', d.at, 'UTC')," } else { "" },
        group = if hour_group { "1," } else { "" },
        user = s.user,
        time = s.time,
        abs = s.abs_time("e"),
        device = col("device_type", "text"),
        ts = col("time_spent", "bigint"),
        pv = col("page_views", "bigint"),
        rel = s.rel,
    )
}

fn device_row(
    r: &pgrx::spi::SpiHeapTupleData,
    first: usize,
) -> Result<(String, DeviceTotals), pgrx::spi::Error> {
    Ok((
        r.get::<String>(first)?.unwrap_or_else(|| "unknown".into()),
        DeviceTotals {
            sessions: r.get::<i64>(first + 1)?.unwrap_or(0),
            users: r
                .get::<Vec<i64>>(first + 2)?
                .unwrap_or_default()
                .into_iter()
                .map(user_key)
                .collect(),
            time_sum: r.get::<i64>(first + 3)?.unwrap_or(0),
            time_n: r.get::<i64>(first + 4)?.unwrap_or(0),
            views_sum: r.get::<i64>(first + 5)?.unwrap_or(0),
            views_n: r.get::<i64>(first + 6)?.unwrap_or(0),
        },
    ))
}

/// Device totals of sessions in `[from, to)`: whole hours from the rollup where it is current,
/// the partial hours at the edges and changed hours from the raw table.
pub fn device_totals(s: &Source, from: Tstz, to: Tstz) -> BTreeMap<String, DeviceTotals> {
    let mut out: BTreeMap<String, DeviceTotals> = BTreeMap::new();
    let lo_h = tstz(
        micros(from).div_euclid(HOUR) * HOUR
            + if micros(from).rem_euclid(HOUR) == 0 {
                0
            } else {
                HOUR
            },
    );
    let hi_h = tstz(micros(to).div_euclid(HOUR) * HOUR);
    let mut raw: Vec<(Tstz, Tstz)> = Vec::new();
    let planned = if micros(lo_h) < micros(hi_h) {
        plan(s, lo_h, hi_h, &[lo_h, hi_h])
    } else {
        None
    };
    match planned {
        Some(p) => {
            spi(
                Spi::connect(|client| {
                    for r in client.select(
                        "SELECT device_type, sessions, users, time_spent_sum, time_spent_n, page_views_sum, page_views_n
                           FROM mking_analytics.rollup_device_hours
                          WHERE hour >= $1 AND hour < $2 AND hour <> ALL ($3::timestamptz[])",
                        None,
                        &[p.lo.into(), p.rolled_hi.into(), DatumWithOid::from(p.dirty.clone())],
                    )? {
                        let device = r.get::<String>(1)?.unwrap_or_default();
                        let users = decode(&r.get::<Vec<u8>>(3)?.unwrap_or_default()).unwrap_or_else(|e| {
                            crate::errors::raise(
                                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                                format!("device rollup is unreadable: {e}"),
                                "Rebuild: SELECT mking_analytics.remove_change_capture(); SELECT mking_analytics.schedule();",
                            )
                        });
                        out.entry(device).or_default().add(&DeviceTotals {
                            sessions: r.get::<i64>(2)?.unwrap_or(0),
                            users,
                            time_sum: r.get::<i64>(4)?.unwrap_or(0),
                            time_n: r.get::<i64>(5)?.unwrap_or(0),
                            views_sum: r.get::<i64>(6)?.unwrap_or(0),
                            views_n: r.get::<i64>(7)?.unwrap_or(0),
                        });
                    }
                    Ok::<_, pgrx::spi::Error>(())
                }),
                "reading device rollups",
            );
            raw.extend(p.raw);
            if micros(from) < micros(lo_h) {
                raw.push((from, lo_h));
            }
            if micros(hi_h) < micros(to) {
                raw.push((hi_h, to));
            }
        }
        None => raw.push((from, to)),
    }
    let sql = device_sql(s, false, &s.time_filter("e", "$3", "$4"));
    for (a, b) in raw {
        spi(
            Spi::connect(|client| {
                for r in client.select(&sql, None, &source_args([a.into(), b.into()]))? {
                    let (device, t) = device_row(&r, 1)?;
                    out.entry(device).or_default().add(&t);
                }
                Ok::<_, pgrx::spi::Error>(())
            }),
            "reading sessions",
        );
    }
    out
}

/// Recomputes the device rollup for `hours` (all hours before `until` when `hours` is None).
fn refresh_devices(s: &Source, hours: Option<&[Tstz]>, until: Tstz) {
    let (filter, arg, wipe) = match hours {
        Some(h) => (
            format!(
                "EXISTS (SELECT 1 FROM unnest($3::timestamptz[]) AS x(h) WHERE {})",
                s.time_filter("e", "x.h", "(x.h + interval '1 hour')")
            ),
            DatumWithOid::from(h.to_vec()),
            "DELETE FROM mking_analytics.rollup_device_hours WHERE hour = ANY ($1::timestamptz[])",
        ),
        None => (
            s.time_before("e", "($3::timestamptz[])[1]"),
            DatumWithOid::from(vec![until]),
            "DELETE FROM mking_analytics.rollup_device_hours WHERE $1::timestamptz[] IS NOT NULL",
        ),
    };
    let wipe_arg = DatumWithOid::from(hours.map(|h| h.to_vec()).unwrap_or_default());
    spi(
        Spi::run_with_args(wipe, &[wipe_arg]),
        "replacing device rollups",
    );
    let sql = device_sql(s, true, &filter);
    let mut rows: Vec<(Tstz, String, DeviceTotals)> = Vec::new();
    spi(
        Spi::connect(|client| {
            for r in client.select(&sql, None, &source_args([arg]))? {
                if let Some(h) = r.get::<Tstz>(1)? {
                    let (device, t) = device_row(&r, 2)?;
                    rows.push((h, device, t));
                }
            }
            Ok::<_, pgrx::spi::Error>(())
        }),
        "computing device rollups",
    );
    let hours: Vec<Tstz> = rows.iter().map(|r| r.0).collect();
    let devices: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let col = |f: fn(&DeviceTotals) -> i64| -> Vec<i64> { rows.iter().map(|r| f(&r.2)).collect() };
    let users: Vec<Vec<u8>> = rows.iter().map(|r| encode(&r.2.users)).collect();
    spi(
        Spi::run_with_args(
            "INSERT INTO mking_analytics.rollup_device_hours
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bytea[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])",
            &[
                DatumWithOid::from(hours),
                DatumWithOid::from(devices),
                DatumWithOid::from(col(|t| t.sessions)),
                DatumWithOid::from(users),
                DatumWithOid::from(col(|t| t.time_sum)),
                DatumWithOid::from(col(|t| t.time_n)),
                DatumWithOid::from(col(|t| t.views_sum)),
                DatumWithOid::from(col(|t| t.views_n)),
            ],
        ),
        "storing device rollups",
    );
}

/// Sources whose per-target totals are kept (their target is an integer post or user id).
const TOTALS_SOURCES: [&str; 4] = ["comment", "follow", "like", "share"];

/// Integer targets with rows in `hours` now, plus those logged as removed or changed.
fn touched_targets(s: &Source, hours: &[Tstz], logged: &[i64]) -> Vec<i64> {
    let Some(target) = s.target.clone() else {
        return Vec::new();
    };
    let found_sql = format!(
        "SELECT array_agg(DISTINCT e.{target}::bigint) FROM {rel} e
          WHERE e.{target} IS NOT NULL AND EXISTS (SELECT 1 FROM unnest($3::timestamptz[]) AS x(h) WHERE {f})",
        rel = s.rel,
        f = s.time_filter("e", "x.h", "(x.h + interval '1 hour')"),
    );
    let mut affected: Vec<i64> = if hours.is_empty() {
        Vec::new()
    } else {
        spi(
            Spi::get_one_with_args::<Vec<i64>>(
                &found_sql,
                &source_args([DatumWithOid::from(hours.to_vec())]),
            ),
            "finding touched targets",
        )
        .unwrap_or_default()
    };
    affected.extend_from_slice(logged);
    affected.sort_unstable();
    affected.dedup();
    affected
}

/// Recomputes per-target totals (events and distinct actors before `until`) for `affected`
/// targets, or for every target when `affected` is None.
fn refresh_totals(s: &Source, affected: Option<&[i64]>, until: Tstz) {
    if !TOTALS_SOURCES.contains(&s.name.as_str()) {
        return;
    }
    let Some(target) = s.target.clone() else {
        return;
    };
    let name = || DatumWithOid::from(s.name.clone());
    let totals_sql = |restrict: &str| {
        format!(
            "INSERT INTO mking_analytics.rollup_target_totals (source_name, target, events, actors)
             SELECT $1, d.g::bigint, count(*), count(DISTINCT d.u) FROM (
                 SELECT DISTINCT {key} FROM {rel} e WHERE e.{target} IS NOT NULL AND {before} {restrict}) d
              GROUP BY d.g",
            key = s.dedup_select("e"),
            rel = s.rel,
            before = s.time_before("e", "($3::timestamptz[])[1]"),
        )
    };
    let base = [
        name(),
        DatumWithOid::from(gucs::source_timezone()),
        DatumWithOid::from(vec![until]),
    ];
    match affected {
        None => {
            spi(
                Spi::run_with_args(
                    "DELETE FROM mking_analytics.rollup_target_totals WHERE source_name = $1",
                    &[name()],
                ),
                "replacing totals",
            );
            spi(
                Spi::run_with_args(&totals_sql(""), &base),
                "computing totals",
            );
        }
        Some(affected) if affected.is_empty() => {}
        Some(affected) => {
            spi(
                Spi::run_with_args(
                    "DELETE FROM mking_analytics.rollup_target_totals WHERE source_name = $1 AND target = ANY ($2::bigint[])",
                    &[name(), DatumWithOid::from(affected.to_vec())],
                ),
                "replacing totals",
            );
            let [a, b, c] = base;
            spi(
                Spi::run_with_args(
                    &totals_sql(&format!("AND e.{target}::bigint = ANY ($4::bigint[])")),
                    &[a, b, c, DatumWithOid::from(affected.to_vec())],
                ),
                "computing totals",
            );
        }
    }
}

/// Recomputes the post-level rollup (posts published before `until` with their likes,
/// comments and shares from the totals) for `affected` posts, or all when None.
fn refresh_posts(sources: &Sources, affected: Option<&[i64]>, until: Tstz) {
    let Some(post) = sources.get("post") else {
        return;
    };
    let Some(id) = post.target.clone() else {
        return;
    };
    let ctype = post
        .column("content_type")
        .map_or("NULL::text".to_string(), |c| format!("e.{c}::text"));
    let restrict = if affected.is_some() {
        format!("AND e.{id}::bigint = ANY ($4::bigint[])")
    } else {
        String::new()
    };
    let sql = format!(
        "INSERT INTO mking_analytics.rollup_posts (post_id, author_id, content_type, created_at, likes, comments, shares)
         SELECT p.post_id, p.author_id, p.content_type, p.created_at,
                coalesce(l.events, 0), coalesce(c.events, 0), coalesce(s.events, 0)
           FROM (SELECT DISTINCT ON (e.{id}) e.{id}::bigint AS post_id, e.{user}::bigint AS author_id,
                        {ctype} AS content_type, {abs} AS created_at
                   FROM {rel} e WHERE e.{id} IS NOT NULL AND {before} {restrict}
                  ORDER BY e.{id}, {abs}) p
           LEFT JOIN mking_analytics.rollup_target_totals l ON l.source_name = 'like' AND l.target = p.post_id
           LEFT JOIN mking_analytics.rollup_target_totals c ON c.source_name = 'comment' AND c.target = p.post_id
           LEFT JOIN mking_analytics.rollup_target_totals s ON s.source_name = 'share' AND s.target = p.post_id",
        user = post.user,
        abs = post.abs_time("e"),
        rel = post.rel,
        before = post.time_before("e", "($3::timestamptz[])[1]"),
    );
    match affected {
        None => {
            spi(
                Spi::run("DELETE FROM mking_analytics.rollup_posts"),
                "replacing the post rollup",
            );
            spi(
                Spi::run_with_args(&sql, &source_args([DatumWithOid::from(vec![until])])),
                "computing the post rollup",
            );
        }
        Some(a) if a.is_empty() => {}
        Some(a) => {
            spi(
                Spi::run_with_args(
                    "DELETE FROM mking_analytics.rollup_posts WHERE post_id = ANY ($1::bigint[])",
                    &[DatumWithOid::from(a.to_vec())],
                ),
                "replacing the post rollup",
            );
            spi(
                Spi::run_with_args(
                    &sql,
                    &source_args([
                        DatumWithOid::from(vec![until]),
                        DatumWithOid::from(a.to_vec()),
                    ]),
                ),
                "computing the post rollup",
            );
        }
    }
}

/// The watermark of `source` when its rollups are current: rollups on, built for the source's
/// present definition, and no hour before the watermark changed since the refresh (so totals
/// through it equal the raw tables' counts of events before it).
fn current_through(source: &Source) -> Option<Tstz> {
    if !gucs::USE_ROLLUPS.get() {
        return None;
    }
    optional_tstz(
        "SELECT st.through FROM mking_analytics.rollup_state st JOIN mking_analytics.sources s USING (source_name)
          WHERE st.source_name = $1 AND st.signature = mking_analytics.rollup_signature(s, $2) AND st.through IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM mking_analytics.rollup_changes c WHERE c.source_name = $1 AND c.hour < st.through)",
        &[DatumWithOid::from(source.name.clone()), DatumWithOid::from(gucs::source_timezone())],
    )
}

/// The watermark of `source` when its rollups answer a read up to `to` exactly: no hour before
/// the watermark changed since the refresh, and either `to` is at or after the watermark or no
/// event of the source lies in `[to, watermark)`.
fn current_watermark(source: &Source, to: Tstz) -> Option<Tstz> {
    let through = current_through(source)?;
    if micros(to) < micros(through) {
        let later = spi(
            Spi::get_one_with_args::<bool>(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {} e WHERE {})",
                    source.rel,
                    source.time_filter("e", "$3", "$4")
                ),
                &source_args([to.into(), through.into()]),
            ),
            "checking for later events",
        )
        .unwrap_or(true);
        if later {
            return None;
        }
    }
    Some(through)
}

pub fn watermark_sql(source: &Source) -> String {
    format!(
        "(SELECT through FROM mking_analytics.rollup_state WHERE source_name = {})",
        pgrx::spi::quote_literal(&source.name)
    )
}

/// The post-level rollup answers reads up to any `to` when the post source and the like,
/// comment and share sources are all current with one common watermark: counts before `to` are
/// the rollup's counts through the watermark plus the events in `[watermark, to)`, or minus
/// those in `[to, watermark)` (see `signed_since_sql`). Returns SQL for the watermark.
pub fn posts_watermark_sql(sources: &Sources) -> Option<(String, [Source; 3])> {
    let post = sources.get("post")?;
    let w = current_through(&post)?;
    let mut parts = Vec::new();
    for name in ["like", "comment", "share"] {
        let s = sources.get(name)?;
        if current_through(&s).map(micros) != Some(micros(w)) {
            return None;
        }
        parts.push(s);
    }
    let parts: [Source; 3] = parts.try_into().ok()?;
    Some((watermark_sql(&post), parts))
}

/// SQL for the watermark of `source`'s per-target totals when they answer a read up to `to`
/// exactly (see `current_watermark`), read in the caller's (same) snapshot.
pub fn totals_watermark_sql(source: &Source, to: Tstz) -> Option<String> {
    if !TOTALS_SOURCES.contains(&source.name.as_str()) {
        return None;
    }
    current_watermark(source, to).map(|_| watermark_sql(source))
}

/// SQL for the watermark of `source`'s per-target totals when they are current (see
/// `current_through`), for reads up to any `to` through `signed_since_sql`.
pub fn totals_through_sql(source: &Source) -> Option<String> {
    if !TOTALS_SOURCES.contains(&source.name.as_str()) {
        return None;
    }
    current_through(source).map(|_| watermark_sql(source))
}

/// Converts counts through the watermark `mark` into counts before `to`, exactly: the
/// deduplication key (user, target, time) holds the time, so the keys before `to` are the keys
/// before the watermark plus those in `[mark, to)` when `to` is later, or minus those in
/// `[to, mark)` when it is earlier. Returns (filter on `alias` for the events between the two,
/// the sign their count takes: 1 or -1).
pub fn signed_since_sql(source: &Source, alias: &str, mark: &str, to: &str) -> (String, String) {
    (
        source.time_filter(
            alias,
            &format!("least({to}, {mark})"),
            &format!("greatest({to}, {mark})"),
        ),
        format!("(CASE WHEN {to} >= {mark} THEN 1 ELSE -1 END)"),
    )
}
