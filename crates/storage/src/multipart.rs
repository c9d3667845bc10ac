//! The S3 side: one PutObject for small documents, a bounded-concurrency multipart upload
//! for large ones, and the server-side copy that puts a finished upload in place.
//!
//! Two S3 facts shape this module:
//! - An in-progress multipart upload is invisible, and `AbortMultipartUpload` discards its
//!   parts; so an object appears only on `CompleteMultipartUpload`, which runs after the
//!   whole stream was read and checked. Parts still uploading when an abort runs can
//!   survive it, so every in-flight part is awaited before aborting
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html>).
//! - User metadata can only be given when an upload *starts*
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html>),
//!   but the sha256 and row count are known only at its end. So a multipart document is
//!   uploaded to a staging key and then copied server-side to its real key with the full
//!   metadata (`MetadataDirective: REPLACE`), which makes the real key appear at once,
//!   complete and described. CopyObject stops at 5 GiB, so larger objects are copied with
//!   `UploadPartCopy` in ranges
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/CopyingObjectsMPUapi.html>).
//!
//! Integrity: parts carry a CRC32 that S3 checks on arrival, combined into a
//! *full-object* CRC32 (not a composite "checksum of checksums"), so the checksum is a
//! property of the bytes and stays true when the object is copied into place
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>).
//! CRC32 rather than CRC32C because it is the SDK's default and moto computes CRC32C as
//! CRC32 unless an optional Python package is installed, which fails GET validation.
//!
//! A Lambda killed mid-upload cannot abort. Its staging key sits under
//! `_staging/<target key>/`, so the next Store of the same key finds what it left (an
//! open upload, a completed staging object) and removes it first ([`clean_staging`]); the
//! bucket's lifecycle rules (`AbortIncompleteMultipartUpload`, an expiry on `_staging/`)
//! catch whatever no Store comes back for.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, MetadataDirective,
    ServerSideEncryption,
};
use bytes::Bytes;
use tokio::task::JoinSet;

use crate::error::StoreError;

/// Where and how an object is written: bucket, key, encryption, type and metadata.
pub(crate) struct ObjectSpec<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub kms_key_id: Option<&'a str>,
    pub content_type: &'a str,
    pub metadata: &'a BTreeMap<String, String>,
}

