//! Command line and environment: every flag has an `MKING_*` variable; checked once at start so
//! a mistake stops the program with a message naming the setting, before anything is sent.

use crate::retry::Backoff;
use clap::{Parser, ValueEnum};
use lettre::message::Mailbox;
use std::str::FromStr;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "mking-listener",
    version,
    about = "Delivers mking_analytics alert and report notifications by webhook, Slack and email.",
    long_about = "Delivers mking_analytics alert and report notifications by webhook, Slack and email.\n\n\
        LISTENs on mking_analytics_alerts and mking_analytics_reports, first delivers everything still \
        pending in the tables (catch-up), then each notification as it arrives, polling the tables every \
        --poll-interval-secs as a safety net. See docs/listener.md.",
    after_help = "Every flag can also be given by its environment variable (shown in brackets). \
        Without --database-url, the standard PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE are used."
)]
pub struct Args {
    /// libpq-style connection string: "host=/var/run/postgresql dbname=app user=mking_listener"
    /// or "postgresql://user:pw@host:5432/app". Missing parts come from PGHOST, PGPORT, PGUSER,
    /// PGPASSWORD, PGDATABASE.
    #[arg(long, env = "MKING_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// SMTP server for email channels and report emails (without it, email deliveries fail).
    #[arg(long, env = "MKING_SMTP_HOST")]
    pub smtp_host: Option<String>,

    /// SMTP port [default: 587 for starttls, 465 for tls, 25 for none].
    #[arg(long, env = "MKING_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// SMTP user name (AUTH); needs --smtp-password.
    #[arg(long, env = "MKING_SMTP_USER")]
    pub smtp_user: Option<String>,

    /// SMTP password; prefer the environment variable (flags show in `ps`).
    #[arg(long, env = "MKING_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// Sender of every email, e.g. "mking_analytics <alerts@example.com>".
    #[arg(long, env = "MKING_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// Transport security: starttls (upgrade, required), tls (implicit TLS), none (plain; local relays only).
    #[arg(long, env = "MKING_SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,

    /// Give up a notification after this many attempts (the first one included).
    #[arg(long, env = "MKING_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// Wait after the first failed attempt, in milliseconds; doubled after each further failure.
    #[arg(long, env = "MKING_RETRY_BASE_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub retry_base_ms: u64,

    /// Longest wait between two attempts, in seconds.
    #[arg(long, env = "MKING_RETRY_MAX_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub retry_max_secs: u64,

    /// Look for pending rows every this many seconds, notifications or not.
    #[arg(long, env = "MKING_POLL_INTERVAL_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub poll_interval_secs: u64,

    /// Timeout of one webhook or Slack request (connect, send, response), in seconds.
    #[arg(long, env = "MKING_HTTP_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub http_timeout_secs: u64,

    /// Timeout of one SMTP conversation step, in seconds.
    #[arg(long, env = "MKING_SMTP_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub smtp_timeout_secs: u64,

    /// Deliver what is pending (with its retries), then exit: for cron and tests. Exit status 1
    /// if any notification ended failed.
    #[arg(long)]
    pub once: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, String)>,
    pub from: Mailbox,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database: postgres::Config,
    /// host, port, database and user, for log lines (no password).
    pub database_label: String,
    pub smtp: Option<Smtp>,
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub poll_interval: Duration,
    pub http_timeout: Duration,
    pub once: bool,
    pub warnings: Vec<String>,
}

/// The process environment, injectable for tests.
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

pub fn settings(args: Args, env: &dyn Env) -> Result<Settings, String> {
    let mut warnings = Vec::new();
    let (database, database_label) = database(args.database_url.as_deref(), env)?;
    let smtp = smtp(&args, &mut warnings)?;
    if smtp.is_none() {
        warnings.push(
            "no SMTP server configured (--smtp-host / MKING_SMTP_HOST): email channels and report emails will fail".into(),
        );
    }
    Ok(Settings {
        database,
        database_label,
        smtp,
        max_attempts: args.max_attempts,
        backoff: Backoff {
            base: Duration::from_millis(args.retry_base_ms),
            max: Duration::from_secs(args.retry_max_secs),
        },
        poll_interval: Duration::from_secs(args.poll_interval_secs),
        http_timeout: Duration::from_secs(args.http_timeout_secs),
        once: args.once,
        warnings,
    })
}

