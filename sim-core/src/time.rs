//! Integer virtual time.
//!
//! [`SimTime`] is an instant and [`SimDuration`] a span, both whole
//! nanoseconds in a `u64` (enough for 584 years). Nothing in the clock is
//! floating point, so the same run always lands on the same instants.
//!
//! Both parse and print the human form used in configs: `"250ms"`,
//! `"1.5s"`, `"2h"`, `"1h30m"`, and serde goes through that form.

use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds in one unit, largest first; printing picks the largest unit
/// that divides the value, parsing accepts every suffix.
const UNITS: [(&str, u64); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

/// An instant of virtual time: nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        SimDuration(n)
    }
    /// A span of `n` microseconds.
    pub const fn from_micros(n: u64) -> Self {
        SimDuration(n * 1_000)
    }
    /// A span of `n` milliseconds.
    pub const fn from_millis(n: u64) -> Self {
        SimDuration(n * 1_000_000)
    }
    /// A span of `n` seconds.
    pub const fn from_secs(n: u64) -> Self {
        SimDuration(n * 1_000_000_000)
    }
    /// A span of `n` minutes.
    pub const fn from_mins(n: u64) -> Self {
        SimDuration(n * 60_000_000_000)
    }
    /// A span of `n` hours.
    pub const fn from_hours(n: u64) -> Self {
        SimDuration(n * 3_600_000_000_000)
    }
    /// Rounds a non-negative number of seconds to the nearest nanosecond.
    ///
    /// This is the one door from floating point (samples of a distribution)
    /// into the clock; negative and NaN inputs become zero and huge ones
    /// saturate, so a sampler can never move time backwards.
    ///
    /// Every latency and service-time sample comes through here. `round`
    /// is a library call on the baseline x86-64 target (no SSE4.1): 2% of
    /// the patterns bench's profile, and this is about 1% faster end to
    /// end. Truncating and comparing the remainder gives the same
    /// nanosecond, half away from zero: below 2^53 the remainder is exact,
    /// and above it every `f64` is a whole number.
    pub fn from_secs_f64(secs: f64) -> Self {
        let ns = secs * 1e9;
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            let whole = ns as u64;
            SimDuration(whole + u64::from(ns - whole as f64 >= 0.5))
        }
    }
    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in seconds, for statistics (never for the clock).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Whether the span is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self + other`, or `None` past the largest representable span.
    pub const fn checked_add(self, other: SimDuration) -> Option<SimDuration> {
        match self.0.checked_add(other.0) {
            Some(n) => Some(SimDuration(n)),
            None => None,
        }
    }

    /// Adds two spans, saturating at [`SimDuration::MAX`].
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
    /// Multiplies by `num / den` in integer arithmetic (rounding down).
    pub const fn mul_ratio(self, num: u64, den: u64) -> SimDuration {
        SimDuration(((self.0 as u128 * num as u128) / den as u128) as u64)
    }
}

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of representable time; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `n` nanoseconds after the start.
    pub const fn from_nanos(n: u64) -> Self {
        SimTime(n)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds since the start, for statistics (never for the clock).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The span since the start of the run.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` past the largest representable instant.
    ///
    /// ```
    /// use sim_core::{SimDuration, SimTime};
    /// assert_eq!(SimTime::ZERO.checked_add(SimDuration::from_secs(1)), Some(SimTime::from_nanos(1_000_000_000)));
    /// assert_eq!(SimTime::MAX.checked_add(SimDuration::from_nanos(1)), None);
    /// ```
    pub const fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        match self.0.checked_add(d.0) {
            Some(n) => Some(SimTime(n)),
            None => None,
        }
    }

    /// Adds a span, saturating at [`SimTime::MAX`].
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(d.0).expect("virtual time overflowed u64 nanoseconds"))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// The span between two instants; panics if `rhs` is later.
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(self.0.checked_sub(rhs.0).expect("subtracted a later SimTime from an earlier one"))
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(d.0).expect("SimDuration overflowed"))
    }
}
impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(d.0))
    }
}
impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.checked_mul(k).expect("SimDuration overflowed"))
    }
}
impl Div<u64> for SimDuration {
    type Output = SimDuration;
    fn div(self, k: u64) -> SimDuration {
        SimDuration(self.0 / k)
    }
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDurationError {
    /// The string was empty.
    #[error("empty duration; write e.g. \"250ms\", \"1.5s\" or \"2h\"")]
    Empty,
    /// A part had no number, or a malformed one.
    #[error("bad number in duration {0:?}; write e.g. \"250ms\", \"1.5s\" or \"2h\"")]
    BadNumber(String),
    /// A part had no unit or an unknown one.
    #[error("unknown unit in duration {0:?}; units are d, h, m, s, ms, us, ns")]
    BadUnit(String),
    /// The value does not fit in u64 nanoseconds, or has sub-nanosecond digits.
    #[error("duration {0:?} is out of range or finer than a nanosecond")]
    OutOfRange(String),
}

impl FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Parses one or more `<number><unit>` parts, e.g. `"1h30m"`.
    /// Decimals are read digit by digit into integers, never through f64,
    /// so `"0.1s"` is exactly 100,000,000 ns.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseDurationError::Empty);
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: u64 = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let number = &s[start..i];
            let unit_start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[unit_start..i];
            if number.is_empty() || number.matches('.').count() > 1 || number == "." {
                return Err(ParseDurationError::BadNumber(s.to_string()));
            }
            let scale = UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, ns)| *ns)
                .ok_or_else(|| ParseDurationError::BadUnit(s.to_string()))?;
            let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
            let range = || ParseDurationError::OutOfRange(s.to_string());
            let int: u64 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| range())? };
            let mut part = int.checked_mul(scale).ok_or_else(range)?;
            let mut place = scale;
            for d in frac_part.bytes() {
                let digit = u64::from(d - b'0');
                if place % 10 != 0 {
                    if digit != 0 {
                        return Err(range());
                    }
                    continue;
                }
                place /= 10;
                part = part.checked_add(digit * place).ok_or_else(range)?;
            }
            total = total.checked_add(part).ok_or_else(range)?;
        }
        Ok(SimDuration(total))
    }
}

