//! Report documents on the wire: getReportDocument, the presigned-style URLs it hands
//! out (signed with a per-simulator secret, expiring like S3's), and the download
//! itself, streamed chunk by chunk through the charset encoder and gzip so memory stays
//! flat whatever the size. S3's XML errors answer expired or forged URLs.
//! <https://developer-docs.amazon.com/sp-api/docs/reports-api-v2021-06-30-retrieve-a-report>

use std::io::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::Operation;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::api_error::ApiError;
use crate::content::{ContentChunks, DocumentSpec, encode};
use crate::gateway;
use crate::query::QueryParams;
use crate::scenario::Charset;
use crate::state::{Shared, Simulator, World};

/// Routes of getReportDocument and of the document URLs.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/reports/2021-06-30/documents/{reportDocumentId}",
            get(get_report_document),
        )
        .route("/_documents/{documentId}", get(download))
}

const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Signature of a document URL: binds the document, its issue time, its lifetime and
/// whether it serves `Content-Encoding: gzip`.
fn signature(
    secret: &[u8; 32],
    document_id: &str,
    amz_date: &str,
    expires: &str,
    content_encoding: &str,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    for part in [document_id, amz_date, expires, content_encoding] {
        hasher.update(part.as_bytes());
        hasher.update([b'\n']);
    }
    hex::encode(hasher.finalize())
}

/// A presigned-style URL for a document, valid `ttl_secs` from `issued`.
pub(crate) fn document_url(
    sim: &Simulator,
    document_id: &str,
    issued: DateTime<Utc>,
    ttl_secs: u64,
    gzip_encoding: bool,
) -> String {
    let mut world = sim.world();
    document_url_in(
        sim,
        &mut world,
        document_id,
        issued,
        ttl_secs,
        gzip_encoding,
    )
}

/// [`document_url`] for a caller that holds the world's lock.
pub(crate) fn document_url_in(
    sim: &Simulator,
    world: &mut World,
    document_id: &str,
    issued: DateTime<Utc>,
    ttl_secs: u64,
    gzip_encoding: bool,
) -> String {
    let amz_date = issued.format(AMZ_DATE_FORMAT).to_string();
    let expires = ttl_secs.to_string();
    let content_encoding = if gzip_encoding { "gzip" } else { "" };
    let signature = signature(
        &sim.url_secret,
        document_id,
        &amz_date,
        &expires,
        content_encoding,
    );
    // X-Amz-Date has whole seconds; the exact issue instant makes a 1 s URL live 1 s.
    world
        .document_urls_issued
        .insert(signature.clone(), Instant::now());
    let credential = format!(
        "SIMULATOR%2F{}%2Fus-east-1%2Fs3%2Faws4_request",
        issued.format("%Y%m%d")
    );
    let mut url = format!(
        "{}/_documents/{document_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
        sim.base_url
    );
    if gzip_encoding {
        url.push_str("&response-content-encoding=gzip");
    }
    url.push_str("&X-Amz-Signature=");
    url.push_str(&signature);
    url
}

async fn get_report_document(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(document_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    gateway::handle(&sim, Operation::GetReportDocument, &headers, |caller| {
        let seller = caller.seller()?;
        let params = QueryParams::parse(query.as_deref());
        let content_encoding = match params.single("enableContentEncodingUrlHeader") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::invalid_input(format!(
                    "enableContentEncodingUrlHeader must be true or false; got {other:?}."
                )));
            }
        };
        let mut world = sim.world();
        let default_ttl = world.scenario.url_ttl_secs;
        let report = world
            .reports
            .by_document_mut(&document_id)
            .filter(|report| report.selling_partner_id == seller)
            .filter(|report| report.visible_document_id(Instant::now()).is_some())
            .ok_or_else(|| {
                ApiError::not_found(format!("Report document {document_id} not found."))
            })?;
        let compressed = report.plan.compress;
        let hosted_elsewhere = report.plan.document_url.clone();
        let born_expired = report.plan.expire_first_url && report.urls_issued == 0;
        report.urls_issued += 1;
        let ttl = if born_expired {
            0
        } else {
            report.plan.url_ttl_secs.unwrap_or(default_ttl)
        };
        drop(world);
        let url = hosted_elsewhere.unwrap_or_else(|| {
            document_url(
                &sim,
                &document_id,
                Utc::now(),
                ttl,
                content_encoding && compressed,
            )
        });
        let mut body = json!({ "reportDocumentId": document_id, "url": url });
        if compressed {
            body["compressionAlgorithm"] = json!("GZIP");
        }
        Ok(Json(body).into_response())
    })
}

