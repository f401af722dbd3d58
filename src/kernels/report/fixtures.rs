//! Sample reports for tests, the `render_samples` example and the benchmark: one realistic
//! report of each kind, and hostile ones (markup in every text, very long Unicode names, an
//! empty period, a partial period, failed sections, mismatched or non-finite data).

use super::model::*;

const FOOTER: &str = "Figures computed by mking_analytics from the MKing Friend event log. Demo data: synthetic activity, CC BY 4.0.";

fn figure(key: &str, label: &str, unit: Unit, value: Option<f64>, previous: Option<f64>) -> Figure {
    let change_pct = match (value, previous) {
        (Some(v), Some(p)) if p != 0.0 => Some(((v - p) / p * 1000.0).round() / 10.0),
        _ => None,
    };
    Figure {
        key: key.into(),
        label: label.into(),
        unit,
        value,
        previous,
        change_pct,
        source: "mking_analytics.kpis".into(),
    }
}

pub(crate) fn series(name: &str, values: Vec<Option<f64>>) -> Series {
    Series {
        name: name.into(),
        values,
    }
}

fn line(
    key: &str,
    title: &str,
    x_title: &str,
    y_title: &str,
    unit: Unit,
    x_labels: Vec<String>,
    series: Vec<Series>,
) -> Chart {
    Chart {
        key: key.into(),
        title: title.into(),
        x_title: x_title.into(),
        y_title: y_title.into(),
        unit,
        data: ChartData::Line { x_labels, series },
        note: None,
    }
}

pub(crate) fn bar(
    key: &str,
    title: &str,
    x_title: &str,
    y_title: &str,
    unit: Unit,
    categories: &[&str],
    series: Vec<Series>,
) -> Chart {
    Chart {
        key: key.into(),
        title: title.into(),
        x_title: x_title.into(),
        y_title: y_title.into(),
        unit,
        data: ChartData::Bar {
            categories: categories.iter().map(|c| c.to_string()).collect(),
            series,
        },
        note: None,
    }
}

/// Deterministic, smooth-looking activity: a daily rhythm with a little noise.
fn wave(i: usize, base: f64, amplitude: f64, period: f64, phase: f64) -> f64 {
    let noise = ((i as f64 * 12.9898).sin() * 43758.5453).fract().abs() * 0.12 - 0.06;
    (base + amplitude * ((i as f64 + phase) / period * std::f64::consts::TAU).sin()) * (1.0 + noise)
}

pub(crate) fn hours() -> Vec<String> {
    (0..24).map(|h| format!("{h:02}:00")).collect()
}

fn insight(level: Level, text: &str, rule: &str, cites: &str) -> Insight {
    Insight {
        level,
        text: text.into(),
        rule: rule.into(),
        cites: cites.into(),
    }
}

fn base(kind: Kind, title: &str, start: &str, end: &str, label: &str, previous: &str) -> Report {
    Report {
        version: MODEL_VERSION,
        kind,
        title: title.into(),
        period_start: start.into(),
        period_end: end.into(),
        period_label: label.into(),
        previous_label: previous.into(),
        tz: "Europe/Paris".into(),
        generated_at: "2024-04-01T08:00:12+02:00".into(),
        coverage: Coverage::Complete,
        coverage_note: None,
        figures: Vec::new(),
        charts: Vec::new(),
        tables: Vec::new(),
        insights: Vec::new(),
        recommendations: Vec::new(),
        section_errors: Vec::new(),
        footer: Some(FOOTER.into()),
    }
}

