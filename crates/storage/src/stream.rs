//! One document from a reader to one S3 object: read → UTF-8 → sha256, bytes, rows →
//! parts → S3, with memory bounded by the part size, never by the document size.
//!
//! This module owns the order of events that makes a stored object trustworthy: the
//! object appears at its key only after the last byte was read, decoded and hashed
//! (PutObject or CompleteMultipartUpload come last), and any failure before that
//! discards what was uploaded (design.md "Idempotency and exactly-once data"). The key
//! is deterministic, so storing again overwrites instead of adding a second object.
//!
//! Memory: one read buffer ([`READ_CHUNK`]), the part being filled, and at most
//! [`StoreOptions::max_parts_in_flight`] parts uploading while the next one fills.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use domain::DocumentFormat;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::crash::{self, CrashPoint};
use crate::error::StoreError;
use crate::multipart::{self, MultipartUpload, ObjectSpec};
use crate::transcode::{RowCounter, SourceCharset, Transcoder};

/// Bytes read from the document per call; the decoded output lands in the part buffer.
pub const READ_CHUNK: usize = 128 * 1024;
/// UploadPartCopy ranges copied at once when a document larger than
/// [`StoreOptions::copy_part_size`] is put in place.
const COPY_RANGES_IN_FLIGHT: usize = 4;
/// S3's smallest part, except the last (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// S3's largest part and largest CopyObject.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's limit on parts per upload.
const MAX_PARTS: usize = 10_000;

/// Object metadata names this crate writes (S3 sends them as `x-amz-meta-<name>`).
pub mod metadata {
    /// The charset label the document arrived in, e.g. `Cp932`.
    pub const SOURCE_CHARSET: &str = "source-charset";
    /// Hex sha256 of the object's bytes (the UTF-8 content).
    pub const SHA256: &str = "sha256";
    /// Data rows, as [`crate::RowCounter`] counts them for the format.
    pub const ROWS: &str = "rows";
    /// Malformed source sequences replaced by U+FFFD (normally 0).
    pub const MALFORMED_SEQUENCES: &str = "malformed-sequences";
    /// The compression the download had (`GZIP` or `none`), set by `fetch_and_store`.
    pub const SOURCE_COMPRESSION: &str = "source-compression";
}

/// Where a document goes and what describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// The bucket (the raw data lake bucket).
    pub bucket: String,
    /// The object key, normally a [`domain::RawObjectKey`].
    pub key: String,
    /// The KMS key for SSE-KMS; `None` uses the bucket's default KMS key.
    pub kms_key_id: Option<String>,
    /// The document's format: sets the object's `Content-Type` and how rows are counted.
    pub format: DocumentFormat,
    /// The caller's metadata (report-id, request-key, …); this crate's names
    /// ([`metadata`]) take precedence on a clash.
    pub metadata: BTreeMap<String, String>,
}

/// How a document is uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Size of each multipart part; documents up to this size go in one PutObject.
    /// At least [`MIN_PART_SIZE`] (S3's minimum), which is the default: memory is about
    /// (1 + `max_parts_in_flight`) parts plus ~17 MiB, whatever the document's size.
    pub part_size: usize,
    /// Parts uploading at once while the next one fills; default 1, which keeps the
    /// Storage Lambda within 32 MiB (`make bench`); 2 buys upload concurrency for a part
    /// more of memory.
    pub max_parts_in_flight: usize,
    /// Largest object put in place with one CopyObject; larger ones are copied in ranges
    /// of this size with UploadPartCopy. Between 5 MiB and 5 GiB; default 1 GiB.
    pub copy_part_size: u64,
    /// Prefix under which multipart uploads are staged before being copied into place.
    /// Give it a lifecycle expiry. Default `_staging/` (Athena skips `_` prefixes).
    pub staging_prefix: String,
    /// When to stop reading and fail `DeadlineExceeded` (upload aborted): the Lambda
    /// handler sets it from its invocation's deadline, early enough to clean up. `None`:
    /// no limit.
    pub deadline: Option<tokio::time::Instant>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            part_size: MIN_PART_SIZE,
            max_parts_in_flight: 1,
            copy_part_size: 1024 * 1024 * 1024,
            staging_prefix: "_staging/".to_owned(),
            deadline: None,
        }
    }
}

