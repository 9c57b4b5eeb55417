//! `report.html`: one page per result folder, to open from disk.
//!
//! Self-contained: styles inline, every chart as inline SVG, no network
//! access, no external script or font (the one inline script only marks,
//! for the browser check in CI, how many charts the browser laid out). It
//! holds the experiment's question, the summary with 95% intervals, the
//! book's trade-off table filled with this run's numbers, every chart, the
//! fault windows, the resolved config and links to the CSV files. Like every
//! output it is deterministic: no date, host or path.

use std::path::Path;

use anyhow::{Context as _, Result};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use patterns::metrics::{Format, Metric, METRICS};
use patterns::{PatternConfig, RunReport};

use crate::config::Experiment;
use crate::journal::VERSION;
use crate::output::{mean_ci, write_atomic, Written};
use crate::runner::Job;
use crate::summary::{column_unit, duration_unit, sig3};

/// The file name.
pub(crate) const FILE: &str = "report.html";

/// The most fault windows listed on the page (faults.csv has them all).
const MAX_FAULT_ROWS: usize = 60;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', 'Noto Sans', sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.5rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.question { font-size: 1.15rem; color: #333; }
.facts { color: #555; font-size: .9rem; } code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .84rem; }
.wide { overflow-x: auto; }
th, td { border: 1px solid #d4d4d4; padding: .25rem .5rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; } td.num { text-align: right; white-space: nowrap; }
.ci { color: #666; font-size: .8rem; } .book { color: #555; font-style: italic; }
figure { margin: 1.2rem 0; } figure svg { width: 100%; height: auto; max-width: 1000px; display: block; }
figcaption { font-size: .85rem; color: #555; }
pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: .8rem; }
nav a { margin-right: .8rem; }
";

/// Marks on `<body>` how many charts the browser laid out at a real size:
/// the CI check in headless Chromium reads it from the rendered page.
const CHECK: &str = "window.addEventListener('load', function () {
  var svgs = document.querySelectorAll('figure svg'), drawn = 0;
  for (var i = 0; i < svgs.length; i++) {
    var r = svgs[i].getBoundingClientRect();
    if (r.width > 100 && r.height > 60) { drawn++; }
  }
  document.body.setAttribute('data-charts', String(svgs.length));
  document.body.setAttribute('data-charts-drawn', String(drawn));
});";

/// The book's words for a pattern (responsiveness, consistency, error
/// handling), from its trade-off table; change data capture is not in it.
fn book(p: &PatternConfig) -> [&'static str; 3] {
    match p {
        PatternConfig::BackgroundSync(_) => ["good", "slow", "no user-visible errors; the job repairs"],
        PatternConfig::Orchestrated(_) => ["slower", "timely", "complex: needs compensation"],
        PatternConfig::EventBased(_) => ["fast", "timely", "complex: redelivery, dead letters"],
        PatternConfig::Cdc(_) => ["(not in the book)", "(not in the book)", "(not in the book)"],
    }
}

/// One metric's value across the replications of a group, formatted with
/// its 95% interval when there is more than one replication.
fn cell(metric: &Metric, group: &[(Job, RunReport)], per: f64) -> Markup {
    let xs: Vec<f64> = group.iter().map(|(_, r)| (metric.value)(r).as_f64()).collect();
    // Every metric is non-negative: an interval reaching below zero is cut at zero.
    let (mean, lo, hi) = mean_ci(&xs);
    let lo = lo.max(0.0);
    let show = |v: f64| match metric.column.map(|c| c.format) {
        Some(Format::Percent) => format!("{:.2}", 100.0 * v),
        Some(Format::Whole) => format!("{v:.0}"),
        Some(Format::OneDecimal) => format!("{v:.1}"),
        _ => sig3(v / per),
    };
    html! {
        td.num {
            (show(mean))
            @if xs.len() > 1 && hi > lo { br; span.ci { "[" (show(lo)) ", " (show(hi)) "]" } }
        }
    }
}

/// A duration in its natural unit, for prose and fault windows.
fn natural(s: f64) -> String {
    if !s.is_finite() {
        return "never".into();
    }
    let (per, unit) = duration_unit(s);
    format!("{} {unit}", sig3(s / per))
}

/// The runs of each (point, pattern), in job order.
fn groups(results: &[(Job, RunReport)]) -> Vec<&[(Job, RunReport)]> {
    results.chunk_by(|a, b| a.0.point == b.0.point && a.0.pattern == b.0.pattern).collect()
}

/// A sweep point's heading.
fn point_label(exp: &Experiment, point: usize) -> String {
    let p = &exp.points[point];
    exp.sweep.iter().zip(&p.coords).map(|(d, c)| format!("{} = {c}", d.label())).collect::<Vec<_>>().join(", ")
}

fn summary(exp: &Experiment, results: &[(Job, RunReport)]) -> Markup {
    let shown: Vec<&Metric> = METRICS.iter().filter(|m| m.column.is_some()).collect();
    let groups = groups(results);
    // One unit per duration column, as in the terminal table.
    let units: Vec<(f64, &str)> = shown
        .iter()
        .map(|m| match m.column.map(|c| c.format) {
            Some(Format::Duration) => column_unit(
                groups.iter().map(|g| g.iter().map(|(_, r)| (m.value)(r).as_f64()).sum::<f64>() / g.len() as f64),
            ),
            Some(Format::Percent) => (1.0, "%"),
            _ => (1.0, ""),
        })
        .collect();
    html! {
        div.wide { table {
            thead { tr {
                th { "pattern" }
                @for (m, (_, unit)) in shown.iter().zip(&units) {
                    th title=(m.description) {
                        (m.column.map_or(m.name, |c| c.header))
                        @if !unit.is_empty() { " (" (unit) ")" }
                    }
                }
            } }
            tbody {
                @for (k, g) in groups.iter().enumerate() {
                    @if !exp.sweep.is_empty() && (k == 0 || groups[k - 1][0].0.point != g[0].0.point) {
                        tr { th colspan=(shown.len() + 1) { (point_label(exp, g[0].0.point)) } }
                    }
                    tr {
                        td { (g[0].1.pattern) }
                        @for (m, (per, _)) in shown.iter().zip(&units) { (cell(m, g, *per)) }
                    }
                }
            }
        } }
        p.ci { "Means over " (exp.replications) " replication(s); in brackets the 95% confidence interval of the mean \
                (Student t). Hover a header for its definition; results/README.md defines every column." }
    }
}

fn tradeoffs(exp: &Experiment, results: &[(Job, RunReport)]) -> Markup {
    let first: Vec<&[(Job, RunReport)]> = groups(results).into_iter().filter(|g| g[0].0.point == 0).collect();
    let mean = |g: &[(Job, RunReport)], f: &dyn Fn(&RunReport) -> f64| {
        g.iter().map(|(_, r)| f(r)).sum::<f64>() / g.len() as f64
    };
    html! {
        @if !exp.sweep.is_empty() { p { "At the first sweep point, " (point_label(exp, 0)) "." } }
        table {
            thead { tr { th { "pattern" } th { "responsiveness" } th { "eventual consistency" } th { "error handling" } } }
            tbody {
                @for g in &first {
                    @let words = book(&exp.points[0].patterns[g[0].0.pattern]);
                    tr {
                        td { (g[0].1.pattern) }
                        td {
                            span.book { "book: " (words[0]) } br;
                            "response p50 " (natural(mean(g, &|r| r.response_time.p50)))
                            ", p99 " (natural(mean(g, &|r| r.response_time.p99)))
                        }
                        td {
                            span.book { "book: " (words[1]) } br;
                            "lag p50 " (natural(mean(g, &|r| r.lag_from_answer.p50)))
                            ", p99 " (natural(mean(g, &|r| r.lag_from_answer.p99))) br;
                            (format!("{:.1}", mean(g, &|r| f64::from(r.inconsistent_at_end)))) " customers inconsistent after the drain"
                        }
                        td {
                            span.book { "book: " (words[2]) } br;
                            (format!("{:.2}", 100.0 * mean(g, &|r| r.error_share))) "% of users told an error or timed out; "
                            (format!("{:.0}", mean(g, &|r| r.counters.compensations as f64))) " compensations, "
                            (format!("{:.0}", mean(g, &|r| r.counters.redeliveries as f64))) " redeliveries, "
                            (format!("{:.1}", mean(g, &|r| r.counters.manual_repairs as f64))) " manual repairs, "
                            (format!("{:.1}", mean(g, &|r| r.counters.charges_after_unsubscribe as f64))) " charges after \"unsubscribed\""
                        }
                    }
                }
            }
        }
    }
}

fn faults(exp: &Experiment, results: &[(Job, RunReport)]) -> Markup {
    // The same for every pattern at a point and replication: the first pattern's.
    let rows: Vec<(usize, u32, &sim_core::FaultWindow)> = results
        .iter()
        .filter(|(j, _)| j.pattern == 0)
        .flat_map(|(j, r)| r.fault_windows.iter().map(move |w| (j.point, j.replication, w)))
        .collect();
    html! {
        @if rows.is_empty() {
            p { "No faults: none scheduled, none drawn." }
        } @else {
            table {
                thead { tr {
                    @if !exp.sweep.is_empty() { th { "sweep point" } }
                    th { "replication" } th { "fault" } th { "where" } th { "from" } th { "until" }
                } }
                tbody {
                    @for (point, rep, w) in rows.iter().take(MAX_FAULT_ROWS) {
                        tr {
                            @if !exp.sweep.is_empty() { td { (point_label(exp, *point)) } }
                            td.num { (rep) }
                            td { (w.kind) }
                            td { (w.target) }
                            td.num { (natural(w.from.as_secs_f64())) }
                            td.num { (w.to.map_or_else(|| "never".to_string(), |t| natural(t.as_secs_f64()))) }
                        }
                    }
                }
            }
            @if rows.len() > MAX_FAULT_ROWS {
                p { "The first " (MAX_FAULT_ROWS) " of " (rows.len()) " windows; " a href="faults.csv" { "faults.csv" } " has them all." }
            }
        }
    }
}

/// The charts in reading order: distributions, the time series, then the
/// sweep metrics in registry order.
fn charts(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter_map(|n| n.strip_suffix(".svg").map(String::from))
        .collect();
    let rank = |n: &str| {
        let fixed = ["lag_cdf", "response_cdf", "inconsistency"];
        fixed.iter().position(|f| *f == n).unwrap_or_else(|| {
            fixed.len() + METRICS.iter().position(|m| n == format!("sweep_{}", m.name)).unwrap_or(METRICS.len())
        })
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    names
        .into_iter()
        .map(|n| {
            let path = dir.join(format!("{n}.svg"));
            let svg = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((n, svg))
        })
        .collect()
}

/// Writes `dir/report.html` from the run's results and the charts and CSV
/// files already in `dir`.
pub(crate) fn write(dir: &Path, exp: &Experiment, results: &[(Job, RunReport)], written: &Written) -> Result<()> {
    let charts = charts(dir)?;
    let files = listed(dir, |n| n.ends_with(".csv") || n.ends_with(".toml"))?;
    let resolved = std::fs::read_to_string(dir.join("config.resolved.toml")).unwrap_or_default();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&exp.name))
            body {
                h1 { (exp.name) }
                p.question { (exp.description.trim()) }
                p.facts {
                    "ecsim " (VERSION) " · " (exp.replications) " replication(s) · master seed " (exp.seed)
                    " · config hash " code { (exp.hash()) } " · " (exp.points.len()) " sweep point(s) · reproduce with "
                    code { (exp.command()) }
                }
                nav {
                    a href="#summary" { "Summary" } a href="#tradeoffs" { "Trade-offs" } a href="#charts" { "Charts" }
                    a href="#faults" { "Faults" } a href="#config" { "Config" } a href="#files" { "Files" }
                }
                h2 #summary { "Summary" }
                (summary(exp, results))
                h2 #tradeoffs { "The book's trade-offs, measured" }
                p { "The trade-off table of " em { "Software Architecture: The Hard Parts" }
                    " (Eventual Consistency Patterns), each claim beside what this run measured." }
                (tradeoffs(exp, results))
                h2 #charts { "Charts" }
                @for (name, svg) in &charts {
                    figure {
                        (PreEscaped(svg))
                        figcaption { (name) ": " a href=(format!("{name}.svg")) { "SVG" } " · " a href=(format!("{name}.png")) { "PNG" } }
                    }
                }
                h2 #faults { "Fault windows" }
                (faults(exp, results))
                h2 #config { "Resolved config" }
                p { "Every key with its value, defaults spelled out: " a href="config.resolved.toml" { "config.resolved.toml" } "." }
                pre { (resolved) }
                h2 #files { "Files" }
                ul {
                    @for f in &files { li { a href=(f) { (f) } } }
                    li { a href="manifest.json" { "manifest.json" } " (every column's unit, type and meaning)" }
                }
                p.facts { "requests.csv: " (written.request_rows) " of " (written.request_population)
                    " requests of replication 0, a uniform sample." }
            }
        }
    };
    write_atomic(&dir.join(FILE), page.into_string().as_bytes())
}

