//! Chart layout shared by the SVG (HTML) and the PDF renderers.
//!
//! A chart of the model is laid out once into a [`Scene`]: lines, rectangles, circles and text at
//! absolute positions (y grows downwards, text positioned at its baseline). The SVG renderer
//! writes the scene as SVG elements, the PDF renderer as vector drawing operators, so both show
//! the same chart. Layout does what a charting library would: nice round axis ticks, tick labels
//! in the chart's unit, label thinning so x labels never overlap, truncation of long names with an
//! ellipsis, legends, a diverging colour scale for heatmaps and a "no data" panel.
//!
//! We lay charts out ourselves rather than use a charting crate: `plotters` measures text through
//! its `ttf` feature (system fonts through font-kit/fontconfig, or a bundled TTF) and has no PDF
//! backend, and `charts-rs` renders to SVG only; neither could draw the same chart into the PDF as
//! vector graphics. Glyph widths come from the Helvetica metrics in [`super::text`].
//!
//! Every input is tolerated: series shorter or longer than their labels are padded with missing
//! values or cut, NaN and infinities count as missing, an empty or all-missing chart becomes the
//! no-data panel.

use super::format::{format_tick, format_value};
use super::model::{Chart, ChartData, Series, Unit};
use super::text::{text_width, truncate_to_width, Weight};

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color(pub u8, pub u8, pub u8);

impl Color {
    /// `#rrggbb`, for SVG and CSS.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Components in 0..=1, for PDF.
    pub fn unit_rgb(self) -> (f32, f32, f32) {
        (
            f32::from(self.0) / 255.0,
            f32::from(self.1) / 255.0,
            f32::from(self.2) / 255.0,
        )
    }

    fn mix(self, other: Color, t: f64) -> Color {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let lerp = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Color(
            lerp(self.0, other.0),
            lerp(self.1, other.1),
            lerp(self.2, other.2),
        )
    }
}

/// Series colours, in order (distinguishable for the common colour-vision deficiencies).
pub const PALETTE: [Color; 8] = [
    Color(0x25, 0x63, 0xeb),
    Color(0xea, 0x8a, 0x0c),
    Color(0x0f, 0x9d, 0x76),
    Color(0xc0, 0x26, 0x8d),
    Color(0x7c, 0x3a, 0xed),
    Color(0x0e, 0x9f, 0xc6),
    Color(0x9a, 0x5b, 0x13),
    Color(0x47, 0x55, 0x69),
];

pub const INK: Color = Color(0x1f, 0x29, 0x37);
pub const MUTED: Color = Color(0x5b, 0x65, 0x73);
pub const GRID: Color = Color(0xe3, 0xe7, 0xec);
pub const AXIS: Color = Color(0x9a, 0xa3, 0xae);
pub const PANEL: Color = Color(0xf5, 0xf7, 0xfa);
const WHITE: Color = Color(0xff, 0xff, 0xff);
const NULL_CELL: Color = Color(0xe5, 0xe7, 0xeb);
const COLD: Color = Color(0x21, 0x66, 0xac);
const HOT: Color = Color(0xb2, 0x18, 0x2b);

/// Where a text's x position is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One drawing primitive. Coordinates in scene units, y downwards.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        color: Color,
        width: f64,
        dashed: bool,
    },
    /// An open polyline (a connected run of a line series).
    Polyline {
        points: Vec<(f64, f64)>,
        color: Color,
        width: f64,
    },
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Color,
        stroke: Option<Color>,
    },
    Circle {
        cx: f64,
        cy: f64,
        r: f64,
        fill: Color,
    },
    /// A closed, filled polygon.
    Polygon {
        points: Vec<(f64, f64)>,
        fill: Color,
    },
    /// Text at its baseline; `vertical` texts read bottom to top (rotated −90° about (x, y)).
    Text {
        x: f64,
        y: f64,
        text: String,
        size: f64,
        anchor: Anchor,
        weight: Weight,
        color: Color,
        vertical: bool,
    },
}

/// A laid-out chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
    /// True when the chart had no data and the scene is the "no data" panel.
    pub no_data: bool,
}

/// Sizes of a layout: the renderers ask for a wide one (desktop, print, PDF) and a narrow one
/// (phones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutSize {
    pub width: f64,
    /// Base font size; tick labels use it, titles slightly larger, value labels smaller.
    pub font: f64,
    /// Height of line and bar charts.
    pub plot_height: f64,
}

/// Text of the no-data panel.
pub const NO_DATA_TEXT: &str = "No data for this period";

