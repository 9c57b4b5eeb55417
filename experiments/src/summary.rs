//! The summary table printed after each run: one row per pattern (and sweep
//! point), means over the replications.

use patterns::metrics::{Column, Format, Metric, METRICS};
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

/// Renders the table: one column per metric the registry shows
/// ([`patterns::metrics::Metric::column`]).
pub(crate) fn table(exp: &Experiment, results: &[(Job, RunReport)]) -> String {
    let shown: Vec<(&Metric, Column)> = METRICS.iter().filter_map(|m| Some((m, m.column?))).collect();
    let header: Vec<String> =
        ["point", "pattern"].into_iter().map(String::from).chain(shown.iter().map(|(_, c)| c.header.into())).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for group in results.chunk_by(|a, b| a.0.point == b.0.point && a.0.pattern == b.0.pattern) {
        let n = group.len() as f64;
        let point = &exp.points[group[0].0.point];
        let mut row = vec![
            if point.coords.is_empty() { "-".into() } else { point.coords.join(", ") },
            group[0].1.pattern.clone(),
        ];
        for (m, c) in &shown {
            let mean = group.iter().map(|(_, r)| (m.value)(r).as_f64()).sum::<f64>() / n;
            row.push(match c.format {
                Format::Whole => format!("{mean:.0}"),
                Format::OneDecimal => format!("{mean:.1}"),
                Format::Percent => format!("{:.2}%", 100.0 * mean),
                Format::Duration => secs(mean),
            });
        }
        rows.push(row);
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
    out.push_str(&line(&header));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out.push_str(&format!(
        "means over {} replication(s); lag = answer until every follower's row is gone; inconsistent = customers whose rows disagree after the drain\n",
        exp.replications
    ));
    out
}
