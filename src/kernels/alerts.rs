//! Alert rules without PostgreSQL: comparison operators, what one evaluation does to a rule's
//! state (fire, re-notify, stay quiet, resolve), the NOTIFY payload and the anomaly band.

use serde::Serialize;
use serde_json::value::RawValue;

/// The options of an alert rule (`alert_rules.parameters`). One parser serves the check when a
/// rule is written (`alert_rule_parameters_problem()`) and the evaluator, so the two cannot
/// disagree about keys, ranges or defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleParams {
    /// Query rules: how long the condition query may run.
    pub timeout_ms: i32,
    /// Anomaly rules: the band's half-width in robust standard deviations.
    pub sensitivity: f64,
    /// Anomaly rules: earlier weeks the band learns from.
    pub weeks: i32,
    /// Anomaly rules: which side of the band fires.
    pub direction: Direction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Both,
    Above,
    Below,
}

impl Default for RuleParams {
    fn default() -> Self {
        RuleParams {
            timeout_ms: 5_000,
            sensitivity: 3.0,
            weeks: 6,
            direction: Direction::Both,
        }
    }
}

/// Why `parameters` are refused: the message names the key and its value, the hint what is
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamProblem {
    pub message: String,
    pub hint: String,
}

impl RuleParams {
    /// The keys each rule type reads.
    pub fn keys(rule_type: &str) -> &'static [&'static str] {
        match rule_type {
            "query" => &["timeout_ms"],
            "anomaly" => &["sensitivity", "weeks", "direction"],
            _ => &[],
        }
    }

    /// Parses `parameters` for `rule_type`: a JSON object of that type's keys, each within its
    /// range; a missing key or `null` takes the default.
    pub fn parse(
        rule_type: &str,
        parameters: Option<&serde_json::Value>,
    ) -> Result<Self, ParamProblem> {
        let problem = |message: String, hint: &str| ParamProblem {
            message,
            hint: hint.to_string(),
        };
        let Some(serde_json::Value::Object(map)) = parameters else {
            return Err(problem(
                format!(
                    "parameters must be a JSON object, not {}",
                    parameters.map_or("NULL".to_string(), |p| p.to_string())
                ),
                "Use '{}' for the defaults.",
            ));
        };
        let keys = Self::keys(rule_type);
        let mut out = RuleParams::default();
        for (key, v) in map {
            if !keys.contains(&key.as_str()) {
                let hint = if keys.is_empty() {
                    format!("{rule_type} rules take no parameters.")
                } else {
                    format!("{rule_type} rules accept: {}.", keys.join(", "))
                };
                return Err(problem(format!("unknown parameters key '{key}'"), &hint));
            }
            if v.is_null() {
                continue; // the default
            }
            let bad = |hint: &str| problem(format!("invalid parameters.{key} {v}"), hint);
            let number_in = |lo: f64, hi: f64, whole: bool| {
                v.as_f64()
                    .filter(|x| (lo..=hi).contains(x) && (!whole || x.fract() == 0.0))
            };
            match key.as_str() {
                "timeout_ms" => {
                    out.timeout_ms = number_in(1.0, 60_000.0, true).ok_or_else(|| {
                        bad("Milliseconds the condition query may run: a whole number from 1 to 60000 (default 5000).")
                    })? as i32
                }
                "sensitivity" => {
                    out.sensitivity = number_in(0.01, 100.0, false).ok_or_else(|| {
                        bad("The band's half-width in robust standard deviations: a number from 0.01 to 100 (default 3).")
                    })?
                }
                "weeks" => {
                    out.weeks = number_in(3.0, 52.0, true).ok_or_else(|| {
                        bad("Earlier weeks the band learns from: a whole number from 3 to 52 (default 6).")
                    })? as i32
                }
                _ => {
                    out.direction = match v.as_str() {
                        Some("both") => Direction::Both,
                        Some("above") => Direction::Above,
                        Some("below") => Direction::Below,
                        _ => {
                            return Err(bad(
                                "Accepted: \"both\" (default), \"above\" (surges only), \"below\" (drops only).",
                            ))
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
pub const NOTIFY_LIMIT: usize = 8000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
}

impl Operator {
    pub const ACCEPTED: &'static str = "'>', '<', '>=', '<=', '='";

    pub fn parse(s: &str) -> Option<Operator> {
        match s.trim() {
            ">" => Some(Operator::Gt),
            "<" => Some(Operator::Lt),
            ">=" => Some(Operator::Ge),
            "<=" => Some(Operator::Le),
            "=" => Some(Operator::Eq),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ge => ">=",
            Operator::Le => "<=",
            Operator::Eq => "=",
        }
    }

    /// `value <op> threshold`, given how the two compare.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Operator::Gt => ordering == Greater,
            Operator::Lt => ordering == Less,
            Operator::Ge => ordering != Less,
            Operator::Le => ordering != Greater,
            Operator::Eq => ordering == Equal,
        }
    }
}

/// The rule's open trigger (not yet resolved), if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenTrigger {
    pub id: i64,
    /// Seconds since it last notified (its firing or last re-notification).
    pub seconds_since_notified: f64,
}

/// What one evaluation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Condition true, nothing open: record a trigger and notify.
    Fire,
    /// Condition true, open trigger whose cooldown has passed: notify again.
    Renotify,
    /// Condition true, within the cooldown: stay quiet.
    StillFiring,
    /// Condition false, a trigger is open: resolve it and notify.
    Resolve,
    /// Condition false, nothing open.
    Ok,
    /// No value (metric without data): change nothing.
    Skip,
}

impl Action {
    pub fn status(self) -> &'static str {
        match self {
            Action::Fire => "fired",
            Action::Renotify => "renotified",
            Action::StillFiring => "firing",
            Action::Resolve => "resolved",
            Action::Ok => "ok",
            Action::Skip => "skipped",
        }
    }
}

