//! The data contract of a result folder: every column a CSV may have, its
//! unit and its meaning.
//!
//! `manifest.json` lists each CSV's columns from here, the guide's table of
//! columns is this list, and a test checks every committed CSV against it,
//! so a column cannot appear without a unit and a meaning.
//!
//! Units are written as short strings: `s` (seconds of virtual time),
//! `share` (between 0 and 1), `count`, `1/s`, `1/request`, `cents`; an
//! empty unit marks a plain number, text, an identifier or a flag. (Not
//! `1` for a plain number: in a CSV column, pandas and polars would read it
//! as an integer.) Every column also has a type: `number` (read as a float; `NaN`
//! where there is no value, so the type never depends on gaps),
//! `integer`, `boolean` or `text`.

use patterns::metrics::{Unit, METRICS};
use serde::Serialize;

/// The columns that place a row in the sweep, at the start of every file's
/// rows: per dimension its label, its value as a number, the number's unit,
/// and the point as written in the config.
pub(crate) const COORDS: [&str; 8] = ["sweep_x", "x", "x_unit", "x_label", "sweep_y", "y", "y_unit", "y_label"];

/// One column's unit and meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ColumnDoc {
    /// The column name.
    pub name: String,
    /// Its unit (empty for text, identifiers and flags).
    pub unit: String,
    /// `number` (a float; `NaN` where missing), `integer`, `boolean`
    /// (`true`/`false`) or `text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What it holds.
    pub meaning: String,
}

/// A metric unit's short name.
pub(crate) fn unit(u: Unit) -> &'static str {
    match u {
        Unit::Seconds => "s",
        Unit::Share => "share",
        Unit::Count => "count",
        Unit::PerSecond => "1/s",
        Unit::PerRequest => "1/request",
        Unit::Cents => "cents",
    }
}

/// Columns shared by the files of a run folder: the sweep coordinates
/// ([`COORDS`]) and the run's identity. The units of `x` and
/// `y` are the experiment's ([`describe`] takes them).
const SHARED: &[(&str, &str, &str)] = &[
    ("sweep_x", "", "label of the first swept dimension (empty without a sweep)"),
    ("x", "x_unit", "the first dimension's value as a number (NaN without a sweep or for a value that is no number)"),
    ("x_unit", "", "the unit of x: s for durations, otherwise the sweep's unit key (default none)"),
    ("x_label", "", "the point on the first dimension as written in the config: `<sweep_x> = <value>`"),
    ("sweep_y", "", "label of the second swept dimension (empty without one)"),
    ("y", "y_unit", "the second dimension's value as a number (NaN without one)"),
    ("y_unit", "", "the unit of y"),
    ("y_label", "", "the point on the second dimension: `<sweep_y> = <value>`"),
    ("experiment", "", "the experiment's name"),
    ("pattern", "", "the pattern's name (its config entry)"),
    ("replication", "", "the replication, from 0; every pattern of a replication shares its seed"),
    ("seed", "", "the replication's seed (fits a signed 64-bit integer)"),
    ("config_hash", "", "stable hash of the sweep point's resolved config and master seed"),
];

