//! sp-ingest's pure core: the rules every Lambda shares, with no AWS SDK, no async
//! runtime, no I/O and no clock of its own (times are passed in).

pub mod ads;
pub mod amc;
pub mod backfill;
pub mod catalog;
pub mod config;
pub mod csv;
pub mod curated;
pub mod data_kiosk;
pub mod error;
pub mod marketplace;
pub mod notification;
pub mod operation;
pub mod plan;
pub mod rate_limit;
pub mod redact;
pub mod report_type;
pub mod request;
pub mod schedule;
pub mod status;
pub mod storage;

pub use catalog::{Api, Catalog, Completion, SourceSpec};
pub use config::{Config, ConfigError, ConfigErrors};
pub use error::ErrorName;
pub use marketplace::{Marketplace, Region};
pub use notification::{Notification, NotificationError, parse_notification};
pub use operation::{Operation, TokenKind, UsagePlan};
pub use plan::{AmcLimits, Candidate, Decision, Ended, PlannedRequest, Previous, ResultPage, Span};
pub use redact::redact;
pub use report_type::{AccountKind, DocumentFormat, ReportTypeSpec};
pub use request::{DataWindow, ReportRequest, RequestKey, Source};
pub use status::{ProcessingStatus, Transition};
pub use storage::RawObjectKey;