/// An S3 error answer.
fn s3_error(status: StatusCode, code: &str, message: &str, extra: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let request_id = &request_id[..16];
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>{request_id}</RequestId><HostId>simulator</HostId></Error>"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amz-request-id", id);
    }
    response
}

fn unix_seconds_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// `GET /_documents/{documentId}?X-Amz-…`: the presigned download.
async fn download(
    State(sim): State<Shared>,
    Path(document_id): Path<String>,
    RawQuery(query): RawQuery,
    request_headers: HeaderMap,
) -> Response {
    let params = QueryParams::parse(query.as_deref());
    let (Some(amz_date), Some(expires), Some(given_signature)) = (
        params.single("X-Amz-Date"),
        params.single("X-Amz-Expires"),
        params.single("X-Amz-Signature"),
    ) else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied", "");
    };
    let content_encoding = params.single("response-content-encoding").unwrap_or("");
    let expected = signature(
        &sim.url_secret,
        &document_id,
        amz_date,
        expires,
        content_encoding,
    );
    if expected != given_signature {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            "",
        );
    }
    let (Ok(issued), Ok(ttl)) = (
        NaiveDateTime::parse_from_str(amz_date, AMZ_DATE_FORMAT),
        expires.parse::<i64>(),
    ) else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied", "");
    };
    let expiry = issued.and_utc().timestamp().saturating_add(ttl);
    let issued_at = sim
        .world()
        .document_urls_issued
        .get(given_signature)
        .copied();
    let expired = match issued_at {
        Some(issued_at) => issued_at.elapsed().as_secs_f64() >= ttl as f64,
        None => unix_seconds_now() >= expiry,
    };
    if expired {
        let expired_at = DateTime::from_timestamp(expiry, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ");
        let server_time = Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
            &format!(
                "<X-Amz-Expires>{expires}</X-Amz-Expires><Expires>{expired_at}</Expires><ServerTime>{server_time}</ServerTime>"
            ),
        );
    }

    let from = request_headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(range_start);
    let served = to_serve(&mut sim.world(), &document_id, sim.seed, from);
    let Some((spec, compressed, cut, origin_id)) = served else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            "",
        );
    };
    tracing::info!(origin_id, document_id, ?cut, from, "serving document");

    let content_type = spec.content_type();
    // A range: S3 answers 206 with where the bytes sit in the whole object, so the whole
    // length is needed first (one pass over the generated document, nothing kept).
    let (status, skip, range) = match from {
        Some(from) => {
            let total =
                DocumentStream::new(&spec, compressed, Cut::None, sim.shutdown.clone()).total_len();
            if from >= total {
                return s3_error(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    "",
                );
            }
            (StatusCode::PARTIAL_CONTENT, from, Some((from, total)))
        }
        None => (StatusCode::OK, 0, None),
    };
    let stream = DocumentStream::new(&spec, compressed, cut, sim.shutdown.clone());
    let counted = sim.clone();
    let body = Body::from_stream(futures_util::stream::unfold(
        (stream, skip),
        move |(mut stream, mut skip)| {
            let sim = counted.clone();
            let document_id = document_id.clone();
            async move {
                loop {
                    let piece = stream.next_piece()?;
                    let piece = match piece {
                        Ok(mut bytes) => {
                            let dropped = skip.min(bytes.len() as u64);
                            skip -= dropped;
                            let _ = bytes.split_to(dropped as usize);
                            if bytes.is_empty() {
                                continue;
                            }
                            if let Some(report) = sim.world().reports.by_document_mut(&document_id)
                            {
                                report.bytes_served += bytes.len() as u64;
                            }
                            Ok(bytes)
                        }
                        Err(error) => Err(error),
                    };
                    return Some((piece, (stream, skip)));
                }
            }
        },
    ));
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some((from, total)) = range {
        let content_range = format!("bytes {from}-{}/{total}", total - 1);
        if let Ok(value) = HeaderValue::from_str(&content_range) {
            headers.insert(header::CONTENT_RANGE, value);
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total - from));
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if compressed && content_encoding == "gzip" {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(id) =
        HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase())
    {
        headers.insert("x-amz-request-id", id);
    }
    response
}

