//! The report as a PDF: A4 portrait, the same sections and charts as the HTML.
//!
//! Written with `pdf-writer` (the typst project's low-level PDF writer: pure Rust, no system
//! libraries, exact control over every operator). Text uses the standard fonts Helvetica and
//! Helvetica-Bold, which every PDF reader has, so nothing is embedded for it. Characters outside
//! their WinAnsi set (Cyrillic, Greek, Latin Extended, symbols …) are drawn with the built-in
//! DejaVu Sans, of which each PDF embeds only the glyphs it uses (see [`super::fonts`]); the rest
//! (CJK, emoji, right-to-left scripts) is written as `?`. The HTML shows every character.
//!
//! Layout is a simple flow: the report is cut into blocks (a row of figure cards, a chart with its
//! title, a table row, an insight …) whose height is known before placing them; a block that does
//! not fit the rest of the page starts a new one, so nothing is cut across pages. Headings stay
//! with the block after them, table headers repeat on every page, and a block taller than a whole
//! page is scaled down to fit. Charts are the same [`Scene`]s as the SVG ones, drawn as vector
//! graphics. Each page has the report title and "Page n of m" in its footer.

use std::collections::BTreeMap;

use pdf_writer::types::{
    CidFontType, FontFlags, LineCapStyle, LineJoinStyle, SystemInfo, UnicodeCmap,
};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;

use super::charts::{
    layout_chart, Anchor, Color, LayoutSize, Scene, Shape, AXIS, GRID, INK, MUTED, PANEL,
};
use super::common::*;
use super::fonts::{fallback_face, FallbackFace};
use super::format::{change_direction, format_change, format_value, Direction};
use super::html::looks_numeric;
use super::model::{Chart, Coverage, Figure, Level, Priority, Report, SectionError, Table};
use super::text::{pdf_chars, pdf_text_width, truncate_to_width, wrap_text, PdfChar, Weight};

/// A4 in points.
pub const PAGE_WIDTH: f64 = 595.28;
pub const PAGE_HEIGHT: f64 = 841.89;
const MARGIN_X: f64 = 50.0;
const MARGIN_TOP: f64 = 52.0;
/// Content stops here; the page footer is below.
const CONTENT_BOTTOM: f64 = PAGE_HEIGHT - 62.0;
const CONTENT_WIDTH: f64 = PAGE_WIDTH - 2.0 * MARGIN_X;
const CONTENT_HEIGHT: f64 = CONTENT_BOTTOM - MARGIN_TOP;

/// Chart layout in the PDF, in points.
pub const PDF_CHART: LayoutSize = LayoutSize {
    width: CONTENT_WIDTH,
    font: 8.0,
    plot_height: 205.0,
};

const ACCENT: Color = Color(0x25, 0x63, 0xeb);
const UP: Color = Color(0x1d, 0x6f, 0xd8);
const DOWN: Color = Color(0xc2, 0x41, 0x0c);
const GOOD: (Color, Color) = (Color(0x0f, 0x7b, 0x5f), Color(0xe8, 0xf6, 0xf1));
const INFO: (Color, Color) = (Color(0x25, 0x63, 0xeb), Color(0xee, 0xf3, 0xfe));
const WARN: (Color, Color) = (Color(0xa1, 0x5c, 0x00), Color(0xff, 0xf5, 0xe0));
const ERROR: (Color, Color) = (Color(0xb4, 0x23, 0x18), Color(0xfd, 0xec, 0xea));
const REC: (Color, Color) = (Color(0x7c, 0x3a, 0xed), Color(0xf4, 0xf0, 0xfe));

/// Why a PDF could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfError(pub String);

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not render the report as PDF: {}", self.0)
    }
}

impl std::error::Error for PdfError {}

/// A piece of the flow: shapes relative to the block's top-left corner (x from the left margin).
struct Block {
    height: f64,
    shapes: Vec<Shape>,
}

impl Block {
    fn new() -> Self {
        Block {
            height: 0.0,
            shapes: Vec::new(),
        }
    }
}

fn text_shape(
    x: f64,
    y: f64,
    text: impl Into<String>,
    size: f64,
    weight: Weight,
    color: Color,
    anchor: Anchor,
) -> Shape {
    Shape::Text {
        x,
        y,
        text: text.into(),
        size,
        anchor,
        weight,
        color,
        vertical: false,
    }
}

/// Wrapped lines starting at `y` (top of the first line); returns the y below the last line.
/// Size, weight and colour of a run of text.
#[derive(Clone, Copy)]
struct Style(f64, Weight, Color);

fn paragraph(
    shapes: &mut Vec<Shape>,
    text: &str,
    x: f64,
    y: f64,
    width: f64,
    Style(size, weight, color): Style,
    max_lines: usize,
) -> f64 {
    let line_height = size * 1.32;
    let mut y = y;
    for line in wrap_text(text, width, size, weight, max_lines) {
        shapes.push(text_shape(
            x,
            y + size,
            line,
            size,
            weight,
            color,
            Anchor::Start,
        ));
        y += line_height;
    }
    y
}

/// Moves `shapes` by (dx, dy) after scaling them by `scale` about the origin.
fn place(shapes: Vec<Shape>, dx: f64, dy: f64, scale: f64) -> impl Iterator<Item = Shape> {
    let p = move |x: f64, y: f64| (x * scale + dx, y * scale + dy);
    shapes.into_iter().map(move |shape| match shape {
        Shape::Line {
            x1,
            y1,
            x2,
            y2,
            color,
            width,
            dashed,
        } => {
            let (x1, y1) = p(x1, y1);
            let (x2, y2) = p(x2, y2);
            Shape::Line {
                x1,
                y1,
                x2,
                y2,
                color,
                width: width * scale,
                dashed,
            }
        }
        Shape::Polyline {
            points,
            color,
            width,
        } => Shape::Polyline {
            points: points.into_iter().map(|(x, y)| p(x, y)).collect(),
            color,
            width: width * scale,
        },
        Shape::Polygon { points, fill } => Shape::Polygon {
            points: points.into_iter().map(|(x, y)| p(x, y)).collect(),
            fill,
        },
        Shape::Rect {
            x,
            y,
            w,
            h,
            fill,
            stroke,
        } => {
            let (x, y) = p(x, y);
            Shape::Rect {
                x,
                y,
                w: w * scale,
                h: h * scale,
                fill,
                stroke,
            }
        }
        Shape::Circle { cx, cy, r, fill } => {
            let (cx, cy) = p(cx, cy);
            Shape::Circle {
                cx,
                cy,
                r: r * scale,
                fill,
            }
        }
        Shape::Text {
            x,
            y,
            text,
            size,
            anchor,
            weight,
            color,
            vertical,
        } => {
            let (x, y) = p(x, y);
            Shape::Text {
                x,
                y,
                text,
                size: size * scale,
                anchor,
                weight,
                color,
                vertical,
            }
        }
    })
}

