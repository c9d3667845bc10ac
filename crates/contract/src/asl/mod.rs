//! Amazon States Language, as much of it as sp-ingest uses, and the definitions built
//! with it.
//!
//! `statemachines/<name>.asl.json` is the output of [`Definition::to_json`] for each of
//! [`definitions`]; a test fails when a committed file differs from what the code builds
//! (`make asl` rewrites them). Writing the machine in Rust lets the retry policies and the
//! "re-authenticate, then try again" pattern exist once, and lets every `step` tag and
//! function name come from [`crate::Step`] instead of a string typed twice.
//! <https://states-language.net/spec.html>

pub mod ingest;
mod readable;

#[cfg(test)]
pub(crate) mod evaluate;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

/// A state machine definition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Definition {
    /// What the machine does.
    pub comment: String,
    /// The first state.
    pub start_at: String,
    /// Its states, in the order they are written.
    pub states: States,
}

impl Definition {
    /// The definition as the committed file holds it: two-space indented JSON, with
    /// short arrays and objects kept on one line so retry rules read as one line each.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        readable::to_string(&value)
    }
}

/// Every state machine sp-ingest deploys, by file name.
pub fn definitions() -> Vec<(&'static str, Definition)> {
    vec![("ingest.asl.json", ingest::definition())]
}

/// States in writing order.
#[derive(Debug, Clone, Default)]
pub struct States(Vec<(String, State)>);

impl States {
    /// Adds a state; a name used twice is a bug in the builder.
    pub fn add(&mut self, name: impl Into<String>, state: impl Into<State>) -> &mut Self {
        let name = name.into();
        assert!(
            self.0.iter().all(|(existing, _)| *existing != name),
            "state `{name}` is defined twice"
        );
        self.0.push((name, state.into()));
        self
    }
}

impl States {
    /// Calls `edit` on every Task state but the one named `except`.
    fn each_task_but(&mut self, except: &str, mut edit: impl FnMut(&mut Task)) {
        for (name, state) in &mut self.0 {
            if let (false, State::Task(task)) = (name == except, state) {
                edit(task);
            }
        }
    }
}

impl Serialize for States {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, state) in &self.0 {
            map.serialize_entry(name, state)?;
        }
        map.end()
    }
}

/// One state.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    /// A Lambda invocation.
    Task(Task),
    /// A branch on the state's data.
    Choice(Choice),
    /// Reshapes data.
    Pass(Pass),
    /// Waits.
    Wait(Wait),
    /// Runs a sub-machine per item.
    Map(Box<MapState>),
    /// Ends the execution successfully.
    Succeed {},
    /// Ends the execution with an error.
    Fail(Fail),
}

/// Where a state goes next.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transition {
    /// The next state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// True for a last state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<bool>,
}

impl Transition {
    /// Go to `state`.
    pub fn to(state: &str) -> Self {
        Transition {
            next: Some(state.to_owned()),
            end: None,
        }
    }

    /// End the (sub-)machine.
    pub fn end() -> Self {
        Transition {
            next: None,
            end: Some(true),
        }
    }
}

/// A Task state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    /// Why the state is there, when its name does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The integration, e.g. `arn:aws:states:::lambda:invoke`.
    pub resource: String,
    /// `FunctionName` and `Payload`.
    pub parameters: Value,
    /// Where the callback's timeout comes from (`.waitForTaskToken` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds_path: Option<String>,
    /// Picks fields of the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Value>,
    /// Where the result goes in the state's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    /// What part of the data the state passes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
    /// Retry rules, first match wins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    /// Catch rules, first match wins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catch>,
    /// Where it goes next.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A Retry rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retry {
    /// Error names it applies to.
    pub error_equals: Vec<String>,
    /// First wait, seconds.
    pub interval_seconds: u32,
    /// Wait multiplier per attempt.
    pub backoff_rate: f64,
    /// Attempts after the first.
    pub max_attempts: u32,
    /// Cap on one wait, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
}

/// A Catch rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catch {
    /// Error names it applies to.
    pub error_equals: Vec<String>,
    /// Where `{Error, Cause}` goes in the state's data.
    pub result_path: String,
    /// The state handling it.
    pub next: String,
}