/// `report.html` of a folder that holds one table rather than runs
/// (`ecsim validation`, `ecsim explore`): the question, the command that
/// rewrites the folder, `csv` as a table (each column's meaning on hover,
/// from the data contract), what to read in it, and the folder's files.
pub(crate) fn write_table_page(dir: &Path, page: &TablePage<'_>) -> Result<()> {
    let path = dir.join(page.csv);
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let files = listed(dir, |n| n != FILE)?;
    let contract_name = page.contract_name.unwrap_or(page.csv);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(page.title))
            body {
                h1 { (page.title) }
                p.question { (page.question) }
                p.facts { "ecsim " (VERSION) " · reproduce with " code { (page.command) } }
                @for note in page.notes { p { (note) } }
                h2 { (page.csv) }
                div.wide { table {
                    tr { @for h in &header {
                        th title=(crate::contract::describe(contract_name, h, "", "").map(|d| d.meaning).unwrap_or_default()) { (h) }
                    } }
                    @for r in &rows { tr { @for c in r.iter() {
                        @if let Ok(x) = c.parse::<f64>() { td.num title=(c) { (sig6(x)) } }
                        @else if files.iter().any(|f| f == c) { td { a href=(c) { (c) } } }
                        @else { td { (c) } }
                    } } }
                } }
                h2 { "Files" }
                ul { @for f in &files { li { a href=(f) { (f) } } } }
            }
        }
    };
    write_atomic(&dir.join(FILE), page.into_string().as_bytes())
}

