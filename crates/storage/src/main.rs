//! The `storage` Lambda: clients built once per container, then the runtime loop.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::{ConfigStore, SpApiAccess, TokenSealer, settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::init_tracing();
    let aws = pipeline::aws_config().await;
    let config = Arc::new(ConfigStore::new(
        aws_sdk_ssm::Client::new(&aws),
        settings::required(settings::STAGE)?,
    ));
    let kms_key_id = settings::required(settings::KMS_KEY_ID)?;
    let sealer = TokenSealer::new(aws_sdk_kms::Client::new(&aws), kms_key_id.clone());
    let bucket = settings::required(settings::RAW_BUCKET)?;
    let function = storage::handler::Storage::new(
        SpApiAccess::new(config, sealer)?,
        pipeline::s3_client(&aws),
        bucket,
        kms_key_id,
    );
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<storage::handler::StoreInput>| function.handle(event.payload),
    ))
    .await
}