/// A Choice state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    /// Rules, first match wins; each is a JSON choice rule with its `Next`.
    pub choices: Vec<Value>,
    /// Where to go when no rule matches.
    pub default: String,
}

/// A Pass state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    /// Why the state is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The part of the data the state passes on (its result when nothing else is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// A fixed result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// A result built from the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Where the result goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    /// Where it goes next.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A Wait state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    /// Where the number of seconds comes from.
    pub seconds_path: String,
    /// Where it goes next.
    #[serde(flatten)]
    pub transition: Transition,
}

/// An inline Map state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    /// The array to iterate.
    pub items_path: String,
    /// Items run at once.
    pub max_concurrency: u32,
    /// Each iteration's input.
    pub item_selector: Value,
    /// The sub-machine run per item.
    pub item_processor: ItemProcessor,
    /// Where the array of results goes (`None`: it is the state's output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    /// Where it goes next.
    #[serde(flatten)]
    pub transition: Transition,
}

/// The sub-machine of a Map.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemProcessor {
    /// `{"Mode": "INLINE"}`.
    pub processor_config: Value,
    /// The first state.
    pub start_at: String,
    /// Its states.
    pub states: States,
}

/// A Fail state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    /// Why the execution ends here.
    pub comment: String,
    /// The error name.
    pub error: String,
    /// Where the cause comes from.
    pub cause_path: String,
}

macro_rules! into_state {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for State {
            fn from(state: $ty) -> State {
                State::$variant(state)
            }
        }
    )*};
}
into_state!(
    Task(Task),
    Choice(Choice),
    Pass(Pass),
    Wait(Wait),
    Fail(Fail)
);

impl From<MapState> for State {
    fn from(state: MapState) -> State {
        State::Map(Box::new(state))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;

    fn committed(file: &str) -> (PathBuf, String) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../statemachines")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        (path, text)
    }

    #[test]
    fn committed_definitions_are_the_ones_the_code_builds() {
        for (file, definition) in definitions() {
            let built = definition.to_json();
            let (path, text) = committed(file);
            if std::env::var_os("SP_INGEST_WRITE_ASL").is_some() {
                std::fs::write(&path, &built).expect("writing the definition");
                continue;
            }
            assert!(
                text == built,
                "statemachines/{file} differs from crates/contract/src/asl: run `make asl` and commit the result"
            );
        }
    }

    #[test]
    fn every_path_of_every_committed_definition_fits_the_step_types() {
        for (file, _) in definitions() {
            let (_, text) = committed(file);
            let definition: Value = serde_json::from_str(&text).expect("the file is JSON");
            let findings = evaluate::walk(&definition);
            assert!(
                findings.errors.is_empty(),
                "{file}:\n  {}",
                Vec::from_iter(findings.errors).join("\n  ")
            );
            let unreached: Vec<&String> = findings.states.difference(&findings.reached).collect();
            assert!(
                unreached.is_empty(),
                "{file}: samples never reach {unreached:?}"
            );
        }
    }

    #[test]
    fn the_ingest_machine_invokes_every_step() {
        let findings = evaluate::walk(&serde_json::to_value(ingest::definition()).unwrap());
        let missing: Vec<_> = crate::Step::ALL
            .into_iter()
            .filter(|s| !findings.steps.contains(s))
            .collect();
        assert!(missing.is_empty(), "never invoked: {missing:?}");
    }