impl ObjectSpec<'_> {
    fn metadata_map(&self) -> std::collections::HashMap<String, String> {
        self.metadata
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

/// Writes a whole object in one PutObject.
pub(crate) async fn put_object(
    s3: &Client,
    spec: &ObjectSpec<'_>,
    body: Bytes,
) -> Result<(), StoreError> {
    s3.put_object()
        .bucket(spec.bucket)
        .key(spec.key)
        .content_type(spec.content_type)
        .set_metadata(Some(spec.metadata_map()))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .set_ssekms_key_id(spec.kms_key_id.map(str::to_owned))
        .body(ByteStream::from(body))
        .customize()
        // The document is already hashed once (its sha256) and S3 checks the part's CRC32
        // over TLS; signing the payload would hash every byte a second time with SHA-256.
        // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
        .disable_payload_signing()
        .send()
        .await
        .map_err(|error| StoreError::s3("PutObject", spec.bucket, spec.key, error))?;
    Ok(())
}

/// An open multipart upload with at most `max_in_flight` parts uploading at once.
pub(crate) struct MultipartUpload {
    s3: Client,
    bucket: String,
    key: String,
    upload_id: String,
    /// Whether parts carry a CRC32 that S3 checks and `Complete` repeats (full-object
    /// CRC32); copied parts carry none.
    checksums: bool,
    in_flight: JoinSet<Result<CompletedPart, StoreError>>,
    max_in_flight: usize,
    finished: Vec<CompletedPart>,
    next_part: i32,
}

impl MultipartUpload {
    /// Starts an upload of parts sent as bytes: CRC32 per part, checked by S3.
    pub(crate) async fn create(
        s3: &Client,
        spec: &ObjectSpec<'_>,
        max_in_flight: usize,
    ) -> Result<Self, StoreError> {
        Self::create_with(s3, spec, max_in_flight, true).await
    }

    /// Starts an upload of parts copied from another object.
    async fn create_for_copy(
        s3: &Client,
        spec: &ObjectSpec<'_>,
        max_in_flight: usize,
    ) -> Result<Self, StoreError> {
        Self::create_with(s3, spec, max_in_flight, false).await
    }

    async fn create_with(
        s3: &Client,
        spec: &ObjectSpec<'_>,
        max_in_flight: usize,
        checksums: bool,
    ) -> Result<Self, StoreError> {
        let created = s3
            .create_multipart_upload()
            .bucket(spec.bucket)
            .key(spec.key)
            .content_type(spec.content_type)
            .set_metadata(Some(spec.metadata_map()))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(spec.kms_key_id.map(str::to_owned))
            .set_checksum_algorithm(checksums.then_some(ChecksumAlgorithm::Crc32))
            .set_checksum_type(checksums.then_some(ChecksumType::FullObject))
            .send()
            .await
            .map_err(|error| {
                StoreError::s3("CreateMultipartUpload", spec.bucket, spec.key, error)
            })?;
        let Some(upload_id) = created.upload_id() else {
            // S3 always answers with an upload id; an endpoint that does not is unusable.
            return Err(StoreError::UnexpectedAnswer {
                operation: "CreateMultipartUpload",
                bucket: spec.bucket.to_owned(),
                key: spec.key.to_owned(),
                missing: "UploadId",
            });
        };
        tracing::debug!(
            bucket = spec.bucket,
            key = spec.key,
            upload_id,
            "multipart upload started"
        );
        Ok(Self {
            s3: s3.clone(),
            bucket: spec.bucket.to_owned(),
            key: spec.key.to_owned(),
            upload_id: upload_id.to_owned(),
            checksums,
            in_flight: JoinSet::new(),
            max_in_flight: max_in_flight.max(1),
            finished: Vec::new(),
            next_part: 1,
        })
    }

    /// Parts sent so far.
    pub(crate) fn parts(&self) -> usize {
        usize::try_from(self.next_part - 1).unwrap_or(0)
    }

    /// Sends the next part; waits first while `max_in_flight` parts are uploading, so
    /// memory stays at (1 + max_in_flight) parts whatever the document size.
    pub(crate) async fn upload(&mut self, body: Bytes) -> Result<(), StoreError> {
        self.make_room().await?;
        let part_number = self.next_part;
        self.next_part += 1;
        let (s3, bucket, key, upload_id) = self.ids();
        let checksums = self.checksums;
        self.in_flight.spawn(async move {
            let size = body.len();
            let uploaded = s3
                .upload_part()
                .bucket(&bucket)
                .key(&key)
                .upload_id(upload_id)
                .part_number(part_number)
                .set_checksum_algorithm(checksums.then_some(ChecksumAlgorithm::Crc32))
                .body(ByteStream::from(body))
                .customize()
                // As in `put_object`: the part's CRC32 is its integrity check.
                .disable_payload_signing()
                .send()
                .await
                .map_err(|error| StoreError::s3("UploadPart", &bucket, &key, error))?;
            tracing::debug!(part_number, size, "part uploaded");
            Ok(CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(uploaded.e_tag().map(str::to_owned))
                .set_checksum_crc32(uploaded.checksum_crc32().map(str::to_owned))
                .build())
        });
        Ok(())
    }

    /// Copies `range` (`bytes=first-last`) of `copy_source` as the next part.
    async fn upload_copy(&mut self, copy_source: &str, range: String) -> Result<(), StoreError> {
        self.make_room().await?;
        let part_number = self.next_part;
        self.next_part += 1;
        let (s3, bucket, key, upload_id) = self.ids();
        let copy_source = copy_source.to_owned();
        self.in_flight.spawn(async move {
            let copied = s3
                .upload_part_copy()
                .bucket(&bucket)
                .key(&key)
                .upload_id(upload_id)
                .part_number(part_number)
                .copy_source(copy_source)
                .copy_source_range(range)
                .send()
                .await
                .map_err(|error| StoreError::s3("UploadPartCopy", &bucket, &key, error))?;
            Ok(CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(
                    copied
                        .copy_part_result()
                        .and_then(|result| result.e_tag())
                        .map(str::to_owned),
                )
                .build())
        });
        Ok(())
    }

    fn ids(&self) -> (Client, String, String, String) {
        (
            self.s3.clone(),
            self.bucket.clone(),
            self.key.clone(),
            self.upload_id.clone(),
        )
    }

    async fn make_room(&mut self) -> Result<(), StoreError> {
        while self.in_flight.len() >= self.max_in_flight {
            self.join_one().await?;
        }
        Ok(())
    }

    /// Waits for one in-flight part; `Ok(false)` when none is in flight.
    async fn join_one(&mut self) -> Result<bool, StoreError> {
        match self.in_flight.join_next().await {
            None => Ok(false),
            Some(Ok(Ok(part))) => {
                self.finished.push(part);
                Ok(true)
            }
            Some(Ok(Err(error))) => Err(error),
            Some(Err(source)) => Err(StoreError::PartTask {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                source,
            }),
        }
    }

    /// Waits for every part, then completes the upload: the object appears now.
    /// On error the upload is still open: the caller aborts it.
    pub(crate) async fn complete(&mut self) -> Result<(), StoreError> {
        while self.join_one().await? {}
        let mut parts = std::mem::take(&mut self.finished);
        parts.sort_by_key(|part| part.part_number());
        let count = parts.len();
        self.s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .set_checksum_type(self.checksums.then_some(ChecksumType::FullObject))
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| {
                StoreError::s3("CompleteMultipartUpload", &self.bucket, &self.key, error)
            })?;
        tracing::debug!(bucket = %self.bucket, key = %self.key, parts = count, "multipart upload completed");
        Ok(())
    }

    /// Discards the upload: waits for parts still uploading (an abort racing a part
    /// can leave that part behind), then aborts. Failures are logged, not returned: the
    /// caller is already returning the error that made it abort, and the bucket's
    /// `AbortIncompleteMultipartUpload` lifecycle rule is the backstop.
    pub(crate) async fn abort(mut self) {
        while let Some(joined) = self.in_flight.join_next().await {
            if let Ok(Err(error)) = joined {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "part failed while aborting"
                );
            }
        }
        let aborted = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        match aborted {
            Ok(_) => {
                tracing::info!(bucket = %self.bucket, key = %self.key, "multipart upload aborted")
            }
            Err(error) => {
                let error = StoreError::s3("AbortMultipartUpload", &self.bucket, &self.key, error);
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    upload_id = %self.upload_id,
                    "could not abort the multipart upload; the bucket's lifecycle rule will"
                );
            }
        }
    }
}

