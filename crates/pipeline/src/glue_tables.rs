//! The curated tables as Glue Data Catalog tables: Parquet under
//! `s3://<curated bucket>/<table>/`, partitioned by [`PARTITION_KEYS`], columns and
//! comments from [`domain::curated`]. The Curate step makes sure a table exists before
//! it adds a partition; `sp-ingest views create` makes sure all exist before Athena
//! views are defined over them (Athena refuses a view over a missing table).

use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, TableInput};
use domain::ErrorName;
use domain::curated::{Kind, PARTITION_KEYS, TableSchema};

use crate::{Failure, aws_failure};

const PARQUET_INPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const PARQUET_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
/// Glue keeps at most this many characters of a column comment.
const COMMENT_CHARS: usize = 255;

/// A stage's Glue database and the bucket its tables' files live in.
#[derive(Debug, Clone)]
pub struct GlueTables {
    glue: aws_sdk_glue::Client,
    database: String,
    curated_bucket: String,
}

impl GlueTables {
    /// The tables of `database`, with files in `curated_bucket`.
    pub fn new(glue: aws_sdk_glue::Client, database: String, curated_bucket: String) -> Self {
        GlueTables {
            glue,
            database,
            curated_bucket,
        }
    }

    /// The Glue client, for partition calls.
    pub fn client(&self) -> &aws_sdk_glue::Client {
        &self.glue
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// How Glue (and Athena) read `table`'s Parquet files at `location`.
    pub fn storage(location: String, table: &TableSchema) -> Result<StorageDescriptor, Failure> {
        let columns = table
            .columns
            .iter()
            .map(|c| {
                Column::builder()
                    .name(&c.name)
                    .r#type(c.kind.glue_type())
                    .set_comment(
                        c.comment
                            .as_ref()
                            .map(|t| t.chars().take(COMMENT_CHARS).collect()),
                    )
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Failure::caused_by(ErrorName::ConfigInvalid, "building the table's columns", e)
            })?;
        Ok(StorageDescriptor::builder()
            .set_columns(Some(columns))
            .location(location)
            .input_format(PARQUET_INPUT)
            .output_format(PARQUET_OUTPUT)
            .serde_info(
                SerDeInfo::builder()
                    .serialization_library(PARQUET_SERDE)
                    .build(),
            )
            .build())
    }

    /// Creates the table if it is missing, or updates it when its columns changed; a
    /// table another caller just created is fine.
    pub async fn ensure(&self, table: &TableSchema) -> Result<(), Failure> {
        let input = self.table_input(table)?;
        let existing = self
            .glue
            .get_table()
            .database_name(&self.database)
            .name(&table.name)
            .send()
            .await;
        match existing {
            Ok(found) => {
                let have: Vec<(&str, &str)> = found
                    .table()
                    .and_then(|t| t.storage_descriptor())
                    .map(|sd| {
                        sd.columns()
                            .iter()
                            .map(|c| (c.name(), c.r#type().unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default();
                let want = input
                    .storage_descriptor()
                    .map(|sd| sd.columns())
                    .unwrap_or_default()
                    .iter()
                    .map(|c| (c.name(), c.r#type().unwrap_or_default()));
                if !have.into_iter().eq(want) {
                    self.glue
                        .update_table()
                        .database_name(&self.database)
                        .table_input(input)
                        .send()
                        .await
                        .map_err(|e| {
                            aws_failure(&format!("updating Glue table {}", table.name), e)
                        })?;
                }
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                match self
                    .glue
                    .create_table()
                    .database_name(&self.database)
                    .table_input(input)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_already_exists_exception()) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(aws_failure(
                        &format!("creating Glue table {} in {}", table.name, self.database),
                        e,
                    )),
                }
            }
            Err(e) => Err(aws_failure(
                &format!("reading Glue table {}", table.name),
                e,
            )),
        }
    }

    fn table_input(&self, table: &TableSchema) -> Result<TableInput, Failure> {
        let partition_keys = PARTITION_KEYS
            .iter()
            .map(|k| {
                let kind = if *k == "data_date" {
                    Kind::Date
                } else {
                    Kind::Text
                };
                Column::builder().name(*k).r#type(kind.glue_type()).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Failure::caused_by(ErrorName::ConfigInvalid, "building the partition keys", e)
            })?;
        let location = format!("s3://{}/{}/", self.curated_bucket, table.name);
        TableInput::builder()
            .name(&table.name)
            .description(&table.comment)
            .table_type("EXTERNAL_TABLE")
            .parameters("classification", "parquet")
            .parameters("EXTERNAL", "TRUE")
            .parameters("sp-ingest.report-type", &table.report_type)
            .set_partition_keys(Some(partition_keys))
            .storage_descriptor(Self::storage(location, table)?)
            .build()
            .map_err(|e| Failure::caused_by(ErrorName::ConfigInvalid, "building the table", e))
    }
}