/// `x` to six significant digits for the page (the CSV keeps every digit,
/// and a cell's tooltip shows them): whole numbers as they are.
fn sig6(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x}");
    }
    let magnitude = if x == 0.0 || !x.is_finite() { 0 } else { x.abs().log10().floor() as i32 };
    let decimals = (5 - magnitude).clamp(0, 12) as usize;
    format!("{x:.decimals$}")
}

/// The names of the files in `dir` that `keep` keeps, sorted.
fn listed(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| keep(n))
        .collect();
    files.sort();
    Ok(files)
}

/// A page's `<head>`: its title, the styles and the chart check.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { "ecsim: " (title) }
            style { (PreEscaped(STYLE)) }
            script { (PreEscaped(CHECK)) }
        }
    }
}

/// What [`write_table_page`] shows.
#[derive(Debug)]
pub(crate) struct TablePage<'a> {
    /// The page's title.
    pub title: &'a str,
    /// The question the table answers.
    pub question: &'a str,
    /// The command that rewrites the folder.
    pub command: &'a str,
    /// The CSV file in the folder.
    pub csv: &'a str,
    /// Its name in the data contract, if not `csv`.
    pub contract_name: Option<&'a str>,
    /// How to read the table.
    pub notes: &'a [&'a str],
}

#[cfg(test)]
mod tests {
    use super::sig6;

    #[test]
    fn table_numbers_keep_six_significant_digits() {
        assert_eq!(sig6(0.019922316446548138), "0.0199223");
        assert_eq!(sig6(301.5198470742004), "301.520");
        assert_eq!(sig6(200.0), "200");
        assert_eq!(sig6(0.0), "0");
        assert_eq!(sig6(f64::NAN), "NaN");
    }
}
