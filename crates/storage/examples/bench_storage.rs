//! The Storage core's side of `make bench` (bench/storage.py drives it; see there for
//! the tools measured beside it).
//!
//! ```text
//! bench_storage generate --mb 100 [--cp932] --out orders.tsv.gz   # once, cached
//! bench_storage serve --dir DIR                                      # a static file host
//! bench_storage store --sp-api URL --lwa URL --expect orders.tsv.gz.json \
//!     --marketplace ATVPDKIKX0DER (--s3 URL | --null-sink)
//! ```
//! - `generate` has the simulator (in this process) make an All Orders document of about
//!   N MB of UTF-8 and writes its compressed bytes as Amazon serves them, with a sidecar
//!   `.json` holding what a faithful store must produce (UTF-8 bytes, rows, sha256).
//! - `serve` hosts those files over HTTP with their `Content-Type`, as S3 hosts Amazon's
//!   documents: the client measured then shares the CPU with a file server, not with the
//!   generator.
//! - `store` is one Storage run: createReport, getReport and getReportDocument against the
//!   simulator (whose rule hands out the hosted file's URL), then the production
//!   `fetch_and_store` into S3 (moto) or into a null sink: an S3 endpoint in this process
//!   that answers every call at once and discards the bytes, for the rate without S3's
//!   cost. It prints one JSON line (seconds of the download → store leg, bytes, rows) and
//!   fails if the stored bytes are not the expected ones. Its peak RSS is measured by the
//!   parent.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use simulator::SimConfig;
use simulator::scenario::{Charset, ReportRule, Scenario};
use spapi::{
    CreateReportSpecification, Endpoints, LwaCredentials, SellerAuthorization, SpApiClient,
};
use storage::{StoreOptions, UploadTarget, fetch_and_store};
use tokio::io::AsyncWriteExt;

const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const US: &str = "ATVPDKIKX0DER";
const JP: &str = "A1VC38T7YXB528";
const MB: f64 = 1_000_000.0;

#[derive(Parser)]
#[command(about = "The Storage core's side of `make bench`")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a compressed All Orders document of about `mb` MB of UTF-8, and its sidecar.
    Generate {
        #[arg(long)]
        mb: u64,
        /// A Japanese document in Shift-JIS (CP932), as Amazon serves JP flat files.
        #[arg(long)]
        cp932: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Serves the files of `dir` on 127.0.0.1; prints its address, runs until killed.
    Serve {
        #[arg(long)]
        dir: PathBuf,
    },
    /// One Storage run against the simulator; prints a JSON line.
    Store {
        /// The simulator's SP-API base URL.
        #[arg(long)]
        sp_api: String,
        /// The simulator's LWA token URL.
        #[arg(long)]
        lwa: String,
        #[arg(long)]
        marketplace: String,
        /// The sidecar `generate` wrote for the document the simulator hands out.
        #[arg(long)]
        expect: PathBuf,
        /// S3 endpoint (moto) to store into.
        #[arg(
            long,
            conflicts_with = "null_sink",
            required_unless_present = "null_sink"
        )]
        s3: Option<String>,
        /// Store into an S3 endpoint that discards everything (in this process).
        #[arg(long)]
        null_sink: bool,
        /// Multipart part size in MiB (default: the Storage Lambda's).
        #[arg(long)]
        part_mib: Option<usize>,
        /// Parts uploading at once (default: the Storage Lambda's).
        #[arg(long)]
        in_flight: Option<usize>,
    },
}

/// What a faithful store of a generated document produces.
#[derive(Serialize, Deserialize)]
struct Expected {
    utf8_bytes: u64,
    rows: u64,
    sha256: String,
    compressed_bytes: u64,
    content_type: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if cfg!(debug_assertions) {
        eprintln!("note: a debug build; run with --release for meaningful numbers");
    }
    match Args::parse().command {
        Command::Generate { mb, cp932, out } => generate(mb, cp932, &out).await,
        Command::Serve { dir } => serve(dir).await,
        Command::Store {
            sp_api,
            lwa,
            marketplace,
            expect,
            s3,
            null_sink: _,
            part_mib,
            in_flight,
        } => {
            let defaults = StoreOptions::default();
            let options = StoreOptions {
                part_size: part_mib.map_or(defaults.part_size, |mib| mib * 1024 * 1024),
                max_parts_in_flight: in_flight.unwrap_or(defaults.max_parts_in_flight),
                ..defaults
            };
            store(
                &sp_api,
                &lwa,
                &marketplace,
                &expect,
                s3.as_deref(),
                &options,
            )
            .await
        }
    }
}

