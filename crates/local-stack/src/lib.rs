//! The local AWS stack the pipeline runs on, without Docker: moto for the AWS services
//! and Step Functions, a routing proxy that hands moto's Lambda invokes to
//! `cargo lambda watch`, and an SQS event source stand-in.
//!
//! ```text
//!  SDK clients, CLI ──► proxy (127.0.0.1:P) ──► moto (127.0.0.1:M, MOTO_PORT=P)
//!                          ▲      │ POST /2015-03-31/functions/NAME/invocations
//!   moto's Step Functions ─┘      └──► cargo lambda watch (127.0.0.1:W) ──► bin NAME
//! ```
//!
//! # How everything stops
//!
//! Every process and server binds 127.0.0.1 on a free port. Child processes (moto, the
//! watch) each lead their own process group, so stopping one also stops what it started
//! (the watch's function processes). They stop:
//!
//! - on `shutdown().await`: SIGTERM to the group, a grace period, SIGKILL;
//! - on drop, including while a panic unwinds (a failing test): the same, blocking;
//! - when the owning process dies without unwinding (Ctrl-C with the default SIGINT
//!   action, SIGKILL, a test timeout): a sentinel `sh` per child, in its own process
//!   group so Ctrl-C does not reach it, sees its stdin pipe close when the owner's file
//!   descriptors are closed by the kernel, and stops the group.
//!
//! A CLI that wants an orderly `down` on Ctrl-C awaits `tokio::signal::ctrl_c()` and
//! then [`LocalStack::shutdown`]; without that, the sentinels still clean up.
//! Log files live in `$TMPDIR/sp-ingest-local-stack/`; they are deleted after a clean
//! stop and kept when the stack failed to start or a panic is unwinding.

mod error;
pub mod invoke;
pub mod moto;
mod process;
pub mod proxy;
pub mod sqs_poller;
pub mod watch;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use error::LocalStackError;
pub use invoke::{InvokeOutcome, LambdaBackend, LambdaFunction, LambdaInvokeClient};
pub use moto::{Moto, MotoOptions, sdk_config_for};
pub use proxy::{ProxyListener, ProxyTargets, RoutingProxy};
pub use sqs_poller::{SqsPoller, SqsPollerOptions, SqsPollerStats};
pub use watch::{LambdaWatch, LambdaWatchOptions};

/// Where the stack's Lambda invokes go.
#[derive(Debug, Clone, Default)]
pub enum LambdaBackendOption {
    /// No backend: invokes fail with `ServiceException` (AWS services and Step Functions still run).
    #[default]
    None,
    /// A server that speaks the Lambda Invoke API, e.g. a test's fake or a watch started elsewhere.
    Url(String),
    /// Start `cargo lambda watch`; its functions get the stack's AWS endpoint and credentials.
    Watch(LambdaWatchOptions),
}

/// How to start the local stack.
#[derive(Debug, Clone)]
pub struct LocalStackOptions {
    /// The `moto_server` executable.
    pub moto_server: PathBuf,
    /// Where Lambda invokes go.
    pub lambdas: LambdaBackendOption,
}

impl LocalStackOptions {
    /// moto from `SP_INGEST_MOTO_SERVER`, no Lambda backend.
    pub fn from_env() -> Result<Self, LocalStackError> {
        Ok(Self {
            moto_server: MotoOptions::from_env()?.moto_server,
            lambdas: LambdaBackendOption::None,
        })
    }

    /// moto from `SP_INGEST_MOTO_SERVER` and `cargo lambda watch` from `SP_INGEST_CARGO_LAMBDA`.
    pub fn from_env_with_watch() -> Result<Self, LocalStackError> {
        Ok(Self {
            lambdas: LambdaBackendOption::Watch(LambdaWatchOptions::from_env()?),
            ..Self::from_env()?
        })
    }
}

/// Where a client finds the running stack; a CLI writes this as JSON for other processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEndpoints {
    /// The one AWS endpoint (the routing proxy), for `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: String,
    /// The region every client uses.
    pub region: String,
    /// The routing proxy's port (moto's `MOTO_PORT`).
    pub proxy_port: u16,
    /// The Lambda backend's invoke endpoint, if there is one.
    pub lambda_url: Option<String>,
}

/// The running stack: routing proxy, moto and (optionally) `cargo lambda watch`.
#[derive(Debug)]
pub struct LocalStack {
    // Dropped in this order: functions first, then moto, then the proxy.
    watch: Option<LambdaWatch>,
    moto: Moto,
    proxy: RoutingProxy,
    lambda_url: Option<String>,
}

impl LocalStack {
    /// Starts the proxy, then moto (`MOTO_PORT` = proxy port), then the watch if asked for.
    pub async fn up(options: LocalStackOptions) -> Result<Self, LocalStackError> {
        let started = Instant::now();
        let listener = ProxyListener::bind().await?;
        let proxy_url = format!("http://127.0.0.1:{}", listener.port());
        let moto = Moto::start(MotoOptions {
            moto_server: options.moto_server,
            lambda_port: Some(listener.port()),
        })
        .await?;
        let (watch, lambda_url) = match options.lambdas {
            LambdaBackendOption::None => (None, None),
            LambdaBackendOption::Url(url) => (None, Some(url)),
            LambdaBackendOption::Watch(mut watch_options) => {
                // The stack's values win over the caller's for the AWS settings.
                let mut env = moto::aws_env_for(&proxy_url);
                watch_options
                    .env
                    .retain(|(name, _)| !env.iter().any(|(aws_name, _)| aws_name == name));
                env.append(&mut watch_options.env);
                watch_options.env = env;
                let watch = LambdaWatch::start(watch_options).await?;
                let url = watch.url().to_owned();
                (Some(watch), Some(url))
            }
        };
        let proxy = listener.serve(ProxyTargets {
            aws_upstream: moto.endpoint_url().to_owned(),
            lambda_backend: lambda_url.clone(),
        });
        tracing::info!(
            aws_endpoint_url = %proxy.endpoint_url(),
            elapsed_ms = started.elapsed().as_millis(),
            "local stack is up"
        );
        Ok(Self {
            watch,
            moto,
            proxy,
            lambda_url,
        })
    }

    /// Where clients find the stack.
    pub fn endpoints(&self) -> LocalEndpoints {
        LocalEndpoints {
            aws_endpoint_url: self.proxy.endpoint_url().to_owned(),
            region: moto::REGION.to_owned(),
            proxy_port: self.proxy.port(),
            lambda_url: self.lambda_url.clone(),
        }
    }

    /// The environment a child process needs to use the stack's AWS services.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        self.proxy.aws_env()
    }

    /// An SDK configuration for the stack (endpoint = the proxy, `us-east-1`, test credentials).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.proxy.sdk_config().await
    }

    /// The moto server behind the proxy.
    pub fn moto(&self) -> &Moto {
        &self.moto
    }

    /// The watch, when the stack started one.
    pub fn watch(&self) -> Option<&LambdaWatch> {
        self.watch.as_ref()
    }

    /// A client that invokes functions through the proxy, as an SDK Lambda client would.
    pub fn lambda_client(&self, timeout: Duration) -> LambdaInvokeClient {
        LambdaInvokeClient::new(self.proxy.endpoint_url(), timeout)
    }

    /// Stops the watch and its functions, moto, then the proxy, and waits until they are gone.
    pub async fn shutdown(self) {
        if let Some(watch) = self.watch {
            watch.shutdown().await;
        }
        self.moto.shutdown().await;
        self.proxy.shutdown().await;
    }
}
