//! Reports with real second connections: the `mking_analytics_reports` notification reaches a
//! listener only when generate_report's transaction commits, a failed run notifies too, the
//! report job is registered with pg_cron by `schedule()`, and readers read but do not generate.

use mking_analytics_integration::{
    connect, connect_as, cron_database, err_text, exec, install_extension, reset_cron_database,
    scalar, sqlstate, CRON_DB,
};
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::time::Duration;

const DATA: &str = "
    INSERT INTO users VALUES (1, 'ann', '2024-03-01 08:00'), (2, 'bob', '2024-03-12 09:00');
    INSERT INTO posts (id, user_id, title, content_type, created_at) VALUES (11, 1, '<script>x</script>', 'photo', '2024-03-12 09:15');
    INSERT INTO likes (user_id, post_id, created_at) VALUES (2, 11, '2024-03-12 10:00');
    INSERT INTO user_behavior_logs (user_id, session_id, device_type, created_at) VALUES (1, 's1', 'mobile', '2024-03-12 09:00');";

/// pg_cron's database with the platform's tables, a few events, both extensions and no job of ours.
fn cron_db() -> Client {
    let mut c = cron_database();
    exec(&mut c, DATA);
    install_extension(&mut c);
    c
}

fn cleanup(c: &mut Client) {
    reset_cron_database(c);
}

/// The next notification within `wait`, as (channel, payload).
fn next_notification(c: &mut Client, wait: Duration) -> Option<(String, String)> {
    let mut n = c.notifications();
    let next = n
        .timeout_iter(wait)
        .next()
        .unwrap_or_else(|e| panic!("waiting for a notification: {}", err_text(&e)));
    next.map(|m| (m.channel().to_string(), m.payload().to_string()))
}

#[test]
fn reports_notify_on_commit_and_schedule_registers_the_job() {
    let mut gen = cron_db();
    let mut listener = connect(CRON_DB);
    exec(&mut listener, "LISTEN mking_analytics_reports");

    // Inside the generating transaction: stored, but nothing is announced yet.
    exec(&mut gen, "BEGIN");
    let id = scalar(
        &mut gen,
        "SELECT mking_analytics.generate_report('daily', '2024-03-12', 'UTC')",
    )
    .expect("a report id");
    assert_eq!(
        next_notification(&mut listener, Duration::from_millis(700)),
        None,
        "notified before commit"
    );
    exec(&mut gen, "COMMIT");
    let (channel, payload) = next_notification(&mut listener, Duration::from_secs(10))
        .expect("no notification after commit");
    assert_eq!(channel, "mking_analytics_reports");
    // The payload is JSON with the keys the listener program reads.
    let fields = scalar(
        &mut gen,
        &format!(
            "SELECT concat_ws('|', p->>'report_id', p->>'kind', p->>'period_start', p->>'tz', p->>'status', (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(p) k))
               FROM (SELECT {}::jsonb AS p) x",
            postgres_literal(&payload)
        ),
    );
    assert_eq!(
        fields.as_deref(),
        Some(
            format!("{id}|daily|2024-03-12|UTC|completed|kind,period_start,report_id,status,tz")
                .as_str()
        )
    );
    // What the listener then reads: HTML and PDF, delivery 'none' (no subscribers).
    assert_eq!(
        scalar(
            &mut listener,
            &format!(
                "SELECT left(mking_analytics.report_html({id}), 15) || ' ' || encode(substr(mking_analytics.report_pdf({id}), 1, 5), 'escape') || ' ' || delivery_status
                   FROM mking_analytics.reports WHERE id = {id}"
            )
        )
        .as_deref(),
        Some("<!DOCTYPE html> %PDF- none")
    );

    // A rolled-back generation announces nothing.
    exec(
        &mut gen,
        "BEGIN; SELECT mking_analytics.generate_report('weekly', '2024-03-12', 'UTC'); ROLLBACK;",
    );
    assert_eq!(
        next_notification(&mut listener, Duration::from_millis(700)),
        None
    );

    // A failed run is committed as failed, and announced as such.
    exec(
        &mut gen,
        "SELECT mking_analytics.report_subscribe('monthly', 'ops@example.com');
         CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no space'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON mking_analytics.reports FOR EACH ROW EXECUTE FUNCTION public.refuse();
         SELECT mking_analytics.generate_report('monthly', '2024-03-01', 'UTC');
         DROP TRIGGER refuse ON mking_analytics.reports; DROP FUNCTION public.refuse();",
    );
    let (_, payload) = next_notification(&mut listener, Duration::from_secs(10))
        .expect("no notification of the failed run");
    assert!(
        payload.contains("\"status\": \"failed\"") && payload.contains("\"kind\": \"monthly\""),
        "{payload}"
    );
    assert_eq!(
        scalar(
            &mut listener,
            "SELECT generation_status || ' ' || error_message FROM mking_analytics.report_generation_logs ORDER BY id DESC LIMIT 1"
        )
        .as_deref(),
        Some("failed P0001: no space")
    );

    // schedule() registers the report job next to the others.
    exec(&mut gen, "SELECT * FROM mking_analytics.schedule()");
    assert_eq!(
        scalar(
            &mut gen,
            "SELECT schedule || '|' || command || '|' || database FROM cron.job WHERE jobname = 'mking_analytics_reports'"
        )
        .as_deref(),
        Some(format!("*/5 * * * *|SELECT * FROM mking_analytics.run_due_reports()|{CRON_DB}").as_str())
    );
    assert_eq!(
        scalar(&mut gen, "SELECT count(*) FROM mking_analytics.unschedule() j WHERE j = 'mking_analytics_reports'").as_deref(),
        Some("1")
    );

    // Readers read reports but neither generate nor see the subscribers' emails; admins do both.
    exec(
        &mut gen,
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'it_report_reader') THEN CREATE ROLE it_report_reader LOGIN; END IF;
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'it_report_admin') THEN CREATE ROLE it_report_admin LOGIN; END IF;
         END $$;
         GRANT mking_analytics_reader TO it_report_reader;
         GRANT mking_analytics_admin TO it_report_admin;",
    );
    let mut reader = connect_as(CRON_DB, "it_report_reader");
    assert_eq!(
        scalar(
            &mut reader,
            &format!("SELECT left(mking_analytics.report_json({id})->>'kind', 5)")
        )
        .as_deref(),
        Some("daily")
    );
    for sql in [
        "SELECT mking_analytics.generate_report('daily', '2024-03-11', 'UTC')",
        "SELECT count(*) FROM mking_analytics.report_subscribers",
        "SELECT mking_analytics.report_subscribe('daily', 'me@example.com')",
    ] {
        let e = reader.batch_execute(sql).expect_err(sql);
        assert_eq!(
            sqlstate(&e).as_deref(),
            Some("42501"),
            "{sql}: {}",
            err_text(&e)
        );
    }
    let mut admin = connect_as(CRON_DB, "it_report_admin");
    assert!(scalar(
        &mut admin,
        "SELECT mking_analytics.generate_report('daily', '2024-03-11', 'UTC')"
    )
    .is_some());
    assert_eq!(
        scalar(
            &mut admin,
            "SELECT count(*) FROM mking_analytics.report_subscribers"
        )
        .as_deref(),
        Some("1")
    );
    drop(reader);
    drop(admin);
    cleanup(&mut gen);
}

/// A SQL string literal.
fn postgres_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
