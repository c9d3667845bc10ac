//! The `report-creator` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    // One config store for both, so the parameters are read once per container.
    let config = env.config_store()?;
    let spapi = pipeline::SpApiAccess::new(config.clone(), env.token_sealer()?)?;
    let function = report_creator::ReportCreator::new(config, spapi, env.metadata_table()?);
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::ReportCreatorInput>| function.handle(event),
    ))
    .await
}
