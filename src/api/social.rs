//! Social interaction: follows, interactions by type, most-followed users, top contributors,
//! and the device breakdown of sessions.

use super::content::args;
use super::per_period;
use super::{non_negative, numeric, prepare};
use crate::calendar::Period;
use crate::data::Span;
use crate::errors::{bad_argument, spi};
use crate::kernels::numbers::{hundredths, percent_hundredths};
use crate::sources::{Source, Sources};
use pgrx::prelude::*;
use pgrx::AnyNumeric;

type Tstz = TimestampWithTimeZone;

/// Per bucket of the span: (events with duplicates removed, distinct acting users) of a source,
/// from the rollups where they cover the span.
fn events_and_users(span: &Span, source: Option<Source>) -> Vec<(i64, i64)> {
    let events = span.event_counts(source.as_ref());
    let users = span.active_sets(source.as_slice());
    (span.first..=span.last)
        .zip(events)
        .map(|(i, n)| (n, users.get(i).len() as i64))
        .collect()
}

/// New follows per bucket, with the number of distinct users who followed someone.
#[pg_extern(stable, parallel_restricted)]
pub fn follow_trend(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    bucket: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(time, Tstz),
        name!(follows, i64),
        name!(followers, i64),
    ),
> {
    let period = Period::parse("bucket", bucket);
    let call = prepare(from_ts, to_ts, tz);
    TableIterator::new(per_period(&call, period, 0, |span, lo, hi| {
        let counts = events_and_users(&span, Sources::load().get("follow"));
        (lo..=hi)
            .zip(counts)
            .map(|(i, (n, a))| (span.start(i), n, a))
            .collect()
    }))
}

/// Likes, comments, shares and follows per bucket: one row per bucket and type.
#[pg_extern(stable, parallel_restricted)]
pub fn interaction_trend(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    bucket: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(time, Tstz),
        name!(interaction_type, String),
        name!(interactions, i64),
        name!(users, i64),
    ),
> {
    let period = Period::parse("bucket", bucket);
    let call = prepare(from_ts, to_ts, tz);
    TableIterator::new(per_period(&call, period, 0, |span, lo, hi| {
        let sources = Sources::load();
        let types = ["comment", "follow", "like", "share"];
        let per_type: Vec<Vec<(i64, i64)>> = types
            .iter()
            .map(|t| events_and_users(&span, sources.get(t)))
            .collect();
        let mut rows = Vec::new();
        for i in lo..=hi {
            for (k, t) in types.iter().enumerate() {
                let (n, users) = per_type[k][(i - lo) as usize];
                rows.push((span.start(i), t.to_string(), n, users));
            }
        }
        rows
    }))
}

type FollowedRow = (i64, Option<String>, i64, i64, i64, String);