fn top_posts_table(rows: usize) -> Table {
    let titles = [
        "Sunset over the harbour",
        "Five-minute pasta that actually works",
        "Our new studio tour (long video)",
        "Why I stopped using spreadsheets",
        "Marathon training week 12",
        "Tiny garden, big harvest",
        "Street food in Lyon",
        "Behind the scenes: product launch",
    ];
    Table {
        key: "top_posts".into(),
        title: "Top posts by engagement".into(),
        columns: vec![
            "#".into(),
            "Post".into(),
            "Author".into(),
            "Likes".into(),
            "Comments".into(),
            "Shares".into(),
            "Engagement".into(),
        ],
        rows: (0..rows)
            .map(|i| {
                let likes = 1840.0 / (1.0 + i as f64 * 0.35);
                vec![
                    (i + 1).to_string(),
                    titles[i % titles.len()].to_string(),
                    format!("@user{}", 1000 + i * 37 % 900),
                    super::format::format_value(Some(likes), Unit::Count),
                    super::format::format_value(Some(likes * 0.21), Unit::Count),
                    super::format::format_value(Some(likes * 0.06), Unit::Count),
                    super::format::format_value(Some(12.5 - i as f64 * 0.07), Unit::Percent),
                ]
            })
            .collect(),
    }
}

/// A complete daily report: hourly activity, publishing by content type, interaction mix.
pub fn daily() -> Report {
    let mut r = base(
        Kind::Daily,
        "Daily report · 2024-03-10",
        "2024-03-10",
        "2024-03-11",
        "Sunday 10 March 2024",
        "Saturday 9 March 2024",
    );
    r.figures = vec![
        figure(
            "active_users",
            "Active users",
            Unit::Count,
            Some(12_845.0),
            Some(11_902.0),
        ),
        figure(
            "new_users",
            "New registrations",
            Unit::Count,
            Some(374.0),
            Some(415.0),
        ),
        figure(
            "posts",
            "Posts published",
            Unit::Count,
            Some(2_118.0),
            Some(2_118.0),
        ),
        figure(
            "interactions",
            "Interactions",
            Unit::Count,
            Some(48_210.0),
            Some(44_871.0),
        ),
        figure(
            "engagement_rate",
            "Engagement rate",
            Unit::Percent,
            Some(30.83),
            Some(31.2),
        ),
        figure(
            "avg_session",
            "Average session",
            Unit::Seconds,
            Some(754.0),
            Some(702.0),
        ),
    ];
    let events: Vec<Option<f64>> = (0..24)
        .map(|h| Some(wave(h, 2600.0, 2100.0, 24.0, 10.0).round()))
        .collect();
    let users: Vec<Option<f64>> = (0..24)
        .map(|h| Some(wave(h, 900.0, 700.0, 24.0, 11.0).round()))
        .collect();
    r.charts = vec![
        line(
            "hourly_activity",
            "Activity by hour",
            "Hour of day (Europe/Paris)",
            "Per hour",
            Unit::Count,
            hours(),
            vec![series("Events", events), series("Active users", users)],
        ),
        bar(
            "publishing",
            "Posts published by content type",
            "Content type",
            "Posts",
            Unit::Count,
            &["Text", "Image", "Video", "Link", "Poll"],
            vec![
                series(
                    "10 Mar",
                    vec![
                        Some(812.0),
                        Some(744.0),
                        Some(301.0),
                        Some(198.0),
                        Some(63.0),
                    ],
                ),
                series(
                    "9 Mar",
                    vec![
                        Some(790.0),
                        Some(781.0),
                        Some(266.0),
                        Some(224.0),
                        Some(57.0),
                    ],
                ),
            ],
        ),
        bar(
            "interaction_mix",
            "Interaction mix",
            "Interaction",
            "Share of interactions",
            Unit::Percent,
            &["Likes", "Comments", "Shares", "Saves"],
            vec![
                series("10 Mar", vec![Some(71.4), Some(17.9), Some(6.3), Some(4.4)]),
                series("9 Mar", vec![Some(69.8), Some(19.1), Some(6.8), Some(4.3)]),
            ],
        ),
    ];
    r.charts[0].note = Some("Hours are local time; the busiest hour was 20:00.".into());
    r.tables = vec![top_posts_table(8)];
    r.insights = vec![
        insight(
            Level::Good,
            "Active users rose 7.9 % on the previous day.",
            "active_users change >= +5 %",
            "active_users",
        ),
        insight(
            Level::Warning,
            "New registrations fell 9.9 % on the previous day.",
            "new_users change <= −5 %",
            "new_users",
        ),
        insight(
            Level::Info,
            "Evening hours (18:00–22:00) carried 41 % of all events.",
            "peak window share >= 35 %",
            "interactions",
        ),
    ];
    r
}

