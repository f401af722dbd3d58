//! Reports: the data model and its renderers (HTML with inline SVG charts, PDF). Pure Rust, so
//! `cargo test --lib` covers rendering without PostgreSQL.

pub mod insights;
pub mod model;
