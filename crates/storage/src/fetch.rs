//! Download and store, starting over from a fresh URL when the download fails in a way a
//! fresh URL fixes.
//!
//! Amazon's document URLs expire 5 minutes after getReportDocument
//! (api-facts.md §3.3, §8 pitfall 10), and a long download, a slow Step Functions hop or
//! a retried Lambda easily outlives one; a cut-off body or broken gzip is also cured by
//! downloading again. Each attempt is a complete [`store_document`]: its multipart upload
//! is aborted before the next attempt starts, and nothing is resumed, so the stored bytes
//! always come from a single download.

use aws_sdk_s3::Client;
use domain::{DocumentFormat, ErrorName};
use spapi::ads::AdsClient;
use spapi::amc::AmcClient;
use spapi::data_kiosk::DocumentSource;
use spapi::{CompressionAlgorithm, ReportDocument, SpApiClient};
use tokio::io::AsyncReadExt;

use crate::error::StoreError;
use crate::json_lines::LinesReader;
use crate::stream::{StoreOptions, StoredObject, UploadTarget, metadata, store_document};
use crate::transcode::{SNIFF_BYTES, SourceCharset};

/// Fresh URLs fetched after `DocumentUrlExpired` (before or during the download).
pub const URL_EXPIRED_RETRIES: u32 = 2;
/// Fresh URLs fetched after `DocumentTruncated`.
pub const TRUNCATED_RETRIES: u32 = 1;

/// Downloads `document` with `client` and stores it at `target`, fetching a fresh URL
/// (getReportDocument) and starting over on an expired URL (up to
/// [`URL_EXPIRED_RETRIES`] times) or a truncated download ([`TRUNCATED_RETRIES`]).
///
/// The charset comes from the download's `Content-Type`, else from Amazon's flat-file
/// default for `marketplace_id`. Besides [`store_document`]'s metadata the object gets
/// `source-compression`. After the budget the last error is returned inside
/// [`StoreError::GaveUp`], with its stable name.
pub async fn fetch_and_store(
    client: &SpApiClient,
    document: &ReportDocument,
    marketplace_id: &str,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
) -> Result<StoredObject, StoreError> {
    fetch_and_store_from(
        client,
        DocumentSource::Report,
        document,
        marketplace_id,
        s3,
        target,
        options,
    )
    .await
}

/// [`fetch_and_store`] for a document of `source` (a fresh URL is asked of its API).
pub async fn fetch_and_store_from(
    client: &SpApiClient,
    source: DocumentSource,
    document: &ReportDocument,
    marketplace_id: &str,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
) -> Result<StoredObject, StoreError> {
    let document_id = document.report_document_id.as_str();
    let mut fresh: Option<ReportDocument> = None;
    with_fresh_urls(document_id, async |attempt| {
        if attempt > 1 {
            let refreshed = client
                .fresh_document(source, document_id)
                .await
                .map_err(|source| StoreError::RefreshUrl {
                    document_id: document_id.to_owned(),
                    source: Box::new(source),
                })?;
            fresh = Some(refreshed);
        }
        let current = fresh.as_ref().unwrap_or(document);
        store_once(client, current, marketplace_id, s3, target, options).await
    })
    .await
}

/// An Amazon Ads report's file — a gzip JSON array of rows — stored at `target` as JSON
/// Lines (one row per line, memory flat), each attempt from a fresh URL read with
/// getReport, on the same terms as [`fetch_and_store`].
pub async fn fetch_and_store_ads(
    client: &AdsClient,
    profile_id: u64,
    report_id: &str,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
) -> Result<StoredObject, StoreError> {
    let ads = |source| StoreError::Ads {
        report_id: report_id.to_owned(),
        source: Box::new(source),
    };
    with_fresh_urls(report_id, async |_| {
        let report = client
            .get_report(profile_id, report_id)
            .await
            .map_err(ads)?;
        let file = client.download(&report).await.map_err(ads)?;
        let mut target = target.clone();
        target.metadata.insert(
            metadata::SOURCE_COMPRESSION.to_owned(),
            CompressionAlgorithm::Gzip.as_str().to_owned(),
        );
        store_document(
            LinesReader::new(file),
            SourceCharset::utf8(),
            s3,
            &target,
            options,
        )
        .await
    })
    .await
}

