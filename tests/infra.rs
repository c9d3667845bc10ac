//! The SAM template, checked offline: `cfn-lint` passes; its functions, the state
//! machine's Task placeholders and the crates agree; it names the resources the local
//! stack provisions (so the two cannot drift); and the security rules a reviewer would
//! check by hand hold — no IAM wildcards, TLS-only and KMS-only buckets, the abort rule,
//! a dead-letter queue and partial batch failures, tokens opened only with their purpose,
//! a queue open to Amazon's publisher only, an explicit timeout on every function.
//!
//! The template is read through cfn-lint's own decoder (from `make setup`'s venv), which
//! turns `!Sub`/`!GetAtt` into their JSON forms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_tool(name: &str) -> PathBuf {
    let moto = std::env::var_os("SP_INGEST_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/moto_server"));
    moto.with_file_name(name)
}

fn template() -> Value {
    let output = Command::new(venv_tool("python"))
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import decode\ntemplate, problems = decode(sys.argv[1])\nassert not problems, problems\nprint(json.dumps(template, default=str))",
        ])
        .arg(root().join("infra/template.yaml"))
        .output()
        .expect("the venv's python runs (make setup)");
    assert!(
        output.status.success(),
        "the template does not decode: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from the decoder")
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// A `Fn::Sub` string with the stage and account filled in.
fn name(value: &Value, stage: &str, account: &str) -> String {
    let text = value["Fn::Sub"]
        .as_str()
        .or_else(|| value.as_str())
        .unwrap_or_default();
    text.replace("${Stage}", stage)
        .replace("${AWS::AccountId}", account)
}

#[test]
fn cfn_lint_passes() {
    let output = Command::new(venv_tool("cfn-lint"))
        .arg(root().join("infra/template.yaml"))
        .output()
        .expect("cfn-lint runs (make setup)");
    assert!(
        output.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sam_validates_the_template_with_its_linter() {
    let sam = std::env::var_os("SP_INGEST_SAM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-infra/bin/sam"));
    let output = Command::new(&sam)
        .args(["validate", "--lint", "--template-file"])
        .arg(root().join("infra/template.yaml"))
        // Offline: no credentials are needed, only a region.
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|e| panic!("{} does not run ({e}); run `make setup`", sam.display()));
    assert!(
        output.status.success(),
        "sam validate --lint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn checkov_finds_nothing_beyond_the_documented_skips() {
    let checkov = std::env::var_os("SP_INGEST_CHECKOV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-policy/bin/checkov"));
    let output = Command::new(&checkov)
        .arg("--config-file")
        .arg(root().join("infra/checkov.yaml"))
        .arg("--file")
        .arg(root().join("infra/template.yaml"))
        .args(["--output", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{} does not run ({e}); run `make setup`", checkov.display()));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} on {}", c["check_id"], c["check_name"], c["resource"]))
        .collect();
    assert!(
        failed.is_empty() && summary["passed"].as_u64().unwrap_or(0) > 100,
        "checkov: {summary}; fix these or skip them with a reason in infra/checkov.yaml:\n{}",
        failed.join("\n")
    );
}

#[test]
fn functions_binaries_and_state_machine_placeholders_agree() {
    let template = template();
    let functions = of_type(&template, "AWS::Serverless::Function");
    let mut binaries = BTreeMap::new();
    for (logical, function) in &functions {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{logical}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("{logical}: BuildProperties.Binary (SAM needs it in a workspace)")
            });
        assert!(
            function["Properties"]["Timeout"].is_number()
                && function["Properties"]["MemorySize"].is_number(),
            "{logical}: an explicit Timeout and MemorySize"
        );
        binaries.insert(binary.to_owned(), logical.to_string());
    }
    let crates: BTreeSet<String> = contract::functions::FUNCTIONS
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    assert_eq!(binaries.keys().cloned().collect::<BTreeSet<_>>(), crates);
    assert_eq!(
        template["Globals"]["Function"]["Runtime"],
        "provided.al2023"
    );

    let machine = &resources(&template)["IngestStateMachine"]["Properties"];
    assert_eq!(machine["DefinitionUri"], "../statemachines/ingest.asl.json");
    let asl = std::fs::read_to_string(root().join("statemachines/ingest.asl.json")).unwrap();
    for function in contract::functions::FUNCTIONS {
        let used = asl.contains(&format!("${{{}}}", function.placeholder));
        let substitution = &machine["DefinitionSubstitutions"][function.placeholder];
        if used {
            let target = substitution["Fn::GetAtt"][0].as_str().unwrap_or_else(|| {
                panic!(
                    "{} is used by the ASL but not substituted",
                    function.placeholder
                )
            });
            assert_eq!(
                Some(target),
                binaries.get(function.name).map(String::as_str),
                "{} points at another function",
                function.placeholder
            );
        } else {
            assert!(
                substitution.is_null(),
                "{} is substituted but unused",
                function.placeholder
            );
        }
    }
}

