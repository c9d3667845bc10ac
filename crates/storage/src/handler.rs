//! The Store step: the Lambda handler around [`crate::fetch_and_store`].
//!
//! Input is the request, its sealed token, the report id and the document id; Store asks
//! Amazon for the document's presigned URL itself, so that read credential never enters
//! the execution's state or history. Output is what Record keeps. The object key is the
//! deterministic [`domain::RawObjectKey`], so a retried Store overwrites the same object.

use std::collections::BTreeMap;
use std::time::Duration;

use contract::{StorageInput, StoreInput, StoredObject};
use domain::{Catalog, ErrorName, RawObjectKey};
use lambda_runtime::LambdaEvent;
use pipeline::{Failure, SpApiAccess};
use spapi::ReportDocumentOptions;

use crate::{StoreError, StoreOptions, UploadTarget, fetch_and_store};

/// The function and the clients it keeps between invocations.
pub struct Storage {
    spapi: SpApiAccess,
    s3: aws_sdk_s3::Client,
    bucket: String,
    kms_key_id: String,
    options: StoreOptions,
}

impl Storage {
    /// The function with its clients, writing to `bucket` encrypted with `kms_key_id`.
    pub fn new(
        spapi: SpApiAccess,
        s3: aws_sdk_s3::Client,
        bucket: String,
        kms_key_id: String,
    ) -> Self {
        Storage {
            spapi,
            s3,
            bucket,
            kms_key_id,
            options: StoreOptions::default(),
        }
    }

    /// Streams the document into the raw bucket.
    pub async fn handle(&self, event: LambdaEvent<StorageInput>) -> Result<StoredObject, Failure> {
        let StorageInput::Store(input) = event.payload;
        let input: StoreInput = *input;
        let request = &input.item.request;
        let format = Catalog::builtin()
            .report_type(&request.source, &request.report_type)
            .ok_or_else(|| {
                Failure::config(format!(
                    "{} is not a report type of source {}; push a config the catalog accepts",
                    request.report_type, request.source
                ))
            })?
            .format;
        let key = RawObjectKey::new(request, format).map_err(|e| {
            Failure::caused_by(
                ErrorName::ConfigInvalid,
                "the report cannot be given an S3 key",
                e,
            )
        })?;
        let marketplace = request
            .sorted_marketplaces()
            .first()
            .map(|m| (*m).to_owned())
            .unwrap_or_default();
        let target = UploadTarget {
            bucket: self.bucket.clone(),
            key: key.to_string(),
            kms_key_id: Some(self.kms_key_id.clone()),
            format,
            metadata: BTreeMap::from([
                ("report-id".to_owned(), input.report_id.clone()),
                ("request-key".to_owned(), input.item.key.to_string()),
                ("report-type".to_owned(), request.report_type.clone()),
                ("account".to_owned(), request.account.clone()),
            ]),
        };
        let mut options = self.options.clone();
        options.deadline = stop_before(event.context.deadline);
        let client = self.spapi.client_for(&input.item, &input.token).await?;
        let document = client
            .get_report_document(&input.report_document_id, ReportDocumentOptions::default())
            .await?;
        let stored = fetch_and_store(
            &client,
            &document,
            &marketplace,
            &self.s3,
            &target,
            &options,
        )
        .await
        .map_err(failure)?;
        tracing::info!(key = %stored.key, bytes = stored.bytes, rows = stored.rows, parts = stored.parts, charset = %stored.source_charset, "document stored");
        Ok(StoredObject {
            object_key: stored.key,
            sha256: stored.sha256,
            bytes: stored.bytes,
            rows: stored.rows,
            source_charset: stored.source_charset,
            malformed_sequences: stored.malformed_sequences,
        })
    }
}

/// When Store stops reading: before the invocation's deadline (epoch milliseconds) by a
/// tenth of the time it was given, at most a minute — room to abort the upload, or to
/// finish one that was read in time (completing and copying a 3 GB object takes tens of
/// seconds). `None` for a deadline already past when the invocation starts: Lambda never
/// sends one, but `cargo lambda watch` sends the constant 600000 (1970), so locally Store
/// runs without a deadline
/// (<https://github.com/cargo-lambda/cargo-lambda/blob/main/crates/cargo-lambda-watch/src/runtime/functions_router.rs>).
pub fn stop_before(deadline_ms: u64) -> Option<tokio::time::Instant> {
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    if deadline_ms <= now_ms {
        return None;
    }
    let remaining = Duration::from_millis(deadline_ms - now_ms);
    let margin = (remaining / 10).min(Duration::from_secs(60));
    Some(tokio::time::Instant::now() + remaining.saturating_sub(margin))
}

fn failure(error: StoreError) -> Failure {
    let name = error.name();
    let message = error.to_string();
    Failure::caused_by(name, message, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_ms(from_now: Duration) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        u64::try_from((now + from_now).as_millis()).unwrap()
    }

    #[test]
    fn store_stops_a_tenth_of_its_time_early_and_at_most_a_minute() {
        let within = |deadline: Option<tokio::time::Instant>, expected: Duration| {
            let left = deadline.expect("a deadline") - tokio::time::Instant::now();
            assert!(
                left <= expected && left + Duration::from_millis(500) >= expected,
                "{left:?} left, expected {expected:?}"
            );
        };
        within(
            stop_before(in_ms(Duration::from_secs(30))),
            Duration::from_secs(27),
        );
        within(
            stop_before(in_ms(Duration::from_secs(900))),
            Duration::from_secs(840),
        );
        // cargo lambda watch's constant, and any deadline already past: no deadline.
        assert_eq!(stop_before(600_000), None);
    }
}
