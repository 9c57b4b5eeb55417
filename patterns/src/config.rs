//! Scenario and pattern configuration: plain serde data with book-like defaults.
//!
//! Every field has a default, unknown keys are errors, and
//! [`Scenario::validate`] names the key of any value out of its domain.

use serde::{Deserialize, Serialize};
use sim_core::{Dist, FaultPlan, LinkConfig, SimDuration};

use sim_core::{FaultSpec, SimTime};

use crate::followers::FollowerConfig;
use crate::topology::Topology;

/// A value out of its domain, with the config path of its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The dotted path of the key, e.g. `workload.rate_per_s`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// An error for `key`.
pub(crate) fn err<T>(key: &str, problem: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError { key: key.to_string(), problem: problem.into() })
}

/// Checks that `p` is a probability.
pub(crate) fn check_prob(key: &str, p: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        err(key, format!("must be a probability between 0 and 1, got {p}"))
    }
}

fn check_dist(key: &str, d: &Dist) -> Result<(), ConfigError> {
    d.validate().map_err(|e| ConfigError { key: key.to_string(), problem: e.to_string() })
}

/// The scenario shared by every pattern: customers, load, services, network, faults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Subscribed customers at the start; each has a row in every table.
    pub customers: u32,
    /// The unsubscribe requests.
    pub workload: WorkloadConfig,
    /// Workers, service times and error rates of each service.
    pub services: ServicesConfig,
    /// Link latency, loss and duplication.
    pub network: NetworkConfig,
    /// The billing cycle.
    pub billing: BillingConfig,
    /// Scheduled faults.
    pub faults: Vec<sim_core::FaultSpec>,
    /// Faults drawn from rates.
    pub random_faults: Vec<sim_core::RandomFault>,
    /// The services that must follow the source's delete, in order. Empty
    /// means the book's two: Support Contract (`services.contract`) and
    /// Billing Payment (`services.billing`, charging per `billing`). Written
    /// to resolved configs only when given, so the book's configs keep
    /// their hash.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<FollowerConfig>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            customers: 100_000,
            workload: WorkloadConfig::default(),
            services: ServicesConfig::default(),
            network: NetworkConfig::default(),
            billing: BillingConfig::default(),
            faults: Vec::new(),
            random_faults: Vec::new(),
            followers: Vec::new(),
        }
    }
}

/// Open-loop Poisson unsubscribe requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    /// Mean arrivals per second of virtual time.
    pub rate_per_s: f64,
    /// How long requests arrive.
    pub duration: SimDuration,
    /// How long the run goes on after the last arrival, for the patterns to
    /// converge. Faults should be healed before it ends.
    pub drain: SimDuration,
    /// How long a user waits for an answer before giving up.
    pub client_timeout: SimDuration,
    /// Scripted arrivals, in time order; when given, they replace the
    /// Poisson stream. Each is an instant (`"11h23m"`: a customer drawn from
    /// the workload stream) or an instant and a customer
    /// (`{ at = "11h23m", customer = 123 }`), to follow that customer with
    /// `ecsim trace --customer`.
    pub at: Vec<Arrival>,
    /// A closed loop of users instead of the open Poisson stream: each user
    /// sends a request, waits for its answer (or gives up), thinks, and sends
    /// the next. The offered load then follows the system's speed, which
    /// finds the maximum throughput.
    pub closed_loop: Option<ClosedLoop>,
    /// Customers told "unsubscribed" who come back. Written to resolved
    /// configs only when given, so older configs keep their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resubscribe: Option<Resubscribe>,
    /// Traffic besides the unsubscribes: new subscriptions and profile
    /// updates, each a Poisson stream over the arrival window. Written to
    /// resolved configs only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<BackgroundTraffic>,
    /// Forget a request's record once it has been settled (answered; its
    /// customer's rows all gone or all back; no re-subscription due; its
    /// event persisted where a broker carries the deletes) and untouched
    /// this long, after adding it to the run's totals. Bounds the memory
    /// of long runs: without it every record is kept to the end (about
    /// 250 bytes per request). A change that reaches a forgotten record is
    /// reported as the violation `retired_too_early`; a window well past
    /// the longest retry, redelivery and repair delay avoids it. Written to
    /// resolved configs only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<SimDuration>,
}

