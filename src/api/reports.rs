//! Reports (issue 5): the daily, weekly and monthly report of a period, gathered from the same
//! SQL functions the dashboard calls (so a report never disagrees with it), judged by the rules
//! of `kernels::report::insights`, rendered, and stored in `reports`.
//!
//! `generate_report()` (sql/reports.sql, plpgsql) validates through `report_period`, logs the
//! run and calls `report_build`; a failure of the whole run is caught there and logged. Inside
//! `report_build` every section (figure group, chart, table) runs through
//! `mking_analytics.report_section()`, which executes it in a subtransaction: a section that
//! fails becomes a `section_errors` entry and the rest of the report is still produced.
//!
//! Section queries are constant SQL (or built from the quoted source configuration) with the
//! same parameters: `$1` zone, `$2` source zone, `$3`/`$4` the period, `$5`/`$6` the previous
//! period, `$7` the effective end (the period's end, or now() while the period runs).

use crate::calendar::{resolve_tz, show};
use crate::errors::{bad_argument, spi};
use crate::kernels::numbers::{hundredths, percent_hundredths};
use crate::kernels::report::insights::{self, change_pct, correlation_matrix, Thresholds};
use crate::kernels::report::model::{
    Chart, ChartData, Coverage, Figure, Kind, Report, SectionError, Series, Table, Unit,
    MODEL_VERSION, TOP_POSTS_COLUMNS,
};
use crate::sources::{Source, Sources};
use pgrx::datum::{Date, DatumWithOid};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

type Tstz = TimestampWithTimeZone;

fn parse_kind(kind: Option<&str>) -> Kind {
    match kind.map(|k| k.trim().to_ascii_lowercase()).as_deref() {
        Some("daily") => Kind::Daily,
        Some("weekly") => Kind::Weekly,
        Some("monthly") => Kind::Monthly,
        _ => bad_argument(
            format!(
                "invalid kind {}: accepted values are 'daily', 'weekly', 'monthly'",
                show(kind)
            ),
            "A report covers the day, week (mking_analytics.week_start) or month containing period_start.",
        ),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Daily => "daily",
        Kind::Weekly => "weekly",
        Kind::Monthly => "monthly",
    }
}

/// SQL of the first day of the period containing date expression `d`.
fn start_sql(kind: Kind, d: &str) -> String {
    match kind {
        Kind::Daily => d.to_string(),
        Kind::Weekly if crate::gucs::sunday_weeks() => {
            format!("({d} - extract(dow FROM {d})::int)")
        }
        Kind::Weekly => format!("({d} - (extract(isodow FROM {d})::int - 1))"),
        Kind::Monthly => format!("date_trunc('month', {d})::date"),
    }
}

/// SQL of the first day after the period starting at date expression `s` (and `back` periods
/// before it when `back` is 1).
fn shift_sql(kind: Kind, s: &str, by: i32) -> String {
    match kind {
        Kind::Daily => format!("({s} + {by})"),
        Kind::Weekly => format!("({s} + {})", 7 * by),
        Kind::Monthly => format!("({s} + interval '{by} month')::date"),
    }
}

/// The thresholds the insight rules read (`report_settings.name`), so its check knows them.
#[pg_extern(immutable, parallel_safe)]
pub fn report_threshold_names() -> SetOfIterator<'static, &'static str> {
    SetOfIterator::new(insights::THRESHOLDS.iter().map(|(name, _, _)| *name))
}

/// Checked arguments of `generate_report`: the kind, the period containing `period_start`
/// (its first day and the day after its last) and the zone.
#[pg_extern(stable, parallel_unsafe)]
pub fn report_period(
    kind: Option<&str>,
    period_start: Option<Date>,
    tz: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(kind, String),
        name!(period_start, Date),
        name!(period_end, Date),
        name!(tz, String),
    ),
> {
    let k = parse_kind(kind);
    let Some(day) = period_start.filter(|d| d.is_finite()) else {
        bad_argument(
            format!(
                "invalid period_start {}: a finite date is required",
                match period_start {
                    None => "NULL",
                    Some(d) if d.is_neg_infinity() => "-infinity",
                    Some(_) => "infinity",
                }
            ),
            "Any day of the period: e.g. '2024-03-06' with kind 'weekly' is the week containing it.",
        );
    };
    // Timestamps (and the calendar arithmetic on them) end in 294276 AD and begin in 4713 BC,
    // where a period's bounds would fail half-way through a report.
    let in_range = spi(
        Spi::get_one_with_args::<bool>(
            "SELECT $1::date BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'",
            &[day.into()],
        ),
        "checking period_start",
    )
    .unwrap_or(false);
    if !in_range {
        bad_argument(
            "invalid period_start: a date from 0001-01-01 to 9999-12-31 is required".into(),
            "Any day of the period: e.g. '2024-03-06' with kind 'weekly' is the week containing it.",
        );
    }
    let zone = resolve_tz(tz);
    let s = start_sql(k, "$1::date");
    let sql = format!("SELECT {s}, {}", shift_sql(k, &s, 1));
    let (from, to) = spi(
        Spi::get_two_with_args::<Date, Date>(&sql, &[day.into()]),
        "computing the report period",
    );
    let (Some(from), Some(to)) = (from, to) else {
        bad_argument(
            "invalid period_start: a date from 0001-01-01 to 9999-12-31 is required".into(),
            "Any day of the period: e.g. '2024-03-06' with kind 'weekly' is the week containing it.",
        );
    };
    TableIterator::once((kind_name(k).to_string(), from, to, zone))
}

