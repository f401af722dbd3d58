//! Content performance: publishing trend, top content, content types, engagement trend.
//!
//! Engagement of a post = its likes, comments and shares (each deduplicated by user, post and
//! time); `engagement_score` = likes + 2 × comments + 3 × shares, a missing part counting 0.

use super::per_period;
use super::prepare;
use crate::calendar::{show, Period};
use crate::errors::{bad_argument, raise, spi};
use crate::sources::Sources;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::AnyNumeric;

type Tstz = TimestampWithTimeZone;

/// Posts and distinct authors per bucket.
#[pg_extern(stable, parallel_restricted)]
pub fn content_trend(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    bucket: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(time, Tstz), name!(posts, i64), name!(authors, i64))> {
    let period = Period::parse("bucket", bucket);
    let call = prepare(from_ts, to_ts, tz);
    TableIterator::new(per_period(&call, period, 0, |span, lo, hi| {
        let sources = Sources::load();
        let post = sources.get("post");
        let posts = span.event_counts(post.as_ref());
        let authors = span.active_sets(post.as_slice());
        (lo..=hi)
            .map(|i| {
                (
                    span.start(i),
                    posts[(i - lo) as usize],
                    authors.get(i).len() as i64,
                )
            })
            .collect()
    }))
}

/// Posts, likes, comments and shares per bucket.
#[pg_extern(stable, parallel_restricted)]
pub fn engagement_trend(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    bucket: default!(Option<&str>, "'day'"),
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(time, Tstz),
        name!(posts, i64),
        name!(likes, i64),
        name!(comments, i64),
        name!(shares, i64),
    ),
> {
    let period = Period::parse("bucket", bucket);
    let call = prepare(from_ts, to_ts, tz);
    TableIterator::new(per_period(&call, period, 0, |span, lo, hi| {
        let sources = Sources::load();
        let c = |name: &str| span.event_counts(sources.get(name).as_ref());
        let (p, l, cm, s) = (c("post"), c("like"), c("comment"), c("share"));
        (lo..=hi)
            .map(|i| {
                let o = (i - lo) as usize;
                (span.start(i), p[o], l[o], cm[o], s[o])
            })
            .collect()
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Counts {
    Events,
    Counters,
}

fn parse_counts(counts: Option<&str>) -> Counts {
    match counts.map(|c| c.trim().to_ascii_lowercase()).as_deref() {
        Some("events") => Counts::Events,
        Some("counters") => Counts::Counters,
        _ => bad_argument(
            format!("invalid counts {}: accepted values are 'events', 'counters'", show(counts)),
            "'events' counts rows of the like, comment and share sources; 'counters' reads the post's like_count, comment_count and share_count columns.",
        ),
    }
}

/// SQL yielding one row per post published in `[$3, $4)`: post_id, author_id, title,
/// content_type, created_at, likes, comments, shares (interactions before `$4`).
fn post_engagement_sql(sources: &Sources, counts: Counts) -> Option<String> {
    let post = sources.get("post")?;
    let Some(id) = post.target.clone() else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "source \"post\" has no target_column: content analytics need the post id column".into(),
            "SELECT mking_analytics.set_source('post', 'public.posts', 'user_id', 'created_at', 'id', ...).",
        );
    };
    let opt = |role: &str, ty: &str| {
        post.column(role)
            .map_or(format!("NULL::{ty}"), |c| format!("e.{c}::{ty}"))
    };
    if counts == Counts::Events {
        if let Some(fast) = posts_rollup_sql(sources, &post, &id) {
            return Some(fast);
        }
    }
    let base = format!(
        "SELECT DISTINCT ON (e.{id}) e.{id}::bigint AS post_id, e.{user}::bigint AS author_id, {title} AS title,
                {ctype} AS content_type, {abs} AS created_at{counters}
           FROM {rel} e WHERE e.{id} IS NOT NULL AND {filter}
          ORDER BY e.{id}, {abs}",
        user = post.user,
        title = opt("title", "text"),
        ctype = opt("content_type", "text"),
        abs = post.abs_time("e"),
        counters = if counts == Counts::Counters {
            format!(
                ", coalesce({}, 0) AS c_like, coalesce({}, 0) AS c_comment, coalesce({}, 0) AS c_share",
                opt("like_count", "bigint"),
                opt("comment_count", "bigint"),
                opt("share_count", "bigint")
            )
        } else {
            String::new()
        },
        rel = post.rel,
        filter = post.time_filter("e", "$3", "$4"),
    );
    let interactions = |name: &str| -> String {
        match (counts, sources.get(name)) {
            (Counts::Counters, _) => format!("SELECT post_id, c_{name} AS n FROM p"),
            (Counts::Events, Some(s)) if s.target.is_some() => {
                let raw = |filter: String, sign: &str| {
                    format!(
                        "SELECT d.g::bigint AS post_id, count(*) * {sign} AS n FROM (SELECT DISTINCT {key} FROM {rel} p2 JOIN p ON p.post_id = p2.{t}
                           WHERE {filter}) d GROUP BY 1",
                        key = s.dedup_select("p2"),
                        rel = s.rel,
                        t = s.target.as_deref().unwrap_or_default(),
                    )
                };
                match crate::rollups::totals_through_sql(&s) {
                    // Totals before the watermark, plus the raw rows since it up to `to`, or
                    // minus those from `to` up to it.
                    Some(mark) => {
                        let (between, sign) =
                            crate::rollups::signed_since_sql(&s, "p2", &mark, "$4");
                        format!(
                            "SELECT post_id, sum(n)::bigint AS n FROM (
                                SELECT t.target AS post_id, t.events AS n FROM mking_analytics.rollup_target_totals t
                                  JOIN p ON p.post_id = t.target WHERE t.source_name = {name}
                                UNION ALL {tail}) x GROUP BY post_id",
                            name = pgrx::spi::quote_literal(&s.name),
                            tail = raw(between, &sign),
                        )
                    }
                    None => raw(s.time_before("p2", "$4"), "1"),
                }
            }
            _ => "SELECT NULL::bigint AS post_id, 0::bigint AS n WHERE false".to_string(),
        }
    };
    Some(format!(
        "WITH p AS ({base}),
              l AS ({}), c AS ({}), s AS ({})
         SELECT p.post_id, p.author_id, p.title, p.content_type, p.created_at,
                coalesce(l.n, 0) AS likes, coalesce(c.n, 0) AS comments, coalesce(s.n, 0) AS shares
           FROM p LEFT JOIN l USING (post_id) LEFT JOIN c USING (post_id) LEFT JOIN s USING (post_id)",
        interactions("like"),
        interactions("comment"),
        interactions("share"),
    ))
}

