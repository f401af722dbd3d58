//! Writes every sample report of `kernels::report::fixtures` as HTML and PDF, to look at them
//! as a reader would, and prints how long each rendering took.
//!
//!     cargo run --release --example render_samples [output dir, default /tmp/report-samples]
use std::time::Instant;

use mking_analytics::kernels::report::{fixtures, render_html, render_pdf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/report-samples".to_string());
    std::fs::create_dir_all(&dir)?;
    for (name, report) in fixtures::all() {
        let started = Instant::now();
        let html = render_html(&report);
        let html_time = started.elapsed();
        let started = Instant::now();
        let pdf = render_pdf(&report)?;
        let pdf_time = started.elapsed();
        std::fs::write(format!("{dir}/{name}.html"), &html)?;
        std::fs::write(format!("{dir}/{name}.pdf"), &pdf)?;
        println!(
            "{name:12} html {:>7} bytes {:>8.2} ms   pdf {:>7} bytes {:>8.2} ms",
            html.len(),
            html_time.as_secs_f64() * 1e3,
            pdf.len(),
            pdf_time.as_secs_f64() * 1e3
        );
    }
    // Steady-state timing of the monthly report (both formats), averaged.
    let monthly = fixtures::monthly();
    let runs = 50;
    let started = Instant::now();
    for _ in 0..runs {
        let html = render_html(&monthly);
        let pdf = render_pdf(&monthly)?;
        std::hint::black_box((html, pdf));
    }
    println!(
        "monthly HTML+PDF: {:.2} ms per report (mean of {runs})",
        started.elapsed().as_secs_f64() * 1e3 / f64::from(runs)
    );
    Ok(())
}
