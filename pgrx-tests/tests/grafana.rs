//! Grafana-style calls: `$__timeFrom()` / `$__timeTo()` bound as timestamptz parameters over the
//! extended protocol; week start carried by the data source's role.

use chrono::{DateTime, TimeZone, Utc};
use mking_analytics_integration::{
    connect_as, create_platform_and_oracle, data, ensure_login_role, err_text, exec, fresh_db,
    install_extension,
};
use postgres::types::Type;

const DB: &str = "it_grafana";

#[test]
fn grafana_time_series_query() {
    let mut c = fresh_db(DB);
    create_platform_and_oracle(&mut c);
    let (sql, _) = data::dataset_sql(11);
    exec(&mut c, &sql);
    install_extension(&mut c);

    let q = "SELECT time, active_users FROM mking_analytics.active_users($1, $2, 'day', 'UTC')";
    let stmt = c
        .prepare(q)
        .unwrap_or_else(|e| panic!("prepare {q}: {}", err_text(&e)));
    assert_eq!(
        stmt.params(),
        &[Type::TIMESTAMPTZ, Type::TIMESTAMPTZ],
        "parameter types"
    );
    let cols: Vec<(&str, Type)> = stmt
        .columns()
        .iter()
        .map(|c| (c.name(), c.type_().clone()))
        .collect();
    assert_eq!(
        cols,
        vec![("time", Type::TIMESTAMPTZ), ("active_users", Type::INT8)],
        "result columns"
    );
    // a dashboard range from 14:37:12 to 09:05:00 (Grafana sends millisecond precision)
    let from: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 2, 20, 14, 37, 12).unwrap();
    let to: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 22, 9, 5, 0).unwrap();
    let rows = c
        .query(&stmt, &[&from, &to])
        .unwrap_or_else(|e| panic!("{}", err_text(&e)));
    let times: Vec<DateTime<Utc>> = rows
        .iter()
        .map(|r| r.get::<_, DateTime<Utc>>("time"))
        .collect();
    assert_eq!(times.len(), 31, "one row per day Feb 20 .. Mar 22");
    assert_eq!(
        times[0],
        Utc.with_ymd_and_hms(2026, 2, 20, 0, 0, 0).unwrap()
    );
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "time sorted ascending"
    );
    // same values as the oracle
    let expected: Vec<i64> = c
        .query(
            "SELECT active_users FROM oracle.active_users($1, $2, 'day', 'UTC') ORDER BY time",
            &[&from, &to],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let got: Vec<i64> = rows.iter().map(|r| r.get("active_users")).collect();
    assert_eq!(got, expected);

    // Grafana's $__timeFilter-style text literals and date literals typed by an analyst
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM mking_analytics.new_users('2026-02-01', '2026-03-01', 'week', 'UTC')",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", err_text(&e)));
    assert_eq!(
        n, 5,
        "weeks overlapping February 2026 (Mon Jan 26 .. Mon Feb 23)"
    );
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM mking_analytics.active_users(date '2026-02-01', date '2026-03-01')",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", err_text(&e)));
    assert!(n >= 28, "dates pass straight in");
}

#[test]
fn week_start_from_the_data_source_role() {
    let mut c = fresh_db("it_grafana_role");
    create_platform_and_oracle(&mut c);
    let (sql, _) = data::dataset_sql(12);
    exec(&mut c, &sql);
    install_extension(&mut c);
    ensure_login_role(&mut c, "it_grafana_ds");
    exec(
        &mut c,
        "GRANT mking_analytics_reader TO it_grafana_ds;
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO it_grafana_ds;
         ALTER ROLE it_grafana_ds SET mking_analytics.week_start = 'sunday';",
    );
    let mut g = connect_as("it_grafana_role", "it_grafana_ds");
    let from: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let to: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
    let rows = g
        .query(
            "SELECT time, extract(dow FROM time AT TIME ZONE 'UTC')::int AS dow, new_users \
             FROM mking_analytics.new_users($1, $2, 'week', 'UTC')",
            &[&from, &to],
        )
        .unwrap_or_else(|e| panic!("{}", err_text(&e)));
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(
            r.get::<_, i32>("dow"),
            0,
            "weeks start on Sunday for this role"
        );
    }
    // and Monday for the superuser session
    let rows = c
        .query(
            "SELECT extract(dow FROM time AT TIME ZONE 'UTC')::int FROM mking_analytics.new_users($1, $2, 'week', 'UTC')",
            &[&from, &to],
        )
        .unwrap();
    assert!(
        rows.iter().all(|r| r.get::<_, i32>(0) == 1),
        "Monday weeks by default"
    );
    drop(g);
    exec(&mut c, "ALTER ROLE it_grafana_ds RESET ALL");
}
