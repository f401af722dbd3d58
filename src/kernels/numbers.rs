//! Exact rate arithmetic. Rates are kept as integer hundredths (i128) until output, so
//! `37 / 120` is `30.83` and never an integer-division `0`; rounding is half away from zero,
//! like PostgreSQL's `round(numeric, 2)`.

/// `round(scale * num / den)` with half away from zero; `None` when `den` is zero.
fn round_div(num: i128, den: i128) -> Option<i128> {
    if den == 0 {
        return None;
    }
    let negative = (num < 0) != (den < 0);
    let (n, d) = (num.abs(), den.abs());
    let q = (2 * n + d) / (2 * d);
    Some(if negative { -q } else { q })
}

/// Percentage `100 * part / whole` in hundredths (`3083` means 30.83 %).
pub fn percent_hundredths(part: i64, whole: i64) -> Option<i128> {
    round_div(10_000 * part as i128, whole as i128)
}

/// Growth `100 * (value - previous) / previous` in hundredths; `None` when previous is 0.
pub fn growth_hundredths(value: i64, previous: i64) -> Option<i128> {
    round_div(
        10_000 * (value as i128 - previous as i128),
        previous as i128,
    )
}

/// Mean `sum / n` in hundredths; `None` for no values.
pub fn mean_hundredths(sum: i128, n: i64) -> Option<i128> {
    round_div(100 * sum, n as i128)
}

/// Any exact rational `num / den` in hundredths; `None` when `den` is zero.
pub fn hundredths(num: i128, den: i128) -> Option<i128> {
    round_div(100 * num, den)
}

/// Renders hundredths as a decimal string with two places: `3083` → `"30.83"`, `-5` → `"-0.05"`.
pub fn format_hundredths(h: i128) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let a = h.abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_exact_and_rounded_at_output() {
        assert_eq!(
            percent_hundredths(37, 120)
                .map(format_hundredths)
                .as_deref(),
            Some("30.83")
        );
        assert_eq!(
            percent_hundredths(1, 3).map(format_hundredths).as_deref(),
            Some("33.33")
        );
        assert_eq!(
            percent_hundredths(2, 3).map(format_hundredths).as_deref(),
            Some("66.67")
        );
        assert_eq!(
            percent_hundredths(5, 5).map(format_hundredths).as_deref(),
            Some("100.00")
        );
        assert_eq!(
            percent_hundredths(1, 8).map(format_hundredths).as_deref(),
            Some("12.50")
        );
        // 1/16 = 6.25 exactly, 1/1600 = 0.0625 → 0.06, 1/800 = 0.125 → 0.13 (half away from zero)
        assert_eq!(
            percent_hundredths(1, 800).map(format_hundredths).as_deref(),
            Some("0.13")
        );
        assert_eq!(
            percent_hundredths(0, 7).map(format_hundredths).as_deref(),
            Some("0.00")
        );
        assert_eq!(percent_hundredths(3, 0), None);
    }

    #[test]
    fn growth_handles_zero_and_decline() {
        assert_eq!(
            growth_hundredths(0, 10).map(format_hundredths).as_deref(),
            Some("-100.00")
        );
        assert_eq!(growth_hundredths(5, 0), None);
        assert_eq!(
            growth_hundredths(15, 10).map(format_hundredths).as_deref(),
            Some("50.00")
        );
        assert_eq!(
            growth_hundredths(1, 3).map(format_hundredths).as_deref(),
            Some("-66.67")
        );
        assert_eq!(growth_hundredths(0, 0), None);
    }

    #[test]
    fn means_and_ratios() {
        assert_eq!(
            mean_hundredths(10, 3).map(format_hundredths).as_deref(),
            Some("3.33")
        );
        assert_eq!(mean_hundredths(0, 0), None);
        // stickiness as a ratio of means: DAU sum 10 over 3 days, MAU sum 10 over 1 month:
        // 100 * (10/3) / (10/1) = 33.33, computed without rounding the means first.
        assert_eq!(
            hundredths(100 * 10 * 1, 3 * 10)
                .map(format_hundredths)
                .as_deref(),
            Some("33.33")
        );
        assert_eq!(hundredths(1, 0), None);
        assert_eq!(format_hundredths(-5), "-0.05");
    }
}
