//! The metric registry: every per-run metric declared once, with its name,
//! unit, meaning, how replications aggregate it, whether it is charted and
//! whether the terminal summary shows it.
//!
//! The declaration drives `summary.csv` (one column per metric, in this
//! order), `aggregate.csv` and the sweep charts (the charted metrics, in
//! chart order), the charts' titles and axes, and the terminal table.
//! Adding a metric is one entry here (plus, for a new quantity, the
//! [`RunReport`] field that measures it).

use serde::{Serialize, Serializer};

use crate::report::RunReport;

/// One metric's value in one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A count, written as an integer.
    Count(u64),
    /// A real number, written as a float.
    Real(f64),
}

impl Value {
    /// The value as a float, for aggregation and charts.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Count(n) => n as f64,
            Value::Real(x) => x,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Count(n) => s.serialize_u64(n),
            Value::Real(x) => s.serialize_f64(x),
        }
    }
}

/// What a metric is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds of virtual time.
    Seconds,
    /// A share between 0 and 1.
    Share,
    /// A count per run.
    Count,
    /// Per second of virtual time.
    PerSecond,
    /// Per unsubscribe request.
    PerRequest,
    /// Cents.
    Cents,
}

/// How the replications of one sweep point and pattern are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// The mean, with a Student-t 95% confidence interval.
    MeanCi95,
}

/// How the terminal table prints a mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A whole number.
    Whole,
    /// One decimal.
    OneDecimal,
    /// A share as a percentage with two decimals.
    Percent,
    /// Seconds in the natural unit: ms, s, m or h.
    Duration,
}

/// A metric that is charted against the swept parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chart {
    /// Its place among the charted metrics (rows of `aggregate.csv`).
    pub order: u8,
    /// The chart's title.
    pub title: &'static str,
    /// The y axis label, with the unit.
    pub axis: &'static str,
}

/// A column of the terminal summary table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// How the mean is printed.
    pub format: Format,
}

/// One metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// The column name in the CSV files.
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// What it means.
    pub description: &'static str,
    /// Reads it off a run.
    pub value: fn(&RunReport) -> Value,
    /// How replications combine.
    pub aggregation: Aggregation,
    /// Charted against the swept parameter, if at all.
    pub chart: Option<Chart>,
    /// Shown in the terminal summary, if at all.
    pub column: Option<Column>,
}

const fn m(name: &'static str, unit: Unit, description: &'static str, value: fn(&RunReport) -> Value) -> Metric {
    Metric { name, unit, description, value, aggregation: Aggregation::MeanCi95, chart: None, column: None }
}

impl Metric {
    const fn chart(mut self, order: u8, title: &'static str, axis: &'static str) -> Self {
        self.chart = Some(Chart { order, title, axis });
        self
    }

    const fn column(mut self, header: &'static str, format: Format) -> Self {
        self.column = Some(Column { header, format });
        self
    }
}

use Format::{Duration, OneDecimal, Percent, Whole};
use Unit::{Cents, Count, PerRequest, PerSecond, Seconds, Share};
use Value::{Count as C, Real as R};

