//! Throughput and peak memory of the Storage core: simulator documents of growing size
//! stored into moto S3 through `fetch_and_store`, to show that memory does not grow with
//! the document.
//!
//! ```text
//! make bench                                             # release build, moto from .venv
//! cargo run --release -p storage --example bench_storage -- 100 500 --cp932 100
//! ```
//! Arguments are sizes in MB (10^6 bytes) of UTF-8 output; `--cp932 N` adds a Japanese
//! CP932 document of N MB. For each document it prints MB/s of UTF-8 written and of
//! compressed input, and our process's peak RSS (`VmHWM`, reset per run through
//! `/proc/self/clear_refs`). The simulator runs in this process too (its generator and
//! gzip are bounded), moto in another one; all share the machine's cores, so the MB/s
//! are of this whole local loop, and the "core" line (download, gunzip, transcode and
//! sha256 without S3) shows the part that is ours.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::StreamExt;
use local_stack::{Moto, MotoOptions};
use sha2::{Digest, Sha256};
use simulator::scenario::{Charset, ReportRule, Scenario};
use simulator::{RunningSimulator, SimConfig};
use spapi::{
    CreateReportSpecification, Endpoints, LwaCredentials, ReportDocument, SellerAuthorization,
    SpApiClient,
};
use storage::{RowCounter, SourceCharset, StoreOptions, Transcoder, UploadTarget, fetch_and_store};
use tokio::io::AsyncReadExt;

const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const US: &str = "ATVPDKIKX0DER";
const JP: &str = "A1VC38T7YXB528";
const BUCKET: &str = "sp-ingest-bench";
const MB: f64 = 1_000_000.0;

struct Run {
    marketplace: &'static str,
    megabytes: u64,
}

