//! A deterministic, random, small data set for the platform's tables.
//!
//! 62 users (8 signed up before the event window, two exactly at range boundaries used by the
//! tests, some exactly at local midnights), two activity-only user ids without a `users` row,
//! a few thousand events over 100 days (2026-01-25 .. 2026-05-05 UTC, spanning the US (Mar 8),
//! EU (Mar 29) and Lord Howe (Apr 5, 30-minute) DST changes), duplicate events, NULL user ids
//! (sessions only), activity before signup, churn and resurrection, and events snapped to
//! exact local midnights (day, week and month starts) of several zones.

use chrono::{Duration, NaiveDate, NaiveDateTime};

/// splitmix64: tiny, deterministic, good enough.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

pub const WINDOW_START: &str = "2026-01-25 00:00:00";
pub const WINDOW_DAYS: i64 = 100;
/// Users signed up exactly at the start and at the end of the oracle's long test range.
pub const RANGE_A_FROM_UTC: &str = "2026-02-10 14:37:00";
pub const RANGE_A_TO_UTC: &str = "2026-04-20 09:12:00";

fn ts(t: NaiveDateTime) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"))
}

fn parse(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

struct Inserts {
    table: &'static str,
    cols: &'static str,
    rows: Vec<String>,
}

impl Inserts {
    fn new(table: &'static str, cols: &'static str) -> Self {
        Inserts {
            table,
            cols,
            rows: Vec::new(),
        }
    }
    fn sql(&self) -> String {
        let mut out = String::new();
        for chunk in self.rows.chunks(500) {
            out.push_str(&format!(
                "INSERT INTO public.{} ({}) VALUES\n{};\n",
                self.table,
                self.cols,
                chunk.join(",\n")
            ));
        }
        out
    }
}

/// Statistics of the generated set (for the test log).
#[derive(Debug, Default)]
pub struct Stats {
    pub users: usize,
    pub sessions: usize,
    pub posts: usize,
    pub likes: usize,
    pub comments: usize,
    pub shares: usize,
    pub follows: usize,
}

/// SQL that fills the (empty) platform tables. Same seed, same rows.
pub fn dataset_sql(seed: u64) -> (String, Stats) {
    let mut rng = Rng::new(seed);
    let start = parse(WINDOW_START);
    let end = start + Duration::days(WINDOW_DAYS);
    let mut users = Inserts::new("users", "id, username, created_at");
    let mut sessions = Inserts::new(
        "user_behavior_logs",
        "id, user_id, session_id, device_type, page_views, time_spent, created_at",
    );
    let mut posts = Inserts::new(
        "posts",
        "id, user_id, title, content_type, like_count, comment_count, share_count, created_at",
    );
    let mut likes = Inserts::new("likes", "id, user_id, post_id, created_at");
    let mut comments = Inserts::new("comments", "id, user_id, post_id, content, created_at");
    let mut shares = Inserts::new("shares", "id, user_id, post_id, created_at");
    let mut follows = Inserts::new("follows", "id, follower_id, following_id, created_at");

    // ---- users: (id, signup)
    let mut signups: Vec<(i64, NaiveDateTime)> = Vec::new();
    for id in 1..=60i64 {
        let t = if id <= 8 {
            // before the window
            start - Duration::seconds(1 + rng.below(35 * 86400) as i64)
        } else {
            start + Duration::seconds(rng.below(85 * 86400) as i64)
        };
        signups.push((id, t));
    }
    // exact local midnights (computed by hand, zone offsets of that date):
    signups[2].1 = parse("2026-03-08 05:00:00"); // America/New_York 2026-03-08 00:00 EST
    signups[3].1 = parse("2026-02-28 18:30:00"); // Asia/Kolkata 2026-03-01 00:00 IST
    signups[4].1 = parse("2026-04-04 13:00:00"); // Australia/Lord_Howe 2026-04-05 00:00 +11
    signups[5].1 = parse("2026-03-02 00:00:00"); // UTC Monday 2026-03-02 00:00
    signups[9].1 = parse("2026-04-05 13:30:00"); // Australia/Lord_Howe 2026-04-06 00:00 +10:30
    signups.push((61, parse(RANGE_A_FROM_UTC)));
    signups.push((62, parse(RANGE_A_TO_UTC)));
    for (id, t) in &signups {
        users.rows.push(format!("({id}, 'user{id}', {})", ts(*t)));
    }

    // ---- activity
    let mut next_id = [0i64; 6];
    let mut post_owner: Vec<(i64, i64)> = Vec::new(); // (post id, owner)
    let mut post_keys = std::collections::HashSet::new(); // (user, ts): no two posts collide
    let mut actors: Vec<(i64, NaiveDateTime, f64, i64)> = signups
        .iter()
        .map(|&(id, t)| {
            let p = 0.1 + 0.6 * rng.unit();
            // churn after some days (or never)
            let churn = if rng.chance(0.4) {
                3 + rng.below(60) as i64
            } else {
                i64::MAX
            };
            (id, t, p, churn)
        })
        .collect();
    // two user ids with activity but no `users` row
    actors.push((1001, start + Duration::days(20), 0.3, i64::MAX));
    actors.push((1002, start + Duration::days(50), 0.2, 20));

    for &(uid, signup, p, churn) in &actors {
        // some users were active a little before they signed up
        let first = if rng.chance(0.15) {
            signup - Duration::days(1 + rng.below(3) as i64)
        } else {
            signup
        };
        let mut day = first.date().and_hms_opt(0, 0, 0).unwrap();
        let mut n_day = 0i64;
        while day < end {
            let churned = n_day > churn;
            let active = if churned {
                rng.chance(0.04) // occasional resurrection
            } else {
                rng.chance(p)
            };
            if active && day >= start - Duration::days(40) {
                let k = 1 + rng.below(4);
                for _ in 0..k {
                    let mut t = day + Duration::seconds(rng.below(86400) as i64);
                    if t < first {
                        t = first;
                    }
                    if t >= end {
                        continue;
                    }
                    let dup = rng.chance(0.04);
                    let kind = rng.below(100);
                    let times = if dup { 2 } else { 1 };
                    if kind < 45 {
                        let sid = format!("s{uid}-{}", rng.below(1_000_000));
                        let dev = ["mobile", "desktop", "tablet"][rng.below(3) as usize];
                        let pv = 1 + rng.below(20);
                        let spent = 10 + rng.below(3600);
                        for _ in 0..times {
                            next_id[0] += 1;
                            sessions.rows.push(format!(
                                "({}, {uid}, '{sid}', '{dev}', {pv}, {spent}, {})",
                                next_id[0],
                                ts(t)
                            ));
                        }
                    } else if kind < 53 {
                        if !post_keys.insert((uid, t)) {
                            continue;
                        }
                        next_id[1] += 1;
                        let pid = next_id[1];
                        post_owner.push((pid, uid));
                        let ct = ["text", "image", "video"][rng.below(3) as usize];
                        // duplicates of a post are identical rows (same id)
                        for _ in 0..times {
                            posts.rows.push(format!(
                                "({pid}, {uid}, 'post {pid}', '{ct}', 0, 0, 0, {})",
                                ts(t)
                            ));
                        }
                    } else if kind < 93 {
                        let post = if post_owner.is_empty() {
                            1
                        } else {
                            post_owner[rng.below(post_owner.len() as u64) as usize].0
                        };
                        let which = if kind < 73 {
                            2
                        } else if kind < 85 {
                            3
                        } else {
                            4
                        };
                        for _ in 0..times {
                            next_id[which] += 1;
                            let id = next_id[which];
                            match which {
                                2 => likes.rows.push(format!("({id}, {uid}, {post}, {})", ts(t))),
                                3 => comments
                                    .rows
                                    .push(format!("({id}, {uid}, {post}, 'c{id}', {})", ts(t))),
                                _ => shares
                                    .rows
                                    .push(format!("({id}, {uid}, {post}, {})", ts(t))),
                            }
                        }
                    } else {
                        let target = 1 + rng.below(62) as i64;
                        for _ in 0..times {
                            next_id[5] += 1;
                            follows.rows.push(format!(
                                "({}, {uid}, {target}, {})",
                                next_id[5],
                                ts(t)
                            ));
                        }
                    }
                }
            }
            day += Duration::days(1);
            n_day += 1;
        }
    }
    // sessions without a user
    for i in 0..30 {
        next_id[0] += 1;
        let t = start + Duration::seconds(rng.below((WINDOW_DAYS * 86400) as u64) as i64);
        sessions.rows.push(format!(
            "({}, NULL, 'anon{i}', 'mobile', 1, 5, {})",
            next_id[0],
            ts(t)
        ));
    }

    let stats = Stats {
        users: users.rows.len(),
        sessions: sessions.rows.len(),
        posts: posts.rows.len(),
        likes: likes.rows.len(),
        comments: comments.rows.len(),
        shares: shares.rows.len(),
        follows: follows.rows.len(),
    };
    let mut sql = String::new();
    for t in [
        &users, &sessions, &posts, &likes, &comments, &shares, &follows,
    ] {
        sql.push_str(&t.sql());
    }
    // Snap some events to exact local midnights (start of the local day, of the local Monday
    // week and of the local month) in each zone. Posts are left alone (they must stay unique
    // per user and timestamp).
    let zones = [
        "UTC",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
    ];
    for (zi, z) in zones.iter().enumerate() {
        for (ti, table) in [
            "user_behavior_logs",
            "likes",
            "comments",
            "shares",
            "follows",
        ]
        .iter()
        .enumerate()
        {
            for (ui, unit) in ["day", "week", "month"].iter().enumerate() {
                let k = (zi * 7 + ti * 3 + ui) % 97;
                sql.push_str(&format!(
                    "UPDATE public.{table} SET created_at = \
                     (date_trunc('{unit}', created_at AT TIME ZONE 'UTC' AT TIME ZONE '{z}') \
                      AT TIME ZONE '{z}') AT TIME ZONE 'UTC' WHERE id % 97 = {k};\n"
                ));
            }
        }
    }
    // ... and some to the last microsecond before a local midnight.
    for (zi, z) in zones.iter().enumerate() {
        for (ti, table) in ["user_behavior_logs", "likes", "follows"]
            .iter()
            .enumerate()
        {
            let k = 50 + zi * 3 + ti;
            sql.push_str(&format!(
                "UPDATE public.{table} SET created_at = \
                 ((date_trunc('day', created_at AT TIME ZONE 'UTC' AT TIME ZONE '{z}') + interval '1 day') \
                  AT TIME ZONE '{z}') AT TIME ZONE 'UTC' - interval '1 microsecond' WHERE id % 97 = {k};\n"
            ));
        }
    }
    (sql, stats)
}

/// First day of the event window.
pub fn window_start() -> NaiveDate {
    parse(WINDOW_START).date()
}