/// Decides the action: `condition` is `None` when the metric had no value.
pub fn decide(condition: Option<bool>, open: Option<OpenTrigger>, cooldown_minutes: i32) -> Action {
    match (condition, open) {
        (None, _) => Action::Skip,
        (Some(true), None) => Action::Fire,
        (Some(true), Some(t)) => {
            if t.seconds_since_notified >= f64::from(cooldown_minutes.max(0)) * 60.0 {
                Action::Renotify
            } else {
                Action::StillFiring
            }
        }
        (Some(false), Some(_)) => Action::Resolve,
        (Some(false), None) => Action::Ok,
    }
}

/// The JSON sent on channel `mking_analytics_alerts`. Numbers are sent as JSON numbers written
/// from PostgreSQL's exact numeric text.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload<'a> {
    pub trigger_id: i64,
    pub rule_id: i64,
    pub rule_name: &'a str,
    /// Exact numeric text (e.g. "12.5000") or None.
    pub value: Option<&'a str>,
    pub threshold: Option<&'a str>,
    pub operator: &'a str,
    pub status: &'a str,
    /// ISO 8601 instant.
    pub at: &'a str,
    pub message: &'a str,
}

#[derive(Serialize)]
struct Wire<'a> {
    trigger_id: i64,
    rule_id: i64,
    rule_name: &'a str,
    value: Option<Box<RawValue>>,
    threshold: Option<Box<RawValue>>,
    operator: &'a str,
    status: &'a str,
    at: &'a str,
    message: &'a str,
}

/// PostgreSQL's exact numeric text as a JSON number (kept digit for digit); NaN and infinities,
/// which JSON cannot write as numbers, go as strings.
fn number(text: Option<&str>) -> Option<Box<RawValue>> {
    let t = text?.trim();
    let is_plain_number = serde_json::from_str::<serde_json::Number>(t).is_ok();
    let raw = if is_plain_number {
        t.to_string()
    } else {
        serde_json::Value::String(t.to_string()).to_string()
    };
    RawValue::from_string(raw).ok()
}

