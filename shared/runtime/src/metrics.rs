//! CloudWatch metrics as Embedded Metric Format (EMF) lines: one JSON
//! object per line on stdout, which CloudWatch Logs turns into metrics in
//! the `Ferry` namespace without any API call (no SDK, no permission, no
//! latency in the function). The alarms in `template.yaml` name the metrics
//! through the constants here; `tests/tests/e2e/template.rs` checks they match.
//!
//! A line carries one set of dimensions (possibly none) and its metrics:
//!
//! ```json
//! {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Ferry",
//!   "Dimensions":[["ChainId"]],"Metrics":[{"Name":"BlocksBehindHead","Unit":"Count"}]}]},
//!  "ChainId":"8453","BlocksBehindHead":3}
//! ```
//!
//! Lambda's JSON log format keeps such a line as it is, at level INFO (it
//! has no `level`), so the functions that emit metrics log at INFO or lower
//! in Lambda (`template.yaml` sees to it whatever `LogLevel` says).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric Ferry emits.
pub const NAMESPACE: &str = "Ferry";

/// The CloudWatch unit of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    /// A plain number (token amounts, in whole tokens).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
            Self::None => "None",
        }
    }
}

/// One EMF line under construction: dimensions, then metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricLine {
    dimensions: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, f64, Unit)>,
}

impl MetricLine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dimension (e.g. `ChainId`); every metric of the line gets it.
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// Adds a metric. A value that is not finite (CloudWatch rejects NaN
    /// and infinities) is left out.
    pub fn metric(mut self, name: &'static str, value: f64, unit: Unit) -> Self {
        if value.is_finite() {
            self.metrics.push((name, value, unit));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The line's JSON at `timestamp_ms` (milliseconds since the epoch).
    pub fn to_json(&self, timestamp_ms: u64) -> String {
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let definitions: Vec<Value> =
            self.metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimension_names],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert((*name).into(), Value::String(value.clone()));
        }
        for (name, value, _) in &self.metrics {
            // Whole numbers print as integers; `from_f64` is `None` only for
            // non-finite values, which `metric` keeps out.
            let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
                Value::from(*value as i64)
            } else {
                serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number)
            };
            root.insert((*name).into(), number);
        }
        Value::Object(root).to_string()
    }

    /// Prints the line to stdout, where CloudWatch Logs picks it up. An
    /// empty line prints nothing; a failed write is dropped (metrics must
    /// never fail the work they describe).
    pub fn emit(&self) {
        if self.is_empty() {
            return;
        }
        let line = self.to_json(now_ms());
        let mut stdout = std::io::stdout().lock();
        let _ignored = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_with_a_dimension_parses_as_emf() {
        let line = MetricLine::new()
            .dimension("ChainId", "8453")
            .metric("BlocksBehindHead", 3.0, Unit::Count)
            .metric("SecondsSinceCursorAdvanced", 12.5, Unit::Seconds)
            .to_json(1_700_000_000_000);
        assert!(!line.contains('\n'), "{line}");
        let value: Value = serde_json::from_str(&line).expect("JSON");
        let aws = &value["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_000u64);
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ferry");
        assert_eq!(directive["Dimensions"], json!([["ChainId"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "BlocksBehindHead", "Unit": "Count"}, {"Name": "SecondsSinceCursorAdvanced", "Unit": "Seconds"}])
        );
        assert_eq!(value["ChainId"], "8453");
        assert_eq!(value["BlocksBehindHead"], 3);
        assert_eq!(value["SecondsSinceCursorAdvanced"], 12.5);
    }

    #[test]
    fn a_line_without_dimensions_has_one_empty_dimension_set() {
        let line = MetricLine::new().metric("MaxSecondsSinceCursorAdvanced", 60.0, Unit::Seconds).to_json(1);
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(value["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert_eq!(value["MaxSecondsSinceCursorAdvanced"], 60);
    }

    #[test]
    fn values_that_cloudwatch_rejects_are_left_out() {
        let line = MetricLine::new().metric("A", f64::NAN, Unit::None).metric("B", f64::INFINITY, Unit::None);
        assert!(line.is_empty());
        let line = line.metric("C", 0.25, Unit::None).to_json(1);
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(value["_aws"]["CloudWatchMetrics"][0]["Metrics"], json!([{"Name": "C", "Unit": "None"}]));
        assert!(value.get("A").is_none() && value.get("B").is_none());
    }
}
