//! End-to-end tests of the local stack against a real moto and, for the watch, a real
//! `cargo lambda watch` serving `tests/fixtures/echo-lambda`. One file on purpose: each
//! integration-test file links the whole AWS SDK graph.
//!
//! The tests need `SP_INGEST_MOTO_SERVER` and `SP_INGEST_CARGO_LAMBDA` (set by `make
//! test`) and fail without them.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};

use local_stack::{
    InvokeOutcome, LambdaBackendOption, LambdaWatchOptions, LocalEndpoints, LocalStack,
    LocalStackError, LocalStackOptions, Moto, MotoOptions, SqsPoller, SqsPollerOptions,
};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/local-stack-test";
const ECHO_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:echo";

// ------------------------------------------------------------------------------ helpers

fn moto_options() -> MotoOptions {
    MotoOptions::from_env().unwrap_or_else(|error| panic!("{error}"))
}

fn stack_options(lambdas: LambdaBackendOption) -> LocalStackOptions {
    LocalStackOptions {
        lambdas,
        ..LocalStackOptions::from_env().unwrap_or_else(|error| panic!("{error}"))
    }
}

fn process_is_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state (after the command name) is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Polls `check` every 50 ms until it returns `Some`, failing after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(what, timeout, Duration::from_millis(50), check).await
}

/// Polls `check` every `every` until it returns `Some`, failing after `timeout`.
async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(every).await;
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Every invoke the fake got: function name and payload, in order.
type FakeCalls = Arc<Mutex<Vec<(String, Value)>>>;

/// A stand-in for `cargo lambda watch` that answers the way the watch does: 200 + JSON,
/// 500 + `{"errorType","errorMessage"}` without `X-Amz-Function-Error`, 404 for unknown names.
///
/// `echo` echoes; `flaky` fails with `Throttled` on its first call only; `fatal` always
/// fails with `ReportFatal`.
struct FakeLambda {
    url: String,
    calls: FakeCalls,
    server: tokio::task::JoinHandle<()>,
}

impl FakeLambda {
    async fn start() -> Self {
        let calls = FakeCalls::default();
        let app = Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                post(fake_invoke),
            )
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, calls, server }
    }

    fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }

    fn names_called(&self) -> Vec<String> {
        self.calls().into_iter().map(|(name, _)| name).collect()
    }
}