/// The period being reported on, with its previous period, as instants and labels.
struct Ctx {
    kind: Kind,
    tz: String,
    source_tz: String,
    start: String,
    end: String,
    lo: Tstz,
    hi: Tstz,
    plo: Tstz,
    eff: Tstz,
    /// The period has begun / ended at now().
    started: bool,
    over: bool,
    title: String,
    label: String,
    previous_label: String,
    generated_at: String,
    now_local: String,
    thresholds: Thresholds,
}

fn label_sql(kind: Kind, d: &str, lo: &str) -> String {
    match kind {
        Kind::Daily => format!("to_char({d}, 'FMDay FMDD Mon YYYY')"),
        // A Sunday week's label ends in " (Sun)", which the day range after it already says.
        Kind::Weekly => format!(
            "regexp_replace(mking_analytics.period_label({lo}, 'week', $2), ' \\(Sun\\)$', '') || ' (' || to_char({d}, 'Dy FMDD Mon') || ' – ' || to_char({d} + 6, 'Dy FMDD Mon YYYY') || ')'"
        ),
        Kind::Monthly => format!("to_char({d}, 'FMMonth YYYY')"),
    }
}

impl Ctx {
    fn new(kind: Kind, start: Date, tz: &str) -> Ctx {
        let s = "$1::date";
        let prev = shift_sql(kind, s, -1);
        let title = match kind {
            Kind::Daily => "'Daily report · ' || $1::date::text",
            Kind::Weekly => "'Weekly report · ' || mking_analytics.period_label($1::date::timestamp AT TIME ZONE $2, 'week', $2)",
            Kind::Monthly => "'Monthly report · ' || to_char($1::date, 'YYYY-MM')",
        };
        let sql = format!(
            "SELECT s::text, e::text, s::timestamp AT TIME ZONE $2, e::timestamp AT TIME ZONE $2, p::timestamp AT TIME ZONE $2,
                    now(), {title}, {label}, {plabel}, to_json(now())#>>'{{}}', to_char(now() AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI')
               FROM (SELECT $1::date AS s, {end} AS e, {prev} AS p) x",
            end = shift_sql(kind, s, 1),
            label = label_sql(kind, "x.s", "(x.s::timestamp AT TIME ZONE $2)"),
            plabel = label_sql(kind, "x.p", "(x.p::timestamp AT TIME ZONE $2)"),
        );
        type Row = (
            String,
            String,
            Tstz,
            Tstz,
            Tstz,
            Tstz,
            String,
            String,
            String,
            String,
            String,
        );
        let row: Row = spi(
            Spi::connect(|c| {
                let t = c
                    .select(&sql, Some(1), &[start.into(), DatumWithOid::from(tz)])?
                    .first();
                let g = |i: usize| t.get::<String>(i).map(Option::unwrap_or_default);
                let ts = |i: usize| t.get::<Tstz>(i)?.ok_or(pgrx::spi::Error::InvalidPosition);
                Ok::<Row, pgrx::spi::Error>((
                    g(1)?,
                    g(2)?,
                    ts(3)?,
                    ts(4)?,
                    ts(5)?,
                    ts(6)?,
                    g(7)?,
                    g(8)?,
                    g(9)?,
                    g(10)?,
                    g(11)?,
                ))
            }),
            "computing the report period",
        );
        let (start, end, lo, hi, plo, now, title, label, previous_label, generated_at, now_local) =
            row;
        let started = lo.into_inner() < now.into_inner();
        let over = hi.into_inner() <= now.into_inner();
        let eff = if started && !over { now } else { hi };
        Ctx {
            kind,
            tz: tz.to_string(),
            source_tz: crate::gucs::source_timezone(),
            start,
            end,
            lo,
            hi,
            plo,
            eff,
            started,
            over,
            title,
            label,
            previous_label,
            generated_at,
            now_local,
            thresholds: load_thresholds(),
        }
    }