/// Columns of one file, beyond [`SHARED`] and the metric registry.
fn own(file: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match file {
        "summary.csv" => &[("violations", "", "the run's broken invariants, separated by '; ' (empty if none)")],
        "aggregate.csv" => &[
            ("metric", "", "the metric (a summary.csv column)"),
            ("unit", "", "the metric's unit, which mean and the interval share"),
            ("n", "count", "replications"),
            ("mean", "unit", "mean over the replications"),
            ("ci95_low", "unit", "lower end of the 95% confidence interval of the mean (Student t)"),
            ("ci95_high", "unit", "upper end of the 95% confidence interval of the mean"),
        ],
        "timeseries.csv" => &[
            ("time_s", "s", "virtual time, on a grid of 600 steps over the run"),
            (
                "inconsistent",
                "count",
                "the most customers whose rows disagreed at any instant of the step ending at time_s",
            ),
        ],
        "cdf.csv" => &[
            ("metric", "", "lag (from the answer until every follower's row is gone) or response"),
            ("q", "share", "cumulative probability"),
            ("value_s", "s", "the nearest-rank quantile at q"),
        ],
        "faults.csv" => &[
            ("kind", "", "the fault kind"),
            ("target", "", "the node, link or partition (groups separated by ' | ')"),
            ("from_s", "s", "start of the window"),
            ("to_s", "s", "end of the window (inf if it never ends)"),
        ],
        "side_effects.csv" => &[
            ("follower", "", "the follower"),
            ("action", "", "its side effect's name"),
            ("actions", "count", "side effects performed"),
            ("after_unsubscribe", "count", "side effects on a customer already told \"unsubscribed\""),
            ("cost_cents", "cents", "what those late side effects cost"),
            ("doubles", "count", "side effects performed twice for one period"),
        ],
        "requests.csv" => &[
            ("request", "", "the request's index in its run"),
            ("customer", "", "the customer"),
            ("arrival_s", "s", "when the request arrived"),
            ("answered_s", "s", "when the user got an answer (NaN if never)"),
            ("outcome", "", "ok, error, timeout or pending"),
            ("restored", "", "true if a compensation put a deleted row back"),
        ],
        "explore/summary.csv" => &[
            ("runs", "count", "seeds (fault mixes) tried"),
            ("promise", "", "the promise checked"),
            ("violations", "count", "runs that broke it"),
            ("smallest_faults", "count", "faults in the smallest reproducer (empty if none broke it)"),
            ("reproducer", "", "the reproducer's config file"),
            ("example_seed", "", "a seed that broke it"),
            ("failed_compensations", "count", "compensations that failed over every run"),
            ("detail", "", "what broke"),
        ],
        "validation.csv" => &[
            ("case", "", "the queueing-theory case"),
            ("quantity", "", "the quantity compared, with its unit"),
            ("simulated", "quantity", "the simulated mean over the replications"),
            ("std_err", "quantity", "its standard error"),
            ("dof", "count", "degrees of freedom of the interval"),
            ("ci99_low", "quantity", "lower end of the 99% confidence interval"),
            ("ci99_high", "quantity", "upper end"),
            ("analytic", "quantity", "the exact value from theory"),
            ("wrong_model", "quantity", "what a plausible wrong model predicts (the test's power)"),
            ("n", "count", "samples"),
            ("pass", "", "true if the interval holds the analytic value"),
        ],
        _ => &[],
    }
}

/// The files of a result folder that the contract covers, with what each
/// holds, in the order the guide lists them.
pub(crate) const FILES: &[(&str, &str)] = &[
    ("summary.csv", "One row per sweep point, pattern and replication: every metric of the run."),
    (
        "aggregate.csv",
        "One row per sweep point, pattern and charted metric: the mean over the replications with its 95% confidence interval.",
    ),
    (
        "timeseries.csv",
        "Customers whose rows disagree, over virtual time: one row per step of a 600-step grid, per sweep point, pattern and replication.",
    ),
    ("cdf.csv", "Quantiles of the lag and the response time at 208 fixed probabilities, per run."),
    ("faults.csv", "Every fault window of every replication, scheduled and random."),
    ("side_effects.csv", "Written when a follower has a side effect (the book's charge): what each run's side effects did."),
    (
        "requests.csv",
        "A paired uniform sample of the requests of replication 0 (the same requests in every pattern), at most `requests_csv_limit` rows; the manifest gives the fraction. One `<table>_deleted_s` column per table, in the topology's order.",
    ),
    ("explore/summary.csv", "`ecsim explore`: one row per pattern and promise."),
    ("validation.csv", "`ecsim validation`: one row per case and quantity, simulated against analytic."),
];