/// Pages being filled top to bottom.
struct Flow {
    pages: Vec<Vec<Shape>>,
    y: f64,
    /// Blocks to repeat at the top of a new page (a table's header row).
    repeat: Option<(f64, Vec<Shape>)>,
}

impl Flow {
    fn new() -> Self {
        Flow {
            pages: vec![Vec::new()],
            y: MARGIN_TOP,
            repeat: None,
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
        if let Some((height, shapes)) = self.repeat.clone() {
            self.put(Block { height, shapes }, 0.0);
        }
    }

    fn page_is_empty(&self) -> bool {
        self.y <= MARGIN_TOP + 0.5
    }

    /// Places blocks that must stay together (a heading and what follows it), then `gap`.
    fn keep_together(&mut self, blocks: Vec<Block>, gap: f64) {
        let total: f64 = blocks.iter().map(|b| b.height).sum();
        if self.y + total > CONTENT_BOTTOM && !self.page_is_empty() && total <= CONTENT_HEIGHT {
            self.new_page();
        }
        let count = blocks.len();
        for (i, block) in blocks.into_iter().enumerate() {
            self.push(block, if i + 1 == count { gap } else { 0.0 });
        }
    }

    /// Places `block` (on a new page when it does not fit), then leaves `gap` below it.
    fn push(&mut self, block: Block, gap: f64) {
        if self.y + block.height > CONTENT_BOTTOM && !self.page_is_empty() {
            self.new_page();
        }
        self.put(block, gap);
    }

    fn put(&mut self, block: Block, gap: f64) {
        let room = CONTENT_BOTTOM - self.y;
        // Only a block taller than a whole page gets here without room: shrink it to fit.
        let scale = if block.height > room && block.height > 0.0 {
            (room / block.height).max(0.05)
        } else {
            1.0
        };
        let y = self.y;
        if let Some(page) = self.pages.last_mut() {
            page.extend(place(block.shapes, MARGIN_X, y, scale));
        }
        self.y += block.height * scale + gap;
    }
}

/// The report as a PDF file (see the module comment).
pub fn render_pdf(report: &Report) -> Result<Vec<u8>, PdfError> {
    write_pdf(report, layout_pages(report))
}

/// The report's content laid out on pages (without the page footers).
fn layout_pages(report: &Report) -> Vec<Vec<Shape>> {
    let mut flow = Flow::new();
    header(&mut flow, report);
    figures(&mut flow, report);
    charts(&mut flow, report);
    tables(&mut flow, report);
    insights(&mut flow, report);
    recommendations(&mut flow, report);
    closing(&mut flow, report);
    flow.pages
}

fn header(flow: &mut Flow, report: &Report) {
    let mut b = Block::new();
    b.shapes.push(text_shape(
        0.0,
        9.0,
        kind_label(report.kind).to_uppercase(),
        8.5,
        Weight::Bold,
        ACCENT,
        Anchor::Start,
    ));
    let mut y = paragraph(
        &mut b.shapes,
        &report.title,
        0.0,
        14.0,
        CONTENT_WIDTH,
        Style(20.0, Weight::Bold, INK),
        4,
    );
    y += 4.0;
    let mut meta = vec![format!(
        "Period: {}   ·   {}",
        report.period_label,
        period_dates(report)
    )];
    if !report.previous_label.trim().is_empty() {
        meta.push(format!("Compared with: {}", report.previous_label));
    }
    meta.push(format!(
        "Time zone: {}   ·   Generated: {}",
        report.tz, report.generated_at
    ));
    for line in meta {
        y = paragraph(
            &mut b.shapes,
            &line,
            0.0,
            y,
            CONTENT_WIDTH,
            Style(9.0, Weight::Regular, MUTED),
            3,
        );
    }
    b.height = y + 6.0;
    flow.push(b, 6.0);

    if let Some((heading, note)) = coverage_message(report) {
        let (edge, fill) = if report.coverage == Coverage::Empty {
            ERROR
        } else {
            WARN
        };
        flow.push(note_box(heading, &note, edge, fill), 8.0);
    }
}

/// A coloured box with a bar on its left: bold heading line and wrapped text.
fn note_box(heading: &str, text: &str, edge: Color, fill: Color) -> Block {
    let mut inner = Vec::new();
    let mut y = 8.0;
    if !heading.is_empty() {
        y = paragraph(
            &mut inner,
            heading,
            12.0,
            y,
            CONTENT_WIDTH - 22.0,
            Style(10.5, Weight::Bold, INK),
            2,
        );
    }
    y = paragraph(
        &mut inner,
        text,
        12.0,
        y,
        CONTENT_WIDTH - 22.0,
        Style(9.0, Weight::Regular, INK),
        40,
    );
    let height = y + 7.0;
    callout(height, fill, edge, inner)
}

/// A full-width tinted panel with a coloured left edge around `inner` (notes, insights,
/// recommendations).
fn callout(height: f64, fill: Color, edge: Color, inner: Vec<Shape>) -> Block {
    let mut shapes = vec![
        Shape::Rect {
            x: 0.0,
            y: 0.0,
            w: CONTENT_WIDTH,
            h: height,
            fill,
            stroke: None,
        },
        Shape::Rect {
            x: 0.0,
            y: 0.0,
            w: 4.0,
            h: height,
            fill: edge,
            stroke: None,
        },
    ];
    shapes.extend(inner);
    Block { height, shapes }
}

fn error_block(error: &SectionError) -> Block {
    let mut inner = Vec::new();
    let y = paragraph(
        &mut inner,
        &section_error_text(error),
        10.0,
        7.0,
        CONTENT_WIDTH - 20.0,
        Style(9.0, Weight::Regular, ERROR.0),
        20,
    );
    let height = y + 6.0;
    let mut shapes = vec![Shape::Rect {
        x: 0.0,
        y: 0.0,
        w: CONTENT_WIDTH,
        h: height,
        fill: ERROR.1,
        stroke: Some(ERROR.0),
    }];
    shapes.extend(inner);
    Block { height, shapes }
}

fn heading_block(title: &str, hint: Option<&str>) -> Block {
    let mut b = Block::new();
    let mut y = paragraph(
        &mut b.shapes,
        title,
        0.0,
        10.0,
        CONTENT_WIDTH,
        Style(13.0, Weight::Bold, INK),
        3,
    );
    y += 2.0;
    b.shapes.push(Shape::Line {
        x1: 0.0,
        y1: y,
        x2: CONTENT_WIDTH,
        y2: y,
        color: GRID,
        width: 1.2,
        dashed: false,
    });
    y += 6.0;
    if let Some(hint) = hint {
        y = paragraph(
            &mut b.shapes,
            hint,
            0.0,
            y,
            CONTENT_WIDTH,
            Style(7.5, Weight::Regular, MUTED),
            3,
        ) + 4.0;
    }
    b.height = y;
    b
}

/// A heading, its errors, then `blocks`; the heading stays with the first block that follows.
fn section(flow: &mut Flow, heading: Block, errors: &[&SectionError], blocks: Vec<(Block, f64)>) {
    let mut rest: Vec<(Block, f64)> = errors.iter().map(|e| (error_block(e), 8.0)).collect();
    rest.extend(blocks);
    let mut rest = rest.into_iter();
    match rest.next() {
        Some((first, gap)) => flow.keep_together(vec![heading, first], gap),
        None => flow.push(heading, 4.0),
    }
    for (block, gap) in rest {
        flow.push(block, gap);
    }
}

fn figures(flow: &mut Flow, report: &Report) {
    let errors = errors_at(report, ErrorPlace::Figures);
    if report.figures.is_empty() && errors.is_empty() {
        return;
    }
    let note = direction_note(report);
    let hint = if report.figures.is_empty() {
        None
    } else {
        Some(note.as_str())
    };
    let columns = 3;
    let gap = 8.0;
    let card_w = (CONTENT_WIDTH - gap * (columns as f64 - 1.0)) / columns as f64;
    let rows: Vec<(Block, f64)> = report
        .figures
        .chunks(columns)
        .map(|row| {
            let cards: Vec<Vec<Shape>> = row.iter().map(|f| card(f, card_w)).collect();
            let height = cards
                .iter()
                .flat_map(|c| c.first())
                .map(|s| {
                    if let Shape::Rect { h, .. } = s {
                        *h
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f64::max);
            let mut b = Block {
                height,
                shapes: Vec::new(),
            };
            for (i, mut shapes) in cards.into_iter().enumerate() {
                // Cards of a row share the tallest card's height.
                if let Some(Shape::Rect { h, .. }) = shapes.first_mut() {
                    *h = height;
                }
                b.shapes
                    .extend(place(shapes, (card_w + gap) * i as f64, 0.0, 1.0));
            }
            (b, gap)
        })
        .collect();
    section(flow, heading_block(FIGURES_HEADING, hint), &errors, rows);
    flow.y += 6.0;
}

/// One figure card; its first shape is the frame (height adjusted by the row).
fn card(figure: &Figure, width: f64) -> Vec<Shape> {
    let pad = 8.0;
    let inner = width - 2.0 * pad;
    let mut shapes = vec![Shape::Rect {
        x: 0.0,
        y: 0.0,
        w: width,
        h: 0.0,
        fill: Color(0xff, 0xff, 0xff),
        stroke: Some(GRID),
    }];
    let mut y = paragraph(
        &mut shapes,
        &clip(&figure.label, MAX_LABEL_CHARS),
        pad,
        pad - 1.0,
        inner,
        Style(8.0, Weight::Bold, MUTED),
        2,
    );
    let value = truncate_to_width(
        &format_value(figure.value, figure.unit),
        inner,
        16.0,
        Weight::Bold,
    );
    shapes.push(text_shape(
        pad,
        y + 17.0,
        value,
        16.0,
        Weight::Bold,
        INK,
        Anchor::Start,
    ));
    y += 23.0;
    let (color, arrow) = match change_direction(figure.change_pct) {
        Direction::Up => (UP, Some(true)),
        Direction::Down => (DOWN, Some(false)),
        Direction::Flat | Direction::Unknown => (MUTED, None),
    };
    let mut x = pad;
    let size = 8.5;
    if let Some(up) = arrow {
        let (top, bottom) = (y + 2.0, y + 8.5);
        let points = if up {
            vec![(x, bottom), (x + 7.0, bottom), (x + 3.5, top)]
        } else {
            vec![(x, top), (x + 7.0, top), (x + 3.5, bottom)]
        };
        shapes.push(Shape::Polygon {
            points,
            fill: color,
        });
        x += 10.0;
    }
    let change = format_change(figure.change_pct);
    shapes.push(text_shape(
        x,
        y + size,
        change.clone(),
        size,
        Weight::Bold,
        color,
        Anchor::Start,
    ));
    y += size * 1.5;
    let previous = format!("Previous: {}", format_value(figure.previous, figure.unit));
    y = paragraph(
        &mut shapes,
        &previous,
        pad,
        y,
        inner,
        Style(7.5, Weight::Regular, MUTED),
        3,
    );
    if let Some(Shape::Rect { h, .. }) = shapes.first_mut() {
        *h = y + pad - 2.0;
    }
    shapes
}

fn charts(flow: &mut Flow, report: &Report) {
    let other = errors_at(report, ErrorPlace::Other);
    if report.charts.is_empty() && other.is_empty() {
        return;
    }
    let blocks = report
        .charts
        .iter()
        .enumerate()
        .map(|(i, chart)| {
            (
                chart_block(chart, &errors_at(report, ErrorPlace::Chart(i))),
                16.0,
            )
        })
        .collect();
    section(flow, heading_block(CHARTS_HEADING, None), &other, blocks);
}

fn chart_block(chart: &Chart, errors: &[&SectionError]) -> Block {
    let mut b = Block::new();
    let mut y = paragraph(
        &mut b.shapes,
        &chart.title,
        0.0,
        0.0,
        CONTENT_WIDTH,
        Style(10.5, Weight::Bold, INK),
        3,
    ) + 4.0;
    for error in errors {
        let e = error_block(error);
        b.shapes.extend(place(e.shapes, 0.0, y, 1.0));
        y += e.height + 6.0;
    }
    let scene: Scene = layout_chart(chart, PDF_CHART);
    // A scene wider than the page (a heatmap with many labels) is scaled down to fit.
    let scale = if scene.width > CONTENT_WIDTH {
        CONTENT_WIDTH / scene.width
    } else {
        1.0
    };
    b.shapes.extend(place(scene.shapes, 0.0, y, scale));
    y += scene.height * scale;
    if let Some(note) = chart.note.as_deref().filter(|n| !n.trim().is_empty()) {
        y = paragraph(
            &mut b.shapes,
            note,
            0.0,
            y + 2.0,
            CONTENT_WIDTH,
            Style(7.5, Weight::Regular, MUTED),
            6,
        );
    }
    b.height = y;
    b
}

fn tables(flow: &mut Flow, report: &Report) {
    if report.tables.is_empty() {
        return;
    }
    let mut first = true;
    for (i, table) in report.tables.iter().enumerate() {
        let errors = errors_at(report, ErrorPlace::Table(i));
        let heading = if first {
            Some(heading_block(TABLES_HEADING, None))
        } else {
            None
        };
        first = false;
        table_blocks(flow, table, heading, &errors);
    }
}

const CELL_FONT: f64 = 8.0;
const CELL_PAD: f64 = 4.0;

fn table_blocks(
    flow: &mut Flow,
    table: &Table,
    section_heading: Option<Block>,
    errors: &[&SectionError],
) {
    let mut title = Block::new();
    title.height = paragraph(
        &mut title.shapes,
        &table.title,
        0.0,
        0.0,
        CONTENT_WIDTH,
        Style(10.5, Weight::Bold, INK),
        3,
    ) + 4.0;
    let mut lead: Vec<Block> = section_heading.into_iter().collect();
    lead.push(title);
    for error in errors {
        lead.push(error_block(error));
    }
    let columns = table
        .columns
        .len()
        .max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
    if table.rows.is_empty() || columns == 0 {
        let mut empty = Block::new();
        empty.height = paragraph(
            &mut empty.shapes,
            "No rows for this period.",
            0.0,
            0.0,
            CONTENT_WIDTH,
            Style(8.5, Weight::Regular, MUTED),
            1,
        ) + 2.0;
        lead.push(empty);
        flow.keep_together(lead, 14.0);
        return;
    }
    let cell =
        |r: &Vec<String>, c: usize| clip(r.get(c).map_or("", String::as_str), MAX_CELL_CHARS);
    let numeric: Vec<bool> = (0..columns)
        .map(|c| {
            let cells: Vec<String> = table
                .rows
                .iter()
                .map(|r| cell(r, c))
                .filter(|v| !v.trim().is_empty())
                .collect();
            !cells.is_empty() && cells.iter().all(|v| looks_numeric(v) || v.trim() == "n/a")
        })
        .collect();
    let widths = column_widths(table, columns);
    let header: Vec<String> = (0..columns)
        .map(|c| {
            clip(
                table.columns.get(c).map_or("", String::as_str),
                MAX_LABEL_CHARS,
            )
        })
        .collect();
    let header_block = row_block(&header, &widths, &numeric, true);
    lead.push(row_block_clone(&header_block));
    // A table short enough for one page is not split (a lone row on the next page reads badly).
    let row_blocks: Vec<Block> = table
        .rows
        .iter()
        .map(|row| {
            row_block(
                &(0..columns).map(|c| cell(row, c)).collect::<Vec<_>>(),
                &widths,
                &numeric,
                false,
            )
        })
        .collect();
    let whole: f64 = lead.iter().map(|b| b.height).sum::<f64>()
        + row_blocks.iter().map(|b| b.height).sum::<f64>();
    if table.rows.len() <= 10 && whole <= CONTENT_HEIGHT {
        lead.extend(row_blocks);
        flow.keep_together(lead, 14.0);
        return;
    }
    let mut rows = row_blocks.into_iter();
    // The title and header stay with the first rows.
    lead.extend(rows.by_ref().take(3));
    flow.keep_together(lead, 0.0);
    flow.repeat = Some((header_block.height, header_block.shapes));
    // The last three rows also stay together, so no page holds a lone row.
    let mut rest: Vec<Block> = rows.collect();
    let tail = rest.split_off(rest.len().saturating_sub(3));
    for row in rest {
        flow.push(row, 0.0);
    }
    flow.keep_together(tail, 0.0);
    flow.repeat = None;
    flow.y += 14.0;
}

fn row_block_clone(b: &Block) -> Block {
    Block {
        height: b.height,
        shapes: b.shapes.clone(),
    }
}

/// Column widths filling the content width. Each column gets at least its longest word (so
/// "Likes" or "question" is never broken mid-word) and shares the rest in proportion to how much
/// more its widest text needs (capped, so one long title does not squeeze every other column).
fn column_widths(table: &Table, columns: usize) -> Vec<f64> {
    let cells = |c: usize| {
        let header = table.columns.get(c).map(|h| (h.as_str(), Weight::Bold));
        header.into_iter().chain(
            table
                .rows
                .iter()
                .take(500)
                .filter_map(move |r| r.get(c))
                .map(|v| (v.as_str(), Weight::Regular)),
        )
    };
    let widest = |c: usize, words: bool| {
        cells(c)
            .flat_map(|(text, weight)| {
                let parts: Vec<&str> = if words {
                    text.split_whitespace().collect()
                } else {
                    vec![text]
                };
                parts
                    .into_iter()
                    .map(move |p| pdf_text_width(p, CELL_FONT, weight))
            })
            .fold(0.0, f64::max)
    };
    let minimum: Vec<f64> = (0..columns)
        // +1: a word exactly as wide as its cell would still be cut by rounding.
        .map(|c| (widest(c, true) + 2.0 * CELL_PAD + 1.0).clamp(28.0, 120.0))
        .collect();
    let natural: Vec<f64> = (0..columns)
        .map(|c| (widest(c, false) + 2.0 * CELL_PAD).clamp(28.0, 220.0))
        .zip(&minimum)
        .map(|(n, m)| n.max(*m))
        .collect();
    let min_total: f64 = minimum.iter().sum();
    let natural_total: f64 = natural.iter().sum();
    if natural_total <= CONTENT_WIDTH {
        // Everything fits: spread the slack.
        return natural
            .iter()
            .map(|w| w * CONTENT_WIDTH / natural_total.max(1.0))
            .collect();
    }
    if min_total >= CONTENT_WIDTH {
        return cap_widest(&minimum, CONTENT_WIDTH);
    }
    let spare = CONTENT_WIDTH - min_total;
    let wanted = natural_total - min_total;
    minimum
        .iter()
        .zip(&natural)
        .map(|(m, n)| m + (n - m) * spare / wanted.max(1e-9))
        .collect()
}

/// Not even the words fit (long unbroken words: a URL, a made-up type name): the widest columns
/// are cut down to the one width at which all columns fill `total`, so short headers such as
/// "Likes" stay whole and only the long words, which wrap anyway, are broken.
fn cap_widest(minimum: &[f64], total: f64) -> Vec<f64> {
    let mut sorted = minimum.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut rest = total;
    let mut cap = f64::INFINITY;
    for (i, m) in sorted.iter().enumerate() {
        let share = rest / (sorted.len() - i) as f64;
        if *m > share {
            cap = share;
            break;
        }
        rest -= m;
    }
    minimum.iter().map(|m| m.min(cap)).collect()
}

fn row_block(cells: &[String], widths: &[f64], numeric: &[bool], header: bool) -> Block {
    let weight = if header {
        Weight::Bold
    } else {
        Weight::Regular
    };
    let mut texts = Vec::new();
    let mut height: f64 = 0.0;
    let mut x = 0.0;
    for (c, value) in cells.iter().enumerate() {
        let w = widths.get(c).copied().unwrap_or(40.0);
        let right = numeric.get(c).copied().unwrap_or(false);
        let lines = wrap_text(value, w - 2.0 * CELL_PAD, CELL_FONT, weight, 8);
        let mut y = CELL_PAD;
        for line in lines {
            let (tx, anchor) = if right {
                (x + w - CELL_PAD, Anchor::End)
            } else {
                (x + CELL_PAD, Anchor::Start)
            };
            texts.push(text_shape(
                tx,
                y + CELL_FONT,
                line,
                CELL_FONT,
                weight,
                INK,
                anchor,
            ));
            y += CELL_FONT * 1.3;
        }
        height = height.max(y + CELL_PAD - 1.0);
        x += w;
    }
    let mut shapes = Vec::new();
    if header {
        shapes.push(Shape::Rect {
            x: 0.0,
            y: 0.0,
            w: CONTENT_WIDTH,
            h: height,
            fill: PANEL,
            stroke: None,
        });
    }
    shapes.extend(texts);
    shapes.push(Shape::Line {
        x1: 0.0,
        y1: height,
        x2: CONTENT_WIDTH,
        y2: height,
        color: if header { AXIS } else { GRID },
        width: 0.7,
        dashed: false,
    });
    Block { height, shapes }
}

/// An insight or recommendation: coloured box, badge line, text, small provenance line.
fn item_block(
    colors: (Color, Color),
    badge: &str,
    text: &str,
    extra: Option<String>,
    provenance: Option<String>,
) -> Block {
    let (edge, fill) = colors;
    let mut inner = Vec::new();
    let x = 12.0;
    let width = CONTENT_WIDTH - 22.0;
    let mut y = paragraph(
        &mut inner,
        badge,
        x,
        6.0,
        width,
        Style(7.5, Weight::Bold, edge),
        2,
    );
    y = paragraph(
        &mut inner,
        text,
        x,
        y + 1.0,
        width,
        Style(9.5, Weight::Regular, INK),
        40,
    );
    if let Some(extra) = extra {
        y = paragraph(
            &mut inner,
            &extra,
            x,
            y + 1.0,
            width,
            Style(8.5, Weight::Regular, INK),
            20,
        );
    }
    if let Some(provenance) = provenance {
        y = paragraph(
            &mut inner,
            &provenance,
            x,
            y + 1.0,
            width,
            Style(7.0, Weight::Regular, MUTED),
            8,
        );
    }
    let height = y + 6.0;
    callout(height, fill, edge, inner)
}

fn insights(flow: &mut Flow, report: &Report) {
    let errors = errors_at(report, ErrorPlace::Insights);
    if report.insights.is_empty() && errors.is_empty() {
        return;
    }
    let blocks = report
        .insights
        .iter()
        .map(|insight| {
            let colors = match insight.level {
                Level::Good => GOOD,
                Level::Info => INFO,
                Level::Warning => WARN,
            };
            let badge = level_label(insight.level).to_uppercase();
            (
                item_block(
                    colors,
                    &badge,
                    &insight.text,
                    None,
                    provenance(report, &insight.rule, &insight.cites),
                ),
                6.0,
            )
        })
        .collect();
    section(flow, heading_block(INSIGHTS_HEADING, None), &errors, blocks);
    flow.y += 8.0;
}

fn recommendations(flow: &mut Flow, report: &Report) {
    let errors = errors_at(report, ErrorPlace::Recommendations);
    if report.recommendations.is_empty() && errors.is_empty() {
        return;
    }
    let blocks = report
        .recommendations
        .iter()
        .map(|rec| {
            let colors = if rec.priority == Priority::High {
                ERROR
            } else {
                REC
            };
            let badge = if rec.category.trim().is_empty() {
                priority_label(rec.priority).to_uppercase()
            } else {
                format!(
                    "{}  ·  {}",
                    rec.category.trim(),
                    priority_label(rec.priority)
                )
                .to_uppercase()
            };
            let impact = (!rec.expected_impact.trim().is_empty())
                .then(|| format!("Expected impact: {}", rec.expected_impact.trim()));
            (
                item_block(
                    colors,
                    &badge,
                    &rec.suggestion,
                    impact,
                    provenance(report, &rec.rule, &rec.cites),
                ),
                6.0,
            )
        })
        .collect();
    section(
        flow,
        heading_block(RECOMMENDATIONS_HEADING, None),
        &errors,
        blocks,
    );
    flow.y += 8.0;
}

fn closing(flow: &mut Flow, report: &Report) {
    let mut b = Block::new();
    let mut y = 8.0;
    b.shapes.push(Shape::Line {
        x1: 0.0,
        y1: 0.0,
        x2: CONTENT_WIDTH,
        y2: 0.0,
        color: GRID,
        width: 0.8,
        dashed: false,
    });
    if let Some(text) = report.footer.as_deref().filter(|t| !t.trim().is_empty()) {
        y = paragraph(
            &mut b.shapes,
            text,
            0.0,
            y,
            CONTENT_WIDTH,
            Style(7.5, Weight::Regular, MUTED),
            20,
        );
    }
    y = paragraph(
        &mut b.shapes,
        &format!(
            "{GENERATED_BY}  ·  {}  ·  {}",
            report.generated_at, report.tz
        ),
        0.0,
        y,
        CONTENT_WIDTH,
        Style(7.5, Weight::Regular, MUTED),
        3,
    );
    b.height = y;
    flow.push(b, 0.0);
}

/// The running footer of page `n` of `total`.
fn page_footer(report: &Report, n: usize, total: usize) -> Vec<Shape> {
    let y = PAGE_HEIGHT - 34.0;
    let page = format!("Page {n} of {total}");
    let page_w = pdf_text_width(&page, 8.0, Weight::Regular);
    let title = truncate_to_width(
        &report.title,
        CONTENT_WIDTH - page_w - 24.0,
        8.0,
        Weight::Regular,
    );
    vec![
        Shape::Line {
            x1: MARGIN_X,
            y1: y - 12.0,
            x2: PAGE_WIDTH - MARGIN_X,
            y2: y - 12.0,
            color: GRID,
            width: 0.6,
            dashed: false,
        },
        text_shape(
            MARGIN_X,
            y,
            title,
            8.0,
            Weight::Regular,
            MUTED,
            Anchor::Start,
        ),
        text_shape(
            PAGE_WIDTH - MARGIN_X,
            y,
            page,
            8.0,
            Weight::Regular,
            MUTED,
            Anchor::End,
        ),
    ]
}

const REGULAR: Name = Name(b"F1");
const BOLD: Name = Name(b"F2");
const FALLBACK_REGULAR: Name = Name(b"F3");
const FALLBACK_BOLD: Name = Name(b"F4");

/// The glyphs of one fallback face a document uses: their ids in the embedded subset (assigned
/// in order of first use; 0 is `.notdef`) and the character each stands for, for the ToUnicode
/// map, so text copied or searched in a reader comes out as written.
#[derive(Default)]
struct FallbackUse {
    remapper: GlyphRemapper,
    chars: BTreeMap<u16, char>,
}

impl FallbackUse {
    fn is_used(&self) -> bool {
        !self.chars.is_empty()
    }

    /// The subset id of `glyph`, recording that it stands for `c`.
    fn cid(&mut self, glyph: u16, c: char) -> u16 {
        let cid = self.remapper.remap(glyph);
        self.chars.entry(cid).or_insert(c);
        cid
    }
}

/// Fallback glyphs used by the document, per weight.
#[derive(Default)]
struct Fallbacks {
    regular: FallbackUse,
    bold: FallbackUse,
}

impl Fallbacks {
    fn of(&mut self, weight: Weight) -> &mut FallbackUse {
        match weight {
            Weight::Regular => &mut self.regular,
            Weight::Bold => &mut self.bold,
        }
    }
}

/// One piece of a text line in one font: WinAnsi bytes of the standard font, or the 2-byte
/// subset ids of the fallback font.
enum Run {
    Standard(Vec<u8>),
    Fallback(Vec<u8>),
}

/// `text` cut into runs of the same font, recording the fallback glyphs in `fallbacks`.
fn runs(text: &str, weight: Weight, fallbacks: &mut Fallbacks) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (c, drawn) in pdf_chars(text, weight) {
        match drawn {
            PdfChar::Standard(code) => match runs.last_mut() {
                Some(Run::Standard(bytes)) => bytes.push(code),
                _ => runs.push(Run::Standard(vec![code])),
            },
            PdfChar::Fallback(glyph, _) => {
                let cid = fallbacks.of(weight).cid(glyph, c).to_be_bytes();
                match runs.last_mut() {
                    Some(Run::Fallback(bytes)) => bytes.extend_from_slice(&cid),
                    _ => runs.push(Run::Fallback(cid.to_vec())),
                }
            }
        }
    }
    runs
}

fn f(v: f64) -> f32 {
    if v.is_finite() {
        v as f32
    } else {
        0.0
    }
}

/// Draws `shapes` (page coordinates, y down) into a content stream (y up).
fn draw(content: &mut Content, shapes: &[Shape], fallbacks: &mut Fallbacks) {
    let flip = |y: f64| f(PAGE_HEIGHT - y);
    for shape in shapes {
        match shape {
            Shape::Line {
                x1,
                y1,
                x2,
                y2,
                color,
                width,
                dashed,
            } => {
                let (r, g, b) = color.unit_rgb();
                content.set_stroke_rgb(r, g, b).set_line_width(f(*width));
                if *dashed {
                    content.set_dash_pattern([3.0, 2.0], 0.0);
                }
                content
                    .move_to(f(*x1), flip(*y1))
                    .line_to(f(*x2), flip(*y2))
                    .stroke();
                if *dashed {
                    content.set_dash_pattern([], 0.0);
                }
            }
            Shape::Polyline {
                points,
                color,
                width,
            } => {
                let Some((first, rest)) = points.split_first() else {
                    continue;
                };
                let (r, g, b) = color.unit_rgb();
                content.set_stroke_rgb(r, g, b).set_line_width(f(*width));
                content.move_to(f(first.0), flip(first.1));
                for (x, y) in rest {
                    content.line_to(f(*x), flip(*y));
                }
                content.stroke();
            }
            Shape::Polygon { points, fill } => {
                let Some((first, rest)) = points.split_first() else {
                    continue;
                };
                let (r, g, b) = fill.unit_rgb();
                content.set_fill_rgb(r, g, b);
                content.move_to(f(first.0), flip(first.1));
                for (x, y) in rest {
                    content.line_to(f(*x), flip(*y));
                }
                content.close_path().fill_nonzero();
            }
            Shape::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            } => {
                let (r, g, b) = fill.unit_rgb();
                content.set_fill_rgb(r, g, b);
                content.rect(f(*x), flip(y + h), f(w.max(0.0)), f(h.max(0.0)));
                match stroke {
                    Some(stroke) => {
                        let (r, g, b) = stroke.unit_rgb();
                        content
                            .set_stroke_rgb(r, g, b)
                            .set_line_width(0.7)
                            .fill_nonzero_and_stroke();
                    }
                    None => {
                        content.fill_nonzero();
                    }
                }
            }
            Shape::Circle {
                cx,
                cy,
                r: radius,
                fill,
            } => {
                // Four Bézier arcs; 0.5523 is the usual circle constant.
                let (r, g, b) = fill.unit_rgb();
                content.set_fill_rgb(r, g, b);
                let (x, y, k) = (f(*cx), flip(*cy), f(*radius));
                let c = k * 0.5523;
                content.move_to(x + k, y);
                content.cubic_to(x + k, y + c, x + c, y + k, x, y + k);
                content.cubic_to(x - c, y + k, x - k, y + c, x - k, y);
                content.cubic_to(x - k, y - c, x - c, y - k, x, y - k);
                content.cubic_to(x + c, y - k, x + k, y - c, x + k, y);
                content.close_path().fill_nonzero();
            }
            Shape::Text {
                x,
                y,
                text,
                size,
                anchor,
                weight,
                color,
                vertical,
            } => {
                let runs = runs(text, *weight, fallbacks);
                if runs.is_empty() {
                    continue;
                }
                let width = pdf_text_width(text, *size, *weight);
                let shift = match anchor {
                    Anchor::Start => 0.0,
                    Anchor::Middle => width / 2.0,
                    Anchor::End => width,
                };
                let (r, g, b) = color.unit_rgb();
                content.begin_text();
                content.set_fill_rgb(r, g, b);
                let matrix = if *vertical {
                    // Rotated 90° counter-clockwise: the text runs upwards from (x, y + shift).
                    [0.0, 1.0, -1.0, 0.0, f(*x), flip(y + shift)]
                } else {
                    [1.0, 0.0, 0.0, 1.0, f(x - shift), flip(*y)]
                };
                content.set_text_matrix(matrix);
                // Each run advances the text position by its own glyph widths, so the runs join
                // up without positioning them one by one.
                for run in &runs {
                    let (font, bytes) = match (run, weight) {
                        (Run::Standard(bytes), Weight::Regular) => (REGULAR, bytes),
                        (Run::Standard(bytes), Weight::Bold) => (BOLD, bytes),
                        (Run::Fallback(bytes), Weight::Regular) => (FALLBACK_REGULAR, bytes),
                        (Run::Fallback(bytes), Weight::Bold) => (FALLBACK_BOLD, bytes),
                    };
                    content.set_font(font, f(*size));
                    content.show(Str(bytes));
                }
                content.end_text();
            }
        }
    }
}

fn write_pdf(report: &Report, pages: Vec<Vec<Shape>>) -> Result<Vec<u8>, PdfError> {
    let total = pages.len();
    if total == 0 {
        return Err(PdfError("the layout produced no pages".to_string()));
    }
    let mut pdf = Pdf::new();
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<Ref> = (0..total)
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();

    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(total as i32);
    pdf.type1_font(regular_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    {
        let mut info = pdf.document_info(info_id);
        info.title(TextStr(&report.title));
        info.producer(TextStr("mking_analytics"));
        info.finish();
    }
    // Draw every page first: the fallback glyphs are only known once all text is drawn.
    let mut fallbacks = Fallbacks::default();
    let contents: Vec<Vec<u8>> = pages
        .iter()
        .enumerate()
        .map(|(i, shapes)| {
            let mut content = Content::new();
            content
                .set_line_join(LineJoinStyle::RoundJoin)
                .set_line_cap(LineCapStyle::RoundCap);
            draw(&mut content, shapes, &mut fallbacks);
            draw(
                &mut content,
                &page_footer(report, i + 1, total),
                &mut fallbacks,
            );
            miniz_oxide::deflate::compress_to_vec_zlib(&content.finish(), 6)
        })
        .collect();
    // Five objects per embedded fallback face, numbered after the pages.
    let fallback_ids = |k: i32| Ref::new(first_page + 2 * total as i32 + 5 * k);
    let mut embedded: Vec<(Name, Ref)> = Vec::new();
    for (k, (weight, name)) in [
        (Weight::Regular, FALLBACK_REGULAR),
        (Weight::Bold, FALLBACK_BOLD),
    ]
    .into_iter()
    .enumerate()
    {
        let used = fallbacks.of(weight);
        if !used.is_used() {
            continue;
        }
        let face = fallback_face(weight)
            .ok_or_else(|| PdfError("the built-in fallback font could not be read".to_string()))?;
        let id = fallback_ids(k as i32);
        write_fallback_font(&mut pdf, id, face, used)?;
        embedded.push((name, id));
    }
    for (compressed, &page_id) in contents.iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        pdf.stream(content_id, compressed)
            .filter(Filter::FlateDecode);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH as f32, PAGE_HEIGHT as f32));
        page.parent(tree_id);
        page.contents(content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(REGULAR, regular_id).pair(BOLD, bold_id);
        for (name, id) in &embedded {
            fonts.pair(*name, *id);
        }
        fonts.finish();
        resources.finish();
        page.finish();
    }
    Ok(pdf.finish())
}

