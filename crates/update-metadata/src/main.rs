//! The `update-metadata` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    let function =
        update_metadata::UpdateMetadata::new(env.metadata_table()?, env.step_functions());
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::UpdateMetadataInput>| function.handle(event),
    ))
    .await
}
