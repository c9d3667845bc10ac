//! The contract between the state machines and the Lambdas, checked without a network:
//! every Task names a real Lambda crate, every ErrorEquals names an error the Lambdas can
//! raise (design.md "Errors are the contract"), every transition lands on a state of the
//! same scope and every state is reachable, and asl-validator accepts each definition.
//! Also the workspace's shape: no Lambda crate depends on another, the CLI on none, and
//! the Lambda crates share one dependency list. And the Data Kiosk queries sp-ingest
//! builds are valid against Amazon's schemas for graphql-core, the GraphQL reference
//! implementation's Python port. (The payloads themselves are checked in
//! `crates/contract`.)

use std::collections::{BTreeSet, HashSet};
use std::process::Command;

use contract::functions::{FUNCTIONS, substitute_function_arns};
use domain::ErrorName;
use end_to_end::{repository_root, state_machines};
use serde_json::Value;

/// Errors raised by Step Functions or the Lambda service rather than by our code; retrying
/// Lambda's transient service errors is AWS's own advice
/// (<https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html>).
const PLATFORM_ERRORS: [&str; 6] = [
    "States.ALL",
    "States.Timeout",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

const LAMBDA_RESOURCES: [&str; 2] = [
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
];

/// Calls `visit(scope name, state name, state)` for every state, nested ones included.
fn walk<'a>(scope: &str, machine: &'a Value, visit: &mut dyn FnMut(&str, &str, &'a Value)) {
    let Some(states) = machine["States"].as_object() else {
        return;
    };
    for (name, state) in states {
        visit(scope, name, state);
        for nested in [&state["ItemProcessor"], &state["Iterator"]] {
            if nested.is_object() {
                walk(&format!("{scope}/{name}"), nested, visit);
            }
        }
        for (i, branch) in state["Branches"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk(&format!("{scope}/{name}[{i}]"), branch, visit);
        }
    }
}

fn parse(file: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

#[test]
fn there_is_an_ingest_state_machine() {
    let files: Vec<String> = state_machines().into_iter().map(|(f, _)| f).collect();
    assert!(files.contains(&"ingest.asl.json".to_owned()), "{files:?}");
}

#[test]
fn every_task_invokes_a_real_lambda_crate() {
    let crates = repository_root().join("crates");
    let mut used = BTreeSet::new();
    for (file, text) in state_machines() {
        let machine = parse(&file, &text);
        walk(&file, &machine, &mut |scope, name, state| {
            if state["Type"] != "Task" {
                return;
            }
            let resource = state["Resource"].as_str().unwrap_or_default();
            assert!(
                LAMBDA_RESOURCES.contains(&resource),
                "{scope}/{name}: resource {resource} is not a Lambda invoke"
            );
            let function = state["Parameters"]["FunctionName"]
                .as_str()
                .unwrap_or_default();
            let placeholder = function
                .strip_prefix("${")
                .and_then(|f| f.strip_suffix('}'));
            let known = FUNCTIONS
                .iter()
                .find(|f| Some(f.placeholder) == placeholder);
            let known = known.unwrap_or_else(|| panic!("{scope}/{name}: FunctionName {function} is not a ${{<Name>FunctionArn}} of a pipeline function"));
            let main = crates.join(known.name).join("src/main.rs");
            assert!(
                main.is_file(),
                "{scope}/{name}: {} has no Lambda binary ({} is missing)",
                known.name,
                main.display()
            );
            used.insert(known.name);
        });
    }
    // Every function but the SQS-triggered notification-processor is a step of `ingest`.
    let expected: BTreeSet<&str> = FUNCTIONS
        .iter()
        .map(|f| f.name)
        .filter(|n| *n != "notification-processor")
        .collect();
    assert_eq!(used, expected);
}

#[test]
fn every_error_equals_and_fail_state_names_a_domain_error() {
    let mut matched = BTreeSet::new();
    for (file, text) in state_machines() {
        let machine = parse(&file, &text);
        walk(&file, &machine, &mut |scope, name, state| {
            for rule in state["Retry"]
                .as_array()
                .into_iter()
                .chain(state["Catch"].as_array())
                .flatten()
            {
                for error in rule["ErrorEquals"].as_array().into_iter().flatten() {
                    let error = error.as_str().unwrap_or_default();
                    let ours = error.parse::<ErrorName>().is_ok();
                    assert!(
                        ours || PLATFORM_ERRORS.contains(&error),
                        "{scope}/{name}: ErrorEquals `{error}` is neither a domain::ErrorName nor a known platform error"
                    );
                    matched.insert(error.to_owned());
                }
            }
        });
    }
    for needed in [
        "Throttled",
        "TokenExpired",
        "UpstreamUnavailable",
        "DocumentTruncated",
        "DocumentUrlExpired",
        "States.Timeout",
    ] {
        assert!(matched.contains(needed), "no Retry/Catch handles {needed}");
    }
}

#[test]
fn every_transition_lands_in_scope_and_every_state_is_reachable() {
    for (file, text) in state_machines() {
        let machine = parse(&file, &text);
        let mut scopes: Vec<(String, &Value)> = vec![(file.clone(), &machine)];
        walk(&file, &machine, &mut |scope, name, state| {
            if state["ItemProcessor"].is_object() {
                scopes.push((format!("{scope}/{name}"), &state["ItemProcessor"]));
            }
        });
        for (scope, body) in scopes {
            let states = body["States"]
                .as_object()
                .unwrap_or_else(|| panic!("{scope} has no States"));
            let targets = |state: &Value| -> Vec<String> {
                let mut out: Vec<String> = Vec::new();
                out.extend(state["Next"].as_str().map(str::to_owned));
                out.extend(state["Default"].as_str().map(str::to_owned));
                for key in ["Choices", "Catch"] {
                    out.extend(
                        state[key]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|c| c["Next"].as_str().map(str::to_owned)),
                    );
                }
                out
            };
            let mut reached = HashSet::new();
            let mut queue = vec![body["StartAt"].as_str().unwrap_or_default().to_owned()];
            while let Some(name) = queue.pop() {
                let state = states
                    .get(&name)
                    .unwrap_or_else(|| panic!("{scope}: transition to missing state `{name}`"));
                if reached.insert(name.clone()) {
                    let next = targets(state);
                    let ends = state["End"] == true
                        || matches!(state["Type"].as_str(), Some("Succeed" | "Fail"));
                    assert!(
                        ends || !next.is_empty(),
                        "{scope}/{name} neither ends nor has a next state"
                    );
                    queue.extend(next);
                }
            }
            let unreachable: Vec<&String> =
                states.keys().filter(|n| !reached.contains(*n)).collect();
            assert!(
                unreachable.is_empty(),
                "{scope}: unreachable states {unreachable:?}"
            );
        }
    }
}

#[test]
fn asl_validator_accepts_every_definition() {
    let validator = repository_root().join("tests/node_modules/.bin/asl-validator");
    assert!(
        validator.is_file(),
        "{} is missing: run `make setup` (installs the Node tools of the tests)",
        validator.display()
    );
    for (file, text) in state_machines() {
        let definition = substitute_function_arns(&text, |name| {
            format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
        })
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let path = std::env::temp_dir().join(format!("sp-ingest-{}-{file}", std::process::id()));
        std::fs::write(&path, definition).expect("writing the substituted definition");
        let output = Command::new(&validator)
            .arg("--json-path")
            .arg(&path)
            .output()
            .expect("running asl-validator");
        let _ = std::fs::remove_file(&path);
        assert!(
            output.status.success(),
            "asl-validator rejected {file}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The workspace's packages, from `cargo metadata`: name → normal dependencies.
fn packages() -> Vec<(String, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repository_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_owned))
                .collect();
            (
                package["name"].as_str().unwrap_or_default().to_owned(),
                dependencies,
            )
        })
        .collect()
}

