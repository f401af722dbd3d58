//! Renderer tests over the sample reports of [`super::fixtures`].

use super::fixtures;
use super::model::*;
use super::{render_html, render_pdf};

/// How many SVG drawings the page has.
fn svg_count(html: &str) -> usize {
    html.matches("<svg").count()
}

#[test]
fn html_escapes_every_text_from_the_model() {
    let html = render_html(&fixtures::hostile());
    // Only the page's own markup may appear; none of the injected elements.
    for needle in [
        "<script",
        "<img",
        "<iframe",
        "<link",
        "<a href",
        "<b>",
        "<style>@import",
        "</style><script",
    ] {
        assert!(
            !html.contains(needle),
            "unescaped {needle} in the hostile report"
        );
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("&#39;single&#39; &amp; &quot;double&quot;"));
    // The page has exactly one <style> element: ours.
    assert_eq!(html.matches("<style").count(), 1);
    // Inside SVG too: labels, legends and <title> are escaped.
    let svg_start = html.find("<svg").expect("charts are drawn");
    assert!(html[svg_start..].contains("<title>&lt;script&gt;"));
}

/// The markup of the page: every `<…>` tag (text from the model has its `<` escaped, so it
/// never starts one) and the content of the `<style>` element.
fn markup(html: &str) -> (Vec<&str>, &str) {
    let tags = html
        .split('<')
        .skip(1)
        .map(|s| s.split('>').next().unwrap_or(s))
        .collect();
    let style = html
        .split("<style>")
        .nth(1)
        .and_then(|s| s.split("</style>").next())
        .unwrap_or("");
    (tags, style)
}

#[test]
fn html_is_self_contained() {
    for (name, report) in fixtures::all() {
        let html = render_html(&report);
        let (tags, style) = markup(&html);
        for tag in &tags {
            // Attribute values hold escaped model text (a quote in the data is `&quot;`), so the
            // names are what is left once quoted values are dropped.
            let lower: String = tag.to_ascii_lowercase().split('"').step_by(2).collect();
            for needle in ["src=", "href", "url(", "@import", "xlink"] {
                assert!(
                    !lower.contains(needle),
                    "{name}: external reference in <{tag}>"
                );
            }
            for element in [
                "link", "script", "img", "iframe", "object", "embed", "image", "use", "a ",
            ] {
                assert!(!lower.starts_with(element), "{name}: <{tag}>");
            }
        }
        assert!(
            !style.contains("url(") && !style.contains("@import") && !style.contains("@font-face"),
            "{name}"
        );
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(html.contains("<meta name=\"viewport\""), "{name}");
        assert!(html.contains("@media print"), "{name}");
        assert!(html.trim_end().ends_with("</html>"), "{name}");
        // Reports whose data holds no such text have none of these strings anywhere.
        if name != "hostile" {
            for needle in ["src=", "href=\"http", "<link", "@import", "url("] {
                assert!(!html.contains(needle), "{name}: found {needle}");
            }
        }
    }
}

#[test]
fn every_chart_appears_as_svg() {
    for (name, report) in fixtures::all() {
        let html = render_html(&report);
        // A wide and a narrow (phone) drawing per chart.
        assert_eq!(svg_count(&html), 2 * report.charts.len(), "{name}");
        for chart in &report.charts {
            let id = format!("id=\"chart-{}\"", super::html::slug(&chart.key));
            assert!(html.contains(&id), "{name}: chart {} missing", chart.key);
        }
    }
}

#[test]
fn charts_without_data_show_the_no_data_note() {
    let report = fixtures::empty();
    let html = render_html(&report);
    // Three charts (all NULL line, empty bars, all-NULL heatmap), each drawn twice.
    assert_eq!(html.matches(super::charts::NO_DATA_TEXT).count(), 6);
    let complete = render_html(&fixtures::monthly());
    assert!(!complete.contains(super::charts::NO_DATA_TEXT));
}

