//! User mistakes become `ERROR`s with a real SQLSTATE, naming the argument and what is accepted.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgLogLevel;

/// SQLSTATE 22023 (invalid_parameter_value) for a bad argument.
pub fn bad_argument(message: String, hint: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message,
        hint,
    )
}

pub fn raise(code: PgSqlErrorCode, message: String, hint: &str) -> ! {
    let mut report = ErrorReport::new(code, message, "mking_analytics");
    if !hint.is_empty() {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Unwraps an SPI result; an SPI failure is reported as an internal error, never a panic.
pub fn spi<T>(r: Result<T, pgrx::spi::Error>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("mking_analytics: {what} failed: {e}"),
            "",
        ),
    }
}