#[test]
fn the_template_names_what_the_local_stack_provisions() {
    let template = template();
    let stage = "teststage";
    let account = cli::resources::LOCAL_ACCOUNT_ID;
    let local = cli::resources::StageResources::for_stage(stage, "us-east-1");
    let r = resources(&template);
    let property =
        |logical: &str, field: &str| name(&r[logical]["Properties"][field], stage, account);
    assert_eq!(property("RawBucket", "BucketName"), local.raw_bucket);
    assert_eq!(
        property("CuratedBucket", "BucketName"),
        local.curated_bucket
    );
    assert_eq!(
        name(
            &r["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"],
            stage,
            account
        ),
        local.glue_database
    );
    assert_eq!(property("NewDataTopic", "TopicName"), local.new_data_topic);
    assert_eq!(property("MetadataTable", "TableName"), local.metadata_table);
    assert_eq!(property("KeyAlias", "AliasName"), local.kms_alias);
    assert_eq!(
        property("NotificationQueue", "QueueName"),
        local.notification_queue
    );
    assert_eq!(
        property("NotificationDeadLetterQueue", "QueueName"),
        local.dead_letter_queue
    );
    assert_eq!(property("IngestStateMachine", "Name"), local.state_machine);
    assert_eq!(property("ScheduleGroup", "Name"), local.schedule_group);
    assert_eq!(property("AthenaWorkGroup", "Name"), local.athena_workgroup);
    // The outputs `StackOutputs::discover` reads (the end-to-end scenario
    // `a_deployed_stage_is_found_by_its_name` reads these names from a stack).
    for key in [
        "StateMachineArn",
        "NotificationQueueArn",
        "ScheduleGroup",
        "SchedulerRoleArn",
        "RawBucket",
        "MetadataTable",
        "CuratedBucket",
        "GlueDatabase",
        "AthenaWorkGroup",
    ] {
        assert!(template["Outputs"].get(key).is_some(), "no output {key}");
    }

    // The table's key and TTL attribute are the ones the code writes.
    let table = &r["MetadataTable"]["Properties"];
    assert_eq!(table["KeySchema"][0]["AttributeName"], "pk");
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        pipeline::metadata::EXPIRES_AT
    );
    assert_eq!(
        r["NotificationQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"],
        cli::resources::MAX_RECEIVE_COUNT
    );

    // Every function gets the environment the local stack gives it, by the same names.
    let environment: BTreeSet<&String> =
        template["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .expect("Globals environment")
            .keys()
            .collect();
    let expected = local.lambda_environment();
    assert_eq!(environment, expected.keys().collect::<BTreeSet<_>>());
}

/// Actions that take no resource-level permissions, where `"*"` is the only resource.
const UNSCOPABLE: [&str; 10] = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

