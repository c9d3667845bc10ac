//! The `report-creator` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    // An AMC instance at its limit is asked again after four first polling waits
    // (a minute by default; its executions take 15 minutes and more).
    let capacity_wait = pipeline::settings::seconds(pipeline::settings::POLL_BASE_SECONDS, 15)? * 4;
    let function = report_creator::ReportCreator::new(
        env.config_store()?,
        env.spapi_access()?,
        env.metadata_table()?,
        capacity_wait,
    );
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::ReportCreatorInput>| function.handle(event),
    ))
    .await
}
