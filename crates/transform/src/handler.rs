//! The Curate step: the raw object → each curated table's Parquet files in a new
//! version folder → the Glue partition pointed at that folder → the old folder marked
//! for expiry → one "new data" message per partition.
//!
//! A reader sees the partition's old files or its new ones, never both and never
//! neither: the new files are complete before `UpdatePartition` swaps the location, and
//! the old ones stay a day (bucket lifecycle on the `sp-ingest-superseded` tag) for
//! queries that started before the swap.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::path::PathBuf;

use aws_sdk_glue::types::PartitionInput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ServerSideEncryption, Tag, Tagging};
use contract::{CurateInput, CurateOutput, CuratedPartition, TransformInput};
use domain::curated::{CuratedCatalog, PARTITION_KEYS, TableSchema, version_prefix};
use domain::{DocumentFormat, ErrorName};
use lambda_runtime::LambdaEvent;
use pipeline::glue_tables::GlueTables;
use pipeline::{Failure, aws_failure};

use crate::{CurateError, Curated, Limits};

/// Raw objects read as one stream, each opened when the one before it ends (a page of
/// JSON Lines ends with its newline, so pages join into one document). Read on a
/// blocking thread.
struct Objects {
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// The objects still to open, last first.
    keys: Vec<String>,
    current: Option<Box<dyn std::io::Read + Send>>,
    runtime: tokio::runtime::Handle,
}

impl std::io::Read for Objects {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(current) = self.current.as_mut() {
                let n = current.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            let Some(key) = self.keys.pop() else {
                return Ok(0);
            };
            let object = self
                .runtime
                .block_on(self.s3.get_object().bucket(&self.bucket).key(&key).send())
                .map_err(|e| {
                    std::io::Error::other(format!(
                        "reading s3://{}/{key}: {}",
                        self.bucket,
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    ))
                })?;
            self.current = Some(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
                object.body.into_async_read(),
                self.runtime.clone(),
            )));
        }
    }
}

/// The tag that marks a replaced version's objects; the bucket's lifecycle deletes them
/// a day later.
pub const SUPERSEDED_TAG: &str = "sp-ingest-superseded";

/// Where the function reads, writes and tells.
#[derive(Debug, Clone)]
pub struct Places {
    /// The raw bucket.
    pub raw_bucket: String,
    /// The curated bucket.
    pub curated_bucket: String,
    /// The stage's KMS key for the Parquet objects.
    pub kms_key_id: String,
    /// The Glue database.
    pub database: String,
    /// The "new data" topic.
    pub topic_arn: String,
    /// A folder for the files being written (`/tmp` in Lambda).
    pub scratch: PathBuf,
}

/// The function and the clients it keeps between invocations.
pub struct Transform {
    s3: aws_sdk_s3::Client,
    tables: GlueTables,
    sns: aws_sdk_sns::Client,
    places: Places,
}

impl Transform {
    /// The function with its clients.
    pub fn new(
        s3: aws_sdk_s3::Client,
        glue: aws_sdk_glue::Client,
        sns: aws_sdk_sns::Client,
        places: Places,
    ) -> Self {
        let tables = GlueTables::new(glue, places.database.clone(), places.curated_bucket.clone());
        Transform {
            s3,
            tables,
            sns,
            places,
        }
    }

    /// Runs one invocation.
    pub async fn handle(
        &self,
        event: LambdaEvent<TransformInput>,
    ) -> Result<CurateOutput, Failure> {
        let TransformInput::Curate(input) = event.payload;
        self.curate(&input).await
    }

    async fn curate(&self, input: &CurateInput) -> Result<CurateOutput, Failure> {
        let request = &input.item.request;
        let tables: Vec<TableSchema> = if request.amc.is_some() {
            vec![self.amc_table(input).await?]
        } else {
            CuratedCatalog::builtin()
                .tables_for_request(request)
                .into_iter()
                .cloned()
                .collect()
        };
        if tables.is_empty() {
            return Ok(CurateOutput { partitions: vec![] });
        }
        // A window stored in pages is read as one document, page after page.
        let keys: Vec<String> = if input.pages.is_empty() {
            vec![input.stored.object_key.clone()]
        } else {
            input.pages.iter().map(|p| p.object_key.clone()).collect()
        };
        let key = &input.stored.object_key;
        let format = if key.ends_with(".tsv") {
            DocumentFormat::Tsv
        } else if key.ends_with(".csv") {
            DocumentFormat::Csv
        } else if key.ends_with(".json") {
            DocumentFormat::Json
        } else {
            DocumentFormat::Jsonl
        };
        let values = [
            request.selling_partner_id.clone(),
            request.marketplace_ids.join("+"),
            request.window.data_date().to_string(),
        ];
        let dir = self
            .places
            .scratch
            .join(format!("curate-{}", uuid::Uuid::new_v4()));
        let curated = self
            .write_files(keys, format, tables.clone(), dir.clone())
            .await;
        let result = match curated {
            Ok(curated) => self.publish_all(input, &tables, &values, curated).await,
            Err(error) => Err(self.refusal(input, error)),
        };
        let _ = tokio::fs::remove_dir_all(&dir).await;
        result
    }

