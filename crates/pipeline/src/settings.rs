//! The function's environment: which stage, table, bucket and key it works with.
//!
//! Deployed, CloudFormation sets these; locally the stack does. A missing variable is a
//! `ConfigInvalid` naming it, not a panic at first use.

use crate::failure::Failure;

/// Stage whose parameters to read (`/sp-ingest/<stage>/…`).
pub const STAGE: &str = "SP_INGEST_STAGE";
/// DynamoDB table holding one item per report request.
pub const METADATA_TABLE: &str = "SP_INGEST_METADATA_TABLE";
/// Bucket for raw documents.
pub const RAW_BUCKET: &str = "SP_INGEST_RAW_BUCKET";
/// KMS key (id, ARN or alias) for tokens and objects.
pub const KMS_KEY_ID: &str = "SP_INGEST_KMS_KEY_ID";
/// Bucket for the curated tables' Parquet files.
pub const CURATED_BUCKET: &str = "SP_INGEST_CURATED_BUCKET";
/// Glue database of the curated tables.
pub const GLUE_DATABASE: &str = "SP_INGEST_GLUE_DATABASE";
/// SNS topic told about every curated partition written ("new data").
pub const NEW_DATA_TOPIC: &str = "SP_INGEST_NEW_DATA_TOPIC";

/// First wait of the polling fallback, seconds (doubles per poll).
pub const POLL_BASE_SECONDS: &str = "SP_INGEST_POLL_BASE_SECONDS";
/// Longest wait of the polling fallback, seconds.
pub const POLL_MAX_SECONDS: &str = "SP_INGEST_POLL_MAX_SECONDS";
/// Longest wait for a shared rate-limit token a Lambda sleeps through, seconds; a longer
/// one is left to the state machine (a Wait state costs nothing).
pub const LIMITER_LONGEST_WAIT_SECONDS: &str = "SP_INGEST_LIMITER_LONGEST_WAIT_SECONDS";
/// The SP-API application whose notifications this stack acts on; others are recorded
/// and ignored. Unset: every application's (the local stack's simulator makes its id up).
pub const APPLICATION_ID: &str = "SP_INGEST_APPLICATION_ID";
/// Local stage only: a file naming where the Store process kills itself (crash tests,
/// `storage::crash`).
pub const CRASH_FILE: &str = "SP_INGEST_CRASH_FILE";

/// Reads an optional whole number of seconds, `default` when unset.
pub fn seconds(name: &str, default: u64) -> Result<u64, Failure> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => text.trim().parse().map_err(|_| {
            Failure::config(format!(
                "environment variable {name} is `{text}`; it must be a whole number of seconds"
            ))
        }),
    }
}

/// Reads an optional environment variable; unset and blank are `None`.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Reads a required environment variable.
pub fn required(name: &str) -> Result<String, Failure> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(Failure::config(format!(
            "environment variable {name} is not set; the stack sets it for every function (locally: `sp-ingest local up`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_names_itself() {
        let failure = required("SP_INGEST_SURELY_NOT_SET").unwrap_err();
        assert_eq!(failure.name(), domain::ErrorName::ConfigInvalid);
        assert!(
            failure
                .to_string()
                .contains("SP_INGEST_SURELY_NOT_SET is not set")
        );
    }
}
