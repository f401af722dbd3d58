//! The delivery loop: connect, LISTEN, catch up on pending rows, then deliver each notification
//! as it arrives, with a periodic poll as a safety net. Failed targets are retried on a backoff
//! schedule without blocking other deliveries (a retry is a timer in `jobs`, not a sleep).

use crate::channels::{self, Target};
use crate::config::Settings;
use crate::deliver::Sender;
use crate::format::{Alert, Report};
use crate::log;
use crate::payload::{self, AlertStatus, Notice};
use crate::store::{self, Key, Kind, Status};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use std::time::{Duration, Instant};

enum Content {
    Alert(Alert),
    Report(Report),
}

/// A claimed notification still being delivered (its row is 'sending', its lock held).
struct Job {
    key: Key,
    content: Content,
    remaining: Vec<Target>,
    delivered: Vec<String>,
    attempts: u32,
    due: Instant,
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub delivered: u64,
    pub failed: u64,
    pub none: u64,
}

/// How a run ends.
pub enum Exit {
    /// --once: done; the tally of what this run finished.
    Done(Tally),
    /// The database is not set up for the listener (exit status 2, message for the operator).
    Setup(String),
    /// --once could not connect.
    Unreachable(String),
}

struct Engine<'a> {
    settings: &'a Settings,
    sender: Sender,
    jobs: Vec<Job>,
    tally: Tally,
}