fn database(url: Option<&str>, env: &dyn Env) -> Result<(postgres::Config, String), String> {
    let mut cfg = match url {
        Some(u) => postgres::Config::from_str(u).map_err(|e| {
            format!("--database-url / MKING_DATABASE_URL is not a valid connection string: {e}")
        })?,
        None => postgres::Config::new(),
    };
    if cfg.get_hosts().is_empty() {
        let host = env.var("PGHOST").unwrap_or_else(|| {
            if std::path::Path::new("/var/run/postgresql").is_dir() {
                "/var/run/postgresql".into()
            } else {
                "localhost".into()
            }
        });
        cfg.host(&host);
    }
    if cfg.get_ports().is_empty() {
        if let Some(p) = env.var("PGPORT") {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("PGPORT must be a port number, got '{p}'"))?;
            cfg.port(port);
        }
    }
    if cfg.get_user().is_none() {
        match env.var("PGUSER").or_else(|| env.var("USER")) {
            Some(u) => {
                cfg.user(&u);
            }
            None => {
                return Err("no database user: give user= in --database-url / MKING_DATABASE_URL, or set PGUSER".into())
            }
        }
    }
    if cfg.get_dbname().is_none() {
        if let Some(d) = env.var("PGDATABASE") {
            cfg.dbname(&d);
        }
    }
    if cfg.get_password().is_none() {
        if let Some(p) = env.var("PGPASSWORD") {
            cfg.password(&p);
        }
    }
    if cfg.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err("sslmode=require is not supported: mking-listener connects without TLS; \
                    use a Unix socket or localhost, or a TLS tunnel to the server (see docs/listener.md)"
            .into());
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("mking-listener");
    }
    let host = match cfg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let user = cfg.get_user().unwrap_or("?").to_string();
    let label = format!(
        "host={host} port={} dbname={} user={user}",
        cfg.get_ports().first().copied().unwrap_or(5432),
        cfg.get_dbname().unwrap_or(&user),
    );
    Ok((cfg, label))
}

