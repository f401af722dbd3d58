//! Several connections: configuration changed in one session is used by the others at once
//! (no stale per-backend cache), settings carried by the database, concurrent calls.

use mking_analytics_integration::{
    connect, create_platform_and_oracle, data, err_text, exec, fresh_db, install_extension,
    norm_row, text_rows,
};
use postgres::Client;

const DB: &str = "it_connections";
const R: &str = "'2026-02-10 14:37:00+00'::timestamptz, '2026-04-20 09:12:00+00'::timestamptz";

fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    text_rows(c, sql)
        .unwrap_or_else(|e| panic!("{sql}\n=> {}", err_text(&e)))
        .iter()
        .map(|r| norm_row(r).join("|"))
        .collect()
}

#[test]
fn configuration_changes_are_seen_by_other_sessions() {
    let mut setup = fresh_db(DB);
    create_platform_and_oracle(&mut setup);
    let (sql, _) = data::dataset_sql(99);
    exec(&mut setup, &sql);
    install_extension(&mut setup);
    drop(setup);

    let mut a = connect(DB);
    let mut b = connect(DB);
    exec(&mut a, "SET TimeZone = 'UTC'");
    let ext =
        format!("SELECT * FROM mking_analytics.active_users({R}, 'week', 'UTC', '{{any}}', 1)");
    let all = rows(
        &mut a,
        &format!("SELECT * FROM oracle.active_users({R}, 'week', 'UTC', '{{any}}', 1)"),
    );
    let sessions_only = rows(
        &mut a,
        &format!("SELECT * FROM oracle.active_users({R}, 'week', 'UTC', '{{session}}', 1)"),
    );
    let no_likes = rows(
        &mut a,
        &format!("SELECT * FROM oracle.active_users({R}, 'week', 'UTC', '{{session,post,comment,share,follow}}', 1)"),
    );
    assert_ne!(all, sessions_only, "the data set must tell the two apart");
    // warm whatever A caches
    assert_eq!(rows(&mut a, &ext), all, "before any change");
    assert_eq!(rows(&mut a, &ext), all, "twice");

    // B disables every activity source but session, by UPDATE of the configuration table
    exec(
        &mut b,
        "UPDATE mking_analytics.sources SET enabled = false WHERE source_name NOT IN ('signup', 'session')",
    );
    assert_eq!(
        rows(&mut a, &ext),
        sessions_only,
        "A must see B's UPDATE of mking_analytics.sources"
    );

    // B restores defaults with reset_sources()
    exec(&mut b, "SELECT mking_analytics.reset_sources()");
    assert_eq!(rows(&mut a, &ext), all, "A must see B's reset_sources()");

    // B disables likes with set_source(..., enabled => false)
    exec(
        &mut b,
        "SELECT mking_analytics.set_source('like', 'public.likes', 'user_id', 'created_at', 'post_id', enabled => false)",
    );
    assert_eq!(rows(&mut a, &ext), no_likes, "A must see B's set_source()");

    // an uncommitted change in B is invisible to A
    let mut tx = b.transaction().unwrap();
    tx.batch_execute("SELECT mking_analytics.reset_sources()")
        .unwrap();
    assert_eq!(
        rows(&mut a, &ext),
        no_likes,
        "uncommitted configuration must not leak"
    );
    tx.rollback().unwrap();
    assert_eq!(rows(&mut a, &ext), no_likes);
    exec(&mut b, "SELECT mking_analytics.reset_sources()");
    assert_eq!(rows(&mut a, &ext), all);
}

#[test]
fn database_level_settings() {
    let mut s = fresh_db("it_connections_db");
    create_platform_and_oracle(&mut s);
    let (sql, _) = data::dataset_sql(5);
    exec(&mut s, &sql);
    install_extension(&mut s);
    exec(
        &mut s,
        "ALTER DATABASE it_connections_db SET mking_analytics.week_start = 'sunday';
         ALTER DATABASE it_connections_db SET TimeZone = 'America/New_York';",
    );
    drop(s);
    let mut c = connect("it_connections_db");
    // tz NULL = the session's TimeZone (from the database); weeks start on Sunday (from the database)
    let got = rows(
        &mut c,
        &format!("SELECT to_char(time, 'Dy HH24:MI TZH'), new_users FROM mking_analytics.new_users({R}, 'week')"),
    );
    let want = rows(
        &mut c,
        &format!(
            "SELECT to_char(time, 'Dy HH24:MI TZH'), new_users FROM oracle.new_users({R}, 'week')"
        ),
    );
    assert!(
        got.iter().all(|r| r.starts_with("Sun 00:00 -0")),
        "Sunday local midnights: {got:?}"
    );
    assert_eq!(got, want);
}

#[test]
fn concurrent_sessions() {
    let mut s = fresh_db("it_connections_par");
    create_platform_and_oracle(&mut s);
    let (sql, _) = data::dataset_sql(21);
    exec(&mut s, &sql);
    install_extension(&mut s);
    let calls = [
        format!("SELECT * FROM {{}}.active_users({R}, 'day', 'America/New_York', '{{any}}', 7)"),
        format!("SELECT * FROM {{}}.retention({R}, 'week', 4, 'recurring', 'on_or_after', 'Asia/Kolkata', '2026-04-01')"),
        format!("SELECT * FROM {{}}.lifecycle({R}, 'day', 'Australia/Lord_Howe')"),
        format!("SELECT * FROM {{}}.kpis({R}, 'UTC')"),
    ];
    let expected: Vec<Vec<String>> = calls
        .iter()
        .map(|c| {
            let mut v = rows(
                &mut s,
                &format!("{} ORDER BY 1, 2", c.replace("{}", "oracle")),
            );
            v.sort();
            v
        })
        .collect();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let calls = calls.clone();
            let expected = expected.clone();
            std::thread::spawn(move || {
                let mut c = connect("it_connections_par");
                exec(&mut c, "SET TimeZone = 'UTC'");
                for i in 0..6 {
                    let k = (t + i) % calls.len();
                    let mut got = rows(
                        &mut c,
                        &format!(
                            "{} ORDER BY 1, 2",
                            calls[k].replace("{}", "mking_analytics")
                        ),
                    );
                    got.sort();
                    if calls[k].contains("kpis") {
                        continue; // averages are compared elsewhere, rounded
                    }
                    assert_eq!(got, expected[k], "thread {t}, call {k}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a concurrent session failed");
    }
}
