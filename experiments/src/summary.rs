//! The summary table printed after each run: one row per pattern, grouped
//! by sweep point, means over the replications. It fits 100 columns, and
//! each column has one unit, named in its header.

use patterns::metrics::{Column, Format, Metric, METRICS};
use patterns::RunReport;

use crate::config::Experiment;
use crate::runner::Job;

/// The widest table printed, in characters.
const WIDTH: usize = 100;

/// The unit a column of durations reads in, from its largest value.
pub(crate) fn duration_unit(max_s: f64) -> (f64, &'static str) {
    if max_s < 1.0 {
        (1e-3, "ms")
    } else if max_s < 120.0 {
        (1.0, "s")
    } else if max_s < 2.0 * 3600.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

/// The one unit of a column of durations (seconds in, means of each row):
/// a column spanning milliseconds to hours stays in seconds, where three
/// significant digits keep both ends readable; otherwise its natural unit.
pub(crate) fn column_unit(values: impl Iterator<Item = f64>) -> (f64, &'static str) {
    let (max, min) = values.fold((0.0f64, f64::INFINITY), |(a, b), v| (a.max(v), if v > 0.0 { b.min(v) } else { b }));
    if max / min > 100.0 {
        (1.0, "s")
    } else {
        duration_unit(max)
    }
}

/// Three significant digits: 0.0295, 0.42, 4.23, 42.3, 423, 3590.
pub(crate) fn sig3(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a < 1e-3 {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// Splits text into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// Renders the table: one column per metric the registry shows
/// ([`patterns::metrics::Metric::column`]).
pub(crate) fn table(exp: &Experiment, results: &[(Job, RunReport)]) -> String {
    let shown: Vec<(&Metric, Column)> = METRICS.iter().filter_map(|m| Some((m, m.column?))).collect();
    // Means per (point, pattern), in job order.
    let groups: Vec<(usize, String, Vec<f64>)> = results
        .chunk_by(|a, b| a.0.point == b.0.point && a.0.pattern == b.0.pattern)
        .map(|g| {
            let n = g.len() as f64;
            let means = shown.iter().map(|(m, _)| g.iter().map(|(_, r)| (m.value)(r).as_f64()).sum::<f64>() / n);
            (g[0].0.point, g[0].1.pattern.clone(), means.collect())
        })
        .collect();
    // Each column's header (its name split after the first word, the rest
    // and the unit below) and cells.
    let mut columns: Vec<([String; 2], Vec<String>)> = Vec::new();
    for (k, (_, c)) in shown.iter().enumerate() {
        let (first, rest) = c.header.split_once(' ').unwrap_or((c.header, ""));
        let values = groups.iter().map(|g| g.2[k]);
        let (unit, cells): (&str, Vec<String>) = match c.format {
            Format::Whole => ("", values.map(|v| format!("{v:.0}")).collect()),
            Format::OneDecimal => ("", values.map(|v| format!("{v:.1}")).collect()),
            Format::Percent => ("%", values.map(|v| format!("{:.2}", 100.0 * v)).collect()),
            Format::Duration => {
                let (per, unit) = column_unit(groups.iter().map(|g| g.2[k]));
                (unit, values.map(|v| sig3(v / per)).collect())
            }
        };
        let below = [rest, unit].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
        columns.push(([first.to_string(), below], cells));
    }
    let widths: Vec<usize> = columns
        .iter()
        .map(|(h, cells)| cells.iter().chain(h.iter()).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let numbers: usize = widths.iter().sum();
    let mut pattern_w = groups.iter().map(|g| g.1.chars().count()).max().unwrap_or(7).max(7);
    // Two spaces between columns if they fit, else one; a pattern name too
    // long for what is left is cut.
    let cols = widths.len() + 1;
    let sep = if pattern_w + numbers + 2 * (cols - 1) <= WIDTH { 2 } else { 1 };
    pattern_w = pattern_w.min(WIDTH.saturating_sub(numbers + sep * (cols - 1)).max(7));
    let gap = " ".repeat(sep);
    let line = |first: &str, cells: Vec<&str>| {
        let mut first: String = first.chars().take(pattern_w).collect();
        while first.chars().count() < pattern_w {
            first.push(' ');
        }
        let rest: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        format!("{first}{gap}{}", rest.join(&gap)).trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line("pattern", columns.iter().map(|c| c.0[0].as_str()).collect()));
    out.push('\n');
    out.push_str(&line("", columns.iter().map(|c| c.0[1].as_str()).collect()));
    out.push('\n');
    let rule = std::iter::once(pattern_w).chain(widths.iter().copied()).map(|w| "-".repeat(w)).collect::<Vec<_>>();
    out.push_str(&rule.join(&gap));
    out.push('\n');
    let mut point = None;
    for (i, g) in groups.iter().enumerate() {
        if !exp.sweep.is_empty() && point != Some(g.0) {
            let p = &exp.points[g.0];
            let label: Vec<String> =
                exp.sweep.iter().zip(&p.coords).map(|(d, c)| format!("{} = {c}", d.label())).collect();
            for l in wrap(&format!("{}:", label.join(", ")), WIDTH) {
                out.push_str(&l);
                out.push('\n');
            }
            point = Some(g.0);
        }
        out.push_str(&line(&g.1, columns.iter().map(|c| c.1[i].as_str()).collect()));
        out.push('\n');
    }
    let note = format!(
        "Means over {} replication(s). lag: from the answer until every follower's row is gone; \
         inconsistent: customers whose rows disagree after the drain; manual: counted for manual repair.",
        exp.replications
    );
    for l in wrap(&note, WIDTH) {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_share_one_unit_per_column() {
        assert_eq!(duration_unit(0.5), (1e-3, "ms"));
        assert_eq!(duration_unit(30.0), (1.0, "s"));
        assert_eq!(duration_unit(3599.0), (60.0, "min"));
        assert_eq!(duration_unit(86400.0), (3600.0, "h"));
        let s: Vec<String> = [0.0, 0.02953, 4.234, 42.34, 423.4, 3592.0].into_iter().map(sig3).collect();
        assert_eq!(s, ["0", "0.0295", "4.23", "42.3", "423", "3592"]);
    }

    #[test]
    fn wrapping_keeps_lines_short_and_words_whole() {
        let lines = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(lines, ["aaa bbb", "ccc ddd"]);
    }
}
