//! `cargo lambda watch`: the workspace's Lambda binaries, served by bin name.
//!
//! The watch compiles a function on its first invoke (seconds with a built `target/`,
//! a minute or more from clean), then keeps it running; `--concurrency` instances per
//! function serve a Map's parallel items. Functions get the AWS endpoint and test
//! credentials from an `--env-file`, and no `AWS_*` variable of the caller leaks in.
//! By default file changes do not reload functions: other people edit this workspace
//! while tests run, and a reload restarts every function mid-test.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;

use crate::LocalStackError;
use crate::invoke::{InvokeOutcome, LambdaFunction, LambdaInvokeClient};
use crate::process::{ProcessGroup, free_port, log_dir, log_path};

/// The environment variable that holds the path of the `cargo-lambda` binary.
pub const CARGO_LAMBDA_ENV: &str = "SP_INGEST_CARGO_LAMBDA";

/// How long the watch gets to listen after it was started (it reads `cargo metadata` first).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(50);
/// Time between SIGTERM and SIGKILL: cargo-lambda stops its functions on SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// A new port is tried this many times when the watch exits early (its port was taken).
const START_ATTEMPTS: usize = 3;

/// How to start `cargo lambda watch`.
#[derive(Debug, Clone)]
pub struct LambdaWatchOptions {
    /// The `cargo-lambda` executable (`.venv/bin/cargo-lambda` after `make setup`).
    pub cargo_lambda: PathBuf,
    /// The Cargo workspace whose bin targets are served (the sp-ingest workspace by default).
    pub workspace_dir: PathBuf,
    /// Instances per function; at least the largest Map `MaxConcurrency`, or items run one by one.
    pub concurrency: u16,
    /// Environment of the functions, e.g. the local stack's `aws_env()` plus the caller's own.
    pub env: Vec<(String, String)>,
    /// Restart functions when a file of the workspace changes (`false` passes `--ignore-changes`).
    pub reload_on_change: bool,
    /// How long one invoke through [`LambdaWatch::invoke`] may take, including a first compile.
    pub invoke_timeout: Duration,
}

impl LambdaWatchOptions {
    /// Reads the `cargo-lambda` path from `SP_INGEST_CARGO_LAMBDA`; serves this workspace.
    pub fn from_env() -> Result<Self, LocalStackError> {
        let cargo_lambda =
            std::env::var_os(CARGO_LAMBDA_ENV).ok_or(LocalStackError::ToolNotConfigured {
                variable: CARGO_LAMBDA_ENV,
                installs: "installs cargo-lambda into .venv",
                example: ".venv/bin/cargo-lambda",
            })?;
        Ok(Self {
            cargo_lambda: cargo_lambda.into(),
            workspace_dir: workspace_root(),
            concurrency: 4,
            env: Vec::new(),
            reload_on_change: false,
            invoke_timeout: Duration::from_secs(600),
        })
    }
}

