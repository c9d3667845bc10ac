//! The one error type of the local stack; every message says what to do next.

use std::path::PathBuf;
use std::time::Duration;

/// Why the local stack could not start, answer or stop.
#[derive(Debug, thiserror::Error)]
pub enum LocalStackError {
    /// A tool's path is expected in an environment variable that is not set.
    #[error("{variable} is not set: run `make setup` ({installs}), or export {variable}={example}")]
    ToolNotConfigured {
        /// The environment variable, e.g. `SP_INGEST_MOTO_SERVER`.
        variable: &'static str,
        /// What `make setup` does about it.
        installs: &'static str,
        /// A value that works in a checkout where `make setup` ran.
        example: &'static str,
    },

    /// A child process could not be started.
    #[error("cannot start {program}: {source}; run `make setup` or check the path")]
    Spawn {
        /// The program that was started.
        program: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A child process ended before it was ready.
    #[error("{process} exited ({status}) before it answered on 127.0.0.1:{port}; see {log}")]
    ExitedEarly {
        /// Which process.
        process: &'static str,
        /// How it ended.
        status: std::process::ExitStatus,
        /// The port it should have listened on.
        port: u16,
        /// Its stdout and stderr.
        log: PathBuf,
    },

    /// A child process did not become ready in time.
    #[error(
        "{process} did not answer on 127.0.0.1:{port} within {} s; see {log}",
        waited.as_secs()
    )]
    NotReady {
        /// Which process.
        process: &'static str,
        /// The port it should listen on.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// Its stdout and stderr.
        log: PathBuf,
    },

    /// moto answered, but refused the configuration that switches on state-machine execution.
    #[error("moto at {endpoint} refused POST /moto-api/config ({detail}); see {log}")]
    MotoConfig {
        /// moto's endpoint.
        endpoint: String,
        /// The HTTP status or transport error.
        detail: String,
        /// moto's stdout and stderr.
        log: PathBuf,
    },

    /// A local file or socket could not be set up.
    #[error("{action}: {source}")]
    Io {
        /// What was being done, e.g. "cannot bind 127.0.0.1:0".
        action: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// An HTTP call to a local server failed on the way (connection refused, reset, timeout).
    #[error("{action} failed: {source}")]
    Http {
        /// What was being called, e.g. "invoke echo at http://127.0.0.1:9000".
        action: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// The Lambda backend does not serve a function of this name.
    #[error(
        "the Lambda backend has no function {function:?} ({detail}); cargo lambda watch serves the workspace's bin targets by name"
    )]
    FunctionNotFound {
        /// The function that was invoked.
        function: String,
        /// What the backend answered.
        detail: String,
    },

    /// The function ran and failed, the way a Lambda with an unhandled error fails.
    #[error("function {function} failed with {error_type}: {error_message}")]
    FunctionFailed {
        /// The function that was invoked.
        function: String,
        /// The error name the state machine matches on.
        error_type: String,
        /// The error message.
        error_message: String,
    },

    /// The Lambda backend answered something that is not a Lambda answer.
    #[error("invoke of {function} got an unexpected answer: HTTP {status}: {body}")]
    UnexpectedAnswer {
        /// The function that was invoked.
        function: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },

    /// An SQS call of the event source stand-in failed.
    #[error("SQS {operation} on {queue_url} failed: {source}")]
    Sqs {
        /// The SQS operation.
        operation: &'static str,
        /// The queue.
        queue_url: String,
        /// The SDK error with its chain.
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },

    /// A test or caller-supplied Lambda backend failed.
    #[error("the Lambda backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}