/// The post-level rollup's version of `post_engagement_sql`: posts published before the
/// watermark from `rollup_posts`, later ones from the raw table, plus the likes, comments and
/// shares since the watermark (or minus those from `to` up to the watermark when `to` is
/// earlier: a past period's report). Titles are left NULL (looked up for the rows shown only).
fn posts_rollup_sql(sources: &Sources, post: &crate::sources::Source, id: &str) -> Option<String> {
    let (mark, parts) = crate::rollups::posts_watermark_sql(sources)?;
    let ctype = post
        .column("content_type")
        .map_or("NULL::text".to_string(), |c| format!("e.{c}::text"));
    let since = |s: &crate::sources::Source| {
        let (between, sign) =
            crate::rollups::signed_since_sql(s, "e", &crate::rollups::watermark_sql(s), "$4");
        format!(
            "SELECT d.g::bigint AS post_id, count(*) * {sign} AS n FROM (SELECT DISTINCT {key} FROM {rel} e WHERE {between}) d GROUP BY 1",
            key = s.dedup_select("e"),
            rel = s.rel,
        )
    };
    Some(format!(
        "WITH tail_posts AS (
              SELECT DISTINCT ON (e.{id}) e.{id}::bigint AS post_id, e.{user}::bigint AS author_id, {ctype} AS content_type, {abs} AS created_at
                FROM {rel} e WHERE e.{id} IS NOT NULL AND {tail_filter}
               ORDER BY e.{id}, {abs}),
              allp AS (
              SELECT r.post_id, r.author_id, r.content_type, r.created_at, r.likes, r.comments, r.shares
                FROM mking_analytics.rollup_posts r WHERE r.created_at >= $3 AND r.created_at < $4
              UNION ALL
              SELECT t.post_id, t.author_id, t.content_type, t.created_at, 0, 0, 0 FROM tail_posts t),
              l AS ({}), c AS ({}), s AS ({})
         SELECT a.post_id, a.author_id, NULL::text AS title, a.content_type, a.created_at,
                a.likes + coalesce(l.n, 0) AS likes, a.comments + coalesce(c.n, 0) AS comments, a.shares + coalesce(s.n, 0) AS shares
           FROM allp a LEFT JOIN l USING (post_id) LEFT JOIN c USING (post_id) LEFT JOIN s USING (post_id)",
        since(&parts[0]),
        since(&parts[1]),
        since(&parts[2]),
        user = post.user,
        abs = post.abs_time("e"),
        rel = post.rel,
        tail_filter = post.time_filter("e", &format!("greatest($3, {mark})"), "$4"),
    ))
}

/// SQL for the author's name, joined on the signup source (`u` alias), or NULL.
/// The user's name from the signup source, as (select expression, join): a lateral lookup of the
/// user whose id is `key` (alias `u`), or NULL when the signup source has no username column.
pub(super) fn username_join(sources: &Sources, key: &str) -> (String, String) {
    match sources.get("signup") {
        Some(s) if s.column("username").is_some() => (
            format!("u.{}::text", s.column("username").unwrap_or_default()),
            format!(
                "LEFT JOIN LATERAL (SELECT * FROM {} x WHERE x.{} = {key} LIMIT 1) u ON true",
                s.rel, s.user
            ),
        ),
        _ => ("NULL::text".to_string(), String::new()),
    }
}