fn client(sp_api: &str, lwa: &str) -> anyhow::Result<SpApiClient> {
    Ok(SpApiClient::builder(Endpoints::parse(sp_api, lwa)?)
        .app_credentials(LwaCredentials::new(
            simulator::DEFAULT_CLIENT_ID,
            simulator::DEFAULT_CLIENT_SECRET,
        ))
        .seller(SellerAuthorization::new(
            simulator::DEFAULT_SELLING_PARTNER_ID,
            simulator::DEFAULT_REFRESH_TOKEN,
        ))
        .build()?)
}

/// Creates an All Orders report for `marketplace` and waits for it: its id and document id.
async fn finished_report(
    client: &SpApiClient,
    marketplace: &str,
) -> anyhow::Result<(String, String)> {
    let end = chrono::Utc::now() - chrono::Duration::hours(1);
    let created = client
        .create_report(
            &CreateReportSpecification::new(ORDERS, [marketplace])
                .with_data_window(end - chrono::Duration::days(1), end),
        )
        .await?;
    loop {
        let report = client.get_report(&created.report_id).await?;
        if report.processing_status.is_terminal() {
            let document_id = report
                .report_document_id
                .context("finished report without a document")?;
            return Ok((created.report_id, document_id));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn generate(megabytes: u64, cp932: bool, out: &Path) -> anyhow::Result<()> {
    let sim = simulator::start(SimConfig::default()).await?;
    let client = client(&sim.base_url(), &sim.lwa_token_url())?;
    let marketplace = if cp932 { JP } else { US };
    let scenario = |rows| Scenario {
        in_queue_ms: 10,
        in_progress_ms: 10,
        enforce_rate_limits: false,
        rules: vec![ReportRule {
            rows: Some(rows),
            charset: Some(if cp932 { Charset::Cp932 } else { Charset::Utf8 }),
            ..ReportRule::default()
        }],
        ..Scenario::default()
    };
    // Rows for the size: calibrated on a small document of the same kind.
    sim.set_scenario(scenario(20_000));
    let (calibration, _) = finished_report(&client, marketplace).await?;
    let sample = sim
        .expected_document(&calibration)
        .await
        .context("calibration digest")?;
    let rows = (megabytes as f64 * MB * sample.rows as f64 / sample.bytes as f64).ceil() as u64;

    sim.set_scenario(scenario(rows));
    let (report_id, document_id) = finished_report(&client, marketplace).await?;
    let document = client
        .get_report_document(&document_id, Default::default())
        .await?;
    let response = client.http_client().get(&document.url).send().await?;
    ensure!(
        response.status().is_success(),
        "download: {}",
        response.status()
    );
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("text/plain")
        .to_owned();
    let mut file = tokio::fs::File::create(out)
        .await
        .with_context(|| format!("creating {}", out.display()))?;
    let mut body = response.bytes_stream();
    let mut compressed_bytes = 0u64;
    while let Some(piece) = body.next().await {
        let piece = piece?;
        compressed_bytes += piece.len() as u64;
        file.write_all(&piece).await?;
    }
    file.flush().await?;
    let digest = sim.expected_document(&report_id).await.context("digest")?;
    let expected = Expected {
        utf8_bytes: digest.bytes,
        rows: digest.rows,
        sha256: digest.sha256,
        compressed_bytes,
        content_type,
    };
    std::fs::write(sidecar(out), serde_json::to_string(&expected)?)?;
    println!("{}", serde_json::to_string(&expected)?);
    Ok(())
}

/// Where `generate` writes what the document at `document` must store as.
fn sidecar(document: &Path) -> PathBuf {
    let mut name = document.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

async fn serve(dir: PathBuf) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let router = axum::Router::new()
        .route("/{name}", axum::routing::get(serve_file))
        .with_state(dir);
    println!("http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

async fn serve_file(State(dir): State<PathBuf>, UrlPath(name): UrlPath<String>) -> Response {
    let path = dir.join(&name);
    let (Ok(file), Ok(text)) = (
        tokio::fs::File::open(&path).await,
        std::fs::read_to_string(sidecar(&path)),
    ) else {
        return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    let Ok(expected) = serde_json::from_str::<Expected>(&text) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad sidecar").into_response();
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(expected.compressed_bytes),
    );
    if let Ok(value) = HeaderValue::from_str(&expected.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    response
}

async fn store(
    sp_api: &str,
    lwa: &str,
    marketplace: &str,
    expect: &Path,
    s3_endpoint: Option<&str>,
    options: &StoreOptions,
) -> anyhow::Result<()> {
    let expected: Expected = serde_json::from_str(
        &std::fs::read_to_string(expect)
            .with_context(|| format!("reading {}", expect.display()))?,
    )?;
    let endpoint = match s3_endpoint {
        Some(url) => url.to_owned(),
        None => null_s3().await?,
    };
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await;
    let s3 = pipeline::s3_client(&sdk_config);
    let bucket = "sp-ingest-bench";
    if s3_endpoint.is_some() {
        // Already there from an earlier run is fine.
        let _ = s3.create_bucket().bucket(bucket).send().await;
    }

    let client = client(sp_api, lwa)?;
    let (report_id, document_id) = finished_report(&client, marketplace).await?;
    let document = client
        .get_report_document(&document_id, Default::default())
        .await?;
    let target = UploadTarget {
        bucket: bucket.to_owned(),
        key: format!("bench/{report_id}.tsv"),
        kms_key_id: None,
        format: domain::DocumentFormat::Tsv,
        metadata: BTreeMap::from([("report-id".to_owned(), report_id.clone())]),
    };
    let started = Instant::now();
    let stored = fetch_and_store(&client, &document, marketplace, &s3, &target, options).await?;
    let seconds = started.elapsed().as_secs_f64();
    if stored.sha256 != expected.sha256 || stored.rows != expected.rows {
        bail!(
            "stored {} rows sha256 {}, expected {} rows sha256 {}",
            stored.rows,
            stored.sha256,
            expected.rows,
            expected.sha256
        );
    }
    if s3_endpoint.is_some() {
        // Free moto's copy before the next, larger document.
        s3.delete_object()
            .bucket(bucket)
            .key(&target.key)
            .send()
            .await?;
    }
    println!(
        "{}",
        serde_json::json!({
            "seconds": seconds,
            "utf8_bytes": stored.bytes,
            "rows": stored.rows,
            "parts": stored.parts,
            "charset": stored.source_charset,
        })
    );
    Ok(())
}

/// Starts an S3 endpoint that answers the calls `store_document` makes, at once, and
/// discards every body: returns its URL.
async fn null_s3() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new().fallback(null_s3_call);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

async fn null_s3_call(
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let mut body = request.into_body().into_data_stream();
    while let Some(piece) = body.next().await {
        if piece.is_err() {
            return StatusCode::BAD_REQUEST.into_response();
        }
    }
    let etag = [(header::ETAG, "\"0123456789abcdef0123456789abcdef\"")];
    let copied = headers.contains_key("x-amz-copy-source");
    let xml = |text: String| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml")],
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{text}"),
        )
            .into_response()
    };
    let copy_result = |element: &str| {
        xml(format!(
            "<{element}><ETag>\"0123456789abcdef0123456789abcdef\"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></{element}>"
        ))
    };
    match method {
        Method::POST if query.contains_key("uploads") => xml(
            "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>null</UploadId></InitiateMultipartUploadResult>"
                .to_owned(),
        ),
        Method::POST if query.contains_key("uploadId") => xml(
            "<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>\"0123456789abcdef0123456789abcdef-1\"</ETag></CompleteMultipartUploadResult>"
                .to_owned(),
        ),
        Method::PUT if copied && query.contains_key("partNumber") => copy_result("CopyPartResult"),
        Method::PUT if copied => copy_result("CopyObjectResult"),
        Method::PUT => {
            // Echo the part's checksum, as S3 does, for the full-object checksum at the end.
            let mut response = (StatusCode::OK, etag).into_response();
            if let Some(crc) = headers.get("x-amz-checksum-crc32") {
                response
                    .headers_mut()
                    .insert("x-amz-checksum-crc32", crc.clone());
            }
            response
        }
        Method::DELETE => StatusCode::NO_CONTENT.into_response(),
        Method::GET if query.contains_key("list-type") => xml(
            "<ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>"
                .to_owned(),
        ),
        _ => StatusCode::NOT_IMPLEMENTED.into_response(),
    }
}