impl StoreOptions {
    fn validate(&self) -> Result<(), StoreError> {
        let invalid = |reason: String| Err(StoreError::InvalidOptions { reason });
        if self.part_size < MIN_PART_SIZE || self.part_size as u64 > MAX_PART_SIZE {
            return invalid(format!(
                "part_size {} is outside S3's part limits ({MIN_PART_SIZE} bytes to 5 GiB)",
                self.part_size
            ));
        }
        if self.copy_part_size < MIN_PART_SIZE as u64 || self.copy_part_size > MAX_PART_SIZE {
            return invalid(format!(
                "copy_part_size {} is outside S3's limits ({MIN_PART_SIZE} bytes to 5 GiB)",
                self.copy_part_size
            ));
        }
        if self.max_parts_in_flight == 0 {
            return invalid("max_parts_in_flight must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// What was stored: the object and the facts the Record step keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// UTF-8 bytes written (the object's size).
    pub bytes: u64,
    /// Data rows (see [`RowCounter`]).
    pub rows: u64,
    /// Hex sha256 of exactly the bytes written.
    pub sha256: String,
    /// The charset label the document arrived in.
    pub source_charset: String,
    /// Malformed source sequences replaced by U+FFFD.
    pub malformed_sequences: u64,
    /// Parts uploaded: 1 for a single PutObject.
    pub parts: usize,
}

impl From<StoredObject> for contract::StoredObject {
    /// What the state machine records of a stored document.
    fn from(stored: StoredObject) -> Self {
        contract::StoredObject {
            object_key: stored.key,
            sha256: stored.sha256,
            bytes: stored.bytes,
            rows: stored.rows,
            source_charset: stored.source_charset,
            malformed_sequences: stored.malformed_sequences,
        }
    }
}

/// Streams `reader` (a document in `source` charset) to `target` as UTF-8.
///
/// Documents up to `part_size` are buffered and written with one PutObject once the
/// reader is exhausted: one request instead of four, and nothing to abort. Larger ones
/// go through a multipart upload to a staging key, aborted on any error, then copied to
/// the target key with the final metadata (see `multipart`). Either way the target key
/// shows either the previous object or the complete new one, never a partial one.
pub async fn store_document(
    mut reader: impl AsyncRead + Unpin + Send,
    source: SourceCharset,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
) -> Result<StoredObject, StoreError> {
    options.validate()?;
    // One staging area per target key, so the next attempt finds what a killed one left.
    let staging_area = format!("{}{}/", options.staging_prefix, target.key);
    multipart::clean_staging(s3, &target.bucket, &staging_area).await;
    let staging_key = format!("{staging_area}{}", uuid::Uuid::new_v4());
    // The staging object says what it is for, should a crash leave it behind.
    let staging_metadata = BTreeMap::from([("staging-for".to_owned(), target.key.clone())]);
    let staging = ObjectSpec {
        bucket: &target.bucket,
        key: &staging_key,
        kms_key_id: target.kms_key_id.as_deref(),
        content_type: content_type(target.format),
        metadata: &staging_metadata,
    };
    let mut upload = None;
    let outcome = read_and_upload(
        &mut reader,
        &source,
        s3,
        target,
        options,
        &staging,
        &mut upload,
    )
    .await;
    let (summary, rest) = match outcome {
        Ok(done) => done,
        Err(error) => {
            if let Some(upload) = upload {
                upload.abort().await;
            }
            return Err(error);
        }
    };

    let mut object_metadata = target.metadata.clone();
    object_metadata.insert(
        metadata::SOURCE_CHARSET.to_owned(),
        source.label().to_owned(),
    );
    object_metadata.insert(metadata::SHA256.to_owned(), summary.sha256.clone());
    object_metadata.insert(metadata::ROWS.to_owned(), summary.rows.to_string());
    object_metadata.insert(
        metadata::MALFORMED_SEQUENCES.to_owned(),
        summary.malformed.to_string(),
    );
    let spec = ObjectSpec {
        bucket: &target.bucket,
        key: &target.key,
        kms_key_id: target.kms_key_id.as_deref(),
        content_type: content_type(target.format),
        metadata: &object_metadata,
    };

    let parts = match upload {
        None => {
            multipart::put_object(s3, &spec, rest).await?;
            1
        }
        Some(mut upload) => {
            let completed = async {
                if !rest.is_empty() {
                    upload.upload(rest).await?;
                }
                upload.complete().await
            }
            .await;
            if let Err(error) = completed {
                upload.abort().await;
                return Err(error);
            }
            crash::point(CrashPoint::AfterComplete);
            let parts = upload.parts();
            let copied = multipart::copy_into_place(
                s3,
                &staging_key,
                summary.bytes,
                &spec,
                options.copy_part_size,
                // Range copies happen inside S3 and hold nothing here: more of them at
                // once costs no memory, unlike the parts sent.
                options.max_parts_in_flight.max(COPY_RANGES_IN_FLIGHT),
            )
            .await;
            if copied.is_ok() {
                crash::point(CrashPoint::AfterCopy);
            }
            multipart::delete_staging(s3, &target.bucket, &staging_key).await;
            copied?;
            parts
        }
    };
    tracing::info!(
        bucket = %target.bucket,
        key = %target.key,
        bytes = summary.bytes,
        rows = summary.rows,
        sha256 = %summary.sha256,
        source_charset = source.label(),
        malformed = summary.malformed,
        parts,
        "document stored"
    );
    Ok(StoredObject {
        bucket: target.bucket.clone(),
        key: target.key.clone(),
        bytes: summary.bytes,
        rows: summary.rows,
        sha256: summary.sha256,
        source_charset: source.label().to_owned(),
        malformed_sequences: summary.malformed,
        parts,
    })
}

/// What reading the whole document established.
struct Summary {
    bytes: u64,
    rows: u64,
    sha256: String,
    malformed: u64,
}

/// Reads the document to its end, shipping each full part to a multipart upload (opened
/// on the first full part, into `upload` so the caller can abort it), and returns the
/// summary and the bytes after the last full part.
async fn read_and_upload(
    reader: &mut (impl AsyncRead + Unpin + Send),
    source: &SourceCharset,
    s3: &Client,
    target: &UploadTarget,
    options: &StoreOptions,
    staging: &ObjectSpec<'_>,
    upload: &mut Option<MultipartUpload>,
) -> Result<(Summary, Bytes), StoreError> {
    let part_size = options.part_size;
    let mut transcoder = Transcoder::new(source);
    let mut rows = RowCounter::for_format(target.format);
    let mut sha256 = Sha256::new();
    let mut bytes = 0u64;
    let mut source_bytes = 0u64;
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut pending = new_part_buffer(part_size);

    loop {
        // A read that stalls is cut off at the deadline too, not only a slow document.
        let read = match options.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, reader.read(&mut chunk))
                .await
                .map_err(|_| StoreError::DeadlineExceeded { source_bytes })?,
            None => reader.read(&mut chunk).await,
        };
        let read = read.map_err(|source| StoreError::Read {
            source_bytes,
            source,
        })?;
        source_bytes += read as u64;
        let start = pending.len();
        if read == 0 {
            transcoder.finish(&mut pending);
        } else {
            transcoder.push(&chunk[..read], &mut pending);
        }
        let produced = &pending[start..];
        sha256.update(produced);
        rows.update(produced);
        bytes += produced.len() as u64;

        // Ship only when more than a part is buffered, so a document of exactly
        // `part_size` bytes still takes the single-PutObject path.
        while pending.len() > part_size {
            let mut next = new_part_buffer(part_size);
            next.extend_from_slice(&pending[part_size..]);
            pending.truncate(part_size);
            let part = std::mem::replace(&mut pending, next).freeze();
            let open = match upload.take() {
                Some(open) => open,
                None => MultipartUpload::create(s3, staging, options.max_parts_in_flight).await?,
            };
            let open = upload.insert(open);
            // The part after this one may be the last: keep room for it.
            if open.parts() + 1 >= MAX_PARTS {
                return Err(StoreError::InvalidOptions {
                    reason: format!(
                        "the document needs more than S3's {MAX_PARTS} parts at part_size {part_size}; \
                         raise part_size"
                    ),
                });
            }
            open.upload(part).await?;
            crash::point(CrashPoint::MidUpload);
        }
        if read == 0 {
            break;
        }
    }
    let summary = Summary {
        bytes,
        rows: rows.rows(),
        sha256: hex::encode(sha256.finalize()),
        malformed: transcoder.malformed_sequences(),
    };
    Ok((summary, pending.freeze()))
}

/// A part buffer with room for a whole part plus one decoded chunk, so it never
/// reallocates while filling. A chunk grows at most threefold in UTF-8 (a half-width
/// katakana byte of CP932, a Cp1252 "€" or a replaced malformed byte each become 3
/// bytes), plus a few bytes of carry.
fn new_part_buffer(part_size: usize) -> BytesMut {
    BytesMut::with_capacity(part_size + READ_CHUNK * 3 + 64)
}

/// The object's `Content-Type`: always UTF-8 after transcoding.
fn content_type(format: DocumentFormat) -> &'static str {
    match format {
        DocumentFormat::Tsv => "text/tab-separated-values; charset=utf-8",
        DocumentFormat::Json => "application/json",
        DocumentFormat::Jsonl => "application/x-ndjson; charset=utf-8",
        DocumentFormat::Csv => "text/csv; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::config::{BehaviorVersion, Region};

    use super::*;

    /// A client that is never called: documents below the part size reach S3 only in
    /// `store_document`'s final PutObject, which these tests do not run.
    fn idle_s3() -> Client {
        Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .build(),
        )
    }