/// The live metrics as pushed on `mking_analytics_live`: the same figures as `live_metrics()`,
/// the error rate with its two decimals kept (`4.00`, not `4.0`).
pub fn live_payload(
    time: &str,
    active_users_1h: Option<i64>,
    posts_1h: Option<i64>,
    interactions_5m: Option<i64>,
    error_rate: Option<&str>,
) -> String {
    #[derive(Serialize)]
    struct Live<'a> {
        time: &'a str,
        active_users_1h: Option<i64>,
        posts_1h: Option<i64>,
        interactions_5m: Option<i64>,
        error_rate: Option<Box<RawValue>>,
    }
    serde_json::to_string(&Live {
        time,
        active_users_1h,
        posts_1h,
        interactions_5m,
        error_rate: number(error_rate),
    })
    .unwrap_or_default()
}

/// Longest prefix of `s` of at most `max_bytes` bytes ending on a character boundary.
pub fn cut_at_char_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Compact JSON under [`NOTIFY_LIMIT`] bytes: the message, then the rule name, are cut on a
/// character boundary (with "…") when the whole would not fit. The full texts stay in the table.
pub fn payload_json(p: &Payload) -> String {
    let render = |name: &str, message: &str| {
        serde_json::to_string(&Wire {
            trigger_id: p.trigger_id,
            rule_id: p.rule_id,
            rule_name: name,
            value: number(p.value),
            threshold: number(p.threshold),
            operator: p.operator,
            status: p.status,
            at: p.at,
            message,
        })
        .unwrap_or_else(|_| "{}".to_string())
    };
    let full = render(p.rule_name, p.message);
    if full.len() < NOTIFY_LIMIT {
        return full;
    }
    // JSON escaping makes a character up to 6 bytes ("\u0001"), so search for the longest
    // message prefix that fits rather than estimating.
    let budget = NOTIFY_LIMIT - 1;
    let name = shrink(p.rule_name, 1000);
    let fits = |n: usize| {
        let out = render(&name, &ellipsis(p.message, n));
        (out.len() <= budget).then_some(out)
    };
    let (mut lo, mut hi) = (0usize, p.message.len());
    let mut best = fits(0);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match fits(mid) {
            Some(out) => {
                best = Some(out);
                lo = mid;
            }
            None => hi = mid - 1,
        }
    }
    if let Some(out) = best {
        return out;
    }
    render(&shrink(p.rule_name, 200), "")
}

fn ellipsis(s: &str, max_bytes: usize) -> String {
    if s.len() <= max_bytes {
        return s.to_string();
    }
    let cut = cut_at_char_boundary(s, max_bytes.saturating_sub('…'.len_utf8()));
    format!("{cut}…")
}

fn shrink(s: &str, max_bytes: usize) -> String {
    ellipsis(s, max_bytes)
}

