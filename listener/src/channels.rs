//! `alert_rules.alert_channels`: where a rule's notifications go (format in docs/listener.md).
//!
//! `{"webhook": "http://..." | [urls], "slack": "https://hooks.slack.com/..." | [urls],
//!   "email": "a@b" | ["a@b", ...]}`; `null` or an empty list is no target; unknown keys are
//! ignored with a warning. A wrong value of a known key is an error: the trigger is marked
//! failed with it, rather than silently notifying fewer people than the rule names.

use lettre::Address;
use serde_json::Value;
use ureq::http::Uri;

/// One destination of one notification; each is delivered (and retried) on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Webhook(String),
    Slack(String),
    Email(String),
}

impl Target {
    /// How the target appears in logs and in `last_delivery_error`: no secrets. Slack incoming
    /// webhook paths are credentials, and webhook URLs may carry tokens in the query or userinfo,
    /// so only scheme, host, port (and for webhooks the path) are shown.
    pub fn label(&self) -> String {
        match self {
            Target::Webhook(url) => format!("webhook {}", redact_url(url, true)),
            Target::Slack(url) => format!("slack {}", redact_url(url, false)),
            Target::Email(addr) => format!("email {addr}"),
        }
    }
}

fn redact_url(url: &str, keep_path: bool) -> String {
    match url.parse::<Uri>() {
        Ok(u) => {
            let mut s = format!(
                "{}://{}",
                u.scheme_str().unwrap_or("?"),
                u.host().unwrap_or("?")
            );
            if let Some(p) = u.port_u16() {
                s.push_str(&format!(":{p}"));
            }
            if keep_path {
                s.push_str(u.path());
            } else if u.path().len() > 1 {
                s.push_str("/…");
            }
            s
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// The result of reading a rule's channels: its targets and warnings about ignored keys.
#[derive(Debug, PartialEq, Eq)]
pub struct Channels {
    pub targets: Vec<Target>,
    pub warnings: Vec<String>,
}

pub const KNOWN_KEYS: [&str; 3] = ["webhook", "slack", "email"];

pub fn parse(channels_json: &str) -> Result<Channels, String> {
    let v: Value = serde_json::from_str(channels_json)
        .map_err(|e| format!("alert_channels is not JSON: {e}"))?;
    let obj = match &v {
        Value::Object(o) => o,
        Value::Null => {
            return Ok(Channels {
                targets: vec![],
                warnings: vec![],
            })
        }
        other => {
            return Err(format!(
                "alert_channels must be a JSON object like {{\"webhook\": \"https://...\", \"slack\": \"https://hooks.slack.com/...\", \"email\": [\"a@example.com\"]}}, got {}",
                kind_of(other)
            ))
        }
    };
    let mut targets = Vec::new();
    let mut warnings = Vec::new();
    for (key, value) in obj {
        if !KNOWN_KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "alert_channels: unknown key '{key}' ignored (known: webhook, slack, email)"
            ));
            continue;
        }
        for item in string_list(key, value)? {
            let target = match key.as_str() {
                "webhook" => Target::Webhook(http_url(key, &item)?),
                "slack" => Target::Slack(http_url(key, &item)?),
                _ => Target::Email(email(&item)?),
            };
            // One email per mailbox: addresses compare case-insensitively, as report
            // subscribers do (the first spelling is kept).
            let same = |t: &Target| match (t, &target) {
                (Target::Email(a), Target::Email(b)) => a.eq_ignore_ascii_case(b),
                _ => *t == target,
            };
            if !targets.iter().any(same) {
                targets.push(target);
            }
        }
    }
    // Same order whatever the key order of the jsonb: webhook, slack, email.
    targets.sort_by_key(|t| match t {
        Target::Webhook(_) => 0,
        Target::Slack(_) => 1,
        Target::Email(_) => 2,
    });
    Ok(Channels { targets, warnings })
}

