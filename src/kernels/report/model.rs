//! The data of one report, independent of how it is rendered.
//!
//! `api::reports` fills it from the same SQL functions the dashboard calls and stores it as jsonb
//! (`report_json(id)`); the renderers (`html`, `pdf`, `charts`) only read it. Keeping it generic
//! (figures, charts, tables, insights, recommendations) lets one renderer serve all three kinds.

use serde::{Deserialize, Serialize};

/// Bumped when a stored report's JSON changes shape.
pub const MODEL_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Daily,
    Weekly,
    Monthly,
}

/// Whether the period's data is all there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    /// The period is over and has data.
    Complete,
    /// The period has not ended yet (or the data stops inside it); figures cover part of it.
    Partial,
    /// No events at all in the period.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub kind: Kind,
    /// Title shown on top, e.g. "Daily report · 2024-03-10".
    pub title: String,
    /// First day of the period (local date in `tz`), ISO `YYYY-MM-DD`.
    pub period_start: String,
    /// Day after the last day of the period (exclusive), ISO.
    pub period_end: String,
    /// Human label of the period, e.g. "2024-W10 (Mon 4 Mar – Sun 10 Mar 2024)".
    pub period_label: String,
    /// Label of the previous period the changes compare with.
    pub previous_label: String,
    /// IANA zone (or other PostgreSQL zone name) the periods are cut in.
    pub tz: String,
    /// When it was generated, ISO 8601 with offset.
    pub generated_at: String,
    pub coverage: Coverage,
    /// Plain-language statement about coverage, shown prominently when not complete.
    pub coverage_note: Option<String>,
    /// Headline figures with their change versus the previous period.
    pub figures: Vec<Figure>,
    pub charts: Vec<Chart>,
    pub tables: Vec<Table>,
    pub insights: Vec<Insight>,
    /// Monthly reports; empty for the others.
    pub recommendations: Vec<Recommendation>,
    /// Sections that failed; each is shown as a visible note where the section would be.
    pub section_errors: Vec<SectionError>,
    /// Attribution or other footer text (e.g. the data's licence), shown at the bottom.
    pub footer: Option<String>,
}

/// How a number is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// A whole count: "1,234".
    Count,
    /// A plain number with two decimals: "3.25".
    Number,
    /// A percentage; the value is already in percent: 30.83 → "30.83 %".
    Percent,
    /// Seconds, written as a duration.
    Seconds,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Stable key, cited by insights and recommendations (e.g. "active_users").
    pub key: String,
    pub label: String,
    pub unit: Unit,
    /// NULL when it cannot be computed (e.g. a rate over an empty period).
    pub value: Option<f64>,
    pub previous: Option<f64>,
    /// Change versus the previous period in percent; NULL when the previous value is 0 or missing.
    pub change_pct: Option<f64>,
    /// The function the figure comes from, e.g. "mking_analytics.kpis".
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    /// One value per x label (line) or per category (bar); NULL = no value.
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChartData {
    /// Trends over time: x labels are period labels.
    Line {
        x_labels: Vec<String>,
        series: Vec<Series>,
    },
    /// Distributions: one bar group per category.
    Bar {
        categories: Vec<String>,
        series: Vec<Series>,
    },
    /// A square matrix (e.g. correlations in [-1, 1]); NULL cells are undefined.
    Heatmap {
        labels: Vec<String>,
        cells: Vec<Vec<Option<f64>>>,
        min: f64,
        max: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub key: String,
    pub title: String,
    pub x_title: String,
    pub y_title: String,
    pub unit: Unit,
    pub data: ChartData,
    /// Optional caption under the chart.
    pub note: Option<String>,
}

/// The columns of the top-posts table (one row per post of `top_content`).
pub const TOP_POSTS_COLUMNS: [&str; 7] = [
    "Title",
    "Author",
    "Type",
    "Likes",
    "Comments",
    "Shares",
    "Engagement score",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub key: String,
    pub title: String,
    pub columns: Vec<String>,
    /// Cells as display text (user-supplied text such as titles is NOT escaped here).
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Good,
    Info,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    pub level: Level,
    pub text: String,
    /// The rule that produced it, e.g. "daily_active_users >= report_active_good (100)".
    pub rule: String,
    /// Key of the figure that triggered it.
    pub cites: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// e.g. "growth", "content", "retention", "engagement".
    pub category: String,
    pub priority: Priority,
    pub suggestion: String,
    pub expected_impact: String,
    pub rule: String,
    pub cites: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionError {
    /// Key of the chart, table or section that failed.
    pub section: String,
    pub message: String,
}
