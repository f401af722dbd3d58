//! What each channel receives: the webhook JSON, the Slack line, the alert and report emails.
//! Pure functions of rows already read from the tables, so they are tested without a network.

use crate::payload::AlertStatus;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use serde::Serialize;
use serde_json::value::RawValue;

/// One alert notification as read from `alert_triggers` (numbers as PostgreSQL's exact text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub trigger_id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub value: Option<String>,
    pub threshold: Option<String>,
    pub operator: String,
    pub status: AlertStatus,
    /// ISO 8601: `created_at` for a firing, `resolved_at` for a resolution.
    pub at: String,
    pub message: Option<String>,
}

/// One generated report as read from `reports`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    pub kind: String,
    pub period_start: String,
    pub period_end: String,
    pub tz: String,
    pub html: Option<String>,
    pub pdf: Option<Vec<u8>>,
}

impl Report {
    pub fn pdf_file_name(&self) -> String {
        format!("{}-report-{}.pdf", self.kind, self.period_start)
    }
}

/// A numeric column: a JSON number with exactly PostgreSQL's digits, or a string for the
/// values JSON has no number for (NaN).
#[derive(Serialize)]
#[serde(untagged)]
enum JsonNumber {
    Exact(Box<RawValue>),
    Text(String),
}

fn json_number(text: &Option<String>) -> Option<JsonNumber> {
    text.as_ref().map(|t| {
        if serde_json::from_str::<serde_json::Number>(t).is_ok() {
            RawValue::from_string(t.clone())
                .map(JsonNumber::Exact)
                .unwrap_or_else(|_| JsonNumber::Text(t.clone()))
        } else {
            JsonNumber::Text(t.clone())
        }
    })
}

#[derive(Serialize)]
struct WebhookJson<'a> {
    trigger_id: i64,
    rule_id: i64,
    rule_name: &'a str,
    value: Option<JsonNumber>,
    threshold: Option<JsonNumber>,
    operator: &'a str,
    status: &'static str,
    at: &'a str,
    message: Option<&'a str>,
}

/// The webhook body: the NOTIFY payload's keys, with the full text from the table.
pub fn webhook_body(a: &Alert) -> String {
    let body = WebhookJson {
        trigger_id: a.trigger_id,
        rule_id: a.rule_id,
        rule_name: &a.rule_name,
        value: json_number(&a.value),
        threshold: json_number(&a.threshold),
        operator: &a.operator,
        status: a.status.as_str(),
        at: &a.at,
        message: a.message.as_deref(),
    };
    // Serializing strings, integers and validated raw numbers cannot fail.
    serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_string())
}

