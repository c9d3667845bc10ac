//! The `data-processor` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    let base = settings::seconds(settings::POLL_BASE_SECONDS, 15)?;
    // 600 s: a report stuck for its whole patience costs ≤ 42 polls of history (README).
    let max = settings::seconds(settings::POLL_MAX_SECONDS, 600)?;
    let function =
        data_processor::DataProcessor::new(env.spapi_access()?, env.metadata_table()?, base, max);
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::DataProcessorInput>| function.handle(event),
    ))
    .await
}
