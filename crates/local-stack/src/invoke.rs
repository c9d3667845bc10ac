//! Invoking a function over the Lambda Invoke HTTP API, the way the event sources do.
//!
//! `cargo lambda watch`, the routing proxy and test servers all answer
//! `POST /2015-03-31/functions/NAME/invocations`; [`LambdaBackend`] is what the SQS
//! poller needs from any of them (or from a closure in a test).

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::LocalStackError;
use crate::moto::local_http_client;
use crate::proxy::function_name;

/// How a function invoke ended, when the backend ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeOutcome {
    /// The function returned this JSON (`null` for an empty answer).
    Succeeded(Value),
    /// The function failed; `error_type` is the name Step Functions matches on.
    Failed {
        /// The error name, e.g. `Throttled`.
        error_type: String,
        /// The error message.
        error_message: String,
    },
}

/// A client of the Lambda Invoke HTTP API at one base URL (the watch, the proxy or a test server).
#[derive(Debug, Clone)]
pub struct LambdaInvokeClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl LambdaInvokeClient {
    /// A client for `base_url`, e.g. `http://127.0.0.1:9000`, giving each invoke up to `timeout`.
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            http: local_http_client(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    /// The base URL invokes go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Invokes `function` (a name or an ARN) with `payload` and waits for its answer.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &Value,
    ) -> Result<InvokeOutcome, LocalStackError> {
        let function = function_name(function);
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.base_url
        );
        let transport = |source| LocalStackError::Http {
            action: format!(
                "invoke of {function} at {url} (timeout {} s; a first invoke under cargo lambda watch compiles the function)",
                self.timeout.as_secs()
            ),
            source,
        };
        let answer = self
            .http
            .post(&url)
            .timeout(self.timeout)
            .json(payload)
            .send()
            .await
            .map_err(transport)?;
        let status = answer.status();
        let flagged_as_error = answer.headers().contains_key("x-amz-function-error");
        let body = answer.bytes().await.map_err(transport)?;
        let unexpected = || LocalStackError::UnexpectedAnswer {
            function: function.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned(),
        };
        match status.as_u16() {
            200 if flagged_as_error => function_error(&body).ok_or_else(unexpected),
            200 if body.is_empty() => Ok(InvokeOutcome::Succeeded(Value::Null)),
            200 => serde_json::from_slice(&body)
                .map(InvokeOutcome::Succeeded)
                .map_err(|_| unexpected()),
            500 => function_error(&body).ok_or_else(unexpected),
            404 => Err(LocalStackError::FunctionNotFound {
                function: function.to_owned(),
                detail: String::from_utf8_lossy(&body).into_owned(),
            }),
            _ => Err(unexpected()),
        }
    }

    /// One function behind this client, usable as a [`LambdaBackend`].
    pub fn function(&self, name: impl Into<String>) -> LambdaFunction {
        LambdaFunction {
            client: self.clone(),
            name: name.into(),
        }
    }
}

/// A Lambda runtime's error answer: `{"errorType": …, "errorMessage": …}`.
fn function_error(body: &[u8]) -> Option<InvokeOutcome> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error_type = value.get("errorType")?.as_str()?.to_owned();
    let error_message = value
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some(InvokeOutcome::Failed {
        error_type,
        error_message,
    })
}

/// One named function behind a [`LambdaInvokeClient`].
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    client: LambdaInvokeClient,
    name: String,
}

impl LambdaFunction {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Something that runs a function on an event and returns its answer: an invoke
/// through the Lambda API, or any `Fn(Value) -> Future<Output = Result<Value, E>>`.
pub trait LambdaBackend: Send + Sync + 'static {
    /// Runs the function on `event`; a function error or a failed call is an `Err`.
    fn invoke(&self, event: Value) -> impl Future<Output = Result<Value, LocalStackError>> + Send;
}

impl LambdaBackend for LambdaFunction {
    async fn invoke(&self, event: Value) -> Result<Value, LocalStackError> {
        match self.client.invoke(&self.name, &event).await? {
            InvokeOutcome::Succeeded(answer) => Ok(answer),
            InvokeOutcome::Failed {
                error_type,
                error_message,
            } => Err(LocalStackError::FunctionFailed {
                function: self.name.clone(),
                error_type,
                error_message,
            }),
        }
    }
}

impl<F, Fut, E> LambdaBackend for F
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, E>> + Send,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    async fn invoke(&self, event: Value) -> Result<Value, LocalStackError> {
        self(event)
            .await
            .map_err(|error| LocalStackError::Backend(error.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_error_answer_is_a_failed_outcome() {
        let outcome = function_error(br#"{"errorType":"Throttled","errorMessage":"slow down"}"#);
        assert_eq!(
            outcome,
            Some(InvokeOutcome::Failed {
                error_type: "Throttled".into(),
                error_message: "slow down".into()
            })
        );
        assert_eq!(function_error(b"Internal Server Error"), None);
    }
}