/// Every metric, in `summary.csv` column order.
pub const METRICS: &[Metric] = &[
    m("requests", Count, "unsubscribe requests issued", |r| C(r.requests)).column("requests", Whole),
    m("answered_ok", Count, "requests answered \"unsubscribed\"", |r| C(r.answered_ok)),
    m("answered_error", Count, "requests answered with an error", |r| C(r.answered_error)),
    m("timed_out", Count, "requests whose user gave up waiting", |r| C(r.timed_out)),
    m("pending", Count, "requests still unanswered at the end", |r| C(r.pending)),
    m("error_share", Share, "share of requests answered with an error or timed out", |r| R(r.error_share))
        .chart(6, "Share of requests answered with an error or timeout", "share of requests")
        .column("errors", Percent),
    m("response_mean_s", Seconds, "mean response time over answered requests", |r| R(r.response_time.mean)),
    m("response_p50_s", Seconds, "median response time", |r| R(r.response_time.p50))
        .chart(0, "Median response time", "response time (s)")
        .column("resp p50", Duration),
    m("response_p95_s", Seconds, "95th-percentile response time", |r| R(r.response_time.p95)),
    m("response_p99_s", Seconds, "99th-percentile response time", |r| R(r.response_time.p99))
        .chart(1, "99th-percentile response time", "response time (s)")
        .column("resp p99", Duration),
    m("response_max_s", Seconds, "longest response time", |r| R(r.response_time.max)),
    m("lag_mean_s", Seconds, "mean consistency lag from the answer", |r| R(r.lag_from_answer.mean)).chart(
        2,
        "Mean consistency lag",
        "lag after the answer (s)",
    ),
    m("lag_p50_s", Seconds, "median consistency lag from the answer", |r| R(r.lag_from_answer.p50))
        .chart(3, "Median consistency lag", "lag after the answer (s)")
        .column("lag p50", Duration),
    m("lag_p95_s", Seconds, "95th-percentile consistency lag", |r| R(r.lag_from_answer.p95)),
    m("lag_p99_s", Seconds, "99th-percentile consistency lag", |r| R(r.lag_from_answer.p99))
        .chart(4, "99th-percentile consistency lag", "lag after the answer (s)")
        .column("lag p99", Duration),
    m("lag_max_s", Seconds, "longest consistency lag", |r| R(r.lag_from_answer.max)),
    m("lag_from_profile_mean_s", Seconds, "mean lag from the Profile deletion", |r| R(r.lag_from_profile.mean)),
    m("lag_from_profile_p99_s", Seconds, "99th-percentile lag from the Profile deletion", |r| {
        R(r.lag_from_profile.p99)
    }),
    m("inconsistent_at_end", Count, "customers whose rows disagree after the drain", |r| {
        C(u64::from(r.inconsistent_at_end))
    })
    .chart(5, "Customers still inconsistent after the drain", "customers")
    .column("inconsistent", OneDecimal),
    m("told_ok_not_converged", Count, "customers told \"unsubscribed\" whose rows are not all gone", |r| {
        C(r.told_ok_not_converged)
    }),
    m("late_deletes", Count, "customers left with a row deleted after their saga compensated", |r| C(r.late_deletes)),
    m("fenced_rejections", Count, "late deletes refused by a fencing token", |r| C(r.counters.fenced_rejections)),
    m("resubscriptions", Count, "customers who subscribed again after leaving", |r| C(r.counters.resubscriptions)),
    m("resubscribe_anomalies", Count, "re-subscribed customers who lost a new row to their old unsubscribe", |r| {
        C(r.resubscribe_anomalies)
    }),
    m("throughput_per_s", PerSecond, "\"unsubscribed\" answers in the arrival window, per second", |r| {
        R(r.throughput_per_s)
    })
    .chart(7, "Throughput", "unsubscribes answered OK per second"),
    m("offered_per_s", PerSecond, "offered load", |r| R(r.offered_per_s)),
    m("messages_per_request", PerRequest, "network messages sent per request", |r| R(r.messages_per_request)).chart(
        12,
        "Network messages per request",
        "messages",
    ),
    m("db_ops_per_request", PerRequest, "database operations per request", |r| R(r.db_ops_per_request)).chart(
        13,
        "Database operations per request",
        "operations",
    ),
    m("retries", Count, "calls retried after a timeout or an error", |r| C(r.counters.retries)),
    m("call_timeouts", Count, "calls that timed out", |r| C(r.counters.timeouts)),
    m("compensations", Count, "sagas that compensated", |r| C(r.counters.compensations)).chart(
        10,
        "Compensations",
        "sagas compensated per run",
    ),
    m("failed_compensations", Count, "compensating calls that failed", |r| C(r.counters.failed_compensations)),
    m("redeliveries", Count, "broker redeliveries", |r| C(r.counters.redeliveries)).chart(
        11,
        "Broker redeliveries",
        "redeliveries per run",
    ),
    m("duplicates", Count, "duplicate deliveries detected by idempotent consumers", |r| C(r.counters.duplicates)),
    m("dead_lettered", Count, "messages moved to the dead-letter queue", |r| C(r.counters.dead_lettered)),
    m("manual_repairs", Count, "cases left for a human", |r| C(r.counters.manual_repairs))
        .chart(9, "Cases needing manual repair", "cases per run")
        .column("manual", OneDecimal),
    m("events_lost", Count, "events lost in the dual-write gap", |r| C(r.events_lost)),
    m("charges_after_unsubscribe", Count, "charges after \"you will no longer be billed\"", |r| {
        C(r.counters.charges_after_unsubscribe)
    })
    .chart(8, "Charges after 'you will no longer be billed'", "charges per run")
    .column("late charges", OneDecimal),
    m("charged_after_unsubscribe_cents", Cents, "the amount of those charges", |r| {
        C(r.counters.charged_after_unsubscribe_cents)
    }),
    m("sync_failed_runs", Count, "background sync runs that did not finish", |r| C(r.counters.sync_failed_runs)),
    m("rows_scanned", Count, "rows read by background sync's scans", |r| C(r.counters.rows_scanned)).chart(
        14,
        "Rows read by background sync's scans",
        "rows per simulated run",
    ),
    m("kernel_events", Count, "events the kernel processed", |r| C(r.kernel.events)),
    m("messages_dropped", Count, "network messages dropped", |r| C(r.kernel.dropped())),
];

/// The charted metrics, in chart order.
pub fn charted() -> Vec<&'static Metric> {
    let mut out: Vec<&Metric> = METRICS.iter().filter(|m| m.chart.is_some()).collect();
    out.sort_by_key(|m| m.chart.map(|c| c.order));
    out
}

/// A metric by its column name.
pub fn by_name(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_chart_orders_are_a_permutation() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        let orders: Vec<u8> = charted().iter().map(|m| m.chart.expect("charted").order).collect();
        assert_eq!(orders, (0..orders.len() as u8).collect::<Vec<_>>());
    }
}