fn smtp(args: &Args, warnings: &mut Vec<String>) -> Result<Option<Smtp>, String> {
    let Some(host) = args.smtp_host.clone() else {
        for (given, flag) in [
            (args.smtp_port.is_some(), "--smtp-port"),
            (args.smtp_user.is_some(), "--smtp-user"),
            (args.smtp_password.is_some(), "--smtp-password"),
            (args.smtp_from.is_some(), "--smtp-from"),
        ] {
            if given {
                return Err(format!(
                    "{flag} given without --smtp-host / MKING_SMTP_HOST"
                ));
            }
        }
        return Ok(None);
    };
    let from_text = args.smtp_from.as_deref().ok_or(
        "--smtp-from / MKING_SMTP_FROM is required with --smtp-host, e.g. \"mking_analytics <alerts@example.com>\"",
    )?;
    let from: Mailbox = from_text.parse().map_err(|e| {
        format!("--smtp-from / MKING_SMTP_FROM is not an email address: '{from_text}' ({e})")
    })?;
    let credentials = match (&args.smtp_user, &args.smtp_password) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone())),
        (None, None) => None,
        (Some(_), None) => {
            return Err("--smtp-user needs --smtp-password / MKING_SMTP_PASSWORD".into())
        }
        (None, Some(_)) => return Err("--smtp-password needs --smtp-user / MKING_SMTP_USER".into()),
    };
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1");
    if args.smtp_tls == SmtpTls::None && credentials.is_some() && !loopback {
        warnings.push(format!(
            "--smtp-tls none with a password: the password goes to {host} unencrypted"
        ));
    }
    let port = args.smtp_port.unwrap_or(match args.smtp_tls {
        SmtpTls::Starttls => 587,
        SmtpTls::Tls => 465,
        SmtpTls::None => 25,
    });
    Ok(Some(Smtp {
        host,
        port,
        tls: args.smtp_tls,
        credentials,
        from,
        timeout: Duration::from_secs(args.smtp_timeout_secs),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, &'static str>);
    impl Env for FakeEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| v.to_string())
        }
    }

    fn args(extra: &[&str]) -> Result<Args, clap::Error> {
        let mut v = vec!["mking-listener"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v)
    }

    fn no_env() -> FakeEnv {
        FakeEnv(HashMap::new())
    }

    #[test]
    fn defaults() {
        let s = settings(
            args(&["--database-url", "host=/tmp dbname=app user=l"]).unwrap(),
            &no_env(),
        )
        .unwrap();
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.backoff.base, Duration::from_secs(1));
        assert_eq!(s.backoff.max, Duration::from_secs(300));
        assert_eq!(s.poll_interval, Duration::from_secs(30));
        assert_eq!(s.http_timeout, Duration::from_secs(10));
        assert!(!s.once);
        assert!(s.smtp.is_none());
        assert_eq!(s.database_label, "host=/tmp port=5432 dbname=app user=l");
        assert_eq!(s.database.get_application_name(), Some("mking-listener"));
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("no SMTP server configured"));
    }

    #[test]
    fn database_from_pg_environment() {
        let env = FakeEnv(HashMap::from([
            ("PGHOST", "/tmp/sock"),
            ("PGPORT", "55432"),
            ("PGUSER", "postgres"),
            ("PGDATABASE", "it"),
        ]));
        let s = settings(args(&[]).unwrap(), &env).unwrap();
        assert_eq!(
            s.database_label,
            "host=/tmp/sock port=55432 dbname=it user=postgres"
        );
        // the connection string wins over the environment
        let s = settings(
            args(&["--database-url", "postgresql://me@db.example:6543/app"]).unwrap(),
            &env,
        )
        .unwrap();
        assert_eq!(
            s.database_label,
            "host=db.example port=6543 dbname=app user=me"
        );
        let bad = FakeEnv(HashMap::from([("PGPORT", "x"), ("PGUSER", "u")]));
        assert_eq!(
            settings(args(&[]).unwrap(), &bad).unwrap_err(),
            "PGPORT must be a port number, got 'x'"
        );
    }

    #[test]
    fn bad_database_settings() {
        let e = settings(
            args(&["--database-url", "host=/tmp user=u sslmode=require"]).unwrap(),
            &no_env(),
        )
        .unwrap_err();
        assert!(e.starts_with("sslmode=require is not supported"), "{e}");
        let e = settings(args(&["--database-url", "nonsense=1"]).unwrap(), &no_env()).unwrap_err();
        assert!(
            e.starts_with("--database-url / MKING_DATABASE_URL is not a valid connection string"),
            "{e}"
        );
        let e = settings(args(&["--database-url", "host=/tmp"]).unwrap(), &no_env()).unwrap_err();
        assert!(e.starts_with("no database user"), "{e}");
    }

    #[test]
    fn smtp_settings() {
        let db = ["--database-url", "host=/tmp user=u"];
        let a = |extra: &[&str]| {
            let mut v = db.to_vec();
            v.extend_from_slice(extra);
            settings(args(&v).unwrap(), &no_env())
        };
        let s = a(&[
            "--smtp-host",
            "mail.example",
            "--smtp-from",
            "Alerts <a@example.com>",
        ])
        .unwrap();
        let smtp = s.smtp.unwrap();
        assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::Starttls));
        assert_eq!(smtp.from.to_string(), "Alerts <a@example.com>");
        assert!(s.warnings.is_empty());
        let s = a(&[
            "--smtp-host",
            "127.0.0.1",
            "--smtp-from",
            "a@example.com",
            "--smtp-tls",
            "none",
            "--smtp-port",
            "2525",
        ])
        .unwrap();
        assert_eq!(s.smtp.map(|m| (m.port, m.tls)), Some((2525, SmtpTls::None)));
        assert_eq!(a(&["--smtp-host", "m.example"]).unwrap_err(), "--smtp-from / MKING_SMTP_FROM is required with --smtp-host, e.g. \"mking_analytics <alerts@example.com>\"");
        assert!(a(&["--smtp-host", "m", "--smtp-from", "nobody"])
            .unwrap_err()
            .starts_with("--smtp-from / MKING_SMTP_FROM is not an email address: 'nobody'"));
        assert_eq!(
            a(&["--smtp-from", "a@example.com"]).unwrap_err(),
            "--smtp-from given without --smtp-host / MKING_SMTP_HOST"
        );
        assert_eq!(
            a(&[
                "--smtp-host",
                "m",
                "--smtp-from",
                "a@example.com",
                "--smtp-user",
                "u"
            ])
            .unwrap_err(),
            "--smtp-user needs --smtp-password / MKING_SMTP_PASSWORD"
        );
        let s = a(&[
            "--smtp-host",
            "m.example",
            "--smtp-from",
            "a@example.com",
            "--smtp-tls",
            "none",
            "--smtp-user",
            "u",
            "--smtp-password",
            "p",
        ])
        .unwrap();
        assert_eq!(
            s.warnings,
            vec!["--smtp-tls none with a password: the password goes to m.example unencrypted"]
        );
    }

    #[test]
    fn flag_ranges() {
        assert!(args(&["--max-attempts", "0"]).is_err());
        assert!(args(&["--poll-interval-secs", "0"]).is_err());
        assert!(args(&["--smtp-tls", "ssl"]).is_err());
        let a = args(&["--max-attempts", "3", "--retry-base-ms", "200", "--once"]).unwrap();
        assert_eq!((a.max_attempts, a.retry_base_ms, a.once), (3, 200, true));
    }
}
