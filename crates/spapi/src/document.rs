//! Report documents as a stream: presigned URL → bytes → gunzip → `AsyncRead`.
//!
//! A document can be gigabytes, so it is never held in memory: the HTTP body flows through
//! a gzip decoder straight to the caller (design.md "Streams, not buffers"). Amazon signals
//! compression two ways — `compressionAlgorithm: GZIP` in the ReportDocument, or
//! `Content-Encoding: gzip` on the download when `enableContentEncodingUrlHeader` was set —
//! and the body is gzip once either way, so it is decoded exactly once (api-facts.md §8.9).
//! The charset comes from `Content-Type` because Japanese flat files are CP932, not UTF-8
//! (§8.7); the client does not transcode, the Storage Lambda does.
//!
//! A download that breaks (connection reset, body shorter than its `Content-Length`)
//! resumes where it broke: the rest is asked for with `Range: bytes=<received>-`, from a
//! fresh URL when the first one expired meanwhile, so the bytes already received (and
//! decoded, and uploaded) are not fetched again. The decoder above sees one unbroken
//! body; a host that ignores the range ends the stream with an error instead.
//!
//! Failures carry stable names: a refused URL (S3 `AccessDenied` "Request has expired",
//! the URL lives 5 minutes, §3.3) is `DocumentUrlExpired`; a body that ends early and
//! cannot be resumed, or gzip that does not decode, is `DocumentTruncated`, reported
//! through the `io::Error` of the reader (see [`document_error_name`]). The caller then
//! fetches a fresh URL and starts over, so no half-written object is ever completed.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::GzipDecoder;
use domain::ErrorName;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::StreamReader;

use crate::client::SpApiClient;
use crate::error::Error;
use crate::reports::{CompressionAlgorithm, ReportDocument, ReportDocumentOptions};

/// Error bodies of S3 are a few hundred bytes; more than this is not an S3 error.
const ERROR_BODY_LIMIT: usize = 8 * 1024;

/// Range requests made to finish one broken download before giving up on it.
pub const RESUMES_PER_DOWNLOAD: u32 = 3;

/// Why a document download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The presigned URL was refused: it expired (5 minutes after getReportDocument).
    #[error("the document URL was refused with HTTP {status}{s3}: presigned URLs live 5 minutes; \
        call getReportDocument again and download at once", s3 = s3_said(code.as_deref(), message.as_deref()))]
    UrlExpired {
        /// 403 (or 400 for an expired session token).
        status: u16,
        /// S3's error code, e.g. `AccessDenied`.
        code: Option<String>,
        /// S3's message, e.g. "Request has expired".
        message: Option<String>,
    },

    /// The body ended early, the connection broke or the gzip data did not decode.
    #[error(
        "the document download ended early or its gzip data is corrupt: download it again from a fresh URL"
    )]
    Truncated {
        /// What the HTTP client or the decoder reported.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },

    /// The document host answered with an unexpected status.
    #[error("the document host answered HTTP {status}{s3}: try again later", s3 = s3_said(code.as_deref(), message.as_deref()))]
    HostError {
        /// The HTTP status.
        status: u16,
        /// S3's error code, if any.
        code: Option<String>,
        /// S3's message, if any.
        message: Option<String>,
    },

    /// The document host could not be reached.
    #[error("the document host could not be reached")]
    Unreachable {
        /// The transport error (without the URL, which holds the signature).
        #[source]
        source: reqwest::Error,
    },

    /// The URL in the ReportDocument is not a URL.
    #[error("the document URL from getReportDocument is not a valid URL: {reason}")]
    InvalidUrl {
        /// Why it did not parse.
        reason: String,
    },
}

impl DocumentError {
    /// The stable name of the failure.
    pub fn name(&self) -> ErrorName {
        match self {
            DocumentError::UrlExpired { .. } => ErrorName::DocumentUrlExpired,
            DocumentError::Truncated { .. } => ErrorName::DocumentTruncated,
            DocumentError::HostError { .. }
            | DocumentError::Unreachable { .. }
            | DocumentError::InvalidUrl { .. } => ErrorName::UpstreamUnavailable,
        }
    }

    /// The `DocumentError` inside an `io::Error` returned by a [`DocumentStream`].
    pub fn from_io(error: &io::Error) -> Option<&DocumentError> {
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<DocumentError>())
    }

    fn truncated(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        DocumentError::Truncated {
            source: source.into(),
        }
    }
}

/// The stable name of an `io::Error` read from a [`DocumentStream`] (e.g.
/// `DocumentTruncated`); `None` for errors that did not come from a document stream.
pub fn document_error_name(error: &io::Error) -> Option<ErrorName> {
    DocumentError::from_io(error).map(DocumentError::name)
}

