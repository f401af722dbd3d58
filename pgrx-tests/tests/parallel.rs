//! The user-set aggregates under real parallel plans: committed data on the private cluster, a
//! session that forces parallelism, and a second, serial session to compare with. The plan must
//! show a Partial Aggregate under a Gather with workers planned and launched; every answer must
//! equal the serial one and plain `count(DISTINCT ...)`.

use mking_analytics_integration::{
    connect, err_text, exec, expect_err, fresh_db, install_extension, scalar, sqlstate, text_rows,
};
use postgres::Client;

const DB: &str = "it_parallel";

const FORCE_PARALLEL: &str = "SET parallel_setup_cost = 0;
     SET parallel_tuple_cost = 0;
     SET min_parallel_table_scan_size = 0;
     SET min_parallel_index_scan_size = 0;
     SET max_parallel_workers_per_gather = 2;
     SET force_parallel_mode = on;";

const SERIAL: &str = "SET max_parallel_workers_per_gather = 0; SET force_parallel_mode = off;";

fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    text_rows(c, sql)
        .unwrap_or_else(|e| panic!("{sql}\n=> {}", err_text(&e)))
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn explain(c: &mut Client, options: &str, sql: &str) -> String {
    rows(c, &format!("EXPLAIN ({options}) {sql}")).join("\n")
}