/// New subscriptions and profile updates alongside the unsubscribes.
///
/// A new subscription creates the customer's rows in every table at once,
/// so the tables grow and a background-sync diff scans more rows. A profile
/// update is a request to the source service (a worker, its service time,
/// one row written); the event-based pattern publishes it and change data
/// capture captures it, so every follower consumes `CustomerUpdated`
/// events too. New customers do not unsubscribe within the run and are not
/// billed in it; updates go to customers drawn uniformly from everyone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct BackgroundTraffic {
    /// New subscriptions per second.
    pub signups_per_s: f64,
    /// Profile updates per second.
    pub updates_per_s: f64,
}

/// Customers who subscribe again after leaving.
///
/// A re-subscription creates the customer's rows in every table at once (a
/// sign-up that writes every service). A delete of the old unsubscribe that
/// lands after it removes a row of the new subscription: the re-subscribe
/// race, counted per customer as `resubscribe_anomalies`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Resubscribe {
    /// The chance that a customer told "unsubscribed" comes back.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub probability: f64,
    /// How long after the answer they come back.
    pub after: Dist,
}

/// One scripted arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Arrival {
    /// At this instant, a customer drawn from the workload stream.
    At(SimTime),
    /// At this instant, this customer.
    Pinned(PinnedArrival),
}

/// A scripted arrival of a given customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PinnedArrival {
    /// When the customer unsubscribes.
    pub at: SimTime,
    /// Who: a customer number below `customers`.
    pub customer: crate::msg::CustomerId,
}

impl Arrival {
    /// When the request arrives.
    pub fn time(self) -> SimTime {
        match self {
            Arrival::At(t) => t,
            Arrival::Pinned(p) => p.at,
        }
    }

    /// The customer, if the config names one.
    pub fn customer(self) -> Option<crate::msg::CustomerId> {
        match self {
            Arrival::At(_) => None,
            Arrival::Pinned(p) => Some(p.customer),
        }
    }
}

// By hand rather than `untagged`, whose one error ("did not match any
// variant") hides what is wrong: a string is an instant, a table is a pinned
// arrival with its own field errors ("unknown field `customr`").
impl<'de> Deserialize<'de> for Arrival {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Arrival;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"an instant such as "11h23m", or { at = "11h23m", customer = 123 }"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Arrival, E> {
                v.parse().map(Arrival::At).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Arrival, A::Error> {
                PinnedArrival::deserialize(serde::de::value::MapAccessDeserializer::new(m)).map(Arrival::Pinned)
            }
        }
        d.deserialize_any(V)
    }
}

// By hand, as the deserializer above is: an instant, or a pinned arrival.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Arrival {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Arrival".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "One scripted arrival: an instant (a customer drawn from the workload stream), or an instant and a customer.",
            "anyOf": [g.subschema_for::<SimTime>(), g.subschema_for::<PinnedArrival>()]
        })
    }
}

impl From<SimTime> for Arrival {
    fn from(t: SimTime) -> Self {
        Arrival::At(t)
    }
}

/// A closed-loop user population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClosedLoop {
    /// Concurrent users.
    pub users: u32,
    /// Think time between an answer and the user's next request.
    pub think_time: Dist,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            rate_per_s: 20.0,
            duration: SimDuration::from_hours(1),
            drain: SimDuration::from_hours(2),
            client_timeout: SimDuration::from_secs(30),
            at: Vec::new(),
            closed_loop: None,
            resubscribe: None,
            background: None,
            retire_after: None,
        }
    }
}

