//! Criterion benches of the pure-Rust kernels: set unions for rolling windows, the retention
//! matrix, lifecycle and stickiness, on synthetic activity shaped like a social platform
//! (a heavy-tailed set of daily users out of 100k).
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mking_analytics::kernels::usersets::{
    lifecycle, retention_matrix, rolling_counts, stickiness, user_key, PeriodSets, RetentionMode,
};
use roaring::RoaringTreemap;

/// Deterministic pseudo-random activity: 210 days, ~8% of 100k users active per day, skewed
/// towards low ids (the "regulars").
fn activity() -> PeriodSets {
    let mut sets = PeriodSets::new(0, 209);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for day in 0..210 {
        let mut users = Vec::with_capacity(8_000);
        for _ in 0..8_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = (x % 1_000_000) as f64 / 1_000_000.0;
            users.push((r * r * 100_000.0) as i64);
        }
        sets.add(day, users);
    }
    sets
}

fn benches(c: &mut Criterion) {
    let active = activity();
    c.bench_function("rolling 30-day MAU over 180 days", |b| {
        b.iter(|| rolling_counts(black_box(&active), 30, 209, 30))
    });
    let cohorts: Vec<(i32, RoaringTreemap)> = (0..180)
        .map(|d| (d, active.get(d).iter().filter(|u| u % 10 == 0).collect()))
        .collect();
    c.bench_function("retention 180 daily cohorts x offsets 0..30 (on)", |b| {
        b.iter(|| {
            retention_matrix(black_box(&cohorts), &active, 30, RetentionMode::On, |i| {
                i < 210
            })
        })
    });
    c.bench_function(
        "retention 180 daily cohorts x offsets 0..30 (on_or_after)",
        |b| {
            b.iter(|| {
                retention_matrix(
                    black_box(&cohorts),
                    &active,
                    30,
                    RetentionMode::OnOrAfter,
                    |i| i < 210,
                )
            })
        },
    );
    let signups = {
        let mut s = PeriodSets::new(0, 209);
        for d in 0..210 {
            s.add(d, (0..50).map(|k| 100_000 + d as i64 * 50 + k));
        }
        s
    };
    c.bench_function("lifecycle 180 days", |b| {
        b.iter(|| {
            (30..210)
                .map(|d| lifecycle(black_box(&active), &signups, d))
                .count()
        })
    });
    c.bench_function("stickiness 180 days", |b| {
        b.iter(|| stickiness(black_box(&active), 30, 209))
    });
    c.bench_function("user_key 1M ids", |b| {
        b.iter(|| (0..1_000_000i64).map(user_key).sum::<u64>())
    });
}

criterion_group!(kernel_benches, benches);
criterion_main!(kernel_benches);