pub fn run(settings: &Settings, sender: Sender) -> Exit {
    let mut engine = Engine {
        settings,
        sender,
        jobs: Vec::new(),
        tally: Tally::default(),
    };
    let mut reconnect_wait = Duration::from_secs(1);
    loop {
        let mut client = match connect(settings) {
            Ok(c) => c,
            Err(e) if settings.once => return Exit::Unreachable(e),
            Err(e) => {
                log::error(&format!("{e}; retrying in {}s", reconnect_wait.as_secs()));
                std::thread::sleep(reconnect_wait);
                reconnect_wait = (reconnect_wait * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        match store::check_setup(&mut client) {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => return Exit::Setup(problem),
            Err(e) if settings.once => {
                return Exit::Unreachable(format!("checking privileges: {}", db_error(&e)))
            }
            Err(e) => {
                log::error(&format!(
                    "checking privileges: {}; retrying in {}s",
                    db_error(&e),
                    reconnect_wait.as_secs()
                ));
                std::thread::sleep(reconnect_wait);
                reconnect_wait = (reconnect_wait * 2).min(Duration::from_secs(60));
                continue;
            }
        }
        reconnect_wait = Duration::from_secs(1);
        log::info(&format!(
            "connected to {}; listening on {} and {}",
            settings.database_label,
            payload::ALERTS_CHANNEL,
            payload::REPORTS_CHANNEL
        ));
        match engine.serve(&mut client) {
            Ok(()) => return Exit::Done(engine.tally),
            Err(e) => {
                // The session and with it every advisory lock is gone: the rows this run had
                // claimed are 'sending' without a holder and are taken over by the next catch-up.
                engine.jobs.clear();
                if settings.once {
                    return Exit::Unreachable(format!(
                        "lost the database connection: {}",
                        db_error(&e)
                    ));
                }
                log::error(&format!(
                    "lost the database connection ({}); reconnecting",
                    db_error(&e)
                ));
            }
        }
    }
}

fn connect(settings: &Settings) -> Result<Client, String> {
    let mut client = settings.database.connect(NoTls).map_err(|e| {
        format!(
            "cannot connect to {}: {}",
            settings.database_label,
            db_error(&e)
        )
    })?;
    store::prepare_session(&mut client).map_err(|e| {
        format!(
            "session setup on {}: {}",
            settings.database_label,
            db_error(&e)
        )
    })?;
    Ok(client)
}

/// A database error with the server's message and SQLSTATE when there is one.
pub fn db_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

impl Engine<'_> {
    /// Returns Ok when --once is done, Err when the connection is lost.
    fn serve(&mut self, client: &mut Client) -> Result<(), postgres::Error> {
        self.catch_up(client)?;
        let mut next_poll = Instant::now() + self.settings.poll_interval;
        loop {
            if self.settings.once {
                if self.jobs.is_empty() {
                    return Ok(());
                }
                if let Some(due) = self.next_due() {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                self.run_due(client)?;
                continue;
            }
            let wake = self.next_due().map_or(next_poll, |d| d.min(next_poll));
            let wait = wake.saturating_duration_since(Instant::now());
            let first = client.notifications().timeout_iter(wait).next()?;
            if let Some(n) = first {
                let mut notes = vec![n];
                // Whatever else already arrived, without waiting.
                {
                    let mut buffered = client.notifications();
                    let mut rest = buffered.iter();
                    while let Some(n) = rest.next()? {
                        notes.push(n);
                    }
                }
                for n in notes {
                    self.on_notification(client, n.channel(), n.payload())?;
                }
            }
            self.run_due(client)?;
            if Instant::now() >= next_poll {
                self.catch_up(client)?;
                next_poll = Instant::now() + self.settings.poll_interval;
            }
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.jobs.iter().map(|j| j.due).min()
    }

    fn catch_up(&mut self, client: &mut Client) -> Result<(), postgres::Error> {
        let keys = store::pending(client)?;
        if !keys.is_empty() {
            log::info(&format!(
                "{} notification(s) pending in the tables",
                keys.len()
            ));
        }
        for key in keys {
            self.start(client, key)?;
        }
        Ok(())
    }

    fn on_notification(
        &mut self,
        client: &mut Client,
        channel: &str,
        text: &str,
    ) -> Result<(), postgres::Error> {
        match payload::parse(channel, text) {
            Ok(Notice::Alert { trigger_id, status }) => {
                self.start(client, Key::alert(trigger_id, status))
            }
            Ok(Notice::Report {
                report_id,
                completed: true,
            }) => self.start(
                client,
                Key {
                    kind: Kind::Report,
                    id: report_id,
                },
            ),
            Ok(Notice::Report {
                report_id,
                completed: false,
            }) => {
                log::warn(&format!(
                    "report {report_id}: generation failed (notification); nothing to send"
                ));
                Ok(())
            }
            Err(e) => {
                // Some row changed: look at all of them rather than miss it.
                log::warn(&format!("{e}; checking every pending row instead"));
                self.catch_up(client)
            }
        }
    }

    /// Claim `key` and make its first attempt; a row that is not ours to send is skipped.
    fn start(&mut self, client: &mut Client, key: Key) -> Result<(), postgres::Error> {
        if self.jobs.iter().any(|j| j.key == key) {
            return Ok(());
        }
        if !store::try_lock(client, key)? {
            return Ok(()); // another listener is on it
        }
        match self.claim(client, key) {
            Ok(true) => self.run_due(client),
            Ok(false) => store::unlock(client, key),
            Err(e) if client.is_closed() => Err(e),
            Err(e) => {
                log::error(&format!("{}: {}", key.describe(), db_error(&e)));
                self.tally.failed += 1;
                store::unlock(client, key)
            }
        }
    }

    /// Claim and read the row; true when a job was queued, false when the row needs nothing
    /// more (not pending, or finished here: no targets, or a configuration error).
    fn claim(&mut self, client: &mut Client, key: Key) -> Result<bool, postgres::Error> {
        let (content, targets) = match key.kind {
            Kind::Firing | Kind::Resolve => {
                let status = if key.kind == Kind::Firing {
                    AlertStatus::Firing
                } else {
                    AlertStatus::Resolved
                };
                let Some((alert, channels_json)) = store::claim_alert(client, key.id, status)?
                else {
                    return Ok(false);
                };
                match channels::parse(&channels_json) {
                    Ok(c) => {
                        for w in c.warnings {
                            log::warn(&format!("{} (rule {}): {w}", key.describe(), alert.rule_id));
                        }
                        (Content::Alert(alert), c.targets)
                    }
                    Err(e) => {
                        // A wrong configuration will not fix itself by retrying.
                        let e = format!("rule {}: {e}", alert.rule_id);
                        log::error(&format!("{}: not sent: {e}", key.describe()));
                        store::record(client, key, Status::Failed, Some(&e), false)?;
                        self.tally.failed += 1;
                        self.finished(client, key)?;
                        return Ok(false);
                    }
                }
            }
            Kind::Report => {
                let Some((report, subscribers)) = store::claim_report(client, key.id)? else {
                    return Ok(false);
                };
                if report.html.is_none() && report.pdf.is_none() {
                    let e = "the report has neither html nor pdf";
                    log::error(&format!("{}: not sent: {e}", key.describe()));
                    store::record(client, key, Status::Failed, Some(e), false)?;
                    self.tally.failed += 1;
                    store::unlock(client, key)?;
                    return Ok(false);
                }
                let targets = subscribers.into_iter().map(Target::Email).collect();
                (Content::Report(report), targets)
            }
        };
        if targets.is_empty() {
            log::info(&format!(
                "{}: no channels configured; status none",
                key.describe()
            ));
            store::record(client, key, Status::None, None, false)?;
            self.tally.none += 1;
            self.finished(client, key)?;
            return Ok(false);
        }
        self.jobs.push(Job {
            key,
            content,
            remaining: targets,
            delivered: Vec::new(),
            attempts: 0,
            due: Instant::now(),
        });
        Ok(true)
    }

    /// One attempt of every job whose time has come.
    fn run_due(&mut self, client: &mut Client) -> Result<(), postgres::Error> {
        let now = Instant::now();
        let (due, waiting): (Vec<Job>, Vec<Job>) = std::mem::take(&mut self.jobs)
            .into_iter()
            .partition(|j| j.due <= now);
        self.jobs = waiting;
        let mut due = due.into_iter();
        while let Some(job) = due.next() {
            let key = job.key;
            match self.attempt(client, job) {
                Ok(()) => {}
                Err(e) if client.is_closed() => {
                    self.jobs.extend(due);
                    return Err(e);
                }
                Err(e) => {
                    // The row stays 'sending'; once unlocked, the next catch-up takes it over.
                    log::error(&format!("{}: {}", key.describe(), db_error(&e)));
                    self.tally.failed += 1;
                    store::unlock(client, key)?;
                }
            }
        }
        Ok(())
    }

    fn attempt(&mut self, client: &mut Client, mut job: Job) -> Result<(), postgres::Error> {
        job.attempts += 1;
        let mut failures = Vec::new();
        for target in std::mem::take(&mut job.remaining) {
            let sent = match &job.content {
                Content::Alert(a) => self.sender.alert(&target, a),
                Content::Report(r) => match &target {
                    Target::Email(to) => self.sender.report(to, r),
                    other => Err(format!("{} cannot receive a report", other.label())),
                },
            };
            match sent {
                Ok(()) => job.delivered.push(target.label()),
                Err(e) => failures.push((target, e)),
            }
        }
        let key = job.key;
        let what = describe(&job);
        if failures.is_empty() {
            store::record(client, key, Status::Delivered, None, true)?;
            self.tally.delivered += 1;
            log::info(&format!(
                "{what}: delivered to {} (attempt {})",
                job.delivered.join(", "),
                job.attempts
            ));
            return self.finished(client, key);
        }
        let errors = failures
            .iter()
            .map(|(t, e)| format!("{}: {e}", t.label()))
            .collect::<Vec<_>>()
            .join("; ");
        if job.attempts >= self.settings.max_attempts {
            let mut text = format!("after {} attempts: {errors}", job.attempts);
            if !job.delivered.is_empty() {
                text.push_str(&format!(" (delivered: {})", job.delivered.join(", ")));
            }
            store::record(client, key, Status::Failed, Some(&text), true)?;
            self.tally.failed += 1;
            log::error(&format!("{what}: failed {text}"));
            return self.finished(client, key);
        }
        store::record(client, key, Status::Retrying, Some(&errors), true)?;
        let wait = self.settings.backoff.delay(job.attempts);
        log::warn(&format!(
            "{what}: attempt {} of {} failed: {errors}; retrying in {:.1}s",
            job.attempts,
            self.settings.max_attempts,
            wait.as_secs_f64()
        ));
        job.remaining = failures.into_iter().map(|(t, _)| t).collect();
        job.due = Instant::now() + wait;
        self.jobs.push(job);
        Ok(())
    }

    /// A notification is final: release its row, and after a firing send its resolution if that
    /// was waiting for it.
    fn finished(&mut self, client: &mut Client, key: Key) -> Result<(), postgres::Error> {
        store::unlock(client, key)?;
        if key.kind == Kind::Firing {
            self.start(
                client,
                Key {
                    kind: Kind::Resolve,
                    id: key.id,
                },
            )?;
        }
        Ok(())
    }
}

fn describe(job: &Job) -> String {
    match &job.content {
        Content::Alert(a) => format!(
            "{} (rule {} '{}')",
            job.key.describe(),
            a.rule_id,
            crate::format::excerpt(&crate::format::one_line(&a.rule_name), 60)
        ),
        Content::Report(r) => format!(
            "{} ({} {} {})",
            job.key.describe(),
            r.kind,
            r.period_start,
            r.tz
        ),
    }
}
