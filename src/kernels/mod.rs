//! Pure-Rust analytics kernels. Nothing here touches PostgreSQL, so `cargo test --lib` covers it
//! quickly; the SQL-facing modules in `crate::api` gather the data and call into these.

pub mod alerts;
pub mod numbers;
pub mod report;
pub mod usersets;
