//! The oracle itself against values computed by hand (no extension needed). If these fail,
//! the oracle is wrong, not the extension.

use mking_analytics_integration::{
    create_platform_and_oracle, exec, fresh_db, norm_row, text_rows,
};
use postgres::Client;

fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    text_rows(c, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| norm_row(r).join("|"))
        .collect()
}

fn check(c: &mut Client, sql: &str, expected: &[&str]) {
    let got = rows(c, sql);
    let exp: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, exp, "\n{sql}\n got: {got:#?}\n expected: {exp:#?}");
}

/// A tiny data set (UTC): see the comments of each check for the hand computation.
const TINY: &str = "
INSERT INTO users VALUES
  (1, 'u1', '2026-03-01 10:00'), (2, 'u2', '2026-03-01 23:00'),
  (3, 'u3', '2026-03-02 05:00'), (4, 'u4', '2026-02-27 12:00');
INSERT INTO user_behavior_logs VALUES
  (1, 1, 's1', 'mobile', 1, 10, '2026-03-01 11:00'),
  (2, 1, 's2', 'mobile', 1, 10, '2026-03-04 10:00'),
  (3, 2, 's3', 'mobile', 1, 10, '2026-02-28 20:00'),
  (4, 2, 's4', 'mobile', 1, 10, '2026-03-01 23:30'),
  (5, 2, 's5', 'mobile', 1, 10, '2026-03-03 08:00'),
  (6, 4, 's6', 'mobile', 1, 10, '2026-02-27 13:00'),
  (7, NULL, 's7', 'mobile', 1, 10, '2026-03-01 12:00');
INSERT INTO likes VALUES (1, 1, 10, '2026-03-02 09:00');
INSERT INTO comments VALUES (1, 3, 10, 'x', '2026-03-02 06:00'), (2, 3, 10, 'x', '2026-03-02 06:00');
INSERT INTO posts VALUES (10, 4, 't', 'text', 0, 0, 0, '2026-03-03 09:00');
";

const R: &str = "'2026-03-01 00:00+00'::timestamptz, '2026-03-05 00:00+00'::timestamptz";

#[test]
fn oracle_buckets_follow_local_calendar() {
    let mut c = fresh_db("it_oracle_self_buckets");
    create_platform_and_oracle(&mut c);
    exec(&mut c, "SET TimeZone = 'UTC'");
    // New York spring forward: 2026-03-08 is 23 hours long; the range starts mid-day.
    check(
        &mut c,
        "SELECT idx, lstart, bstart, extract(epoch FROM bend - bstart) / 3600 FROM oracle.buckets(
           '2026-03-07 14:37-05', '2026-03-10 00:00-04', 'day', 'America/New_York')",
        &[
            "1|2026-03-07 00:00:00|2026-03-07 05:00:00+00|24",
            "2|2026-03-08 00:00:00|2026-03-08 05:00:00+00|23",
            "3|2026-03-09 00:00:00|2026-03-09 04:00:00+00|24",
        ],
    );
    // Lord Howe end of DST: 2026-04-05 is 24.5 hours long (+11 -> +10:30).
    check(
        &mut c,
        "SELECT lstart, bstart, extract(epoch FROM bend - bstart) / 3600 FROM oracle.buckets(
           '2026-04-05 00:00+11', '2026-04-06 00:00+10:30', 'day', 'Australia/Lord_Howe')",
        &["2026-04-05 00:00:00|2026-04-04 13:00:00+00|24.5"],
    );
    // half-open: a range ending exactly at a bucket start does not include that bucket
    check(
        &mut c,
        "SELECT lstart FROM oracle.buckets('2026-03-01 00:00+00', '2026-03-03 00:00+00', 'day', 'UTC')",
        &["2026-03-01 00:00:00", "2026-03-02 00:00:00"],
    );
    // empty range
    check(
        &mut c,
        "SELECT count(*) FROM oracle.buckets('2026-03-01 00:00+00', '2026-03-01 00:00+00', 'day', 'UTC')",
        &["0"],
    );
    // Kolkata: local midnight is 18:30 UTC the day before
    check(
        &mut c,
        "SELECT bstart FROM oracle.buckets('2026-03-01 12:00+00', '2026-03-01 13:00+00', 'day', 'Asia/Kolkata')",
        &["2026-02-28 18:30:00+00"],
    );
    // weeks: 2026-03-01 is a Sunday
    check(
        &mut c,
        "SELECT lstart FROM oracle.buckets('2026-03-01 12:00+00', '2026-03-01 13:00+00', 'week', 'UTC')",
        &["2026-02-23 00:00:00"],
    );
    exec(&mut c, "SET mking_analytics.week_start = 'sunday'");
    check(
        &mut c,
        "SELECT lstart FROM oracle.buckets('2026-03-01 12:00+00', '2026-03-08 13:00+00', 'week', 'UTC')",
        &["2026-03-01 00:00:00", "2026-03-08 00:00:00"],
    );
    check(
        &mut c,
        "SELECT oracle.trunc_local('2026-03-07 23:59:59+00', 'week', 'UTC')",
        &["2026-03-01 00:00:00"],
    );
    // months, in a zone: 2026-03-31 22:00 UTC is April 1st in Kolkata
    exec(&mut c, "RESET mking_analytics.week_start");
    check(
        &mut c,
        "SELECT lstart, bstart FROM oracle.buckets('2026-03-31 22:00+00', '2026-03-31 23:00+00', 'month', 'Asia/Kolkata')",
        &["2026-04-01 00:00:00|2026-03-31 18:30:00+00"],
    );
}

