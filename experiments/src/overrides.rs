//! Command-line overrides of a config: `--seed`, `--replications` and any
//! key with `--set key.path=value`.
//!
//! A `--set` value is read as a TOML value (`50`, `"2ms"`, `true`,
//! `[1, 2]`), or as a string when it is not one (`2ms`), so that a shell
//! needs no quoting for the common cases. The loader applies it to the
//! resolved config, where every key exists with its default, and then
//! validates the result like any config: a key that does not exist or a
//! value of the wrong type is refused, naming the key (exit 2).

use std::str::FromStr;

use toml::Value;

/// One `--set key.path=value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Setting {
    /// The config path, as in a sweep: `workload.rate_per_s`,
    /// `services.billing.workers`, `patterns[1].max_retries`.
    pub path: String,
    /// The value.
    pub value: Value,
    /// The argument as given, for the resolved config and the manifest.
    pub text: String,
}

impl FromStr for Setting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((path, raw)) = s.split_once('=') else {
            return Err("write KEY=VALUE, e.g. workload.rate_per_s=50".into());
        };
        let path = path.trim();
        let ok = |c: char| c.is_ascii_alphanumeric() || "_.[]-".contains(c);
        if path.is_empty() || !path.chars().all(ok) || path.starts_with('.') || path.ends_with('.') {
            return Err(format!("{path:?} is not a config path such as workload.rate_per_s or patterns[0].interval"));
        }
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(format!("{path}: no value after '='"));
        }
        // A TOML value if it is one, else the text as a string.
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.to_string()));
        Ok(Setting { path: path.to_string(), value, text: format!("{path}={raw}") })
    }
}

/// Everything the command line changes in a config.
#[derive(Clone, Debug, Default)]
pub(crate) struct Overrides {
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--replications`.
    pub replications: Option<u32>,
    /// Every `--set`, in order (a later one wins on the same key).
    pub set: Vec<Setting>,
}

impl Overrides {
    /// True if nothing is overridden.
    pub(crate) fn is_empty(&self) -> bool {
        self.seed.is_none() && self.replications.is_none() && self.set.is_empty()
    }

    /// The overrides as command-line arguments.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = self.seed {
            out.push(format!("--seed {s}"));
        }
        if let Some(r) = self.replications {
            out.push(format!("--replications {r}"));
        }
        for s in &self.set {
            out.push(format!("--set '{}'", s.text));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_toml_or_as_text() {
        let s: Setting = "workload.rate_per_s=50".parse().unwrap();
        assert_eq!((s.path.as_str(), &s.value), ("workload.rate_per_s", &Value::Integer(50)));
        let s: Setting = "network.default.latency.median=2ms".parse().unwrap();
        assert_eq!(s.value, Value::String("2ms".into()));
        let s: Setting = "patterns[0].interval=\"5m\"".parse().unwrap();
        assert_eq!(s.value, Value::String("5m".into()));
        let s: Setting = "billing.enabled = true".parse().unwrap();
        assert_eq!((s.path.as_str(), &s.value), ("billing.enabled", &Value::Boolean(true)));
    }

    #[test]
    fn malformed_settings_say_what_to_write() {
        assert!("workload.rate_per_s".parse::<Setting>().unwrap_err().contains("KEY=VALUE"));
        assert!("=5".parse::<Setting>().unwrap_err().contains("not a config path"));
        assert!("a b=5".parse::<Setting>().unwrap_err().contains("not a config path"));
        assert!("workload.rate_per_s=".parse::<Setting>().unwrap_err().contains("no value"));
    }
}
