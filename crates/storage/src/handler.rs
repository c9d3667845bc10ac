//! The Store step: the Lambda handler around [`crate::fetch_and_store`].
//!
//! Input is the request, its sealed token, the report id and the document id; Store asks
//! Amazon for the document's presigned URL itself, so that read credential never enters
//! the execution's state or history. Output is what Record keeps. The object key is the
//! deterministic [`domain::RawObjectKey`], so a retried Store overwrites the same object.

use std::collections::BTreeMap;
use std::time::Duration;

use contract::{StorageInput, StoreInput, StoreOutput, StoredObject};
use domain::{Catalog, DocumentFormat, ErrorName, RawObjectKey};
use lambda_runtime::LambdaEvent;
use pipeline::{Failure, SpApiAccess};
use spapi::data_kiosk::DocumentSource;

use crate::{StoreError, StoreOptions, UploadTarget, fetch_and_store_ads, fetch_and_store_from};

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

    /// Streams the document into the raw bucket; for results in pages (Data Kiosk), one
    /// page, with the request for the next.
    pub async fn handle(&self, event: LambdaEvent<StorageInput>) -> Result<StoreOutput, Failure> {
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
        let source = if request.is_data_kiosk() {
            DocumentSource::DataKiosk
        } else {
            DocumentSource::Report
        };
        let key = match source {
            DocumentSource::DataKiosk => {
                RawObjectKey::page(request, format, input.item.page_number())
            }
            DocumentSource::Report => RawObjectKey::new(request, format),
        }
        .map_err(|e| {
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
        if request.amc.is_some() {
            return self.store_amc(&input, &target, &options).await;
        }
        // A page a rerun finds stored from the same query is not downloaded again: the
        // window resumes from its first missing page.
        let earlier = match source {
            DocumentSource::DataKiosk => {
                stored_by(&self.s3, &target.bucket, &target.key, &input.report_id).await?
            }
            DocumentSource::Report => None,
        };
        let object = match earlier {
            Some(object) => {
                tracing::info!(key = %object.object_key, page = input.item.page_number(), "page stored by an earlier run; not downloaded again");
                object
            }
            None => {
                if input.item.page_number() > 0 {
                    crate::crash::point(crate::crash::CrashPoint::BeforeLaterPage);
                }
                let stored = if let Some(profile) = request.ads_profile() {
                    // The report stands for its file: Store reads it for a fresh URL.
                    let client = self.spapi.ads_client_for(&input.item, &input.token).await?;
                    fetch_and_store_ads(
                        &client,
                        profile,
                        &input.report_id,
                        &self.s3,
                        &target,
                        &options,
                    )
                    .await
                } else {
                    let client = self.spapi.client_for(&input.item, &input.token).await?;
                    let document = client
                        .fresh_document(source, &input.report_document_id)
                        .await?;
                    fetch_and_store_from(
                        &client,
                        source,
                        &document,
                        &marketplace,
                        &self.s3,
                        &target,
                        &options,
                    )
                    .await
                }
                .map_err(failure)?;
                tracing::info!(key = %stored.key, bytes = stored.bytes, rows = stored.rows, parts = stored.parts, charset = %stored.source_charset, page = input.item.page_number(), "document stored");
                StoredObject::from(stored)
            }
        };
        Ok(match source {
            DocumentSource::Report => StoreOutput {
                object,
                pages: Vec::new(),
                next: None,
            },
            DocumentSource::DataKiosk => {
                let mut pages = input.pages;
                pages.push(object.clone());
                StoreOutput {
                    object,
                    pages,
                    next: input
                        .next_page_token
                        .as_deref()
                        .map(|token| input.item.next_page(token)),
                }
            }
        })
    }
}

impl Storage {
    /// Every file of an AMC execution's result, each its own object
    /// (`…/<request key>/page=0001.csv`, …; a file a rerun finds stored from the same
    /// execution is kept), and beside them `_execution.json`: the execution's id, its
    /// `dataGaps`, its output columns and the files.
    async fn store_amc(
        &self,
        input: &StoreInput,
        template: &UploadTarget,
        options: &StoreOptions,
    ) -> Result<StoreOutput, Failure> {
        let request = &input.item.request;
        let instance = request
            .amc
            .as_ref()
            .map(|a| a.instance_id.clone())
            .unwrap_or_default();
        let execution_id = &input.report_id;
        let client = self.spapi.amc_client_for(&input.item, &input.token).await?;
        let execution = client.execution(&instance, execution_id).await?;
        // The workflow's filtered-metrics column, to count the rows AMC filtered.
        let filtered = match client.workflow(&instance, &execution.workflow_id).await {
            Ok(workflow) => workflow.filtered_metrics_discriminator_column,
            Err(error) => {
                tracing::warn!(error = %error, "reading the workflow failed; filtered rows are not counted");
                None
            }
        };
        let urls = client.download_urls(&instance, execution_id).await?;
        let files = urls.download_urls.len();
        if files == 0 {
            return Err(Failure::new(
                ErrorName::UpstreamUnavailable,
                format!(
                    "AMC execution {execution_id} SUCCEEDED without result files; Store is tried again"
                ),
            ));
        }
        let mut pages = Vec::new();
        let mut filtered_rows: Option<u64> = filtered.as_ref().map(|_| 0);
        for part in 0..files {
            let key = RawObjectKey::page(
                request,
                template.format,
                u32::try_from(part).unwrap_or(u32::MAX),
            )
            .map_err(|e| {
                Failure::caused_by(
                    ErrorName::ConfigInvalid,
                    "the result cannot be given an S3 key",
                    e,
                )
            })?;
            let target = UploadTarget {
                key: key.to_string(),
                ..template.clone()
            };
            if let Some(object) =
                stored_by(&self.s3, &target.bucket, &target.key, execution_id).await?
            {
                // Stored by an earlier attempt: its filtered rows are not known now.
                filtered_rows = None;
                pages.push(object);
                continue;
            }
            let (stored, flagged) = crate::fetch_and_store_amc_file(
                &client,
                &instance,
                execution_id,
                part,
                urls.download_urls.get(part).map(String::as_str),
                filtered.as_deref(),
                &self.s3,
                &target,
                options,
            )
            .await
            .map_err(failure)?;
            filtered_rows = filtered_rows.map(|n| n + flagged);
            tracing::info!(key = %stored.key, bytes = stored.bytes, rows = stored.rows, part, files, "AMC result file stored");
            pages.push(StoredObject::from(stored));
        }
        let described = serde_json::json!({
            "workflowExecutionId": execution_id,
            "workflowId": execution.workflow_id,
            "dataGaps": execution.data_gaps,
            "outputColumns": execution.output_columns,
            "filteredMetricsDiscriminatorColumn": filtered,
            "filteredRows": filtered_rows,
            "files": pages.iter().map(|p| p.object_key.clone()).collect::<Vec<_>>(),
        });
        let folder = pages[0]
            .object_key
            .rsplit_once('/')
            .map_or(String::new(), |(folder, _)| folder.to_owned());
        let sidecar = UploadTarget {
            key: format!("{folder}/_execution.json"),
            format: DocumentFormat::Json,
            ..template.clone()
        };
        crate::store_document(
            std::io::Cursor::new(described.to_string().into_bytes()),
            crate::SourceCharset::utf8(),
            &self.s3,
            &sidecar,
            options,
        )
        .await
        .map_err(failure)?;
        tracing::info!(
            execution_id,
            files,
            data_gaps = execution.data_gaps.len(),
            "AMC result stored"
        );
        let object = pages.last().cloned().unwrap_or_else(|| pages[0].clone());
        Ok(StoreOutput {
            object,
            pages,
            next: None,
        })
    }
}

/// The object at `key` if Store wrote it from `report_id`'s document (its `report-id`
/// metadata), described from its metadata; `None` when there is none or it came from
/// another report.
async fn stored_by(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    report_id: &str,
) -> Result<Option<StoredObject>, Failure> {
    let head = match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => head,
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {
            return Ok(None);
        }
        Err(error) => {
            return Err(pipeline::aws_failure(
                "looking for a page stored by an earlier run",
                error,
            ));
        }
    };
    let metadata = head.metadata().cloned().unwrap_or_default();
    let field = |name: &str| metadata.get(name).cloned().unwrap_or_default();
    if field("report-id") != report_id {
        return Ok(None);
    }
    let number = |name: &str| field(name).parse::<u64>().unwrap_or(0);
    Ok(Some(StoredObject {
        object_key: key.to_owned(),
        sha256: field(crate::metadata::SHA256),
        bytes: u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
        rows: number(crate::metadata::ROWS),
        source_charset: field(crate::metadata::SOURCE_CHARSET),
        malformed_sequences: number(crate::metadata::MALFORMED_SEQUENCES),
    }))
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