/// A report document's content, decompressed, as an [`AsyncRead`].
///
/// Read errors are `io::Error`s wrapping a [`DocumentError`]; use
/// [`document_error_name`] to get their stable name.
pub struct DocumentStream {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    charset: Option<String>,
    content_length: Option<u64>,
    compression: Option<CompressionAlgorithm>,
}

impl DocumentStream {
    /// The `charset` parameter of the download's `Content-Type` (e.g. `Cp932`), as sent.
    pub fn charset(&self) -> Option<&str> {
        self.charset.as_deref()
    }

    /// The download's `Content-Length`: the size on the wire, compressed if gzip.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The compression that is being undone, if any.
    pub fn compression(&self) -> Option<CompressionAlgorithm> {
        self.compression
    }
}

impl DocumentStream {
    /// The body of `response` (gzip when `gzip`, decompressed as it is read), without
    /// resuming a broken download (the caller starts over from a fresh URL instead):
    /// Amazon Ads report files (gzip without a `Content-Encoding` that says so) and AMC
    /// result files (plain CSV).
    pub(crate) fn file(response: reqwest::Response, gzip: bool) -> DocumentStream {
        use futures_util::TryStreamExt as _;

        let content_length = response.content_length();
        let charset = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(charset_of);
        let body = StreamReader::new(
            response
                .bytes_stream()
                .map_err(|error| io::Error::other(DocumentError::truncated(error.without_url()))),
        );
        let reader: Pin<Box<dyn AsyncRead + Send>> = if gzip {
            let mut decoder = GzipDecoder::new(body);
            decoder.multiple_members(true);
            Box::pin(decoder)
        } else {
            Box::pin(body)
        };
        DocumentStream {
            reader,
            charset,
            content_length,
            compression: gzip.then_some(CompressionAlgorithm::Gzip),
        }
    }

    /// Why a download was refused (an expired URL, or the host's error), from its
    /// status and S3's XML error body.
    pub(crate) async fn refused(status: StatusCode, response: reqwest::Response) -> DocumentError {
        refusal(status, response).await
    }
}

impl fmt::Debug for DocumentStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentStream")
            .field("charset", &self.charset)
            .field("content_length", &self.content_length)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for DocumentStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().reader.as_mut().poll_read(cx, buf) {
            // Errors of the body already carry a DocumentError; what else comes up here
            // is the decoder's: corrupt or cut-off gzip.
            Poll::Ready(Err(error)) if DocumentError::from_io(&error).is_none() => {
                Poll::Ready(Err(io::Error::other(DocumentError::truncated(error))))
            }
            other => other,
        }
    }
}

impl SpApiClient {
    /// Starts downloading `document`; the content arrives decompressed as it is read.
    ///
    /// The presigned URL is requested without any SP-API header (it is S3, and the access
    /// token must not travel there). Call right after
    /// [`get_report_document`](SpApiClient::get_report_document).
    pub async fn download_document(
        &self,
        document: &ReportDocument,
    ) -> Result<DocumentStream, Error> {
        let url = url::Url::parse(&document.url).map_err(|source| DocumentError::InvalidUrl {
            reason: source.to_string(),
        })?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let response = self.http_client().get(url).send().await.map_err(|source| {
            DocumentError::Unreachable {
                source: source.without_url(),
            }
        })?;
        let status = response.status();
        tracing::debug!(document_id = %document.report_document_id, %host, status = status.as_u16(),
            "document host answered");
        if !status.is_success() {
            return Err(refusal(status, response).await.into());
        }

        let headers = response.headers();
        let header = |name| headers.get(name).and_then(|value| value.to_str().ok());
        let charset = header(CONTENT_TYPE).and_then(charset_of);
        let content_length = header(CONTENT_LENGTH).and_then(|value| value.trim().parse().ok());
        let gzip_encoded = header(CONTENT_ENCODING).is_some_and(is_gzip_encoding);
        let etag = headers.get(reqwest::header::ETAG).cloned();
        let gzip =
            gzip_encoded || document.compression_algorithm == Some(CompressionAlgorithm::Gzip);

        let body = ResumableBody {
            client: self.clone(),
            document_id: document.report_document_id.clone(),
            gzip_encoded,
            url: document.url.clone(),
            current: Box::pin(response.bytes_stream()),
            received: 0,
            expected: content_length,
            etag: etag.clone(),
            resumes_left: RESUMES_PER_DOWNLOAD,
            ended: false,
        };
        let body = StreamReader::new(futures_util::stream::unfold(body, ResumableBody::next));
        let reader: Pin<Box<dyn AsyncRead + Send>> = if gzip {
            let mut decoder = GzipDecoder::new(body);
            // Large gzip files are sometimes several members back to back; one member
            // would silently stop at the first boundary.
            decoder.multiple_members(true);
            Box::pin(decoder)
        } else {
            Box::pin(body)
        };
        tracing::info!(document_id = %document.report_document_id, charset = charset.as_deref(), content_length,
            gzip, gzip_encoded, "downloading document");
        Ok(DocumentStream {
            reader,
            charset,
            content_length,
            compression: gzip.then_some(CompressionAlgorithm::Gzip),
        })
    }
}