    fn bucket(&self) -> &'static str {
        match self.kind {
            Kind::Daily => "day",
            Kind::Weekly => "week",
            Kind::Monthly => "month",
        }
    }

    /// Runs one section query in a subtransaction: its jsonb result, or the error text.
    fn section(&self, query: &str) -> Result<Value, String> {
        let args = [
            DatumWithOid::from(query),
            DatumWithOid::from(self.tz.as_str()),
            DatumWithOid::from(self.source_tz.as_str()),
            self.lo.into(),
            self.hi.into(),
            self.plo.into(),
            self.lo.into(),
            self.eff.into(),
        ];
        let out = spi(
            Spi::get_one_with_args::<JsonB>(
                "SELECT mking_analytics.report_section($1, $2, $3, $4, $5, $6, $7, $8)",
                &args,
            ),
            "running a report section",
        );
        match out.map(|j| j.0) {
            Some(Value::Object(mut m)) => match m.remove("error") {
                Some(e) => Err(e.as_str().unwrap_or("unknown error").to_string()),
                None => Ok(m.remove("ok").unwrap_or(Value::Null)),
            },
            _ => Err("the section returned nothing".to_string()),
        }
    }
}

fn load_thresholds() -> Thresholds {
    let rows: Vec<(String, f64)> = spi(
        Spi::connect(|c| {
            let mut out = Vec::new();
            for r in c.select(
                "SELECT name, value::float8 FROM mking_analytics.report_settings",
                None,
                &[],
            )? {
                if let (Some(n), Some(v)) = (r.get::<String>(1)?, r.get::<f64>(2)?) {
                    out.push((n, v));
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        }),
        "reading report_settings",
    );
    Thresholds::new(&rows)
}

/// Numbers of a jsonb array (NULL entries stay NULL).
fn nums(v: &Value) -> Vec<Option<f64>> {
    v.as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default()
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(cell).collect())
        .unwrap_or_default()
}

/// A table cell as display text: NULL is empty, strings as they are (escaping is the renderer's).
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// (previous, current) of a `[previous, current]` array.
fn pair(v: &Value) -> (Option<f64>, Option<f64>) {
    let n = nums(v);
    (n.first().copied().flatten(), n.get(1).copied().flatten())
}

/// `num / den` rounded to 2 decimals, exactly; NULL when `den` is 0.
fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    let (n, d) = (num?, den?);
    hundredths(n.round() as i128, d.round() as i128).map(|h| h as f64 / 100.0)
}

struct Builder<'a> {
    ctx: &'a Ctx,
    figures: Vec<Figure>,
    charts: Vec<Chart>,
    tables: Vec<Table>,
    errors: Vec<SectionError>,
}

impl Builder<'_> {
    /// Runs a section; on failure records it under `key` and returns None.
    fn run(&mut self, key: &str, query: &str) -> Option<Value> {
        match self.ctx.section(query) {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.push(SectionError {
                    section: key.to_string(),
                    message,
                });
                None
            }
        }
    }

    fn figure(
        &mut self,
        key: &str,
        label: &str,
        unit: Unit,
        (previous, value): (Option<f64>, Option<f64>),
        source: &str,
    ) {
        self.figures.push(Figure {
            key: key.into(),
            label: label.into(),
            unit,
            value,
            previous,
            change_pct: change_pct(value, previous),
            source: format!("mking_analytics.{source}"),
        });
    }

    fn top_posts(&mut self, top: i32) {
        let q = format!(
            "SELECT coalesce(jsonb_agg(jsonb_build_array(title, author, content_type, likes, comments, shares, engagement_score)
                                        ORDER BY total_interactions DESC, engagement_score DESC, post_id), '[]')
               FROM mking_analytics.top_content($3, $4, {top}, $1)"
        );
        if let Some(v) = self.run("top_posts", &q) {
            let rows = v.as_array().cloned().unwrap_or_default();
            self.tables.push(Table {
                key: "top_posts".into(),
                title: format!(
                    "Top {top} posts published in the period (mking_analytics.top_content)"
                ),
                columns: TOP_POSTS_COLUMNS.map(String::from).to_vec(),
                rows: rows.iter().map(texts).collect(),
            });
        }
    }
}

/// SQL: per hour of the period (0-based from its local midnight), `expr` over `rows` (columns
/// `u` user, `t` absolute time), zero-filled, as a jsonb array.
fn hourly_sql(rows: &str, expr: &str) -> String {
    format!(
        "SELECT jsonb_agg(coalesce(x.v, 0) ORDER BY h.n)
           FROM generate_series(0, ceil(extract(epoch FROM $4 - $3) / 3600)::int - 1) h(n)
           LEFT JOIN (SELECT floor(extract(epoch FROM r.t - $3) / 3600)::int AS n, {expr} AS v
                        FROM ({rows}) r GROUP BY 1) x ON x.n = h.n"
    )
}

/// Events of a source in the period with duplicates removed: `u`, `t` (absolute).
fn events_sql(s: &Source) -> String {
    format!(
        "SELECT d.u, {t} AS t FROM (SELECT DISTINCT {key} FROM {rel} e WHERE {filter}) d",
        t = s.abs_of("d.t"),
        key = s.dedup_select("e"),
        rel = s.rel,
        filter = s.time_filter("e", "$3", "$4"),
    )
}

