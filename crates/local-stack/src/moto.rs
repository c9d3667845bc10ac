//! moto in server mode: the AWS services of the local stack, with real state-machine execution.
//!
//! moto's Step Functions interpreter calls Lambda at `http://localhost:$MOTO_PORT`, so
//! `lambda_port` points it at the routing proxy (`proxy.rs`), which hands invokes to the
//! Lambda backend. See `docs/moto-sfn.md` for what the interpreter supports.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::LocalStackError;
use crate::process::{ProcessGroup, free_port, log_path};

/// The environment variable that holds the path of `moto_server`.
pub const MOTO_SERVER_ENV: &str = "SP_INGEST_MOTO_SERVER";
/// The region every local client uses.
pub const REGION: &str = "us-east-1";
/// The access key id and secret access key every local client uses (moto checks neither).
pub const TEST_CREDENTIAL: &str = "testing";

/// How long moto gets to answer after it was started (it imports every service first).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(50);
/// One readiness request may take this long (moto answers in milliseconds once up).
const READY_POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// A new port is tried this many times when moto exits early (its port was taken).
const START_ATTEMPTS: usize = 3;
/// The configuration that makes moto run state machines and never look for Docker.
const MOTO_CONFIG: &str =
    r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#;

/// How to start moto.
#[derive(Debug, Clone)]
pub struct MotoOptions {
    /// The `moto_server` executable (`.venv/bin/moto_server` after `make setup`).
    pub moto_server: PathBuf,
    /// Sets `MOTO_PORT`, so moto's Step Functions interpreter invokes Lambdas at `http://localhost:<lambda_port>`.
    pub lambda_port: Option<u16>,
}

impl MotoOptions {
    /// Reads the `moto_server` path from `SP_INGEST_MOTO_SERVER`; no Lambda port.
    pub fn from_env() -> Result<Self, LocalStackError> {
        let moto_server =
            std::env::var_os(MOTO_SERVER_ENV).ok_or(LocalStackError::ToolNotConfigured {
                variable: MOTO_SERVER_ENV,
                installs: "installs moto into .venv",
                example: ".venv/bin/moto_server",
            })?;
        Ok(Self {
            moto_server: moto_server.into(),
            lambda_port: None,
        })
    }
}

/// A running `moto_server` on 127.0.0.1, stopped on [`Moto::shutdown`] or drop.
#[derive(Debug)]
pub struct Moto {
    process: ProcessGroup,
    port: u16,
    endpoint_url: String,
}

impl Moto {
    /// Starts moto on a free port, waits until it answers and switches on state-machine execution.
    pub async fn start(options: MotoOptions) -> Result<Moto, LocalStackError> {
        let http = local_http_client();
        let mut attempt = 1;
        loop {
            match Self::start_once(&options, &http).await {
                Err(LocalStackError::ExitedEarly { .. }) if attempt < START_ATTEMPTS => {
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn start_once(
        options: &MotoOptions,
        http: &reqwest::Client,
    ) -> Result<Moto, LocalStackError> {
        let started = Instant::now();
        let port = free_port()?;
        let mut command = Command::new(&options.moto_server);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1");
        if let Some(lambda_port) = options.lambda_port {
            command.env("MOTO_PORT", lambda_port.to_string());
        }
        let process = ProcessGroup::spawn(
            "moto_server",
            &options.moto_server,
            command,
            log_path("moto", port),
            Duration::from_secs(2),
        )?;
        let mut moto = Moto {
            process,
            port,
            endpoint_url: format!("http://127.0.0.1:{port}"),
        };
        if let Err(error) = moto.configure(http).await {
            moto.process.keep_log();
            return Err(error);
        }
        tracing::info!(
            endpoint = %moto.endpoint_url,
            log = %moto.process.log().display(),
            elapsed_ms = started.elapsed().as_millis(),
            "moto is up"
        );
        Ok(moto)
    }

    /// Polls until moto answers, then posts the configuration.
    async fn configure(&mut self, http: &reqwest::Client) -> Result<(), LocalStackError> {
        let config_url = format!("{}/moto-api/config", self.endpoint_url);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.process.exit_status() {
                return Err(LocalStackError::ExitedEarly {
                    process: "moto_server",
                    status,
                    port: self.port,
                    log: self.process.log().to_owned(),
                });
            }
            let answer = http
                .get(&config_url)
                .timeout(READY_POLL_TIMEOUT)
                .send()
                .await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(LocalStackError::NotReady {
                    process: "moto_server",
                    port: self.port,
                    waited: READY_TIMEOUT,
                    log: self.process.log().to_owned(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
        let refused = |detail: String| LocalStackError::MotoConfig {
            endpoint: self.endpoint_url.clone(),
            detail,
            log: self.process.log().to_owned(),
        };
        let answer = http
            .post(&config_url)
            .header("content-type", "application/json")
            .body(MOTO_CONFIG)
            .send()
            .await
            .map_err(|error| refused(error.to_string()))?;
        if !answer.status().is_success() {
            return Err(refused(format!("HTTP {}", answer.status())));
        }
        Ok(())
    }

    /// moto's endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of `moto_server` (also its process group id).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// moto's stdout and stderr (deleted after a clean shutdown, kept after a panic).
    pub fn log_path(&self) -> &std::path::Path {
        self.process.log()
    }

    /// The environment a child process needs to reach moto with any AWS SDK.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        aws_env_for(&self.endpoint_url)
    }

    /// An SDK configuration for moto: its endpoint, `us-east-1`, static test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint_url).await
    }

    /// Stops moto and waits until its process group is gone.
    pub async fn shutdown(self) {
        self.process.stop().await;
    }
}

/// The environment a child process needs to reach `endpoint_url` with any AWS SDK.
pub(crate) fn aws_env_for(endpoint_url: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint_url),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", TEST_CREDENTIAL),
        ("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIAL),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// An SDK configuration for a local endpoint that ignores the host's AWS environment and profiles.
pub async fn sdk_config_for(endpoint_url: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_sqs::config::Credentials::new(
        TEST_CREDENTIAL,
        TEST_CREDENTIAL,
        None,
        None,
        "local-stack",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        // Deterministic: a developer's AWS_PROFILE or AWS_MAX_ATTEMPTS must not leak in.
        .empty_test_environment()
        .endpoint_url(endpoint_url)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(credentials)
        .load()
        .await
}

/// An HTTP client for the local servers: no proxy from the environment, no redirects.
pub(crate) fn local_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("a reqwest client without TLS settings always builds")
}
