//! The `notification-processor` Lambda: clients built once per container, then the runtime loop.

use aws_lambda_events::event::sqs::SqsEvent;
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
    let function =
        notification_processor::NotificationProcessor::new(table, aws_sdk_sfn::Client::new(&aws));
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        function.handle(event.payload)
    }))
    .await
}