fn string_list(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let bad = |what: &str| {
        format!("alert_channels: '{key}' must be a string or an array of strings, got {what}")
    };
    match value {
        Value::Null => Ok(vec![]),
        Value::String(s) => Ok(vec![s.trim().to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(bad(&format!("an array containing {}", kind_of(other)))),
            })
            .collect(),
        other => Err(bad(kind_of(other))),
    }
}

fn http_url(key: &str, s: &str) -> Result<String, String> {
    let ok = s
        .parse::<Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http") | Some("https")) && u.host().is_some());
    match ok {
        Some(_) => Ok(s.to_string()),
        None => Err(format!(
            "alert_channels: '{key}' entry is not an http:// or https:// URL: {}",
            crate::format::excerpt(s, 60)
        )),
    }
}

fn email(s: &str) -> Result<String, String> {
    s.parse::<Address>()
        .map(|a| a.to_string())
        .map_err(|e| format!("alert_channels: 'email' entry '{s}' is not an email address ({e})"))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_lists() {
        let c = parse(
            r#"{"email": ["ops@example.com", "oncall@example.com"], "slack": "https://hooks.slack.com/services/T0/B0/secret", "webhook": "http://127.0.0.1:9000/hook"}"#,
        )
        .unwrap();
        assert_eq!(
            c.targets,
            vec![
                Target::Webhook("http://127.0.0.1:9000/hook".into()),
                Target::Slack("https://hooks.slack.com/services/T0/B0/secret".into()),
                Target::Email("ops@example.com".into()),
                Target::Email("oncall@example.com".into()),
            ]
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn empty_null_and_duplicates() {
        assert_eq!(parse("{}").unwrap().targets, vec![]);
        assert_eq!(parse("null").unwrap().targets, vec![]);
        assert_eq!(
            parse(r#"{"webhook": [], "email": null}"#).unwrap().targets,
            vec![]
        );
        assert_eq!(
            parse(r#"{"email": ["a@b.example", " a@b.example ", "A@B.Example"]}"#)
                .unwrap()
                .targets,
            vec![Target::Email("a@b.example".into())]
        );
    }

    #[test]
    fn unknown_keys_warn() {
        let c = parse(r#"{"sms": "+100", "email": "a@b.example"}"#).unwrap();
        assert_eq!(c.targets, vec![Target::Email("a@b.example".into())]);
        assert_eq!(
            c.warnings,
            vec!["alert_channels: unknown key 'sms' ignored (known: webhook, slack, email)"]
        );
    }

    #[test]
    fn wrong_values_are_errors() {
        assert_eq!(
            parse(r#"{"webhook": 5}"#).unwrap_err(),
            "alert_channels: 'webhook' must be a string or an array of strings, got a number"
        );
        assert_eq!(
            parse(r#"{"email": ["a@b.example", 1]}"#).unwrap_err(),
            "alert_channels: 'email' must be a string or an array of strings, got an array containing a number"
        );
        assert_eq!(
            parse(r#"{"slack": "ftp://x/y"}"#).unwrap_err(),
            "alert_channels: 'slack' entry is not an http:// or https:// URL: ftp://x/y"
        );
        assert_eq!(
            parse(r#"{"webhook": "not a url"}"#).unwrap_err(),
            "alert_channels: 'webhook' entry is not an http:// or https:// URL: not a url"
        );
        assert!(parse(r#"{"email": "nobody"}"#)
            .unwrap_err()
            .starts_with("alert_channels: 'email' entry 'nobody' is not an email address"));
        assert!(parse(r#"["a@b.example"]"#)
            .unwrap_err()
            .starts_with("alert_channels must be a JSON object"));
    }

    #[test]
    fn labels_hide_secrets() {
        assert_eq!(
            Target::Slack("https://hooks.slack.com/services/T0/B0/secret".into()).label(),
            "slack https://hooks.slack.com/…"
        );
        assert_eq!(
            Target::Webhook("http://user:pw@127.0.0.1:9000/hook?token=abc".into()).label(),
            "webhook http://127.0.0.1:9000/hook"
        );
        assert_eq!(
            Target::Email("ops@example.com".into()).label(),
            "email ops@example.com"
        );
    }
}
