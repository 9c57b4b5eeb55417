//! The summary table printed after each run: one row per pattern (and sweep
//! point), means over the replications.

use patterns::RunReport;

use crate::config::Experiment;
use crate::runner::Job;

fn secs(v: f64) -> String {
    if v >= 3600.0 {
        format!("{:.1}h", v / 3600.0)
    } else if v >= 60.0 {
        format!("{:.1}m", v / 60.0)
    } else if v >= 1.0 {
        format!("{v:.2}s")
    } else {
        format!("{:.1}ms", v * 1e3)
    }
}

/// Renders the table.
pub(crate) fn table(exp: &Experiment, results: &[(Job, RunReport)]) -> String {
    let header = [
        "point",
        "pattern",
        "requests",
        "errors",
        "resp p50",
        "resp p99",
        "lag p50",
        "lag p99",
        "inconsistent",
        "late charges",
        "manual",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for group in results.chunk_by(|a, b| a.0.point == b.0.point && a.0.pattern == b.0.pattern) {
        let n = group.len() as f64;
        let mean = |f: &dyn Fn(&RunReport) -> f64| group.iter().map(|(_, r)| f(r)).sum::<f64>() / n;
        let point = &exp.points[group[0].0.point];
        rows.push(vec![
            if point.coords.is_empty() { "-".into() } else { point.coords.join(", ") },
            group[0].1.pattern.clone(),
            format!("{:.0}", mean(&|r| r.requests as f64)),
            format!("{:.2}%", 100.0 * mean(&|r| r.error_share)),
            secs(mean(&|r| r.response_time.p50)),
            secs(mean(&|r| r.response_time.p99)),
            secs(mean(&|r| r.lag_from_answer.p50)),
            secs(mean(&|r| r.lag_from_answer.p99)),
            format!("{:.1}", mean(&|r| f64::from(r.inconsistent_at_end))),
            format!("{:.1}", mean(&|r| r.counters.charges_after_unsubscribe as f64)),
            format!("{:.1}", mean(&|r| r.counters.manual_repairs as f64)),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i < 2 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = String::new();
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out.push_str(&format!(
        "means over {} replication(s); lag = answer until Contract and Billing rows are gone; inconsistent = customers whose rows disagree after the drain\n",
        exp.replications
    ));
    out
}
