//! Report processing status and its legal transitions.
//!
//! Amazon's report lifecycle is IN_QUEUE → IN_PROGRESS → DONE | CANCELLED | FATAL
//! (`reports_2021-06-30.json`, `ProcessingStatus`). Notifications arrive late, twice or out
//! of order, so the metadata table only ever moves forward: a terminal status never
//! changes again, and re-recording the same status is a no-op rather than a second event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where Amazon is with a report (or a Data Kiosk query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingStatus {
    /// Not started; may wait behind another report of the same account.
    InQueue,
    /// Running.
    InProgress,
    /// Finished; a document is ready.
    Done,
    /// Cancelled explicitly or because there was no data: not an error.
    Cancelled,
    /// Aborted; an error document may explain why.
    Fatal,
}

impl ProcessingStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ProcessingStatus; 5] = [
        ProcessingStatus::InQueue,
        ProcessingStatus::InProgress,
        ProcessingStatus::Done,
        ProcessingStatus::Cancelled,
        ProcessingStatus::Fatal,
    ];

    /// Amazon's spelling, e.g. `IN_QUEUE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProcessingStatus::InQueue => "IN_QUEUE",
            ProcessingStatus::InProgress => "IN_PROGRESS",
            ProcessingStatus::Done => "DONE",
            ProcessingStatus::Cancelled => "CANCELLED",
            ProcessingStatus::Fatal => "FATAL",
        }
    }

    /// Whether Amazon is finished with the report.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            ProcessingStatus::Done | ProcessingStatus::Cancelled | ProcessingStatus::Fatal
        )
    }

    const fn rank(self) -> u8 {
        match self {
            ProcessingStatus::InQueue => 0,
            ProcessingStatus::InProgress => 1,
            ProcessingStatus::Done | ProcessingStatus::Cancelled | ProcessingStatus::Fatal => 2,
        }
    }

    /// Checks moving from `self` to `next`.
    ///
    /// Forward moves are [`Transition::Advanced`]; the same status again (a duplicate
    /// notification, a repeated poll) is [`Transition::Unchanged`]; going back, or
    /// leaving a terminal status, is an [`IllegalTransition`].
    pub fn transition(self, next: ProcessingStatus) -> Result<Transition, IllegalTransition> {
        if self == next {
            Ok(Transition::Unchanged)
        } else if !self.is_terminal() && next.rank() > self.rank() {
            Ok(Transition::Advanced)
        } else {
            Err(IllegalTransition {
                from: self,
                to: next,
            })
        }
    }
}

/// The outcome of a legal status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The status moved forward: record it and act on it.
    Advanced,
    /// The same status again: drop it, it was already acted on.
    Unchanged,
}

/// A status change the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("report status cannot go from {from} to {to}: {reason}", reason = if from.is_terminal() { "a terminal status never changes" } else { "statuses only move forward" })]
pub struct IllegalTransition {
    /// The recorded status.
    pub from: ProcessingStatus,
    /// The status that was offered.
    pub to: ProcessingStatus,
}

impl fmt::Display for ProcessingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProcessingStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProcessingStatus::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            format!("`{s}` is not a processing status; expected IN_QUEUE, IN_PROGRESS, DONE, CANCELLED or FATAL")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ProcessingStatus::*;
    use super::*;

    #[test]
    fn lifecycle_moves_forward() {
        assert_eq!(InQueue.transition(InProgress), Ok(Transition::Advanced));
        assert_eq!(InProgress.transition(Done), Ok(Transition::Advanced));
        // A notification can overtake the poll that would have seen IN_PROGRESS.
        assert_eq!(InQueue.transition(Done), Ok(Transition::Advanced));
        assert_eq!(InQueue.transition(Cancelled), Ok(Transition::Advanced));
        assert_eq!(InProgress.transition(Fatal), Ok(Transition::Advanced));
    }

    #[test]
    fn repeating_a_status_is_unchanged_not_an_error() {
        for status in ProcessingStatus::ALL {
            assert_eq!(status.transition(status), Ok(Transition::Unchanged));
        }
    }

    #[test]
    fn terminal_states_never_go_back() {
        for from in [Done, Cancelled, Fatal] {
            for to in ProcessingStatus::ALL.into_iter().filter(|to| *to != from) {
                let err = from.transition(to).unwrap_err();
                assert!(
                    err.to_string().contains("terminal status never changes"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn in_progress_never_returns_to_queue() {
        let err = InProgress.transition(InQueue).unwrap_err();
        assert_eq!(
            err.to_string(),
            "report status cannot go from IN_PROGRESS to IN_QUEUE: statuses only move forward"
        );
    }

    #[test]
    fn amazon_spelling_round_trips() {
        for status in ProcessingStatus::ALL {
            assert_eq!(status.as_str().parse::<ProcessingStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!("DONE ".parse::<ProcessingStatus>().is_err());
    }
}
