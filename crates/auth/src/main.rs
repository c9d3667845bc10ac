//! The `auth` Lambda: clients built once per container, then the runtime loop.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::{ConfigStore, TokenSealer, settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::init_tracing();
    let aws = pipeline::aws_config().await;
    let stage = settings::required(settings::STAGE)?;
    let config = Arc::new(ConfigStore::new(aws_sdk_ssm::Client::new(&aws), stage));
    let sealer = TokenSealer::new(
        aws_sdk_kms::Client::new(&aws),
        settings::required(settings::KMS_KEY_ID)?,
    );
    let function = auth::Auth::new(config, aws_sdk_secretsmanager::Client::new(&aws), sealer)?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<auth::AuthRequest>| {
        function.handle(event.payload)
    }))
    .await
}