/// Lays out `chart` at `size`.
pub fn layout_chart(chart: &Chart, size: LayoutSize) -> Scene {
    let size = sanitize_size(size);
    match &chart.data {
        ChartData::Line { x_labels, series } => {
            let series = normalize_series(series, x_labels.len());
            if !has_value(&series) {
                return no_data_scene(size);
            }
            xy_chart(chart, x_labels, &series, size, XyKind::Line)
        }
        ChartData::Bar { categories, series } => {
            let series = normalize_series(series, categories.len());
            if !has_value(&series) {
                return no_data_scene(size);
            }
            xy_chart(chart, categories, &series, size, XyKind::Bar)
        }
        ChartData::Heatmap {
            labels,
            cells,
            min,
            max,
        } => {
            let n = labels.len();
            let grid: Vec<Vec<Option<f64>>> = (0..n)
                .map(|r| {
                    let row = cells.get(r);
                    (0..n)
                        .map(|c| {
                            row.and_then(|row| row.get(c))
                                .copied()
                                .flatten()
                                .filter(|v| v.is_finite())
                        })
                        .collect()
                })
                .collect();
            if !grid.iter().flatten().any(Option::is_some) {
                return no_data_scene(size);
            }
            heatmap(chart, labels, &grid, *min, *max, size)
        }
    }
}

fn sanitize_size(size: LayoutSize) -> LayoutSize {
    let ok = |v: f64, default: f64, lo: f64, hi: f64| {
        if v.is_finite() {
            v.clamp(lo, hi)
        } else {
            default
        }
    };
    LayoutSize {
        width: ok(size.width, 720.0, 200.0, 4000.0),
        font: ok(size.font, 12.0, 4.0, 40.0),
        plot_height: ok(size.plot_height, 300.0, 120.0, 3000.0),
    }
}

/// Series with exactly `n` finite-or-missing values each.
fn normalize_series(series: &[Series], n: usize) -> Vec<(String, Vec<Option<f64>>)> {
    series
        .iter()
        .map(|s| {
            let values = (0..n)
                .map(|i| s.values.get(i).copied().flatten().filter(|v| v.is_finite()))
                .collect();
            (s.name.clone(), values)
        })
        .collect()
}

fn has_value(series: &[(String, Vec<Option<f64>>)]) -> bool {
    series
        .iter()
        .any(|(_, values)| values.iter().any(Option::is_some))
}

fn no_data_scene(size: LayoutSize) -> Scene {
    let height = (size.font * 8.0).max(90.0);
    let shapes = vec![
        Shape::Rect {
            x: 1.0,
            y: 1.0,
            w: size.width - 2.0,
            h: height - 2.0,
            fill: PANEL,
            stroke: Some(GRID),
        },
        Shape::Text {
            x: size.width / 2.0,
            y: height / 2.0 + size.font * 0.35,
            text: NO_DATA_TEXT.to_string(),
            size: size.font * 1.1,
            anchor: Anchor::Middle,
            weight: Weight::Bold,
            color: MUTED,
            vertical: false,
        },
    ];
    Scene {
        width: size.width,
        height,
        shapes,
        no_data: true,
    }
}

/// A value axis: its range and tick positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

/// An axis covering `lo..=hi` and zero, with about five round ticks (1, 2, 2.5 or 5 times a power
/// of ten; whole numbers for counts; seconds, minutes and hours for durations).
pub fn nice_axis(lo: f64, hi: f64, unit: Unit) -> Axis {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() && lo <= hi {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    lo = lo.min(0.0);
    hi = hi.max(0.0);
    if hi - lo <= f64::MIN_POSITIVE || !(hi - lo).is_finite() {
        if hi - lo <= f64::MIN_POSITIVE {
            hi = lo + 1.0;
        } else {
            return Axis {
                min: lo,
                max: hi,
                step: hi / 2.0 - lo / 2.0,
                ticks: vec![lo, hi],
            };
        }
    }
    let raw = (hi - lo) / 5.0;
    let mut step = if unit == Unit::Seconds && raw >= 45.0 {
        duration_step(raw)
    } else {
        decimal_step(raw)
    };
    if unit == Unit::Count {
        step = step.max(1.0);
    }
    let min = (lo / step).floor() * step;
    let max = (hi / step).ceil() * step;
    let count = ((max - min) / step).round();
    if !min.is_finite() || !max.is_finite() || !count.is_finite() || !(1.0..=60.0).contains(&count)
    {
        return Axis {
            min: lo,
            max: hi,
            step: hi - lo,
            ticks: vec![lo, hi],
        };
    }
    let ticks = (0..=count as usize)
        .map(|i| min + step * i as f64)
        .collect();
    Axis {
        min,
        max,
        step,
        ticks,
    }
}

fn decimal_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let residual = raw / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|n| *n >= residual - 1e-9)
        .unwrap_or(10.0);
    nice * magnitude
}

fn duration_step(raw: f64) -> f64 {
    const STEPS: [f64; 14] = [
        60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0,
        86400.0, 172800.0, 604800.0,
    ];
    STEPS
        .into_iter()
        .find(|s| *s >= raw)
        .unwrap_or_else(|| decimal_step(raw / 86400.0) * 86400.0)
}

