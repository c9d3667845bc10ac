//! A real SQL answer over what a local run curated: the partitions' Parquet files are
//! fetched from the local bucket, and DuckDB (from `make setup`'s venv) runs the Athena
//! views of `sql/views/` over them — the same SQL an analyst runs in Athena.
//!
//! DuckDB reads local files with its built-in Parquet reader; its S3 extension cannot be
//! downloaded here (build-notes.md), so the files are fetched first.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use contract::CuratedPartition;

/// The Athena views, committed with the code.
pub const VIEWS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/views");

/// DuckDB's side: each table folder under `root` becomes a view over its Parquet files
/// (hive partitions as columns), then every view file runs (a view over a table this run
/// did not write is skipped), then the query's rows are printed tab-separated with a header.
const SCRIPT: &str = r#"
import csv, glob, os, sys
import duckdb
root, views, query = sys.argv[1:4]
con = duckdb.connect()
for table in sorted(os.listdir(root)):
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{root}/{table}/**/*.parquet', hive_partitioning = true)")
for path in sorted(glob.glob(os.path.join(views, '*.sql'))):
    try:
        con.execute(open(path).read())
    except duckdb.Error:
        pass
result = con.execute(query)
out = csv.writer(sys.stdout, delimiter='\t', lineterminator='\n')
out.writerow([d[0] for d in result.description])
out.writerows(result.fetchall())
"#;

/// The rows of a query: a header, then values as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, values as DuckDB prints them.
    pub rows: Vec<Vec<String>>,
}

impl Answer {
    /// The answer as an aligned table for a terminal.
    pub fn table(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.rows {
            for (w, v) in widths.iter_mut().zip(row) {
                *w = (*w).max(v.chars().count());
            }
        }
        let line = |values: &[String]| -> String {
            let cells: Vec<String> = values
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_owned() + "\n"
        };
        let mut out = line(&self.columns);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// Fetches `partitions`' files from `bucket` into `dir/<table>/…` (emptied first).
pub async fn fetch_partitions(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    partitions: &[CuratedPartition],
    dir: &Path,
) -> anyhow::Result<()> {
    let _ = tokio::fs::remove_dir_all(dir).await;
    for partition in partitions {
        let prefix = partition
            .location
            .strip_prefix(&format!("s3://{bucket}/"))
            .with_context(|| format!("{} is not in bucket {bucket}", partition.location))?;
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .with_context(|| format!("listing {}", partition.location))?;
        for object in listed.contents() {
            let key = object.key().unwrap_or_default();
            let target: PathBuf = dir.join(key);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .with_context(|| format!("reading s3://{bucket}/{key}"))?
                .body
                .collect()
                .await?
                .into_bytes();
            tokio::fs::write(&target, body).await?;
        }
    }
    Ok(())
}

/// Runs `query` with DuckDB over the tables fetched into `dir`, after the views.
pub async fn answer(python: &Path, dir: &Path, query: &str) -> anyhow::Result<Answer> {
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(dir)
        .arg(VIEWS_DIR)
        .arg(query)
        .output()
        .await
        .with_context(|| format!("{} does not run; run `make setup`", python.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "DuckDB refused `{query}`: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout)?;
    let mut lines = text
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>());
    Ok(Answer {
        columns: lines.next().unwrap_or_default(),
        rows: lines.collect(),
    })
}

/// The venv's Python (beside moto's server, `make setup`).
pub fn venv_python() -> PathBuf {
    std::env::var_os(local_stack::moto::MOTO_SERVER_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/moto_server"))
        .with_file_name("python")
}
