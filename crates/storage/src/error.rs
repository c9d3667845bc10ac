//! Why storing a document failed, and the stable name the state machine handles it by.
//!
//! Every variant keeps its cause as `source` (SDK errors stay typed, boxed whole), says
//! what happened in operator terms, and maps to one [`ErrorName`] (design.md "Errors are
//! the contract"). Whatever the variant, nothing is visible at the target key: the
//! multipart upload was aborted before the error was returned.

use std::error::Error as StdError;
use std::io;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use domain::ErrorName;

use crate::transcode::UnknownCharset;

/// Why a document could not be stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading the document failed mid-stream (cut-off body, corrupt gzip, reset
    /// connection). Nothing was stored.
    #[error(
        "reading the report document failed after {source_bytes} decompressed bytes; nothing was stored"
    )]
    Read {
        /// Decompressed bytes read before the failure.
        source_bytes: u64,
        /// The reader's error; for a [`spapi::DocumentStream`] it wraps a
        /// [`spapi::DocumentError`] with its stable name.
        #[source]
        source: io::Error,
    },

    /// The document's charset label is unknown. Retrying cannot help: an operator must
    /// teach the label to `transcode.rs` (or Amazon must fix it), hence `ConfigInvalid`,
    /// the one non-retryable name that means "an operator must act".
    #[error(transparent)]
    UnknownCharset(#[from] UnknownCharset),

    /// An S3 call failed.
    #[error("S3 {operation} of s3://{bucket}/{key} failed{said}: {advice}",
        said = s3_said(code.as_deref(), *status), advice = s3_advice(*name))]
    S3 {
        /// The S3 operation, e.g. `UploadPart`.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The object key the call was about.
        key: String,
        /// S3's error code, e.g. `SlowDown`, `AccessDenied`.
        code: Option<String>,
        /// The HTTP status, when S3 answered.
        status: Option<u16>,
        /// The stable name, classified from code and status when the call failed.
        name: ErrorName,
        /// The SDK's error, whole (`SdkError<…>` of the operation).
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },

    /// S3 answered a call with success but without a field it always sends.
    #[error(
        "S3 {operation} of s3://{bucket}/{key} answered without {missing}; is the endpoint S3? Nothing was stored"
    )]
    UnexpectedAnswer {
        /// The S3 operation.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// The field that was missing.
        missing: &'static str,
    },

    /// The store options cannot work with S3 (a programming or configuration error).
    #[error("invalid storage options: {reason}")]
    InvalidOptions {
        /// What is wrong and what the limit is.
        reason: String,
    },

    /// Starting the download failed (expired URL, unreachable host, …).
    #[error("downloading report document {document_id} failed")]
    Download {
        /// The report document id.
        document_id: String,
        /// The SP-API client's error, with its own stable name (boxed: it is large).
        #[source]
        source: Box<spapi::Error>,
    },

    /// Reading an Amazon Ads report or an AMC execution (for fresh URLs) or downloading
    /// its file failed.
    #[error("reading {report_id} for its file URL, or downloading the file, failed")]
    Ads {
        /// The report.
        report_id: String,
        /// What the Ads client said.
        #[source]
        source: Box<spapi::ads::AdsError>,
    },

    /// getReportDocument for a fresh URL failed.
    #[error("getReportDocument for a fresh URL of document {document_id} failed")]
    RefreshUrl {
        /// The report document id.
        document_id: String,
        /// The SP-API client's error, with its own stable name (boxed: it is large).
        #[source]
        source: Box<spapi::Error>,
    },

    /// The document failed on every attempt the retry budget allowed.
    #[error(
        "gave up on report document {document_id} after {attempts} download attempts, each \
         from a fresh URL; nothing was stored (the state machine may retry the Store step later)"
    )]
    GaveUp {
        /// The report document id.
        document_id: String,
        /// Downloads attempted.
        attempts: u32,
        /// The last attempt's error; its name is this error's name.
        #[source]
        source: Box<StoreError>,
    },

    /// The function's remaining time ran out while the document was read; the upload
    /// was aborted before the hard timeout could leave it half-done.
    #[error(
        "the function's time ran out after {source_bytes} decompressed bytes of the document; \
         the upload was aborted and nothing was stored; the state machine retries Store \
         (raise the function's timeout if it keeps happening)"
    )]
    DeadlineExceeded {
        /// Decompressed bytes read before stopping.
        source_bytes: u64,
    },

    /// A part-upload task ended without an answer (it panicked).
    #[error("uploading a part of s3://{bucket}/{key} ended without an answer")]
    PartTask {
        /// The bucket.
        bucket: String,
        /// The staging key being uploaded.
        key: String,
        /// The task's failure.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl StoreError {
    /// The stable name the state machine retries or catches by.
    pub fn name(&self) -> ErrorName {
        match self {
            StoreError::Read { source, .. } => read_error_name(source),
            StoreError::UnknownCharset(_) | StoreError::InvalidOptions { .. } => {
                ErrorName::ConfigInvalid
            }
            StoreError::S3 { name, .. } => *name,
            StoreError::Download { source, .. } | StoreError::RefreshUrl { source, .. } => {
                source.name()
            }
            StoreError::GaveUp { source, .. } => source.name(),
            StoreError::Ads { source, .. } => source.name(),
            StoreError::DeadlineExceeded { .. } => ErrorName::DeadlineExceeded,
            StoreError::PartTask { .. } | StoreError::UnexpectedAnswer { .. } => {
                ErrorName::UpstreamUnavailable
            }
        }
    }

    /// An `S3` error for a failed SDK call, classified while the HTTP answer is at hand.
    pub(crate) fn s3<E>(
        operation: &'static str,
        bucket: &str,
        key: &str,
        error: SdkError<E>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let code = error.code().map(str::to_owned);
        let status = error
            .raw_response()
            .map(|response| response.status().as_u16());
        let name = pipeline::failure::classify_aws(code.as_deref(), status);
        StoreError::S3 {
            operation,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            code,
            status,
            name,
            source: Box::new(error),
        }
    }
}

