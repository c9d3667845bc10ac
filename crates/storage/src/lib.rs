//! The Storage Lambda's core: a report document streamed from its presigned URL through
//! gunzip and UTF-8 transcoding into one S3 object, with its sha256 and row count, and
//! never a partial object at the target key (design.md "One report, end to end" → Store).
//!
//! - [`fetch_and_store`]: download with an [`spapi::SpApiClient`], store, and start over
//!   from a fresh URL when the URL expired or the download was cut off.
//! - [`store_document`]: any `AsyncRead` → S3, in bounded memory.
//! - [`SourceCharset`], [`Transcoder`], [`RowCounter`]: the pure parts, usable alone.
//! - [`StoreError::name`]: the stable [`domain::ErrorName`] the state machine matches on.

pub mod crash;
pub mod error;
pub mod fetch;
pub mod handler;
pub mod json_lines;
mod multipart;
pub mod stream;
pub mod tap;
pub mod transcode;

pub use error::StoreError;
pub use fetch::{
    TRUNCATED_RETRIES, URL_EXPIRED_RETRIES, fetch_and_store, fetch_and_store_ads,
    fetch_and_store_amc_file, fetch_and_store_from,
};
pub use stream::{
    MIN_PART_SIZE, READ_CHUNK, StoreOptions, StoredObject, UploadTarget, metadata, store_document,
};
pub use transcode::{LineCounter, RowCounter, SourceCharset, Transcoder, UnknownCharset};
