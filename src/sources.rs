//! Event sources: which relation and columns hold each kind of event (table `sources`).
//!
//! Identifiers from the configuration are checked against the catalog and quoted with
//! `quote_ident`, so configured names never become SQL text unquoted.

use crate::calendar::show;
use crate::errors::{bad_argument, raise, spi};
use pgrx::prelude::*;
use std::collections::HashMap;

/// How a time column is turned into an absolute instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// `timestamptz`: absolute already.
    Absolute,
    /// `timestamp` or `date`: wall time in `mking_analytics.source_timezone`.
    Wall,
}

/// A source resolved against the catalog, ready to be used in SQL.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// Quoted, schema-qualified relation.
    pub rel: String,
    /// Quoted column names.
    pub user: String,
    pub time: String,
    pub time_kind: TimeKind,
    pub target: Option<String>,
    columns: HashMap<String, String>,
}

impl Source {
    /// Quoted column for a named role in `columns` (e.g. "content_type"), if configured.
    pub fn column(&self, role: &str) -> Option<&str> {
        self.columns.get(role).map(String::as_str)
    }

    /// The event's absolute time as SQL (`$2` is the source zone).
    pub fn abs_time(&self, alias: &str) -> String {
        self.abs_of(&format!("{alias}.{}", self.time))
    }

    /// Absolute instant of a value of this source's time column type.
    pub fn abs_of(&self, value: &str) -> String {
        match self.time_kind {
            TimeKind::Absolute => value.to_string(),
            TimeKind::Wall => format!("({value}::timestamp AT TIME ZONE $2::text)"),
        }
    }

    /// The event's local wall time in the report zone `$1`.
    pub fn local_time(&self, alias: &str) -> String {
        format!("({} AT TIME ZONE $1::text)", self.abs_time(alias))
    }

    /// Index-friendly filter `time in [lo, hi)` given as SQL expressions of absolute instants.
    pub fn time_filter(&self, alias: &str, lo: &str, hi: &str) -> String {
        match self.time_kind {
            TimeKind::Absolute => format!("{alias}.{t} >= {lo} AND {alias}.{t} < {hi}", t = self.time),
            TimeKind::Wall => format!(
                "{alias}.{t} >= ({lo} AT TIME ZONE $2::text) AND {alias}.{t} < ({hi} AT TIME ZONE $2::text)",
                t = self.time
            ),
        }
    }

    /// Filter `time < hi`.
    pub fn time_before(&self, alias: &str, hi: &str) -> String {
        match self.time_kind {
            TimeKind::Absolute => format!("{alias}.{} < {hi}", self.time),
            TimeKind::Wall => format!("{alias}.{} < ({hi} AT TIME ZONE $2::text)", self.time),
        }
    }

    /// Whether the user column alone is unique in the relation (a primary key or unique index),
    /// so each user has at most one row.
    pub fn user_is_unique(&self) -> bool {
        spi(
            Spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
                                    ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                                 WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnatts = 1
                                   AND i.indpred IS NULL AND quote_ident(a.attname) = $2)",
                &[pgrx::datum::DatumWithOid::from(self.rel.clone()), pgrx::datum::DatumWithOid::from(self.user.clone())],
            ),
            "checking the user key",
        )
        .unwrap_or(false)
    }

    /// `SELECT DISTINCT` list of the duplicate key (user, target, time) as columns `u, g, t`:
    /// equal keys are one event.
    pub fn dedup_select(&self, alias: &str) -> String {
        let target = self
            .target
            .as_ref()
            .map_or("NULL::int".to_string(), |t| format!("{alias}.{t}"));
        format!(
            "{alias}.{} AS u, {target} AS g, {alias}.{} AS t",
            self.user, self.time
        )
    }
}

struct Row {
    name: String,
    relation: String,
    user_column: String,
    time_column: String,
    target_column: Option<String>,
    columns: HashMap<String, String>,
    is_activity: bool,
    enabled: bool,
    is_default: bool,
    rel_sql: Option<String>,
    /// Why this role must not read the relation (`source_trust_problem` in sql/schema.sql).
    trust_problem: Option<String>,
    col_types: HashMap<String, String>,
}

/// All sources, read once per call.
pub struct Sources {
    rows: Vec<Row>,
}

const LOAD_SQL: &str = "
SELECT s.source_name, s.relation, s.user_column, s.time_column, s.target_column, s.columns::text,
       s.is_activity, s.enabled, s.is_default,
       CASE WHEN r.oid IS NOT NULL THEN quote_ident(n.nspname) || '.' || quote_ident(r.relname) END,
       (SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, NULL))
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped)::text,
       CASE WHEN (SELECT mking_analytics.reads_elevated()) THEN
           mking_analytics.source_trust_problem(r.oid,
               ARRAY[s.user_column, s.time_column, s.target_column]
               || ARRAY(SELECT v FROM jsonb_each_text(s.columns) AS c(k, v))) END
  FROM mking_analytics.sources s
  LEFT JOIN pg_catalog.pg_class r ON r.oid = to_regclass(s.relation)
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
 ORDER BY s.source_name";