/// One service: a pool of workers in front of its database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Concurrent requests it serves (thread per request).
    pub workers: u32,
    /// Time to handle one request, including one single-row database write.
    pub request_time: Dist,
    /// Database time per row of a full-table scan.
    pub scan_time_per_row: SimDuration,
    /// Database time per row of a bulk write (background sync's deletes).
    pub write_time_per_row: SimDuration,
    /// Probability that an operation fails (a transient error).
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub error_rate: f64,
    /// How closely this service's request times follow those of the other
    /// steps of the same customer's unsubscribe, at every service (the
    /// source's request, a saga's calls, the event's first delivery to
    /// every subscriber): 0, the default, draws them independently; 1
    /// moves them in lockstep. Services on one database server or host
    /// are fast or slow together: the slowest of parallel steps is then
    /// faster than independent draws predict, and a chain of steps is more
    /// often all fast or all slow. Each time is drawn at the normal score
    /// `sqrt(c) * shared + sqrt(1 - c) * own`, the shared factor one per
    /// unsubscribe, and keeps its own `request_time` distribution (a
    /// one-factor Gaussian copula): two services set to `c` and `d`
    /// correlate by `sqrt(c * d)` in normal scores. `ecsim testbed
    /// calibrate` estimates it from measured steps of the same requests.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0), extend("default" = 0.0)))]
    #[serde(skip_serializing_if = "is_zero")]
    pub time_correlation: f64,
}

/// Whether a setting is at its default of zero (and so left out of a
/// written config, which keeps configs written before it existed as they
/// were).
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            workers: 16,
            request_time: Dist::Lognormal { median: SimDuration::from_millis(20), sigma: 0.5 },
            scan_time_per_row: SimDuration::from_micros(2),
            write_time_per_row: SimDuration::from_micros(50),
            error_rate: 0.0,
            time_correlation: 0.0,
        }
    }
}

impl ServiceConfig {
    pub(crate) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if self.workers == 0 {
            return err(&format!("{key}.workers"), "a service needs at least one worker");
        }
        check_dist(&format!("{key}.request_time"), &self.request_time)?;
        check_prob(&format!("{key}.error_rate"), self.error_rate)?;
        check_prob(&format!("{key}.time_correlation"), self.time_correlation)
    }
}

/// The broker of the event-based pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// Concurrent publishes it persists.
    pub workers: u32,
    /// Time to persist one published message.
    pub publish_time: Dist,
    /// Redeliver a message not acknowledged within this time.
    pub ack_timeout: SimDuration,
    /// Wait this long before redelivering after a failure (doubling per attempt).
    pub redelivery_delay: SimDuration,
    /// Deliveries before a message goes to the dead-letter queue.
    pub max_deliveries: u32,
    /// Unacknowledged deliveries per subscription at once.
    pub prefetch: u32,
    /// How often the automated repair job retries the dead-letter queue.
    pub dlq_repair_interval: SimDuration,
    /// Repair rounds per message before it needs a human.
    pub dlq_repair_rounds: u32,
    /// How much the time to persist an unsubscribe's event goes with the
    /// other steps of the same unsubscribe, as a service's
    /// `time_correlation` does (the same shared factor per unsubscribe): 0,
    /// the default, draws it independently. On one host a slow moment
    /// slows the broker and the services together.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0), extend("default" = 0.0)))]
    #[serde(skip_serializing_if = "is_zero")]
    pub time_correlation: f64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            workers: 8,
            publish_time: Dist::Lognormal { median: SimDuration::from_millis(2), sigma: 0.3 },
            ack_timeout: SimDuration::from_secs(30),
            redelivery_delay: SimDuration::from_secs(1),
            max_deliveries: 5,
            prefetch: 32,
            dlq_repair_interval: SimDuration::from_mins(10),
            dlq_repair_rounds: 1,
            time_correlation: 0.0,
        }
    }
}

