//! The followers: the services that own a table which must follow the
//! source's delete, each with its service and an optional periodic side
//! effect. A config lists them under `[[followers]]`; without that list the
//! book's Support Contract and Billing Payment are the built-in followers.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::config::{err, BillingConfig, ConfigError, Scenario, ServiceConfig, ServicesConfig};
use crate::topology::{Topology, MAX_FOLLOWERS, RESERVED_NAMES};

/// A service that owns a table which must follow the source's delete.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct FollowerConfig {
    /// The node's name, which faults, partitions, links and traces use.
    pub name: Option<String>,
    /// The table it owns.
    pub table: Option<String>,
    /// How many such followers. When given, follower `k` (from 1) is named
    /// `<name><k>` and owns `<table><k>`, even for `count = 1`, so that a
    /// fan-out sweeps one number (`followers[0].count`) and `<name>1`
    /// exists at every point; without it, one follower named `<name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Workers, service times and error rate.
    pub service: ServiceConfig,
    /// A periodic action on each of its rows, an anomaly once the customer
    /// was told they left (the book's Billing charge).
    pub side_effect: Option<SideEffectConfig>,
}

/// A periodic action a follower takes on each customer's row, at the
/// customer's own offset within the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SideEffectConfig {
    /// What the action is called in outputs, e.g. `charge` or `newsletter`.
    pub name: String,
    /// Each row gets the action once per period.
    pub period: SimDuration,
    /// What one action costs when it is an anomaly, in cents.
    #[serde(default)]
    pub cost_cents: u64,
}

/// One follower, resolved: the built-in book followers or a configured one.
#[derive(Clone, Debug, PartialEq)]
pub struct Follower {
    /// The node's name.
    pub name: String,
    /// The table it owns.
    pub table: String,
    /// Its service.
    pub service: ServiceConfig,
    /// Its periodic side effect, if any.
    pub side_effect: Option<SideEffectConfig>,
}

/// The source service's node and table name.
const SOURCE: (&str, &str) = ("profile", "profile");

impl Scenario {
    /// The followers, resolved: the configured ones (each `count` expanded),
    /// or the book's two.
    pub fn followers(&self) -> Vec<Follower> {
        if !self.followers.is_empty() {
            return self.expanded().map(|(_, f)| f).collect();
        }
        let book = |name: &str, service: &ServiceConfig, side_effect| Follower {
            name: name.into(),
            table: name.into(),
            service: service.clone(),
            side_effect,
        };
        vec![
            book("contract", &self.services.contract, None),
            book(
                "billing",
                &self.services.billing,
                Some(SideEffectConfig {
                    name: "charge".into(),
                    period: self.billing.period,
                    cost_cents: self.billing.price_cents,
                }),
            ),
        ]
    }

    /// The scenario's nodes and tables.
    pub fn topology(&self) -> Topology {
        let followers = self.followers();
        let pairs: Vec<(&str, &str)> = followers.iter().map(|f| (f.name.as_str(), f.table.as_str())).collect();
        Topology::new(SOURCE, &pairs)
    }

    /// The configured followers with `count` expanded, each with the index
    /// of its entry in `followers`. Lazy, so that a huge `count` is refused
    /// before anything is built.
    fn expanded(&self) -> impl Iterator<Item = (usize, Follower)> + '_ {
        self.followers.iter().enumerate().flat_map(|(i, f)| {
            let (name, table) = (f.name.clone().unwrap_or_default(), f.table.clone().unwrap_or_default());
            // With `count`, always numbered (even `count = 1`), so that a
            // sweep over the count keeps `svc1` in every point.
            let n = f.count.unwrap_or(1);
            (1..=n).map(move |k| {
                let suffix = if f.count.is_some() { k.to_string() } else { String::new() };
                let follower = Follower {
                    name: format!("{name}{suffix}"),
                    table: format!("{table}{suffix}"),
                    service: f.service.clone(),
                    side_effect: f.side_effect.clone(),
                };
                (i, follower)
            })
        })
    }

    /// Configured followers: 1 to 64, each named, with a table, and no two
    /// alike; the built-in followers' keys are then left alone.
    pub(crate) fn check_followers(&self) -> Result<(), ConfigError> {
        if self.followers.is_empty() {
            return Ok(());
        }
        let builtin = ServicesConfig::default();
        for (key, set) in [
            ("services.contract", self.services.contract != builtin.contract),
            ("services.billing", self.services.billing != builtin.billing),
            ("billing", self.billing != BillingConfig::default()),
        ] {
            if set {
                return err(
                    key,
                    "configures the built-in Contract and Billing followers, but this config lists its own \
                     [[followers]]: give each follower its `service` and `side_effect` there",
                );
            }
        }
        let total: u64 = self.followers.iter().map(|f| u64::from(f.count.unwrap_or(1))).sum();
        if total > MAX_FOLLOWERS as u64 {
            return err("followers", format!("{total} followers in all; at most {MAX_FOLLOWERS}"));
        }
        for (i, f) in self.followers.iter().enumerate() {
            let key = format!("followers[{i}]");
            if f.count == Some(0) {
                return err(&format!("{key}.count"), "must be at least 1");
            }
            let Some(name) = f.name.as_deref() else {
                return err(&format!("{key}.name"), "a follower needs a name (its node's name)");
            };
            let Some(table) = f.table.as_deref() else {
                return err(&format!("{key}.table"), format!("follower {name:?} needs the name of the table it owns"));
            };
            for (field, v) in [("name", name), ("table", table)] {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return err(
                        &format!("{key}.{field}"),
                        format!("{v:?}: use letters, digits, '_' and '-' (it names files and trace tracks)"),
                    );
                }
            }
            f.service.validate(&format!("{key}.service"))?;
            if let Some(e) = &f.side_effect {
                if e.period.is_zero() {
                    return err(&format!("{key}.side_effect.period"), "must be above zero");
                }
                if e.name.is_empty() {
                    return err(&format!("{key}.side_effect.name"), "must not be empty");
                }
            }
        }
        let source = "the source service".to_string();
        let mut names = std::collections::BTreeMap::from([(SOURCE.0.to_string(), source.clone())]);
        let mut tables = std::collections::BTreeMap::from([(SOURCE.1.to_string(), source)]);
        for (i, f) in self.expanded() {
            let key = format!("followers[{i}]");
            if RESERVED_NAMES.contains(&f.name.as_str()) {
                return err(
                    &format!("{key}.name"),
                    format!("{:?} is a node every scenario has; choose another", f.name),
                );
            }
            if let Some(first) = names.insert(f.name.clone(), key.clone()) {
                return err(&format!("{key}.name"), format!("duplicate service name {:?}, also {first}", f.name));
            }
            if let Some(first) = tables.insert(f.table.clone(), key.clone()) {
                return err(&format!("{key}.table"), format!("table {:?} is already owned by {first}", f.table));
            }
        }
        Ok(())
    }
}
