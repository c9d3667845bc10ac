//! The `report-creator` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    let function = report_creator::ReportCreator::new(
        env.config_store()?,
        env.spapi_access()?,
        env.metadata_table()?,
    );
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::ReportCreatorInput>| function.handle(event),
    ))
    .await
}