fn daily(b: &mut Builder) {
    let q = "SELECT jsonb_build_object(
        'active', (SELECT jsonb_agg(active_users ORDER BY time) FROM mking_analytics.active_users($5, $4, 'day', $1)),
        'posts', (SELECT jsonb_agg(posts ORDER BY time) FROM mking_analytics.content_trend($5, $4, 'day', $1)),
        'interactions', (SELECT jsonb_agg(n ORDER BY time) FROM (SELECT time, sum(interactions) AS n
                           FROM mking_analytics.interaction_trend($5, $4, 'day', $1) GROUP BY time) x))";
    if let Some(v) = b.run("figures", q) {
        b.figure(
            "active_users",
            "Active users",
            Unit::Count,
            pair(&v["active"]),
            "active_users",
        );
        b.figure(
            "new_posts",
            "New posts",
            Unit::Count,
            pair(&v["posts"]),
            "content_trend",
        );
        b.figure(
            "total_interactions",
            "Total interactions (likes, comments, shares, follows)",
            Unit::Count,
            pair(&v["interactions"]),
            "interaction_trend",
        );
    }
    // Local hour labels; on the day clocks go back, the repeated hour (01:00 twice in New York)
    // says which UTC offset each one is.
    let q = "SELECT jsonb_agg(label ORDER BY n) FROM (
               SELECT n, CASE WHEN count(*) OVER (PARTITION BY l) > 1
                              THEN format('%s UTC%s%s', l, CASE WHEN o >= 0 THEN '+' END, trim_scale(o))
                              ELSE l END AS label
                 FROM (SELECT h.n, to_char(x.t AT TIME ZONE $1, 'HH24:MI') AS l,
                              round(extract(epoch FROM (x.t AT TIME ZONE $1) - (x.t AT TIME ZONE 'UTC')) / 3600, 2) AS o
                         FROM generate_series(0, ceil(extract(epoch FROM $4 - $3) / 3600)::int - 1) h(n)
                        CROSS JOIN LATERAL (SELECT $3 + h.n * interval '1 hour') x(t)) hours) labelled";
    let hours = b.run("activity", q).map(|v| texts(&v)).unwrap_or_default();
    if !hours.is_empty() {
        let sources = Sources::load();
        let activity = sources.activity(None);
        let any = if activity.is_empty() {
            "SELECT NULL::bigint AS u, NULL::timestamptz AS t WHERE false".to_string()
        } else {
            activity
                .iter()
                .map(|s| {
                    format!(
                        "SELECT e.{u}::bigint AS u, {t} AS t FROM {rel} e WHERE e.{u} IS NOT NULL AND {f}",
                        u = s.user,
                        t = s.abs_time("e"),
                        rel = s.rel,
                        f = s.time_filter("e", "$3", "$4")
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        };
        let mut series = Vec::new();
        if let Some(v) = b.run("activity", &hourly_sql(&any, "count(DISTINCT r.u)")) {
            series.push(Series {
                name: "Active users".into(),
                values: nums(&v),
            });
        }
        if let Some(s) = sources.get("session") {
            if let Some(v) = b.run("activity", &hourly_sql(&events_sql(&s), "count(*)")) {
                series.push(Series {
                    name: "Sessions".into(),
                    values: nums(&v),
                });
            }
        }
        if !series.is_empty() {
            b.charts.push(Chart {
                key: "activity".into(),
                title: "Activity by hour".into(),
                x_title: format!("Hour ({})", b.ctx.tz),
                y_title: "Users / sessions".into(),
                unit: Unit::Count,
                data: ChartData::Line {
                    x_labels: hours.clone(),
                    series,
                },
                note: Some("Distinct users active in each local hour (any activity source), and sessions started.".into()),
            });
        }
        if let Some(p) = sources.get("post") {
            if let Some(v) = b.run("publishing", &hourly_sql(&events_sql(&p), "count(*)")) {
                b.charts.push(Chart {
                    key: "publishing".into(),
                    title: "Posts published by hour".into(),
                    x_title: format!("Hour ({})", b.ctx.tz),
                    y_title: "Posts".into(),
                    unit: Unit::Count,
                    data: ChartData::Bar {
                        categories: hours,
                        series: vec![Series {
                            name: "Posts".into(),
                            values: nums(&v),
                        }],
                    },
                    note: None,
                });
            }
        }
    }
    let q = "SELECT jsonb_object_agg(interaction_type, jsonb_build_array(prev, cur)) FROM (
               SELECT interaction_type, sum(interactions) FILTER (WHERE time < $3) AS prev,
                      sum(interactions) FILTER (WHERE time >= $3) AS cur
                 FROM mking_analytics.interaction_trend($5, $4, 'day', $1) GROUP BY 1) x";
    if let Some(v) = b.run("interaction_mix", q) {
        let types = [
            ("like", "Likes"),
            ("comment", "Comments"),
            ("share", "Shares"),
            ("follow", "Follows"),
        ];
        let (mut cur, mut prev) = (Vec::new(), Vec::new());
        for (t, _) in types {
            let (p, c) = pair(&v[t]);
            prev.push(p.or(Some(0.0)));
            cur.push(c.or(Some(0.0)));
        }
        b.charts.push(Chart {
            key: "interaction_mix".into(),
            title: "Interaction mix".into(),
            x_title: "Interaction".into(),
            y_title: "Interactions".into(),
            unit: Unit::Count,
            data: ChartData::Bar {
                categories: types.iter().map(|(_, l)| l.to_string()).collect(),
                series: vec![
                    Series {
                        name: b.ctx.label.clone(),
                        values: cur,
                    },
                    Series {
                        name: b.ctx.previous_label.clone(),
                        values: prev,
                    },
                ],
            },
            note: None,
        });
    }
    b.top_posts(5);
}

fn content_type_name(v: &Value) -> String {
    match &v["content_type"] {
        Value::String(s) => s.clone(),
        _ => "(no type)".to_string(),
    }
}

fn weekly(b: &mut Builder) {
    let q = "SELECT jsonb_build_object(
        'new_users', (SELECT jsonb_agg(new_users ORDER BY time) FROM mking_analytics.new_users($5, $4, 'week', $1)),
        'posts', (SELECT jsonb_agg(posts ORDER BY time) FROM mking_analytics.content_trend($5, $4, 'week', $1)),
        'interactions', (SELECT jsonb_agg(likes + comments + shares ORDER BY time) FROM mking_analytics.engagement_trend($5, $4, 'week', $1)),
        'dau', jsonb_build_array((SELECT avg_value FROM mking_analytics.kpis($5, $6, $1) WHERE metric = 'DAU'),
                                 (SELECT avg_value FROM mking_analytics.kpis($3, $7, $1) WHERE metric = 'DAU')))";
    if let Some(v) = b.run("figures", q) {
        b.figure(
            "new_users",
            "New users",
            Unit::Count,
            pair(&v["new_users"]),
            "new_users",
        );
        b.figure(
            "avg_daily_active_users",
            "Average daily active users",
            Unit::Number,
            pair(&v["dau"]),
            "kpis",
        );
        let posts = pair(&v["posts"]);
        b.figure(
            "total_content",
            "New posts",
            Unit::Count,
            posts,
            "content_trend",
        );
        let inter = pair(&v["interactions"]);
        b.figure(
            "engagement_rate",
            "Engagement rate (likes, comments and shares per post)",
            Unit::Number,
            (ratio(inter.0, posts.0), ratio(inter.1, posts.1)),
            "engagement_trend",
        );
    }
    let q = "SELECT jsonb_build_object('labels', jsonb_agg(to_char(time AT TIME ZONE $1, 'Dy DD Mon') ORDER BY time),
                                       'values', jsonb_agg(new_users ORDER BY time))
               FROM mking_analytics.new_users($3, $4, 'day', $1)";
    if let Some(v) = b.run("registrations", q) {
        b.charts.push(Chart {
            key: "registrations".into(),
            title: "Registrations per day".into(),
            x_title: "Day".into(),
            y_title: "New users".into(),
            unit: Unit::Count,
            data: ChartData::Line {
                x_labels: texts(&v["labels"]),
                series: vec![Series {
                    name: "New users".into(),
                    values: nums(&v["values"]),
                }],
            },
            note: None,
        });
    }
    let q = "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.posts DESC, t.content_type), '[]')
               FROM mking_analytics.content_types($3, $4, $1) t";
    if let Some(v) = b.run("content_types", q) {
        let rows = v.as_array().cloned().unwrap_or_default();
        b.charts.push(Chart {
            key: "content_types".into(),
            title: "Content types".into(),
            x_title: "Content type".into(),
            y_title: "Posts / likes".into(),
            unit: Unit::Count,
            data: ChartData::Bar {
                categories: rows.iter().map(content_type_name).collect(),
                series: vec![
                    Series {
                        name: "Posts".into(),
                        values: rows.iter().map(|r| num(&r["posts"])).collect(),
                    },
                    Series {
                        name: "Likes".into(),
                        values: rows.iter().map(|r| num(&r["likes"])).collect(),
                    },
                ],
            },
            note: None,
        });
    }
    let q = "SELECT jsonb_build_object('labels', jsonb_agg(to_char(cohort_date, 'Dy DD Mon') ORDER BY cohort_date),
                                       'rates', jsonb_agg(day_7_rate ORDER BY cohort_date))
               FROM mking_analytics.retention_summary($3, $4, $1)";
    if let Some(v) = b.run("retention", q) {
        b.charts.push(Chart {
            key: "retention".into(),
            title: "7-day retention of each day's new users".into(),
            x_title: "Signup day".into(),
            y_title: "Retained on day 7 (%)".into(),
            unit: Unit::Percent,
            data: ChartData::Bar {
                categories: texts(&v["labels"]),
                series: vec![Series { name: "Day-7 retention".into(), values: nums(&v["rates"]) }],
            },
            note: Some("Empty where the cohort had no signups or day 7 has not come yet (mking_analytics.retention_summary).".into()),
        });
    }
    b.top_posts(10);
}

