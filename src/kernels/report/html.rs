//! The report as one self-contained HTML page: inline CSS and inline SVG charts, no scripts and
//! no external requests, readable on a phone and printable. Every text from the model is escaped.

use std::fmt::Write;

use super::charts::{layout_chart, LayoutSize};
use super::common::*;
use super::format::{change_direction, format_change, format_value, Direction};
use super::model::{Chart, Coverage, Figure, Level, Report, SectionError, Table};
use super::svg::scene_to_svg;

/// Chart layouts: the wide one for screens and print, the narrow one (larger text relative to its
/// width) replaces it on phones.
pub const WIDE: LayoutSize = LayoutSize {
    width: 760.0,
    font: 12.0,
    plot_height: 320.0,
};
pub const NARROW: LayoutSize = LayoutSize {
    width: 400.0,
    font: 12.0,
    plot_height: 280.0,
};

/// `key` as an HTML id fragment: ASCII letters, digits, `-` and `_`; anything else becomes `-`.
pub fn slug(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `text` safe as HTML/SVG text and inside double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in HTML text; show them as spaces.
            '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

// Table cells use overflow-wrap:anywhere: break-word does not narrow an auto-layout table's
// columns, so one long unbroken title pushed the other columns off the page.
const CSS: &str = r#"
:root{--ink:#1f2937;--muted:#5b6573;--line:#e3e7ec;--panel:#f5f7fa;--accent:#2563eb;--up:#1d6fd8;--down:#c2410c;
--good:#0f7b5f;--good-bg:#e8f6f1;--info:#2563eb;--info-bg:#eef3fe;--warn:#a15c00;--warn-bg:#fff5e0;--err:#b42318;--err-bg:#fdecea}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#eef1f5;color:var(--ink);font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:880px;margin:24px auto;background:#fff;padding:32px 40px;border-radius:10px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
h1,h2,h3,p,li,dd,figcaption,.card{overflow-wrap:anywhere}
td{overflow-wrap:anywhere}td.num{white-space:nowrap;overflow-wrap:normal}
header .kind{margin:0;color:var(--accent);font-weight:600;font-size:13px;letter-spacing:.06em;text-transform:uppercase}
h1{margin:4px 0 12px;font-size:28px;line-height:1.2}
h2{margin:36px 0 12px;font-size:19px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{margin:0 0 8px;font-size:16px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0;color:var(--muted);font-size:14px}
.meta dt{font-weight:600}.meta dd{margin:0}
.coverage{margin:20px 0 0;padding:14px 16px;border-radius:8px;border-left:5px solid var(--warn);background:var(--warn-bg)}
.coverage.empty{border-color:var(--err);background:var(--err-bg)}
.coverage strong{display:block;font-size:16px}
.hint{margin:-4px 0 12px;color:var(--muted);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;break-inside:avoid;page-break-inside:avoid}
.card .label{margin:0;color:var(--muted);font-size:13px;font-weight:600}
.card .value{margin:2px 0;font-size:26px;font-weight:700;line-height:1.2;font-variant-numeric:tabular-nums}
.card .prev{margin:0;color:var(--muted);font-size:13px}
.change{margin:0;font-size:14px;font-weight:700;font-variant-numeric:tabular-nums}
.change.up{color:var(--up)}.change.down{color:var(--down)}.change.flat,.change.na{color:var(--muted)}
figure{margin:0 0 28px;break-inside:avoid;page-break-inside:avoid}
figure svg{display:block;width:100%;height:auto}
.chart-narrow{display:none}
figcaption{color:var(--muted);font-size:13px;margin-top:6px}
.table-wrap{overflow-x:auto;margin:0 0 24px}
table{border-collapse:collapse;width:100%;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600}
td.num,th.num{text-align:right}
tr{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
.empty-note{color:var(--muted);font-style:italic}
ul.items{list-style:none;margin:0;padding:0}
.item{margin:0 0 10px;padding:12px 14px;border-radius:8px;border-left:5px solid var(--info);background:var(--info-bg);break-inside:avoid;page-break-inside:avoid}
.item.good{border-color:var(--good);background:var(--good-bg)}
.item.warning{border-color:var(--warn);background:var(--warn-bg)}
.badge{display:inline-block;margin-right:8px;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;background:#fff;vertical-align:1px}
.item.good .badge{color:var(--good)}.item.info .badge{color:var(--info)}.item.warning .badge{color:var(--warn)}
.item small{display:block;margin-top:4px;color:var(--muted);font-size:12px}
.rec{border-color:#7c3aed;background:#f4f0fe}
.rec.high{border-color:var(--err);background:var(--err-bg)}
.rec .badge{color:var(--ink)}
.rec .impact{margin:4px 0 0}
.section-error{margin:0 0 16px;padding:10px 14px;border:1px dashed var(--err);border-radius:8px;background:var(--err-bg);color:var(--err);break-inside:avoid}
footer{margin-top:40px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
footer p{margin:2px 0}
@media (max-width:640px){
 body{background:#fff;font-size:15px}
 main{margin:0;padding:18px 16px;border-radius:0;box-shadow:none}
 h1{font-size:23px}
 .meta{grid-template-columns:1fr;gap:0}.meta dd{margin-bottom:6px}
 .cards{grid-template-columns:1fr 1fr;gap:8px}
 .card{padding:10px}.card .value{font-size:21px}
 .chart-wide{display:none}.chart-narrow{display:block}
 th,td{padding:6px 8px}
}
@media (max-width:360px){.cards{grid-template-columns:1fr}}
@page{size:A4;margin:16mm 14mm}
@media print{
 body{background:#fff;font-size:11pt}
 main{max-width:none;margin:0;padding:0;box-shadow:none}
 .chart-wide{display:block!important}.chart-narrow{display:none!important}
 h2{break-after:avoid;page-break-after:avoid}
 h3{break-after:avoid;page-break-after:avoid}
 .cards{grid-template-columns:repeat(3,1fr)}
 .table-wrap{overflow:visible}
}
"#;

/// The report as a self-contained HTML page (see the module comment).
pub fn render_html(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = escape(&report.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
    );
    header(&mut out, report);
    figures(&mut out, report);
    charts(&mut out, report);
    tables(&mut out, report);
    insights(&mut out, report);
    recommendations(&mut out, report);
    footer(&mut out, report);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &Report) {
    let _ = write!(
        out,
        "<header>\n<p class=\"kind\">{}</p>\n<h1>{}</h1>\n<dl class=\"meta\">",
        kind_label(report.kind),
        escape(&report.title)
    );
    let mut meta = |name: &str, value: &str| {
        if !value.trim().is_empty() {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(value));
        }
    };
    meta(
        "Period",
        &format!("{} · {}", report.period_label, period_dates(report)),
    );
    meta("Compared with", &report.previous_label);
    meta("Time zone", &report.tz);
    meta("Generated", &report.generated_at);
    out.push_str("</dl>\n");
    if let Some((heading, note)) = coverage_message(report) {
        let class = if report.coverage == Coverage::Empty {
            "coverage empty"
        } else {
            "coverage"
        };
        let _ = writeln!(
            out,
            "<div class=\"{class}\" role=\"note\"><strong>{}</strong>{}</div>",
            escape(heading),
            escape(&note)
        );
    }
    out.push_str("</header>\n");
}

fn section_errors(out: &mut String, errors: &[&SectionError]) {
    for error in errors {
        let _ = writeln!(
            out,
            "<p class=\"section-error\" role=\"alert\">{}</p>",
            escape(&section_error_text(error))
        );
    }
}

fn figures(out: &mut String, report: &Report) {
    let errors = errors_at(report, ErrorPlace::Figures);
    if report.figures.is_empty() && errors.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section class=\"figures\">\n<h2>{FIGURES_HEADING}</h2>"
    );
    section_errors(out, &errors);
    if !report.figures.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"hint\">{}</p>\n<div class=\"cards\">",
            escape(&direction_note(report))
        );
        for figure in &report.figures {
            card(out, figure);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn card(out: &mut String, figure: &Figure) {
    let (class, arrow) = match change_direction(figure.change_pct) {
        Direction::Up => ("up", "▲ "),
        Direction::Down => ("down", "▼ "),
        Direction::Flat => ("flat", "► "),
        Direction::Unknown => ("na", ""),
    };
    let _ = writeln!(
        out,
        "<div class=\"card\"><p class=\"label\">{}</p><p class=\"value\">{}</p><p class=\"change {class}\">{arrow}{}</p><p class=\"prev\">Previous: {}</p></div>",
        escape(&clip(&figure.label, MAX_LABEL_CHARS)),
        escape(&format_value(figure.value, figure.unit)),
        escape(&format_change(figure.change_pct)),
        escape(&format_value(figure.previous, figure.unit)),
    );
}

fn charts(out: &mut String, report: &Report) {
    let other = errors_at(report, ErrorPlace::Other);
    if report.charts.is_empty() && other.is_empty() {
        return;
    }
    let _ = writeln!(out, "<section class=\"charts\">\n<h2>{CHARTS_HEADING}</h2>");
    section_errors(out, &other);
    for (i, chart) in report.charts.iter().enumerate() {
        let errors = errors_at(report, ErrorPlace::Chart(i));
        chart_figure(out, chart, &errors);
    }
    out.push_str("</section>\n");
}

fn chart_figure(out: &mut String, chart: &Chart, errors: &[&SectionError]) {
    let _ = writeln!(
        out,
        "<figure class=\"chart\" id=\"chart-{}\">\n<h3>{}</h3>",
        slug(&chart.key),
        escape(&clip(&chart.title, MAX_TITLE_CHARS))
    );
    section_errors(out, errors);
    let wide = layout_chart(chart, WIDE);
    let narrow = layout_chart(chart, NARROW);
    out.push_str(&scene_to_svg(&wide, &chart.title, "chart-wide"));
    out.push('\n');
    out.push_str(&scene_to_svg(&narrow, &chart.title, "chart-narrow"));
    out.push('\n');
    if let Some(note) = chart.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(note));
    }
    out.push_str("</figure>\n");
}

/// Whether a table cell reads as a number (right-aligned): a number ("12,345", "−3.0", "+12.5")
/// optionally followed by unit words ("%", "s", "min", "h", "d"), e.g. "30.83 %", "3 min 05 s".
pub fn looks_numeric(cell: &str) -> bool {
    let mut tokens = cell.split_whitespace();
    let is_number = |t: &str| {
        t.chars().any(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || ",.+-−%".contains(c))
    };
    match tokens.next() {
        Some(first) if is_number(first) => {
            tokens.all(|t| is_number(t) || matches!(t, "%" | "s" | "min" | "h" | "d"))
        }
        _ => false,
    }
}

fn tables(out: &mut String, report: &Report) {
    if report.tables.is_empty() {
        return;
    }
    let _ = writeln!(out, "<section class=\"tables\">\n<h2>{TABLES_HEADING}</h2>");
    for (i, table) in report.tables.iter().enumerate() {
        table_html(out, table, &errors_at(report, ErrorPlace::Table(i)));
    }
    out.push_str("</section>\n");
}

fn table_html(out: &mut String, table: &Table, errors: &[&SectionError]) {
    let _ = writeln!(
        out,
        "<h3 id=\"table-{}\">{}</h3>",
        slug(&table.key),
        escape(&clip(&table.title, MAX_TITLE_CHARS))
    );
    section_errors(out, errors);
    let columns = table
        .columns
        .len()
        .max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
    if table.rows.is_empty() {
        out.push_str("<p class=\"empty-note\">No rows for this period.</p>\n");
        return;
    }
    // A column is numeric when all its non-empty cells are.
    let numeric: Vec<bool> = (0..columns)
        .map(|c| {
            let mut cells = table
                .rows
                .iter()
                .filter_map(|r| r.get(c))
                .filter(|v| !v.trim().is_empty())
                .peekable();
            cells.peek().is_some() && cells.all(|v| looks_numeric(v) || v.trim() == "n/a")
        })
        .collect();
    out.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for (c, is_number) in numeric.iter().enumerate() {
        let name = table.columns.get(c).map(String::as_str).unwrap_or("");
        let _ = write!(
            out,
            "<th{}>{}</th>",
            if *is_number { " class=\"num\"" } else { "" },
            escape(&clip(name, MAX_LABEL_CHARS))
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (c, is_number) in numeric.iter().enumerate() {
            let cell = row.get(c).map(String::as_str).unwrap_or("");
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if *is_number { " class=\"num\"" } else { "" },
                escape(&clip(cell, MAX_CELL_CHARS))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn insights(out: &mut String, report: &Report) {
    let errors = errors_at(report, ErrorPlace::Insights);
    if report.insights.is_empty() && errors.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section class=\"insights\">\n<h2>{INSIGHTS_HEADING}</h2>"
    );
    section_errors(out, &errors);
    out.push_str("<ul class=\"items\">\n");
    for insight in &report.insights {
        let class = match insight.level {
            Level::Good => "good",
            Level::Info => "info",
            Level::Warning => "warning",
        };
        let _ = write!(
            out,
            "<li class=\"item {class}\"><span class=\"badge\">{}</span>{}",
            level_label(insight.level),
            escape(&insight.text)
        );
        provenance_line(out, report, &insight.rule, &insight.cites);
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n</section>\n");
}

/// The small "Rule: … · Figure: …" line under an insight or recommendation.
fn provenance_line(out: &mut String, report: &Report, rule: &str, cites: &str) {
    if let Some(text) = provenance(report, rule, cites) {
        let _ = write!(out, "<small>{}</small>", escape(&text));
    }
}

fn recommendations(out: &mut String, report: &Report) {
    let errors = errors_at(report, ErrorPlace::Recommendations);
    if report.recommendations.is_empty() && errors.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section class=\"recommendations\">\n<h2>{RECOMMENDATIONS_HEADING}</h2>"
    );
    section_errors(out, &errors);
    out.push_str("<ul class=\"items\">\n");
    for rec in &report.recommendations {
        let class = match rec.priority {
            super::model::Priority::High => "high",
            super::model::Priority::Medium => "medium",
            super::model::Priority::Low => "low",
        };
        let category = if rec.category.trim().is_empty() {
            String::new()
        } else {
            format!("{} · ", rec.category.trim())
        };
        let _ = write!(
            out,
            "<li class=\"item rec {class}\"><span class=\"badge\">{}{}</span>{}",
            escape(&category),
            priority_label(rec.priority),
            escape(&rec.suggestion)
        );
        if !rec.expected_impact.trim().is_empty() {
            let _ = write!(
                out,
                "<p class=\"impact\"><strong>Expected impact:</strong> {}</p>",
                escape(&rec.expected_impact)
            );
        }
        provenance_line(out, report, &rec.rule, &rec.cites);
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n</section>\n");
}

fn footer(out: &mut String, report: &Report) {
    out.push_str("<footer>\n");
    if let Some(text) = report.footer.as_deref().filter(|t| !t.trim().is_empty()) {
        let _ = writeln!(out, "<p>{}</p>", escape(text));
    }
    let _ = writeln!(
        out,
        "<p>{GENERATED_BY} · {} · {}</p>",
        escape(&report.generated_at),
        escape(&report.tz)
    );
    out.push_str("</footer>\n");
}
