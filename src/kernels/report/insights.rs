//! Insight and recommendation rules of the reports, with their thresholds, plus the arithmetic
//! the reports add to the dashboard's figures (change versus the previous period, Pearson
//! correlation). Pure Rust: `api::reports` gathers the figures through SPI and calls these.
//!
//! Every rule is stated as text (`rule`) with the threshold's name and value, and cites the key
//! of the figure it looked at, so a reader can check why it fired. Thresholds live in SQL
//! (`mking_analytics.report_settings`); [`THRESHOLDS`] holds their defaults, which the SQL seeds
//! copy (a `#[pg_test]` keeps the two equal).

use super::model::{Coverage, Figure, Insight, Level, Priority, Recommendation};
use crate::kernels::numbers::growth_hundredths;
use std::collections::BTreeMap;

/// Name, default value and meaning of every threshold the rules read.
pub const THRESHOLDS: [(&str, f64, &str); 8] = [
    ("daily_active_users_good", 100.0, "Daily report: active users at or above this is good activity, below is low activity."),
    ("daily_posts_active", 10.0, "Daily report: new posts at or above this is active content creation, below is insufficient."),
    ("weekly_engagement_rate_good", 3.0, "Weekly report: interactions per post at or above this is healthy engagement, below is low."),
    ("weekly_registrations_change_pct", 20.0, "Weekly report: a change in new users of at least this many percent (up or down) versus the previous week is reported."),
    ("monthly_low_daily_registrations", 10.0, "Monthly report: average daily registrations below this recommends strengthening referral."),
    ("monthly_retention_d7_min", 30.0, "Monthly report: average 7-day retention (percent) below this recommends improving onboarding."),
    ("monthly_active_users_drop_pct", -10.0, "Monthly report: a change in monthly active users at or below this percent recommends a re-engagement campaign."),
    ("monthly_content_type_min_posts", 5.0, "Monthly report: a content type needs at least this many posts to be recommended or called best-performing."),
];

/// Threshold values by name; a name missing from `overrides` takes its default.
#[derive(Debug, Clone)]
pub struct Thresholds(BTreeMap<String, f64>);

impl Thresholds {
    pub fn new(overrides: &[(String, f64)]) -> Self {
        let mut m: BTreeMap<String, f64> = THRESHOLDS
            .iter()
            .map(|(k, v, _)| (k.to_string(), *v))
            .collect();
        for (k, v) in overrides {
            if m.contains_key(k) {
                m.insert(k.clone(), *v);
            }
        }
        Thresholds(m)
    }

    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    /// `name (value)` for rule texts.
    fn cite(&self, name: &str) -> String {
        format!("{name} ({})", show(self.get(name)))
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds::new(&[])
    }
}

/// A number as a person writes it: no trailing `.0`, at most two decimals (beyond what an i64
/// holds exactly, in exponent form rather than a saturated cast).
pub fn show(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    if !r.is_finite() || r.abs() >= 1e15 {
        format!("{r:e}")
    } else if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// Change in percent versus `previous`, rounded to 2 (half away from zero) exactly like
/// `growth()`; NULL when either is missing or previous is 0. Values carry at most 2 decimals.
pub fn change_pct(value: Option<f64>, previous: Option<f64>) -> Option<f64> {
    let (v, p) = (value?, previous?);
    let to_h = |x: f64| (x * 100.0).round() as i64;
    growth_hundredths(to_h(v), to_h(p)).map(|h| h as f64 / 100.0)
}

/// Pearson correlation of two equally long series, rounded to 4 decimals; NULL when shorter than
/// two points or when either series is constant (no variance: undefined, not 0).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 || y.len() != n {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    let r = (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0);
    Some((r * 10_000.0).round() / 10_000.0)
}

/// The correlation matrix of several series (cells `[i][j]` = pearson(series i, series j)).
pub fn correlation_matrix(series: &[Vec<f64>]) -> Vec<Vec<Option<f64>>> {
    series
        .iter()
        .map(|a| series.iter().map(|b| pearson(a, b)).collect())
        .collect()
}

fn figure<'a>(figures: &'a [Figure], key: &str) -> Option<&'a Figure> {
    figures.iter().find(|f| f.key == key)
}

fn insight(level: Level, text: String, rule: String, cites: &str) -> Insight {
    Insight {
        level,
        text,
        rule,
        cites: cites.to_string(),
    }
}

/// The one insight an incomplete period gets: why no judgement is made.
fn coverage_insight(coverage: Coverage) -> Option<Vec<Insight>> {
    let text = match coverage {
        Coverage::Complete => return None,
        Coverage::Partial => "The period is not over yet: figures cover part of it, so no judgement on activity or trends is made.",
        Coverage::Empty => "No events were recorded in this period, so there is nothing to judge.",
    };
    Some(vec![insight(
        Level::Info,
        text.to_string(),
        "insights are made only for complete periods (coverage = complete)".to_string(),
        "coverage",
    )])
}