impl Drop for FakeLambda {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn fake_invoke(
    State(calls): State<FakeCalls>,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> (StatusCode, String) {
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let attempt = {
        let mut calls = calls.lock().unwrap();
        calls.push((name.clone(), payload.clone()));
        calls.iter().filter(|(called, _)| *called == name).count()
    };
    let (status, answer) = match name.as_str() {
        "echo" => (200, json!({"function": name, "payload": payload})),
        "flaky" if attempt == 1 => (
            500,
            json!({"errorType": "Throttled", "errorMessage": "slow down"}),
        ),
        "flaky" => (200, json!({"function": name, "attempt": attempt})),
        "fatal" => (
            500,
            json!({"errorType": "ReportFatal", "errorMessage": "Amazon gave up"}),
        ),
        _ => (404, json!({"title": "Missing function"})),
    };
    (StatusCode::from_u16(status).unwrap(), answer.to_string())
}

async fn invoke_raw(
    http: &reqwest::Client,
    base_url: &str,
    path_function: &str,
    payload: &Value,
) -> reqwest::Response {
    http.post(format!(
        "{base_url}/2015-03-31/functions/{path_function}/invocations"
    ))
    .body(payload.to_string())
    .send()
    .await
    .unwrap()
}

/// Creates a state machine, starts one execution with an explicit name (moto needs
/// one) and polls until it ends. Returns the final description and the latency.
async fn run_execution(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    definition: &Value,
    input: &Value,
) -> (
    aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    Duration,
) {
    let machine = sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE_ARN)
        .send()
        .await
        .unwrap();
    run_existing(
        sfn,
        machine.state_machine_arn(),
        &format!("{name}-run"),
        input,
    )
    .await
}

async fn run_existing(
    sfn: &aws_sdk_sfn::Client,
    machine_arn: &str,
    execution_name: &str,
    input: &Value,
) -> (
    aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    Duration,
) {
    let started = Instant::now();
    let execution = sfn
        .start_execution()
        .state_machine_arn(machine_arn)
        .name(execution_name)
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    let execution_arn = execution.execution_arn().to_owned();
    // Polled every 10 ms so that the latency printed by the tests means something.
    let every = Duration::from_millis(10);
    let description = poll_until(
        "the execution to end",
        Duration::from_secs(60),
        every,
        || {
            let sfn = sfn.clone();
            let execution_arn = execution_arn.clone();
            async move {
                let description = sfn
                    .describe_execution()
                    .execution_arn(execution_arn)
                    .send()
                    .await
                    .unwrap();
                (description.status() != &aws_sdk_sfn::types::ExecutionStatus::Running)
                    .then_some(description)
            }
        },
    )
    .await;
    (description, started.elapsed())
}

fn output_of(
    description: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> Value {
    serde_json::from_str(description.output().unwrap_or("null")).unwrap()
}

// ------------------------------------------------------------------------------ moto

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_answers_sdk_calls_and_shutdown_stops_its_process() {
    let started = Instant::now();
    let moto = Moto::start(moto_options()).await.unwrap();
    eprintln!("timing: moto answered after {:?}", started.elapsed());
    assert_eq!(
        moto.endpoint_url(),
        format!("http://127.0.0.1:{}", moto.port())
    );

    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let queue = sqs.create_queue().queue_name("q").send().await.unwrap();
    assert!(queue.queue_url().unwrap().ends_with("/q"));
    let env = moto.aws_env();
    assert!(env.contains(&("AWS_ENDPOINT_URL".into(), moto.endpoint_url().into())));
    assert!(env.contains(&("AWS_REGION".into(), "us-east-1".into())));

    let pid = moto.pid();
    let log = moto.log_path().to_owned();
    assert!(process_is_alive(pid));
    moto.shutdown().await;
    assert!(!process_is_alive(pid), "moto_server {pid} still runs");
    assert!(
        !Path::new(&log).exists(),
        "a clean shutdown removes {}",
        log.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_moto_stops_its_process() {
    let moto = Moto::start(moto_options()).await.unwrap();
    let pid = moto.pid();
    drop(moto);
    assert!(!process_is_alive(pid), "moto_server {pid} still runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_that_cannot_start_names_the_program_and_make_setup() {
    let options = MotoOptions {
        moto_server: "/nonexistent/moto_server".into(),
        lambda_port: None,
    };
    let error = Moto::start(options).await.unwrap_err().to_string();
    assert!(error.contains("/nonexistent/moto_server"), "{error}");
    assert!(error.contains("make setup"), "{error}");
}

#[test]
fn without_sp_ingest_moto_server_the_tests_fail_with_the_make_setup_message() {
    let run = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "dropping_moto_stops_its_process"])
        .env_remove("SP_INGEST_MOTO_SERVER")
        .output()
        .unwrap();
    assert!(!run.status.success(), "the test must fail, not skip");
    let output = String::from_utf8_lossy(&run.stdout);
    assert!(
        output.contains("SP_INGEST_MOTO_SERVER is not set: run `make setup`"),
        "{output}"
    );
}

#[test]
fn missing_tool_settings_tell_the_user_to_run_make_setup() {
    let error = LocalStackError::ToolNotConfigured {
        variable: "SP_INGEST_MOTO_SERVER",
        installs: "installs moto into .venv",
        example: ".venv/bin/moto_server",
    };
    assert_eq!(
        error.to_string(),
        "SP_INGEST_MOTO_SERVER is not set: run `make setup` (installs moto into .venv), or export SP_INGEST_MOTO_SERVER=.venv/bin/moto_server"
    );
}

/// Run as a child process by `moto_stops_when_its_owner_dies_without_unwinding`: starts
/// moto, says its pid, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process of moto_stops_when_its_owner_dies_without_unwinding"]
async fn owner_process_that_gets_interrupted() {
    let moto = Moto::start(moto_options()).await.unwrap();
    println!("owner-helper moto log {}", moto.log_path().display());
    println!("owner-helper moto pid {}", moto.pid());
    tokio::time::sleep(Duration::from_secs(120)).await;
    drop(moto);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_stops_when_its_owner_dies_without_unwinding() {
    use std::io::BufRead as _;
    let mut owner = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "owner_process_that_gets_interrupted",
            "--nocapture",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(owner.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let mut said = |what: &str| {
        let prefix = format!("owner-helper moto {what} ");
        lines
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
            .unwrap_or_else(|| panic!("the owner process did not print moto's {what}"))
    };
    let moto_log = said("log");
    let moto_pid: u32 = said("pid").parse().unwrap();
    assert!(process_is_alive(moto_pid));
    // What a Ctrl-C does to the owner: SIGINT, default action, no unwinding, no Drop.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &owner.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    owner.wait().unwrap();
    eventually(
        "moto to stop after its owner died",
        Duration::from_secs(10),
        || async { (!process_is_alive(moto_pid)).then_some(()) },
    )
    .await;
    // Nobody was left to tidy up after the owner; this test does.
    let _ = std::fs::remove_file(moto_log);
}

// ------------------------------------------------------------------------------ proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invokes_reach_the_backend_by_bare_name_whether_sent_by_arn_or_by_name() {
    let fake = FakeLambda::start().await;
    let stack = LocalStack::up(stack_options(LambdaBackendOption::Url(fake.url.clone())))
        .await
        .unwrap();
    let endpoints = stack.endpoints();
    let http = reqwest::Client::new();
    let payload = json!({"report": "r1"});

    let encoded_arn = ECHO_ARN.replace(':', "%3A");
    for path_function in [
        encoded_arn.clone(),
        format!("{encoded_arn}%3A%24LATEST"),
        "echo".to_owned(),
        "echo:$LATEST".to_owned(),
    ] {
        let answer = invoke_raw(&http, &endpoints.aws_endpoint_url, &path_function, &payload).await;
        assert_eq!(answer.status(), 200, "{path_function}");
        assert!(answer.headers().get("x-amz-function-error").is_none());
        assert!(answer.headers().contains_key("x-amzn-requestid"));
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body, json!({"function": "echo", "payload": payload}));
    }
    assert_eq!(fake.names_called(), ["echo", "echo", "echo", "echo"]);

    // What the proxy adds to an invoke, measured against calling the backend directly.
    let mut direct = Vec::new();
    let mut proxied = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        invoke_raw(&http, &fake.url, "echo", &payload)
            .await
            .bytes()
            .await
            .unwrap();
        direct.push(started.elapsed());
        let started = Instant::now();
        invoke_raw(&http, &endpoints.aws_endpoint_url, &encoded_arn, &payload)
            .await
            .bytes()
            .await
            .unwrap();
        proxied.push(started.elapsed());
    }
    eprintln!(
        "timing: invoke direct median {:?}, through the proxy median {:?}",
        median(direct),
        median(proxied)
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_500_becomes_an_unhandled_function_error_and_404_a_missing_function() {
    let fake = FakeLambda::start().await;
    let stack = LocalStack::up(stack_options(LambdaBackendOption::Url(fake.url.clone())))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let proxy_url = stack.endpoints().aws_endpoint_url;

    let answer = invoke_raw(&http, &proxy_url, "fatal", &json!({})).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-amz-function-error"], "Unhandled");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body,
        json!({"errorType": "ReportFatal", "errorMessage": "Amazon gave up"})
    );

    let answer = invoke_raw(&http, &proxy_url, "no-such-function", &json!({})).await;
    assert_eq!(answer.status(), 404);
    assert_eq!(
        answer.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );

    let client = stack.lambda_client(Duration::from_secs(10));
    assert_eq!(
        client.invoke("fatal", &json!({})).await.unwrap(),
        InvokeOutcome::Failed {
            error_type: "ReportFatal".into(),
            error_message: "Amazon gave up".into()
        }
    );
    let missing = client.invoke("no-such-function", &json!({})).await;
    assert!(
        matches!(missing, Err(LocalStackError::FunctionNotFound { .. })),
        "{missing:?}"
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_lambda_backend_invokes_fail_with_a_service_exception() {
    let stack = LocalStack::up(stack_options(LambdaBackendOption::None))
        .await
        .unwrap();
    assert_eq!(stack.endpoints().lambda_url, None);
    let answer = invoke_raw(
        &reqwest::Client::new(),
        &stack.endpoints().aws_endpoint_url,
        "echo",
        &json!({}),
    )
    .await;
    assert_eq!(answer.status(), 502);
    assert_eq!(answer.headers()["x-amzn-errortype"], "ServiceException");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_through_the_proxy_keeps_head_object_content_length_and_large_bodies() {
    let stack = LocalStack::up(stack_options(LambdaBackendOption::None))
        .await
        .unwrap();
    let s3 = aws_sdk_s3::Client::new(&stack.sdk_config().await);
    s3.create_bucket().bucket("raw").send().await.unwrap();
    let small = Bytes::from_static(b"hello, local stack");
    // Larger than the proxy reads whole: request and answer are streamed.
    let large = Bytes::from(
        (0..3 * 1024 * 1024)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    for (key, body) in [("small.txt", &small), ("large.bin", &large)] {
        s3.put_object()
            .bucket("raw")
            .key(key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket("raw")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(body.len() as i64), "{key}");
        let object = s3.get_object().bucket("raw").key(key).send().await.unwrap();
        let read = object.body.collect().await.unwrap().into_bytes();
        assert!(read == *body, "{key} came back different");
    }
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machine_tasks_reach_the_backend_and_retry_and_catch_by_error_name() {
    let fake = FakeLambda::start().await;
    let stack = LocalStack::up(stack_options(LambdaBackendOption::Url(fake.url.clone())))
        .await
        .unwrap();
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk_config().await);
    let input = json!({"report": "r1"});

    let retry_then_catch = json!({
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
                    "Payload.$": "$"
                },
                "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
                "ResultSelector": {"answer.$": "$.Payload"},
                "ResultPath": "$.flaky",
                "Next": "Fatal"
            },
            "Fatal": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "fatal", "Payload.$": "$"},
                "Catch": [{"ErrorEquals": ["ReportFatal"], "ResultPath": "$.error", "Next": "Recorded"}],
                "End": true
            },
            "Recorded": {"Type": "Pass", "End": true}
        }
    });
    let (description, _) = run_execution(&sfn, "retry-then-catch", &retry_then_catch, &input).await;
    assert_eq!(
        description.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded,
        "{description:?}"
    );
    let output = output_of(&description);
    assert_eq!(output["report"], "r1");
    assert_eq!(
        output["flaky"]["answer"],
        json!({"function": "flaky", "attempt": 2})
    );
    assert_eq!(output["error"]["Error"], "ReportFatal");
    assert_eq!(fake.names_called(), ["flaky", "flaky", "fatal"]);
    assert_eq!(
        fake.calls()[0].1,
        input,
        "the function gets exactly the Payload"
    );

    let uncaught = json!({
        "StartAt": "Fatal",
        "States": {"Fatal": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "fatal", "Payload.$": "$"},
            "End": true
        }}
    });
    let (description, _) = run_execution(&sfn, "uncaught", &uncaught, &input).await;
    assert_eq!(
        description.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Failed
    );
    assert_eq!(description.error(), Some("ReportFatal"));

