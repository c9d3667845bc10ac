//! The stable error names: the contract between the Lambdas and the state machine.
//!
//! A Lambda fails with one of these names as its `errorType`; the ASL in `statemachines/`
//! retries or catches by the same names (design.md "Errors are the contract"). Renaming a
//! variant is a breaking change for every deployed state machine, so the names are spelled
//! out here once and a test checks the ASL against [`ErrorName::ALL`].

use std::fmt;
use std::str::FromStr;

/// A failure the state machine knows how to handle, by its stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorName {
    /// Amazon answered 429 after the client's bounded retries: retry later with backoff.
    Throttled,
    /// The shared rate limiter has no token for the call within the wait a Lambda may
    /// sleep: nothing was sent, and the state machine waits (instead of a sleeping Lambda)
    /// and tries again.
    RateLimited,
    /// The access token expired between Authenticate and its use: re-authenticate, retry.
    TokenExpired,
    /// The credentials were rejected (`invalid_grant`, `invalid_client`, 401/403): an
    /// operator must fix the secret or re-authorise the app. Never retried.
    Unauthorized,
    /// Amazon finished the report with processingStatus FATAL.
    ReportFatal,
    /// Amazon cancelled the report (usually: no data for the window).
    ReportCancelled,
    /// The presigned document URL expired before or during the download: fetch a new one.
    DocumentUrlExpired,
    /// The document stream ended early or its gzip was corrupt: download again.
    DocumentTruncated,
    /// Configuration in Parameter Store is missing or invalid: an operator must fix it.
    ConfigInvalid,
    /// Amazon or an AWS service answered 5xx or could not be reached: retry later.
    UpstreamUnavailable,
    /// Reports of the run failed; each is recorded FAILED with its error, the others
    /// finished. The next run's catch-up requests the failed windows again.
    ReportsFailed,
    /// The report stayed IN_QUEUE or IN_PROGRESS past its source's patience (it was
    /// cancelled if still queued), or Amazon would not take its createReport within that
    /// patience (a quota spent for long, a permanent 429): the next run's catch-up
    /// requests a new one.
    ReportStuck,
    /// Amazon no longer has the report or its document (reports are kept at most 90
    /// days, order reports 30): a new report is requested in its place.
    ReportGone,
    /// The function's time ran out mid-way (a large document, a slow network): it
    /// stopped cleanly before the hard timeout — upload aborted, nothing visible — and the
    /// state machine retries the step.
    DeadlineExceeded,
    /// The report does not fit its curated table (a required column missing, a value not
    /// of its column's type): the raw object is kept, the window is not landed, and the
    /// next run tries again once the table's schema (`curated.json`) is fixed.
    SchemaMismatch,
}

impl ErrorName {
    /// Every name, in declaration order.
    pub const ALL: [ErrorName; 15] = [
        ErrorName::Throttled,
        ErrorName::RateLimited,
        ErrorName::TokenExpired,
        ErrorName::Unauthorized,
        ErrorName::ReportFatal,
        ErrorName::ReportCancelled,
        ErrorName::DocumentUrlExpired,
        ErrorName::DocumentTruncated,
        ErrorName::ConfigInvalid,
        ErrorName::UpstreamUnavailable,
        ErrorName::ReportsFailed,
        ErrorName::ReportStuck,
        ErrorName::ReportGone,
        ErrorName::DeadlineExceeded,
        ErrorName::SchemaMismatch,
    ];

    /// The name as it appears in `errorType` and in ASL `ErrorEquals`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorName::Throttled => "Throttled",
            ErrorName::RateLimited => "RateLimited",
            ErrorName::TokenExpired => "TokenExpired",
            ErrorName::Unauthorized => "Unauthorized",
            ErrorName::ReportFatal => "ReportFatal",
            ErrorName::ReportCancelled => "ReportCancelled",
            ErrorName::DocumentUrlExpired => "DocumentUrlExpired",
            ErrorName::DocumentTruncated => "DocumentTruncated",
            ErrorName::ConfigInvalid => "ConfigInvalid",
            ErrorName::UpstreamUnavailable => "UpstreamUnavailable",
            ErrorName::ReportsFailed => "ReportsFailed",
            ErrorName::ReportStuck => "ReportStuck",
            ErrorName::ReportGone => "ReportGone",
            ErrorName::DeadlineExceeded => "DeadlineExceeded",
            ErrorName::SchemaMismatch => "SchemaMismatch",
        }
    }

    /// Whether doing the same thing again later can succeed without an operator.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorName::Throttled
                | ErrorName::RateLimited
                | ErrorName::TokenExpired
                | ErrorName::DocumentUrlExpired
                | ErrorName::DocumentTruncated
                | ErrorName::UpstreamUnavailable
                | ErrorName::DeadlineExceeded
        )
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the stable error names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an sp-ingest error name; expected one of {names}", names = ErrorName::ALL.map(ErrorName::as_str).join(", "))]
pub struct UnknownErrorName(pub String);

impl FromStr for ErrorName {
    type Err = UnknownErrorName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorName::ALL
            .into_iter()
            .find(|name| name.as_str() == s)
            .ok_or_else(|| UnknownErrorName(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_its_string() {
        for name in ErrorName::ALL {
            assert_eq!(name.as_str().parse::<ErrorName>(), Ok(name));
            assert_eq!(name.to_string(), name.as_str());
        }
    }

    #[test]
    fn unknown_name_is_rejected_with_the_allowed_list() {
        let err = "States.Timeout".parse::<ErrorName>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("States.Timeout"), "{message}");
        assert!(
            message.contains("Throttled, RateLimited, TokenExpired"),
            "{message}"
        );
    }

    #[test]
    fn operator_errors_are_not_retryable() {
        for name in [
            ErrorName::Unauthorized,
            ErrorName::ConfigInvalid,
            ErrorName::ReportFatal,
        ] {
            assert!(!name.is_retryable(), "{name}");
        }
        assert!(ErrorName::Throttled.is_retryable());
    }
}