impl fmt::Display for SimDuration {
    /// Prints the shortest exact human form: the largest unit, with a
    /// decimal fraction where needed (`1500ms` prints as `"1.5s"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        for (unit, scale) in UNITS {
            if ns >= scale {
                let int = ns / scale;
                let mut rem = ns % scale;
                if rem == 0 {
                    return write!(f, "{int}{unit}");
                }
                // Use a decimal only when it stays short (<= 3 digits);
                // otherwise fall through to a finer unit.
                let mut digits = String::new();
                let mut place = scale;
                while rem != 0 && digits.len() < 3 && place % 10 == 0 {
                    place /= 10;
                    digits.push(char::from(b'0' + (rem / place) as u8));
                    rem %= place;
                }
                if rem == 0 {
                    return write!(f, "{int}.{digits}{unit}");
                }
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    /// Prints as the span since the start, e.g. `"1h30m"` prints as `"90m"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SimDuration(self.0).fmt(f)
    }
}

impl FromStr for SimTime {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<SimDuration>().map(|d| SimTime(d.0))
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct DurationVisitor;
impl de::Visitor<'_> for DurationVisitor {
    type Value = SimDuration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"250ms\", \"1.5s\" or \"2h\"")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<SimDuration, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<SimDuration, E> {
        Err(E::custom("a bare number is ambiguous; give a unit, e.g. \"250ms\" or \"2s\""))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SimDuration, E> {
        if v < 0 {
            Err(E::custom("a duration cannot be negative"))
        } else {
            self.visit_u64(v as u64)
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SimDuration, E> {
        self.visit_u64(0)
    }
}
impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}
impl<'de> Deserialize<'de> for SimTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor).map(|x| SimTime(x.0))
    }
}

