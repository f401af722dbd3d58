//! Every SQL statement of the listener. Rows are claimed by status ('pending' -> 'sending') while
//! holding a session advisory lock on the row, so two listeners never work on one notification,
//! and a 'sending' row whose lock nobody holds was left by a listener that died: it is taken over
//! at once (no guessing with timeouts).

use crate::format::{Alert, Report};
use crate::payload::AlertStatus;
use postgres::Client;

/// One notification to deliver: a trigger's firing, its resolution, or a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Firing,
    Resolve,
    Report,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: Kind,
    pub id: i64,
}

impl Key {
    pub fn alert(id: i64, status: AlertStatus) -> Key {
        let kind = match status {
            AlertStatus::Firing => Kind::Firing,
            AlertStatus::Resolved => Kind::Resolve,
        };
        Key { kind, id }
    }

    /// For log lines: `alert 42 firing`, `alert 42 resolved`, `report 7`.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Firing => format!("alert {} firing", self.id),
            Kind::Resolve => format!("alert {} resolved", self.id),
            Kind::Report => format!("report {}", self.id),
        }
    }

    fn table_and_status_column(&self) -> (&'static str, &'static str) {
        match self.kind {
            Kind::Firing => ("mking_analytics.alert_triggers", "notification_status"),
            Kind::Resolve => (
                "mking_analytics.alert_triggers",
                "resolve_notification_status",
            ),
            Kind::Report => ("mking_analytics.reports", "delivery_status"),
        }
    }

    /// The two int4 keys of `pg_try_advisory_lock(int4, int4)`: a namespace per kind ("mk" and
    /// 1, 2, 3) and the row id. Ids above 2^31 wrap; a collision only makes a listener skip a
    /// row until the next poll, never deliver it twice.
    fn lock_keys(&self) -> (i32, i32) {
        let class = match self.kind {
            Kind::Firing => 0x6d6b_0001,
            Kind::Resolve => 0x6d6b_0002,
            Kind::Report => 0x6d6b_0003,
        };
        (class, self.id as i32)
    }
}

/// The final or intermediate state written after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Attempt failed, another one follows: stays 'sending'.
    Retrying,
    Delivered,
    Failed,
    None,
}

/// Session settings and LISTEN, once per connection.
pub fn prepare_session(client: &mut Client) -> Result<(), postgres::Error> {
    // ISO timestamps in UTC in every message; no statement may hang the loop forever.
    client.batch_execute(
        "SET TimeZone = 'UTC'; SET statement_timeout = '60s'; \
         LISTEN mking_analytics_alerts; LISTEN mking_analytics_reports",
    )
}

/// The privileges docs/listener.md asks for, checked once at start: a missing one is named with
/// its GRANT, instead of failing row after row.
pub fn check_setup(client: &mut Client) -> Result<Result<(), String>, postgres::Error> {
    let row = client.query_one(
        "SELECT current_database()::text, current_user::text, \
                (SELECT has_schema_privilege(n.oid, 'USAGE') FROM pg_namespace n WHERE n.nspname = 'mking_analytics')",
        &[],
    )?;
    let (db, user): (String, String) = (row.get(0), row.get(1));
    match row.get::<_, Option<bool>>(2) {
        None => {
            return Ok(Err(format!(
                "database {db} has no schema mking_analytics: run CREATE EXTENSION mking_analytics there, or connect to the right database"
            )))
        }
        Some(false) => {
            return Ok(Err(format!(
                "role {user} lacks USAGE on schema mking_analytics: GRANT mking_analytics_reader TO {user}; (see docs/listener.md)"
            )))
        }
        Some(true) => {}
    }
    let checks: &[(&str, &str, &str)] = &[
        ("alert_rules", "", "SELECT"),
        ("alert_triggers", "", "SELECT"),
        ("reports", "", "SELECT"),
        ("report_subscribers", "", "SELECT"),
        ("alert_triggers", "notification_status", "UPDATE"),
        ("alert_triggers", "resolve_notification_status", "UPDATE"),
        ("alert_triggers", "delivery_attempts", "UPDATE"),
        ("alert_triggers", "last_delivery_error", "UPDATE"),
        ("alert_triggers", "delivered_at", "UPDATE"),
        ("reports", "delivery_status", "UPDATE"),
        ("reports", "delivery_attempts", "UPDATE"),
        ("reports", "last_delivery_error", "UPDATE"),
        ("reports", "delivered_at", "UPDATE"),
    ];
    let mut missing = Vec::new();
    for (table, column, privilege) in checks {
        let qualified = format!("mking_analytics.{table}");
        let ok: Option<bool> = if column.is_empty() {
            client
                .query_one(
                    "SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE has_table_privilege($1, $2) END",
                    &[&qualified, privilege],
                )?
                .get(0)
        } else {
            client
                .query_one(
                    "SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE has_column_privilege($1, $2, $3) END",
                    &[&qualified, column, privilege],
                )?
                .get(0)
        };
        match ok {
            None => {
                return Ok(Err(format!(
                    "table {qualified} is missing: this mking_analytics version predates the listener; ALTER EXTENSION mking_analytics UPDATE"
                )))
            }
            Some(false) if column.is_empty() => missing.push(format!("{privilege} ON {qualified}")),
            Some(false) => missing.push(format!("{privilege} ({column}) ON {qualified}")),
            Some(true) => {}
        }
    }
    if missing.is_empty() {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "role {user} lacks privileges the listener needs: {}. The GRANT recipe is in docs/listener.md",
            missing.join(", ")
        )))
    }
}