/// The most-followed users as of `to_ts`, with a class by follower count.
#[pg_extern(stable, parallel_restricted)]
pub fn most_followed(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    top: default!(Option<i32>, "20"),
    influencer_above: default!(Option<i32>, "1000"),
    active_above: default!(Option<i32>, "100"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(user_id, i64),
        name!(username, Option<String>),
        name!(followers, i64),
        name!(following, i64),
        name!(new_followers, i64),
        name!(class, String),
    ),
> {
    let top = non_negative("top", top);
    let influencer = non_negative("influencer_above", influencer_above);
    let active = non_negative("active_above", active_above);
    if active > influencer {
        bad_argument(
            format!("invalid active_above {active}: must not exceed influencer_above {influencer}"),
            "Classes: influencer above influencer_above followers, active above active_above, else regular.",
        );
    }
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let Some(f) = sources.get("follow") else {
        return TableIterator::empty();
    };
    let Some(target) = f.target.clone() else {
        return TableIterator::empty();
    };
    let (name_sql, join) = super::content::username_join(&sources, "top.user_id");
    // Followers as of to_ts; `top` is (user_id, followers) for the leaders.
    let top_sql = match crate::rollups::totals_watermark_sql(&f, call.to) {
        // Totals before the watermark plus followers new since it. Candidates: the leaders by
        // totals, as many more as users gained followers since, and those users: exact.
        Some(mark) => format!(
            "WITH tail AS (SELECT DISTINCT e.{user}::bigint AS a, e.{target}::bigint AS b FROM {rel} e
                            WHERE e.{user} IS NOT NULL AND e.{target} IS NOT NULL AND {tail_filter}),
                  tail_new AS (SELECT t.b, count(*) AS n FROM tail t
                                WHERE NOT EXISTS (SELECT 1 FROM {rel} x WHERE x.{user} = t.a AND x.{target} = t.b AND {before_mark})
                                GROUP BY t.b),
                  cand AS (SELECT c.target AS b FROM (SELECT target FROM mking_analytics.rollup_target_totals
                                                      WHERE source_name = {lit} ORDER BY actors DESC, target
                                                      LIMIT {top} + (SELECT count(*) FROM tail_new)) c
                           UNION SELECT b FROM tail_new)
             SELECT c.b AS user_id,
                    coalesce((SELECT t.actors FROM mking_analytics.rollup_target_totals t WHERE t.source_name = {lit} AND t.target = c.b), 0)
                    + coalesce((SELECT n.n FROM tail_new n WHERE n.b = c.b), 0) AS followers
               FROM cand c ORDER BY 2 DESC, 1 LIMIT {top}",
            user = f.user,
            rel = f.rel,
            tail_filter = f.time_filter("e", &mark, "$4"),
            before_mark = f.time_before("x", &mark),
            lit = pgrx::spi::quote_literal(&f.name),
        ),
        None => format!(
            "SELECT d.b AS user_id, count(DISTINCT d.a) AS followers
               FROM (SELECT e.{user}::bigint AS a, e.{target}::bigint AS b FROM {rel} e
                      WHERE e.{user} IS NOT NULL AND e.{target} IS NOT NULL AND {before}) d
              GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {top}",
            user = f.user,
            rel = f.rel,
            before = f.time_before("e", "$4"),
        ),
    };
    let sql = format!(
        "WITH top AS ({top_sql})
         SELECT top.user_id, {name_sql}, top.followers,
                (SELECT count(DISTINCT x.{target}) FROM {rel} x WHERE x.{user} = top.user_id AND {before_x}),
                (SELECT count(DISTINCT x.{user}) FROM {rel} x WHERE x.{target} = top.user_id AND {range_x}),
                CASE WHEN top.followers > {influencer} THEN 'influencer'
                     WHEN top.followers > {active} THEN 'active' ELSE 'regular' END
           FROM top {join}
          ORDER BY top.followers DESC, top.user_id",
        user = f.user,
        rel = f.rel,
        before_x = f.time_before("x", "$4"),
        range_x = f.time_filter("x", "$3", "$4"),
    );
    let rows: Vec<FollowedRow> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(&sql, None, &args(&call))? {
                out.push((
                    r.get::<i64>(1)?.unwrap_or_default(),
                    r.get(2)?,
                    r.get::<i64>(3)?.unwrap_or(0),
                    r.get::<i64>(4)?.unwrap_or(0),
                    r.get::<i64>(5)?.unwrap_or(0),
                    r.get::<String>(6)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "ranking followed users",
    );
    TableIterator::new(rows)
}

type ContributorRow = (i64, Option<String>, i64, i64, i64, i64, i64);

/// The users who did the most in the range: posts, comments, likes and shares they made.
#[pg_extern(stable, parallel_restricted)]
pub fn top_contributors(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    top: default!(Option<i32>, "20"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(user_id, i64),
        name!(username, Option<String>),
        name!(posts, i64),
        name!(comments, i64),
        name!(likes_received, i64),
        name!(followers, i64),
        name!(activity, i64),
    ),
> {
    let top = non_negative("top", top);
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    // Each part: (user, kind, n) with duplicates removed.
    let mut parts = Vec::new();
    for (name, kind) in [
        ("post", "posts"),
        ("comment", "comments"),
        ("like", "likes"),
        ("share", "shares"),
    ] {
        if let Some(s) = sources.get(name) {
            parts.push(format!(
                "SELECT d.u::bigint AS uid, '{kind}' AS kind, count(*) AS n FROM (SELECT DISTINCT {key} FROM {rel} e WHERE e.{user} IS NOT NULL AND {filter}) d GROUP BY 1",
                key = s.dedup_select("e"),
                rel = s.rel,
                user = s.user,
                filter = s.time_filter("e", "$3", "$4"),
            ));
        }
    }
    if parts.is_empty() {
        return TableIterator::empty();
    }
    let received = match (sources.get("like"), sources.get("post")) {
        (Some(l), Some(p)) if l.target.is_some() && p.target.is_some() => format!(
            "SELECT p.{pu}::bigint AS uid, 'likes_received' AS kind, count(*) AS n
               FROM (SELECT DISTINCT {key} FROM {lrel} e WHERE {filter}) d
               JOIN {prel} p ON p.{pid} = d.g GROUP BY 1",
            pu = p.user,
            key = l.dedup_select("e"),
            lrel = l.rel,
            filter = l.time_filter("e", "$3", "$4"),
            prel = p.rel,
            pid = p.target.as_deref().unwrap_or_default(),
        ),
        _ => "SELECT NULL::bigint, NULL::text, NULL::bigint WHERE false".into(),
    };
    let followers = match sources.get("follow") {
        Some(f) if f.target.is_some() => format!(
            "SELECT e.{t}::bigint AS uid, 'followers' AS kind, count(DISTINCT e.{u}) AS n FROM {rel} e WHERE {before} GROUP BY 1",
            t = f.target.as_deref().unwrap_or_default(),
            u = f.user,
            rel = f.rel,
            before = f.time_before("e", "$4"),
        ),
        _ => "SELECT NULL::bigint, NULL::text, NULL::bigint WHERE false".into(),
    };
    let (name_sql, join) = super::content::username_join(&sources, "c.uid");
    let sql = format!(
        "WITH made AS ({made}),
              c AS (SELECT uid,
                           coalesce(sum(n) FILTER (WHERE kind = 'posts'), 0)::bigint AS posts,
                           coalesce(sum(n) FILTER (WHERE kind = 'comments'), 0)::bigint AS comments,
                           sum(n)::bigint AS activity
                      FROM made GROUP BY uid ORDER BY activity DESC, uid LIMIT {top}),
              extra AS (SELECT * FROM ({received}) r WHERE r.uid IN (SELECT uid FROM c)
                        UNION ALL SELECT * FROM ({followers}) f WHERE f.uid IN (SELECT uid FROM c))
         SELECT c.uid, {name_sql}, c.posts, c.comments,
                coalesce((SELECT sum(n) FROM extra WHERE extra.uid = c.uid AND kind = 'likes_received'), 0)::bigint,
                coalesce((SELECT sum(n) FROM extra WHERE extra.uid = c.uid AND kind = 'followers'), 0)::bigint,
                c.activity
           FROM c {join}
          ORDER BY c.activity DESC, c.uid",
        made = parts.join(" UNION ALL "),
    );
    let rows: Vec<ContributorRow> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(&sql, None, &args(&call))? {
                out.push((
                    r.get::<i64>(1)?.unwrap_or_default(),
                    r.get(2)?,
                    r.get::<i64>(3)?.unwrap_or(0),
                    r.get::<i64>(4)?.unwrap_or(0),
                    r.get::<i64>(5)?.unwrap_or(0),
                    r.get::<i64>(6)?.unwrap_or(0),
                    r.get::<i64>(7)?.unwrap_or(0),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "ranking contributors",
    );
    TableIterator::new(rows)
}

type DeviceRow = (
    Option<String>,
    i64,
    i64,
    Option<AnyNumeric>,
    Option<AnyNumeric>,
    Option<AnyNumeric>,
);

/// Sessions by device type in the range: sessions, users, average time spent and page views,
/// and each device's share of sessions.
#[pg_extern(stable, parallel_restricted)]
pub fn devices(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(device_type, Option<String>),
        name!(sessions, i64),
        name!(users, i64),
        name!(avg_time_spent, Option<AnyNumeric>),
        name!(avg_page_views, Option<AnyNumeric>),
        name!(session_share, Option<AnyNumeric>),
    ),
> {
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let Some(s) = sources.get("session") else {
        return TableIterator::empty();
    };
    let totals = crate::rollups::device_totals(&s, call.from, call.to);
    let all: i64 = totals.values().map(|t| t.sessions).sum();
    let mut rows: Vec<DeviceRow> = totals
        .into_iter()
        .map(|(device, t)| {
            (
                Some(device),
                t.sessions,
                t.users.len() as i64,
                numeric(hundredths(t.time_sum as i128, t.time_n as i128)),
                numeric(hundredths(t.views_sum as i128, t.views_n as i128)),
                numeric(percent_hundredths(t.sessions, all)),
            )
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    TableIterator::new(rows)
}