/// The document behind an id, a report's or a Data Kiosk query's, with how this download
/// is served (compressed, cut short) and the id of its report or query; counts the download.
fn to_serve(
    world: &mut World,
    document_id: &str,
    seed: u64,
    from: Option<u64>,
) -> Option<(DocumentSpec, bool, Cut, String)> {
    if let Some(report) = world.reports.by_document_mut(document_id) {
        let spec = report.document_spec(seed)?;
        let first = report.downloads_served == 0;
        let cut = match (
            report.plan.truncate_first_download,
            report.plan.reset_first_download,
        ) {
            (true, _) if first => Cut::CleanEnd,
            (_, true) if first => Cut::Reset,
            _ => Cut::None,
        };
        report.downloads_served += 1;
        if from.is_some() {
            report.range_requests += 1;
            report.last_range_start = from;
        }
        return Some((spec, report.plan.compress, cut, report.report_id.clone()));
    }
    if let Some(query) = world.queries.by_document_mut(document_id) {
        let spec = query.document_spec(seed)?;
        query.downloads_served += 1;
        return Some((spec, query.plan.compress, Cut::None, query.query_id.clone()));
    }
    // An AMC result file: plain CSV.
    if let Some((execution, part)) = world.amc.by_document_mut(document_id) {
        let spec = execution.document_spec(part, seed)?;
        execution.downloads_served += 1;
        return Some((spec, false, Cut::None, execution.execution_id.clone()));
    }
    // An Ads report file: a `.json.gz` object, gzip without Content-Encoding.
    let report = world.ads.by_document_mut(document_id)?;
    let spec = report.document_spec(seed)?;
    report.downloads_served += 1;
    Some((spec, true, Cut::None, report.report_id.clone()))
}

/// The start of a `Range: bytes=<start>-` header; other forms are not supported (the
/// whole document is sent, as a server that ignores ranges would).
fn range_start(value: &str) -> Option<u64> {
    value
        .trim()
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

/// How a download is cut short, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// The whole document.
    None,
    /// Halfway, a clean end of the body (a gzip body after a sync flush): the client's
    /// decoder meets an unexpected end.
    CleanEnd,
    /// Halfway, the connection is reset.
    Reset,
}

/// The bytes of one download: text chunks → charset → gzip, produced as the client reads.
struct DocumentStream {
    chunks: ContentChunks,
    charset: Charset,
    gzip: Option<GzEncoder<Vec<u8>>>,
    /// Rows after which a cut download stops.
    row_limit: u64,
    cut: Cut,
    shutdown: CancellationToken,
    ended: bool,
}

impl DocumentStream {
    fn new(spec: &DocumentSpec, compressed: bool, cut: Cut, shutdown: CancellationToken) -> Self {
        Self {
            chunks: spec.chunks(),
            charset: spec.charset,
            // The fastest level: the ratio does not matter to a client, the time does.
            // flate2 writes mtime 0, so the gzip bytes are deterministic too.
            gzip: compressed.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
            row_limit: if cut == Cut::None {
                u64::MAX
            } else {
                spec.data_rows() / 2
            },
            cut,
            shutdown,
            ended: false,
        }
    }

    /// The length of the whole body, by producing it.
    fn total_len(mut self) -> u64 {
        let mut total = 0;
        while let Some(Ok(piece)) = self.next_piece() {
            total += piece.len() as u64;
        }
        total
    }

