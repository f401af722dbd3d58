//! The senders: one HTTP POST per webhook or Slack target, one SMTP message per email target.

use crate::channels::Target;
use crate::config::{Settings, Smtp, SmtpTls};
use crate::format::{self, Alert, Report};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};
use std::io::Read;
use ureq::Agent;

pub struct Sender {
    http: Agent,
    smtp: Option<(SmtpTransport, Smtp)>,
}

impl Sender {
    pub fn new(settings: &Settings) -> Result<Sender, String> {
        let http: Agent = Agent::config_builder()
            .timeout_global(Some(settings.http_timeout))
            // Status codes are judged here (non-2xx is a failure, with the body in the error).
            .http_status_as_error(false)
            // A redirected POST would become a GET elsewhere: a 3xx is a failure, not followed.
            .max_redirects(0)
            .user_agent(concat!("mking-listener/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let smtp = match &settings.smtp {
            None => None,
            Some(s) => Some((smtp_transport(s)?, s.clone())),
        };
        Ok(Sender { http, smtp })
    }

    pub fn alert(&self, target: &Target, alert: &Alert) -> Result<(), String> {
        match target {
            Target::Webhook(url) => self.post_json(url, &format::webhook_body(alert)),
            Target::Slack(url) => self.post_json(url, &format::slack_body(alert)),
            Target::Email(to) => {
                let (_, smtp) = self.smtp()?;
                self.send_mail(format::alert_email(&smtp.from, to, alert)?)
            }
        }
    }

    pub fn report(&self, to: &str, report: &Report) -> Result<(), String> {
        let (_, smtp) = self.smtp()?;
        self.send_mail(format::report_email(&smtp.from, to, report)?)
    }

    fn smtp(&self) -> Result<&(SmtpTransport, Smtp), String> {
        self.smtp
            .as_ref()
            .ok_or_else(|| "no SMTP server configured (--smtp-host / MKING_SMTP_HOST)".to_string())
    }

    fn send_mail(&self, message: lettre::Message) -> Result<(), String> {
        let (transport, smtp) = self.smtp()?;
        transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
    }

    fn post_json(&self, url: &str, body: &str) -> Result<(), String> {
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The start of the body often says why (Slack answers e.g. "invalid_payload").
        let mut text = Vec::new();
        let _ = response
            .into_body()
            .into_reader()
            .take(300)
            .read_to_end(&mut text);
        let text = format::one_line(&String::from_utf8_lossy(&text));
        Err(if text.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {}", status.as_u16(), format::excerpt(&text, 200))
        })
    }
}

fn smtp_transport(s: &Smtp) -> Result<SmtpTransport, String> {
    let builder = match s.tls {
        SmtpTls::Starttls => SmtpTransport::starttls_relay(&s.host),
        SmtpTls::Tls => SmtpTransport::relay(&s.host),
        SmtpTls::None => Ok(SmtpTransport::builder_dangerous(&s.host)),
    }
    .map_err(|e| format!("SMTP TLS setup for {}: {e}", s.host))?;
    let builder = builder.port(s.port).timeout(Some(s.timeout));
    let builder = match &s.credentials {
        Some((user, password)) => {
            builder.credentials(Credentials::new(user.clone(), password.clone()))
        }
        None => builder,
    };
    Ok(builder.build())
}

#[cfg(test)]
#[path = "../testsupport/sinks.rs"]
mod sinks;

#[cfg(test)]
mod tests {
    use super::sinks::{HttpSink, SmtpSink};
    use super::*;
    use crate::payload::AlertStatus;
    use crate::retry::Backoff;
    use std::time::Duration;

    fn settings(smtp_port: Option<u16>) -> Settings {
        Settings {
            database: postgres::Config::new(),
            database_label: String::new(),
            smtp: smtp_port.map(|port| Smtp {
                host: "127.0.0.1".into(),
                port,
                tls: SmtpTls::None,
                credentials: None,
                from: "Alerts <alerts@example.com>".parse().unwrap(),
                timeout: Duration::from_secs(5),
            }),
            max_attempts: 3,
            backoff: Backoff {
                base: Duration::from_millis(10),
                max: Duration::from_secs(1),
            },
            poll_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(2),
            once: true,
            warnings: vec![],
        }
    }

