//! A Lambda failure by its stable name: what the state machine matches on.
//!
//! `lambda_runtime` names an error after its Rust type unless the error converts into a
//! [`Diagnostic`] itself (moto-sfn.md, "Default error name"), so every handler returns a
//! [`Failure`], whose `errorType` is one of [`ErrorName`] and whose message tells the
//! operator what happened and what to do.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use domain::ErrorName;
use lambda_runtime::Diagnostic;

/// A handler failure: a stable name, an operator-facing message and the cause.
#[derive(Debug)]
pub struct Failure {
    name: ErrorName,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Failure {
    /// A failure with a name and a message.
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        Failure {
            name,
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source`, whose chain is kept for the log and the message.
    pub fn caused_by(
        name: ErrorName,
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Failure {
            name,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Configuration (Parameter Store or the function's environment) is wrong.
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(ErrorName::ConfigInvalid, message)
    }

    /// The stable name.
    pub fn name(&self) -> ErrorName {
        self.name
    }

    /// For a failure that is the shared rate limiter's "no token soon", the seconds
    /// until there is one: the state machine waits that long.
    pub fn rate_limit_wait(&self) -> Option<u64> {
        let source = self.source.as_deref()?;
        match source.downcast_ref::<spapi::Error>()? {
            spapi::Error::RateLimited { wait_secs, .. } => Some(*wait_secs),
            _ => None,
        }
    }

    /// The message followed by its cause chain, e.g. `saving X: service error: …`.
    pub fn describe(&self) -> String {
        let mut text = self.message.clone();
        let mut next = self
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static));
        while let Some(cause) = next {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            next = cause.source();
        }
        text
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        tracing::error!(error = failure.name.as_str(), message = %failure.describe(), "handler failed");
        Diagnostic {
            error_type: failure.name.as_str().to_owned(),
            error_message: failure.describe(),
        }
    }
}

impl From<spapi::Error> for Failure {
    fn from(error: spapi::Error) -> Self {
        let name = error.name();
        let message = error.to_string();
        Failure::caused_by(name, message, error)
    }
}

impl From<spapi::ads::AdsError> for Failure {
    fn from(error: spapi::ads::AdsError) -> Self {
        let name = error.name();
        let message = error.to_string();
        Failure::caused_by(name, message, error)
    }
}

/// AWS error codes that mean "slow down", across the services the pipeline calls (S3
/// reports KMS's own as `KMS.…` when it calls KMS for SSE-KMS).
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList>
const THROTTLING_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "KMS.ThrottlingException",
    "KMS.LimitExceededException",
];

/// AWS error codes no retry can fix: a resource, the role or the KMS key is
/// misconfigured, and retrying AccessDenied for hours helps nobody.
const DEPLOYMENT_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "UnrecognizedClientException",
    "NoSuchBucket",
    "InvalidBucketName",
    "KMS.DisabledException",
    "KMS.NotFoundException",
    "KMS.KMSInvalidStateException",
    "KMS.InvalidKeyUsageException",
    "DisabledException",
    "KMSInvalidStateException",
    "InvalidKeyUsageException",
];

/// The one rule naming an AWS service error: throttling → `Throttled`; a misconfigured
/// bucket, table, role or key → `ConfigInvalid`; everything else (5xx, timeouts,
/// connection failures) → `UpstreamUnavailable`, which the state machine retries.
pub fn classify_aws(code: Option<&str>, status: Option<u16>) -> ErrorName {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => ErrorName::Throttled,
        Some(code) if DEPLOYMENT_CODES.contains(&code) => ErrorName::ConfigInvalid,
        _ if status == Some(429) => ErrorName::Throttled,
        _ => ErrorName::UpstreamUnavailable,
    }
}

/// A failure for a failed AWS SDK call, named by [`classify_aws`]; the message says
/// which call failed and what the operator can do.
pub fn aws_failure<E>(what: &str, error: SdkError<E>) -> Failure
where
    E: StdError + Send + Sync + 'static + ProvideErrorMetadata,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    let name = classify_aws(error.code(), status);
    let detail = DisplayErrorContext(&error).to_string();
    let advice = match name {
        ErrorName::ConfigInvalid => {
            "check that the resource exists and that the function's role may use it and its KMS key"
        }
        _ => "the state machine retries; check the service if it keeps failing",
    };
    Failure::caused_by(name, format!("{what} failed ({detail}); {advice}"), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Refused;

    #[test]
    fn diagnostic_carries_the_stable_name_and_the_cause() {
        let failure = Failure::caused_by(
            ErrorName::UpstreamUnavailable,
            "reading parameters",
            Refused,
        );
        let diagnostic = Diagnostic::from(failure);
        assert_eq!(diagnostic.error_type, "UpstreamUnavailable");
        assert_eq!(
            diagnostic.error_message,
            "reading parameters: connection refused"
        );
    }

    #[test]
    fn aws_codes_are_named_by_one_rule() {
        assert_eq!(
            classify_aws(Some("SlowDown"), Some(503)),
            ErrorName::Throttled
        );
        assert_eq!(
            classify_aws(Some("ProvisionedThroughputExceededException"), Some(400)),
            ErrorName::Throttled
        );
        assert_eq!(
            classify_aws(Some("KMS.ThrottlingException"), Some(400)),
            ErrorName::Throttled
        );
        assert_eq!(classify_aws(None, Some(429)), ErrorName::Throttled);
        assert_eq!(
            classify_aws(Some("AccessDeniedException"), Some(400)),
            ErrorName::ConfigInvalid
        );
        assert_eq!(
            classify_aws(Some("NoSuchBucket"), Some(404)),
            ErrorName::ConfigInvalid
        );
        assert_eq!(
            classify_aws(Some("InternalError"), Some(500)),
            ErrorName::UpstreamUnavailable
        );
        // A multipart upload a lifecycle rule aborted: start again.
        assert_eq!(
            classify_aws(Some("NoSuchUpload"), Some(404)),
            ErrorName::UpstreamUnavailable
        );
        assert_eq!(classify_aws(None, None), ErrorName::UpstreamUnavailable);
    }

    #[test]
    fn config_failure_is_config_invalid() {
        let failure = Failure::config("SP_INGEST_STAGE is not set");
        assert_eq!(failure.name(), ErrorName::ConfigInvalid);
        assert_eq!(
            failure.to_string(),
            "ConfigInvalid: SP_INGEST_STAGE is not set"
        );
    }
}