/// File `part` of an AMC execution's result (plain CSV) stored at `target`: from
/// `first_url` (from the download URLs the caller just read), then, after an expired URL
/// or a cut body, from fresh download URLs (they live 10 minutes), on the same terms as
/// [`fetch_and_store`].
///
/// Answers the object and, when the workflow names a `filtered` column, how many rows
/// AMC filtered for privacy (that column `true`).
#[allow(clippy::too_many_arguments)] // the execution, the file, and where it goes
pub async fn fetch_and_store_amc_file(
    client: &AmcClient,
    instance_id: &str,
    execution_id: &str,
    part: usize,
    first_url: Option<&str>,
    filtered: Option<&str>,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
) -> Result<(StoredObject, u64), StoreError> {
    let amc = |source| StoreError::Ads {
        report_id: execution_id.to_owned(),
        source: Box::new(source),
    };
    with_fresh_urls(execution_id, async |attempt| {
        let url = match first_url.filter(|_| attempt == 1) {
            Some(url) => url.to_owned(),
            None => {
                let urls = client
                    .download_urls(instance_id, execution_id)
                    .await
                    .map_err(amc)?;
                urls.download_urls.get(part).cloned().ok_or_else(|| {
                    amc(spapi::ads::AdsError::Malformed {
                        what: "getDownloadUrls",
                        problem: format!(
                            "no file {part} among the {} of the result",
                            urls.download_urls.len()
                        ),
                    })
                })?
            }
        };
        let file = client.download(&url).await.map_err(amc)?;
        let charset = SourceCharset::resolve(file.charset(), "", target.format, &[])?;
        let mut target = target.clone();
        target
            .metadata
            .insert(metadata::SOURCE_COMPRESSION.to_owned(), "none".to_owned());
        let mut counter = filtered.map(domain::csv::FlagCounter::new);
        let tapped = crate::tap::Tap::new(file, |bytes: &[u8]| {
            if let Some(counter) = counter.as_mut() {
                counter.push(bytes);
            }
        });
        let stored = store_document(tapped, charset, s3, &target, options).await?;
        Ok((
            stored,
            counter.as_mut().map_or(0, domain::csv::FlagCounter::finish),
        ))
    })
    .await
}

/// Runs `attempt` (numbered from 1) until it stores the document, again after an
/// expired URL (up to [`URL_EXPIRED_RETRIES`] times) or a truncated download
/// ([`TRUNCATED_RETRIES`]); the attempt fetches its fresh URL itself.
async fn with_fresh_urls<T>(
    document_id: &str,
    mut attempt: impl AsyncFnMut(u32) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let (mut expired, mut truncated, mut attempts) = (0, 0, 0);
    loop {
        attempts += 1;
        let error = match attempt(attempts).await {
            Ok(stored) => return Ok(stored),
            Err(error) => error,
        };
        let retry = match error.name() {
            ErrorName::DocumentUrlExpired if expired < URL_EXPIRED_RETRIES => {
                expired += 1;
                true
            }
            ErrorName::DocumentTruncated if truncated < TRUNCATED_RETRIES => {
                truncated += 1;
                true
            }
            _ => false,
        };
        if !retry {
            return Err(if attempts == 1 {
                error
            } else {
                StoreError::GaveUp {
                    document_id: document_id.to_owned(),
                    attempts,
                    source: Box::new(error),
                }
            });
        }
        tracing::warn!(
            document_id,
            attempt = attempts,
            name = %error.name(),
            error = &error as &dyn std::error::Error,
            "document download failed; starting over from a fresh URL"
        );
    }
}

/// One attempt: start the download, pick the charset, stream it to S3.
async fn store_once(
    client: &SpApiClient,
    document: &ReportDocument,
    marketplace_id: &str,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
) -> Result<StoredObject, StoreError> {
    let stream =
        client
            .download_document(document)
            .await
            .map_err(|source| StoreError::Download {
                document_id: document.report_document_id.clone(),
                source: Box::new(source),
            })?;
    let label = stream.charset().map(str::to_owned);
    let mut target = target.clone();
    target.metadata.insert(
        metadata::SOURCE_COMPRESSION.to_owned(),
        stream
            .compression()
            .map_or("none", |compression| compression.as_str())
            .to_owned(),
    );
    // An unlabelled flat file: look at its start before choosing how to decode it.
    let mut stream = stream;
    let mut head = Vec::new();
    if label.is_none() && target.format == DocumentFormat::Tsv {
        (&mut stream)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|source| StoreError::Read {
                source_bytes: head.len() as u64,
                source,
            })?;
    }
    let charset = SourceCharset::resolve(label.as_deref(), marketplace_id, target.format, &head)?;
    let reader = std::io::Cursor::new(head).chain(stream);
    store_document(reader, charset, s3, &target, options).await
}