#[test]
fn no_lambda_crate_depends_on_another_and_the_cli_on_none() {
    let lambdas: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    let packages = packages();
    assert!(
        lambdas
            .iter()
            .all(|l| packages.iter().any(|(name, _)| name == l)),
        "a function in contract::FUNCTIONS has no crate: {lambdas:?}"
    );
    for (name, dependencies) in &packages {
        let on_lambdas: Vec<&String> = dependencies
            .iter()
            .filter(|d| lambdas.contains(d.as_str()))
            .collect();
        assert!(
            on_lambdas.is_empty(),
            "{name} depends on the Lambda crate(s) {on_lambdas:?}: move what it needs into `contract` or `pipeline`"
        );
    }
}

#[test]
fn every_crate_but_the_pure_ones_builds_with_the_workspace_hack() {
    // crates/workspace-hack (cargo hakari) pins one feature set for every build, so
    // `cargo build -p <function>` (cargo lambda watch) and `cargo run -p cli` reuse what
    // `cargo test --workspace` compiled instead of rebuilding the AWS SDK graph.
    let pure = ["domain", "contract", "workspace-hack"];
    for (name, dependencies) in packages() {
        if pure.contains(&name.as_str()) {
            assert!(
                !dependencies.contains("workspace-hack"),
                "{name} must stay free of the AWS graph; drop its workspace-hack dependency"
            );
        } else {
            assert!(
                dependencies.contains("workspace-hack"),
                "{name} does not depend on workspace-hack: run `make hakari`"
            );
        }
    }
}