#[test]
fn section_errors_and_coverage_notes_are_visible() {
    let report = fixtures::partial();
    let html = render_html(&report);
    assert!(html.contains("class=\"coverage\""));
    assert!(html.contains("Partial data"));
    assert!(html.contains("The day is not over: figures cover 00:00–13:00 only and will change."));
    assert!(html.contains("This section could not be generated (interaction_mix): canceling statement due to statement timeout"));
    assert!(html.contains("This section could not be generated (top_posts): relation &quot;mking_analytics.post_rollup&quot; is being refreshed"));
    let empty = render_html(&fixtures::empty());
    assert!(empty.contains("class=\"coverage empty\""));
    assert!(empty.contains("No events were recorded in this week."));
    assert!(!render_html(&fixtures::monthly()).contains("class=\"coverage"));
}

#[test]
fn figures_show_value_previous_and_change() {
    let html = render_html(&fixtures::monthly());
    assert!(html.contains("<p class=\"value\">118,402</p>"));
    assert!(
        html.contains("<p class=\"change up\">▲ +7.8 %</p><p class=\"prev\">Previous: 109,877</p>")
    );
    assert!(html.contains("<p class=\"change down\">▼ −5.9 %</p>"));
    // Previous value 0: no change percentage.
    assert!(html.contains("<p class=\"change na\">n/a</p><p class=\"prev\">Previous: 0.00 %</p>"));
    assert!(html.contains("<p class=\"value\">3 min 05 s</p>"));
}

#[test]
fn insights_and_recommendations_show_rule_and_cited_figure() {
    let html = render_html(&fixtures::monthly());
    assert!(html.contains("<li class=\"item warning\"><span class=\"badge\">Warning</span>New registrations fell 5.9 % while active users grew."));
    assert!(html.contains("Rule: new_users change &lt;= −5 % · Figure: New registrations: 11,290"));
    assert!(html.contains("growth · High priority"));
    assert!(
        html.contains("<strong>Expected impact:</strong> Recover about 700 registrations a month")
    );
}

fn parse_pdf(bytes: &[u8]) -> lopdf::Document {
    assert!(bytes.starts_with(b"%PDF-"), "no PDF header");
    let tail = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(16)..]).to_string();
    assert!(
        tail.trim_end().ends_with("%%EOF"),
        "no %%EOF at the end: {tail:?}"
    );
    lopdf::Document::load_mem(bytes).expect("the PDF parses")
}

fn pdf_text(doc: &lopdf::Document) -> String {
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text extracts")
}

#[test]
fn pdf_of_each_kind_is_valid_with_expected_pages() {
    for (report, pages) in [
        (fixtures::daily(), 3),
        (fixtures::weekly(), 3),
        (fixtures::monthly(), 3),
        (fixtures::empty(), 2),
    ] {
        let bytes = render_pdf(&report).expect("renders");
        let doc = parse_pdf(&bytes);
        assert_eq!(doc.get_pages().len(), pages, "{}", report.title);
        let text = pdf_text(&doc);
        // Text extraction sees the title (through WinAnsi: "·" is in it) and the page footers.
        assert!(
            text.contains(&report.title),
            "{}: title not found in {text:.300}",
            report.title
        );
        for n in 1..=pages {
            assert!(
                text.contains(&format!("Page {n} of {pages}")),
                "{}: no footer for page {n}",
                report.title
            );
        }
    }
}

#[test]
fn pdf_shows_sections_errors_and_coverage() {
    let doc = parse_pdf(&render_pdf(&fixtures::partial()).expect("renders"));
    let text = pdf_text(&doc);
    assert!(text.contains("Partial data"));
    assert!(text.contains("This section could not be generated (interaction_mix)"));
    let monthly = pdf_text(&parse_pdf(
        &render_pdf(&fixtures::monthly()).expect("renders"),
    ));
    for needle in [
        "Headline figures",
        "118,402",
        "+7.8 %",
        "Recommendations",
        "Expected impact: Recover about 700",
        "Correlation of daily interactions",
        "0.82",
    ] {
        assert!(
            monthly.contains(needle),
            "{needle} missing from the monthly PDF"
        );
    }
    let empty = pdf_text(&parse_pdf(
        &render_pdf(&fixtures::empty()).expect("renders"),
    ));
    assert!(empty.contains("No data for this period"));
}

