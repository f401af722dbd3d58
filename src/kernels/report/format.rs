//! How numbers are written in reports, per [`Unit`]; shared by the HTML and the PDF.
//!
//! Missing values (SQL NULL) and values that are not finite are written "n/a": a report never
//! shows "NaN" or "inf". Negative numbers use the minus sign U+2212 ("−"), which the PDF writes
//! as "-".

use super::model::Unit;

/// What a missing or non-finite value is written as.
pub const NOT_AVAILABLE: &str = "n/a";

const MINUS: char = '\u{2212}';

/// From this magnitude on, values are written in scientific notation ("1.23e15"): a row of
/// sixteen or more digits cannot be read at a glance, and no real figure gets there.
const HUGE: f64 = 1e15;

/// `value` written for its unit: Count "12,345"; Number "1,234.50"; Percent "30.83 %";
/// Seconds "42 s", "3 min 05 s", "1 h 02 min", "2 d 03 h"; "n/a" when missing or not finite;
/// magnitudes of 10^15 and more in scientific notation ("1.00e300").
pub fn format_value(value: Option<f64>, unit: Unit) -> String {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return NOT_AVAILABLE.to_string();
    };
    if v.abs() >= HUGE {
        let suffix = match unit {
            Unit::Percent => " %",
            Unit::Seconds => " s",
            Unit::Count | Unit::Number => "",
        };
        return format!("{v:.2e}{suffix}").replace('-', "−");
    }
    match unit {
        Unit::Count => format_grouped(v, 0),
        Unit::Number => format_grouped(v, 2),
        Unit::Percent => format!("{} %", format_grouped(v, 2)),
        Unit::Seconds => format_duration(v),
    }
}

/// A change in percent, one decimal, always signed unless it rounds to zero: "+12.5 %",
/// "−3.0 %", "0.0 %"; "n/a" when missing or not finite.
pub fn format_change(change_pct: Option<f64>) -> String {
    let Some(v) = change_pct.filter(|v| v.is_finite()) else {
        return NOT_AVAILABLE.to_string();
    };
    let rounded = (v * 10.0).round() / 10.0;
    if rounded == 0.0 {
        return "0.0 %".to_string();
    }
    let sign = if rounded > 0.0 { "+" } else { "" };
    format!("{sign}{} %", format_grouped(rounded, 1))
}

/// Direction of a change, for arrows and colours. Neither direction is "better": a report shows
/// whether a figure went up or down, not whether that is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Flat,
    Unknown,
}

/// Direction of `change_pct` after the same rounding as [`format_change`].
pub fn change_direction(change_pct: Option<f64>) -> Direction {
    match change_pct
        .filter(|v| v.is_finite())
        .map(|v| (v * 10.0).round() / 10.0)
    {
        None => Direction::Unknown,
        Some(v) if v > 0.0 => Direction::Up,
        Some(v) if v < 0.0 => Direction::Down,
        Some(_) => Direction::Flat,
    }
}

/// `v` with `decimals` decimals and a comma every three integer digits: 1234567.891 → "1,234,567.89".
/// Works for any finite value (the digits come from the standard formatter, never an integer cast).
pub fn format_grouped(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return NOT_AVAILABLE.to_string();
    }
    let text = format!("{:.*}", decimals, v.abs());
    // A value that rounds to zero is written without a sign ("−0.00" would look like a bug).
    let negative = v < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::with_capacity(text.len() + text.len() / 3 + 2);
    if negative {
        out.push(MINUS);
    }
    let digits = int_part.len();
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac_part {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A duration in seconds: "42 s", "3 min 05 s", "1 h 02 min", "2 d 03 h"; under 10 s with one
/// decimal when not whole ("4.5 s").
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return NOT_AVAILABLE.to_string();
    }
    let sign = if seconds < 0.0 && seconds.abs() >= 0.05 {
        MINUS.to_string()
    } else {
        String::new()
    };
    let s = seconds.abs();
    if s < 10.0 && (s * 10.0).round() % 10.0 != 0.0 {
        return format!("{sign}{:.1} s", s);
    }
    let total = s.round();
    if total < 60.0 {
        return format!("{sign}{total:.0} s");
    }
    if total < 3600.0 {
        let minutes = (total / 60.0).floor();
        return format!("{sign}{minutes:.0} min {:02.0} s", total - minutes * 60.0);
    }
    let total_minutes = (s / 60.0).round();
    if total_minutes < 24.0 * 60.0 {
        let hours = (total_minutes / 60.0).floor();
        return format!(
            "{sign}{hours:.0} h {:02.0} min",
            total_minutes - hours * 60.0
        );
    }
    let total_hours = (s / 3600.0).round();
    let days = (total_hours / 24.0).floor();
    format!(
        "{sign}{} d {:02.0} h",
        format_grouped(days, 0),
        total_hours - days * 24.0
    )
}

