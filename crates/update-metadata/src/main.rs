//! The `update-metadata` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::{MetadataTable, settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::init_tracing();
    let aws = pipeline::aws_config().await;
    let table = MetadataTable::new(
        aws_sdk_dynamodb::Client::new(&aws),
        settings::required(settings::METADATA_TABLE)?,
    );
    let function = update_metadata::UpdateMetadata::new(table, aws_sdk_sfn::Client::new(&aws));
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<update_metadata::Input>| function.handle(event.payload),
    ))
    .await
}