#[test]
fn long_reports_paginate_and_repeat_table_headers() {
    let report = fixtures::long();
    let doc = parse_pdf(&render_pdf(&report).expect("renders"));
    let pages = doc.get_pages().len();
    assert!(
        pages >= 6,
        "150 table rows and 30 insights should need at least 6 pages, got {pages}"
    );
    let text = pdf_text(&doc);
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    // Rows 1 and 150 both appear; the header row is repeated on the pages the table spans.
    assert!(text.contains("Observation number 29"));
    assert!(text.matches("Engagement").count() >= 4);
}

#[test]
fn unicode_heavy_report_yields_a_valid_pdf() {
    let report = fixtures::unicode_heavy();
    let bytes = render_pdf(&report).expect("renders");
    let doc = parse_pdf(&bytes);
    let text = pdf_text(&doc);
    // Latin-1 comes from Helvetica; Polish, Cyrillic and Greek from the embedded fallback font,
    // and its ToUnicode map gives them back to text extraction. CJK, emoji and Arabic are '?'.
    for needle in ["Wöchentlicher Bericht", "Łódź", "Привет мир", "Ελληνικά"] {
        assert!(text.contains(needle), "{needle} not in {text:.400}");
    }
    assert!(!text.contains("日本") && !text.contains("مرحبا"));
    let html = render_html(&report);
    assert!(html.contains("日本語のタイトル"));
}

/// The fonts of the PDF: (BaseFont, whether a font file is embedded) per font dictionary.
fn pdf_fonts(doc: &lopdf::Document) -> Vec<(String, bool)> {
    let name = |d: &lopdf::Dictionary| {
        String::from_utf8_lossy(d.get(b"BaseFont").and_then(|o| o.as_name()).unwrap_or(b"?"))
            .to_string()
    };
    let mut fonts: Vec<(String, bool)> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| {
            d.get(b"Type").and_then(|t| t.as_name()).ok() == Some(b"FontDescriptor".as_slice())
        })
        .map(|d| {
            (
                String::from_utf8_lossy(
                    d.get(b"FontName").and_then(|o| o.as_name()).unwrap_or(b"?"),
                )
                .to_string(),
                d.has(b"FontFile2"),
            )
        })
        .collect();
    fonts.extend(
        doc.objects
            .values()
            .filter_map(|o| o.as_dict().ok())
            .filter(|d| {
                d.get(b"Subtype").and_then(|t| t.as_name()).ok() == Some(b"Type1".as_slice())
            })
            .map(|d| (name(d), false)),
    );
    fonts.sort();
    fonts.dedup();
    fonts
}

#[test]
fn the_fallback_font_is_embedded_only_when_needed_and_only_its_used_glyphs() {
    // A report in Latin text embeds nothing.
    let latin = render_pdf(&fixtures::weekly()).expect("renders");
    assert_eq!(
        pdf_fonts(&parse_pdf(&latin)),
        vec![
            ("Helvetica".to_string(), false),
            ("Helvetica-Bold".to_string(), false)
        ]
    );
    // One Cyrillic name in a table (regular) and a heading (bold) embeds both faces as subsets.
    let mut report = fixtures::weekly();
    report.tables[0].rows[0][0] = "Пивовар Ярослав".into();
    report.tables[0].title = "Лучшие посты".into();
    let bytes = render_pdf(&report).expect("renders");
    let doc = parse_pdf(&bytes);
    assert_eq!(
        pdf_fonts(&doc),
        vec![
            ("Helvetica".to_string(), false),
            ("Helvetica-Bold".to_string(), false),
            ("MKAAAA+DejaVuSans".to_string(), true),
            ("MKAAAB+DejaVuSans-Bold".to_string(), true),
        ]
    );
    let text = pdf_text(&doc);
    assert!(
        text.contains("Пивовар Ярослав") && text.contains("Лучшие посты"),
        "{text:.600}"
    );
    // The whole DejaVu Sans is 740 kB; the subsets of a dozen glyphs add a few kB.
    let added = bytes.len() as i64 - latin.len() as i64;
    assert!(
        added > 0 && added < 40_000,
        "the fallback subsets added {added} bytes"
    );
}