/// An axis tick label: like [`format_value`] but as short as the tick spacing `step` allows
/// ("25 %", "1.5 M", "30 min").
pub fn format_tick(value: f64, unit: Unit, step: f64) -> String {
    if !value.is_finite() {
        return NOT_AVAILABLE.to_string();
    }
    // Snap values within a hair of zero (floating error from tick arithmetic) to zero.
    let value = if step.is_finite() && value.abs() < step.abs() * 1e-9 {
        0.0
    } else {
        value
    };
    let decimals = decimals_for_step(step);
    match unit {
        Unit::Seconds => format_duration_tick(value),
        Unit::Percent => format!("{} %", format_grouped(value, decimals)),
        Unit::Count | Unit::Number => {
            let abs = value.abs();
            if abs >= 1e15 && step >= 1e14 {
                // Beyond trillions a tick label in words would be unreadable.
                format!("{value:.1e}").replace('-', "−")
            } else if abs >= 1e9 && step >= 1e8 {
                format!(
                    "{} B",
                    format_grouped(value / 1e9, decimals_for_step(step / 1e9))
                )
            } else if abs >= 1e6 && step >= 1e5 {
                format!(
                    "{} M",
                    format_grouped(value / 1e6, decimals_for_step(step / 1e6))
                )
            } else {
                format_grouped(value, decimals)
            }
        }
    }
}

/// Decimals needed to tell ticks `step` apart (0 to 6).
fn decimals_for_step(step: f64) -> usize {
    if !step.is_finite() || step <= 0.0 {
        return 0;
    }
    let mut decimals = 0usize;
    let mut scaled = step;
    while decimals < 6 && (scaled - scaled.round()).abs() > 1e-9 * scaled.max(1.0) {
        scaled *= 10.0;
        decimals += 1;
    }
    decimals
}