/// The chosen content type of `rows` by `score` among types with enough posts. None when no type
/// scores above 0: a "best" or "most-liked" type among zeros would be an arbitrary pick.
fn best_type<'v>(rows: &'v [Value], min_posts: f64, score: &str) -> Option<&'v Value> {
    rows.iter()
        .filter(|r| {
            num(&r["posts"]).unwrap_or(0.0) >= min_posts && num(&r[score]).is_some_and(|v| v > 0.0)
        })
        .max_by(|a, b| {
            let key = |r: &Value| {
                (
                    num(&r[score]).unwrap_or(0.0),
                    num(&r["posts"]).unwrap_or(0.0),
                )
            };
            let (ka, kb) = (key(a), key(b));
            ka.partial_cmp(&kb)
                .unwrap_or(std::cmp::Ordering::Equal)
                // On a tie the alphabetically first type wins (max_by keeps the last maximum).
                .then_with(|| content_type_name(b).cmp(&content_type_name(a)))
        })
}

/// Returns the most-liked content type (for the content recommendation).
fn monthly(b: &mut Builder) -> Option<String> {
    let q = "SELECT jsonb_build_object(
        'new_users', (SELECT jsonb_build_array(previous_value, value, growth_rate) FROM mking_analytics.growth('new_users', $3, $4, 'month', $1)),
        'active_users', (SELECT jsonb_build_array(previous_value, value, growth_rate) FROM mking_analytics.growth('active_users', $3, $4, 'month', $1)),
        'days', jsonb_build_array((SELECT count(*) FROM mking_analytics.new_users($5, $6, 'day', $1)),
                                  (SELECT count(*) FROM mking_analytics.new_users($3, $7, 'day', $1))))";
    if let Some(v) = b.run("growth", q) {
        let new_users = pair(&v["new_users"]);
        b.figure("new_users", "New users", Unit::Count, new_users, "growth");
        b.figure(
            "monthly_active_users",
            "Monthly active users",
            Unit::Count,
            pair(&v["active_users"]),
            "growth",
        );
        let days = pair(&v["days"]);
        b.figure(
            "avg_daily_registrations",
            "Average daily registrations",
            Unit::Number,
            (ratio(new_users.0, days.0), ratio(new_users.1, days.1)),
            "new_users",
        );
    }
    let q = "SELECT jsonb_build_array(
        (SELECT jsonb_build_array(sum(day_7_retained), sum(cohort_size) FILTER (WHERE day_7_retained IS NOT NULL)) FROM mking_analytics.retention_summary($5, $6, $1)),
        (SELECT jsonb_build_array(sum(day_7_retained), sum(cohort_size) FILTER (WHERE day_7_retained IS NOT NULL)) FROM mking_analytics.retention_summary($3, $4, $1)))";
    if let Some(v) = b.run("retention", q) {
        let rate = |x: &Value| {
            let (r, n) = pair(x);
            percent_hundredths(r? as i64, n? as i64).map(|h| h as f64 / 100.0)
        };
        b.figure(
            "avg_retention_d7",
            "Average 7-day retention of the month's new users (%)",
            Unit::Percent,
            (rate(&v[0]), rate(&v[1])),
            "retention_summary",
        );
    }
    let mut most_liked = None;
    let q = "SELECT jsonb_build_object(
        'current', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.posts DESC, t.content_type), '[]') FROM mking_analytics.content_types($3, $4, $1) t),
        'previous', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM mking_analytics.content_types($5, $6, $1) t))";
    if let Some(v) = b.run("content_types", q) {
        let cur = v["current"].as_array().cloned().unwrap_or_default();
        let prev = v["previous"].as_array().cloned().unwrap_or_default();
        let min_posts = b.ctx.thresholds.get("monthly_content_type_min_posts");
        let previous_of = |t: &str, col: &str| {
            prev.iter()
                .find(|r| content_type_name(r) == t)
                .and_then(|r| num(&r[col]))
        };
        if let Some(best) = best_type(&cur, min_posts, "avg_engagement_score") {
            let t = content_type_name(best);
            b.figure(
                "best_content_type_score",
                &format!("Best-performing content type: {t} (average engagement score)"),
                Unit::Number,
                (
                    previous_of(&t, "avg_engagement_score"),
                    num(&best["avg_engagement_score"]),
                ),
                "content_types",
            );
        }
        if let Some(liked) = best_type(&cur, min_posts, "likes") {
            let t = content_type_name(liked);
            b.figure(
                "most_liked_content_type_likes",
                &format!("Most-liked content type: {t} (likes)"),
                Unit::Count,
                (previous_of(&t, "likes"), num(&liked["likes"])),
                "content_types",
            );
            most_liked = Some(t);
        }
        b.tables.push(Table {
            key: "content_types".into(),
            title: "Content types (mking_analytics.content_types)".into(),
            columns: [
                "Type",
                "Posts",
                "Likes",
                "Comments",
                "Shares",
                "Avg engagement score",
            ]
            .map(String::from)
            .to_vec(),
            rows: cur
                .iter()
                .map(|r| {
                    let mut row = vec![content_type_name(r)];
                    row.extend(
                        [
                            "posts",
                            "likes",
                            "comments",
                            "shares",
                            "avg_engagement_score",
                        ]
                        .map(|c| cell(&r[c])),
                    );
                    row
                })
                .collect(),
        });
    }
    let q = "SELECT jsonb_build_object('labels', jsonb_agg(to_char(n.time AT TIME ZONE $1, 'DD Mon') ORDER BY n.time),
                                       'registrations', jsonb_agg(n.new_users ORDER BY n.time),
                                       'active', jsonb_agg(a.active_users ORDER BY n.time))
               FROM mking_analytics.new_users($3, $4, 'day', $1) n
               JOIN mking_analytics.active_users($3, $4, 'day', $1) a USING (time)";
    if let Some(v) = b.run("registrations_active", q) {
        b.charts.push(Chart {
            key: "registrations_active".into(),
            title: "Registrations and active users per day".into(),
            x_title: "Day".into(),
            y_title: "Users".into(),
            unit: Unit::Count,
            data: ChartData::Line {
                x_labels: texts(&v["labels"]),
                series: vec![
                    Series {
                        name: "Registrations".into(),
                        values: nums(&v["registrations"]),
                    },
                    Series {
                        name: "Active users".into(),
                        values: nums(&v["active"]),
                    },
                ],
            },
            note: None,
        });
    }
    let q = "SELECT jsonb_build_object('likes', jsonb_agg(likes ORDER BY time), 'comments', jsonb_agg(comments ORDER BY time),
                                       'shares', jsonb_agg(shares ORDER BY time), 'posts', jsonb_agg(posts ORDER BY time))
               FROM mking_analytics.engagement_trend($3, $7, 'day', $1)";
    if let Some(v) = b.run("correlation", q) {
        let names = ["likes", "comments", "shares", "posts"];
        let series: Vec<Vec<f64>> = names
            .iter()
            .map(|n| nums(&v[*n]).into_iter().map(|x| x.unwrap_or(0.0)).collect())
            .collect();
        let days = series[0].len();
        b.charts.push(Chart {
            key: "correlation".into(),
            title: "Correlation of daily likes, comments, shares and posts".into(),
            x_title: String::new(),
            y_title: String::new(),
            unit: Unit::Number,
            data: ChartData::Heatmap {
                labels: ["Likes", "Comments", "Shares", "Posts"].map(String::from).to_vec(),
                cells: correlation_matrix(&series),
                min: -1.0,
                max: 1.0,
            },
            note: Some(format!(
                "Pearson correlation over the {days} days (mking_analytics.engagement_trend); empty where a series is constant."
            )),
        });
    }
    b.top_posts(10);
    most_liked
}