#[test]
fn roles_grant_named_actions_on_named_resources() {
    let template = template();
    for (logical, role) in of_type(&template, "AWS::IAM::Role") {
        for policy in role["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for statement in list(&policy["PolicyDocument"]["Statement"]) {
                let actions: Vec<&str> = list(&statement["Action"])
                    .into_iter()
                    .filter_map(Value::as_str)
                    .collect();
                for action in &actions {
                    assert!(!action.contains('*'), "{logical}: wildcard action {action}");
                }
                for resource in list(&statement["Resource"]) {
                    if resource == "*" {
                        assert!(
                            actions.iter().all(|a| UNSCOPABLE.contains(a)),
                            "{logical}: Resource \"*\" for {actions:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn data_stays_encrypted_private_and_cleaned_up() {
    let template = template();
    let r = resources(&template);
    for (bucket, policy) in [
        ("RawBucket", "RawBucketPolicy"),
        ("CuratedBucket", "CuratedBucketPolicy"),
    ] {
        let statements = &r[policy]["Properties"]["PolicyDocument"]["Statement"];
        let denies = |condition: &str| {
            list(statements)
                .iter()
                .any(|s| s["Effect"] == "Deny" && s["Condition"].to_string().contains(condition))
        };
        assert!(
            denies("aws:SecureTransport"),
            "{bucket}: non-TLS access is denied"
        );
        assert!(
            denies("s3:x-amz-server-side-encryption"),
            "{bucket}: non-KMS puts are denied"
        );
        let properties = &r[bucket]["Properties"];
        let rules = properties["LifecycleConfiguration"]["Rules"].to_string();
        assert!(rules.contains("AbortIncompleteMultipartUpload"), "{bucket}");
        assert_eq!(
            properties["VersioningConfiguration"]["Status"], "Enabled",
            "{bucket}"
        );
    }
    let raw_rules = r["RawBucket"]["Properties"]["LifecycleConfiguration"]["Rules"].to_string();
    assert!(raw_rules.contains("_staging/"));
    // A replaced curated version expires by the tag `transform` gives it.
    let curated_rules =
        r["CuratedBucket"]["Properties"]["LifecycleConfiguration"]["Rules"].to_string();
    assert!(curated_rules.contains(transform::handler::SUPERSEDED_TAG));
    assert_eq!(
        r["MetadataTable"]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(r["Key"]["Properties"]["EnableKeyRotation"], true);
    for queue in ["NotificationQueue", "NotificationDeadLetterQueue"] {
        assert!(
            !r[queue]["Properties"]["KmsMasterKeyId"].is_null(),
            "{queue} is KMS-encrypted"
        );
    }
}

#[test]
fn notifications_come_from_amazon_only_and_failures_are_kept() {
    let template = template();
    let r = resources(&template);
    let statements = &r["NotificationQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    for statement in list(statements)
        .into_iter()
        .filter(|s| s["Effect"] == "Allow")
    {
        assert_eq!(
            statement["Principal"]["AWS"],
            serde_json::json!({"Ref": "SpApiNotificationPublisher"}),
            "only SP-API's publisher may send"
        );
    }
    assert_eq!(
        template["Parameters"]["SpApiNotificationPublisher"]["Default"],
        "437568002678"
    );
    let event =
        &r["NotificationProcessorFunction"]["Properties"]["Events"]["Notifications"]["Properties"];
    assert_eq!(
        event["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert!(
        !r["NotificationQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_null()
    );
}

#[test]
fn only_the_functions_that_call_amazon_can_open_tokens() {
    let template = template();
    let key_policy = &resources(&template)["Key"]["Properties"]["KeyPolicy"]["Statement"];
    let mut decrypting = Vec::new();
    for statement in list(key_policy) {
        let actions = list(&statement["Action"]);
        let token_action = actions
            .iter()
            .any(|a| *a == "kms:Decrypt" || *a == "kms:Encrypt");
        let purpose =
            statement["Condition"]["StringEquals"]["kms:EncryptionContext:purpose"].clone();
        let via_service = !statement["Condition"]["StringLike"]["kms:ViaService"].is_null()
            || !statement["Condition"]["StringEquals"]["kms:ViaService"].is_null()
            || !statement["Condition"]["ArnLike"].is_null()
            || statement["Principal"]["Service"] == "cloudwatch.amazonaws.com";
        if token_action && !via_service && statement["Sid"] != "AccountAdministersTheKey" {
            assert_eq!(
                purpose,
                pipeline::sealed_token::PURPOSE,
                "{}: token use without the purpose condition",
                statement["Sid"]
            );
            if actions.iter().any(|a| *a == "kms:Decrypt") {
                decrypting.extend(list(&statement["Principal"]["AWS"]).into_iter().cloned());
            }
        }
    }
    let roles: BTreeSet<String> = decrypting
        .iter()
        .filter_map(|p| p["Fn::GetAtt"][0].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        roles,
        ["DataProcessorRole", "ReportCreatorRole", "StorageRole"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
}