type ByteStream = Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The body of one download, resumed with `Range` requests where it breaks.
struct ResumableBody {
    client: SpApiClient,
    document_id: String,
    /// Whether the URL serves `Content-Encoding: gzip` (a fresh URL must too).
    gzip_encoded: bool,
    /// The presigned URL in use (never logged).
    url: String,
    current: ByteStream,
    /// Body bytes received so far, over every response.
    received: u64,
    /// The whole body's length, when the host said it.
    expected: Option<u64>,
    /// The object's ETag, when the host gave one: a resumed range must come from the
    /// same bytes (`If-Match`; S3 answers 412 otherwise, and the download starts over).
    etag: Option<reqwest::header::HeaderValue>,
    resumes_left: u32,
    ended: bool,
}

impl ResumableBody {
    /// The next piece of the body, resuming the download when it broke.
    async fn next(mut self) -> Option<(io::Result<bytes::Bytes>, Self)> {
        use futures_util::StreamExt;

        loop {
            if self.ended {
                return None;
            }
            let broken: Box<dyn StdError + Send + Sync> = match self.current.next().await {
                Some(Ok(piece)) => {
                    self.received += piece.len() as u64;
                    return Some((Ok(piece), self));
                }
                Some(Err(error)) => Box::new(error.without_url()),
                None => match self.expected {
                    Some(expected) if self.received < expected => {
                        format!("the body ended after {} of {expected} bytes", self.received).into()
                    }
                    _ => return None,
                },
            };
            if self.resumes_left == 0 {
                self.ended = true;
                return Some((
                    Err(io::Error::other(DocumentError::truncated(broken))),
                    self,
                ));
            }
            self.resumes_left -= 1;
            tracing::warn!(document_id = %self.document_id, received = self.received, error = %broken,
                "document download broke; asking for the rest with a Range request");
            if let Err(error) = self.resume().await {
                self.ended = true;
                return Some((Err(io::Error::other(error)), self));
            }
        }
    }

    /// Asks for the bytes from `received` on; with a fresh URL when this one expired.
    async fn resume(&mut self) -> Result<(), DocumentError> {
        let mut refreshed = false;
        loop {
            let mut request = self
                .client
                .http_client()
                .get(&self.url)
                .header(reqwest::header::RANGE, format!("bytes={}-", self.received));
            if let Some(etag) = &self.etag {
                request = request.header(reqwest::header::IF_MATCH, etag.clone());
            }
            let response = request
                .send()
                .await
                .map_err(|source| DocumentError::Unreachable {
                    source: source.without_url(),
                })?;
            let status = response.status();
            if status == StatusCode::PARTIAL_CONTENT {
                let starts_here = response
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|value| value.to_str().ok())
                    .is_some_and(|range| range.starts_with(&format!("bytes {}-", self.received)));
                if !starts_here {
                    return Err(DocumentError::truncated(
                        "the document host answered the Range request with other bytes",
                    ));
                }
                self.current = Box::pin(response.bytes_stream());
                return Ok(());
            }
            if status.is_success() {
                return Err(DocumentError::truncated(
                    "the document host does not resume downloads (it ignored the Range request)",
                ));
            }
            if status == StatusCode::PRECONDITION_FAILED {
                return Err(DocumentError::truncated(
                    "the document changed since its download began (ETag); downloading it whole",
                ));
            }
            let refusal = refusal(status, response).await;
            if refreshed || !matches!(refusal, DocumentError::UrlExpired { .. }) {
                return Err(refusal);
            }
            // The URL expired while the first part was downloading: a fresh one.
            let options = ReportDocumentOptions {
                enable_content_encoding_url_header: self.gzip_encoded,
            };
            let fresh = self
                .client
                .get_report_document(&self.document_id, options)
                .await
                .map_err(|error| DocumentError::truncated(error.to_string()))?;
            self.url = fresh.url;
            refreshed = true;
        }
    }
}