/// Names a read error: a document stream's own name, else by the kind of failure.
fn read_error_name(error: &io::Error) -> ErrorName {
    spapi::document_error_name(error).unwrap_or(match error.kind() {
        io::ErrorKind::UnexpectedEof => ErrorName::DocumentTruncated,
        _ => ErrorName::UpstreamUnavailable,
    })
}

fn s3_said(code: Option<&str>, status: Option<u16>) -> String {
    match (code, status) {
        (Some(code), Some(status)) => format!(" with HTTP {status} {code}"),
        (Some(code), None) => format!(" with {code}"),
        (None, Some(status)) => format!(" with HTTP {status}"),
        (None, None) => " without an answer".to_owned(),
    }
}

fn s3_advice(name: ErrorName) -> &'static str {
    match name {
        ErrorName::Throttled => {
            "S3 or KMS is throttling; nothing was stored, retry later with backoff"
        }
        ErrorName::ConfigInvalid => {
            "nothing was stored; check that the bucket exists and that the Lambda's role may \
             write to it and use its KMS key (kms:GenerateDataKey, kms:Decrypt)"
        }
        _ => "S3 is unavailable or the request failed in transit; nothing was stored, retry later",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_keep_the_document_stream_name() {
        let cut = StoreError::Read {
            source_bytes: 10,
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        };
        assert_eq!(cut.name(), ErrorName::DocumentTruncated);
        let reset = StoreError::Read {
            source_bytes: 10,
            source: io::Error::from(io::ErrorKind::ConnectionReset),
        };
        assert_eq!(reset.name(), ErrorName::UpstreamUnavailable);
        assert!(reset.to_string().contains("nothing was stored"), "{reset}");
    }

    #[test]
    fn unknown_charset_needs_an_operator() {
        let error = StoreError::from(UnknownCharset {
            label: "x-klingon".into(),
        });
        assert_eq!(error.name(), ErrorName::ConfigInvalid);
        assert!(!error.name().is_retryable());
        assert!(error.to_string().contains("`x-klingon`"), "{error}");
    }

    #[test]
    fn gave_up_keeps_the_last_attempts_name_and_chain() {
        let last = StoreError::Read {
            source_bytes: 1,
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        };
        let error = StoreError::GaveUp {
            document_id: "amzn1.tortuga.4.na.X".into(),
            attempts: 2,
            source: Box::new(last),
        };
        assert_eq!(error.name(), ErrorName::DocumentTruncated);
        let chain = std::iter::successors(error.source(), |e| (*e).source()).count();
        assert_eq!(chain, 2, "GaveUp → Read → io::Error");
    }
}