/// Indexes of the x labels to show so that none overlaps: every k-th label (k from a list of
/// calendar-friendly strides: 2, 3, 4, 6, 7, 12 … fit hours, weekdays and months), the last one
/// too when it has room.
pub fn thin_labels(count: usize, spacing: f64, label_width: f64, gap: f64) -> Vec<usize> {
    if count == 0 {
        return Vec::new();
    }
    if count == 1 {
        return vec![0];
    }
    let needed = label_width + gap;
    let spacing = if spacing.is_finite() && spacing > 0.0 {
        spacing
    } else {
        needed.max(1.0)
    };
    let raw = (needed / spacing).ceil().max(1.0);
    const STRIDES: [usize; 14] = [1, 2, 3, 4, 5, 6, 7, 10, 12, 14, 15, 20, 24, 30];
    let stride = if raw > 30.0 {
        if raw.is_finite() && raw < count as f64 {
            raw as usize
        } else {
            count
        }
    } else {
        STRIDES.into_iter().find(|s| *s as f64 >= raw).unwrap_or(30)
    };
    let mut shown: Vec<usize> = (0..count).step_by(stride.max(1)).collect();
    let last = count - 1;
    if shown.last() != Some(&last) {
        let previous = shown.last().copied().unwrap_or(0);
        if (last - previous) as f64 * spacing >= needed {
            shown.push(last);
        }
    }
    shown
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum XyKind {
    Line,
    Bar,
}

struct Legend {
    shapes: Vec<Shape>,
    height: f64,
}

/// Legend rows (swatch + name), wrapping when wider than `width`. Empty for a single series.
fn legend(names: &[&str], top: f64, left: f64, width: f64, font: f64, kind: XyKind) -> Legend {
    if names.len() < 2 {
        return Legend {
            shapes: Vec::new(),
            height: 0.0,
        };
    }
    let mut shapes = Vec::new();
    let row_height = font * 1.6;
    let swatch = font * 1.4;
    let max_name = (width * 0.45).max(font * 4.0);
    let (mut x, mut y) = (left, top + font);
    for (i, name) in names.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let label = truncate_to_width(name, max_name, font, Weight::Regular);
        let item_width =
            swatch + font * 0.4 + text_width(&label, font, Weight::Regular) + font * 1.4;
        if x > left && x + item_width > left + width {
            x = left;
            y += row_height;
        }
        match kind {
            XyKind::Line => shapes.push(Shape::Line {
                x1: x,
                y1: y - font * 0.35,
                x2: x + swatch,
                y2: y - font * 0.35,
                color,
                width: 2.5,
                dashed: false,
            }),
            XyKind::Bar => shapes.push(Shape::Rect {
                x: x + swatch * 0.2,
                y: y - font * 0.8,
                w: swatch * 0.6,
                h: font * 0.8,
                fill: color,
                stroke: None,
            }),
        }
        shapes.push(Shape::Text {
            x: x + swatch + font * 0.4,
            y,
            text: label,
            size: font,
            anchor: Anchor::Start,
            weight: Weight::Regular,
            color: INK,
            vertical: false,
        });
        x += item_width;
    }
    Legend {
        shapes,
        height: y - top + font * 0.8,
    }
}

fn text(x: f64, y: f64, text: String, size: f64, anchor: Anchor, color: Color) -> Shape {
    Shape::Text {
        x,
        y,
        text,
        size,
        anchor,
        weight: Weight::Regular,
        color,
        vertical: false,
    }
}

/// The y of value `v` on `axis` drawn from `bottom` up to `top`, always finite and inside.
fn value_scale(axis: &Axis, top: f64, bottom: f64) -> impl Fn(f64) -> f64 {
    // Halved so that the span of an axis from −f64::MAX to f64::MAX is still finite.
    let half_span = axis.max * 0.5 - axis.min * 0.5;
    let min = axis.min;
    move |v: f64| {
        let y = bottom - (v * 0.5 - min * 0.5) / half_span * (bottom - top);
        if y.is_finite() {
            y.clamp(top - 1.0, bottom + 1.0)
        } else {
            bottom
        }
    }
}

/// Which series of a line chart go on a right-hand axis: those whose largest magnitude is under
/// a tenth of the largest one's. Then "active users" (about 12,000) and "new registrations"
/// (about 400) can share a chart and both be read. Bars always share one axis (their heights
/// are compared with each other).
fn right_axis_series(kind: XyKind, series: &[(String, Vec<Option<f64>>)]) -> Vec<bool> {
    let peaks: Vec<f64> = series
        .iter()
        .map(|(_, values)| values.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max))
        .collect();
    let biggest = peaks.iter().copied().fold(0.0, f64::max);
    peaks
        .iter()
        .map(|peak| kind == XyKind::Line && *peak > 0.0 && *peak * 10.0 < biggest)
        .collect()
}

