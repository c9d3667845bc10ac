//! The `auth` Lambda: clients built once per container, then the runtime loop.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = pipeline::FunctionEnv::load().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&env.aws);
    let function = auth::Auth::new(secrets, env.token_sealer()?)?;
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<contract::AuthInput>| function.handle(event),
    ))
    .await
}
