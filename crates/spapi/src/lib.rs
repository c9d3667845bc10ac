//! Login with Amazon and Selling Partner API client for sp-ingest.
//!
//! - [`SpApiClient`] calls the Reports API 2021-06-30, the Notifications API v1 and the
//!   Data Kiosk API 2023-11-15 with the right LWA token per operation (seller or
//!   grantless), a token bucket per operation, bounded jittered retries of 429/5xx, and
//!   typed errors with stable names ([`Error::name`] → [`domain::ErrorName`]).
//! - [`LwaClient`] runs the LWA grants on its own (the `auth` Lambda).
//! - [`SpApiClient::download_document`] streams a report document, decompressed, as an
//!   `AsyncRead` with its source charset.
//!
//! Endpoints are configuration ([`Endpoints`]); secrets are [`secrecy::SecretString`]s.
//!
//! ```no_run
//! # async fn run() -> Result<(), spapi::Error> {
//! use spapi::{CreateReportSpecification, Endpoints, LwaCredentials, SellerAuthorization, SpApiClient};
//!
//! let client = SpApiClient::builder(Endpoints::production(domain::Region::Na))
//!     .app_credentials(LwaCredentials::new("amzn1.application-oa2-client.…", "client secret"))
//!     .seller(SellerAuthorization::new("A3TH9S8BH6GOGM", "Atzr|…"))
//!     .build()?;
//! let created = client
//!     .create_report(&CreateReportSpecification::new("GET_SALES_AND_TRAFFIC_REPORT", ["ATVPDKIKX0DER"]))
//!     .await?;
//! let report = client.get_report(&created.report_id).await?;
//! # let _ = report; Ok(()) }
//! ```

pub mod ads;
pub mod amc;
pub mod client;
pub mod credentials;
pub mod data_kiosk;
pub mod document;
pub mod endpoints;
pub mod error;
pub mod limiter;
pub mod lwa;
pub mod notifications;
pub mod reports;
pub mod retry;

pub use client::{HttpTimeouts, SpApiClient, SpApiClientBuilder, USER_AGENT, build_http_client};
pub use credentials::{AccessToken, LwaCredentials, NOTIFICATIONS_SCOPE, SellerAuthorization};
pub use data_kiosk::{
    CreateQueryResponse, CreateQuerySpecification, DataKioskDocument, GetQueriesResponse,
    QueriesFilter, Query, QueryPagination,
};
pub use document::{DocumentError, DocumentStream, document_error_name};
pub use endpoints::Endpoints;
pub use error::{ApiError, ApiErrors, Error, RequestId};
pub use limiter::{LocalRateLimiter, MustWait, Operation, RateLimiter, TokenKind, UsagePlan};
pub use lwa::{LwaClient, TokenGrant};
pub use notifications::{
    CreateDestinationRequest, CreateSubscriptionOutcome, CreateSubscriptionRequest,
    DATA_KIOSK_QUERY_PROCESSING_FINISHED, DATA_KIOSK_QUERY_PROCESSING_FINISHED_PAYLOAD_VERSION,
    Destination, REPORT_PROCESSING_FINISHED, REPORT_PROCESSING_FINISHED_PAYLOAD_VERSION,
    Subscription,
};
pub use reports::{
    CompressionAlgorithm, CreateReportResponse, CreateReportSpecification, GetReportsQuery,
    GetReportsResponse, ProcessingStatus, Report, ReportDocument, ReportDocumentOptions,
    ReportsFilter,
};
pub use retry::RetryPolicy;
pub use secrecy::{ExposeSecret, SecretString};
