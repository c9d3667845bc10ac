//! The `report-creator` Lambda: clients built once per container, then the runtime loop.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::{ConfigStore, MetadataTable, SpApiAccess, TokenSealer, settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pipeline::init_tracing();
    let aws = pipeline::aws_config().await;
    let config = Arc::new(ConfigStore::new(
        aws_sdk_ssm::Client::new(&aws),
        settings::required(settings::STAGE)?,
    ));
    let sealer = TokenSealer::new(
        aws_sdk_kms::Client::new(&aws),
        settings::required(settings::KMS_KEY_ID)?,
    );
    let table = MetadataTable::new(
        aws_sdk_dynamodb::Client::new(&aws),
        settings::required(settings::METADATA_TABLE)?,
    );
    let function = report_creator::ReportCreator::new(
        config.clone(),
        SpApiAccess::new(config, sealer)?,
        table,
    );
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<report_creator::Input>| function.handle(event.payload),
    ))
    .await
}
