//! CloudWatch metrics from the Lambdas, as Embedded Metric Format log lines: a JSON line
//! on stdout that CloudWatch Logs turns into metrics, with no API call, no client and no
//! permission beyond writing logs
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//! The template's alarms and dashboard read them under [`NAMESPACE`].

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::settings;

/// The metrics' namespace.
pub const NAMESPACE: &str = "sp-ingest";

/// What a value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Events.
    Count,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// One value of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Its name, e.g. `ReportsLanded`.
    pub name: &'static str,
    /// The value.
    pub value: f64,
    /// What it counts.
    pub unit: Unit,
}

impl Metric {
    /// `value` of `name` in `unit`.
    pub fn new(name: &'static str, value: f64, unit: Unit) -> Self {
        Metric { name, value, unit }
    }

    /// One event of `name`.
    pub fn count(name: &'static str) -> Self {
        Metric::new(name, 1.0, Unit::Count)
    }
}

/// The EMF line for `metrics` under `dimensions` (plus the stage, where the function
/// knows it) at `timestamp_ms`.
pub fn line(metrics: &[Metric], dimensions: &[(&str, &str)], timestamp_ms: i64) -> String {
    let stage = settings::optional(settings::STAGE);
    let mut fields = Map::new();
    let mut names: Vec<&str> = Vec::new();
    if let Some(stage) = &stage {
        fields.insert("Stage".into(), stage.as_str().into());
        names.push("Stage");
    }
    for (name, value) in dimensions {
        fields.insert((*name).into(), (*value).into());
        names.push(name);
    }
    for metric in metrics {
        fields.insert(metric.name.into(), metric.value.into());
    }
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()}))
        .collect();
    fields.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [names],
                "Metrics": definitions
            }]
        }),
    );
    Value::Object(fields).to_string()
}

/// Writes `metrics` under `dimensions` to stdout, where CloudWatch Logs reads them.
pub fn emit(metrics: &[Metric], dimensions: &[(&str, &str)]) {
    if metrics.is_empty() {
        return;
    }
    println!(
        "{}",
        line(metrics, dimensions, Utc::now().timestamp_millis())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_each_metric_and_carries_its_value_and_dimensions() {
        let text = line(
            &[
                Metric::count("ReportsLanded"),
                Metric::new("BytesStored", 2048.0, Unit::Bytes),
            ],
            &[("Source", "sp-api-reports")],
            1_700_000_000_000,
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["ReportsLanded"], 1.0);
        assert_eq!(value["BytesStored"], 2048.0);
        assert_eq!(value["Source"], "sp-api-reports");
        let declared = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let dimensions = declared["Dimensions"][0].as_array().unwrap();
        assert!(dimensions.contains(&json!("Source")), "{dimensions:?}");
        // Every dimension named is a field of the line (CloudWatch drops the line otherwise).
        for name in dimensions {
            assert!(value.get(name.as_str().unwrap()).is_some(), "{name}");
        }
        assert_eq!(
            declared["Metrics"],
            json!([{"Name": "ReportsLanded", "Unit": "Count"}, {"Name": "BytesStored", "Unit": "Bytes"}])
        );
        assert!(!text.contains('\n'), "one line");
    }
}
