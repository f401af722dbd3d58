//! Roles: a login role granted mking_analytics_reader runs every analytic function and reads the
//! tables, but cannot change the source configuration; a member of mking_analytics_admin can.

use mking_analytics_integration::{
    analytic_calls, connect_as, create_platform_and_oracle, data, ensure_login_role, err_text,
    exec, fresh_db, install_extension, sqlstate, text_rows, ANALYTICS_TABLES,
};

const DB: &str = "it_roles";

#[test]
fn reader_reads_admin_configures() {
    let mut su = fresh_db(DB);
    create_platform_and_oracle(&mut su);
    let (sql, _) = data::dataset_sql(7);
    exec(&mut su, &sql);
    install_extension(&mut su);
    ensure_login_role(&mut su, "it_reader");
    ensure_login_role(&mut su, "it_admin");
    exec(
        &mut su,
        "GRANT mking_analytics_reader TO it_reader; GRANT mking_analytics_admin TO it_admin",
    );

    let mut problems: Vec<String> = Vec::new();

    // --- reader: analytic functions. Reading the platform's own tables is the DBA's grant;
    // first without it (informational), then with SELECT on them.
    let mut reader = connect_as(DB, "it_reader");
    let mut without = Vec::new();
    for call in analytic_calls() {
        if let Err(e) = text_rows(&mut reader, &call) {
            without.push(format!("{call}: {}", err_text(&e)));
        }
    }
    if !without.is_empty() {
        println!(
            "note: without SELECT on the platform tables the reader gets:\n  {}",
            without.join("\n  ")
        );
    }
    exec(
        &mut su,
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO it_reader, it_admin",
    );
    for call in analytic_calls() {
        if let Err(e) = text_rows(&mut reader, &call) {
            problems.push(format!("reader: {call}: {}", err_text(&e)));
        }
    }
    // growth of every metric, retention of every cohort/mode
    let r = "'2026-03-01 00:00+00'::timestamptz, '2026-03-05 00:00+00'::timestamptz";
    for m in [
        "new_users",
        "active_users",
        "posts",
        "likes",
        "comments",
        "shares",
        "follows",
    ] {
        let call = format!("SELECT * FROM mking_analytics.growth('{m}', {r}, 'day', 'UTC')");
        if let Err(e) = text_rows(&mut reader, &call) {
            problems.push(format!("reader: {call}: {}", err_text(&e)));
        }
    }
    for cohort in ["signup", "first_activity", "recurring"] {
        for mode in ["on", "on_or_after"] {
            let call = format!("SELECT * FROM mking_analytics.retention({r}, 'day', 3, '{cohort}', '{mode}', 'UTC')");
            if let Err(e) = text_rows(&mut reader, &call) {
                problems.push(format!("reader: {call}: {}", err_text(&e)));
            }
        }
    }
    // --- reader: the tables
    for (t, _) in ANALYTICS_TABLES.iter().chain([("sources", &[][..])].iter()) {
        if let Err(e) = text_rows(
            &mut reader,
            &format!("SELECT * FROM mking_analytics.{t} LIMIT 1"),
        ) {
            problems.push(format!(
                "reader: SELECT mking_analytics.{t}: {}",
                err_text(&e)
            ));
        }
    }
    // --- reader: no configuration changes
    for sql in [
        "UPDATE mking_analytics.sources SET enabled = enabled",
        "UPDATE mking_analytics.sources SET enabled = false WHERE source_name = 'follow'",
        "SELECT mking_analytics.set_source('session', 'public.user_behavior_logs', 'user_id', 'created_at')",
        "SELECT mking_analytics.set_source(source_name => 'extra', relation => 'public.likes', user_column => 'user_id', time_column => 'created_at')",
        "SELECT mking_analytics.reset_sources()",
    ] {
        match reader.batch_execute(sql) {
            Ok(()) => problems.push(format!("reader could run: {sql}")),
            Err(e) if sqlstate(&e).as_deref() == Some("42501") => {}
            Err(e) => problems.push(format!("reader: {sql}: want SQLSTATE 42501, got {}", err_text(&e))),
        }
    }
    // nothing changed
    let n = text_rows(
        &mut su,
        "SELECT count(*) FROM mking_analytics.sources WHERE NOT enabled",
    )
    .unwrap();
    if n[0][0].as_deref() != Some("0") {
        problems.push(format!("sources changed by the reader: {n:?}"));
    }

    // --- admin: can configure
    let mut admin = connect_as(DB, "it_admin");
    for sql in [
        "UPDATE mking_analytics.sources SET enabled = false WHERE source_name = 'follow'",
        "SELECT mking_analytics.set_source('session', 'public.user_behavior_logs', 'user_id', 'created_at', 'session_id')",
        "SELECT mking_analytics.set_source('follow', 'public.follows', 'follower_id', 'created_at', 'following_id', NULL, false)",
        "SELECT mking_analytics.reset_sources()",
    ] {
        if let Err(e) = admin.batch_execute(sql) {
            problems.push(format!("admin: {sql}: {}", err_text(&e)));
        }
    }
    for call in analytic_calls() {
        if let Err(e) = text_rows(&mut admin, &call) {
            problems.push(format!("admin: {call}: {}", err_text(&e)));
        }
    }
    // reset_sources restored the defaults
    let n = text_rows(
        &mut su,
        "SELECT count(*) FROM mking_analytics.sources WHERE NOT enabled",
    )
    .unwrap();
    if n[0][0].as_deref() != Some("0") {
        problems.push(format!(
            "after reset_sources some sources are disabled: {n:?}"
        ));
    }
    drop(reader);
    drop(admin);
    assert!(
        problems.is_empty(),
        "role problems:\n  {}",
        problems.join("\n  ")
    );
}