/// Coverage of the period and its note.
fn coverage(b: &mut Builder) -> (Coverage, Option<String>) {
    let ctx = b.ctx;
    if !ctx.started {
        return (
            Coverage::Empty,
            Some(format!(
                "The period has not started yet (it is {} in {}): there is no data.",
                ctx.now_local, ctx.tz
            )),
        );
    }
    let q = format!(
        "SELECT jsonb_build_array(
           (SELECT coalesce(sum(active_users), 0) FROM mking_analytics.active_users($3, $4, '{p}', $1)),
           (SELECT coalesce(sum(new_users), 0) FROM mking_analytics.new_users($3, $4, '{p}', $1)))",
        p = ctx.bucket()
    );
    let events = b.run("coverage", &q).map(|v| {
        nums(&v)
            .iter()
            .map(|x| x.unwrap_or(0.0) as i64)
            .sum::<i64>()
    });
    let so_far = if ctx.over { "" } else { " so far" };
    match events {
        Some(0) => (
            Coverage::Empty,
            Some(format!(
                "No events were recorded in this period{so_far}: no activity and no registrations. Figures are zero or empty; no changes or insights are computed."
            )),
        ),
        _ if !ctx.over => (
            Coverage::Partial,
            Some(format!(
                "The period is not over: figures cover it up to {} ({}). Changes versus the previous period are not computed and no insights are made.",
                ctx.now_local, ctx.tz
            )),
        ),
        Some(_) => (Coverage::Complete, None),
        None => (
            Coverage::Complete,
            Some("Whether the period has events could not be checked (see the section errors).".into()),
        ),
    }
}

