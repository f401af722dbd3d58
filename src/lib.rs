//! mking_analytics: in-database analytics for the MKing Friend social platform.
//!
//! `kernels` is plain Rust (tested by `cargo test`); everything SQL-facing is under `api`, one
//! module per function family, built on `calendar` (periods in PostgreSQL's time zone rules),
//! `sources` (where events live) and `data` (the SQL that gathers them).

use pgrx::prelude::*;

pub mod kernels;

mod api;
mod calendar;
mod data;
mod errors;
mod gucs;
mod rollups;
mod sources;

::pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
pgrx::extension_sql_file!(
    "../sql/rollups.sql",
    name = "rollups",
    requires = ["schema"]
);
pgrx::extension_sql_file!("../sql/alerts.sql", name = "alerts", requires = ["schema"]);
pgrx::extension_sql_file!(
    "../sql/reports.sql",
    name = "reports",
    requires = ["schema"]
);
pgrx::extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;
#[cfg(any(test, feature = "pg_test"))]
mod pg_tests_alerts;
#[cfg(any(test, feature = "pg_test"))]
mod pg_tests_reports;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            "shared_preload_libraries = 'pg_cron'",
            "cron.database_name = 'pgrx_tests'",
        ]
    }
}
