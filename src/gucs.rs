//! Settings (GUCs). Each can be set per session, role or database, so a Grafana data source's
//! role can carry its own week start.

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum WeekStart {
    #[name = c"monday"]
    Monday,
    #[name = c"sunday"]
    Sunday,
}

pub static WEEK_START: GucSetting<WeekStart> = GucSetting::<WeekStart>::new(WeekStart::Monday);
pub static SOURCE_TIMEZONE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"UTC"));

pub static USE_ROLLUPS: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn init() {
    GucRegistry::define_bool_guc(
        c"mking_analytics.use_rollups",
        c"Read the hourly rollups where they cover a range (default on); off forces the raw tables.",
        c"Answers are identical either way: hours changed since the last refresh are always read raw.",
        &USE_ROLLUPS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"mking_analytics.week_start",
        c"First day of a week bucket: monday (ISO, default) or sunday.",
        c"Week buckets, week cohorts and week labels follow it. Monday weeks are labelled with the ISO week-year.",
        &WEEK_START,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"mking_analytics.source_timezone",
        c"Time zone of source columns of type timestamp without time zone (default UTC).",
        c"timestamptz columns are absolute and ignore it.",
        &SOURCE_TIMEZONE,
        GucContext::Userset,
        GucFlags::default(),
    );
}

pub fn sunday_weeks() -> bool {
    WEEK_START.get() == WeekStart::Sunday
}

pub fn source_timezone() -> String {
    SOURCE_TIMEZONE
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "UTC".to_string())
}