    #[test]
    fn a_source_added_as_data_runs_through_the_committed_machine() {
        use std::collections::BTreeMap;

        use domain::config::{Account, RegionEndpoints, ReportConfig};
        use domain::{AccountKind, Catalog, Completion, Config, Region, Source};

        // A second kind of source, in data only: no notifications, so it is polled.
        let catalog = Catalog::builtin()
            .extended(
                r#"{"sources": [{"name": "fake-polled", "api": "sp-api-reports", "description": "a source without notifications",
                     "completion": "POLLING", "patience": "PT2H"}],
                    "reportTypes": [{"source": "fake-polled", "name": "GET_FAKE_REPORT", "format": "jsonl"}]}"#,
            )
            .unwrap();
        let config = Config {
            stage: "dev".into(),
            regions: BTreeMap::from([(Region::Na, RegionEndpoints::production(Region::Na))]),
            marketplaces: Config::all_marketplaces(),
            accounts: BTreeMap::from([(
                "acme".into(),
                Account {
                    selling_partner_id: "A1SELLER".into(),
                    kind: AccountKind::Seller,
                    region: Region::Na,
                    marketplaces: vec!["ATVPDKIKX0DER".into()],
                    secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme".into(),
                },
            )]),
            ads_accounts: BTreeMap::new(),
            amc_instances: BTreeMap::new(),
            reports: BTreeMap::from([(
                "fake".into(),
                ReportConfig {
                    source: Source::new("fake-polled"),
                    report_type: "GET_FAKE_REPORT".into(),
                    accounts: vec![],
                    marketplaces: vec![],
                    options: BTreeMap::new(),
                    window: "P1D".into(),
                    lag: "P0D".into(),
                    schedule: "rate(1 day)".into(),
                    await_timeout_secs: 60,
                    catch_up: None,
                    patience: None,
                    data_kiosk: None,
                    ads: None,
                    restatement: None,
                    amc: None,
                },
            )]),
        };
        assert_eq!(config.validate_with(&catalog), Ok(()));
        assert!(
            config.validate().is_err(),
            "the built-in catalog does not know the source"
        );
        let planned: Vec<_> = config
            .plan_with(
                &catalog,
                "2026-11-25T06:00:00Z".parse().unwrap(),
                &[],
                domain::plan::Span::CatchUp,
            )
            .into_iter()
            .map(|c| c.planned)
            .collect();
        assert_eq!(
            planned.len(),
            1,
            "a source without catchUp plans the latest window"
        );
        assert_eq!(planned[0].completion, Completion::Polling);

        let (_, text) = committed("ingest.asl.json");
        let findings = evaluate::walk_with_plan(&serde_json::from_str(&text).unwrap(), planned);
        assert!(findings.errors.is_empty(), "{:?}", findings.errors);
        assert!(
            !findings.steps.contains(&crate::Step::AwaitReport),
            "a polled source never waits for a notification"
        );
        for step in [
            crate::Step::PollStatus,
            crate::Step::Store,
            crate::Step::RecordStored,
        ] {
            assert!(findings.steps.contains(&step), "{step:?} not reached");
        }
    }

    /// The definition with the first occurrence of `from` replaced by `to`.
    fn mutated(from: &str, to: &str) -> Value {
        let text = ingest::definition().to_json();
        assert!(text.contains(from), "{from} is not in the definition");
        serde_json::from_str(&text.replacen(from, to, 1)).unwrap()
    }

    #[test]
    fn a_renamed_field_on_either_side_is_caught() {
        for (from, to, expected) in [
            // The ASL reads an output field under another name.
            (
                r#""$.Payload.reportId""#,
                r#""$.Payload.reportID""#,
                "no `reportID`",
            ),
            // The ASL sends an input field under another name.
            (
                r#""attempt.$": "$.poll.attempt""#,
                r#""attempts.$": "$.poll.attempt""#,
                "unknown field `attempts`",
            ),
            // A step reads state that no earlier step wrote.
            (
                r#""$.status.reportDocumentId""#,
                r#""$.status.documentId""#,
                "no `documentId`",
            ),
            // A Choice tests a field the data does not have.
            (
                r#""$.fatal", "NumericGreaterThan""#,
                r#""$.fatalCount", "NumericGreaterThan""#,
                "no `fatalCount`",
            ),
            // A payload names another function's step.
            (
                r#""step": "Store""#,
                r#""step": "Summarize""#,
                "storage refuses the payload",
            ),
        ] {
            let findings = evaluate::walk(&mutated(from, to));
            assert!(
                findings.errors.iter().any(|e| e.contains(expected)),
                "renaming {from} to {to} went unnoticed: {:?}",
                findings.errors
            );
        }
    }
}
