//! What landed: the run's results checked against the objects in S3, as a table.

use std::time::Duration;

use anyhow::Context as _;
use contract::{ItemResult, Outcome};
use sha2::{Digest, Sha256};

/// One line of the results table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// The request's result as the pipeline recorded it.
    pub result: ItemResult,
    /// SHA-256 of the object as read back from S3 (stored results only).
    pub object_sha256: Option<String>,
    /// For a window stored in pages: whether every page's object has the SHA-256 recorded.
    pub pages_intact: Option<bool>,
    /// Whether the object matches what the SP-API side served (`None`: unknown).
    pub matches_source: Option<bool>,
    /// From Amazon's DONE to the outcome being recorded, when known.
    pub done_to_recorded: Option<Duration>,
}

impl Landed {
    /// Whether the line is a success: stored and (where checked) byte-identical, or no data.
    pub fn is_ok(&self) -> bool {
        match &self.result.outcome {
            Outcome::Stored(object) => {
                self.object_sha256.as_deref() == Some(object.sha256.as_str())
                    && self.matches_source != Some(false)
            }
            Outcome::StoredPages { .. } => {
                self.pages_intact == Some(true) && self.matches_source != Some(false)
            }
            Outcome::NoData => true,
            Outcome::Fatal { .. } | Outcome::Failed { .. } | Outcome::Expired { .. } => false,
        }
    }
}

/// Reads each stored object back from `bucket` and hashes it.
pub async fn read_back(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    results: &[ItemResult],
) -> anyhow::Result<Vec<Landed>> {
    let mut out = Vec::new();
    for result in results {
        let sha256 = match &result.outcome {
            Outcome::Stored(object) => Some(object_sha256(s3, bucket, &object.object_key).await?),
            _ => None,
        };
        let pages_intact = match &result.outcome {
            Outcome::StoredPages { pages } => {
                let mut intact = true;
                for page in pages {
                    intact &= object_sha256(s3, bucket, &page.object_key).await? == page.sha256;
                }
                Some(intact)
            }
            _ => None,
        };
        out.push(Landed {
            result: result.clone(),
            object_sha256: sha256,
            pages_intact,
            matches_source: None,
            done_to_recorded: None,
        });
    }
    Ok(out)
}

async fn object_sha256(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<String> {
    let mut body = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?
        .body;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?
    {
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "n/a",
    }
}

/// Renders the table: report, status, key, bytes, rows, sha256, matches, DONE → recorded.
pub fn table(lines: &[Landed]) -> String {
    let mut out = format!(
        "{:<14} {:<15} {:<8} {:>10} {:>7} {:<16} {:<8} {:>10}  {}\n",
        "report",
        "marketplace",
        "status",
        "bytes",
        "rows",
        "sha256",
        "matches",
        "done→rec",
        "s3 key"
    );
    for line in lines {
        let r = &line.result;
        let (status, key, bytes, rows, sha) = match &r.outcome {
            Outcome::Stored(object) => (
                "STORED",
                object.object_key.as_str(),
                object.bytes.to_string(),
                object.rows.to_string(),
                object.sha256[..16.min(object.sha256.len())].to_owned(),
            ),
            Outcome::StoredPages { pages } => (
                "STORED",
                pages.first().map_or("-", |page| page.object_key.as_str()),
                pages.iter().map(|p| p.bytes).sum::<u64>().to_string(),
                pages.iter().map(|p| p.rows).sum::<u64>().to_string(),
                format!("{} page(s)", pages.len()),
            ),
            Outcome::NoData => ("NO DATA", "-", "-".into(), "-".into(), "-".into()),
            Outcome::Fatal { reason } => {
                ("FATAL", reason.as_str(), "-".into(), "-".into(), "-".into())
            }
            Outcome::Failed { error, cause } => (
                "FAILED",
                cause.as_str(),
                "-".into(),
                "-".into(),
                error.clone(),
            ),
            Outcome::Expired { reason } => (
                "EXPIRED",
                reason.as_str(),
                "-".into(),
                "-".into(),
                "-".into(),
            ),
        };
        let timing = line
            .done_to_recorded
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<14} {:<15} {:<8} {:>10} {:>7} {:<16} {:<8} {:>10}  {}\n",
            r.report,
            r.marketplace_ids.join(","),
            status,
            bytes,
            rows,
            sha,
            yes_no(line.matches_source),
            timing,
            key
        ));
    }
    let partitions: Vec<_> = lines.iter().flat_map(|l| &l.result.curated).collect();
    if !partitions.is_empty() {
        out.push_str(&format!(
            "\n{:<26} {:>7} {:>9}  {}\n",
            "curated table", "rows", "parquet", "partition (now in Glue)"
        ));
        for p in partitions {
            let extras = if p.extra_fields.is_empty() {
                String::new()
            } else {
                format!("  extra fields kept: {}", p.extra_fields.join(", "))
            };
            out.push_str(&format!(
                "{:<26} {:>7} {:>9}  {}{}{extras}\n",
                p.table,
                p.rows,
                p.bytes,
                p.location,
                if p.replaced.is_some() {
                    " (replaced the previous version)"
                } else {
                    ""
                }
            ));
        }
    }
    out
}
