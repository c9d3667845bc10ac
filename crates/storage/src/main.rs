//! The `storage` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    storage::crash::arm_from_env(&std::env::var(settings::STAGE).unwrap_or_default());
    let bucket = settings::required(settings::RAW_BUCKET)?;
    let kms_key_id = settings::required(settings::KMS_KEY_ID)?;
    let s3 = pipeline::s3_client(&env.aws);
    let function = storage::handler::Storage::new(env.spapi_access()?, s3, bucket, kms_key_id);
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::StorageInput>| function.handle(event),
    ))
    .await
}
