//! The `notification-processor` Lambda: clients built once per container, then the runtime loop.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    let function = notification_processor::NotificationProcessor::new(
        env.metadata_table()?,
        env.step_functions(),
        pipeline::settings::optional(pipeline::settings::APPLICATION_ID),
    );
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        function.handle(event)
    }))
    .await
}