#[test]
fn oracle_metrics_on_hand_checked_data() {
    let mut c = fresh_db("it_oracle_self_metrics");
    create_platform_and_oracle(&mut c);
    exec(&mut c, TINY);
    exec(&mut c, "SET TimeZone = 'UTC'");
    // activity days: u1 Mar1, Mar2, Mar4; u2 Feb28, Mar1, Mar3; u3 Mar2; u4 Feb27, Mar3
    check(
        &mut c,
        &format!("SELECT * FROM oracle.new_users({R}, 'day', 'UTC')"),
        &[
            "2026-03-01 00:00:00+00|2",
            "2026-03-02 00:00:00+00|1",
            "2026-03-03 00:00:00+00|0",
            "2026-03-04 00:00:00+00|0",
        ],
    );
    // a range starting at 14:37 still counts the whole first day
    check(
        &mut c,
        "SELECT * FROM oracle.new_users('2026-03-01 14:37+00', '2026-03-02 00:00+00', 'day', 'UTC')",
        &["2026-03-01 00:00:00+00|2"],
    );
    check(
        &mut c,
        &format!("SELECT * FROM oracle.new_users({R}, 'week', 'UTC')"),
        &["2026-02-23 00:00:00+00|3", "2026-03-02 00:00:00+00|1"],
    );
    check(
        &mut c,
        &format!("SELECT * FROM oracle.active_users({R}, 'day', 'UTC')"),
        &[
            "2026-03-01 00:00:00+00|2",
            "2026-03-02 00:00:00+00|2",
            "2026-03-03 00:00:00+00|2",
            "2026-03-04 00:00:00+00|1",
        ],
    );
    check(
        &mut c,
        &format!("SELECT active_users FROM oracle.active_users({R}, 'day', 'UTC', '{{any}}', 2)"),
        &["2", "3", "4", "3"],
    );
    check(
        &mut c,
        &format!(
            "SELECT active_users FROM oracle.active_users({R}, 'day', 'UTC', '{{session}}', 1)"
        ),
        &["2", "0", "1", "1"],
    );
    // retention, signup cohorts, mode on
    check(
        &mut c,
        &format!(
            "SELECT cohort::date, cohort_size, period_offset, retained, retention_rate
               FROM oracle.retention({R}, 'day', 3, 'signup', 'on', 'UTC', '2026-07-01')"
        ),
        &[
            "2026-03-01|2|0|2|100",
            "2026-03-01|2|1|1|50",
            "2026-03-01|2|2|1|50",
            "2026-03-01|2|3|1|50",
            "2026-03-02|1|0|1|100",
            "2026-03-02|1|1|0|0",
            "2026-03-02|1|2|0|0",
            "2026-03-02|1|3|0|0",
            "2026-03-03|0|0|0|NULL",
            "2026-03-03|0|1|0|NULL",
            "2026-03-03|0|2|0|NULL",
            "2026-03-03|0|3|0|NULL",
            "2026-03-04|0|0|0|NULL",
            "2026-03-04|0|1|0|NULL",
            "2026-03-04|0|2|0|NULL",
            "2026-03-04|0|3|0|NULL",
        ],
    );
    // as_of 2026-03-03 12:00 hides cells starting at or after it
    check(
        &mut c,
        &format!(
            "SELECT cohort::date, period_offset, retained, retention_rate
               FROM oracle.retention({R}, 'day', 3, 'signup', 'on', 'UTC', '2026-03-03 12:00+00')
              WHERE cohort < '2026-03-03'"
        ),
        &[
            "2026-03-01|0|2|100",
            "2026-03-01|1|1|50",
            "2026-03-01|2|1|50",
            "2026-03-01|3|NULL|NULL",
            "2026-03-02|0|1|100",
            "2026-03-02|1|0|0",
            "2026-03-02|2|NULL|NULL",
            "2026-03-02|3|NULL|NULL",
        ],
    );
    // on_or_after: cohort Mar1 {u1, u2}
    check(
        &mut c,
        &format!(
            "SELECT period_offset, retained, retention_rate
               FROM oracle.retention({R}, 'day', 3, 'signup', 'on_or_after', 'UTC', '2026-07-01')
              WHERE cohort = '2026-03-01'"
        ),
        &["0|2|100", "1|2|100", "2|2|100", "3|1|50"],
    );
    // first_activity: u2 and u4 were first active before the range
    check(
        &mut c,
        &format!(
            "SELECT cohort::date, cohort_size FROM oracle.retention({R}, 'day', 0, 'first_activity', 'on', 'UTC', '2026-07-01')"
        ),
        &["2026-03-01|1", "2026-03-02|1", "2026-03-03|0", "2026-03-04|0"],
    );
    // first_activity with events: first comment/post: u3 Mar2, u4 Mar3
    check(
        &mut c,
        &format!(
            "SELECT cohort::date, cohort_size FROM oracle.retention({R}, 'day', 0, 'first_activity', 'on', 'UTC', '2026-07-01', '{{comment,post}}')"
        ),
        &["2026-03-01|0", "2026-03-02|1", "2026-03-03|1", "2026-03-04|0"],
    );
    // recurring
    check(
        &mut c,
        &format!(
            "SELECT cohort::date, cohort_size, retained FROM oracle.retention({R}, 'day', 1, 'recurring', 'on', 'UTC', '2026-07-01')
              WHERE period_offset = 1"
        ),
        &["2026-03-01|2|1", "2026-03-02|2|0", "2026-03-03|2|0", "2026-03-04|1|0"],
    );
    check(
        &mut c,
        &format!("SELECT cohort_date, cohort_size, day_1_retained, day_7_retained, day_1_rate, day_7_rate FROM oracle.retention_summary({R}, 'UTC', '2026-03-03 12:00+00')"),
        &[
            "2026-03-01|2|1|NULL|50|NULL",
            "2026-03-02|1|0|NULL|0|NULL",
            "2026-03-03|0|NULL|NULL|NULL|NULL",
            "2026-03-04|0|NULL|NULL|NULL|NULL",
        ],
    );
    // lifecycle: Mar1 u2 was active Feb28 but signed up Mar1: new takes precedence
    check(
        &mut c,
        &format!("SELECT time::date, status, users FROM oracle.lifecycle({R}, 'day', 'UTC')"),
        &[
            "2026-03-01|dormant|0",
            "2026-03-01|new|2",
            "2026-03-01|resurrecting|0",
            "2026-03-01|returning|0",
            "2026-03-02|dormant|1",
            "2026-03-02|new|1",
            "2026-03-02|resurrecting|0",
            "2026-03-02|returning|1",
            "2026-03-03|dormant|2",
            "2026-03-03|new|0",
            "2026-03-03|resurrecting|2",
            "2026-03-03|returning|0",
            "2026-03-04|dormant|2",
            "2026-03-04|new|0",
            "2026-03-04|resurrecting|1",
            "2026-03-04|returning|0",
        ],
    );
    check(
        &mut c,
        &format!("SELECT * FROM oracle.stickiness({R}, 'day', 'UTC')"),
        &["1|2", "2|1", "3|1", "4|0"],
    );
    check(
        &mut c,
        &format!("SELECT value, previous_value, growth_rate FROM oracle.growth('likes', {R}, 'day', 'UTC')"),
        &["0|0|NULL", "1|0|NULL", "0|1|-100", "0|0|NULL"],
    );
    check(
        &mut c,
        &format!("SELECT value, previous_value, growth_rate FROM oracle.growth('active_users', {R}, 'day', 'UTC')"),
        &["2|1|100", "2|2|0", "2|2|0", "1|2|-50"],
    );
    // duplicates count once (two identical comments)
    check(
        &mut c,
        &format!("SELECT value FROM oracle.growth('comments', {R}, 'month', 'UTC')"),
        &["1"],
    );
    check(
        &mut c,
        &format!(
            "SELECT metric, round(avg_value, 2), max_value, min_value FROM oracle.kpis({R}, 'UTC')"
        ),
        &[
            "DAU|1.75|2|1",
            "WAU|3.5|4|3",
            "MAU|4|4|4",
            "stickiness|43.75|NULL|NULL",
        ],
    );
    exec(&mut c, "SET mking_analytics.week_start = 'sunday'");
    check(
        &mut c,
        &format!("SELECT metric, round(avg_value, 2), max_value, min_value FROM oracle.kpis({R}, 'UTC') WHERE metric = 'WAU'"),
        &["WAU|4|4|4"],
    );
    check(
        &mut c,
        &format!("SELECT * FROM oracle.new_users({R}, 'week', 'UTC')"),
        &["2026-03-01 00:00:00+00|3"],
    );
    // tz NULL is the session's TimeZone
    exec(
        &mut c,
        "RESET mking_analytics.week_start; SET TimeZone = 'Asia/Kolkata'",
    );
    check(
        &mut c,
        &format!("SELECT time, new_users FROM oracle.new_users({R})"),
        &[
            // u1 Mar1 15:30 IST, u2 Mar2 04:30 IST, u3 Mar2 10:30 IST
            "2026-03-01 00:00:00+05:30|1",
            "2026-03-02 00:00:00+05:30|2",
            "2026-03-03 00:00:00+05:30|0",
            "2026-03-04 00:00:00+05:30|0",
            "2026-03-05 00:00:00+05:30|0",
        ],
    );
}