/// Copies the staging object `from_key` (of `size` bytes) to `spec.key` with the
/// metadata in `spec`, in one CopyObject up to `copy_part_size`, else in ranges of it.
pub(crate) async fn copy_into_place(
    s3: &Client,
    from_key: &str,
    size: u64,
    spec: &ObjectSpec<'_>,
    copy_part_size: u64,
    max_in_flight: usize,
) -> Result<usize, StoreError> {
    let copy_source = format!("{}/{}", spec.bucket, percent_encode_key(from_key));
    if size <= copy_part_size {
        s3.copy_object()
            .bucket(spec.bucket)
            .key(spec.key)
            .copy_source(&copy_source)
            .metadata_directive(MetadataDirective::Replace)
            // A checksum S3 computes for the new object itself, whatever the source had.
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .content_type(spec.content_type)
            .set_metadata(Some(spec.metadata_map()))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(spec.kms_key_id.map(str::to_owned))
            .send()
            .await
            .map_err(|error| StoreError::s3("CopyObject", spec.bucket, spec.key, error))?;
        return Ok(1);
    }
    let mut upload = MultipartUpload::create_for_copy(s3, spec, max_in_flight).await?;
    let mut first = 0u64;
    while first < size {
        let last = (first + copy_part_size).min(size) - 1;
        if let Err(error) = upload
            .upload_copy(&copy_source, format!("bytes={first}-{last}"))
            .await
        {
            upload.abort().await;
            return Err(error);
        }
        first = last + 1;
    }
    let parts = upload.parts();
    if let Err(error) = upload.complete().await {
        upload.abort().await;
        return Err(error);
    }
    Ok(parts)
}

/// Removes what earlier, killed attempts left under `prefix` (one target key's staging
/// area): open multipart uploads are aborted, staging objects deleted. Best effort: a
/// failure is logged, the lifecycle rules expire leftovers anyway. One Store per key runs
/// at a time (one Map item per request), so nothing here belongs to a live attempt.
pub(crate) async fn clean_staging(s3: &Client, bucket: &str, prefix: &str) {
    let mut cleaned = 0usize;
    match s3
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
    {
        Ok(listed) => {
            for upload in listed.uploads() {
                let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                match s3
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .send()
                    .await
                {
                    Ok(_) => cleaned += 1,
                    Err(error) => log_cleanup_failure(StoreError::s3(
                        "AbortMultipartUpload",
                        bucket,
                        key,
                        error,
                    )),
                }
            }
        }
        Err(error) => log_cleanup_failure(StoreError::s3(
            "ListMultipartUploads",
            bucket,
            prefix,
            error,
        )),
    }
    match s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
    {
        Ok(listed) => {
            for key in listed.contents().iter().filter_map(|o| o.key()) {
                delete_staging(s3, bucket, key).await;
                cleaned += 1;
            }
        }
        Err(error) => log_cleanup_failure(StoreError::s3("ListObjectsV2", bucket, prefix, error)),
    }
    if cleaned > 0 {
        tracing::warn!(
            bucket,
            prefix,
            cleaned,
            "removed what an earlier, interrupted Store left behind"
        );
    }
}

fn log_cleanup_failure(error: StoreError) {
    tracing::warn!(
        error = &error as &dyn std::error::Error,
        "could not clean the staging area; the bucket's lifecycle rules will"
    );
}

/// Deletes a staging object; a failure is logged (the staging prefix expires anyway).
pub(crate) async fn delete_staging(s3: &Client, bucket: &str, key: &str) {
    if let Err(error) = s3.delete_object().bucket(bucket).key(key).send().await {
        let error = StoreError::s3("DeleteObject", bucket, key, error);
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "could not delete the staging object; the staging prefix's lifecycle rule will"
        );
    }
}

/// `x-amz-copy-source` must be URL-encoded; keys here hold `=` and `/`, which S3 reads
/// either way, but report ids and partitions may hold anything `RawObjectKey` allows.
fn percent_encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_keys_are_percent_encoded_but_keep_slashes() {
        assert_eq!(
            percent_encode_key("_staging/u1/source=sp-api/data_date=2024-05-01/k/1 2.tsv"),
            "_staging/u1/source%3Dsp-api/data_date%3D2024-05-01/k/1%202.tsv"
        );
        assert_eq!(percent_encode_key("日"), "%E6%97%A5");
    }
}
