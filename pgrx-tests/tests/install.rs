//! CREATE EXTENSION in a database without pg_cron, in a second database of the same cluster
//! (roles already exist then), and in pg_cron's database; the schema and the nine tables.

use mking_analytics_integration::{
    connect, err_text, exec, fresh_db, install_extension, scalar, text_rows, ANALYSIS_TABLES_HINT,
    ANALYTICS_TABLES, ANALYTIC_FUNCTIONS,
};
use postgres::Client;

fn check_objects(c: &mut Client) {
    assert_eq!(
        scalar(
            c,
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'mking_analytics'"
        )
        .as_deref(),
        Some("mking_analytics"),
        "the extension's schema"
    );
    for f in ANALYTIC_FUNCTIONS
        .iter()
        .chain(["set_source", "reset_sources"].iter())
    {
        let n = scalar(
            c,
            &format!(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'mking_analytics' AND p.proname = '{f}'"
            ),
        );
        assert_ne!(
            n.as_deref(),
            Some("0"),
            "function mking_analytics.{f} missing"
        );
    }
    // nothing of ours leaked into public
    let leaked = scalar(
        c,
        "SELECT string_agg(p.proname, ', ') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' AND p.proname IN ('new_users','active_users','retention','retention_summary',\
         'lifecycle','stickiness','growth','kpis','set_source','reset_sources')",
    );
    assert_eq!(leaked, None, "functions in public");
    let mut missing = Vec::new();
    for (table, cols) in ANALYTICS_TABLES {
        let have: Vec<String> = text_rows(
            c,
            &format!(
                "SELECT column_name FROM information_schema.columns \
                 WHERE table_schema = 'mking_analytics' AND table_name = '{table}'"
            ),
        )
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
        if have.is_empty() {
            missing.push(format!("table mking_analytics.{table}"));
            continue;
        }
        for col in cols {
            if !have.iter().any(|h| h == col) {
                missing.push(format!("column mking_analytics.{table}.{col}"));
            }
        }
        // id is the primary key
        let pk = scalar(
            c,
            &format!(
                "SELECT string_agg(a.attname, ',') FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                 WHERE i.indrelid = 'mking_analytics.{table}'::regclass AND i.indisprimary"
            ),
        );
        if pk.as_deref() != Some("id") {
            missing.push(format!(
                "primary key (id) of mking_analytics.{table}: found {pk:?}"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "{ANALYSIS_TABLES_HINT}:\n  {}",
        missing.join("\n  ")
    );
    // typed columns and defaults the plan fixes
    for (table, col, ty) in [
        ("user_behavior_analytics", "ip_address", "inet"),
        (
            "content_performance_analytics",
            "engagement_score",
            "numeric(10,2)",
        ),
        (
            "content_performance_analytics",
            "click_through_rate",
            "numeric(5,4)",
        ),
        ("business_metrics", "metric_value", "numeric(15,4)"),
        ("business_metrics", "calculation_date", "date"),
        ("business_metrics", "metadata", "jsonb"),
        ("report_generation_logs", "report_date", "date"),
        ("dashboard_configs", "config_data", "jsonb"),
        ("dashboard_configs", "is_default", "boolean"),
        ("alert_rules", "condition_query", "text"),
        ("alert_rules", "threshold_value", "numeric(15,4)"),
        ("alert_rules", "alert_channels", "jsonb"),
        ("alert_rules", "is_active", "boolean"),
        ("alert_rules", "cooldown_minutes", "integer"),
        // Widened from the plan's numeric(15,4) (tables.md allows it): a query rule's value may
        // exceed 10^11 or carry more digits, and recording it must never fail the round.
        ("alert_triggers", "trigger_value", "numeric"),
        ("alert_triggers", "threshold_value", "numeric"),
        ("alert_triggers", "alert_message", "text"),
    ] {
        let got = scalar(
            c,
            &format!(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                 WHERE attrelid = 'mking_analytics.{table}'::regclass AND attname = '{col}'"
            ),
        );
        assert_eq!(
            got.as_deref(),
            Some(ty),
            "type of mking_analytics.{table}.{col}"
        );
    }
    for (table, col, default) in [
        ("report_generation_logs", "generation_status", "pending"),
        ("data_export_logs", "export_status", "pending"),
        ("alert_triggers", "notification_status", "pending"),
        ("alert_rules", "is_active", "true"),
        ("alert_rules", "cooldown_minutes", "5"),
        ("dashboard_configs", "is_default", "false"),
    ] {
        let got = scalar(
            c,
            &format!(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a \
                 ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
                 WHERE d.adrelid = 'mking_analytics.{table}'::regclass AND a.attname = '{col}'"
            ),
        )
        .unwrap_or_default();
        assert!(
            got.contains(default),
            "default of mking_analytics.{table}.{col}: {got:?}, want {default}"
        );
    }
    let fk = scalar(
        c,
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' \
         AND conrelid = 'mking_analytics.alert_triggers'::regclass \
         AND confrelid = 'mking_analytics.alert_rules'::regclass",
    );
    assert_eq!(
        fk.as_deref(),
        Some("1"),
        "alert_triggers.alert_rule_id references alert_rules"
    );
    // the source configuration table
    let cols = scalar(
        c,
        "SELECT string_agg(attname, ',' ORDER BY attname) FROM pg_attribute \
         WHERE attrelid = 'mking_analytics.sources'::regclass AND attnum > 0 AND NOT attisdropped \
         AND attname IN ('source_name','relation','user_column','time_column','target_column',\
         'columns','is_activity','enabled','is_default')",
    );
    assert_eq!(
        cols.as_deref(),
        Some("columns,enabled,is_activity,is_default,relation,source_name,target_column,time_column,user_column")
    );
    let names = scalar(
        c,
        "SELECT string_agg(source_name, ',' ORDER BY source_name) FROM mking_analytics.sources WHERE is_default",
    );
    assert_eq!(
        names.as_deref(),
        Some("comment,follow,like,post,session,share,signup"),
        "default sources"
    );
}

fn roles_exist(c: &mut Client) {
    let n = scalar(
        c,
        "SELECT count(*) FROM pg_roles WHERE rolname IN ('mking_analytics_reader', 'mking_analytics_admin')",
    );
    assert_eq!(
        n.as_deref(),
        Some("2"),
        "roles mking_analytics_reader / mking_analytics_admin"
    );
}

#[test]
fn install_in_two_databases_without_pg_cron() {
    let mut a = fresh_db("it_install_a");
    assert_eq!(
        scalar(
            &mut a,
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'"
        )
        .as_deref(),
        Some("0")
    );
    install_extension(&mut a);
    roles_exist(&mut a);
    check_objects(&mut a);

    // a second database: the roles exist already, the install must not fail
    let mut b = fresh_db("it_install_b");
    install_extension(&mut b);
    check_objects(&mut b);

    // drop and re-create in the first one
    exec(&mut a, "DROP EXTENSION mking_analytics CASCADE");
    roles_exist(&mut a);
    install_extension(&mut a);
    check_objects(&mut a);

    // and with an explicit schema request matching the control file's
    let mut c = fresh_db("it_install_c");
    if let Err(e) = c.batch_execute("CREATE EXTENSION mking_analytics CASCADE") {
        panic!("CREATE EXTENSION ... CASCADE: {}", err_text(&e));
    }
    check_objects(&mut c);
}

#[test]
fn install_next_to_pg_cron() {
    // pg_cron runs in cron.database_name = 'mking_it' (made by scripts/integration-test.sh)
    let mut admin = connect("postgres");
    if scalar(
        &mut admin,
        "SELECT count(*) FROM pg_database WHERE datname = 'mking_it'",
    )
    .as_deref()
        != Some("1")
    {
        exec(&mut admin, "CREATE DATABASE mking_it");
    }
    let mut c = connect("mking_it");
    exec(&mut c, "DROP EXTENSION IF EXISTS mking_analytics CASCADE");
    exec(&mut c, "CREATE EXTENSION IF NOT EXISTS pg_cron");
    install_extension(&mut c);
    roles_exist(&mut c);
    check_objects(&mut c);
    exec(&mut c, "DROP EXTENSION mking_analytics CASCADE");
}