/// Classifies a non-2xx download answer from its status and S3's XML error body.
async fn refusal(status: StatusCode, mut response: reqwest::Response) -> DocumentError {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let code = xml_element(&text, "Code");
    let message = xml_element(&text, "Message");
    tracing::info!(
        status = status.as_u16(),
        code = code.as_deref(),
        message = message.as_deref(),
        "document host refused the download"
    );
    match status {
        // S3 answers 403 AccessDenied "Request has expired" for an expired presigned URL,
        // and 400 ExpiredToken when the signing session expired: both need a fresh URL.
        StatusCode::FORBIDDEN => DocumentError::UrlExpired {
            status: status.as_u16(),
            code,
            message,
        },
        StatusCode::BAD_REQUEST if code.as_deref().is_some_and(|code| code.contains("Expired")) => {
            DocumentError::UrlExpired {
                status: status.as_u16(),
                code,
                message,
            }
        }
        _ => DocumentError::HostError {
            status: status.as_u16(),
            code,
            message,
        },
    }
}

/// The text of the first `<name>…</name>` element (S3 error bodies are flat and small).
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..end].trim().to_owned()).filter(|text| !text.is_empty())
}

/// The `charset` parameter of a `Content-Type` value, unquoted, as sent (`Cp932`).
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|value| !value.is_empty())
    })
}

fn is_gzip_encoding(content_encoding: &str) -> bool {
    content_encoding.split(',').any(|coding| {
        let coding = coding.trim();
        coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip")
    })
}

fn s3_said(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" ({code}: {message})"),
        (Some(text), None) | (None, Some(text)) => format!(" ({text})"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_is_read_from_content_type() {
        assert_eq!(
            charset_of("text/plain;charset=Cp932").as_deref(),
            Some("Cp932")
        );
        assert_eq!(
            charset_of("text/tab-separated-values; Charset=\"UTF-8\"").as_deref(),
            Some("UTF-8")
        );
        assert_eq!(
            charset_of("application/json; boundary=x; charset=windows-1252").as_deref(),
            Some("windows-1252")
        );
        assert_eq!(charset_of("text/plain"), None);
        assert_eq!(charset_of("text/plain; charset="), None);
        assert_eq!(
            charset_of("charset=UTF-8"),
            None,
            "the media type is not a parameter"
        );
    }

    #[test]
    fn gzip_content_encoding_is_recognised() {
        assert!(is_gzip_encoding("gzip"));
        assert!(is_gzip_encoding("GZIP"));
        assert!(is_gzip_encoding("identity, gzip"));
        assert!(!is_gzip_encoding("identity"));
        assert!(!is_gzip_encoding("br"));
    }

    #[test]
    fn s3_expired_url_body_is_parsed() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
            <Message>Request has expired</Message><X-Amz-Expires>300</X-Amz-Expires>\
            <Expires>2024-05-01T00:05:00Z</Expires><RequestId>R1</RequestId></Error>";
        assert_eq!(xml_element(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_element(body, "Message").as_deref(),
            Some("Request has expired")
        );
        assert_eq!(xml_element(body, "Missing"), None);
        let error = DocumentError::UrlExpired {
            status: 403,
            code: xml_element(body, "Code"),
            message: xml_element(body, "Message"),
        };
        assert_eq!(error.name(), ErrorName::DocumentUrlExpired);
        assert!(
            error
                .to_string()
                .contains("(AccessDenied: Request has expired)"),
            "{error}"
        );
    }

    #[test]
    fn stable_name_survives_the_trip_through_io_error() {
        let io_error = io::Error::other(DocumentError::truncated(io::Error::from(
            io::ErrorKind::UnexpectedEof,
        )));
        assert_eq!(
            document_error_name(&io_error),
            Some(ErrorName::DocumentTruncated)
        );
        assert_eq!(
            document_error_name(&io::Error::other("something else")),
            None
        );
        assert_eq!(
            document_error_name(&io::Error::from(io::ErrorKind::BrokenPipe)),
            None
        );
    }

    #[tokio::test]
    async fn corrupt_gzip_reads_as_document_truncated() {
        use tokio::io::AsyncReadExt;

        // A gzip header followed by garbage and a cut-off member.
        let bytes: &'static [u8] = &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff, 0x01, 0x02];
        let body =
            futures_util::stream::iter([Ok::<_, io::Error>(bytes::Bytes::from_static(bytes))]);
        let mut stream = DocumentStream {
            reader: Box::pin(GzipDecoder::new(StreamReader::new(body))),
            charset: None,
            content_length: None,
            compression: Some(CompressionAlgorithm::Gzip),
        };
        let mut out = Vec::new();
        let error = stream.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(
            document_error_name(&error),
            Some(ErrorName::DocumentTruncated),
            "{error}"
        );
    }
}
