//! Fault injection for the crash tests: kill the Store process at a chosen point.
//!
//! A Lambda can die anywhere (out of memory, its hard timeout, a host failure), and the
//! pipeline promises that a Store killed mid-upload, after CompleteMultipartUpload or
//! after the copy into place leaves no partial or second object and is cleaned up by the
//! next attempt. The end-to-end tests prove it by making the real Store die at each of
//! those points. The hook is armed only on the `local` stage and only when
//! [`pipeline::settings::CRASH_FILE`] names a file; a test writes the point's name into
//! that file, and the invocation that reaches the point deletes the file (so the next
//! attempt runs through) and dies there by panicking: nothing of Store's own clean-up
//! runs (it is async, and the unwinding drops the upload and its in-flight parts), so S3
//! is left exactly as a killed process leaves it. A real `abort()` is not used because
//! `cargo lambda watch` never answers an invocation whose process died — it waits out
//! its invoke timeout — where Lambda answers `Runtime.ExitError` at once.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Where a Store may be killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// A part is uploaded to the staging key; the upload is still open.
    MidUpload,
    /// The staging object is complete; it is not yet copied into place.
    AfterComplete,
    /// The object is in place; the staging object is not yet deleted, nothing recorded.
    AfterCopy,
    /// Store of a page after the first (Data Kiosk) is about to download it: the
    /// window's earlier pages are stored, its later ones are not.
    BeforeLaterPage,
}

impl CrashPoint {
    /// The name a test writes into the crash file.
    pub const fn as_str(self) -> &'static str {
        match self {
            CrashPoint::MidUpload => "mid-upload",
            CrashPoint::AfterComplete => "after-complete",
            CrashPoint::AfterCopy => "after-copy",
            CrashPoint::BeforeLaterPage => "before-later-page",
        }
    }
}

static ARMED: OnceLock<PathBuf> = OnceLock::new();

/// Arms the hook from the environment when `stage` is `local`; otherwise it stays inert.
pub fn arm_from_env(stage: &str) {
    if stage != "local" {
        return;
    }
    if let Some(path) = std::env::var_os(pipeline::settings::CRASH_FILE) {
        let _ = ARMED.set(PathBuf::from(path));
    }
}

/// Kills the process here if a test asked for this point.
pub(crate) fn point(at: CrashPoint) {
    let Some(path) = ARMED.get() else {
        return;
    };
    let asked = std::fs::read_to_string(path).unwrap_or_default();
    if asked.trim() == at.as_str() && std::fs::remove_file(path).is_ok() {
        tracing::warn!(point = at.as_str(), "crash test: Store dies here");
        panic!("crash test: Store died {}", at.as_str());
    }
}
