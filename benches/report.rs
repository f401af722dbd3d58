//! Criterion benches of the report renderers on the sample monthly report (three charts, one of
//! them a heatmap, a 12-row table, insights and recommendations) and a long one (150 rows).
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mking_analytics::kernels::report::{fixtures, render_html, render_pdf};

fn benches(c: &mut Criterion) {
    let monthly = fixtures::monthly();
    let long = fixtures::long();
    c.bench_function("report/monthly_html", |b| {
        b.iter(|| render_html(black_box(&monthly)))
    });
    c.bench_function("report/monthly_pdf", |b| {
        b.iter(|| render_pdf(black_box(&monthly)))
    });
    c.bench_function("report/long_pdf", |b| {
        b.iter(|| render_pdf(black_box(&long)))
    });
}

criterion_group!(report, benches);
criterion_main!(report);
