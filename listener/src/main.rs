//! mking-listener: delivers the alert and report notifications of the mking_analytics
//! PostgreSQL extension by webhook, Slack and email. See docs/listener.md.

mod channels;
mod config;
mod deliver;
mod format;
mod log;
mod payload;
mod retry;
mod store;
mod worker;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = config::Args::parse();
    let settings = match config::settings(args, &config::ProcessEnv) {
        Ok(s) => s,
        Err(e) => {
            log::error(&format!("configuration: {e} (see --help)"));
            return ExitCode::from(2);
        }
    };
    for w in &settings.warnings {
        log::warn(w);
    }
    let sender = match deliver::Sender::new(&settings) {
        Ok(s) => s,
        Err(e) => {
            log::error(&format!("configuration: {e}"));
            return ExitCode::from(2);
        }
    };
    match worker::run(&settings, sender) {
        worker::Exit::Done(t) => {
            log::info(&format!(
                "done: {} delivered, {} failed, {} without channels",
                t.delivered, t.failed, t.none
            ));
            if t.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        worker::Exit::Setup(problem) => {
            log::error(&problem);
            ExitCode::from(2)
        }
        worker::Exit::Unreachable(problem) => {
            log::error(&problem);
            ExitCode::from(1)
        }
    }
}