/// Line and grouped bar charts: both have a value axis on the left and labels along x.
fn xy_chart(
    chart: &Chart,
    labels: &[String],
    series: &[(String, Vec<Option<f64>>)],
    size: LayoutSize,
    kind: XyKind,
) -> Scene {
    let font = size.font;
    let width = size.width;
    let n = labels.len();
    let mut shapes = Vec::new();

    let on_right = right_axis_series(kind, series);
    let names: Vec<String> = series
        .iter()
        .zip(&on_right)
        .map(|((name, _), right)| {
            if *right {
                format!("{name} (right axis)")
            } else {
                name.clone()
            }
        })
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let legend = legend(&name_refs, 0.0, 0.0, width, font, kind);
    let legend_height = if legend.height > 0.0 {
        legend.height + font * 0.8
    } else {
        0.0
    };
    shapes.extend(legend.shapes);

    let range = |right: bool| {
        series
            .iter()
            .zip(&on_right)
            .filter(|(_, r)| **r == right)
            .flat_map(|((_, values), _)| values.iter().flatten())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            })
    };
    let (lo, hi) = range(false);
    let axis = nice_axis(lo, hi, chart.unit);
    let tick_labels: Vec<String> = axis
        .ticks
        .iter()
        .map(|t| format_tick(*t, chart.unit, axis.step))
        .collect();
    let tick_label_width = tick_labels
        .iter()
        .map(|l| text_width(l, font, Weight::Regular))
        .fold(0.0, f64::max);
    let right_axis = on_right.contains(&true).then(|| {
        let (lo, hi) = range(true);
        let axis = nice_axis(lo, hi, chart.unit);
        let labels: Vec<String> = axis
            .ticks
            .iter()
            .map(|t| format_tick(*t, chart.unit, axis.step))
            .collect();
        (axis, labels)
    });
    let right_label_width = right_axis.as_ref().map_or(0.0, |(_, labels)| {
        labels
            .iter()
            .map(|l| text_width(l, font, Weight::Regular))
            .fold(0.0, f64::max)
            + font * 0.6
    });

    let has_y_title = !chart.y_title.trim().is_empty();
    let has_x_title = !chart.x_title.trim().is_empty();
    let y_title_band = if has_y_title { font * 1.6 } else { 0.0 };
    let left = y_title_band + tick_label_width + font * 0.6;
    let right = width - font * 0.8 - right_label_width;
    // Bars carry their value above them: the tallest one's label needs room under the legend.
    let headroom = if kind == XyKind::Bar { 1.5 } else { 0.6 };
    let top = legend_height + font * headroom;
    let bottom = size.plot_height - if has_x_title { font * 3.2 } else { font * 1.8 };
    let plot_w = (right - left).max(10.0);
    let plot_h = (bottom - top).max(10.0);
    let y_of = value_scale(&axis, top, bottom);
    let y_of_right = right_axis
        .as_ref()
        .map(|(axis, _)| value_scale(axis, top, bottom));
    let y_of_series = |s: usize, v: f64| match (&y_of_right, on_right.get(s)) {
        (Some(scale), Some(true)) => scale(v),
        _ => y_of(v),
    };

    // The right axis: ticks only (the gridlines belong to the left one), in the series' colour
    // when it is the only one there.
    if let (Some((axis, labels)), Some(scale)) = (&right_axis, &y_of_right) {
        let mut right_series = on_right
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| i);
        let color = match (right_series.next(), right_series.next()) {
            (Some(i), None) => PALETTE[i % PALETTE.len()],
            _ => MUTED,
        };
        for (tick, label) in axis.ticks.iter().zip(labels) {
            let y = scale(*tick);
            shapes.push(Shape::Line {
                x1: right,
                y1: y,
                x2: right + font * 0.3,
                y2: y,
                color: AXIS,
                width: 1.0,
                dashed: false,
            });
            shapes.push(text(
                right + font * 0.5,
                y + font * 0.35,
                label.clone(),
                font,
                Anchor::Start,
                color,
            ));
        }
        shapes.push(Shape::Line {
            x1: right,
            y1: top,
            x2: right,
            y2: bottom,
            color: AXIS,
            width: 1.0,
            dashed: false,
        });
    }

    // Gridlines and value ticks.
    for (tick, label) in axis.ticks.iter().zip(tick_labels) {
        let y = y_of(*tick);
        shapes.push(Shape::Line {
            x1: left,
            y1: y,
            x2: right,
            y2: y,
            color: GRID,
            width: 1.0,
            dashed: false,
        });
        shapes.push(text(
            left - font * 0.4,
            y + font * 0.35,
            label,
            font,
            Anchor::End,
            MUTED,
        ));
    }
    if has_y_title {
        let title = truncate_to_width(&chart.y_title, plot_h, font, Weight::Regular);
        shapes.push(Shape::Text {
            x: font * 1.0,
            y: top + plot_h / 2.0,
            text: title,
            size: font,
            anchor: Anchor::Middle,
            weight: Weight::Regular,
            color: MUTED,
            vertical: true,
        });
    }

    // x positions: points for lines (inset so edge labels fit), group centres for bars.
    let label_size = font;
    let (inset, spacing) = match kind {
        XyKind::Line => {
            let inset = font * 1.2;
            let spacing = if n > 1 {
                (plot_w - 2.0 * inset) / (n - 1) as f64
            } else {
                0.0
            };
            (inset, spacing)
        }
        XyKind::Bar => (0.0, plot_w / n.max(1) as f64),
    };
    let x_of = |i: usize| match kind {
        XyKind::Line if n <= 1 => left + plot_w / 2.0,
        XyKind::Line => left + inset + spacing * i as f64,
        XyKind::Bar => left + spacing * (i as f64 + 0.5),
    };

    // x labels: truncated to what the chart can give one label, then thinned.
    // Every bar category keeps a label (cut to its group's width) unless groups are too narrow
    // even for a few letters; line labels are thinned instead, as the axis reads like a ruler.
    // Many short bar labels (24 hours: "00:00" …) are thinned like a ruler too: "00:…" under
    // every bar says less than a whole label under every other or third bar.
    let full_widest = labels
        .iter()
        .map(|l| text_width(l, label_size, Weight::Regular))
        .fold(0.0, f64::max);
    let (max_label, label_gap) = match kind {
        XyKind::Line => ((plot_w / 3.0).max(font * 3.0), font * 0.8),
        XyKind::Bar if n >= 8 && full_widest + font * 0.8 <= spacing * 4.0 => {
            (full_widest, font * 0.8)
        }
        XyKind::Bar => ((spacing - font * 0.5).max(font * 2.5), font * 0.3),
    };
    let shown_labels: Vec<String> = labels
        .iter()
        .map(|l| truncate_to_width(l, max_label, label_size, Weight::Regular))
        .collect();
    let widest = shown_labels
        .iter()
        .map(|l| text_width(l, label_size, Weight::Regular))
        .fold(0.0, f64::max);
    let label_y = bottom + font * 1.3;
    for i in thin_labels(n, spacing, widest, label_gap) {
        let x = x_of(i);
        shapes.push(Shape::Line {
            x1: x,
            y1: bottom,
            x2: x,
            y2: bottom + font * 0.3,
            color: AXIS,
            width: 1.0,
            dashed: false,
        });
        let label = shown_labels.get(i).cloned().unwrap_or_default();
        // The first and last labels of a line chart stay inside the chart.
        let half = text_width(&label, label_size, Weight::Regular) / 2.0;
        let x = x.clamp(half.min(width / 2.0), (width - half).max(width / 2.0));
        shapes.push(text(x, label_y, label, label_size, Anchor::Middle, MUTED));
    }
    if has_x_title {
        let title = truncate_to_width(&chart.x_title, plot_w, font, Weight::Regular);
        shapes.push(text(
            left + plot_w / 2.0,
            size.plot_height - font * 0.4,
            title,
            font,
            Anchor::Middle,
            MUTED,
        ));
    }

    let zero_y = y_of(0.0_f64.clamp(axis.min, axis.max));
    match kind {
        XyKind::Line => {
            let marker = n <= 40;
            let count = series.len();
            for (s, (_, values)) in series.iter().enumerate() {
                let color = PALETTE[s % PALETTE.len()];
                // Earlier series are drawn wider, so where two series coincide (active users =
                // sessions in a quiet hour) the one underneath still shows as an outline.
                let under = (count - 1 - s).min(2) as f64;
                let stroke = 2.2 + 1.8 * under;
                let dot = 2.4 + 0.9 * under;
                let mut run: Vec<(f64, f64)> = Vec::new();
                let flush = |run: &mut Vec<(f64, f64)>, shapes: &mut Vec<Shape>| {
                    match run.len() {
                        0 => {}
                        // A lone point between gaps is still visible as a dot.
                        1 => shapes.push(Shape::Circle {
                            cx: run[0].0,
                            cy: run[0].1,
                            r: 3.0,
                            fill: color,
                        }),
                        _ => shapes.push(Shape::Polyline {
                            points: std::mem::take(run),
                            color,
                            width: stroke,
                        }),
                    }
                    run.clear();
                };
                for (i, value) in values.iter().enumerate() {
                    match value {
                        Some(v) => run.push((x_of(i), y_of_series(s, *v))),
                        None => flush(&mut run, &mut shapes),
                    }
                }
                flush(&mut run, &mut shapes);
                if marker {
                    for (i, value) in values.iter().enumerate() {
                        if let Some(v) = value {
                            shapes.push(Shape::Circle {
                                cx: x_of(i),
                                cy: y_of_series(s, *v),
                                r: dot,
                                fill: color,
                            });
                        }
                    }
                }
            }
        }
        XyKind::Bar => {
            let groups = series.len().max(1) as f64;
            let group_w = spacing * 0.78;
            let bar_w = group_w / groups;
            let value_font = font * 0.85;
            for (s, (_, values)) in series.iter().enumerate() {
                let color = PALETTE[s % PALETTE.len()];
                for (i, value) in values.iter().enumerate() {
                    let x = x_of(i) - group_w / 2.0 + bar_w * s as f64;
                    let inner_x = x + bar_w * 0.06;
                    let inner_w = (bar_w * 0.88).max(0.5);
                    match value {
                        Some(v) => {
                            let y = y_of(*v);
                            let (y0, h) = if y < zero_y {
                                (y, zero_y - y)
                            } else {
                                (zero_y, y - zero_y)
                            };
                            shapes.push(Shape::Rect {
                                x: inner_x,
                                y: y0,
                                w: inner_w,
                                h: h.max(0.0),
                                fill: color,
                                stroke: None,
                            });
                            let label = format_value(Some(*v), chart.unit);
                            if text_width(&label, value_font, Weight::Regular) <= bar_w - 1.0 {
                                let ly = if *v >= 0.0 {
                                    y - font * 0.3
                                } else {
                                    y + value_font * 1.05
                                };
                                shapes.push(text(
                                    inner_x + inner_w / 2.0,
                                    ly,
                                    label,
                                    value_font,
                                    Anchor::Middle,
                                    INK,
                                ));
                            }
                        }
                        None => {
                            if text_width("n/a", value_font, Weight::Regular) <= bar_w - 1.0 {
                                // Above the zero line, or below it when zero is the top of the plot.
                                let ly = if zero_y - top >= font {
                                    zero_y - font * 0.3
                                } else {
                                    zero_y + value_font * 1.2
                                };
                                shapes.push(text(
                                    inner_x + inner_w / 2.0,
                                    ly,
                                    "n/a".to_string(),
                                    value_font,
                                    Anchor::Middle,
                                    MUTED,
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    // Axis lines last so bars do not cover them.
    shapes.push(Shape::Line {
        x1: left,
        y1: zero_y,
        x2: right,
        y2: zero_y,
        color: AXIS,
        width: 1.0,
        dashed: false,
    });
    shapes.push(Shape::Line {
        x1: left,
        y1: top,
        x2: left,
        y2: bottom,
        color: AXIS,
        width: 1.0,
        dashed: false,
    });

    Scene {
        width,
        height: size.plot_height,
        shapes,
        no_data: false,
    }
}

/// Colour of `v` on a diverging scale: blue at `min`, white at the midpoint, red at `max`. The
/// midpoint is 0 when the range spans it (correlations), else the middle of the range.
pub fn diverging_color(v: f64, min: f64, max: f64) -> Color {
    let mid = if min < 0.0 && max > 0.0 {
        0.0
    } else {
        (min + max) / 2.0
    };
    if !v.is_finite() {
        return NULL_CELL;
    }
    if v >= mid {
        let t = if max > mid {
            (v - mid) / (max - mid)
        } else {
            0.0
        };
        WHITE.mix(HOT, t)
    } else {
        let t = if mid > min {
            (mid - v) / (mid - min)
        } else {
            0.0
        };
        WHITE.mix(COLD, t)
    }
}

fn heatmap(
    chart: &Chart,
    labels: &[String],
    grid: &[Vec<Option<f64>>],
    min: f64,
    max: f64,
    size: LayoutSize,
) -> Scene {
    let font = size.font;
    let n = grid.len().max(1);
    let (min, max) = heat_range(grid, min, max);
    let mut shapes = Vec::new();

    let legend_w = font * 5.5;
    let row_label_max = (size.width * 0.28).max(font * 4.0);
    let row_labels: Vec<String> = labels
        .iter()
        .map(|l| truncate_to_width(l, row_label_max, font, Weight::Regular))
        .collect();
    let row_label_w = row_labels
        .iter()
        .map(|l| text_width(l, font, Weight::Regular))
        .fold(0.0, f64::max);
    let available = size.width - row_label_w - font * 0.8 - legend_w - font;
    let cell = (available / n as f64).clamp(font * 1.5, font * 6.0);
    let left = row_label_w + font * 0.8;
    let top = font * 0.5;
    let value_font = (cell / 4.2).clamp(font * 0.55, font);

    for (r, row) in grid.iter().enumerate() {
        let y = top + cell * r as f64;
        if let Some(label) = row_labels.get(r) {
            shapes.push(text(
                left - font * 0.5,
                y + cell / 2.0 + font * 0.35,
                label.clone(),
                font,
                Anchor::End,
                INK,
            ));
        }
        for (c, value) in row.iter().enumerate() {
            let x = left + cell * c as f64;
            let fill = value.map_or(NULL_CELL, |v| diverging_color(v, min, max));
            shapes.push(Shape::Rect {
                x,
                y,
                w: cell,
                h: cell,
                fill,
                stroke: Some(WHITE),
            });
            let label =
                value.map_or_else(|| "n/a".to_string(), |v| format_value(Some(v), chart.unit));
            let label = truncate_to_width(&label, cell - 2.0, value_font, Weight::Regular);
            let dark = fill.0 as u32 + fill.1 as u32 + fill.2 as u32 <= 380;
            shapes.push(text(
                x + cell / 2.0,
                y + cell / 2.0 + value_font * 0.35,
                label,
                value_font,
                Anchor::Middle,
                if dark { WHITE } else { INK },
            ));
        }
    }
    // Column labels under the grid, truncated to the cell width.
    let grid_bottom = top + cell * n as f64;
    for (c, label) in labels.iter().enumerate().take(n) {
        let label = truncate_to_width(label, cell - font * 0.3, font, Weight::Regular);
        shapes.push(text(
            left + cell * (c as f64 + 0.5),
            grid_bottom + font * 1.3,
            label,
            font,
            Anchor::Middle,
            INK,
        ));
    }
    let mut height = grid_bottom + font * 2.0;
    if !chart.x_title.trim().is_empty() {
        let title = truncate_to_width(&chart.x_title, cell * n as f64, font, Weight::Regular);
        shapes.push(text(
            left + cell * n as f64 / 2.0,
            grid_bottom + font * 2.9,
            title,
            font,
            Anchor::Middle,
            MUTED,
        ));
        height += font * 1.4;
    }

    // Colour legend: a vertical ramp from max (top) to min (bottom) with three labels.
    let ramp_x = left + cell * n as f64 + font * 1.2;
    let ramp_h = (cell * n as f64).max(font * 8.0);
    let steps = 24;
    for i in 0..steps {
        let t = i as f64 / (steps - 1) as f64;
        let v = max - (max - min) * t;
        shapes.push(Shape::Rect {
            x: ramp_x,
            y: top + ramp_h * i as f64 / steps as f64,
            w: font * 1.2,
            h: ramp_h / steps as f64 + 0.3,
            fill: diverging_color(v, min, max),
            stroke: None,
        });
    }
    let mid = if min < 0.0 && max > 0.0 {
        0.0
    } else {
        (min + max) / 2.0
    };
    let mid_y = top
        + if max > min {
            (max - mid) / (max - min) * ramp_h
        } else {
            ramp_h / 2.0
        };
    for (v, y) in [
        (max, top + font * 0.7),
        (mid, mid_y + font * 0.35),
        (min, top + ramp_h),
    ] {
        shapes.push(text(
            ramp_x + font * 1.6,
            y,
            format_value(Some(v), chart.unit),
            font * 0.85,
            Anchor::Start,
            MUTED,
        ));
    }
    height = height.max(top + ramp_h + font);
    // Many labels at the smallest readable cell size overflow the width: the scene then gets
    // wider, and the renderers scale it down to their width.
    let legend_label_w = [min, max]
        .iter()
        .map(|v| {
            text_width(
                &format_value(Some(*v), chart.unit),
                font * 0.85,
                Weight::Regular,
            )
        })
        .fold(0.0, f64::max);
    let width = size.width.max(ramp_x + font * 1.8 + legend_label_w);
    Scene {
        width,
        height,
        shapes,
        no_data: false,
    }
}

/// The colour range of a heatmap: the model's `min`/`max` when usable, else the data's range.
fn heat_range(grid: &[Vec<Option<f64>>], min: f64, max: f64) -> (f64, f64) {
    if min.is_finite() && max.is_finite() && min < max {
        return (min, max);
    }
    let (lo, hi) = grid
        .iter()
        .flatten()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    if lo.is_finite() && hi.is_finite() && lo < hi {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 1.0, lo + 1.0)
    } else {
        (-1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_have_round_ticks_and_include_zero() {
        let axis = nice_axis(3.0, 97.0, Unit::Count);
        assert_eq!(axis.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let axis = nice_axis(0.0, 2.0, Unit::Count);
        assert_eq!(axis.ticks, vec![0.0, 1.0, 2.0]);
        let axis = nice_axis(0.0, 0.9, Unit::Number);
        assert_eq!(
            axis.ticks,
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let axis = nice_axis(-0.8, 0.6, Unit::Number);
        assert_eq!(axis.ticks, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        let axis = nice_axis(0.0, 0.0, Unit::Count);
        assert_eq!(axis.ticks, vec![0.0, 1.0]);
        let axis = nice_axis(0.0, 4000.0, Unit::Seconds);
        assert_eq!(axis.step, 900.0);
        let axis = nice_axis(f64::NAN, 5.0, Unit::Count);
        assert_eq!(axis.ticks.first(), Some(&0.0));
        let huge = nice_axis(0.0, f64::MAX, Unit::Count);
        assert!(huge.ticks.iter().all(|t| t.is_finite()));
    }

    #[test]
    fn thinning_never_overlaps() {
        // 31 daily labels "2024-03-01" (≈ 60 units wide) over 600 units: every 4th (or so).
        let shown = thin_labels(31, 600.0 / 30.0, 60.0, 8.0);
        assert_eq!(shown[0], 0);
        for pair in shown.windows(2) {
            assert!((pair[1] - pair[0]) as f64 * 20.0 >= 68.0);
        }
        assert_eq!(
            thin_labels(24, 30.0, 20.0, 5.0),
            (0..24).collect::<Vec<_>>()
        );
        assert_eq!(
            thin_labels(24, 10.0, 20.0, 5.0),
            vec![0, 3, 6, 9, 12, 15, 18, 21]
        );
        assert_eq!(thin_labels(0, 10.0, 20.0, 5.0), Vec::<usize>::new());
        assert_eq!(thin_labels(1, 10.0, 20.0, 5.0), vec![0]);
        assert_eq!(thin_labels(1000, 0.1, 50.0, 5.0).len(), 2);
    }

    fn texts(scene: &Scene) -> Vec<&str> {
        scene
            .shapes
            .iter()
            .filter_map(|s| {
                if let Shape::Text { text, .. } = s {
                    Some(text.as_str())
                } else {
                    None
                }
            })
            .collect()
    }

    const WIDE: LayoutSize = LayoutSize {
        width: 760.0,
        font: 12.0,
        plot_height: 320.0,
    };

    #[test]
    fn small_series_beside_a_big_one_get_a_right_axis() {
        let monthly = crate::kernels::report::fixtures::monthly();
        let growth = layout_chart(&monthly.charts[0], WIDE);
        let labels = texts(&growth);
        assert!(
            labels.contains(&"New registrations (right axis)"),
            "{labels:?}"
        );
        assert!(labels.contains(&"Active users"));
        // Left ticks in thousands, right ticks in hundreds.
        assert!(labels.contains(&"20,000") && labels.contains(&"500"));
        // Series of similar size share the left axis; bars always do.
        let weekly = crate::kernels::report::fixtures::weekly();
        for chart in &weekly.charts {
            assert!(
                !texts(&layout_chart(chart, WIDE))
                    .iter()
                    .any(|t| t.contains("right axis")),
                "{}",
                chart.key
            );
        }
    }

    #[test]
    fn every_bar_category_keeps_a_label() {
        let weekly = crate::kernels::report::fixtures::weekly();
        let narrow = LayoutSize {
            width: 400.0,
            font: 12.0,
            plot_height: 280.0,
        };
        let labels = texts(&layout_chart(&weekly.charts[1], narrow))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        for category in ["Text", "Image", "Video", "Link", "Poll"] {
            assert!(
                labels.iter().any(|l| l == category),
                "{category} missing from {labels:?}"
            );
        }
        assert!(labels
            .iter()
            .any(|l| l.starts_with("Live") && l.ends_with('…')));
    }

    #[test]
    fn hourly_bars_show_whole_labels_thinned_not_cut() {
        use crate::kernels::report::fixtures::{bar, hours, series};
        // The demo's quiet day: two posts in the first two hours, so the tallest bar reaches the
        // top of the axis.
        let hours = hours();
        let categories: Vec<&str> = hours.iter().map(String::as_str).collect();
        let values = (0..24)
            .map(|h| Some(if h < 2 { 1.0 } else { 0.0 }))
            .collect();
        let chart = bar(
            "publishing",
            "Posts published by hour",
            "Hour (UTC)",
            "Posts",
            Unit::Count,
            &categories,
            vec![series("Posts", values)],
        );
        let scene = layout_chart(&chart, WIDE);
        let labels = texts(&scene);
        assert!(!labels.iter().any(|l| l.ends_with('…')), "{labels:?}");
        assert!(
            labels.contains(&"00:00") && labels.contains(&"12:00"),
            "{labels:?}"
        );
        // The tallest bar's value label stays inside the picture.
        for shape in &scene.shapes {
            if let Shape::Text { y, size, text, .. } = shape {
                assert!(
                    *y - size * 0.8 >= 0.0,
                    "{text} at {y} is cut off at the top"
                );
            }
        }
    }

    #[test]
    fn empty_and_all_null_charts_are_no_data_panels() {
        let empty = crate::kernels::report::fixtures::empty();
        for chart in &empty.charts {
            let scene = layout_chart(chart, WIDE);
            assert!(scene.no_data, "{}", chart.key);
            assert_eq!(texts(&scene), vec![NO_DATA_TEXT]);
        }
    }

    #[test]
    fn texts_on_one_baseline_never_overlap() {
        // x labels (31 days, 24 hours), legends, bar values: at every layout size.
        let narrow = LayoutSize {
            width: 400.0,
            font: 12.0,
            plot_height: 280.0,
        };
        let pdf = LayoutSize {
            width: 495.0,
            font: 8.0,
            plot_height: 205.0,
        };
        for (name, report) in crate::kernels::report::fixtures::all() {
            for chart in &report.charts {
                for size in [WIDE, narrow, pdf] {
                    let scene = layout_chart(chart, size);
                    let mut boxes: Vec<(f64, f64, f64, &str)> = scene
                        .shapes
                        .iter()
                        .filter_map(|s| match s {
                            Shape::Text {
                                x,
                                y,
                                text,
                                size,
                                anchor,
                                weight,
                                vertical: false,
                                ..
                            } => {
                                let w = text_width(text, *size, *weight);
                                let left = match anchor {
                                    Anchor::Start => *x,
                                    Anchor::Middle => x - w / 2.0,
                                    Anchor::End => x - w,
                                };
                                Some(((y * 100.0).round(), left, left + w, text.as_str()))
                            }
                            _ => None,
                        })
                        .collect();
                    boxes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
                    for pair in boxes.windows(2) {
                        if pair[0].0 == pair[1].0 {
                            assert!(
                                pair[0].2 <= pair[1].1 + 0.01,
                                "{name}/{} at width {}: {:?} overlaps {:?}",
                                chart.key,
                                size.width,
                                pair[0].3,
                                pair[1].3
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn diverging_scale_is_white_at_zero() {
        assert_eq!(diverging_color(0.0, -1.0, 1.0), WHITE);
        assert_eq!(diverging_color(1.0, -1.0, 1.0), HOT);
        assert_eq!(diverging_color(-1.0, -1.0, 1.0), COLD);
        assert_eq!(diverging_color(5.0, -1.0, 1.0), HOT);
        assert_eq!(diverging_color(f64::NAN, -1.0, 1.0), NULL_CELL);
    }
}
