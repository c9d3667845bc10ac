//! What every Lambda of the ingest pipeline shares on the AWS side: the function's
//! settings, the stage's configuration, access tokens sealed with KMS, the metadata table
//! and failures by their stable names.
//!
//! Lambdas build their AWS clients once per container from [`aws_config`] and keep the
//! handler a plain async function of typed input (style.md "Thin Lambdas").

pub mod config_store;
pub mod failure;
pub mod function_env;
pub mod glue_tables;
pub mod metadata;
pub mod metrics;
pub mod sealed_token;
pub mod settings;
pub mod spapi_access;
pub mod task_result;

pub use config_store::ConfigStore;
pub use contract::Outcome;
pub use failure::{Failure, aws_failure, classify_aws};
pub use function_env::FunctionEnv;
pub use metadata::{Claim, MetadataTable, RequestRecord, StatusChange, TaskResult};
pub use sealed_token::{SealedToken, TokenSealer};
pub use spapi_access::SpApiAccess;
pub use task_result::{Delivery, send_task_result};

/// Loads the AWS configuration from the environment. `AWS_ENDPOINT_URL` (set locally to
/// the emulator) is honoured by every client built from it.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// An S3 client; path-style addressing when an endpoint override is set, because the
/// local emulator serves buckets as paths rather than host names.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build(),
    )
}

/// Logs to stdout without colours (CloudWatch shows escape codes verbatim), filtered by
/// `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .try_init();
}