    // Latency of a warm one-task execution, StartExecution to SUCCEEDED.
    let one_task = json!({
        "StartAt": "Echo",
        "States": {"Echo": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": ECHO_ARN, "Payload.$": "$"},
            "End": true
        }}
    });
    let machine = sfn
        .create_state_machine()
        .name("one-task")
        .definition(one_task.to_string())
        .role_arn(ROLE_ARN)
        .send()
        .await
        .unwrap();
    let mut latencies = Vec::new();
    for run in 0..5 {
        let (description, latency) = run_existing(
            &sfn,
            machine.state_machine_arn(),
            &format!("one-task-{run}"),
            &input,
        )
        .await;
        assert_eq!(
            description.status(),
            &aws_sdk_sfn::types::ExecutionStatus::Succeeded
        );
        assert_eq!(output_of(&description)["Payload"]["payload"], input);
        latencies.push(latency);
    }
    eprintln!(
        "timing: one-task execution StartExecution -> SUCCEEDED median {:?} (polled every 10 ms)",
        median(latencies)
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_round_trip_through_json_for_a_cli() {
    let fake = FakeLambda::start().await;
    let stack = LocalStack::up(stack_options(LambdaBackendOption::Url(fake.url.clone())))
        .await
        .unwrap();
    let endpoints = stack.endpoints();
    assert_eq!(
        endpoints.aws_endpoint_url,
        format!("http://127.0.0.1:{}", endpoints.proxy_port)
    );
    assert_eq!(endpoints.region, "us-east-1");
    assert_eq!(endpoints.lambda_url.as_deref(), Some(fake.url.as_str()));
    let written = serde_json::to_string(&endpoints).unwrap();
    assert_eq!(
        serde_json::from_str::<LocalEndpoints>(&written).unwrap(),
        endpoints
    );
    let moto_pid = stack.moto().pid();
    drop(stack);
    assert!(!process_is_alive(moto_pid), "dropping the stack stops moto");
}

// ------------------------------------------------------------------------------ SQS poller

/// A moto queue whose messages come back 1 s after a failed receive.
async fn queue_with_short_visibility(moto: &Moto, name: &str) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    (sqs, queue_url)
}