#[test]
fn lambda_crates_share_one_dependency_list() {
    // `cargo lambda watch` builds each function on its own; identical lists resolve to
    // identical features, so the AWS SDK graph is compiled once for all of them.
    let lambdas: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    let lists: Vec<(String, BTreeSet<String>)> = packages()
        .into_iter()
        .filter(|(name, _)| lambdas.contains(name.as_str()))
        .collect();
    let (first, expected) = &lists[0];
    for (name, dependencies) in &lists[1..] {
        let missing: Vec<&String> = expected.difference(dependencies).collect();
        let extra: Vec<&String> = dependencies.difference(expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}'s [dependencies] differ from {first}'s: missing {missing:?}, extra {extra:?}; keep the Lambda crates' lists identical"
        );
    }
}

/// A query of each Data Kiosk dataset, as `domain::data_kiosk` builds it from a config,
/// passes graphql-core's `validate` against the dataset's schema file.
#[test]
fn data_kiosk_queries_are_valid_graphql_for_graphql_core() {
    let moto = std::env::var_os("SP_INGEST_MOTO_SERVER").expect(
        "SP_INGEST_MOTO_SERVER is not set: run the tests through make (its venv has graphql-core)",
    );
    let python = std::path::PathBuf::from(moto).with_file_name("python");
    let schemas = repository_root().join("crates/domain/schemas/data-kiosk");
    let specs = [
        (
            "analytics_salesAndTraffic_2024_04_24",
            serde_json::json!({"query": "salesAndTrafficByDate", "arguments": {"aggregateBy": "DAY"},
             "fields": ["startDate", "marketplaceId", "sales.orderedProductSales.amount", "traffic.sessions"]}),
        ),
        (
            "analytics_economics_2024_03_15",
            serde_json::json!({"query": "economics", "arguments": {"aggregateBy": {"date": "DAY", "productId": "MSKU"}},
             "fields": ["msku", "sales.netUnitsSold", "netProceeds.total.amount"]}),
        ),
        (
            "analytics_vendorAnalytics_2024_09_30",
            serde_json::json!({"query": "manufacturingView", "arguments": {"aggregateBy": "WEEK", "currencyCode": "USD"},
             "fields": ["startDate", "totals.traffic.glanceViews", "metrics.groupByKey.asin"]}),
        ),
    ];
    let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    let us = ["ATVPDKIKX0DER".to_owned()];
    for (dataset, spec) in specs {
        let spec: domain::data_kiosk::QuerySpec = serde_json::from_value(spec).unwrap();
        let query = spec
            .build(dataset, (day("2026-11-01"), day("2026-11-07")), &us)
            .unwrap_or_else(|problems| panic!("{dataset}: {problems:?}"));
        let output = Command::new(&python)
            .args([
                "-c",
                "import sys\nfrom graphql import build_schema, parse, validate\n\
                 errors = validate(build_schema(open(sys.argv[1]).read()), parse(sys.argv[2]))\n\
                 assert not errors, errors",
            ])
            .arg(schemas.join(format!("{dataset}.graphql")))
            .arg(&query.text)
            .output()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
        assert!(
            output.status.success(),
            "{dataset}: {}\n{}",
            query.text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