/// Every service of the scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct ServicesConfig {
    /// The Customer Profile Service.
    pub profile: ServiceConfig,
    /// The Support Contract Service (the built-in followers only).
    pub contract: ServiceConfig,
    /// The Billing Payment Service (the built-in followers only).
    pub billing: ServiceConfig,
    /// The Unsubscribe Orchestrator (orchestrated pattern).
    pub orchestrator: ServiceConfig,
    /// The broker (event-based pattern).
    pub broker: BrokerConfig,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            profile: ServiceConfig::default(),
            contract: ServiceConfig::default(),
            billing: ServiceConfig::default(),
            orchestrator: ServiceConfig {
                // As many threads as every other service: a saga holds one
                // for its whole wait, which is the pattern's capacity cost.
                workers: 16,
                request_time: Dist::Lognormal { median: SimDuration::from_millis(2), sigma: 0.3 },
                ..ServiceConfig::default()
            },
            broker: BrokerConfig::default(),
        }
    }
}

/// A link that differs from the default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sending node.
    pub from: String,
    /// Receiving node.
    pub to: String,
    /// Its configuration.
    #[serde(flatten)]
    pub link: LinkConfig,
}

/// The network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Every link unless overridden.
    pub default: LinkConfig,
    /// Per-link overrides.
    pub links: Vec<LinkOverride>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            default: LinkConfig::with_latency(Dist::Lognormal { median: SimDuration::from_millis(1), sigma: 0.5 }),
            links: Vec::new(),
        }
    }
}

/// The billing cycle of the built-in Billing follower.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Each customer is charged once per period, at their own offset.
    pub period: SimDuration,
    /// The plan's price, in cents.
    pub price_cents: u64,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig { period: SimDuration::from_hours(24 * 30), price_cents: 4_900 }
    }
}

impl Scenario {
    /// Scripted arrivals come in time order, inside the arrival window,
    /// one per customer at most, and name customers that exist.
    fn check_scripted(&self) -> Result<(), ConfigError> {
        let w = &self.workload;
        let end = SimTime::ZERO.checked_add(w.duration);
        let mut pinned = std::collections::BTreeMap::new();
        for (i, a) in w.at.iter().enumerate() {
            let key = format!("workload.at[{i}]");
            if end.is_some_and(|end| a.time() >= end) {
                return err(
                    &key,
                    format!(
                        "arrives at {}, after the arrival window closes (workload.duration = {})",
                        a.time(),
                        w.duration
                    ),
                );
            }
            if i > 0 && a.time() < w.at[i - 1].time() {
                return err(
                    &key,
                    format!("arrives at {}, before the arrival above it ({})", a.time(), w.at[i - 1].time()),
                );
            }
            if let Some(c) = a.customer() {
                if c >= self.customers {
                    return err(
                        &format!("{key}.customer"),
                        format!("customer {c} does not exist (customers = {}, numbered from 0)", self.customers),
                    );
                }
                if let Some(first) = pinned.insert(c, i) {
                    return err(
                        &format!("{key}.customer"),
                        format!("customer {c} already unsubscribes at workload.at[{first}]; a customer leaves once"),
                    );
                }
            }
        }
        if w.at.len() as u64 > u64::from(self.customers) {
            return err(
                "workload.at",
                format!("{} scripted arrivals but {} customers; each customer leaves once", w.at.len(), self.customers),
            );
        }
        Ok(())
    }

    /// The instant the run stops: arrivals, then the drain.
    pub fn horizon(&self) -> sim_core::SimTime {
        sim_core::SimTime::ZERO + self.workload.duration + self.workload.drain
    }

    /// The scheduled and random faults as a kernel fault plan.
    pub fn fault_plan(&self) -> FaultPlan {
        FaultPlan { faults: self.faults.clone(), random_faults: self.random_faults.clone() }
    }