/// Checks the plan is parallel with a partial step, and that workers really ran; returns the
/// number of workers launched.
fn assert_parallel(c: &mut Client, sql: &str) -> u32 {
    let text = explain(c, "COSTS OFF", sql);
    assert!(
        text.contains("Partial Aggregate") || text.contains("Partial HashAggregate"),
        "no partial aggregation for {sql}:\n{text}"
    );
    assert!(text.contains("Gather"), "no Gather for {sql}:\n{text}");
    let json = explain(c, "FORMAT JSON", sql);
    assert!(json.contains("\"Partial Mode\": \"Partial\""), "{json}");
    assert!(json.contains("\"Partial Mode\": \"Finalize\""), "{json}");
    assert!(json.contains("\"Workers Planned\": 2"), "{json}");
    let analyzed = explain(c, "ANALYZE, FORMAT JSON, TIMING OFF", sql);
    let launched = analyzed
        .split("\"Workers Launched\": ")
        .nth(1)
        .and_then(|s| s.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no Workers Launched in:\n{analyzed}"));
    assert!(
        launched >= 1,
        "no parallel worker launched for {sql}:\n{analyzed}"
    );
    launched
}

fn setup() {
    let mut c = fresh_db(DB);
    install_extension(&mut c);
    // 300k events over 10 days: ~60k distinct users (negative ids and the extremes included),
    // every 97th user id NULL; committed before any parallel query.
    exec(
        &mut c,
        "CREATE TABLE events (user_id bigint, at timestamptz, pad int);
         INSERT INTO events
           SELECT CASE WHEN g % 97 = 0 THEN NULL ELSE (g::bigint * 7919) % 60000 - 20000 END,
                  '2026-03-01 00:00+00'::timestamptz + (g % 240) * interval '1 hour' + (g % 60) * interval '1 minute',
                  g
             FROM generate_series(1, 300000) g;
         INSERT INTO events VALUES (-9223372036854775808, '2026-03-02 05:00+00', 0),
                                   (9223372036854775807, '2026-03-02 05:00+00', 0);
         ANALYZE events;",
    );
}

#[test]
fn parallel_user_set_equals_serial_and_count_distinct() {
    setup();
    let mut par = connect(DB);
    let mut ser = connect(DB);
    exec(&mut par, FORCE_PARALLEL);
    exec(&mut ser, SERIAL);

    let q = "SELECT mking_analytics.user_set_count(mking_analytics.user_set(user_id)) FROM events";
    let launched = assert_parallel(&mut par, q);
    let ser_plan = explain(&mut ser, "COSTS OFF", q);
    assert!(!ser_plan.contains("Gather"), "{ser_plan}");

    let distinct = scalar(&mut ser, "SELECT count(DISTINCT user_id) FROM events").unwrap();
    assert_eq!(distinct, "60002");
    assert_eq!(
        scalar(&mut par, q).unwrap(),
        distinct,
        "parallel ({launched} workers)"
    );
    assert_eq!(scalar(&mut ser, q).unwrap(), distinct, "serial");

    // the whole set, not only its size
    let ids = "SELECT mking_analytics.user_set_to_array(mking_analytics.user_set(user_id))::text FROM events";
    assert_parallel(&mut par, ids);
    let want = scalar(
        &mut ser,
        "SELECT array_agg(DISTINCT user_id ORDER BY user_id)::text FROM events WHERE user_id IS NOT NULL",
    );
    assert_eq!(scalar(&mut par, ids), want);
    assert_eq!(scalar(&mut ser, ids), want);
}

#[test]
fn parallel_grouped_sets_equal_serial() {
    setup();
    let mut par = connect(DB);
    let mut ser = connect(DB);
    exec(&mut par, FORCE_PARALLEL);
    exec(&mut ser, SERIAL);
    let q = "SELECT date_trunc('day', at, 'UTC') AS day,
                    mking_analytics.user_set_count(mking_analytics.user_set(user_id)) AS users
               FROM events GROUP BY 1 ORDER BY 1";
    assert_parallel(&mut par, q);
    let want = rows(
        &mut ser,
        "SELECT date_trunc('day', at, 'UTC'), count(DISTINCT user_id) FROM events GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(want.len(), 10);
    assert_eq!(rows(&mut par, q), want);
    assert_eq!(rows(&mut ser, q), want);
    // hash aggregation in the workers too
    exec(
        &mut par,
        "SET enable_sort = off; SET enable_incremental_sort = off",
    );
    let hashed = explain(&mut par, "COSTS OFF", q);
    assert!(hashed.contains("Partial HashAggregate"), "{hashed}");
    assert_eq!(rows(&mut par, q), want);
}

#[test]
fn parallel_rollup_union_equals_raw_and_rejects_corrupt_sets() {
    setup();
    let mut par = connect(DB);
    let mut ser = connect(DB);
    exec(&mut par, FORCE_PARALLEL);
    exec(&mut ser, SERIAL);
    // hourly sets, built by a parallel plan and committed
    let build =
        "SELECT date_trunc('hour', at, 'UTC') AS hour, mking_analytics.user_set(user_id) AS users
                   FROM events GROUP BY 1";
    assert_parallel(&mut par, build);
    exec(
        &mut par,
        &format!("CREATE TABLE hourly AS {build}; ANALYZE hourly"),
    );
    assert_eq!(
        scalar(&mut ser, "SELECT count(*) FROM hourly").as_deref(),
        Some("240")
    );

    let total =
        "SELECT mking_analytics.user_set_count(mking_analytics.user_set_union(users)) FROM hourly";
    assert_parallel(&mut par, total);
    let distinct = scalar(&mut ser, "SELECT count(DISTINCT user_id) FROM events");
    assert_eq!(scalar(&mut par, total), distinct);
    assert_eq!(scalar(&mut ser, total), distinct);

    let daily = "SELECT date_trunc('day', hour, 'UTC'),
                        mking_analytics.user_set_to_array(mking_analytics.user_set_union(users))::text
                   FROM hourly GROUP BY 1 ORDER BY 1";
    let want = rows(
        &mut ser,
        "SELECT date_trunc('day', at, 'UTC'), array_agg(DISTINCT user_id ORDER BY user_id)::text
           FROM events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(rows(&mut par, daily), want);
    assert_eq!(rows(&mut ser, daily), want);

    // a corrupt stored set fails the parallel query with 22P03 (raised in a worker), never a crash
    exec(
        &mut par,
        "INSERT INTO hourly VALUES ('2026-04-01 00:00+00', '\\x01ffff'::bytea)",
    );
    let e = expect_err(&mut par, total);
    assert_eq!(sqlstate(&e).as_deref(), Some("22P03"), "{}", err_text(&e));
    let e = expect_err(&mut ser, total);
    assert_eq!(sqlstate(&e).as_deref(), Some("22P03"), "{}", err_text(&e));
    // and the server is still fine
    assert_eq!(scalar(&mut par, "SELECT 1").as_deref(), Some("1"));
}
