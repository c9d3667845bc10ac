//! One report, end to end, against the SP-API simulator: authenticate, create yesterday's
//! orders report for the US marketplace, poll to DONE, stream the document and check it
//! against the simulator's digest. `make demo` runs this until the pipeline exists.
//!
//! ```text
//! cargo run -p spapi --example roundtrip                       # in-process simulator
//! cargo run -p spapi --example roundtrip -- --spapi-url http://127.0.0.1:8080 \
//!     --lwa-url http://127.0.0.1:8080/auth/o2/token            # an external one
//! ```
//! With an external simulator the credentials default to the simulator's and can be set
//! with `LWA_CLIENT_ID`, `LWA_CLIENT_SECRET`, `SPAPI_REFRESH_TOKEN`, `SELLING_PARTNER_ID`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Days, Utc};
use sha2::{Digest, Sha256};
use spapi::{
    CreateReportSpecification, Endpoints, LwaCredentials, ProcessingStatus, ReportDocumentOptions,
    SellerAuthorization, SpApiClient,
};
use tokio::io::AsyncReadExt;

const REPORT_TYPE: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const MARKETPLACE: &str = "ATVPDKIKX0DER";

struct Args {
    spapi_url: Option<String>,
    lwa_url: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        spapi_url: None,
        lwa_url: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (word, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| words.next())
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--spapi-url" => args.spapi_url = Some(value()?),
            "--lwa-url" => args.lwa_url = Some(value()?),
            "-h" | "--help" => {
                println!("usage: roundtrip [--spapi-url URL --lwa-url URL]");
                std::process::exit(0);
            }
            other => {
                bail!("unknown argument {other}; usage: roundtrip [--spapi-url URL --lwa-url URL]")
            }
        }
    }
    if args.spapi_url.is_some() != args.lwa_url.is_some() {
        bail!(
            "give both --spapi-url and --lwa-url, or neither (then a simulator starts in-process)"
        );
    }
    Ok(args)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("roundtrip failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the round trip; `Ok(false)` when the document does not match the digest.
async fn run() -> anyhow::Result<bool> {
    let args = parse_args()?;
    let (simulator, endpoints) = match (&args.spapi_url, &args.lwa_url) {
        (Some(spapi_url), Some(lwa_url)) => (None, Endpoints::parse(spapi_url, lwa_url)?),
        _ => {
            let sim = simulator::start(simulator::SimConfig::default())
                .await
                .context("starting the simulator")?;
            let endpoints = Endpoints::parse(&sim.base_url(), &sim.lwa_token_url())?;
            (Some(sim), endpoints)
        }
    };

    let client = SpApiClient::builder(endpoints)
        .app_credentials(LwaCredentials::new(
            env_or("LWA_CLIENT_ID", simulator::DEFAULT_CLIENT_ID),
            env_or("LWA_CLIENT_SECRET", simulator::DEFAULT_CLIENT_SECRET),
        ))
        .seller(SellerAuthorization::new(
            env_or("SELLING_PARTNER_ID", simulator::DEFAULT_SELLING_PARTNER_ID),
            env_or("SPAPI_REFRESH_TOKEN", simulator::DEFAULT_REFRESH_TOKEN),
        ))
        .build()?;
    client
        .seller_access_token()
        .await
        .context("authenticating with LWA")?;

    let today = Utc::now().date_naive();
    let yesterday = today
        .checked_sub_days(Days::new(1))
        .context("date underflow")?;
    let start = yesterday
        .and_hms_opt(0, 0, 0)
        .context("midnight")?
        .and_utc();
    let end =
        today.and_hms_opt(0, 0, 0).context("midnight")?.and_utc() - chrono::Duration::seconds(1);
    let specification =
        CreateReportSpecification::new(REPORT_TYPE, [MARKETPLACE]).with_data_window(start, end);
    let report_id = client.create_report(&specification).await?.report_id;

    let started = Instant::now();
    let report = loop {
        let report = client.get_report(&report_id).await?;
        if report.processing_status.is_terminal() {
            break report;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "report {report_id} is still {} after 2 minutes",
                report.processing_status
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if report.processing_status != ProcessingStatus::Done {
        bail!("report {report_id} ended {}", report.processing_status);
    }
    let document_id = report
        .report_document_id
        .context("a DONE report without a document id")?;

    let document = client
        .get_report_document(&document_id, ReportDocumentOptions::default())
        .await?;
    let mut stream = client.download_document(&document).await?;
    let charset = stream.charset().unwrap_or("unknown").to_owned();
    let mut hasher = Sha256::new();
    let (mut bytes, mut lines, mut last) = (0u64, 0u64, b'\n');
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = stream
            .read(&mut buffer)
            .await
            .context("reading the document")?;
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        hasher.update(chunk);
        bytes += read as u64;
        lines += chunk.iter().filter(|byte| **byte == b'\n').count() as u64;
        last = chunk[read - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    let rows = lines.saturating_sub(1);
    let sha256 = hex::encode(hasher.finalize());

    let expected = match &simulator {
        Some(sim) => sim
            .expected_document(&report_id)
            .await
            .map(|digest| Expected {
                source_sha256: digest.source_sha256,
                source_bytes: digest.source_bytes,
                rows: digest.rows,
            }),
        None => expected_from_external(&client, &report_id).await?,
    };
    let matches = expected
        .as_ref()
        .map(|digest| digest.source_sha256 == sha256);

    println!(
        "{:<14} {:<10} {:>10} {:>7} {:<8} {:<64} matches simulator",
        "report id", "status", "bytes", "rows", "charset", "sha256"
    );
    println!(
        "{:<14} {:<10} {:>10} {:>7} {:<8} {:<64} {}",
        report_id,
        report.processing_status.as_str(),
        bytes,
        rows,
        charset,
        sha256,
        match matches {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a (no digest)",
        }
    );
    if let Some(digest) = &expected
        && (digest.rows != rows || digest.source_bytes != bytes)
    {
        println!(
            "simulator expected {} rows, {} bytes",
            digest.rows, digest.source_bytes
        );
    }
    if let Some(sim) = simulator {
        sim.shutdown().await;
    }
    Ok(matches != Some(false))
}

/// The simulator's digest of a report's document, as served (source charset).
struct Expected {
    source_sha256: String,
    source_bytes: u64,
    rows: u64,
}

/// Asks an external simulator for its digest (`GET /_sim/reports/{id}`); `None` when the
/// host has no such endpoint (it is not the simulator).
async fn expected_from_external(
    client: &SpApiClient,
    report_id: &str,
) -> anyhow::Result<Option<Expected>> {
    let mut url = client.endpoints().spapi.clone();
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("the SP-API URL cannot take a path"))?
        .pop_if_empty()
        .extend(["_sim", "reports", report_id]);
    let response = client.http_client().get(url).send().await?;
    if !response.status().is_success() {
        return Ok(None);
    }
    let info: serde_json::Value = response.json().await?;
    let document = &info["document"];
    let text = |name: &str| document[name].as_str().map(str::to_owned);
    let number = |name: &str| document[name].as_u64();
    Ok(
        match (
            text("source_sha256"),
            number("source_bytes"),
            number("rows"),
        ) {
            (Some(source_sha256), Some(source_bytes), Some(rows)) => Some(Expected {
                source_sha256,
                source_bytes,
                rows,
            }),
            _ => None,
        },
    )
}