/// A duration tick: whole units where possible ("30 s", "5 min", "2 h", "1 h 30 min").
fn format_duration_tick(seconds: f64) -> String {
    let sign = if seconds < 0.0 {
        MINUS.to_string()
    } else {
        String::new()
    };
    let s = seconds.abs().round();
    if s == 0.0 {
        return "0".to_string();
    }
    if s < 60.0 {
        return format!("{sign}{s:.0} s");
    }
    if s < 3600.0 {
        let minutes = (s / 60.0).floor();
        let rest = s - minutes * 60.0;
        return if rest == 0.0 {
            format!("{sign}{minutes:.0} min")
        } else {
            format!("{sign}{minutes:.0} min {rest:02.0} s")
        };
    }
    if s < 86_400.0 || s % 86_400.0 != 0.0 {
        let hours = (s / 3600.0).floor();
        let minutes = ((s - hours * 3600.0) / 60.0).round();
        return if minutes == 0.0 {
            format!("{sign}{} h", format_grouped(hours, 0))
        } else {
            format!("{sign}{} h {minutes:02.0} min", format_grouped(hours, 0))
        };
    }
    format!("{sign}{} d", format_grouped(s / 86_400.0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(format_value(Some(12345.0), Unit::Count), "12,345");
        assert_eq!(format_value(Some(0.0), Unit::Count), "0");
        assert_eq!(format_value(Some(999.0), Unit::Count), "999");
        assert_eq!(format_value(Some(1000.0), Unit::Count), "1,000");
        assert_eq!(format_value(Some(-1234567.0), Unit::Count), "−1,234,567");
        assert_eq!(format_value(Some(12.6), Unit::Count), "13");
        assert_eq!(format_value(Some(-0.2), Unit::Count), "0");
        assert_eq!(
            format_value(Some(999_999_999_999_999.0), Unit::Count),
            "999,999,999,999,999"
        );
        assert_eq!(format_value(Some(1e15), Unit::Count), "1.00e15");
        assert_eq!(format_value(Some(-1e300), Unit::Count), "−1.00e300");
        assert_eq!(format_value(Some(f64::MAX), Unit::Seconds), "1.80e308 s");
        assert_eq!(format_value(Some(2.5e20), Unit::Percent), "2.50e20 %");
    }

    #[test]
    fn numbers_have_two_decimals() {
        assert_eq!(format_value(Some(3.25), Unit::Number), "3.25");
        assert_eq!(format_value(Some(1234.5), Unit::Number), "1,234.50");
        assert_eq!(format_value(Some(-0.004), Unit::Number), "0.00");
        assert_eq!(format_value(Some(-2.0), Unit::Number), "−2.00");
    }

    #[test]
    fn percents() {
        assert_eq!(format_value(Some(30.83), Unit::Percent), "30.83 %");
        assert_eq!(format_value(Some(0.0), Unit::Percent), "0.00 %");
        assert_eq!(format_value(Some(-5.5), Unit::Percent), "−5.50 %");
        assert_eq!(format_value(Some(100.0), Unit::Percent), "100.00 %");
    }

    #[test]
    fn durations() {
        assert_eq!(format_value(Some(42.0), Unit::Seconds), "42 s");
        assert_eq!(format_value(Some(185.0), Unit::Seconds), "3 min 05 s");
        assert_eq!(format_value(Some(3720.0), Unit::Seconds), "1 h 02 min");
        assert_eq!(format_value(Some(3749.0), Unit::Seconds), "1 h 02 min");
        assert_eq!(format_value(Some(59.6), Unit::Seconds), "1 min 00 s");
        assert_eq!(format_value(Some(4.5), Unit::Seconds), "4.5 s");
        assert_eq!(format_value(Some(0.0), Unit::Seconds), "0 s");
        assert_eq!(format_value(Some(-90.0), Unit::Seconds), "−1 min 30 s");
        assert_eq!(format_value(Some(183_600.0), Unit::Seconds), "2 d 03 h");
        assert_eq!(format_value(Some(86_399.0), Unit::Seconds), "1 d 00 h");
    }

    #[test]
    fn missing_and_non_finite_are_not_available() {
        for unit in [Unit::Count, Unit::Number, Unit::Percent, Unit::Seconds] {
            assert_eq!(format_value(None, unit), "n/a");
            assert_eq!(format_value(Some(f64::NAN), unit), "n/a");
            assert_eq!(format_value(Some(f64::INFINITY), unit), "n/a");
            assert_eq!(format_value(Some(f64::NEG_INFINITY), unit), "n/a");
        }
    }

    #[test]
    fn changes() {
        assert_eq!(format_change(Some(12.5)), "+12.5 %");
        assert_eq!(format_change(Some(-3.0)), "−3.0 %");
        assert_eq!(format_change(Some(0.0)), "0.0 %");
        assert_eq!(format_change(Some(-0.04)), "0.0 %");
        assert_eq!(format_change(Some(1234.56)), "+1,234.6 %");
        assert_eq!(format_change(None), "n/a");
        assert_eq!(format_change(Some(f64::NAN)), "n/a");
        assert_eq!(change_direction(Some(12.5)), Direction::Up);
        assert_eq!(change_direction(Some(-3.0)), Direction::Down);
        assert_eq!(change_direction(Some(0.01)), Direction::Flat);
        assert_eq!(change_direction(None), Direction::Unknown);
    }

    #[test]
    fn ticks() {
        assert_eq!(format_tick(2000.0, Unit::Count, 500.0), "2,000");
        assert_eq!(format_tick(2_500_000.0, Unit::Count, 500_000.0), "2.5 M");
        assert_eq!(format_tick(3_000_000_000.0, Unit::Count, 1e9), "3 B");
        assert_eq!(format_tick(0.5, Unit::Number, 0.25), "0.50");
        assert_eq!(format_tick(-0.5, Unit::Number, 0.5), "−0.5");
        assert_eq!(format_tick(25.0, Unit::Percent, 5.0), "25 %");
        assert_eq!(format_tick(2.5, Unit::Percent, 2.5), "2.5 %");
        assert_eq!(format_tick(1800.0, Unit::Seconds, 900.0), "30 min");
        assert_eq!(format_tick(5400.0, Unit::Seconds, 1800.0), "1 h 30 min");
        assert_eq!(format_tick(7200.0, Unit::Seconds, 3600.0), "2 h");
        assert_eq!(format_tick(1e-17, Unit::Number, 0.2), "0.0");
        assert_eq!(format_tick(-f64::MAX, Unit::Count, f64::MAX), "−1.8e308");
        assert_eq!(format_tick(0.0, Unit::Seconds, 30.0), "0");
    }
}