pub fn args(call: &super::Call) -> [DatumWithOid<'static>; 4] {
    [
        DatumWithOid::from(call.tz.clone()),
        DatumWithOid::from(crate::gucs::source_timezone()),
        call.from.into(),
        call.to.into(),
    ]
}

type TopRow = (
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<Tstz>,
    i64,
    i64,
    i64,
    i64,
    Option<AnyNumeric>,
);

/// The most engaging posts published in the range.
#[pg_extern(stable, parallel_restricted)]
pub fn top_content(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    top: default!(Option<i32>, "20"),
    tz: default!(Option<&str>, "NULL"),
    counts: default!(Option<&str>, "'events'"),
) -> TableIterator<
    'static,
    (
        name!(post_id, i64),
        name!(title, Option<String>),
        name!(author_id, Option<i64>),
        name!(author, Option<String>),
        name!(content_type, Option<String>),
        name!(created_at, Option<Tstz>),
        name!(likes, i64),
        name!(comments, i64),
        name!(shares, i64),
        name!(total_interactions, i64),
        name!(engagement_score, Option<AnyNumeric>),
    ),
> {
    let top = super::non_negative("top", top);
    let counts = parse_counts(counts);
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let Some(base) = post_engagement_sql(&sources, counts) else {
        return TableIterator::empty();
    };
    let (author, join) = username_join(&sources, "e.author_id");
    let title_lookup = match sources.get("post") {
        Some(p) => match (p.target.as_deref(), p.column("title")) {
            (Some(id), Some(t)) => format!(
                "(SELECT x.{t}::text FROM {} x WHERE x.{id} = e.post_id LIMIT 1)",
                p.rel
            ),
            _ => "NULL::text".to_string(),
        },
        None => "NULL::text".to_string(),
    };
    let sql = format!(
        "SELECT e.post_id, coalesce(e.title, {title_lookup}), e.author_id, {author}, e.content_type, e.created_at,
                e.likes, e.comments, e.shares, e.total, e.score
           FROM (SELECT b.*, b.likes + b.comments + b.shares AS total,
                        (b.likes + 2 * b.comments + 3 * b.shares)::numeric(20,2) AS score
                   FROM ({base}) b
                  ORDER BY total DESC, score DESC, b.post_id
                  LIMIT {top}) e {join}
          ORDER BY e.total DESC, e.score DESC, e.post_id"
    );
    let rows: Vec<TopRow> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(&sql, None, &args(&call))? {
                out.push((
                    r.get::<i64>(1)?.unwrap_or_default(),
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get::<i64>(7)?.unwrap_or(0),
                    r.get::<i64>(8)?.unwrap_or(0),
                    r.get::<i64>(9)?.unwrap_or(0),
                    r.get::<i64>(10)?.unwrap_or(0),
                    r.get(11)?,
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "ranking content",
    );
    TableIterator::new(rows)
}

type TypeRow = (
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    Option<AnyNumeric>,
    Option<AnyNumeric>,
    Option<AnyNumeric>,
    Option<AnyNumeric>,
);

/// Posts and average likes, comments, shares and engagement score per content type.
#[pg_extern(stable, parallel_restricted)]
pub fn content_types(
    from_ts: Option<Tstz>,
    to_ts: Option<Tstz>,
    tz: default!(Option<&str>, "NULL"),
    counts: default!(Option<&str>, "'events'"),
) -> TableIterator<
    'static,
    (
        name!(content_type, Option<String>),
        name!(posts, i64),
        name!(likes, i64),
        name!(comments, i64),
        name!(shares, i64),
        name!(avg_likes, Option<AnyNumeric>),
        name!(avg_comments, Option<AnyNumeric>),
        name!(avg_shares, Option<AnyNumeric>),
        name!(avg_engagement_score, Option<AnyNumeric>),
    ),
> {
    let counts = parse_counts(counts);
    let call = prepare(from_ts, to_ts, tz);
    let sources = Sources::load();
    let Some(base) = post_engagement_sql(&sources, counts) else {
        return TableIterator::empty();
    };
    let sql = format!(
        "SELECT e.content_type, count(*), sum(e.likes)::bigint, sum(e.comments)::bigint, sum(e.shares)::bigint,
                round(avg(e.likes), 2), round(avg(e.comments), 2), round(avg(e.shares), 2),
                round(avg(e.likes + 2 * e.comments + 3 * e.shares), 2)
           FROM ({base}) e GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    let rows: Vec<TypeRow> = spi(
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(&sql, None, &args(&call))? {
                out.push((
                    r.get(1)?,
                    r.get::<i64>(2)?.unwrap_or(0),
                    r.get::<i64>(3)?.unwrap_or(0),
                    r.get::<i64>(4)?.unwrap_or(0),
                    r.get::<i64>(5)?.unwrap_or(0),
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "summarizing content types",
    );
    TableIterator::new(rows)
}