/// A value at or above a threshold is good, below it a warning.
fn at_least(
    figures: &[Figure],
    t: &Thresholds,
    key: &str,
    threshold: &str,
    good: &dyn Fn(&str) -> String,
    low: &dyn Fn(&str) -> String,
) -> Option<Insight> {
    let f = figure(figures, key)?;
    let v = f.value?;
    let limit = t.get(threshold);
    Some(if v >= limit {
        insight(
            Level::Good,
            good(&show(v)),
            format!("{key} >= {}", t.cite(threshold)),
            key,
        )
    } else {
        insight(
            Level::Warning,
            low(&show(v)),
            format!("{key} < {}", t.cite(threshold)),
            key,
        )
    })
}

/// `one` after a shown value of exactly 1 ("1 user was"), else `many` ("0 users", "1.5 users").
fn plural<'a>(shown: &str, one: &'a str, many: &'a str) -> &'a str {
    if shown == "1" {
        one
    } else {
        many
    }
}

/// Daily: activity good or low; content creation active or insufficient.
pub fn daily_insights(figures: &[Figure], coverage: Coverage, t: &Thresholds) -> Vec<Insight> {
    if let Some(i) = coverage_insight(coverage) {
        return i;
    }
    [
        at_least(
            figures,
            t,
            "active_users",
            "daily_active_users_good",
            &|v| {
                format!(
                    "Activity is good: {v} {} active.",
                    plural(v, "user was", "users were")
                )
            },
            &|v| {
                format!(
                    "Activity is low: only {v} {} active.",
                    plural(v, "user was", "users were")
                )
            },
        ),
        at_least(
            figures,
            t,
            "new_posts",
            "daily_posts_active",
            &|v| {
                format!(
                    "Content creation is active: {v} new {}.",
                    plural(v, "post", "posts")
                )
            },
            &|v| {
                format!(
                    "Content creation is insufficient: only {v} new {}.",
                    plural(v, "post", "posts")
                )
            },
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Weekly: engagement healthy or low; a large change in registrations.
pub fn weekly_insights(figures: &[Figure], coverage: Coverage, t: &Thresholds) -> Vec<Insight> {
    if let Some(i) = coverage_insight(coverage) {
        return i;
    }
    let mut out: Vec<Insight> = at_least(
        figures,
        t,
        "engagement_rate",
        "weekly_engagement_rate_good",
        &|v| {
            format!(
                "Engagement is healthy: {v} {} per post.",
                plural(v, "interaction", "interactions")
            )
        },
        &|v| {
            format!(
                "Engagement is low: {v} {} per post.",
                plural(v, "interaction", "interactions")
            )
        },
    )
    .into_iter()
    .collect();
    if let Some(c) = figure(figures, "new_users").and_then(|f| f.change_pct) {
        let limit = t.get("weekly_registrations_change_pct").abs();
        let name = t.cite("weekly_registrations_change_pct");
        if c >= limit {
            out.push(insight(
                Level::Good,
                format!("Registrations grew {} % versus the previous week.", show(c)),
                format!("new_users.change_pct >= +{name}"),
                "new_users",
            ));
        } else if c <= -limit {
            out.push(insight(
                Level::Warning,
                format!(
                    "Registrations fell {} % versus the previous week.",
                    show(-c)
                ),
                format!("new_users.change_pct <= -{name}"),
                "new_users",
            ));
        }
    }
    out
}

/// Monthly: growth of registrations and of active users, up or down.
pub fn monthly_insights(figures: &[Figure], coverage: Coverage, _t: &Thresholds) -> Vec<Insight> {
    if let Some(i) = coverage_insight(coverage) {
        return i;
    }
    let mut out = Vec::new();
    for (key, what) in [
        ("new_users", "Registrations"),
        ("monthly_active_users", "Monthly active users"),
    ] {
        if let Some(c) = figure(figures, key).and_then(|f| f.change_pct) {
            out.push(if c >= 0.0 {
                insight(
                    Level::Good,
                    format!("{what} grew {} % versus the previous month.", show(c)),
                    format!("{key}.change_pct >= 0"),
                    key,
                )
            } else {
                insight(
                    Level::Warning,
                    format!("{what} fell {} % versus the previous month.", show(-c)),
                    format!("{key}.change_pct < 0"),
                    key,
                )
            });
        }
    }
    out
}

/// Monthly recommendations. `most_liked_type` is the content type with the most likes (among
/// types with at least `monthly_content_type_min_posts` posts), cited by figure
/// `most_liked_content_type_likes`.
pub fn monthly_recommendations(
    figures: &[Figure],
    coverage: Coverage,
    most_liked_type: Option<&str>,
    t: &Thresholds,
) -> Vec<Recommendation> {
    if coverage != Coverage::Complete {
        return Vec::new();
    }
    let mut out = Vec::new();
    let value = |key: &str| figure(figures, key).and_then(|f| f.value);
    if let Some(v) = value("avg_daily_registrations") {
        let name = "monthly_low_daily_registrations";
        if v < t.get(name) {
            out.push(Recommendation {
                category: "growth".into(),
                priority: Priority::High,
                suggestion: format!(
                    "Daily registrations are low ({} a day): strengthen the referral program (invite rewards, share links).",
                    show(v)
                ),
                expected_impact: "More new users each day; referred users also tend to stay longer.".into(),
                rule: format!("avg_daily_registrations < {}", t.cite(name)),
                cites: "avg_daily_registrations".into(),
            });
        }
    }
    if let Some(v) = value("avg_retention_d7") {
        let name = "monthly_retention_d7_min";
        if v < t.get(name) {
            out.push(Recommendation {
                category: "retention".into(),
                priority: Priority::High,
                suggestion: format!(
                    "Only {} % of new users come back on day 7: improve onboarding (first-week guidance, suggested follows, welcome content).",
                    show(v)
                ),
                expected_impact: "Higher 7-day retention of each signup cohort.".into(),
                rule: format!("avg_retention_d7 < {}", t.cite(name)),
                cites: "avg_retention_d7".into(),
            });
        }
    }
    if let Some(c) = figure(figures, "monthly_active_users").and_then(|f| f.change_pct) {
        let name = "monthly_active_users_drop_pct";
        if c <= t.get(name) {
            out.push(Recommendation {
                category: "engagement".into(),
                priority: Priority::High,
                suggestion: format!(
                    "Monthly active users changed {} %: run a re-engagement campaign for users who went quiet.",
                    show(c)
                ),
                expected_impact: "Dormant users return; monthly active users recover.".into(),
                rule: format!("monthly_active_users.change_pct <= {}", t.cite(name)),
                cites: "monthly_active_users".into(),
            });
        }
    }
    if let (Some(kind), Some(likes)) = (most_liked_type, value("most_liked_content_type_likes")) {
        if likes > 0.0 {
            out.push(Recommendation {
                category: "content".into(),
                priority: Priority::Medium,
                suggestion: format!(
                    "'{kind}' posts received the most likes ({}): encourage more of them (featuring, creator prompts).",
                    show(likes)
                ),
                expected_impact: "More likes and engagement per post.".into(),
                rule: format!(
                    "content type with the most likes among types with >= {} posts",
                    t.cite("monthly_content_type_min_posts")
                ),
                cites: "most_liked_content_type_likes".into(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::report::model::Unit;

    fn fig(key: &str, value: Option<f64>, previous: Option<f64>) -> Figure {
        Figure {
            key: key.into(),
            label: key.into(),
            unit: Unit::Count,
            value,
            previous,
            change_pct: change_pct(value, previous),
            source: "test".into(),
        }
    }

    #[test]
    fn change_is_exact_and_null_without_a_base() {
        assert_eq!(change_pct(Some(3.0), Some(2.0)), Some(50.0));
        assert_eq!(change_pct(Some(1.0), Some(3.0)), Some(-66.67));
        assert_eq!(change_pct(Some(2.0), Some(3.0)), Some(-33.33));
        assert_eq!(change_pct(Some(5.0), Some(0.0)), None);
        assert_eq!(change_pct(None, Some(4.0)), None);
        assert_eq!(change_pct(Some(4.0), None), None);
        // 2-decimal values: 1.5 vs 1.25 = +20 %
        assert_eq!(change_pct(Some(1.5), Some(1.25)), Some(20.0));
        // 1 vs 8: -87.5 exactly; 1/800 growth rounds half away from zero
        assert_eq!(change_pct(Some(1.0), Some(8.0)), Some(-87.5));
        assert_eq!(change_pct(Some(801.0), Some(800.0)), Some(0.13));
    }

    #[test]
    fn pearson_by_hand_and_constant_series() {
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // x = 1,2,3,4; y = 1,3,2,4: sxy = 4, sxx = syy = 5 -> 0.8
        assert_eq!(
            pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]),
            Some(0.8)
        );
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[], &[]), None);
        let m = correlation_matrix(&[vec![1.0, 2.0], vec![5.0, 5.0]]);
        assert_eq!(m, vec![vec![Some(1.0), None], vec![None, None]]);
    }

    #[test]
    fn thresholds_default_and_override() {
        let t = Thresholds::new(&[("daily_posts_active".into(), 3.0), ("unknown".into(), 9.0)]);
        assert_eq!(t.get("daily_posts_active"), 3.0);
        assert_eq!(t.get("daily_active_users_good"), 100.0);
        assert_eq!(t.get("unknown"), 0.0);
        assert_eq!(show(2.5), "2.5");
        assert_eq!(show(100.0), "100");
        assert_eq!(show(-66.67), "-66.67");
        assert_eq!(show(1e300), "1e300");
    }

    #[test]
    fn daily_rules_cite_their_figure_and_threshold() {
        let t = Thresholds::new(&[("daily_active_users_good".into(), 3.0)]);
        let figs = [
            fig("active_users", Some(3.0), Some(1.0)),
            fig("new_posts", Some(2.0), None),
        ];
        let i = daily_insights(&figs, Coverage::Complete, &t);
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].level, Level::Good);
        assert_eq!(i[0].cites, "active_users");
        assert_eq!(i[0].rule, "active_users >= daily_active_users_good (3)");
        assert_eq!(i[0].text, "Activity is good: 3 users were active.");
        assert_eq!(plural("1", "user was", "users were"), "user was");
        assert_eq!(plural("1.5", "post", "posts"), "posts");
        assert_eq!(plural("0", "post", "posts"), "posts");
        assert_eq!(i[1].level, Level::Warning);
        assert_eq!(i[1].rule, "new_posts < daily_posts_active (10)");
        assert_eq!(
            i[1].text,
            "Content creation is insufficient: only 2 new posts."
        );
        // Just below the threshold is low.
        let low = daily_insights(
            &[fig("active_users", Some(2.0), None)],
            Coverage::Complete,
            &t,
        );
        assert_eq!(low[0].level, Level::Warning);
    }

    #[test]
    fn incomplete_periods_get_no_judgement() {
        let t = Thresholds::default();
        let figs = [fig("active_users", Some(0.0), Some(5.0))];
        for c in [Coverage::Partial, Coverage::Empty] {
            let i = daily_insights(&figs, c, &t);
            assert_eq!(i.len(), 1);
            assert_eq!(i[0].level, Level::Info);
            assert_eq!(i[0].cites, "coverage");
            assert!(monthly_recommendations(&figs, c, Some("photo"), &t).is_empty());
        }
    }

    #[test]
    fn weekly_registration_change_both_ways() {
        let t = Thresholds::default();
        let up = weekly_insights(
            &[fig("new_users", Some(12.0), Some(10.0))],
            Coverage::Complete,
            &t,
        );
        assert_eq!(
            up[0].rule,
            "new_users.change_pct >= +weekly_registrations_change_pct (20)"
        );
        let down = weekly_insights(
            &[fig("new_users", Some(7.0), Some(10.0))],
            Coverage::Complete,
            &t,
        );
        assert_eq!(down[0].level, Level::Warning);
        assert_eq!(
            down[0].text,
            "Registrations fell 30 % versus the previous week."
        );
        let flat = weekly_insights(
            &[fig("new_users", Some(11.0), Some(10.0))],
            Coverage::Complete,
            &t,
        );
        assert!(flat.is_empty());
        let from_zero = weekly_insights(
            &[fig("new_users", Some(11.0), Some(0.0))],
            Coverage::Complete,
            &t,
        );
        assert!(from_zero.is_empty(), "no change % from 0, so no claim");
    }

    #[test]
    fn monthly_recommendations_fire_on_their_thresholds() {
        let t = Thresholds::default();
        let figs = [
            fig("avg_daily_registrations", Some(9.99), None),
            fig("avg_retention_d7", Some(30.0), None),
            fig("monthly_active_users", Some(90.0), Some(100.0)),
            fig("most_liked_content_type_likes", Some(7.0), None),
        ];
        let r = monthly_recommendations(&figs, Coverage::Complete, Some("photo"), &t);
        let cats: Vec<_> = r
            .iter()
            .map(|x| (x.category.as_str(), x.priority))
            .collect();
        // retention exactly at 30 does not fire; MAU -10 % fires (<= -10).
        assert_eq!(
            cats,
            vec![
                ("growth", Priority::High),
                ("engagement", Priority::High),
                ("content", Priority::Medium)
            ]
        );
        assert_eq!(
            r[0].rule,
            "avg_daily_registrations < monthly_low_daily_registrations (10)"
        );
        assert_eq!(r[0].cites, "avg_daily_registrations");
        assert!(r[2].suggestion.contains("'photo'"));
        let low_ret = [fig("avg_retention_d7", Some(29.99), None)];
        let r = monthly_recommendations(&low_ret, Coverage::Complete, None, &t);
        assert_eq!(r[0].category, "retention");
        assert_eq!(
            r[0].rule,
            "avg_retention_d7 < monthly_retention_d7_min (30)"
        );
        // NULL figures never fire.
        let nulls = [
            fig("avg_daily_registrations", None, None),
            fig("avg_retention_d7", None, None),
        ];
        assert!(monthly_recommendations(&nulls, Coverage::Complete, None, &t).is_empty());
    }
}