fn build(ctx: &Ctx) -> Report {
    let mut b = Builder {
        ctx,
        figures: Vec::new(),
        charts: Vec::new(),
        tables: Vec::new(),
        errors: Vec::new(),
    };
    let (coverage, coverage_note) = coverage(&mut b);
    let most_liked = match ctx.kind {
        Kind::Daily => {
            daily(&mut b);
            None
        }
        Kind::Weekly => {
            weekly(&mut b);
            None
        }
        Kind::Monthly => monthly(&mut b),
    };
    if coverage != Coverage::Complete {
        // Comparing part of a period (or no data) with a whole one would invent a trend.
        for f in &mut b.figures {
            f.change_pct = None;
        }
    }
    let t = &ctx.thresholds;
    let (insights, recommendations) = match ctx.kind {
        Kind::Daily => (
            insights::daily_insights(&b.figures, coverage, t),
            Vec::new(),
        ),
        Kind::Weekly => (
            insights::weekly_insights(&b.figures, coverage, t),
            Vec::new(),
        ),
        Kind::Monthly => (
            insights::monthly_insights(&b.figures, coverage, t),
            insights::monthly_recommendations(&b.figures, coverage, most_liked.as_deref(), t),
        ),
    };
    Report {
        version: MODEL_VERSION,
        kind: ctx.kind,
        title: ctx.title.clone(),
        period_start: ctx.start.clone(),
        period_end: ctx.end.clone(),
        period_label: ctx.label.clone(),
        previous_label: ctx.previous_label.clone(),
        tz: ctx.tz.clone(),
        generated_at: ctx.generated_at.clone(),
        coverage,
        coverage_note,
        figures: b.figures,
        charts: b.charts,
        tables: b.tables,
        insights,
        recommendations,
        section_errors: b.errors,
        footer: Some(
            "Generated by mking_analytics from the platform's tables; every figure comes from the same SQL functions as the dashboard (named under each figure).".into(),
        ),
    }
}

