//! NOTIFY payloads of the two channels. A payload is only a hint of which row to look at: the
//! evaluator may cut long text to stay under PostgreSQL's 8000-byte limit, so everything that is
//! sent comes from the tables; here only the row id and the status are read.

use serde_json::Value;

pub const ALERTS_CHANNEL: &str = "mking_analytics_alerts";
pub const REPORTS_CHANNEL: &str = "mking_analytics_reports";

/// Which notification of an alert trigger: the firing, or the later resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Alert {
        trigger_id: i64,
        status: AlertStatus,
    },
    Report {
        report_id: i64,
        completed: bool,
    },
}

/// Parse the payload of a notification on `channel`.
pub fn parse(channel: &str, payload: &str) -> Result<Notice, String> {
    let v: Value = serde_json::from_str(payload).map_err(|e| {
        format!(
            "payload on {channel} is not JSON ({e}): {}",
            crate::format::excerpt(payload, 80)
        )
    })?;
    match channel {
        ALERTS_CHANNEL => {
            let trigger_id = id_field(&v, "trigger_id")?;
            let status = match v.get("status").and_then(Value::as_str) {
                Some("firing") => AlertStatus::Firing,
                Some("resolved") => AlertStatus::Resolved,
                other => {
                    return Err(format!(
                        "alert payload: status must be 'firing' or 'resolved', got {}",
                        other.map_or("nothing".to_string(), |s| format!("'{s}'"))
                    ))
                }
            };
            Ok(Notice::Alert { trigger_id, status })
        }
        REPORTS_CHANNEL => {
            let report_id = id_field(&v, "report_id")?;
            let completed = match v.get("status").and_then(Value::as_str) {
                Some("completed") => true,
                Some("failed") => false,
                other => {
                    return Err(format!(
                        "report payload: status must be 'completed' or 'failed', got {}",
                        other.map_or("nothing".to_string(), |s| format!("'{s}'"))
                    ))
                }
            };
            Ok(Notice::Report {
                report_id,
                completed,
            })
        }
        other => Err(format!("notification on unexpected channel {other}")),
    }
}

/// A positive bigint id, given as a JSON number or a string of digits.
fn id_field(v: &Value, key: &str) -> Result<i64, String> {
    let id = match v.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match id {
        Some(id) if id > 0 => Ok(id),
        _ => Err(format!(
            "payload: {key} must be a positive integer, got {}",
            v.get(key).map_or("nothing".to_string(), Value::to_string)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_payloads() {
        let p = r#"{"trigger_id":42,"rule_id":3,"rule_name":"High error rate","value":7.5,"threshold":5,"operator":">","status":"firing","at":"2026-12-03T19:20:00+00:00","message":"error rate 7.5% > 5%"}"#;
        assert_eq!(
            parse(ALERTS_CHANNEL, p),
            Ok(Notice::Alert {
                trigger_id: 42,
                status: AlertStatus::Firing
            })
        );
        // a cut payload with the id as text still names the row
        let p = r#"{"trigger_id":"7","status":"resolved","message":"abc"}"#;
        assert_eq!(
            parse(ALERTS_CHANNEL, p),
            Ok(Notice::Alert {
                trigger_id: 7,
                status: AlertStatus::Resolved
            })
        );
    }

    #[test]
    fn report_payloads() {
        let p =
            r#"{"report_id":9,"kind":"daily","period_start":"2026-11-30","status":"completed"}"#;
        assert_eq!(
            parse(REPORTS_CHANNEL, p),
            Ok(Notice::Report {
                report_id: 9,
                completed: true
            })
        );
        let p = r#"{"report_id":9,"kind":"daily","status":"failed"}"#;
        assert_eq!(
            parse(REPORTS_CHANNEL, p),
            Ok(Notice::Report {
                report_id: 9,
                completed: false
            })
        );
    }

    #[test]
    fn bad_payloads_are_explained() {
        let e = parse(ALERTS_CHANNEL, "not json").unwrap_err();
        assert!(e.contains("is not JSON") && e.contains("not json"), "{e}");
        let e = parse(ALERTS_CHANNEL, r#"{"status":"firing"}"#).unwrap_err();
        assert_eq!(
            e,
            "payload: trigger_id must be a positive integer, got nothing"
        );
        let e = parse(ALERTS_CHANNEL, r#"{"trigger_id":-1,"status":"firing"}"#).unwrap_err();
        assert_eq!(e, "payload: trigger_id must be a positive integer, got -1");
        let e = parse(ALERTS_CHANNEL, r#"{"trigger_id":1.5,"status":"firing"}"#).unwrap_err();
        assert_eq!(e, "payload: trigger_id must be a positive integer, got 1.5");
        let e = parse(ALERTS_CHANNEL, r#"{"trigger_id":1,"status":"ok"}"#).unwrap_err();
        assert_eq!(
            e,
            "alert payload: status must be 'firing' or 'resolved', got 'ok'"
        );
        let e = parse(REPORTS_CHANNEL, r#"{"report_id":1}"#).unwrap_err();
        assert_eq!(
            e,
            "report payload: status must be 'completed' or 'failed', got nothing"
        );
        let e = parse("other", r#"{}"#).unwrap_err();
        assert_eq!(e, "notification on unexpected channel other");
    }
}