    /// The next piece of the body; `None` ends it cleanly, an error aborts the connection.
    fn next_piece(&mut self) -> Option<std::io::Result<Bytes>> {
        loop {
            if self.ended {
                return None;
            }
            if self.shutdown.is_cancelled() {
                self.ended = true;
                return Some(Err(std::io::Error::other("simulator shutting down")));
            }
            match self.chunks.next_chunk(self.row_limit) {
                Some(text) => {
                    let encoded = encode(self.charset, &text);
                    let Some(gzip) = self.gzip.as_mut() else {
                        return Some(Ok(Bytes::from(encoded.into_owned())));
                    };
                    if let Err(error) = gzip.write_all(&encoded) {
                        self.ended = true;
                        return Some(Err(error));
                    }
                    let compressed = std::mem::take(gzip.get_mut());
                    if !compressed.is_empty() {
                        return Some(Ok(Bytes::from(compressed)));
                    }
                }
                None if self.chunks.is_finished() => {
                    self.ended = true;
                    let gzip = self.gzip.as_mut()?;
                    return match gzip.try_finish() {
                        Ok(()) => Some(Ok(Bytes::from(std::mem::take(gzip.get_mut())))),
                        Err(error) => Some(Err(error)),
                    };
                }
                None => {
                    // Truncated download: a gzip body ends cleanly after a sync flush, so
                    // the client can inflate the first half and then meets an unexpected
                    // end of the gzip stream; a plain body, or a reset, aborts the
                    // connection (what was sent is a prefix of the whole body).
                    self.ended = true;
                    if self.cut == Cut::Reset {
                        return Some(Err(std::io::Error::other(
                            "simulated connection reset mid-document",
                        )));
                    }
                    let Some(gzip) = self.gzip.as_mut() else {
                        return Some(Err(std::io::Error::other(
                            "simulated connection reset mid-document",
                        )));
                    };
                    return match gzip.flush() {
                        Ok(()) => Some(Ok(Bytes::from(std::mem::take(gzip.get_mut())))),
                        Err(error) => Some(Err(error)),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read as _;

    use super::*;
    use crate::content::DocumentKind;

    fn spec(rows: u64) -> DocumentSpec {
        DocumentSpec {
            report_type: "GET_MERCHANT_LISTINGS_ALL_DATA".into(),
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            data_start: "2024-05-01T00:00:00Z".parse().unwrap(),
            data_end: "2024-05-02T00:00:00Z".parse().unwrap(),
            report_options: BTreeMap::new(),
            seed: 1,
            rows,
            charset: Charset::Utf8,
            kind: DocumentKind::Report,
            columns: crate::content::ColumnChanges::default(),
        }
    }

    fn body(stream: &mut DocumentStream) -> (Vec<u8>, bool) {
        let mut bytes = Vec::new();
        while let Some(piece) = stream.next_piece() {
            match piece {
                Ok(piece) => bytes.extend_from_slice(&piece),
                Err(_) => return (bytes, true),
            }
        }
        (bytes, false)
    }

    #[test]
    fn only_open_ended_byte_ranges_are_understood() {
        assert_eq!(range_start("bytes=1024-"), Some(1024));
        assert_eq!(range_start(" bytes=0-"), Some(0));
        assert_eq!(range_start("bytes=0-99"), None);
        assert_eq!(range_start("bytes=-500"), None);
        assert_eq!(range_start("items=5-"), None);
    }

    #[test]
    fn a_reset_download_sends_a_prefix_of_the_whole_body_then_fails() {
        let spec = spec(2000);
        let (whole, _) = body(&mut DocumentStream::new(
            &spec,
            true,
            Cut::None,
            CancellationToken::new(),
        ));
        let (prefix, aborted) = body(&mut DocumentStream::new(
            &spec,
            true,
            Cut::Reset,
            CancellationToken::new(),
        ));
        assert!(aborted);
        assert!(!prefix.is_empty() && prefix.len() < whole.len());
        assert_eq!(&whole[..prefix.len()], &prefix[..]);
    }

    #[test]
    fn whole_gzip_download_inflates_to_the_document() {
        let spec = spec(2000);
        let mut stream = DocumentStream::new(&spec, true, Cut::None, CancellationToken::new());
        let (bytes, aborted) = body(&mut stream);
        assert!(!aborted);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, spec.chunks().collect::<String>());
    }

    #[test]
    fn truncated_gzip_download_ends_cleanly_mid_stream() {
        let spec = spec(2000);
        let mut stream = DocumentStream::new(&spec, true, Cut::CleanEnd, CancellationToken::new());
        let (bytes, aborted) = body(&mut stream);
        assert!(!aborted, "the HTTP body ends cleanly");
        let mut text = String::new();
        let error = flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn truncated_plain_download_aborts_after_half() {
        let spec = spec(10);
        let mut stream = DocumentStream::new(&spec, false, Cut::CleanEnd, CancellationToken::new());
        let (bytes, aborted) = body(&mut stream);
        assert!(aborted);
        assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 6);
    }

    #[test]
    fn signature_binds_every_part() {
        let secret = [7u8; 32];
        let base = signature(&secret, "doc", "20240501T000000Z", "300", "");
        assert_ne!(
            base,
            signature(&secret, "doc", "20240501T000000Z", "301", "")
        );
        assert_ne!(
            base,
            signature(&secret, "doc", "20240501T000001Z", "300", "")
        );
        assert_ne!(
            base,
            signature(&secret, "doc", "20240501T000000Z", "300", "gzip")
        );
        assert_ne!(
            base,
            signature(&[8u8; 32], "doc", "20240501T000000Z", "300", "")
        );
    }
}
