//! Writes a chart [`Scene`] as inline SVG (no external references; all text escaped).

use std::fmt::Write;

use super::charts::{Anchor, Scene, Shape};
use super::html::escape;
use super::text::Weight;

/// Coordinates with at most two decimals keep the SVG small.
fn n(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    let rounded = (v * 100.0).round() / 100.0;
    let text = format!("{rounded:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// `scene` as an `<svg>` element that scales to its container's width (viewBox, no fixed size).
/// `label` becomes its accessible name.
pub fn scene_to_svg(scene: &Scene, label: &str, class: &str) -> String {
    let mut out = String::with_capacity(256 + scene.shapes.len() * 90);
    let _ = write!(
        out,
        "<svg class=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"xMidYMid meet\" font-family=\"Helvetica, Arial, sans-serif\"><title>{}</title>",
        escape(class),
        n(scene.width),
        n(scene.height),
        escape(label),
        escape(label)
    );
    for shape in &scene.shapes {
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
                let _ = write!(
                    out,
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
                    n(*x1),
                    n(*y1),
                    n(*x2),
                    n(*y2),
                    color.hex(),
                    n(*width),
                    if *dashed { " stroke-dasharray=\"4 3\"" } else { "" }
                );
            }
            Shape::Polyline {
                points,
                color,
                width,
            } => {
                let _ = write!(out, "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"", color.hex(), n(*width));
                for (i, (x, y)) in points.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{},{}", n(*x), n(*y));
                }
                out.push_str("\"/>");
            }
            Shape::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            } => {
                let _ = write!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"",
                    n(*x),
                    n(*y),
                    n(w.max(0.0)),
                    n(h.max(0.0)),
                    fill.hex()
                );
                if let Some(stroke) = stroke {
                    let _ = write!(out, " stroke=\"{}\"", stroke.hex());
                }
                out.push_str("/>");
            }
            Shape::Circle { cx, cy, r, fill } => {
                let _ = write!(
                    out,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/>",
                    n(*cx),
                    n(*cy),
                    n(*r),
                    fill.hex()
                );
            }
            Shape::Polygon { points, fill } => {
                out.push_str("<polygon points=\"");
                for (i, (x, y)) in points.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{},{}", n(*x), n(*y));
                }
                let _ = write!(out, "\" fill=\"{}\"/>", fill.hex());
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
                let anchor = match anchor {
                    Anchor::Start => "start",
                    Anchor::Middle => "middle",
                    Anchor::End => "end",
                };
                let _ = write!(
                    out,
                    "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\" text-anchor=\"{}\"",
                    n(*x),
                    n(*y),
                    n(*size),
                    color.hex(),
                    anchor
                );
                if *weight == Weight::Bold {
                    out.push_str(" font-weight=\"bold\"");
                }
                if *vertical {
                    let _ = write!(out, " transform=\"rotate(-90 {} {})\"", n(*x), n(*y));
                }
                let _ = write!(out, ">{}</text>", escape(text));
            }
        }
    }
    out.push_str("</svg>");
    out
}