/// The expected band of a metric, learned from its values at the same time of week in earlier
/// weeks (so a normal weekend dip is compared with earlier weekends).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub median: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Median and a robust spread (MAD scaled to a standard deviation). The half-width never falls
/// below `max(sqrt(median), 1)` (counting noise) nor 10% of the median, so a flat history does not
/// make every small wobble an anomaly. `None` with fewer than 3 values: not enough history.
pub fn anomaly_band(history: &[f64], sensitivity: f64) -> Option<Band> {
    let mut v: Vec<f64> = history.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 3 || !sensitivity.is_finite() || sensitivity <= 0.0 {
        return None;
    }
    let median = median_of(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
    let mad = median_of(&mut dev) * 1.4826;
    let floor = median.abs().sqrt().max(1.0).max(0.1 * median.abs());
    let half = sensitivity * mad.max(floor);
    Some(Band {
        median,
        lower: median - half,
        upper: median + half,
    })
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_compare_as_written() {
        use std::cmp::Ordering::*;
        let cases = [
            (">", [false, false, true]),
            ("<", [true, false, false]),
            (">=", [false, true, true]),
            ("<=", [true, true, false]),
            ("=", [false, true, false]),
        ];
        for (op, expected) in cases {
            let o = Operator::parse(op).unwrap();
            assert_eq!(o.as_str(), op);
            assert_eq!(
                [o.holds(Less), o.holds(Equal), o.holds(Greater)],
                expected,
                "{op}"
            );
        }
        assert_eq!(Operator::parse("=="), None);
        assert_eq!(Operator::parse("!="), None);
    }

    #[test]
    fn fire_cooldown_resolve() {
        let open = |s| {
            Some(OpenTrigger {
                id: 1,
                seconds_since_notified: s,
            })
        };
        assert_eq!(decide(Some(true), None, 5), Action::Fire);
        assert_eq!(decide(Some(true), open(299.0), 5), Action::StillFiring);
        assert_eq!(decide(Some(true), open(300.0), 5), Action::Renotify);
        assert_eq!(decide(Some(false), open(10.0), 5), Action::Resolve);
        assert_eq!(decide(Some(false), None, 5), Action::Ok);
        assert_eq!(decide(None, open(1e9), 5), Action::Skip);
        // cooldown 0: every evaluation re-notifies while firing
        assert_eq!(decide(Some(true), open(0.0), 0), Action::Renotify);
    }

    #[test]
    fn payload_is_compact_json_with_every_key() {
        let p = Payload {
            trigger_id: 7,
            rule_id: 3,
            rule_name: "Low activity",
            value: Some("4.0000"),
            threshold: Some("10.0000"),
            operator: "<",
            status: "firing",
            at: "2026-12-03T10:00:00+00:00",
            message: "active_users_1h = 4 < 10",
        };
        assert_eq!(
            payload_json(&p),
            r#"{"trigger_id":7,"rule_id":3,"rule_name":"Low activity","value":4.0000,"threshold":10.0000,"operator":"<","status":"firing","at":"2026-12-03T10:00:00+00:00","message":"active_users_1h = 4 < 10"}"#
        );
        let none = Payload {
            value: None,
            ..p.clone()
        };
        assert!(payload_json(&none).contains(r#""value":null"#));
    }

    #[test]
    fn rule_parameters_defaults_ranges_and_keys() {
        let parse =
            |t: &str, p: &str| RuleParams::parse(t, Some(&serde_json::from_str(p).unwrap()));
        let message = |t: &str, p: &str| parse(t, p).unwrap_err().message;
        assert_eq!(parse("anomaly", "{}"), Ok(RuleParams::default()));
        assert_eq!(
            parse(
                "anomaly",
                r#"{"weeks": 52, "direction": "below", "sensitivity": null}"#
            ),
            Ok(RuleParams {
                weeks: 52,
                direction: Direction::Below,
                ..RuleParams::default()
            })
        );
        assert_eq!(
            parse("query", r#"{"timeout_ms": 200}"#).unwrap().timeout_ms,
            200
        );
        assert_eq!(
            message("anomaly", r#"{"sensitivty": 2}"#),
            "unknown parameters key 'sensitivty'"
        );
        assert_eq!(
            parse("metric", r#"{"timeout_ms": 100}"#).unwrap_err(),
            ParamProblem {
                message: "unknown parameters key 'timeout_ms'".into(),
                hint: "metric rules take no parameters.".into()
            }
        );
        // Each refused value is named as written.
        for (rule_type, parameters, refused) in [
            ("anomaly", r#"{"sensitivity": "3"}"#, r#"sensitivity "3""#),
            ("anomaly", r#"{"sensitivity": 0}"#, "sensitivity 0"),
            ("anomaly", r#"{"sensitivity": 1000}"#, "sensitivity 1000"),
            ("anomaly", r#"{"weeks": 2}"#, "weeks 2"),
            ("anomaly", r#"{"weeks": 3.5}"#, "weeks 3.5"),
            (
                "anomaly",
                r#"{"direction": "sideways"}"#,
                r#"direction "sideways""#,
            ),
            ("query", r#"{"timeout_ms": 100000}"#, "timeout_ms 100000"),
            ("query", r#"{"timeout_ms": 0}"#, "timeout_ms 0"),
        ] {
            assert_eq!(
                message(rule_type, parameters),
                format!("invalid parameters.{refused}")
            );
        }
        assert_eq!(
            parse("anomaly", r#"{"sensitivity": 0.01}"#)
                .unwrap()
                .sensitivity,
            0.01
        );
        assert_eq!(
            message("query", "[]"),
            "parameters must be a JSON object, not []"
        );
        assert_eq!(
            RuleParams::parse("query", None).unwrap_err().message,
            "parameters must be a JSON object, not NULL"
        );
    }

    #[test]
    fn live_payload_keeps_the_error_rate_digits() {
        assert_eq!(
            live_payload(
                "2026-12-03T10:00:00.000000Z",
                Some(5),
                Some(0),
                None,
                Some("4.00")
            ),
            r#"{"time":"2026-12-03T10:00:00.000000Z","active_users_1h":5,"posts_1h":0,"interactions_5m":null,"error_rate":4.00}"#
        );
        assert!(live_payload("t", None, None, None, None).ends_with(r#""error_rate":null}"#));
    }

    #[test]
    fn long_multibyte_texts_are_cut_on_char_boundaries_under_the_limit() {
        let name = "警报".repeat(3000); // 18,000 bytes
        let message = "é€😀\u{1}\"".repeat(3000); // with JSON escapes
        let p = Payload {
            trigger_id: 1,
            rule_id: 2,
            rule_name: &name,
            value: Some("1"),
            threshold: Some("0"),
            operator: ">",
            status: "firing",
            at: "2026-12-03T10:00:00Z",
            message: &message,
        };
        let out = payload_json(&p);
        assert!(out.len() < NOTIFY_LIMIT, "{} bytes", out.len());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let got_msg = v["message"].as_str().unwrap();
        let got_name = v["rule_name"].as_str().unwrap();
        assert!(
            got_msg.ends_with('…') && got_msg.len() > 4000,
            "message kept: {}",
            got_msg.len()
        );
        assert!(message.starts_with(got_msg.trim_end_matches('…')));
        assert!(name.starts_with(got_name.trim_end_matches('…')));
        assert_eq!(v["trigger_id"], 1);
        assert_eq!(cut_at_char_boundary("a€", 2), "a");
        assert_eq!(cut_at_char_boundary("a€", 4), "a€");
    }

    #[test]
    fn band_is_robust_and_never_zero_width() {
        // Flat history: a small wobble stays inside, a collapse does not.
        let b = anomaly_band(&[100.0, 100.0, 100.0, 100.0], 3.0).unwrap();
        assert_eq!(b.median, 100.0);
        assert_eq!((b.lower, b.upper), (70.0, 130.0)); // floor 10% of 100 = 10, times 3
        let b = anomaly_band(&[0.0, 0.0, 0.0], 3.0).unwrap();
        assert_eq!((b.lower, b.upper), (-3.0, 3.0));
        // One outlier week does not widen the band much (median/MAD).
        let b = anomaly_band(&[50.0, 52.0, 48.0, 500.0], 3.0).unwrap();
        assert_eq!(b.median, 51.0);
        assert!(b.upper < 80.0, "{b:?}");
        assert_eq!(anomaly_band(&[1.0, 2.0], 3.0), None);
        assert_eq!(anomaly_band(&[1.0, f64::NAN, 2.0], 3.0), None);
        assert_eq!(anomaly_band(&[1.0, 2.0, 3.0], 0.0), None);
    }
}
