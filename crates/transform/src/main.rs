//! The `transform` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::settings;
use transform::handler::{Places, Transform};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    let places = Places {
        raw_bucket: settings::required(settings::RAW_BUCKET)?,
        curated_bucket: settings::required(settings::CURATED_BUCKET)?,
        kms_key_id: settings::required(settings::KMS_KEY_ID)?,
        database: settings::required(settings::GLUE_DATABASE)?,
        topic_arn: settings::required(settings::NEW_DATA_TOPIC)?,
        scratch: std::env::temp_dir(),
    };
    let function = Transform::new(
        pipeline::s3_client(&env.aws),
        aws_sdk_glue::Client::new(&env.aws),
        aws_sdk_sns::Client::new(&env.aws),
        places,
    );
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::TransformInput>| function.handle(event),
    ))
    .await
}