    fn alert() -> Alert {
        Alert {
            trigger_id: 5,
            rule_id: 2,
            rule_name: "Low activity".into(),
            value: Some("3.0000".into()),
            threshold: Some("10.0000".into()),
            operator: "<".into(),
            status: AlertStatus::Firing,
            at: "2026-12-03T10:00:00+00:00".into(),
            message: Some("3 active users in the last hour".into()),
        }
    }

    #[test]
    fn webhook_and_slack_posts() {
        let http = HttpSink::start();
        http.respond("/broken", 503, "try later");
        let sender = Sender::new(&settings(None)).unwrap();
        let a = alert();
        sender
            .alert(&Target::Webhook(http.url("/hook")), &a)
            .unwrap();
        sender
            .alert(&Target::Slack(http.url("/slack")), &a)
            .unwrap();
        let err = sender
            .alert(&Target::Webhook(http.url("/broken")), &a)
            .unwrap_err();
        assert_eq!(err, "HTTP 503: try later");
        let got = http.requests();
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].method.as_str(), got[0].path.as_str()),
            ("POST", "/hook")
        );
        assert_eq!(
            got[0].header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(got[0].body, format::webhook_body(&a));
        let slack: serde_json::Value = serde_json::from_str(&got[1].body).unwrap();
        assert!(slack["text"]
            .as_str()
            .unwrap()
            .starts_with(":rotating_light: *FIRING* Low activity: value 3 &lt; threshold 10."));
        // nothing listening: a transport error, not a panic
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", closed.local_addr().unwrap());
        drop(closed);
        let err = sender.alert(&Target::Webhook(url), &a).unwrap_err();
        assert!(err.starts_with("request failed: "), "{err}");
    }

    #[test]
    fn redirects_are_failures() {
        let http = HttpSink::start();
        http.respond("/moved", 302, "");
        let sender = Sender::new(&settings(None)).unwrap();
        assert_eq!(
            sender
                .alert(&Target::Webhook(http.url("/moved")), &alert())
                .unwrap_err(),
            "HTTP 302"
        );
    }

    #[test]
    fn http_timeout() {
        let http = HttpSink::start();
        http.delay("/slow", Duration::from_secs(4));
        let sender = Sender::new(&settings(None)).unwrap();
        let started = std::time::Instant::now();
        let err = sender
            .alert(&Target::Webhook(http.url("/slow")), &alert())
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert!(
            err.to_lowercase().contains("timeout") || err.to_lowercase().contains("timed out"),
            "{err}"
        );
    }

    #[test]
    fn emails_through_smtp() {
        let smtp = SmtpSink::start();
        let sender = Sender::new(&settings(Some(smtp.port()))).unwrap();
        sender
            .alert(&Target::Email("ops@example.com".into()), &alert())
            .unwrap();
        let report = Report {
            id: 1,
            kind: "weekly".into(),
            period_start: "2026-11-23".into(),
            period_end: "2026-11-30".into(),
            tz: "UTC".into(),
            html: Some("<p>weekly numbers</p>".into()),
            pdf: Some(b"%PDF-1.4 tiny".to_vec()),
        };
        sender.report("boss@example.com", &report).unwrap();
        let mails = smtp.messages();
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].from, "alerts@example.com");
        assert_eq!(mails[0].recipients, vec!["ops@example.com"]);
        assert!(
            mails[0]
                .data
                .contains("Subject: [mking_analytics] FIRING: Low activity"),
            "{}",
            mails[0].data
        );
        assert!(mails[0].data.contains("3 active users in the last hour"));
        assert_eq!(mails[1].recipients, vec!["boss@example.com"]);
        assert!(
            mails[1]
                .data
                .contains("filename=\"weekly-report-2026-11-23.pdf\""),
            "{}",
            mails[1].data
        );
        assert!(mails[1].data.contains("<p>weekly numbers</p>"));
        // a refused recipient is an error naming the server's answer
        smtp.reject_recipient("nobody@example.com");
        let err = sender
            .alert(&Target::Email("nobody@example.com".into()), &alert())
            .unwrap_err();
        assert!(
            err.starts_with(&format!("SMTP 127.0.0.1:{}: ", smtp.port())) && err.contains("550"),
            "{err}"
        );
        // no SMTP configured
        let sender = Sender::new(&settings(None)).unwrap();
        assert_eq!(
            sender
                .alert(&Target::Email("ops@example.com".into()), &alert())
                .unwrap_err(),
            "no SMTP server configured (--smtp-host / MKING_SMTP_HOST)"
        );
    }
}