/// Everything waiting for delivery: firings first, then resolutions, then reports, oldest first.
pub fn pending(client: &mut Client) -> Result<Vec<Key>, postgres::Error> {
    let rows = client.query(
        "SELECT 1, id FROM mking_analytics.alert_triggers WHERE notification_status IN ('pending', 'sending') \
         UNION ALL \
         SELECT 2, id FROM mking_analytics.alert_triggers WHERE resolve_notification_status IN ('pending', 'sending') \
         UNION ALL \
         SELECT 3, id FROM mking_analytics.reports WHERE delivery_status IN ('pending', 'sending') \
         ORDER BY 1, 2",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind = match r.get::<_, i32>(0) {
                1 => Kind::Firing,
                2 => Kind::Resolve,
                _ => Kind::Report,
            };
            Key { kind, id: r.get(1) }
        })
        .collect())
}

pub fn try_lock(client: &mut Client, key: Key) -> Result<bool, postgres::Error> {
    let (a, b) = key.lock_keys();
    Ok(client
        .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&a, &b])?
        .get(0))
}

pub fn unlock(client: &mut Client, key: Key) -> Result<(), postgres::Error> {
    let (a, b) = key.lock_keys();
    client.query_one("SELECT pg_advisory_unlock($1, $2)", &[&a, &b])?;
    Ok(())
}

/// Claim a trigger's firing or resolution (status -> 'sending') and read it with its rule's
/// channels. None: nothing to do (already done, or a resolution whose firing is still on its way).
pub fn claim_alert(
    client: &mut Client,
    trigger_id: i64,
    status: AlertStatus,
) -> Result<Option<(Alert, String)>, postgres::Error> {
    let sql = match status {
        AlertStatus::Firing => {
"UPDATE mking_analytics.alert_triggers t SET notification_status = 'sending' \
             FROM mking_analytics.alert_rules r \
             WHERE t.id = $1 AND r.id = t.alert_rule_id AND t.notification_status IN ('pending', 'sending') \
             RETURNING t.alert_rule_id, t.rule_name, t.trigger_value::text, t.threshold_value::text, \
                       t.comparison_operator, to_json(t.created_at) #>> '{}', t.alert_message, r.alert_channels::text"
        }
        // A resolution goes out only after its firing's delivery ended, so they arrive in order.
        AlertStatus::Resolved => "UPDATE mking_analytics.alert_triggers t SET resolve_notification_status = 'sending' \
             FROM mking_analytics.alert_rules r \
             WHERE t.id = $1 AND r.id = t.alert_rule_id AND t.resolve_notification_status IN ('pending', 'sending') \
               AND t.notification_status NOT IN ('pending', 'sending') \
             RETURNING t.alert_rule_id, t.rule_name, t.trigger_value::text, t.threshold_value::text, \
                       t.comparison_operator, to_json(coalesce(t.resolved_at, now())) #>> '{}', t.alert_message, r.alert_channels::text",
    };
    let row = client.query_opt(sql, &[&trigger_id])?;
    Ok(row.map(|r| {
        (
            Alert {
                trigger_id,
                rule_id: r.get(0),
                rule_name: r.get(1),
                value: r.get(2),
                threshold: r.get(3),
                operator: r.get(4),
                status,
                at: r.get::<_, Option<String>>(5).unwrap_or_default(),
                message: r.get(6),
            },
            r.get(7),
        )
    }))
}

/// Claim a report (status -> 'sending') and read it with its subscribers.
pub fn claim_report(
    client: &mut Client,
    id: i64,
) -> Result<Option<(Report, Vec<String>)>, postgres::Error> {
    let row = client.query_opt(
        "UPDATE mking_analytics.reports SET delivery_status = 'sending' \
         WHERE id = $1 AND delivery_status IN ('pending', 'sending') \
         RETURNING report_type, period_start::text, period_end::text, tz, html, pdf",
        &[&id],
    )?;
    let Some(r) = row else { return Ok(None) };
    let report = Report {
        id,
        kind: r.get(0),
        period_start: r.get(1),
        period_end: r.get(2),
        tz: r.get(3),
        html: r.get(4),
        pdf: r.get(5),
    };
    let subscribers = client
        .query(
            "SELECT email FROM mking_analytics.report_subscribers WHERE report_type = $1 ORDER BY email",
            &[&report.kind],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some((report, subscribers)))
}

/// Write the outcome of an attempt (`counted`: one more delivery attempt was made).
pub fn record(
    client: &mut Client,
    key: Key,
    status: Status,
    error: Option<&str>,
    counted: bool,
) -> Result<(), postgres::Error> {
    let (table, column) = key.table_and_status_column();
    let new_status = match status {
        Status::Retrying => "sending",
        Status::Delivered => "delivered",
        Status::Failed => "failed",
        Status::None => "none",
    };
    let delivered_at = if status == Status::Delivered {
        "now()"
    } else {
        "delivered_at"
    };
    let increment: i32 = i32::from(counted);
    // table and column come from the fixed list above, never from data.
    let sql = format!(
        "UPDATE {table} SET {column} = $2, delivery_attempts = delivery_attempts + $3, \
         last_delivery_error = $4, delivered_at = {delivered_at} WHERE id = $1"
    );
    client.execute(&sql, &[&key.id, &new_status, &increment, &error])?;
    Ok(())
}