fn weekdays() -> Vec<String> {
    [
        "Mon 4 Mar",
        "Tue 5 Mar",
        "Wed 6 Mar",
        "Thu 7 Mar",
        "Fri 8 Mar",
        "Sat 9 Mar",
        "Sun 10 Mar",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A complete weekly report: daily registrations, content types, 7-day retention.
pub fn weekly() -> Report {
    let mut r = base(
        Kind::Weekly,
        "Weekly report · 2024-W10",
        "2024-03-04",
        "2024-03-11",
        "2024-W10 (Mon 4 Mar – Sun 10 Mar 2024)",
        "2024-W09",
    );
    r.figures = vec![
        figure(
            "active_users",
            "Weekly active users",
            Unit::Count,
            Some(48_311.0),
            Some(46_020.0),
        ),
        figure(
            "new_users",
            "New registrations",
            Unit::Count,
            Some(2_740.0),
            Some(2_911.0),
        ),
        figure(
            "posts",
            "Posts published",
            Unit::Count,
            Some(14_205.0),
            Some(13_380.0),
        ),
        figure(
            "retention_d7",
            "Day-7 retention",
            Unit::Percent,
            Some(23.4),
            Some(25.1),
        ),
        figure(
            "stickiness",
            "Stickiness (DAU/WAU)",
            Unit::Percent,
            Some(26.6),
            Some(25.9),
        ),
        figure(
            "avg_session",
            "Average session",
            Unit::Seconds,
            Some(3_725.0),
            None,
        ),
    ];
    let registrations = vec![
        Some(402.0),
        Some(388.0),
        Some(371.0),
        Some(365.0),
        Some(410.0),
        Some(429.0),
        Some(375.0),
    ];
    let previous = vec![
        Some(431.0),
        Some(415.0),
        Some(402.0),
        Some(398.0),
        Some(420.0),
        Some(441.0),
        Some(404.0),
    ];
    r.charts = vec![
        line(
            "daily_registrations",
            "New registrations per day",
            "Day",
            "Registrations",
            Unit::Count,
            weekdays(),
            vec![
                series("This week", registrations),
                series("Previous week", previous),
            ],
        ),
        bar(
            "content_types",
            "Posts by content type",
            "Content type",
            "Posts",
            Unit::Count,
            &["Text", "Image", "Video", "Link", "Poll", "Live stream"],
            vec![
                series(
                    "2024-W10",
                    vec![
                        Some(5210.0),
                        Some(4987.0),
                        Some(2130.0),
                        Some(1288.0),
                        Some(402.0),
                        Some(188.0),
                    ],
                ),
                series(
                    "2024-W09",
                    vec![
                        Some(5011.0),
                        Some(4702.0),
                        Some(1876.0),
                        Some(1340.0),
                        Some(351.0),
                        Some(100.0),
                    ],
                ),
            ],
        ),
        line(
            "retention_7d",
            "7-day retention of new users",
            "Days since registration",
            "Still active",
            Unit::Percent,
            (0..=7).map(|d| format!("Day {d}")).collect(),
            vec![
                series(
                    "Registered 2024-W10",
                    vec![
                        Some(100.0),
                        Some(48.2),
                        Some(37.5),
                        Some(31.9),
                        Some(28.8),
                        Some(26.1),
                        Some(24.7),
                        Some(23.4),
                    ],
                ),
                series(
                    "Registered 2024-W09",
                    vec![
                        Some(100.0),
                        Some(51.0),
                        Some(39.8),
                        Some(33.6),
                        Some(30.2),
                        Some(27.9),
                        Some(26.0),
                        Some(25.1),
                    ],
                ),
            ],
        ),
    ];
    r.tables = vec![Table {
        key: "top_creators".into(),
        title: "Most active creators".into(),
        columns: vec![
            "Creator".into(),
            "Posts".into(),
            "Followers gained".into(),
            "Avg. engagement".into(),
        ],
        rows: vec![
            vec![
                "@marie.cuisine".into(),
                "42".into(),
                "1,204".into(),
                "14.20 %".into(),
            ],
            vec![
                "@trailrunner".into(),
                "37".into(),
                "866".into(),
                "11.05 %".into(),
            ],
            vec![
                "@studio_north".into(),
                "29".into(),
                "2,310".into(),
                "18.73 %".into(),
            ],
            vec![
                "@léa.photo".into(),
                "25".into(),
                "412".into(),
                "9.88 %".into(),
            ],
        ],
    }];
    r.insights = vec![
        insight(
            Level::Warning,
            "Day-7 retention dropped to 23.4 % (25.1 % the week before).",
            "retention_d7 change <= −5 %",
            "retention_d7",
        ),
        insight(
            Level::Good,
            "Video posts grew 13.5 % week over week.",
            "content type growth >= 10 %",
            "posts",
        ),
    ];
    r
}

/// A complete monthly report: registrations and active users, content types, a correlation
/// heatmap, recommendations.
pub fn monthly() -> Report {
    let mut r = base(
        Kind::Monthly,
        "Monthly report · March 2024",
        "2024-03-01",
        "2024-04-01",
        "March 2024",
        "February 2024",
    );
    r.figures = vec![
        figure(
            "active_users",
            "Monthly active users",
            Unit::Count,
            Some(118_402.0),
            Some(109_877.0),
        ),
        figure(
            "new_users",
            "New registrations",
            Unit::Count,
            Some(11_290.0),
            Some(12_004.0),
        ),
        figure(
            "posts",
            "Posts published",
            Unit::Count,
            Some(61_733.0),
            Some(55_120.0),
        ),
        figure(
            "interactions",
            "Interactions",
            Unit::Count,
            Some(1_482_990.0),
            Some(1_390_112.0),
        ),
        figure(
            "engagement_rate",
            "Engagement rate",
            Unit::Percent,
            Some(28.41),
            Some(27.95),
        ),
        figure(
            "retention_d30",
            "Day-30 retention",
            Unit::Percent,
            Some(12.8),
            Some(0.0),
        ),
        figure(
            "avg_session",
            "Average session",
            Unit::Seconds,
            Some(185.0),
            Some(201.0),
        ),
        figure(
            "posts_per_user",
            "Posts per active user",
            Unit::Number,
            Some(0.52),
            Some(0.5),
        ),
    ];
    let days: Vec<String> = (1..=31).map(|d| format!("2024-03-{d:02}")).collect();
    let registrations: Vec<Option<f64>> = (0..31)
        .map(|d| Some(wave(d, 365.0, 60.0, 7.0, 1.0).round()))
        .collect();
    let active: Vec<Option<f64>> = (0..31)
        .map(|d| Some((wave(d, 11_800.0, 1_900.0, 7.0, 1.5) + d as f64 * 40.0).round()))
        .collect();
    let labels: Vec<String> = ["Likes", "Comments", "Shares", "Posts"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cells = vec![
        vec![Some(1.0), Some(0.82), Some(0.64), Some(0.41)],
        vec![Some(0.82), Some(1.0), Some(0.58), Some(0.37)],
        vec![Some(0.64), Some(0.58), Some(1.0), Some(-0.12)],
        vec![Some(0.41), Some(0.37), Some(-0.12), Some(1.0)],
    ];
    r.charts = vec![
        line(
            "growth",
            "New registrations and active users per day",
            "Day",
            "Users",
            Unit::Count,
            days,
            vec![
                series("Active users", active),
                series("New registrations", registrations),
            ],
        ),
        bar(
            "content_types",
            "Posts by content type",
            "Content type",
            "Posts",
            Unit::Count,
            &["Text", "Image", "Video", "Link", "Poll", "Live stream"],
            vec![
                series(
                    "March",
                    vec![
                        Some(22_410.0),
                        Some(21_905.0),
                        Some(9_870.0),
                        Some(5_120.0),
                        Some(1_690.0),
                        Some(738.0),
                    ],
                ),
                series(
                    "February",
                    vec![
                        Some(20_980.0),
                        Some(19_211.0),
                        Some(8_002.0),
                        Some(5_004.0),
                        Some(1_420.0),
                        Some(503.0),
                    ],
                ),
            ],
        ),
        Chart {
            key: "interaction_correlation".into(),
            title: "Correlation of daily interactions".into(),
            x_title: "Pearson correlation over the month's days".into(),
            y_title: String::new(),
            unit: Unit::Number,
            data: ChartData::Heatmap {
                labels,
                cells,
                min: -1.0,
                max: 1.0,
            },
            note: Some(
                "1 = always move together, 0 = unrelated, −1 = move in opposite directions.".into(),
            ),
        },
    ];
    r.tables = vec![top_posts_table(12)];
    r.insights = vec![
        insight(
            Level::Good,
            "Monthly active users grew 7.8 % on February.",
            "active_users change >= +5 %",
            "active_users",
        ),
        insight(
            Level::Warning,
            "New registrations fell 5.9 % while active users grew.",
            "new_users change <= −5 %",
            "new_users",
        ),
        insight(
            Level::Info,
            "Likes and comments move together strongly (r = 0.82).",
            "correlation >= 0.8",
            "interactions",
        ),
    ];
    r.recommendations = vec![
        Recommendation {
            category: "growth".into(),
            priority: Priority::High,
            suggestion: "Registrations are falling: review the sign-up funnel and the referral campaign that ended on 29 February.".into(),
            expected_impact: "Recover about 700 registrations a month (February's level).".into(),
            rule: "new_users change <= −5 % for the month".into(),
            cites: "new_users".into(),
        },
        Recommendation {
            category: "content".into(),
            priority: Priority::Medium,
            suggestion: "Video posts grew fastest; feature creators who post video in the discovery feed.".into(),
            expected_impact: "More interactions per post; video posts get 1.8× the engagement of text posts.".into(),
            rule: "content type growth >= 10 %".into(),
            cites: "posts".into(),
        },
        Recommendation {
            category: "retention".into(),
            priority: Priority::Low,
            suggestion: "Send a welcome digest on day 3 to new users who have not posted yet.".into(),
            expected_impact: "A few points of day-30 retention.".into(),
            rule: "retention_d30 < 15 %".into(),
            cites: "retention_d30".into(),
        },
    ];
    r
}

/// The current day, half over: trailing hours are missing, one section failed.
pub fn partial() -> Report {
    let mut r = daily();
    r.title = "Daily report · 2024-03-11 (in progress)".into();
    r.period_start = "2024-03-11".into();
    r.period_end = "2024-03-12".into();
    r.period_label = "Monday 11 March 2024".into();
    r.previous_label = "Sunday 10 March 2024".into();
    r.coverage = Coverage::Partial;
    r.coverage_note =
        Some("The day is not over: figures cover 00:00–13:00 only and will change.".into());
    if let Some(ChartData::Line { series, .. }) = r.charts.first_mut().map(|c| &mut c.data) {
        for s in series.iter_mut() {
            for v in s.values.iter_mut().skip(13) {
                *v = None;
            }
        }
    }
    r.section_errors = vec![
        SectionError {
            section: "interaction_mix".into(),
            message: "canceling statement due to statement timeout".into(),
        },
        SectionError {
            section: "top_posts".into(),
            message: "relation \"mking_analytics.post_rollup\" is being refreshed".into(),
        },
    ];
    r.charts.retain(|c| c.key != "interaction_mix");
    r
}

/// A period without any events: every chart empty or all NULL.
pub fn empty() -> Report {
    let mut r = base(
        Kind::Weekly,
        "Weekly report · 2024-W01",
        "2024-01-01",
        "2024-01-08",
        "2024-W01 (Mon 1 Jan – Sun 7 Jan 2024)",
        "2023-W52",
    );
    r.coverage = Coverage::Empty;
    r.coverage_note = Some("No events were recorded in this week.".into());
    r.figures = vec![
        figure(
            "active_users",
            "Weekly active users",
            Unit::Count,
            Some(0.0),
            Some(0.0),
        ),
        figure(
            "engagement_rate",
            "Engagement rate",
            Unit::Percent,
            None,
            None,
        ),
        figure(
            "avg_session",
            "Average session",
            Unit::Seconds,
            None,
            Some(512.0),
        ),
    ];
    r.charts = vec![
        line(
            "daily_registrations",
            "New registrations per day",
            "Day",
            "Registrations",
            Unit::Count,
            weekdays(),
            vec![series("This week", vec![None; 7])],
        ),
        bar(
            "content_types",
            "Posts by content type",
            "Content type",
            "Posts",
            Unit::Count,
            &[],
            vec![],
        ),
        Chart {
            key: "corr".into(),
            title: "Correlation".into(),
            x_title: String::new(),
            y_title: String::new(),
            unit: Unit::Number,
            data: ChartData::Heatmap {
                labels: vec!["Likes".into(), "Posts".into()],
                cells: vec![vec![None, None], vec![None, None]],
                min: -1.0,
                max: 1.0,
            },
            note: None,
        },
    ];
    r.tables = vec![Table {
        key: "top_posts".into(),
        title: "Top posts by engagement".into(),
        columns: vec!["Post".into(), "Likes".into()],
        rows: vec![],
    }];
    r
}

/// Markup and quotes in every text the model carries.
pub fn hostile() -> Report {
    const SCRIPT: &str = "<script>alert(1)</script>";
    const BREAKOUT: &str = "\"><img src=x onerror=alert(2)>";
    let mut r = monthly();
    r.title = format!("{SCRIPT} report {BREAKOUT}");
    r.period_label = format!("{SCRIPT}'single' & \"double\"");
    r.previous_label = BREAKOUT.into();
    r.tz = "<b>Europe/Paris</b>".into();
    r.generated_at = "</style><script>alert(3)</script>".into();
    r.coverage = Coverage::Partial;
    r.coverage_note = Some(format!(
        "{SCRIPT} <a href=\"http://evil.example\">click</a>"
    ));
    for f in &mut r.figures {
        f.label = format!("{} {SCRIPT}", f.label);
        f.key = format!("{}\"", f.key);
    }
    for c in &mut r.charts {
        c.title = format!("{SCRIPT}{}", c.title);
        c.key = BREAKOUT.into();
        c.x_title = SCRIPT.into();
        c.y_title = BREAKOUT.into();
        c.note = Some("<style>@import url(http://evil.example/x.css);</style>".into());
        match &mut c.data {
            ChartData::Line { x_labels, series } => {
                x_labels.iter_mut().for_each(|l| *l = SCRIPT.into());
                series.iter_mut().for_each(|s| s.name = BREAKOUT.into());
            }
            ChartData::Bar { categories, series } => {
                categories
                    .iter_mut()
                    .for_each(|l| *l = format!("{BREAKOUT}{l}"));
                series.iter_mut().for_each(|s| s.name = SCRIPT.into());
            }
            ChartData::Heatmap { labels, .. } => labels.iter_mut().for_each(|l| *l = SCRIPT.into()),
        }
    }
    for t in &mut r.tables {
        t.title = SCRIPT.into();
        t.columns.iter_mut().for_each(|c| *c = BREAKOUT.into());
        for row in &mut t.rows {
            row[1] = format!("{SCRIPT} <iframe src=\"http://evil.example\"></iframe>");
        }
    }
    for i in &mut r.insights {
        i.text = format!("{SCRIPT} {}", i.text);
        i.rule = BREAKOUT.into();
    }
    for rec in &mut r.recommendations {
        rec.category = SCRIPT.into();
        rec.suggestion = format!(
            "<link rel=stylesheet href=\"http://evil.example\"> {}",
            rec.suggestion
        );
        rec.expected_impact = BREAKOUT.into();
        rec.rule = SCRIPT.into();
    }
    r.section_errors = vec![SectionError {
        section: SCRIPT.into(),
        message: BREAKOUT.into(),
    }];
    r.footer = Some(format!("{SCRIPT} url(http://evil.example)"));
    r
}

/// 3000-character names mixing scripts, emoji and combining marks.
pub fn unicode_heavy() -> Report {
    let pieces = [
        "Łódź ",
        "日本語のタイトル ",
        "Привет мир ",
        "مرحبا ",
        "🎉🚀 ",
        "e\u{301}te\u{301} ",
        "Ελληνικά ",
        "한국어 ",
        "नमस्ते ",
    ];
    let long: String = pieces
        .iter()
        .cycle()
        .flat_map(|p| p.chars())
        .take(3000)
        .collect();
    let mut r = weekly();
    r.title = format!(
        "Wöchentlicher Bericht · 日本 · {}",
        &long.chars().take(120).collect::<String>()
    );
    r.period_label = "KW 10 — 4.–10. März 2024 · «Frühling» 🌸".into();
    r.tz = "Asia/Tōkyō".into();
    for f in &mut r.figures {
        f.label = long.clone();
    }
    for c in &mut r.charts {
        c.title = long.clone();
        match &mut c.data {
            ChartData::Line { series, .. } | ChartData::Bar { series, .. } => {
                series.iter_mut().for_each(|s| s.name = long.clone())
            }
            ChartData::Heatmap { .. } => {}
        }
        if let ChartData::Bar { categories, .. } = &mut c.data {
            categories.iter_mut().for_each(|l| *l = long.clone());
        }
    }
    for t in &mut r.tables {
        for row in &mut t.rows {
            row[0] = long.clone();
        }
    }
    for i in &mut r.insights {
        i.text = long.clone();
    }
    r.footer = Some(long);
    r
}

/// Data no real report should have: series longer and shorter than their labels, NaN and
/// infinities, empty labels, a ragged heatmap with an unusable range, ragged table rows.
pub fn adversarial() -> Report {
    let mut r = base(Kind::Daily, "", "not a date", "", "", "");
    r.tz = String::new();
    r.generated_at = String::new();
    r.footer = None;
    r.figures = vec![
        figure("nan", "", Unit::Number, Some(f64::NAN), Some(f64::INFINITY)),
        Figure {
            key: String::new(),
            label: "Huge".into(),
            unit: Unit::Count,
            value: Some(1e300),
            previous: Some(-1e300),
            change_pct: Some(f64::NEG_INFINITY),
            source: String::new(),
        },
        figure(
            "neg",
            "Negative duration",
            Unit::Seconds,
            Some(-4000.0),
            Some(0.0),
        ),
    ];
    r.charts = vec![
        line(
            "mismatch",
            "",
            "",
            "",
            Unit::Count,
            vec!["a".into(), String::new(), "c".into()],
            vec![
                series(
                    "long",
                    vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)],
                ),
                series("short", vec![Some(f64::NAN)]),
                series("", vec![]),
            ],
        ),
        line(
            "infinite",
            "Infinite",
            "x",
            "y",
            Unit::Number,
            vec!["1".into(), "2".into()],
            vec![series(
                "s",
                vec![Some(f64::INFINITY), Some(f64::NEG_INFINITY)],
            )],
        ),
        line(
            "huge",
            "Huge",
            "x",
            "y",
            Unit::Count,
            vec!["1".into(), "2".into()],
            vec![series("s", vec![Some(f64::MAX), Some(-f64::MAX)])],
        ),
        line(
            "single",
            "Single point",
            "x",
            "y",
            Unit::Seconds,
            vec!["only".into()],
            vec![series("s", vec![Some(42.0)])],
        ),
        line(
            "no_labels",
            "No labels",
            "x",
            "y",
            Unit::Count,
            vec![],
            vec![series("s", vec![Some(1.0), Some(2.0)])],
        ),
        bar(
            "negative",
            "Negative bars",
            "",
            "",
            Unit::Percent,
            &["", "b", "c"],
            vec![series(
                "s",
                vec![Some(-5.0), None, Some(f64::NAN), Some(9.0)],
            )],
        ),
        bar("many", "Many categories", "", "", Unit::Count, &[], vec![]),
        Chart {
            key: "ragged".into(),
            title: "Ragged heatmap".into(),
            x_title: String::new(),
            y_title: String::new(),
            unit: Unit::Number,
            data: ChartData::Heatmap {
                labels: vec!["a".into(), "b".into(), "c".into()],
                cells: vec![
                    vec![Some(1.0)],
                    vec![],
                    vec![Some(f64::NAN), Some(0.5), Some(2.0), Some(9.0)],
                ],
                min: f64::NAN,
                max: f64::NAN,
            },
            note: Some(String::new()),
        },
        Chart {
            key: "inverted".into(),
            title: "Inverted range".into(),
            x_title: String::new(),
            y_title: String::new(),
            unit: Unit::Number,
            data: ChartData::Heatmap {
                labels: vec!["a".into(), "b".into()],
                cells: vec![vec![Some(0.3), Some(0.3)], vec![Some(0.3), Some(0.3)]],
                min: 1.0,
                max: -1.0,
            },
            note: None,
        },
    ];
    // Taller than a PDF page: the renderer must shrink it rather than cut it.
    let big: Vec<String> = (0..60).map(|i| format!("Metric {i}")).collect();
    let big_cells = (0..60)
        .map(|r| {
            (0..60)
                .map(|c| Some(((r * c) % 21) as f64 / 10.0 - 1.0))
                .collect()
        })
        .collect();
    r.charts.push(Chart {
        key: "big_heatmap".into(),
        title: "A 60 × 60 heatmap".into(),
        x_title: String::new(),
        y_title: String::new(),
        unit: Unit::Number,
        data: ChartData::Heatmap {
            labels: big,
            cells: big_cells,
            min: -1.0,
            max: 1.0,
        },
        note: None,
    });
    if let Some(ChartData::Bar { categories, series }) = r
        .charts
        .iter_mut()
        .find(|c| c.key == "many")
        .map(|c| &mut c.data)
    {
        *categories = (0..300).map(|i| format!("Category number {i}")).collect();
        series.push(Series {
            name: "n".into(),
            values: (0..300).map(|i| Some(f64::from(i))).collect(),
        });
    }
    r.tables = vec![Table {
        key: "ragged".into(),
        title: String::new(),
        columns: vec![],
        rows: vec![
            vec![],
            vec!["a".into(), "b".into(), "c".into()],
            vec!["only".into()],
        ],
    }];
    r.insights = vec![insight(Level::Info, "", "", "")];
    r.recommendations = vec![Recommendation {
        category: String::new(),
        priority: Priority::Low,
        suggestion: String::new(),
        expected_impact: String::new(),
        rule: String::new(),
        cites: "missing".into(),
    }];
    r.section_errors = vec![
        SectionError {
            section: String::new(),
            message: String::new(),
        },
        SectionError {
            section: "figures".into(),
            message: "kpis() failed".into(),
        },
    ];
    r
}

/// A report long enough to need several PDF pages (a 150-row table, many insights).
pub fn long() -> Report {
    let mut r = monthly();
    r.tables = vec![top_posts_table(150)];
    r.insights = (0..30).map(|i| insight(Level::Info, &format!("Observation number {i}: activity on this day was within the usual range for the month."), "daily range check", "active_users")).collect();
    r
}

/// Every sample, named (for the example that writes them to disk).
pub fn all() -> Vec<(&'static str, Report)> {
    vec![
        ("daily", daily()),
        ("weekly", weekly()),
        ("monthly", monthly()),
        ("partial", partial()),
        ("empty", empty()),
        ("hostile", hostile()),
        ("unicode", unicode_heavy()),
        ("adversarial", adversarial()),
        ("long", long()),
    ]
}