/// Builds, renders and stores (upserts) one report; returns its id. Called by
/// `generate_report()` after `report_period` checked the arguments.
#[pg_extern(volatile, parallel_unsafe)]
pub fn report_build(kind: &str, period_start: Date, tz: &str) -> i64 {
    let kind = parse_kind(Some(kind));
    let ctx = Ctx::new(kind, period_start, tz);
    let report = build(&ctx);
    let data = match serde_json::to_value(&report) {
        Ok(v) => v,
        Err(e) => crate::errors::raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("mking_analytics: serializing the report failed: {e}"),
            "",
        ),
    };
    let (html, pdf) = render(&report);
    let id = spi(
        Spi::get_one_with_args::<i64>(
            "INSERT INTO mking_analytics.reports AS r
                    (report_type, period_start, period_end, tz, data, html, pdf, generated_at, delivery_status,
                     delivery_attempts, last_delivery_error, delivered_at)
             VALUES ($1, $2::date, $3::date, $4, $5, $6, $7, now(),
                     CASE WHEN EXISTS (SELECT 1 FROM mking_analytics.report_subscribers s WHERE s.report_type = $1)
                          THEN 'pending' ELSE 'none' END, 0, NULL, NULL)
             ON CONFLICT (report_type, period_start, tz) DO UPDATE
                SET period_end = EXCLUDED.period_end, data = EXCLUDED.data, html = EXCLUDED.html, pdf = EXCLUDED.pdf,
                    generated_at = EXCLUDED.generated_at, delivery_status = EXCLUDED.delivery_status,
                    delivery_attempts = 0, last_delivery_error = NULL, delivered_at = NULL
             RETURNING id",
            &[
                DatumWithOid::from(kind_name(kind)),
                DatumWithOid::from(ctx.start.as_str()),
                DatumWithOid::from(ctx.end.as_str()),
                DatumWithOid::from(ctx.tz.as_str()),
                DatumWithOid::from(JsonB(data)),
                DatumWithOid::from(html),
                DatumWithOid::from(pdf),
            ],
        ),
        "storing the report",
    );
    id.unwrap_or_else(|| {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "mking_analytics: storing the report returned no id".into(),
            "",
        )
    })
}

/// The stored HTML and PDF of a report. A PDF that cannot be rendered fails the run (it is
/// logged as failed), rather than storing a report without its PDF.
fn render(report: &Report) -> (String, Vec<u8>) {
    let html = crate::kernels::report::render_html(report);
    let pdf = crate::kernels::report::render_pdf(report).unwrap_or_else(|e| {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("mking_analytics: rendering the PDF failed: {e}"),
            "",
        )
    });
    (html, pdf)
}