async fn send(sqs: &aws_sdk_sqs::Client, queue_url: &str, body: &str) {
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .unwrap();
}

async fn messages_left(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName::{
        ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible,
    };
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(ApproximateNumberOfMessages)
        .attribute_names(ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    [
        ApproximateNumberOfMessages,
        ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|name| attributes[name].parse::<u64>().unwrap())
    .sum()
}

type Received = Arc<Mutex<Vec<Value>>>;

/// The records of every event the backend got, in order.
fn records(received: &Received) -> Vec<Value> {
    received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|event| event["Records"].as_array().unwrap().clone())
        .collect()
}

fn bodies(received: &Received) -> Vec<String> {
    let mut bodies: Vec<String> = records(received)
        .iter()
        .map(|record| record["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_invokes_with_an_sqs_event_and_deletes_what_succeeded() {
    let moto = Moto::start(moto_options()).await.unwrap();
    let (sqs, queue_url) = queue_with_short_visibility(&moto, "notifications").await;
    let received = Received::default();
    let backend = {
        let received = received.clone();
        move |event: Value| {
            let received = received.clone();
            async move {
                received.lock().unwrap().push(event);
                Ok::<_, std::io::Error>(json!({"batchItemFailures": []}))
            }
        }
    };
    for body in ["one", "two", "three"] {
        send(&sqs, &queue_url, body).await;
    }
    let poller = SqsPoller::start(sqs.clone(), SqsPollerOptions::new(&queue_url), backend)
        .await
        .unwrap();
    eventually("three deletes", Duration::from_secs(10), || async {
        (poller.stats().deleted == 3).then_some(())
    })
    .await;
    assert_eq!(messages_left(&sqs, &queue_url).await, 0);
    assert_eq!(bodies(&received), ["one", "three", "two"]);
    let record = &records(&received)[0];
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(
        record["eventSourceARN"],
        "arn:aws:sqs:us-east-1:123456789012:notifications"
    );
    assert_eq!(record["awsRegion"], "us-east-1");
    assert!(record["messageId"].is_string() && record["receiptHandle"].is_string());
    assert!(record["md5OfBody"].is_string());
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");

    let stopping = Instant::now();
    poller.shutdown().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(1),
        "shutdown cuts the long poll off"
    );
    moto.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_item_failure_is_redelivered_and_the_rest_deleted_once() {
    let moto = Moto::start(moto_options()).await.unwrap();
    let (sqs, queue_url) = queue_with_short_visibility(&moto, "partial").await;
    let received = Received::default();
    let backend = {
        let received = received.clone();
        move |event: Value| {
            let received = received.clone();
            async move {
                received.lock().unwrap().push(event.clone());
                // `retry-me` fails on its first delivery only.
                let failures: Vec<Value> = event["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|record| {
                        record["body"] == "retry-me"
                            && record["attributes"]["ApproximateReceiveCount"] == "1"
                    })
                    .map(|record| json!({"itemIdentifier": record["messageId"]}))
                    .collect();
                Ok::<_, std::io::Error>(json!({ "batchItemFailures": failures }))
            }
        }
    };
    send(&sqs, &queue_url, "fine").await;
    send(&sqs, &queue_url, "retry-me").await;
    let poller = SqsPoller::start(sqs.clone(), SqsPollerOptions::new(&queue_url), backend)
        .await
        .unwrap();
    eventually("both messages deleted", Duration::from_secs(15), || async {
        (poller.stats().deleted == 2).then_some(())
    })
    .await;
    assert_eq!(bodies(&received), ["fine", "retry-me", "retry-me"]);
    let retried: Vec<Value> = records(&received)
        .into_iter()
        .filter(|record| record["body"] == "retry-me")
        .map(|record| record["attributes"]["ApproximateReceiveCount"].clone())
        .collect();
    assert_eq!(retried, ["1", "2"]);
    assert_eq!(poller.stats().reported_failures, 1);
    assert_eq!(messages_left(&sqs, &queue_url).await, 0);
    poller.shutdown().await;
    moto.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_error_leaves_the_whole_batch_for_redelivery() {
    let moto = Moto::start(moto_options()).await.unwrap();
    let (sqs, queue_url) = queue_with_short_visibility(&moto, "failing").await;
    send(&sqs, &queue_url, "a").await;
    send(&sqs, &queue_url, "b").await;
    let received = Received::default();
    let backend = {
        let received = received.clone();
        move |event: Value| {
            let received = received.clone();
            async move {
                let first_call = {
                    let mut received = received.lock().unwrap();
                    received.push(event);
                    received.len() == 1
                };
                if first_call {
                    Err("the function crashed".to_owned())
                } else {
                    Ok(Value::Null)
                }
            }
        }
    };
    let options = SqsPollerOptions {
        batch_size: 10,
        ..SqsPollerOptions::new(&queue_url)
    };
    let poller = SqsPoller::start(sqs.clone(), options, backend)
        .await
        .unwrap();
    eventually("both messages deleted", Duration::from_secs(15), || async {
        (poller.stats().deleted == 2).then_some(())
    })
    .await;
    let first_batch: Vec<String> = received.lock().unwrap()[0]["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["body"].as_str().unwrap().to_owned())
        .collect();
    let redelivered = records(&received)
        .iter()
        .filter(|record| record["attributes"]["ApproximateReceiveCount"] == "2")
        .count();
    assert_eq!(
        redelivered,
        first_batch.len(),
        "every message of the failed batch came back"
    );
    assert_eq!(poller.stats().failed_batches, 1);
    assert_eq!(messages_left(&sqs, &queue_url).await, 0);
    poller.shutdown().await;
    moto.shutdown().await;
}

// ------------------------------------------------------------------------------ watch

fn echo_lambda_watch() -> LambdaWatchOptions {
    let mut options = LambdaWatchOptions::from_env().unwrap_or_else(|error| panic!("{error}"));
    options.workspace_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/echo-lambda");
    options.concurrency = 2;
    options.env = vec![("ECHO_LAMBDA_GREETING".into(), "hello".into())];
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_binary_under_the_watch_runs_tasks_and_fails_by_error_name() {
    let stack = LocalStack::up(stack_options(LambdaBackendOption::Watch(
        echo_lambda_watch(),
    )))
    .await
    .unwrap();
    let endpoints = stack.endpoints();
    let watch = stack.watch().unwrap();
    let watch_pid = watch.pid();

    let started = Instant::now();
    let outcome = watch.invoke("echo-lambda", &json!({"n": 1})).await.unwrap();
    eprintln!(
        "timing: first invoke under the watch {:?}",
        started.elapsed()
    );
    let InvokeOutcome::Succeeded(answer) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(answer["payload"], json!({"n": 1}));
    assert_eq!(answer["function"], "echo-lambda");
    assert_eq!(
        answer["aws_endpoint_url"],
        endpoints.aws_endpoint_url.as_str()
    );
    assert_eq!(answer["aws_region"], "us-east-1");
    assert_eq!(answer["greeting"], "hello");
    let failed = watch
        .invoke("echo-lambda", &json!({"fail": "Throttled"}))
        .await
        .unwrap();
    assert!(
        matches!(&failed, InvokeOutcome::Failed { error_type, .. } if error_type == "Throttled"),
        "{failed:?}"
    );

    let sfn = aws_sdk_sfn::Client::new(&stack.sdk_config().await);
    let definition = json!({
        "StartAt": "Echo",
        "States": {
            "Echo": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:echo-lambda",
                    "Payload.$": "$"
                },
                "Catch": [{"ErrorEquals": ["ReportFatal"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    let machine = sfn
        .create_state_machine()
        .name("echo")
        .definition(definition.to_string())
        .role_arn(ROLE_ARN)
        .send()
        .await
        .unwrap();
    let (description, latency) =
        run_existing(&sfn, machine.state_machine_arn(), "ok", &json!({"n": 2})).await;
    eprintln!("timing: one-task execution through the watch {latency:?}");
    assert_eq!(
        description.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    );
    assert_eq!(
        output_of(&description)["Payload"]["payload"],
        json!({"n": 2})
    );
    let (description, _) = run_existing(
        &sfn,
        machine.state_machine_arn(),
        "caught",
        &json!({"fail": "ReportFatal"}),
    )
    .await;
    assert_eq!(
        description.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    );
    assert_eq!(output_of(&description)["error"]["Error"], "ReportFatal");

    // The SQS poller drives the real binary too; its answer has no failures, so all is deleted.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config().await);
    let queue_url = sqs
        .create_queue()
        .queue_name("to-echo")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    send(&sqs, &queue_url, "hello").await;
    let poller = SqsPoller::start(
        sqs.clone(),
        SqsPollerOptions::new(&queue_url),
        watch.function("echo-lambda"),
    )
    .await
    .unwrap();
    eventually("the message deleted", Duration::from_secs(15), || async {
        (poller.stats().deleted == 1).then_some(())
    })
    .await;
    poller.shutdown().await;

    let function_pid = answer["pid"].as_u64().unwrap() as u32;
    assert!(process_is_alive(function_pid));
    stack.shutdown().await;
    assert!(
        !process_is_alive(watch_pid),
        "cargo-lambda {watch_pid} still runs"
    );
    assert!(
        !process_is_alive(function_pid),
        "function {function_pid} still runs"
    );
}
