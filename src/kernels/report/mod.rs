//! Reports: the data model and its renderers (HTML with inline SVG charts, PDF). Pure Rust, so
//! `cargo test --lib` covers rendering without PostgreSQL.
//!
//! - [`render_html`]: one self-contained HTML page (inline CSS and SVG, no external requests).
//! - [`render_pdf`]: an A4 PDF with the same sections and charts, drawn as vector graphics.
//! - [`format_value`], [`format_change`], [`format_duration`]: how numbers are written.
//!
//! Both renderers lay charts out through [`charts`], so a chart looks the same in both.

pub mod charts;
mod common;
pub mod fixtures;
pub mod fonts;
pub mod format;
mod html;
pub mod insights;
pub mod model;
mod pdf;
mod svg;
pub mod text;

#[cfg(test)]
mod tests;

pub use format::{
    change_direction, format_change, format_duration, format_tick, format_value, Direction,
    NOT_AVAILABLE,
};
pub use html::{escape as escape_html, render_html};
pub use pdf::{render_pdf, PdfError};