fn parse_args() -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let (marketplace, text) = match word.as_str() {
            "--cp932" => (JP, words.next().context("--cp932 needs a size in MB")?),
            "-h" | "--help" => {
                println!("usage: bench_storage [MB ...] [--cp932 MB]  (default: 100 500)");
                std::process::exit(0);
            }
            _ => (US, word),
        };
        let megabytes = text
            .parse()
            .with_context(|| format!("`{text}` is not a size in MB"))?;
        runs.push(Run {
            marketplace,
            megabytes,
        });
    }
    if runs.is_empty() {
        runs = vec![
            Run {
                marketplace: US,
                megabytes: 100,
            },
            Run {
                marketplace: US,
                megabytes: 500,
            },
        ];
    }
    Ok(runs)
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .with_context(|| format!("{field} missing from /proc/self/status"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("no value")?
        .parse()?;
    Ok(kib * 1024)
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0, `clear_refs` value 5).
fn reset_peak() -> anyhow::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Harness {
    sim: RunningSimulator,
    client: SpApiClient,
}

impl Harness {
    async fn start() -> anyhow::Result<Self> {
        let sim = simulator::start(SimConfig::default()).await?;
        let endpoints = Endpoints::parse(&sim.base_url(), &sim.lwa_token_url())?;
        let client = SpApiClient::builder(endpoints)
            .app_credentials(LwaCredentials::new(
                simulator::DEFAULT_CLIENT_ID,
                simulator::DEFAULT_CLIENT_SECRET,
            ))
            .seller(SellerAuthorization::new(
                simulator::DEFAULT_SELLING_PARTNER_ID,
                simulator::DEFAULT_REFRESH_TOKEN,
            ))
            .build()?;
        Ok(Self { sim, client })
    }

    /// A finished report of `rows` rows for `marketplace`, and its document id.
    async fn report(&self, marketplace: &str, rows: u64) -> anyhow::Result<(String, String)> {
        let charset = (marketplace == JP).then_some(Charset::Cp932);
        self.sim.set_scenario(Scenario {
            in_queue_ms: 10,
            in_progress_ms: 10,
            // The bench makes more getReportDocument calls than Amazon's 1/min would allow.
            enforce_rate_limits: false,
            rules: vec![ReportRule {
                rows: Some(rows),
                charset,
                ..ReportRule::default()
            }],
            ..Scenario::default()
        });
        let end = chrono::Utc::now() - chrono::Duration::hours(1);
        let created = self
            .client
            .create_report(
                &CreateReportSpecification::new(ORDERS, [marketplace])
                    .with_data_window(end - chrono::Duration::days(1), end),
            )
            .await?;
        loop {
            let report = self.client.get_report(&created.report_id).await?;
            if report.processing_status.is_terminal() {
                let document_id = report
                    .report_document_id
                    .context("finished report without a document")?;
                return Ok((created.report_id, document_id));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn document(&self, document_id: &str) -> anyhow::Result<ReportDocument> {
        Ok(self
            .client
            .get_report_document(document_id, Default::default())
            .await?)
    }

    /// Bytes on the wire (gzip) of a document, downloaded without inflating it.
    async fn compressed_bytes(&self, document_id: &str) -> anyhow::Result<u64> {
        let document = self.document(document_id).await?;
        let response = self.client.http_client().get(&document.url).send().await?;
        ensure!(
            response.status().is_success(),
            "raw download: {}",
            response.status()
        );
        let mut body = response.bytes_stream();
        let mut bytes = 0u64;
        while let Some(piece) = body.next().await {
            bytes += piece?.len() as u64;
        }
        Ok(bytes)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runs = parse_args()?;
    if cfg!(debug_assertions) {
        eprintln!("note: a debug build; run with --release for meaningful numbers");
    }

    let moto = Moto::start(MotoOptions::from_env().context("run `make setup` first")?).await?;
    let sdk_config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(true)
            .build(),
    );
    let kms_key_id = aws_sdk_kms::Client::new(&sdk_config)
        .create_key()
        .send()
        .await?
        .key_metadata()
        .map(|metadata| metadata.key_id().to_owned())
        .context("KMS key without metadata")?;
    s3.create_bucket().bucket(BUCKET).send().await?;
    let harness = Harness::start().await?;
    let options = StoreOptions::default();

    println!(
        "part size {} MiB, {} parts in flight; baseline RSS {:.1} MiB",
        options.part_size / (1024 * 1024),
        options.max_parts_in_flight,
        mib(status_bytes("VmRSS:")?)
    );
    println!(
        "{:<9} {:>9} {:>9} {:>8} {:>11} {:>11} {:>9} {:>13} {:>13}",
        "charset",
        "UTF-8 MB",
        "gzip MB",
        "seconds",
        "UTF-8 MB/s",
        "gzip MB/s",
        "parts",
        "peak RSS MiB",
        "core MB/s"
    );
    for run in &runs {
        // Rows for the size: calibrated on a small document of the same kind.
        let (calibration, _) = harness.report(run.marketplace, 20_000).await?;
        let sample = harness
            .sim
            .expected_document(&calibration)
            .await
            .context("calibration digest")?;
        let bytes_per_row = sample.bytes as f64 / sample.rows as f64;
        let rows = (run.megabytes as f64 * MB / bytes_per_row).ceil() as u64;

        let (report_id, document_id) = harness.report(run.marketplace, rows).await?;
        let gzip_bytes = harness.compressed_bytes(&document_id).await?;
        let core_mb_s = core_throughput(&harness, &document_id, run.marketplace).await?;

        let document = harness.document(&document_id).await?;
        let target = UploadTarget {
            bucket: BUCKET.to_owned(),
            key: format!("bench/{report_id}.tsv"),
            kms_key_id: Some(kms_key_id.clone()),
            format: domain::DocumentFormat::Tsv,
            metadata: BTreeMap::from([("report-id".to_owned(), report_id.clone())]),
        };
        reset_peak()?;
        let started = Instant::now();
        let stored = fetch_and_store(
            &harness.client,
            &document,
            run.marketplace,
            &s3,
            &target,
            &options,
        )
        .await?;
        let seconds = started.elapsed().as_secs_f64();
        let peak = status_bytes("VmHWM:")?;

        let expected = harness
            .sim
            .expected_document(&report_id)
            .await
            .context("digest")?;
        if stored.sha256 != expected.sha256 || stored.rows != expected.rows {
            bail!(
                "stored {} rows sha256 {}, the simulator expected {} rows sha256 {}",
                stored.rows,
                stored.sha256,
                expected.rows,
                expected.sha256
            );
        }
        println!(
            "{:<9} {:>9.1} {:>9.1} {:>8.1} {:>11.1} {:>11.1} {:>9} {:>13.1} {:>13.1}",
            stored.source_charset,
            stored.bytes as f64 / MB,
            gzip_bytes as f64 / MB,
            seconds,
            stored.bytes as f64 / MB / seconds,
            gzip_bytes as f64 / MB / seconds,
            stored.parts,
            mib(peak),
            core_mb_s,
        );
        // Free moto's copy before the next, larger document.
        s3.delete_object()
            .bucket(BUCKET)
            .key(&target.key)
            .send()
            .await?;
    }
    drop(harness);
    moto.shutdown().await;
    Ok(())
}

/// UTF-8 MB/s of download → gunzip → transcode → sha256 → row count, without S3.
async fn core_throughput(
    harness: &Harness,
    document_id: &str,
    marketplace: &str,
) -> anyhow::Result<f64> {
    let document = harness.document(document_id).await?;
    let started = Instant::now();
    let mut stream = harness.client.download_document(&document).await?;
    let charset = SourceCharset::resolve(
        stream.charset(),
        marketplace,
        domain::DocumentFormat::Tsv,
        &[],
    )?;
    let mut transcoder = Transcoder::new(&charset);
    let mut rows = RowCounter::for_format(domain::DocumentFormat::Tsv);
    let mut sha256 = Sha256::new();
    let mut chunk = vec![0u8; storage::READ_CHUNK];
    let mut out = bytes::BytesMut::with_capacity(storage::READ_CHUNK * 2);
    let mut written = 0u64;
    loop {
        let read = stream.read(&mut chunk).await?;
        out.clear();
        if read == 0 {
            transcoder.finish(&mut out);
        } else {
            transcoder.push(&chunk[..read], &mut out);
        }
        sha256.update(&out);
        rows.update(&out);
        written += out.len() as u64;
        if read == 0 {
            break;
        }
    }
    let _digest = sha256.finalize();
    Ok(written as f64 / MB / started.elapsed().as_secs_f64())
}