/// The sp-ingest workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Whether `name` is a variable cargo sets for the crate it builds or runs (a test binary
/// under `cargo test`, the CLI under `cargo run`). Build scripts such as ring's declare
/// `rerun-if-env-changed` on these names, so a nested cargo (the watch's `cargo run`)
/// that inherits them sees changed fingerprints and rebuilds ring and everything above it,
/// the AWS SDKs included: minutes on every start.
fn set_by_cargo_for_a_crate(name: &str) -> bool {
    const NAMES: [&str; 9] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    NAMES.contains(&name)
        || ["CARGO_PKG_", "CARGO_CFG_", "CARGO_BIN_EXE_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// A running `cargo lambda watch` on 127.0.0.1, stopped with its functions on shutdown or drop.
#[derive(Debug)]
pub struct LambdaWatch {
    process: ProcessGroup,
    port: u16,
    client: LambdaInvokeClient,
    _env_file: EnvFile,
}

impl LambdaWatch {
    /// Starts the watch on a free port and waits until it listens (functions compile on first invoke).
    pub async fn start(options: LambdaWatchOptions) -> Result<Self, LocalStackError> {
        let mut attempt = 1;
        loop {
            match Self::start_once(&options).await {
                Err(LocalStackError::ExitedEarly { .. }) if attempt < START_ATTEMPTS => {
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn start_once(options: &LambdaWatchOptions) -> Result<Self, LocalStackError> {
        let started = Instant::now();
        let port = free_port()?;
        let env_file = EnvFile::write(
            log_dir().join(format!("cargo-lambda-watch-{port}.env")),
            &options.env,
        )?;
        let mut command = Command::new(&options.cargo_lambda);
        command
            .args([
                "lambda",
                "watch",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .arg("--concurrency")
            .arg(options.concurrency.max(1).to_string())
            .arg("--env-file")
            .arg(&env_file.0)
            .current_dir(&options.workspace_dir)
            .env("NO_COLOR", "1");
        if !options.reload_on_change {
            command.arg("--ignore-changes");
        }
        // CARGO_TARGET_DIR is inherited. Without it, a workspace other than this one (a
        // test fixture) would build into a `target/` inside the checkout.
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            command.env("CARGO_TARGET_DIR", workspace_root().join("target"));
        }
        // The functions' AWS settings come from the env file only; cargo's per-crate
        // variables are not passed on (see `set_by_cargo_for_a_crate`).
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if text.starts_with("AWS_") || set_by_cargo_for_a_crate(&text) {
                command.env_remove(name);
            }
        }
        let process = ProcessGroup::spawn(
            "cargo lambda watch",
            &options.cargo_lambda,
            command,
            log_path("cargo-lambda-watch", port),
            STOP_GRACE,
        )?;
        let mut watch = Self {
            process,
            port,
            client: LambdaInvokeClient::new(
                format!("http://127.0.0.1:{port}"),
                options.invoke_timeout,
            ),
            _env_file: env_file,
        };
        if let Err(error) = watch.wait_until_listening().await {
            watch.process.keep_log();
            return Err(error);
        }
        tracing::info!(
            url = %watch.url(),
            log = %watch.process.log().display(),
            elapsed_ms = started.elapsed().as_millis(),
            "cargo lambda watch is up"
        );
        Ok(watch)
    }

    async fn wait_until_listening(&mut self) -> Result<(), LocalStackError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.process.exit_status() {
                return Err(LocalStackError::ExitedEarly {
                    process: "cargo lambda watch",
                    status,
                    port: self.port,
                    log: self.process.log().to_owned(),
                });
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LocalStackError::NotReady {
                    process: "cargo lambda watch",
                    port: self.port,
                    waited: READY_TIMEOUT,
                    log: self.process.log().to_owned(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The watch's invoke endpoint, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.client.base_url()
    }

    /// The port the watch listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of `cargo-lambda` itself (also its process group id).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The watch's and its functions' output (deleted after a clean shutdown, kept after a panic).
    pub fn log_path(&self) -> &Path {
        self.process.log()
    }

    /// A cloneable client that invokes functions of this watch.
    pub fn client(&self) -> LambdaInvokeClient {
        self.client.clone()
    }

    /// One function of this watch, usable as a [`crate::LambdaBackend`] (e.g. for the SQS poller).
    pub fn function(&self, name: impl Into<String>) -> LambdaFunction {
        self.client.function(name)
    }

    /// Invokes `function` by bin name (an ARN is reduced to its name) and waits for its answer.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &Value,
    ) -> Result<InvokeOutcome, LocalStackError> {
        self.client.invoke(function, payload).await
    }

    /// Stops the watch and its functions and waits until they are gone.
    pub async fn shutdown(self) {
        self.process.stop().await;
    }
}

/// The functions' env file, removed with the watch.
#[derive(Debug)]
struct EnvFile(PathBuf);

impl EnvFile {
    fn write(path: PathBuf, env: &[(String, String)]) -> Result<Self, LocalStackError> {
        let io_error = |source| LocalStackError::Io {
            action: format!("cannot write the functions' env file {}", path.display()),
            source,
        };
        let mut text = String::new();
        for (name, value) in env {
            if value.contains('\n') || value.contains('\'') {
                return Err(io_error(std::io::Error::other(format!(
                    "the value of {name} has a line break or a single quote, which --env-file cannot carry"
                ))));
            }
            // Single quotes: the value is taken literally (`,` and `=` in RUST_LOG
            // filters made the unquoted form a parse error).
            text.push_str(&format!("{name}='{value}'\n"));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_error)?;
        }
        std::fs::write(&path, text).map_err(io_error)?;
        Ok(Self(path))
    }
}

impl Drop for EnvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_crate_variables_are_not_passed_to_the_watch_but_its_settings_are() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_BIN_EXE_sp-ingest",
            "OUT_DIR",
        ] {
            assert!(set_by_cargo_for_a_crate(name), "{name}");
        }
        for name in [
            "CARGO_TARGET_DIR",
            "CARGO_HOME",
            "CARGO",
            "PATH",
            "RUST_LOG",
        ] {
            assert!(!set_by_cargo_for_a_crate(name), "{name}");
        }
    }
}
