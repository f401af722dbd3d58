//! The SQL contract of docs/metrics.md as seen in pg_proc: argument names, types, order and
//! defaults, result columns; invalid arguments (SQLSTATE 22023); empty data and empty ranges.

use mking_analytics_integration::{
    create_platform_and_oracle, err_text, fresh_db, install_extension, sqlstate, text_rows,
    ANALYTIC_FUNCTIONS,
};
use postgres::Client;

const TSTZ: &str = "timestamp with time zone";

/// (name, type, default SQL or None)
type Arg = (&'static str, &'static str, Option<&'static str>);

fn expected() -> Vec<(&'static str, Vec<Arg>, Vec<(&'static str, &'static str)>)> {
    let from = ("from_ts", TSTZ, None);
    let to = ("to_ts", TSTZ, None);
    let tz = ("tz", "text", Some("NULL::text"));
    let events = ("events", "text[]", Some("'{any}'::text[]"));
    vec![
        (
            "new_users",
            vec![from, to, ("bucket", "text", Some("'day'::text")), tz],
            vec![("time", TSTZ), ("new_users", "bigint")],
        ),
        (
            "active_users",
            vec![
                from,
                to,
                ("bucket", "text", Some("'day'::text")),
                tz,
                events,
                ("rolling", "integer", Some("1")),
            ],
            vec![("time", TSTZ), ("active_users", "bigint")],
        ),
        (
            "retention",
            vec![
                from,
                to,
                ("period", "text", Some("'day'::text")),
                ("periods", "integer", Some("30")),
                ("cohort", "text", Some("'signup'::text")),
                ("mode", "text", Some("'on'::text")),
                tz,
                ("as_of", TSTZ, Some("now()")),
                events,
            ],
            vec![
                ("cohort", TSTZ),
                ("cohort_size", "bigint"),
                ("period_offset", "integer"),
                ("retained", "bigint"),
                ("retention_rate", "numeric"),
            ],
        ),
        (
            "retention_summary",
            vec![from, to, tz, ("as_of", TSTZ, Some("now()"))],
            vec![
                ("cohort_date", "date"),
                ("cohort_size", "bigint"),
                ("day_1_retained", "bigint"),
                ("day_7_retained", "bigint"),
                ("day_30_retained", "bigint"),
                ("day_1_rate", "numeric"),
                ("day_7_rate", "numeric"),
                ("day_30_rate", "numeric"),
            ],
        ),
        (
            "lifecycle",
            vec![
                from,
                to,
                ("period", "text", Some("'day'::text")),
                tz,
                events,
            ],
            vec![("time", TSTZ), ("status", "text"), ("users", "bigint")],
        ),
        (
            "stickiness",
            vec![
                from,
                to,
                ("period", "text", Some("'day'::text")),
                tz,
                events,
            ],
            vec![("active_periods", "integer"), ("users", "bigint")],
        ),
        (
            "growth",
            vec![
                ("metric", "text", None),
                from,
                to,
                ("period", "text", Some("'month'::text")),
                tz,
            ],
            vec![
                ("time", TSTZ),
                ("value", "bigint"),
                ("previous_value", "bigint"),
                ("growth_rate", "numeric"),
            ],
        ),
        (
            "kpis",
            vec![from, to, tz],
            vec![
                ("metric", "text"),
                ("avg_value", "numeric"),
                ("max_value", "bigint"),
                ("min_value", "bigint"),
            ],
        ),
    ]
}

/// Evaluate a default expression (as text) in the current transaction.
fn eval(c: &mut postgres::Transaction, expr: Option<&str>) -> Result<Option<String>, String> {
    match expr {
        None => Ok(None),
        Some(e) => {
            let rows = c
                .simple_query(&format!("SELECT ({e})::text"))
                .map_err(|x| format!("{e}: {}", err_text(&x)))?;
            for m in rows {
                if let postgres::SimpleQueryMessage::Row(r) = m {
                    return Ok(Some(r.get(0).unwrap_or("NULL").to_string()));
                }
            }
            Ok(None)
        }
    }
}

fn check_signatures(c: &mut Client) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, args, cols) in expected() {
        let procs = c
            .query(
                "SELECT p.oid::int8, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.proretset \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'mking_analytics' AND p.proname = $1",
                &[&name],
            )
            .unwrap();
        if procs.is_empty() {
            problems.push(format!("{name}: missing"));
            continue;
        }
        if procs.len() > 1 {
            let sigs: Vec<String> = procs.iter().map(|r| r.get::<_, String>(1)).collect();
            println!("note: {name} has {} overloads: {sigs:#?}", procs.len());
        }
        let mut best: Option<Vec<String>> = None;
        for p in &procs {
            let oid: i64 = p.get(0);
            let shown = format!(
                "mking_analytics.{name}({}) RETURNS {}",
                p.get::<_, String>(1),
                p.get::<_, String>(2)
            );
            let mut errs = Vec::new();
            if !p.get::<_, bool>(3) {
                errs.push("does not return a set".to_string());
            }
            let rows = c
                .query(
                    "SELECT a.ord::int, p.proargnames[a.ord], format_type(a.typ, NULL), \
                            coalesce(p.proargmodes[a.ord]::text, 'i'), pg_get_function_arg_default(p.oid, a.ord::int) \
                     FROM pg_proc p, unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY a(typ, ord) \
                     WHERE p.oid = $1::int8::oid ORDER BY a.ord",
                    &[&oid],
                )
                .unwrap();
            let ins: Vec<(String, String, Option<String>)> = rows
                .iter()
                .filter(|r| matches!(r.get::<_, String>(3).as_str(), "i" | "b" | "v"))
                .map(|r| {
                    (
                        r.get::<_, Option<String>>(1).unwrap_or_default(),
                        r.get(2),
                        r.get(4),
                    )
                })
                .collect();
            let outs: Vec<(String, String)> = rows
                .iter()
                .filter(|r| matches!(r.get::<_, String>(3).as_str(), "o" | "t" | "b"))
                .map(|r| (r.get::<_, Option<String>>(1).unwrap_or_default(), r.get(2)))
                .collect();
            let got_in: Vec<(String, String)> =
                ins.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect();
            let want_in: Vec<(String, String)> = args
                .iter()
                .map(|(n, t, _)| (n.to_string(), t.to_string()))
                .collect();
            if got_in != want_in {
                errs.push(format!("arguments {got_in:?}, want {want_in:?}"));
            } else {
                // defaults: evaluated side by side in one transaction (now() is stable there)
                let mut tx = c.transaction().unwrap();
                for ((an, _, want_def), (_, _, got_def)) in args.iter().zip(ins.iter()) {
                    let w = eval(&mut tx, *want_def);
                    let g = eval(&mut tx, got_def.as_deref());
                    let same = match (&w, &g) {
                        (Ok(a), Ok(b)) => a == b && (want_def.is_some() == got_def.is_some()),
                        _ => false,
                    };
                    if !same {
                        errs.push(format!("default of {an}: {got_def:?}, want {want_def:?}"));
                    }
                }
                tx.rollback().unwrap();
            }
            let want_out: Vec<(String, String)> = cols
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect();
            if outs != want_out {
                errs.push(format!("result columns {outs:?}, want {want_out:?}"));
            }
            if errs.is_empty() {
                best = None;
                break;
            }
            errs.insert(0, shown);
            best = Some(errs);
        }
        if let Some(errs) = best {
            problems.push(format!("{name}: {}", errs.join("\n    ")));
        }
    }
    problems
}