    fn target(format: DocumentFormat) -> UploadTarget {
        UploadTarget {
            bucket: "raw".into(),
            key: "k".into(),
            kms_key_id: None,
            format,
            metadata: BTreeMap::new(),
        }
    }

    async fn summarise(input: &[u8], charset: &str) -> (Summary, Bytes) {
        let options = StoreOptions::default();
        let target = target(DocumentFormat::Tsv);
        let charset = SourceCharset::from_label(charset).unwrap();
        let staging = ObjectSpec {
            bucket: "raw",
            key: "staging",
            kms_key_id: None,
            content_type: "text/plain",
            metadata: &BTreeMap::new(),
        };
        let mut upload = None;
        let mut reader = input;
        let done = read_and_upload(
            &mut reader,
            &charset,
            &idle_s3(),
            &target,
            &options,
            &staging,
            &mut upload,
        )
        .await
        .unwrap();
        assert!(upload.is_none(), "small documents open no multipart upload");
        done
    }

    #[tokio::test]
    async fn sha256_bytes_and_rows_describe_exactly_the_utf8_written() {
        let content = "注文番号\t数量\n503-1\t2\n503-2\t3";
        let with_bom = format!("\u{FEFF}{content}");
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode(content);
        let (summary, written) = summarise(&cp932, "Cp932").await;
        assert_eq!(&written[..], content.as_bytes());
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&written)));
        assert_eq!(summary.bytes, written.len() as u64);
        assert_eq!(summary.rows, 2);

        // UTF-8 with a BOM: the BOM is not written, so it is not hashed either.
        let (summary, written) = summarise(with_bom.as_bytes(), "UTF-8").await;
        assert_eq!(&written[..], content.as_bytes());
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&written)));
        assert_eq!(summary.malformed, 0);
    }

    #[test]
    fn part_buffer_has_room_for_the_worst_decoded_chunk() {
        let slack = new_part_buffer(MIN_PART_SIZE).capacity() - MIN_PART_SIZE;
        for label in ["Cp932", "Cp1252", "EUC-JP", "UTF-16LE", "GB18030"] {
            let charset = SourceCharset::from_label(label).unwrap();
            let decoder = charset.encoding().new_decoder();
            let worst = decoder.max_utf8_buffer_length(READ_CHUNK).unwrap();
            assert!(worst <= slack, "{label}: {worst} > {slack}");
        }
        // UTF-8 with every byte malformed: one 3-byte U+FFFD each, plus a 3-byte carry.
        assert!(3 * READ_CHUNK + 3 <= slack);
    }

    #[tokio::test]
    async fn part_sizes_below_s3_minimum_are_refused_before_reading() {
        let options = StoreOptions {
            part_size: 1024,
            ..StoreOptions::default()
        };
        let error = store_document(
            &b"never read"[..],
            SourceCharset::utf8(),
            &idle_s3(),
            &target(DocumentFormat::Tsv),
            &options,
        )
        .await
        .unwrap_err();
        assert_eq!(error.name(), domain::ErrorName::ConfigInvalid);
        assert!(error.to_string().contains("part_size 1024"), "{error}");
    }
}
