//! The `sp-ingest` operator CLI as a library: the local pipeline (emulated AWS, the real
//! Lambda binaries, the real state machine), pushing configuration, subscribing to
//! notifications and running the ingest state machine. The end-to-end tests drive the
//! same code the commands do.

pub mod ads;
pub mod amc;
pub mod backfill;
pub mod config_file;
pub mod demo;
pub mod dlq;
pub mod notifications;
pub mod query;
pub mod resources;
pub mod results;
pub mod run;
pub mod schedules;
pub mod stack;
pub mod stage;
pub mod status;
pub mod views;

use std::time::Duration;

use anyhow::Context as _;
use local_stack::{
    LambdaBackendOption, LambdaWatchOptions, LocalStack, LocalStackOptions, SqsPoller,
    SqsPollerOptions,
};

use crate::resources::{Provisioned, StageResources, provision};
use crate::stage::{EndpointsFile, StageHandle};

/// The ingest state machine's definition, as committed.
pub const INGEST_DEFINITION: &str = include_str!("../../../statemachines/ingest.asl.json");

/// How to start the local pipeline.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Stage name (parameters under `/sp-ingest/<stage>/`).
    pub stage: String,
    /// First wait of the polling fallback, seconds (small locally: the clock is real).
    pub poll_base_seconds: u64,
    /// Longest wait of the polling fallback, seconds.
    pub poll_max_seconds: u64,
    /// Extra environment for the functions.
    pub env: Vec<(String, String)>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            stage: "local".into(),
            poll_base_seconds: 1,
            poll_max_seconds: 2,
            env: Vec::new(),
        }
    }
}

/// The running local pipeline: the stack (routing proxy, moto, `cargo lambda watch`),
/// the stage's resources, and the SQS poller standing in for the event source mapping
/// of the notification processor. Everything stops on [`LocalPipeline::shutdown`] or drop.
pub struct LocalPipeline {
    stack: LocalStack,
    poller: SqsPoller,
    stage: StageHandle,
}

impl LocalPipeline {
    /// Starts everything (tools from `SP_INGEST_MOTO_SERVER` and `SP_INGEST_CARGO_LAMBDA`,
    /// which `make setup` installs) and creates the stage's resources.
    pub async fn up(options: LocalOptions) -> anyhow::Result<LocalPipeline> {
        let names = StageResources::for_stage(&options.stage, "us-east-1");
        let mut watch = LambdaWatchOptions::from_env()?;
        watch.env.extend(names.lambda_environment());
        watch.env.push((
            pipeline::settings::POLL_BASE_SECONDS.to_owned(),
            options.poll_base_seconds.to_string(),
        ));
        watch.env.push((
            pipeline::settings::POLL_MAX_SECONDS.to_owned(),
            options.poll_max_seconds.to_string(),
        ));
        watch.env.push((
            "RUST_LOG".to_owned(),
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        ));
        watch.env.extend(options.env);
        let stack = LocalStack::up(LocalStackOptions {
            lambdas: LambdaBackendOption::Watch(watch),
            ..LocalStackOptions::from_env()?
        })
        .await?;
        let aws = stack.sdk_config().await;
        let provisioned = provision(&aws, &names, INGEST_DEFINITION).await?;
        warm_up(&stack).await?;
        let lambda = stack
            .lambda_client(Duration::from_secs(600))
            .function("notification-processor");
        let poller = SqsPoller::start(
            aws_sdk_sqs::Client::new(&aws),
            SqsPollerOptions::new(&provisioned.queue_url),
            lambda,
        )
        .await
        .context("starting the SQS poller")?;
        Ok(LocalPipeline {
            stack,
            poller,
            stage: StageHandle::new(aws, provisioned),
        })
    }

    /// The AWS configuration for the local stack.
    pub fn aws(&self) -> &aws_config::SdkConfig {
        self.stage.aws()
    }

    /// The stage's resources.
    pub fn resources(&self) -> &Provisioned {
        self.stage.resources()
    }

    /// The AWS endpoint (for other processes, e.g. a simulator delivering notifications).
    pub fn aws_endpoint_url(&self) -> String {
        self.stack.endpoints().aws_endpoint_url
    }

    /// Where the stack is, for `sp-ingest local up`'s endpoints file.
    pub fn endpoints(&self) -> EndpointsFile {
        EndpointsFile {
            aws_endpoint_url: self.aws_endpoint_url(),
            resources: self.resources().clone(),
            notification_queue_arn: self.resources().names.queue_arn(),
            state_machine_arn: self.resources().names.state_machine_arn(),
            pid: std::process::id(),
        }
    }

    /// The stage: push config, subscribe, run.
    pub fn stage(&self) -> &StageHandle {
        &self.stage
    }

    /// Messages the poller handed to the notification processor, and their fate.
    pub fn poller_stats(&self) -> local_stack::SqsPollerStats {
        self.poller.stats()
    }

    /// Stops the poller, the functions, moto and the proxy.
    pub async fn shutdown(self) {
        self.poller.shutdown().await;
        self.stack.shutdown().await;
    }
}

/// Invokes every function once, so the watch builds and starts them now rather than
/// inside the first execution (a cold build of the AWS SDK graph takes minutes). The
/// empty event is refused by most handlers; any answer means the function runs.
async fn warm_up(stack: &LocalStack) -> anyhow::Result<()> {
    let client = stack.lambda_client(Duration::from_secs(1800));
    for function in contract::functions::FUNCTIONS {
        let started = std::time::Instant::now();
        client
            .invoke(function.name, &serde_json::json!({}))
            .await
            .with_context(|| format!("starting function {}", function.name))?;
        tracing::info!(
            function = function.name,
            elapsed_ms = started.elapsed().as_millis(),
            "function ready"
        );
    }
    Ok(())
}