#[test]
fn signatures_match_metrics_md() {
    let mut c = fresh_db("it_contract_sig");
    install_extension(&mut c);
    let problems = check_signatures(&mut c);
    assert!(
        problems.is_empty(),
        "contract differences:\n  {}",
        problems.join("\n  ")
    );
}

fn expect_22023(c: &mut Client, sql: &str, names: &[&str], problems: &mut Vec<String>) {
    match c.batch_execute(sql) {
        Ok(()) => problems.push(format!("no error from {sql}")),
        Err(e) => {
            let msg = e
                .as_db_error()
                .map(|d| format!("{} {}", d.message(), d.hint().unwrap_or("")))
                .unwrap_or_default();
            if sqlstate(&e).as_deref() != Some("22023") {
                problems.push(format!(
                    "{sql}: SQLSTATE {:?}, want 22023: {}",
                    sqlstate(&e),
                    err_text(&e)
                ));
            } else if !names.iter().any(|n| msg.to_lowercase().contains(n)) {
                problems.push(format!(
                    "{sql}: message does not name the argument ({names:?}): {msg}"
                ));
            }
        }
    }
}

#[test]
fn invalid_arguments_raise_22023() {
    let mut c = fresh_db("it_contract_args");
    create_platform_and_oracle(&mut c);
    install_extension(&mut c);
    let r = "'2026-03-01 00:00+00'::timestamptz, '2026-03-05 00:00+00'::timestamptz";
    let rev = "'2026-03-05 00:00+00'::timestamptz, '2026-03-01 00:00+00'::timestamptz";
    let mut p = Vec::new();
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.new_users({r}, 'hour', 'UTC')"),
        &["bucket"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.active_users({r}, 'year', 'UTC')"),
        &["bucket"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.new_users({rev}, 'day', 'UTC')"),
        &["from_ts", "to_ts", "range"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.active_users({r}, 'day', 'Mars/Olympus_Mons')"),
        &["tz", "time zone", "timezone"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.retention({r}, 'day', -1)"),
        &["periods"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.retention({r}, 'fortnight', 3)"),
        &["period"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.growth('revenue', {r}, 'day', 'UTC')"),
        &["metric"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.lifecycle({r}, 'hour', 'UTC')"),
        &["period"],
        &mut p,
    );
    expect_22023(
        &mut c,
        &format!("SELECT * FROM mking_analytics.kpis({r}, 'Nowhere/Special')"),
        &["tz", "time zone", "timezone"],
        &mut p,
    );
    for (sql, names) in [
        (
            format!("SELECT * FROM mking_analytics.retention({r}, 'day', 3, 'bogus')"),
            &["cohort"][..],
        ),
        (
            format!("SELECT * FROM mking_analytics.retention({r}, 'day', 3, 'signup', 'bogus')"),
            &["mode"][..],
        ),
        (
            format!("SELECT * FROM mking_analytics.active_users({r}, 'day', 'UTC', '{{any}}', 0)"),
            &["rolling"][..],
        ),
        (
            format!(
                "SELECT * FROM mking_analytics.active_users({r}, 'day', 'UTC', '{{nonsense}}')"
            ),
            &["events", "nonsense"][..],
        ),
        (
            format!("SELECT * FROM mking_analytics.stickiness({r}, 'quarter', 'UTC')"),
            &["period"][..],
        ),
    ] {
        expect_22023(&mut c, &sql, names, &mut p);
    }
    assert!(
        p.is_empty(),
        "invalid-argument handling:\n  {}",
        p.join("\n  ")
    );
}

#[test]
fn empty_data_and_empty_ranges() {
    let mut c = fresh_db("it_contract_empty");
    create_platform_and_oracle(&mut c);
    install_extension(&mut c);
    let r = "'2026-03-01 14:37+00'::timestamptz, '2026-03-05 00:00+00'::timestamptz";
    let e = "'2026-03-01 00:00+00'::timestamptz, '2026-03-01 00:00+00'::timestamptz";
    let mut p = Vec::new();
    for f in ANALYTIC_FUNCTIONS {
        let args = if f == "growth" {
            format!("'posts', {r}")
        } else {
            r.to_string()
        };
        let eargs = if f == "growth" {
            format!("'posts', {e}")
        } else {
            e.to_string()
        };
        match text_rows(
            &mut c,
            &format!("SELECT count(*) FROM mking_analytics.{f}({args})"),
        ) {
            Ok(_) => {}
            Err(x) => p.push(format!("{f} on empty tables: {}", err_text(&x))),
        }
        match text_rows(
            &mut c,
            &format!("SELECT count(*) FROM mking_analytics.{f}({eargs})"),
        ) {
            Ok(rows) => {
                if rows[0][0].as_deref() != Some("0") {
                    p.push(format!(
                        "{f} with from_ts = to_ts returned {:?} rows, want none",
                        rows[0][0]
                    ));
                }
            }
            Err(x) => p.push(format!("{f} with from_ts = to_ts: {}", err_text(&x))),
        }
    }
    // zero-filled: 4 days (the first starts before from_ts)
    let rows = text_rows(
        &mut c,
        &format!("SELECT time, new_users FROM mking_analytics.new_users({r}, 'day', 'UTC')"),
    )
    .unwrap();
    if rows.len() != 4 || rows.iter().any(|x| x[1].as_deref() != Some("0")) {
        p.push(format!(
            "new_users on empty data: {rows:?}, want 4 zero rows"
        ));
    }
    assert!(p.is_empty(), "{}", p.join("\n"));
}