/// The identity columns of a run-folder file, after its coordinates.
fn identity(file: &str) -> &'static [&'static str] {
    match file {
        "summary.csv" => &["pattern", "replication", "seed", "config_hash"],
        "aggregate.csv" => &["pattern"],
        "faults.csv" => &["replication"],
        "side_effects.csv" => &["pattern", "replication", "seed"],
        "explore/summary.csv" => &["pattern"],
        "validation.csv" => &[],
        _ => &["pattern", "replication"],
    }
}

/// The columns of `file`, in order: the header its writer writes. In
/// `requests.csv`, `tables` gives the `<table>_deleted_s` columns.
pub(crate) fn header(file: &str, tables: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let run_folder = !matches!(file, "explore/summary.csv" | "validation.csv");
    if file == "summary.csv" {
        out.push("experiment".into());
    }
    if run_folder {
        out.extend(COORDS.iter().map(|c| c.to_string()));
    }
    out.extend(identity(file).iter().map(|c| c.to_string()));
    if file == "summary.csv" {
        out.extend(METRICS.iter().map(|m| m.name.to_string()));
    }
    for (name, ..) in own(file) {
        if *name == "restored" {
            out.extend(tables.iter().map(|t| format!("{t}_deleted_s")));
        }
        out.push(name.to_string());
    }
    out
}

/// Every column of `file` with its unit, type and meaning, for the guide:
/// `x` and `y` show their unit as `x_unit` and `y_unit`, and the
/// per-table columns of `requests.csv` as `<table>_deleted_s`.
pub(crate) fn columns(file: &str) -> Vec<ColumnDoc> {
    header(file, &["<table>"]).iter().filter_map(|c| describe(file, c, "x_unit", "y_unit")).collect()
}

/// The unit and meaning of `column` in `file` (a file name, or
/// `explore/summary.csv`), with `x_unit` and `y_unit` the experiment's
/// sweep units; `None` for a column the contract does not know.
pub(crate) fn describe(file: &str, column: &str, x_unit: &str, y_unit: &str) -> Option<ColumnDoc> {
    let doc = |unit: &str, meaning: &str| {
        let kind = match column {
            "replication" | "seed" | "request" | "customer" | "dof" => "integer",
            "restored" | "pass" => "boolean",
            // Sweep values are numbers whatever their unit.
            "x" | "y" => "number",
            _ if unit.is_empty() => "text",
            _ => "number",
        };
        Some(ColumnDoc { name: column.to_string(), unit: unit.to_string(), kind, meaning: meaning.to_string() })
    };
    if let Some((_, u, m)) = own(file).iter().find(|(n, ..)| *n == column) {
        return doc(u, m);
    }
    if file.starts_with("explore/") || file == "validation.csv" {
        return (column == "pattern").then(|| doc("", "the pattern")).flatten();
    }
    if let Some((_, u, m)) = SHARED.iter().find(|(n, ..)| *n == column) {
        let u = match *u {
            "x_unit" => x_unit,
            "y_unit" => y_unit,
            u => u,
        };
        return doc(u, m);
    }
    if file == "summary.csv" {
        if let Some(m) = METRICS.iter().find(|m| m.name == column) {
            return doc(unit(m.unit), m.description);
        }
    }
    if file == "requests.csv" {
        if let Some(table) = column.strip_suffix("_deleted_s") {
            let table = if table == "<table>" { "`<table>`" } else { table };
            return doc("s", &format!("when the {table} table's row was deleted (NaN if it never was)"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_unit_and_a_meaning() {
        for m in METRICS {
            let d = describe("summary.csv", m.name, "", "").expect("a metric is a summary column");
            assert!(!d.meaning.is_empty(), "{}", m.name);
        }
        assert_eq!(describe("summary.csv", "x", "s", "").unwrap().unit, "s");
        assert_eq!(describe("requests.csv", "billing_deleted_s", "", "").unwrap().unit, "s");
        assert_eq!(describe("cdf.csv", "no_such_column", "", ""), None);
        for (file, _) in FILES {
            let names = header(file, &["billing"]);
            assert_eq!(columns(file).len(), names.len(), "{file}: a column without a meaning");
        }
    }
}