#[test]
fn adversarial_models_never_panic_and_stay_valid() {
    let reports = fixtures::all();
    for (name, report) in &reports {
        let html = std::panic::catch_unwind(|| render_html(report))
            .unwrap_or_else(|_| panic!("{name}: render_html panicked"));
        assert!(html.contains("</html>"), "{name}");
        assert!(
            !html.contains("NaN") && !html.contains("inf\""),
            "{name}: non-finite number in the HTML"
        );
        let pdf = std::panic::catch_unwind(|| render_pdf(report))
            .unwrap_or_else(|_| panic!("{name}: render_pdf panicked"));
        let doc = parse_pdf(&pdf.expect("renders"));
        assert!(!doc.get_pages().is_empty(), "{name}");
    }
    // A model that is empty in every way.
    let mut bare = fixtures::empty();
    bare.title.clear();
    bare.figures.clear();
    bare.charts.clear();
    bare.tables.clear();
    bare.footer = None;
    bare.coverage_note = None;
    let doc = parse_pdf(&render_pdf(&bare).expect("renders"));
    assert_eq!(doc.get_pages().len(), 1);
    assert!(render_html(&bare).contains("There were no events in this period"));
}

#[test]
fn adversarial_chart_data_is_drawn_without_non_finite_coordinates() {
    let report = fixtures::adversarial();
    for chart in &report.charts {
        for size in [
            super::html::WIDE,
            super::html::NARROW,
            super::pdf::PDF_CHART,
        ] {
            let scene = super::charts::layout_chart(chart, size);
            assert!(
                scene.width.is_finite() && scene.height.is_finite() && scene.height > 0.0,
                "{}",
                chart.key
            );
            let svg = super::svg::scene_to_svg(&scene, &chart.title, "c");
            assert!(
                !svg.contains("NaN") && !svg.contains("inf"),
                "{}: {svg:.200}",
                chart.key
            );
        }
    }
    // A series shorter than its labels is padded, a longer one cut: "mismatch" draws 3 points of
    // the long series and nothing of the others.
    let mismatch = report
        .charts
        .iter()
        .find(|c| c.key == "mismatch")
        .expect("fixture has it");
    let scene = super::charts::layout_chart(mismatch, super::html::WIDE);
    let points: usize = scene
        .shapes
        .iter()
        .map(|s| {
            if let super::charts::Shape::Polyline { points, .. } = s {
                points.len()
            } else {
                0
            }
        })
        .sum();
    assert_eq!(points, 3);
}

#[test]
fn model_round_trips_through_json() {
    // The renderers read what api::reports stores as jsonb.
    let report = fixtures::monthly();
    let json = serde_json::to_string(&report).expect("serializes");
    let back: Report = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(render_html(&back), render_html(&report));
}

#[test]
fn every_character_of_the_basic_plane_renders_into_a_valid_pdf() {
    // Each printable character of the Basic Multilingual Plane and a few beyond, 100 to a table
    // row: whatever a user names a post, the PDF renders, parses, and embeds each fallback glyph
    // once (the subset cannot hold more glyphs than DejaVu Sans has).
    let chars: Vec<char> = (0x20u32..0x10000)
        .chain([0x1F37A, 0x1D11E, 0x20000, 0x10FFFD])
        .filter_map(char::from_u32)
        .filter(|c| !c.is_control())
        .collect();
    let mut r = fixtures::weekly();
    let template = r.tables[0].rows[0].clone();
    r.tables[0].rows = chars
        .chunks(100)
        .map(|chunk| {
            let mut row = template.clone();
            row[0] = chunk.iter().collect();
            row
        })
        .collect();
    let bytes = render_pdf(&r).expect("renders");
    let doc = parse_pdf(&bytes);
    assert!(doc.get_pages().len() > 10);
    let text = pdf_text(&doc);
    for needle in ["ЖЗИЙ", "αβγδ", "ŁłŃń", "←↑→↓"] {
        assert!(text.contains(needle), "{needle} missing");
    }
}
