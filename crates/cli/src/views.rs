//! `sp-ingest views create`: the Athena views of `sql/views/` in a stage's workgroup.
//!
//! Every curated table is made sure of in Glue first: Athena refuses a view over a
//! table that does not exist, and a stage's vendor tables would otherwise exist only once
//! a vendor report landed. Then each view is created or replaced, one query at a time.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use domain::curated::CuratedCatalog;
use pipeline::glue_tables::GlueTables;

/// A view: its name and its SQL file, committed in `sql/views/` and built into the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The view's name (the file's stem).
    pub name: &'static str,
    /// The file's text: comment lines saying what it answers, then `CREATE OR REPLACE VIEW`.
    pub sql: &'static str,
}

/// Every view, in file order.
pub const VIEWS: &[View] = &[
    View {
        name: "asin_conversion",
        sql: include_str!("../../../sql/views/asin_conversion.sql"),
    },
    View {
        name: "daily_sales",
        sql: include_str!("../../../sql/views/daily_sales.sql"),
    },
    View {
        name: "vendor_sell_through",
        sql: include_str!("../../../sql/views/vendor_sell_through.sql"),
    },
];

/// How long one view's statement may take before the command gives up on it.
const PATIENCE: Duration = Duration::from_secs(300);

impl View {
    /// The statement Athena gets: the file from its first line that is not a comment.
    pub fn statement(&self) -> &'static str {
        let mut rest = self.sql;
        while let Some(line) = rest.lines().next() {
            let trimmed = line.trim();
            if !(trimmed.is_empty() || trimmed.starts_with("--")) {
                break;
            }
            rest = &rest[(line.len() + 1).min(rest.len())..];
        }
        rest.trim_end().trim_end_matches(';')
    }
}

/// Makes sure every curated table of `database` (files in `curated_bucket`) exists,
/// then creates or replaces every view in `workgroup`; returns the views' names.
pub async fn create(
    aws: &aws_config::SdkConfig,
    database: &str,
    curated_bucket: &str,
    workgroup: &str,
) -> anyhow::Result<Vec<&'static str>> {
    let tables = GlueTables::new(
        aws_sdk_glue::Client::new(aws),
        database.to_owned(),
        curated_bucket.to_owned(),
    );
    Views {
        athena: &aws_sdk_athena::Client::new(aws),
        tables: &tables,
        workgroup,
    }
    .create()
    .await
}

/// Where the views go: a stage's workgroup and database.
struct Views<'a> {
    athena: &'a aws_sdk_athena::Client,
    tables: &'a GlueTables,
    /// The stage's workgroup (its result location and encryption are enforced there).
    workgroup: &'a str,
}

impl Views<'_> {
    async fn create(&self) -> anyhow::Result<Vec<&'static str>> {
        for table in CuratedCatalog::builtin().tables() {
            self.tables
                .ensure(table)
                .await
                .map_err(|failure| anyhow::anyhow!("{failure}"))?;
        }
        let mut created = Vec::new();
        for view in VIEWS {
            self.run(view).await?;
            created.push(view.name);
        }
        Ok(created)
    }

    async fn run(&self, view: &View) -> anyhow::Result<()> {
        let file = format!("sql/views/{}.sql", view.name);
        let started = self
            .athena
            .start_query_execution()
            .query_string(view.statement())
            .query_execution_context(
                QueryExecutionContext::builder()
                    .catalog("AwsDataCatalog")
                    .database(self.tables.database())
                    .build(),
            )
            .work_group(self.workgroup)
            .send()
            .await
            .map_err(|e| {
                // The service's own words when it answered; the whole chain otherwise.
                let why = match e.as_service_error().and_then(|s| s.meta().message()) {
                    Some(message) => message.to_owned(),
                    None => aws_sdk_athena::error::DisplayErrorContext(&e).to_string(),
                };
                anyhow::anyhow!(
                    "{file}: Athena did not take the statement ({why}); check that workgroup {} exists (make deploy) and that you may use it",
                    self.workgroup
                )
            })?;
        let id = started
            .query_execution_id()
            .context("Athena returned no query execution id")?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let execution = self
                .athena
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .with_context(|| format!("{file}: reading query {id}"))?;
            let status = execution.query_execution().and_then(|q| q.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => return Ok(()),
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    let reason = status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given");
                    bail!(
                        "{file}: Athena says {state}: {reason} (query {id}); fix the file and run `sp-ingest views create` again"
                    );
                }
                _ if Instant::now() > deadline => bail!(
                    "{file}: query {id} still runs after {} s; look at it in the Athena console (workgroup {})",
                    PATIENCE.as_secs(),
                    self.workgroup
                ),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_file_is_built_in_and_sent_from_its_create_statement() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/views");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let built_in: Vec<String> = VIEWS.iter().map(|v| format!("{}.sql", v.name)).collect();
        assert_eq!(built_in, files, "add the new file to VIEWS");
        for view in VIEWS {
            let statement = view.statement();
            assert!(
                statement.starts_with(&format!("CREATE OR REPLACE VIEW {} AS", view.name)),
                "{}: {statement:.60}",
                view.name
            );
            assert!(!statement.ends_with(';'));
        }
    }
}