/// The JSON Schema of the human form: a string of number-and-unit parts,
/// which is all that [`SimDuration::from_str`] accepts (a bare number is
/// refused as ambiguous).
#[cfg(feature = "schema")]
fn duration_schema(name: &str, what: &str) -> schemars::Schema {
    schemars::json_schema!({
        "title": name,
        "description": format!(
            "{what}: whole nanoseconds written as number-and-unit parts, units d, h, m, s, ms, us, ns; for example \"250ms\", \"1.5s\", \"1h30m\". A bare number is an error."
        ),
        "type": "string",
        "pattern": "^\\s*(([0-9]+\\.?[0-9]*|\\.[0-9]+)(d|h|m|s|ms|us|ns))+\\s*$",
        "examples": ["250ms", "1.5s", "1h30m"]
    })
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for SimDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema("Duration", "A span of virtual time")
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for SimTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Instant".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema("Instant", "An instant of virtual time, counted from the start (0 is midnight of day one)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `from_secs_f64` as it was written first, with the library's `round`.
    fn rounded(secs: f64) -> SimDuration {
        let ns = (secs * 1e9).round();
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(ns as u64)
        }
    }

    #[test]
    fn seconds_round_like_the_library_at_the_edges() {
        let edges = [
            0.0,
            -0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.5e-9,
            // Just below half a nanosecond, and 2^52 - 0.5 ns.
            f64::from_bits(0.5e-9f64.to_bits() - 1),
            1.5e-9,
            2.5e-9,
            4_503_599_627_370_495.5 / 1e9,
            9_007_199_254_740_993e-9,
            1.8446744073709552e10,
            1.844_674_407_370_955e10,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        for secs in edges {
            assert_eq!(SimDuration::from_secs_f64(secs), rounded(secs), "{secs:e} s");
        }
    }

    proptest! {
        /// Any bit pattern, and values near a half nanosecond.
        #[test]
        fn seconds_round_like_the_library(bits in any::<u64>(), ns in 0u64..(1 << 60), half in any::<bool>()) {
            let any = f64::from_bits(bits);
            prop_assert_eq!(SimDuration::from_secs_f64(any), rounded(any));
            let near = (ns as f64 + if half { 0.5 } else { 0.499_999 }) / 1e9;
            prop_assert_eq!(SimDuration::from_secs_f64(near), rounded(near));
        }
    }

    #[test]
    fn parses_the_config_forms() {
        assert_eq!("250ms".parse::<SimDuration>().unwrap(), SimDuration::from_millis(250));
        assert_eq!("1.5s".parse::<SimDuration>().unwrap(), SimDuration::from_millis(1500));
        assert_eq!("2h".parse::<SimDuration>().unwrap(), SimDuration::from_hours(2));
        assert_eq!("1h30m".parse::<SimDuration>().unwrap(), SimDuration::from_mins(90));
        assert_eq!("0.1s".parse::<SimDuration>().unwrap().as_nanos(), 100_000_000);
        assert_eq!("7ns".parse::<SimDuration>().unwrap().as_nanos(), 7);
        assert_eq!("1d".parse::<SimDuration>().unwrap(), SimDuration::from_hours(24));
    }

    #[test]
    fn rejects_malformed_strings() {
        for bad in ["", "5", "ms", "1.2.3s", "3 parsecs", "-1s", "1.5ns", "99999999999999999h"] {
            assert!(bad.parse::<SimDuration>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn prints_the_shortest_exact_form() {
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_hours(2).to_string(), "2h");
        assert_eq!(SimDuration::from_nanos(1_000_000_001).to_string(), "1000000.001us");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
    }

    #[test]
    fn display_round_trips_through_parse() {
        for ns in [1u64, 999, 1_000, 1_500_000, 59_000_000_000, 90 * 60_000_000_000, 123_456_789_012] {
            let d = SimDuration::from_nanos(ns);
            assert_eq!(d.to_string().parse::<SimDuration>().unwrap(), d, "{d}");
        }
    }

    #[test]
    fn float_conversion_never_goes_negative() {
        assert_eq!(SimDuration::from_secs_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(1.5), SimDuration::from_millis(1500));
    }
}
