//! Child processes that take their whole process group with them, however the owner ends.
//!
//! Each child runs in its own process group (`process_group(0)`), so a signal to the
//! group also reaches what it started (cargo-lambda's function processes, moto's
//! workers), and a Ctrl-C meant for the owner does not half-kill the stack. The group
//! is stopped three ways:
//!
//! - `stop().await` and `Drop` (also while a test unwinds from a panic): SIGTERM to the
//!   group, a short grace period, then SIGKILL to the group;
//! - when the owning process dies without unwinding (Ctrl-C, SIGKILL, a test runner's
//!   timeout): a *sentinel* `sh`, in a process group of its own, blocks reading a pipe
//!   whose only writer is the owner. The kernel closes that pipe when the owner exits
//!   for any reason; the sentinel then sends the same SIGTERM/SIGKILL to the group.
//!
//! Signals are sent with the shell's `kill` builtin (`kill -s TERM -- -PGID`): the
//! workspace forbids `unsafe`, and `libc::kill`/`killpg` are unsafe.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::LocalStackError;

/// What the sentinel runs: `$1` is the process group to stop once stdin reaches EOF.
const SENTINEL_SCRIPT: &str = "trap '' INT HUP TERM; read -r _ignored; \
    kill -s TERM -- -\"$1\" 2>/dev/null; sleep 2; kill -s KILL -- -\"$1\" 2>/dev/null";

/// A child process leading its own process group, stopped with the group.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    name: &'static str,
    child: Child,
    pgid: u32,
    sentinel: Option<Child>,
    log: PathBuf,
    grace: Duration,
    keep_log: bool,
    stopped: bool,
}

impl ProcessGroup {
    /// Starts `command` in a new process group with stdout and stderr appended to `log`.
    ///
    /// `grace` is how long the group gets between SIGTERM and SIGKILL.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        mut command: Command,
        log: PathBuf,
        grace: Duration,
    ) -> Result<Self, LocalStackError> {
        let log_file = open_log(&log)?;
        let log_file_for_stderr = log_file.try_clone().map_err(|source| LocalStackError::Io {
            action: format!("cannot open log file {}", log.display()),
            source,
        })?;
        command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_file_for_stderr)
            .process_group(0)
            .kill_on_drop(true);
        let child = command.spawn().map_err(|source| LocalStackError::Spawn {
            program: program.to_owned(),
            source,
        })?;
        let Some(pgid) = child.id() else {
            // Cannot happen for a child nobody has waited on yet.
            return Err(LocalStackError::Io {
                action: format!("{name} has no process id"),
                source: std::io::Error::other("child already reaped"),
            });
        };
        let sentinel = Command::new("/bin/sh")
            .args([
                "-c",
                SENTINEL_SCRIPT,
                "local-stack-sentinel",
                &pgid.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        let mut group = Self {
            name,
            child,
            pgid,
            sentinel: None,
            log,
            grace,
            keep_log: false,
            stopped: false,
        };
        match sentinel {
            Ok(sentinel) => group.sentinel = Some(sentinel),
            Err(source) => {
                group.keep_log = true;
                return Err(LocalStackError::Spawn {
                    program: "/bin/sh".into(),
                    source,
                });
            }
        }
        Ok(group)
    }

    /// The id of the process itself, which is also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.pgid
    }

    /// Where the process's stdout and stderr go.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// How the process ended, if it has.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Keeps the log file when the group stops (it is deleted after a clean stop).
    pub(crate) fn keep_log(&mut self) {
        self.keep_log = true;
    }

    /// Stops the group: SIGTERM, up to the grace period, then SIGKILL.
    pub(crate) async fn stop(mut self) {
        self.disarm_sentinel().await;
        if self.exit_status().is_none() {
            signal_group_async(self.pgid, "TERM").await;
            let _ = tokio::time::timeout(self.grace, self.child.wait()).await;
        }
        // The leader may be gone while members of its group still run.
        signal_group_async(self.pgid, "KILL").await;
        let _ = self.child.wait().await;
        self.finish();
    }

    async fn disarm_sentinel(&mut self) {
        if let Some(mut sentinel) = self.sentinel.take() {
            let _ = sentinel.kill().await;
        }
    }

    fn disarm_sentinel_blocking(&mut self) {
        if let Some(mut sentinel) = self.sentinel.take() {
            // SIGKILL first so that closing its stdin does not make it act.
            let _ = sentinel.start_kill();
        }
    }

    fn finish(&mut self) {
        self.stopped = true;
        if !self.keep_log && !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.disarm_sentinel_blocking();
        if self.exit_status().is_none() {
            signal_group_blocking(self.pgid, "TERM");
            let deadline = Instant::now() + self.grace;
            while self.exit_status().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        signal_group_blocking(self.pgid, "KILL");
        tracing::debug!(process = self.name, pid = self.pgid, "stopped");
        self.finish();
    }
}

fn kill_arguments(pgid: u32, signal: &str) -> [String; 3] {
    [
        "-c".to_owned(),
        format!("kill -s {signal} -- -{pgid} 2>/dev/null"),
        "local-stack-kill".to_owned(),
    ]
}

async fn signal_group_async(pgid: u32, signal: &str) {
    let _ = Command::new("/bin/sh")
        .args(kill_arguments(pgid, signal))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

fn signal_group_blocking(pgid: u32, signal: &str) {
    let _ = std::process::Command::new("/bin/sh")
        .args(kill_arguments(pgid, signal))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The directory that holds the stack's log files: `$TMPDIR/sp-ingest-local-stack`.
pub(crate) fn log_dir() -> PathBuf {
    std::env::temp_dir().join("sp-ingest-local-stack")
}

/// The log file of one process, named after it and its port (unique while it runs).
pub(crate) fn log_path(process: &str, port: u16) -> PathBuf {
    log_dir().join(format!("{process}-{port}.log"))
}

fn open_log(path: &Path) -> Result<File, LocalStackError> {
    let io_error = |source| LocalStackError::Io {
        action: format!("cannot create log file {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    File::create(path).map_err(io_error)
}

/// A port on 127.0.0.1 that was free a moment ago, for a child process to bind.
///
/// Another process may take it before the child binds; callers that start a child on
/// it retry with a new port when the child exits early.
pub(crate) fn free_port() -> Result<u16, LocalStackError> {
    let io_error = |source| LocalStackError::Io {
        action: "cannot find a free port on 127.0.0.1".to_owned(),
        source,
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io_error)?;
    Ok(listener.local_addr().map_err(io_error)?.port())
}