    /// Checks every value against its domain.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.customers == 0 {
            return err("customers", "there must be at least one customer");
        }
        let w = &self.workload;
        if !(w.rate_per_s.is_finite() && w.rate_per_s >= 0.0) {
            return err("workload.rate_per_s", format!("must be a rate >= 0 per second, got {}", w.rate_per_s));
        }
        if w.client_timeout.is_zero() {
            return err("workload.client_timeout", "must be above zero");
        }
        if w.retire_after.is_some_and(SimDuration::is_zero) {
            return err("workload.retire_after", "must be above zero (leave it out to keep every record)");
        }
        self.check_scripted()?;
        if let Some(b) = &w.background {
            for (k, v) in [("signups_per_s", b.signups_per_s), ("updates_per_s", b.updates_per_s)] {
                if !(v.is_finite() && v >= 0.0) {
                    return err(
                        &format!("workload.background.{k}"),
                        format!("must be a rate >= 0 per second, got {v}"),
                    );
                }
            }
            // Every signup is a customer in memory: refuse a flood.
            let signups = b.signups_per_s * w.duration.as_secs_f64();
            if signups + f64::from(self.customers) > f64::from(u32::MAX / 2) {
                return err(
                    "workload.background.signups_per_s",
                    format!("{signups:.0} signups over the arrival window; at most about 2e9 customers in all"),
                );
            }
        }
        if let Some(r) = &w.resubscribe {
            check_prob("workload.resubscribe.probability", r.probability)?;
            check_dist("workload.resubscribe.after", &r.after)?;
        }
        if let Some(c) = &w.closed_loop {
            if !w.at.is_empty() {
                return err(
                    "workload.closed_loop",
                    "a closed loop and scripted arrivals (workload.at) exclude each other",
                );
            }
            if c.users == 0 {
                return err("workload.closed_loop.users", "must be at least 1");
            }
            // Each request is a different customer's, and every user starts
            // with a timer: more users than customers is a mistake, and
            // billions of them would exhaust memory at the start.
            if c.users > self.customers {
                return err(
                    "workload.closed_loop.users",
                    format!("{} users but {} customers; at most one user per customer", c.users, self.customers),
                );
            }
            check_dist("workload.closed_loop.think_time", &c.think_time)?;
        }
        self.check_followers()?;
        let topology = self.topology();
        let node = |key: String, name: &str| {
            topology.lookup(name).map(|_| ()).map_err(|e| ConfigError { key, problem: e.to_string() })
        };
        let s = &self.services;
        s.profile.validate("services.profile")?;
        s.contract.validate("services.contract")?;
        s.billing.validate("services.billing")?;
        s.orchestrator.validate("services.orchestrator")?;
        if s.orchestrator.time_correlation != 0.0 {
            // Its steps are its own: no other service handles the same unit.
            return err(
                "services.orchestrator.time_correlation",
                "applies to data services only (profile, contract, billing, followers); leave it out here",
            );
        }
        if s.broker.workers == 0 {
            return err("services.broker.workers", "the broker needs at least one worker");
        }
        if s.broker.max_deliveries == 0 {
            return err("services.broker.max_deliveries", "must be at least 1");
        }
        if s.broker.ack_timeout.is_zero() {
            return err("services.broker.ack_timeout", "must be above zero");
        }
        if s.broker.prefetch == 0 {
            return err("services.broker.prefetch", "must be at least 1");
        }
        check_dist("services.broker.publish_time", &s.broker.publish_time)?;
        check_prob("services.broker.time_correlation", s.broker.time_correlation)?;
        self.network.default.validate().map_err(|p| ConfigError { key: "network.default".into(), problem: p })?;
        for (i, l) in self.network.links.iter().enumerate() {
            l.link.validate().map_err(|p| ConfigError { key: format!("network.links[{i}]"), problem: p })?;
            for (k, n) in [("from", &l.from), ("to", &l.to)] {
                node(format!("network.links[{i}].{k}"), n)?;
            }
        }
        if self.billing.period.is_zero() {
            return err("billing.period", "must be above zero");
        }
        let Some(horizon) = SimTime::ZERO.checked_add(w.duration).and_then(|t| t.checked_add(w.drain)) else {
            return err(
                "workload.drain",
                "workload.duration + workload.drain passes the largest virtual time (584 years)",
            );
        };
        for (i, f) in self.faults.iter().enumerate() {
            validate_fault(i, f, horizon, &topology)?;
        }
        for (i, f) in self.random_faults.iter().enumerate() {
            let key = |field: &str| format!("random_faults[{i}].{field}");
            node(key("node"), f.node())?;
            let (field, gap) = match f {
                sim_core::RandomFault::Crashes { mtbf, .. } => ("mtbf", *mtbf),
                sim_core::RandomFault::Pauses { mean_gap, .. } => ("mean_gap", *mean_gap),
            };
            if gap.is_zero() {
                return err(&key(field), "the mean time between faults must be above zero");
            }
            // Every fault is two kernel events and a chart window: refuse a
            // rate that would flood the run rather than grind through it.
            let expected = horizon.as_secs_f64() / gap.as_secs_f64();
            if expected > MAX_RANDOM_FAULTS {
                return err(
                    &key(field),
                    format!(
                        "expects {expected:.0} faults over the run; at most {MAX_RANDOM_FAULTS:.0} (raise {field})"
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The most random faults one run may expect.
const MAX_RANDOM_FAULTS: f64 = 1e7;

/// Checks one scheduled fault against the node names and the run's end,
/// naming the offending field as `faults[i].field`.
fn validate_fault(i: usize, f: &FaultSpec, horizon: SimTime, topology: &Topology) -> Result<(), ConfigError> {
    let key = |field: &str| format!("faults[{i}].{field}");
    let node =
        |n: &str, field: &str| topology.lookup(n).map_err(|e| ConfigError { key: key(field), problem: e.to_string() });
    let (at, length, length_key) = match f {
        FaultSpec::Partition { at, duration, groups, .. } => {
            let sides: Vec<Vec<sim_core::NodeId>> = groups
                .iter()
                .map(|g| g.iter().map(|n| node(n, "groups")).collect::<Result<Vec<_>, _>>())
                .collect::<Result<_, _>>()?;
            let (a, b) = match sides.as_slice() {
                [a] => (a.len(), topology.names().len() - a.iter().collect::<std::collections::BTreeSet<_>>().len()),
                [a, b] => (a.len(), b.len()),
                _ => {
                    return err(
                        &key("groups"),
                        format!("must hold one or two lists of node names, got {}", groups.len()),
                    )
                }
            };
            if a == 0 || b == 0 {
                return err(&key("groups"), "a partition needs nodes on both sides");
            }
            (*at, Some(*duration), "duration")
        }
        FaultSpec::Crash { node: n, at, restart_after } => {
            node(n, "node")?;
            (*at, *restart_after, "restart_after")
        }
        FaultSpec::Pause { node: n, at, duration } | FaultSpec::LatencySpike { node: n, at, duration, .. } => {
            node(n, "node")?;
            (*at, Some(*duration), "duration")
        }
        FaultSpec::Slow { node: n, at, duration, factor } => {
            node(n, "node")?;
            if !(factor.is_finite() && (1.0..=1e6).contains(factor)) {
                return err(&key("factor"), format!("must be between 1 and 1e6 (a slowdown), got {factor}"));
            }
            (*at, Some(*duration), "duration")
        }
    };
    if at >= horizon {
        return err(&key("at"), format!("starts at {at}, when the run is over (it ends at {horizon})"));
    }
    if length.is_some_and(|d| at.checked_add(d).is_none()) {
        return err(&key(length_key), "ends past the largest virtual time (584 years)");
    }
    Ok(())
}