impl Sources {
    pub fn load() -> Sources {
        let rows = spi(
            Spi::connect(|client| {
                let mut out = Vec::new();
                for r in client.select(LOAD_SQL, None, &[])? {
                    let columns: HashMap<String, String> = r
                        .get::<String>(6)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default();
                    let col_types: HashMap<String, String> = r
                        .get::<String>(11)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default();
                    out.push(Row {
                        name: r.get::<String>(1)?.unwrap_or_default(),
                        relation: r.get::<String>(2)?.unwrap_or_default(),
                        user_column: r.get::<String>(3)?.unwrap_or_default(),
                        time_column: r.get::<String>(4)?.unwrap_or_default(),
                        target_column: r.get::<String>(5)?,
                        columns,
                        is_activity: r.get::<bool>(7)?.unwrap_or(false),
                        enabled: r.get::<bool>(8)?.unwrap_or(false),
                        is_default: r.get::<bool>(9)?.unwrap_or(false),
                        rel_sql: r.get::<String>(10)?,
                        col_types,
                        trust_problem: r.get::<String>(12)?,
                    });
                }
                Ok::<_, pgrx::spi::Error>(out)
            }),
            "reading mking_analytics.sources",
        );
        Sources { rows }
    }

    fn activity_names(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.is_activity && r.enabled)
            .map(|r| r.name.as_str())
            .collect()
    }

    /// Resolves one source by name. `None` when it is disabled, or a default whose relation does
    /// not exist (skipped with a NOTICE). A configured source that is missing is an error.
    pub fn get(&self, name: &str) -> Option<Source> {
        let row = self.rows.iter().find(|r| r.name == name)?;
        if !row.enabled {
            return None;
        }
        let Some(rel) = row.rel_sql.clone() else {
            if row.is_default {
                pgrx::notice!(
                    "mking_analytics: source \"{}\" skipped: relation {} does not exist (configure it with mking_analytics.set_source() or disable it)",
                    row.name,
                    row.relation
                );
                return None;
            }
            raise(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("source \"{}\" points at relation {} which does not exist", row.name, show(Some(&row.relation))),
                "Fix it with mking_analytics.set_source(...) or disable it: UPDATE mking_analytics.sources SET enabled = false WHERE source_name = '...'.",
            );
        };
        if let Some(problem) = &row.trust_problem {
            raise(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("source \"{}\" refused: {problem}", row.name),
                "Point the source at a plain table (set_source), or have a superuser own the relation (ALTER VIEW ... OWNER TO ...).",
            );
        }
        let col = |c: &str, role: &str| -> (String, String) {
            match row.col_types.get(c) {
                Some(t) => (pgrx::spi::quote_identifier(c), t.clone()),
                None => raise(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                    format!(
                        "source \"{}\": {role} column {} does not exist in {}",
                        row.name,
                        show(Some(c)),
                        rel
                    ),
                    "Fix the column name with mking_analytics.set_source(...).",
                ),
            }
        };
        let (user, user_type) = col(&row.user_column, "user");
        if !matches!(user_type.as_str(), "smallint" | "integer" | "bigint") {
            raise(
                PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                format!("source \"{}\": user column {} has type {user_type}; an integer type is required", row.name, user),
                "Point user_column at an integer user id.",
            );
        }
        let (time, time_type) = col(&row.time_column, "time");
        let time_kind = match time_type.as_str() {
            "timestamp with time zone" => TimeKind::Absolute,
            "timestamp without time zone" | "date" => TimeKind::Wall,
            other => raise(
                PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                format!("source \"{}\": time column {} has type {other}; timestamptz, timestamp or date is required", row.name, time),
                "Point time_column at the event's time.",
            ),
        };
        let target = row.target_column.as_deref().map(|t| col(t, "target").0);
        let columns = row
            .columns
            .iter()
            .map(|(role, c)| (role.clone(), col(c, role).0))
            .collect();
        Some(Source {
            name: row.name.clone(),
            rel,
            user,
            time,
            time_kind,
            target,
            columns,
        })
    }

    /// The activity sources an `events` argument selects: `'any'` (or NULL) is every enabled
    /// activity source; otherwise the named sources, each of which must exist.
    pub fn activity(&self, events: Option<&[Option<String>]>) -> Vec<Source> {
        let all = self.activity_names();
        let wanted: Vec<String> = match events {
            None => vec!["any".into()],
            Some(list) if list.is_empty() => bad_argument(
                "invalid events '{}': name at least one source, or 'any'".into(),
                "Example: events => ARRAY['like', 'comment'].",
            ),
            Some(list) => list
                .iter()
                .map(|e| match e {
                    Some(s) => s.trim().to_ascii_lowercase(),
                    None => bad_argument(
                        "invalid events: NULL element".into(),
                        "Use source names or 'any'.",
                    ),
                })
                .collect(),
        };
        let mut names: Vec<&str> = Vec::new();
        for w in &wanted {
            if w == "any" {
                names.extend(all.iter().copied());
            } else if let Some(n) = all.iter().find(|n| **n == w.as_str()) {
                names.push(n);
            } else {
                bad_argument(
                    format!(
                        "invalid events element {}: not an enabled activity source",
                        show(Some(w))
                    ),
                    &format!(
                        "Accepted values: 'any', {}.",
                        all.iter()
                            .map(|n| format!("'{n}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        names.sort_unstable();
        names.dedup();
        names.into_iter().filter_map(|n| self.get(n)).collect()
    }
}