/// `100.5000` -> `100.5`, `100.0000` -> `100` (numeric(15,4) pads to 4 places).
pub fn plain_number(text: &Option<String>) -> String {
    match text {
        None => "unknown".to_string(),
        Some(t) if t.contains('.') && !t.contains(['e', 'E']) => {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Some(t) => t.clone(),
    }
}

/// At most `max_chars` characters, with `…` when cut.
pub fn excerpt(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Line breaks and tabs become spaces, runs of spaces collapse.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn comparison(a: &Alert) -> String {
    format!(
        "{} {} threshold {}",
        plain_number(&a.value),
        a.operator,
        plain_number(&a.threshold)
    )
}

/// Slack mrkdwn needs `&`, `<`, `>` escaped (they start links and mentions).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack incoming-webhook body: `{"text": "<one line>"}`.
pub fn slack_body(a: &Alert) -> String {
    let rule = excerpt(&one_line(&a.rule_name), 200);
    let message = a
        .message
        .as_deref()
        .map(|m| format!(" {}", excerpt(&one_line(m), 1000)))
        .unwrap_or_default();
    let text = match a.status {
        AlertStatus::Firing => format!(
            ":rotating_light: *FIRING* {rule}: value {}.{message} (trigger {}, {})",
            comparison(a),
            a.trigger_id,
            a.at
        ),
        AlertStatus::Resolved => format!(
            ":white_check_mark: *RESOLVED* {rule}: value was {}.{message} (trigger {}, resolved {})",
            comparison(a),
            a.trigger_id,
            a.at
        ),
    };
    serde_json::json!({ "text": slack_escape(&text) }).to_string()
}

pub const SUBJECT_PREFIX: &str = "[mking_analytics]";

pub fn alert_subject(a: &Alert) -> String {
    let state = match a.status {
        AlertStatus::Firing => "FIRING",
        AlertStatus::Resolved => "RESOLVED",
    };
    format!(
        "{SUBJECT_PREFIX} {state}: {}",
        excerpt(&one_line(&a.rule_name), 150)
    )
}

pub fn alert_text(a: &Alert) -> String {
    let (state, when, value_label) = match a.status {
        AlertStatus::Firing => ("FIRING", "Fired at", "Value"),
        AlertStatus::Resolved => ("RESOLVED", "Resolved at", "Value that fired"),
    };
    let mut s = format!("Alert {state}: {}\n\n", one_line(&a.rule_name));
    s.push_str(&format!("{value_label}: {}\n", comparison(a)));
    s.push_str(&format!("{when}: {}\n", a.at));
    s.push_str(&format!("Rule id: {}\n", a.rule_id));
    s.push_str(&format!("Trigger id: {}\n", a.trigger_id));
    if let Some(m) = &a.message {
        s.push_str(&format!("\nMessage:\n{m}\n"));
    }
    s.push_str("\n-- \nSent by mking-listener for the mking_analytics PostgreSQL extension.\n");
    s
}

pub fn alert_email(from: &Mailbox, to: &str, a: &Alert) -> Result<Message, String> {
    builder(from, to, &alert_subject(a))?
        .singlepart(SinglePart::plain(alert_text(a)))
        .map_err(|e| format!("building the email: {e}"))
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub fn report_subject(r: &Report) -> String {
    format!(
        "{SUBJECT_PREFIX} {} report, period starting {} ({})",
        title_case(&r.kind),
        r.period_start,
        r.tz
    )
}

/// The text alternative of a report email (the HTML part is the report itself).
pub fn report_text(r: &Report) -> String {
    let mut s = format!(
        "The {} mking_analytics report for the period from {} to {} ({}).\n\n",
        r.kind, r.period_start, r.period_end, r.tz
    );
    match (&r.html, &r.pdf) {
        (Some(_), Some(_)) => s.push_str(&format!(
            "Open the HTML part of this message to read it; it is also attached as PDF ({}).\n",
            r.pdf_file_name()
        )),
        (Some(_), None) => s.push_str("Open the HTML part of this message to read it.\n"),
        (None, _) => s.push_str(&format!("It is attached as PDF ({}).\n", r.pdf_file_name())),
    }
    s
}

pub fn report_email(from: &Mailbox, to: &str, r: &Report) -> Result<Message, String> {
    if r.html.is_none() && r.pdf.is_none() {
        return Err(format!("report {} has neither html nor pdf", r.id));
    }
    let text = report_text(r);
    let body = match &r.html {
        Some(html) => MultiPart::alternative_plain_html(text, html.clone()),
        None => MultiPart::mixed().singlepart(SinglePart::plain(text)),
    };
    let body = match &r.pdf {
        Some(pdf) => {
            let pdf_type =
                ContentType::parse("application/pdf").map_err(|e| format!("content type: {e}"))?;
            // Always base64: a PDF is binary even when its bytes happen to be ASCII, and a 7bit
            // part would have its line ends rewritten to CRLF on the way, breaking the file.
            let pdf_body = Body::new_with_encoding(pdf.clone(), ContentTransferEncoding::Base64)
                .map_err(|_| "encoding the PDF".to_string())?;
            MultiPart::mixed()
                .multipart(body)
                .singlepart(Attachment::new(r.pdf_file_name()).body(pdf_body, pdf_type))
        }
        None => body,
    };
    builder(from, to, &report_subject(r))?
        .multipart(body)
        .map_err(|e| format!("building the email: {e}"))
}

fn builder(
    from: &Mailbox,
    to: &str,
    subject: &str,
) -> Result<lettre::message::MessageBuilder, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("recipient '{to}' is not an email address ({e})"))?;
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: AlertStatus) -> Alert {
        Alert {
            trigger_id: 42,
            rule_id: 3,
            rule_name: "High error rate".into(),
            value: Some("7.5000".into()),
            threshold: Some("5.0000".into()),
            operator: ">".into(),
            status,
            at: "2026-12-03T19:20:00+00:00".into(),
            message: Some("error rate 7.5% > 5%\nsee <dashboard> & logs".into()),
        }
    }

    #[test]
    fn webhook_json_keeps_exact_numbers_and_full_text() {
        let a = alert(AlertStatus::Firing);
        assert_eq!(
            webhook_body(&a),
            r#"{"trigger_id":42,"rule_id":3,"rule_name":"High error rate","value":7.5000,"threshold":5.0000,"operator":">","status":"firing","at":"2026-12-03T19:20:00+00:00","message":"error rate 7.5% > 5%\nsee <dashboard> & logs"}"#
        );
        let mut b = alert(AlertStatus::Resolved);
        b.value = Some("NaN".into());
        b.threshold = None;
        b.message = None;
        let v: serde_json::Value = serde_json::from_str(&webhook_body(&b)).unwrap();
        assert_eq!(v["value"], "NaN");
        assert_eq!(v["threshold"], serde_json::Value::Null);
        assert_eq!(v["message"], serde_json::Value::Null);
        assert_eq!(v["status"], "resolved");
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(plain_number(&Some("100.0000".into())), "100");
        assert_eq!(plain_number(&Some("0.0500".into())), "0.05");
        assert_eq!(plain_number(&Some("-3.1000".into())), "-3.1");
        assert_eq!(plain_number(&Some("12".into())), "12");
        assert_eq!(plain_number(&Some("NaN".into())), "NaN");
        assert_eq!(plain_number(&None), "unknown");
    }

    #[test]
    fn slack_lines() {
        let v: serde_json::Value =
            serde_json::from_str(&slack_body(&alert(AlertStatus::Firing))).unwrap();
        assert_eq!(
            v["text"],
            ":rotating_light: *FIRING* High error rate: value 7.5 &gt; threshold 5. error rate 7.5% &gt; 5% see &lt;dashboard&gt; &amp; logs (trigger 42, 2026-12-03T19:20:00+00:00)"
        );
        let v: serde_json::Value =
            serde_json::from_str(&slack_body(&alert(AlertStatus::Resolved))).unwrap();
        assert_eq!(
            v["text"],
            ":white_check_mark: *RESOLVED* High error rate: value was 7.5 &gt; threshold 5. error rate 7.5% &gt; 5% see &lt;dashboard&gt; &amp; logs (trigger 42, resolved 2026-12-03T19:20:00+00:00)"
        );
        assert_eq!(v.as_object().unwrap().len(), 1, "only the text key");
    }

    #[test]
    fn long_text_is_cut_for_slack_and_subjects_only() {
        let mut a = alert(AlertStatus::Firing);
        a.rule_name = "r".repeat(300);
        a.message = Some("m".repeat(5000));
        let v: serde_json::Value = serde_json::from_str(&slack_body(&a)).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(text.contains(&format!("{}…:", "r".repeat(200))));
        assert!(text.contains(&format!(" {}… (trigger 42", "m".repeat(1000))));
        assert_eq!(
            alert_subject(&a),
            format!("[mking_analytics] FIRING: {}…", "r".repeat(150))
        );
        assert!(alert_text(&a).contains(&"m".repeat(5000)));
        let w: serde_json::Value = serde_json::from_str(&webhook_body(&a)).unwrap();
        assert_eq!(w["message"].as_str().unwrap().len(), 5000);
    }

    #[test]
    fn alert_email_text() {
        let a = alert(AlertStatus::Resolved);
        assert_eq!(
            alert_subject(&a),
            "[mking_analytics] RESOLVED: High error rate"
        );
        assert_eq!(
            alert_text(&a),
            "Alert RESOLVED: High error rate\n\nValue that fired: 7.5 > threshold 5\nResolved at: 2026-12-03T19:20:00+00:00\nRule id: 3\nTrigger id: 42\n\nMessage:\nerror rate 7.5% > 5%\nsee <dashboard> & logs\n\n-- \nSent by mking-listener for the mking_analytics PostgreSQL extension.\n"
        );
        let from: Mailbox = "Alerts <alerts@example.com>".parse().unwrap();
        let m = alert_email(&from, "ops@example.com", &a).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(
            raw.contains("From: Alerts <alerts@example.com>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("To: ops@example.com\r\n"), "{raw}");
        assert!(
            raw.contains("Subject: [mking_analytics] RESOLVED: High error rate\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        // a subject cannot be split into extra headers by a rule name with line breaks
        let mut evil = alert(AlertStatus::Firing);
        evil.rule_name = "x\r\nBcc: victim@example.com".into();
        let raw = String::from_utf8(
            alert_email(&from, "ops@example.com", &evil)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(alert_email(&from, "not an address", &a)
            .unwrap_err()
            .starts_with("recipient 'not an address' is not an email address"));
    }

    fn report() -> Report {
        Report {
            id: 9,
            kind: "daily".into(),
            period_start: "2026-11-30".into(),
            period_end: "2026-12-01".into(),
            tz: "Europe/Berlin".into(),
            html: Some("<html><body><h1>Daily report</h1></body></html>".into()),
            pdf: Some(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n".to_vec()),
        }
    }

    /// The message with folded header lines and quoted-printable soft line breaks joined.
    fn unfold(raw: &[u8]) -> String {
        String::from_utf8_lossy(raw)
            .replace("=\r\n", "")
            .replace("\r\n ", " ")
    }

    #[test]
    fn report_email_has_html_text_and_pdf() {
        let r = report();
        assert_eq!(r.pdf_file_name(), "daily-report-2026-11-30.pdf");
        assert_eq!(
            report_subject(&r),
            "[mking_analytics] Daily report, period starting 2026-11-30 (Europe/Berlin)"
        );
        let from: Mailbox = "reports@example.com".parse().unwrap();
        let raw = unfold(
            &report_email(&from, "boss@example.com", &r)
                .unwrap()
                .formatted(),
        );
        assert!(raw.contains("Subject: [mking_analytics] Daily report, period starting 2026-11-30 (Europe/Berlin)\r\n"), "{raw}");
        assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.contains("<h1>Daily report</h1>"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("attached as PDF (daily-report-2026-11-30.pdf)"),
            "{raw}"
        );
        assert!(raw.contains("Content-Type: application/pdf"), "{raw}");
        assert!(
            raw.contains(
                "Content-Disposition: attachment; filename=\"daily-report-2026-11-30.pdf\""
            ),
            "{raw}"
        );
        assert!(raw.contains("Content-Transfer-Encoding: base64"), "{raw}");
        // the PDF's bytes, base64-encoded by hand: "%PDF-1.4\n" starts with JVBERi0xLjQK
        assert!(raw.contains("JVBERi0xLjQK"), "{raw}");
        // an all-ASCII PDF is still sent as base64 (exact bytes, LF line ends kept)
        let mut ascii = report();
        ascii.pdf = Some(b"%PDF-1.4\n%%EOF\n".to_vec());
        let raw = unfold(
            &report_email(&from, "boss@example.com", &ascii)
                .unwrap()
                .formatted(),
        );
        let attachment = raw
            .split("filename=\"daily-report-2026-11-30.pdf\"")
            .nth(1)
            .unwrap();
        assert!(
            attachment
                .contains("Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJSVFT0YK\r\n"),
            "{raw}"
        );
    }

    #[test]
    fn report_email_without_one_part() {
        let from: Mailbox = "reports@example.com".parse().unwrap();
        let mut r = report();
        r.pdf = None;
        let raw = String::from_utf8(
            report_email(&from, "boss@example.com", &r)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            raw.contains("text/html") && !raw.contains("application/pdf"),
            "{raw}"
        );
        let mut r = report();
        r.html = None;
        let raw = String::from_utf8(
            report_email(&from, "boss@example.com", &r)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            !raw.contains("text/html") && raw.contains("application/pdf"),
            "{raw}"
        );
        r.pdf = None;
        assert_eq!(
            report_email(&from, "boss@example.com", &r).unwrap_err(),
            "report 9 has neither html nor pdf"
        );
    }
}