/// Embeds the subset of `face` that `used` needs as a Type0 font with Identity-H encoding (the
/// 2-byte codes in the content are the subset's glyph ids) and a ToUnicode map. Objects `id` to
/// `id + 4`.
fn write_fallback_font(
    pdf: &mut Pdf,
    id: Ref,
    face: &FallbackFace,
    used: &FallbackUse,
) -> Result<(), PdfError> {
    let (cid_font_id, descriptor_id, file_id, to_unicode_id) = (
        Ref::new(id.get() + 1),
        Ref::new(id.get() + 2),
        Ref::new(id.get() + 3),
        Ref::new(id.get() + 4),
    );
    let subset = subsetter::subset(face.data, 0, &used.remapper)
        .map_err(|e| PdfError(format!("embedding the fallback font failed: {e}")))?;
    let name = Name(face.pdf_name.as_bytes());
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(id)
        .base_font(name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font_id)
        .to_unicode(to_unicode_id);

    let widths: Vec<f32> = used
        .remapper
        .remapped_gids()
        .map(|glyph| face.advance(glyph) as f32)
        .collect();
    let mut cid_font = pdf.cid_font(cid_font_id);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(name)
        .system_info(system_info)
        .font_descriptor(descriptor_id)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();

    let ttf = &face.face;
    let scaled = |v: i16| face.to_thousandths(f64::from(v)) as f32;
    let bbox = ttf.global_bounding_box();
    pdf.font_descriptor(descriptor_id)
        .name(name)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            scaled(bbox.x_min),
            scaled(bbox.y_min),
            scaled(bbox.x_max),
            scaled(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(scaled(ttf.ascender()))
        .descent(scaled(ttf.descender()))
        .cap_height(scaled(ttf.capital_height().unwrap_or(ttf.ascender())))
        .stem_v(if ttf.is_bold() { 140.0 } else { 80.0 })
        .font_file2(file_id);

    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&subset, 6);
    pdf.stream(file_id, &compressed)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), subset.len() as i32);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    for (&cid, &c) in &used.chars {
        cmap.pair(cid, c);
    }
    pdf.stream(to_unicode_id, &cmap.finish());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::report::fixtures;

    /// The vertical extent of a shape on its page.
    fn extent(shape: &Shape) -> (f64, f64) {
        match shape {
            Shape::Line { y1, y2, .. } => (y1.min(*y2), y1.max(*y2)),
            Shape::Polyline { points, .. } | Shape::Polygon { points, .. } => points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, y)| {
                    (lo.min(*y), hi.max(*y))
                }),
            Shape::Rect { y, h, .. } => (*y, y + h),
            Shape::Circle { cy, r, .. } => (cy - r, cy + r),
            Shape::Text {
                y, size, vertical, ..
            } => {
                if *vertical {
                    (*y - 200.0_f64.min(*y), *y)
                } else {
                    (y - size, *y)
                }
            }
        }
    }

    /// The horizontal extent of a shape (texts by their measured width and anchor).
    fn horizontal_extent(shape: &Shape) -> (f64, f64) {
        match shape {
            Shape::Line { x1, x2, .. } => (x1.min(*x2), x1.max(*x2)),
            Shape::Polyline { points, .. } | Shape::Polygon { points, .. } => points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, _)| {
                    (lo.min(*x), hi.max(*x))
                }),
            Shape::Rect { x, w, .. } => (*x, x + w),
            Shape::Circle { cx, r, .. } => (cx - r, cx + r),
            Shape::Text {
                x,
                text,
                size,
                anchor,
                weight,
                ..
            } => {
                let w = pdf_text_width(text, *size, *weight);
                match anchor {
                    Anchor::Start => (*x, x + w),
                    Anchor::Middle => (x - w / 2.0, x + w / 2.0),
                    Anchor::End => (x - w, *x),
                }
            }
        }
    }

    #[test]
    fn nothing_crosses_the_content_area_of_its_page() {
        for (name, report) in fixtures::all() {
            let pages = layout_pages(&report);
            assert!(!pages.is_empty(), "{name}");
            for (i, page) in pages.iter().enumerate() {
                for shape in page {
                    if matches!(shape, Shape::Text { vertical: true, .. }) {
                        continue;
                    }
                    let (left, right) = horizontal_extent(shape);
                    assert!(
                        left >= MARGIN_X - 1.0 && right <= PAGE_WIDTH - MARGIN_X + 1.0,
                        "{name}: page {} has a shape from x {left} to {right}: {shape:?}",
                        i + 1
                    );
                    let (top, bottom) = extent(shape);
                    assert!(
                        top >= MARGIN_TOP - 12.0 && bottom <= CONTENT_BOTTOM + 0.5,
                        "{name}: page {} has a shape from {top} to {bottom}: {shape:?}",
                        i + 1
                    );
                }
            }
        }
    }

    fn top_posts_table(rows: Vec<Vec<String>>) -> Table {
        Table {
            key: "top_content".into(),
            title: "Top posts".into(),
            columns: crate::kernels::report::model::TOP_POSTS_COLUMNS
                .map(String::from)
                .to_vec(),
            rows,
        }
    }

    #[test]
    fn long_unbroken_words_do_not_break_the_short_headers() {
        // Two text columns of words wider than their 120 pt cap: only they give up width.
        let long = "Supercalifragilisticexpialidocious".repeat(4);
        let table = top_posts_table(vec![[long.as_str(), "bob", &long, "0", "7", "1", "14.0"]
            .map(String::from)
            .to_vec()]);
        let widths = column_widths(&table, 7);
        assert!((widths.iter().sum::<f64>() - CONTENT_WIDTH).abs() < 1e-6);
        for (c, header) in table.columns.iter().enumerate().skip(3) {
            for word in header.split_whitespace() {
                let lines = wrap_text(word, widths[c] - 2.0 * CELL_PAD, CELL_FONT, Weight::Bold, 8);
                assert_eq!(lines, vec![word.to_string()], "column {header}: {widths:?}");
            }
        }
        assert_eq!(widths[0], widths[2], "{widths:?}");
        assert_eq!(
            cap_widest(&[10.0, 20.0, 90.0], 60.0),
            vec![10.0, 20.0, 30.0]
        );
        assert_eq!(cap_widest(&[30.0, 30.0], 60.0), vec![30.0, 30.0]);
    }

    #[test]
    fn table_columns_never_break_a_word() {
        let title = "Answer: Can I drink Dogfish Head Sixty One four years after the expiry date?";
        let table = top_posts_table(
            vec![
                [
                    "question",
                    "Attbier is not Old Beer",
                    "question",
                    "0",
                    "7",
                    "1",
                    "17.0"
                ]
                .map(String::from)
                .to_vec();
                3
            ]
            .into_iter()
            .chain([[title, "x", "answer", "0", "0", "0", "0.0"]
                .map(String::from)
                .to_vec()])
            .collect(),
        );
        let widths = column_widths(&table, 7);
        assert!((widths.iter().sum::<f64>() - CONTENT_WIDTH).abs() < 1e-6);
        for (c, header) in table.columns.iter().enumerate() {
            let headers = header.split_whitespace().map(|w| (w, Weight::Bold));
            let cells = (c == 2).then_some(("question", Weight::Regular));
            for (word, weight) in headers.chain(cells) {
                let lines = wrap_text(word, widths[c] - 2.0 * CELL_PAD, CELL_FONT, weight, 8);
                assert_eq!(
                    lines,
                    vec![word.to_string()],
                    "column {header}: {}",
                    widths[c]
                );
            }
        }
        // The title column still gets the most room.
        assert!(
            widths[0] > widths[1] && widths[0] > widths[3] * 2.0,
            "{widths:?}"
        );
    }

    #[test]
    fn table_headers_repeat_on_every_page_the_table_spans() {
        let pages = layout_pages(&fixtures::long());
        let with_header = pages
            .iter()
            .filter(|page| page.iter().any(|s| matches!(s, Shape::Text { text, weight: Weight::Bold, .. } if text == "Engagement")))
            .count();
        // 150 rows of about 15 pt on pages of about 730 pt: at least four pages of table.
        assert!(with_header >= 4, "header on {with_header} pages");
    }
}