    /// The table of an AMC workflow's results, typed from the output columns Store kept
    /// beside the result files (`_execution.json`).
    async fn amc_table(&self, input: &CurateInput) -> Result<TableSchema, Failure> {
        let first = input
            .pages
            .first()
            .unwrap_or(&input.stored)
            .object_key
            .clone();
        let folder = first.rsplit_once('/').map_or("", |(folder, _)| folder);
        let key = format!("{folder}/_execution.json");
        let object = self
            .s3
            .get_object()
            .bucket(&self.places.raw_bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| {
                aws_failure(&format!("reading s3://{}/{key}", self.places.raw_bucket), e)
            })?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| {
                Failure::caused_by(ErrorName::UpstreamUnavailable, format!("reading {key}"), e)
            })?
            .into_bytes();
        let described: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::caused_by(
                ErrorName::SchemaMismatch,
                format!("{key} is not the JSON Store writes; run the window again"),
                e,
            )
        })?;
        let columns: Vec<(String, String)> = described["outputColumns"]
            .as_array()
            .map(|columns| {
                columns
                    .iter()
                    .filter_map(|c| {
                        Some((
                            c["name"].as_str()?.to_owned(),
                            c["dataType"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(TableSchema::amc(&input.item.request.report_type, &columns))
    }

    /// Streams the raw objects, one after the other, through [`crate::curate`] on a
    /// blocking thread.
    async fn write_files(
        &self,
        keys: Vec<String>,
        format: DocumentFormat,
        tables: Vec<TableSchema>,
        dir: PathBuf,
    ) -> Result<Vec<Curated>, CurateError> {
        let objects = Objects {
            s3: self.s3.clone(),
            bucket: self.places.raw_bucket.clone(),
            keys: keys.into_iter().rev().collect(),
            current: None,
            runtime: tokio::runtime::Handle::current(),
        };
        tokio::task::spawn_blocking(move || {
            let tables: Vec<&TableSchema> = tables.iter().collect();
            crate::curate(
                BufReader::new(objects),
                format,
                &tables,
                &dir,
                Limits::default(),
            )
        })
        .await
        .map_err(|e| CurateError::Internal(format!("the curating thread stopped: {e}")))?
    }

    fn refusal(&self, input: &CurateInput, error: CurateError) -> Failure {
        let request = &input.item.request;
        let what = format!(
            "report {} ({} of {} for {}, report {})",
            input.item.report,
            request.report_type,
            request.account,
            request.window.data_date(),
            input.report_id
        );
        match error {
            CurateError::Schema(mismatch) => Failure::new(
                ErrorName::SchemaMismatch,
                format!(
                    "{what} does not fit its curated table: {mismatch}; the raw object is kept, and the next run curates it once crates/domain/curated.json says how"
                ),
            ),
            CurateError::Malformed { .. } => Failure::new(
                ErrorName::SchemaMismatch,
                format!("{what}: {error}; the raw object is kept for inspection"),
            ),
            CurateError::Io(_) | CurateError::Parquet(_) | CurateError::Internal(_) => {
                Failure::new(ErrorName::UpstreamUnavailable, format!("{what}: {error}"))
            }
        }
    }

    async fn publish_all(
        &self,
        input: &CurateInput,
        tables: &[TableSchema],
        values: &[String; 3],
        curated: Vec<Curated>,
    ) -> Result<CurateOutput, Failure> {
        let mut partitions = Vec::new();
        for (table, out) in tables.iter().zip(curated) {
            let prefix =
                version_prefix(&table.name, values, &input.report_id).map_err(Failure::config)?;
            self.upload(&prefix, &out).await?;
            let location = format!("s3://{}/{prefix}", self.places.curated_bucket);
            self.tables.ensure(table).await?;
            let replaced = self.point_partition(table, values, &location).await?;
            if let Some(old) = &replaced {
                self.mark_superseded(old).await?;
            }
            let partition = CuratedPartition {
                table: table.name.clone(),
                values: values.to_vec(),
                location,
                rows: out.rows,
                bytes: out.files.iter().map(|f| f.bytes).sum(),
                replaced,
                extra_fields: out.extra_fields.into_iter().collect(),
            };
            self.tell(input, &partition).await?;
            tracing::info!(table = %partition.table, location = %partition.location, rows = partition.rows, replaced = ?partition.replaced, "partition curated");
            partitions.push(partition);
        }
        Ok(CurateOutput { partitions })
    }

    /// Puts the table's files under `prefix`, and removes files of an earlier attempt at
    /// the same version that this one did not write.
    async fn upload(&self, prefix: &str, out: &Curated) -> Result<(), Failure> {
        let mut written = BTreeSet::new();
        for file in &out.files {
            let name = file
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("part.parquet");
            let key = format!("{prefix}{name}");
            let body = ByteStream::from_path(&file.path).await.map_err(|e| {
                Failure::new(
                    ErrorName::UpstreamUnavailable,
                    format!("reading {}: {e}", file.path.display()),
                )
            })?;
            self.s3
                .put_object()
                .bucket(&self.places.curated_bucket)
                .key(&key)
                .body(body)
                .content_type("application/vnd.apache.parquet")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(&self.places.kms_key_id)
                .send()
                .await
                .map_err(|e| {
                    aws_failure(
                        &format!("writing s3://{}/{key}", self.places.curated_bucket),
                        e,
                    )
                })?;
            written.insert(key);
        }
        for key in self.keys_under(prefix).await? {
            if !written.contains(&key) {
                self.s3
                    .delete_object()
                    .bucket(&self.places.curated_bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| aws_failure("removing a stale curated file", e))?;
            }
        }
        Ok(())
    }

    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, Failure> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.places.curated_bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_failure("listing curated files", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// Points the partition at `location` (creating it when new); returns the location it
    /// had before, when that was another one.
    async fn point_partition(
        &self,
        table: &TableSchema,
        values: &[String; 3],
        location: &str,
    ) -> Result<Option<String>, Failure> {
        let input = PartitionInput::builder()
            .set_values(Some(values.to_vec()))
            .storage_descriptor(GlueTables::storage(location.to_owned(), table)?)
            .build();
        let existing = self
            .tables
            .client()
            .get_partition()
            .database_name(&self.places.database)
            .table_name(&table.name)
            .set_partition_values(Some(values.to_vec()))
            .send()
            .await;
        let old = match existing {
            Ok(found) => found
                .partition()
                .and_then(|p| p.storage_descriptor())
                .and_then(|sd| sd.location())
                .map(str::to_owned),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                None
            }
            Err(e) => {
                return Err(aws_failure(
                    &format!("reading a partition of {}", table.name),
                    e,
                ));
            }
        };
        if old.is_some() {
            self.tables
                .client()
                .update_partition()
                .database_name(&self.places.database)
                .table_name(&table.name)
                .set_partition_value_list(Some(values.to_vec()))
                .partition_input(input)
                .send()
                .await
                .map_err(|e| {
                    aws_failure(
                        &format!("pointing a partition of {} at the new files", table.name),
                        e,
                    )
                })?;
        } else {
            self.tables
                .client()
                .create_partition()
                .database_name(&self.places.database)
                .table_name(&table.name)
                .partition_input(input)
                .send()
                .await
                .map_err(|e| aws_failure(&format!("adding a partition to {}", table.name), e))?;
        }
        Ok(old.filter(|o| o != location))
    }

    /// Tags every object of a replaced version so the bucket's lifecycle deletes it a
    /// day later (queries that began before the swap can still read it).
    async fn mark_superseded(&self, location: &str) -> Result<(), Failure> {
        let bucket_prefix = format!("s3://{}/", self.places.curated_bucket);
        let Some(prefix) = location.strip_prefix(&bucket_prefix) else {
            tracing::warn!(%location, "a replaced partition outside the curated bucket is left alone");
            return Ok(());
        };
        let tag = Tag::builder()
            .key(SUPERSEDED_TAG)
            .value("true")
            .build()
            .map_err(|e| Failure::caused_by(ErrorName::ConfigInvalid, "building the tag", e))?;
        let tagging = Tagging::builder()
            .tag_set(tag)
            .build()
            .map_err(|e| Failure::caused_by(ErrorName::ConfigInvalid, "building the tagging", e))?;
        for key in self.keys_under(prefix).await? {
            self.s3
                .put_object_tagging()
                .bucket(&self.places.curated_bucket)
                .key(&key)
                .tagging(tagging.clone())
                .send()
                .await
                .map_err(|e| aws_failure("marking a replaced curated file", e))?;
        }
        Ok(())
    }

    /// Publishes the "new data" message of one partition.
    async fn tell(&self, input: &CurateInput, partition: &CuratedPartition) -> Result<(), Failure> {
        let message = serde_json::json!({
            "database": self.places.database,
            "table": partition.table,
            "partition": PARTITION_KEYS.iter().zip(&partition.values).map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
            "location": partition.location,
            "rows": partition.rows,
            "bytes": partition.bytes,
            "reportIds": [input.report_id],
            "replaced": partition.replaced,
            "extraFields": partition.extra_fields,
        });
        self.sns
            .publish()
            .topic_arn(&self.places.topic_arn)
            .subject("sp-ingest new data")
            .message(message.to_string())
            .message_attributes(
                "table",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(&partition.table)
                    .build()
                    .map_err(|e| {
                        Failure::caused_by(ErrorName::ConfigInvalid, "building the message", e)
                    })?,
            )
            .send()
            .await
            .map_err(|e| aws_failure("publishing the new-data message", e))?;
        Ok(())
    }
}
