//! Reports API 2021-06-30: the model types and the five operations the pipeline uses.
//!
//! Types follow `reports_2021-06-30.json` (amzn/selling-partner-api-models): camelCase on
//! the wire, `Option` where the model does not require a field. `processingStatus` is
//! [`domain::ProcessingStatus`], the same enum the metadata table and notifications use.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

pub use domain::ProcessingStatus;

use crate::client::{ApiRequest, SpApiClient};
use crate::error::Error;
use crate::limiter::Operation;

const API: [&str; 2] = ["reports", "2021-06-30"];

/// `CreateReportSpecification`: what report to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportSpecification {
    /// Report-type specific options, e.g. `reportPeriod` → `WEEK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_options: Option<BTreeMap<String, String>>,
    /// The report type, e.g. `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`.
    pub report_type: String,
    /// Start of the data window (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_start_time: Option<DateTime<Utc>>,
    /// End of the data window (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_end_time: Option<DateTime<Utc>>,
    /// Marketplaces (1–25; many report types accept exactly one).
    pub marketplace_ids: Vec<String>,
}

impl CreateReportSpecification {
    /// A report of `report_type` for `marketplace_ids`, with Amazon's default window.
    pub fn new(
        report_type: impl Into<String>,
        marketplace_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        CreateReportSpecification {
            report_options: None,
            report_type: report_type.into(),
            data_start_time: None,
            data_end_time: None,
            marketplace_ids: marketplace_ids.into_iter().map(Into::into).collect(),
        }
    }

    /// Sets the data window.
    #[must_use]
    pub fn with_data_window(mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        self.data_start_time = Some(start);
        self.data_end_time = Some(end);
        self
    }

    /// Adds one report option.
    #[must_use]
    pub fn with_option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.report_options
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), value.into());
        self
    }
}

/// `CreateReportResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportResponse {
    /// The new report's id (unique only together with the selling partner id).
    pub report_id: String,
}

/// `Report`: a report and where Amazon is with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The marketplaces of the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_ids: Option<Vec<String>>,
    /// The report id.
    pub report_id: String,
    /// The report type.
    pub report_type: String,
    /// Start of the data window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_start_time: Option<DateTime<Utc>>,
    /// End of the data window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_end_time: Option<DateTime<Utc>>,
    /// The schedule that created the report, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_schedule_id: Option<String>,
    /// When the report was created.
    pub created_time: DateTime<Utc>,
    /// IN_QUEUE, IN_PROGRESS, DONE, CANCELLED or FATAL.
    pub processing_status: ProcessingStatus,
    /// When processing started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<DateTime<Utc>>,
    /// When processing ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<DateTime<Utc>>,
    /// The document: the report when DONE, an error document (maybe) when FATAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_document_id: Option<String>,
}

/// `GetReportsResponse`: one page of reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetReportsResponse {
    /// The reports of this page.
    pub reports: Vec<Report>,
    /// Pass to [`GetReportsQuery::NextPage`] for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The filters of a first getReports page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportsFilter {
    /// Report types (1–10); Amazon requires this unless a next token is sent.
    pub report_types: Vec<String>,
    /// Statuses to keep (empty: all).
    pub processing_statuses: Vec<ProcessingStatus>,
    /// Marketplaces (up to 10; empty: all).
    pub marketplace_ids: Vec<String>,
    /// Page size 1–100 (Amazon's default 10).
    pub page_size: Option<u32>,
    /// Oldest creation time (Amazon's default: 90 days ago).
    pub created_since: Option<DateTime<Utc>>,
    /// Newest creation time (Amazon's default: now).
    pub created_until: Option<DateTime<Utc>>,
}

/// A getReports request: filters, or a next token — which Amazon requires to be sent
/// alone (api-facts.md §3.1), so the type does not allow both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetReportsQuery {
    /// The first page.
    Filter(ReportsFilter),
    /// A following page, from [`GetReportsResponse::next_token`].
    NextPage(String),
}

/// `compressionAlgorithm` of a report document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompressionAlgorithm {
    /// The document is gzip-compressed.
    #[serde(rename = "GZIP")]
    Gzip,
}

impl CompressionAlgorithm {
    /// Amazon's spelling, `GZIP`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CompressionAlgorithm::Gzip => "GZIP",
        }
    }
}

/// `ReportDocument`: where to download a document, for the next five minutes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDocument {
    /// The document id.
    pub report_document_id: String,
    /// The presigned URL; it expires 5 minutes after getReportDocument answered.
    pub url: String,
    /// Set when the content must be decompressed after download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_algorithm: Option<CompressionAlgorithm>,
}

impl fmt::Debug for ReportDocument {
    /// Prints the URL without its query: a presigned URL's signature lets anyone read the
    /// report until it expires, so it stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = without_query(&self.url);
        f.debug_struct("ReportDocument")
            .field("report_document_id", &self.report_document_id)
            .field("url", &format_args!("{url}?[redacted]"))
            .field("compression_algorithm", &self.compression_algorithm)
            .finish()
    }
}

/// Options of getReportDocument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportDocumentOptions {
    /// Ask for a URL that serves `Content-Encoding: gzip`, so that HTTP clients can
    /// decompress transparently (`enableContentEncodingUrlHeader=true`).
    pub enable_content_encoding_url_header: bool,
}

/// The Reports API operations (seller token).
impl SpApiClient {
    /// `createReport`: asks Amazon to create a report; answers with its id.
    pub async fn create_report(
        &self,
        specification: &CreateReportSpecification,
    ) -> Result<CreateReportResponse, Error> {
        let path = [API[0], API[1], "reports"];
        let request =
            ApiRequest::new(Operation::CreateReport, Method::POST, &path).json_body(specification);
        let response: CreateReportResponse = self.execute_json(request).await?;
        tracing::info!(report_id = %response.report_id, report_type = %specification.report_type, "report requested");
        Ok(response)
    }

    /// `getReport`: a report's status and, when finished, its document id.
    pub async fn get_report(&self, report_id: &str) -> Result<Report, Error> {
        let path = [API[0], API[1], "reports", report_id];
        self.execute_json(ApiRequest::new(Operation::GetReport, Method::GET, &path))
            .await
    }

    /// `getReports`: one page of reports matching a filter, or the page after a next token.
    pub async fn get_reports(&self, query: &GetReportsQuery) -> Result<GetReportsResponse, Error> {
        let path = [API[0], API[1], "reports"];
        let mut request = ApiRequest::new(Operation::GetReports, Method::GET, &path);
        match query {
            GetReportsQuery::NextPage(token) => request = request.query("nextToken", token.clone()),
            GetReportsQuery::Filter(filter) => {
                // Arrays go comma-separated (Swagger 2's default `collectionFormat: csv`).
                if !filter.report_types.is_empty() {
                    request = request.query("reportTypes", filter.report_types.join(","));
                }
                if !filter.marketplace_ids.is_empty() {
                    request = request.query("marketplaceIds", filter.marketplace_ids.join(","));
                }
                request = listing_filters(
                    request,
                    &filter.processing_statuses,
                    filter.page_size,
                    filter.created_since,
                    filter.created_until,
                );
            }
        }
        self.execute_json(request).await
    }

    /// `cancelReport`: cancels a report that is still IN_QUEUE.
    pub async fn cancel_report(&self, report_id: &str) -> Result<(), Error> {
        let path = [API[0], API[1], "reports", report_id];
        self.execute(ApiRequest::new(
            Operation::CancelReport,
            Method::DELETE,
            &path,
        ))
        .await?;
        Ok(())
    }

    /// `getReportDocument`: a fresh presigned URL for a document (call it right before
    /// downloading: the URL lives 5 minutes).
    pub async fn get_report_document(
        &self,
        report_document_id: &str,
        options: ReportDocumentOptions,
    ) -> Result<ReportDocument, Error> {
        let path = [API[0], API[1], "documents", report_document_id];
        let mut request = ApiRequest::new(Operation::GetReportDocument, Method::GET, &path);
        if options.enable_content_encoding_url_header {
            request = request.query("enableContentEncodingUrlHeader", "true");
        }
        self.execute_json(request).await
    }
}

/// The filters getReports and getQueries share, as query parameters (arrays
/// comma-separated: Swagger 2's default `collectionFormat: csv`).
pub(crate) fn listing_filters<'a>(
    mut request: ApiRequest<'a>,
    statuses: &[ProcessingStatus],
    page_size: Option<u32>,
    created_since: Option<DateTime<Utc>>,
    created_until: Option<DateTime<Utc>>,
) -> ApiRequest<'a> {
    if !statuses.is_empty() {
        let statuses: Vec<_> = statuses.iter().map(|status| status.as_str()).collect();
        request = request.query("processingStatuses", statuses.join(","));
    }
    if let Some(page_size) = page_size {
        request = request.query("pageSize", page_size.to_string());
    }
    if let Some(since) = created_since {
        request = request.query("createdSince", iso8601(since));
    }
    if let Some(until) = created_until {
        request = request.query("createdUntil", iso8601(until));
    }
    request
}

/// A presigned URL without its query (the signature), for printing.
pub(crate) fn without_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(bare, _)| bare)
}

/// Query-parameter timestamps: `2024-03-10T13:47:20Z`.
pub(crate) fn iso8601(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn get_reports_example_from_the_model_deserializes() {
        let example = json!({
            "nextToken": "VGhpcyB0b2tlbiBpcyBvcGFxdWUgYW5kIGludGVudGlvbmFsbHkgb2JmdXNjYXRlZA==",
            "reports": [{
                "reportId": "ReportId1", "reportType": "FEE_DISCOUNTS_REPORT",
                "dataStartTime": "2024-03-11T13:47:20.677Z", "dataEndTime": "2024-03-12T13:47:20.677Z",
                "createdTime": "2024-03-10T13:47:20.677Z", "processingStatus": "IN_PROGRESS",
                "processingStartTime": "2024-03-10T13:47:20.677Z", "processingEndTime": "2024-03-12T13:47:20.677Z"
            }]
        });
        let page: GetReportsResponse = serde_json::from_value(example).unwrap();
        assert_eq!(page.reports.len(), 1);
        let report = &page.reports[0];
        assert_eq!(report.processing_status, ProcessingStatus::InProgress);
        assert_eq!(report.report_document_id, None);
        assert_eq!(
            report.created_time.to_rfc3339(),
            "2024-03-10T13:47:20.677+00:00"
        );
        assert!(page.next_token.is_some());
    }

    #[test]
    fn done_report_carries_its_document_id() {
        let report: Report = serde_json::from_value(json!({
            "reportId": "1", "reportType": "GET_SALES_AND_TRAFFIC_REPORT", "marketplaceIds": ["ATVPDKIKX0DER"],
            "createdTime": "2024-03-10T13:47:20Z", "processingStatus": "DONE",
            "reportDocumentId": "amzn1.tortuga.3.edbcd0d8-3434-8222-1234-52ad8ade1208.REP4567URI9BMZ"
        }))
        .unwrap();
        assert_eq!(report.processing_status, ProcessingStatus::Done);
        assert!(report.report_document_id.is_some());
        let unknown = serde_json::from_value::<Report>(json!({
            "reportId": "1", "reportType": "X", "createdTime": "2024-03-10T13:47:20Z", "processingStatus": "LOST"
        }));
        assert!(
            unknown.is_err(),
            "a status outside the model is refused, not guessed"
        );
    }

    #[test]
    fn create_report_example_from_the_model_round_trips() {
        let example = json!({
            "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
            "dataStartTime": "2024-03-10T20:11:24Z",
            "marketplaceIds": ["A1PA6795UKMFR9", "ATVPDKIKX0DER"]
        });
        let specification: CreateReportSpecification =
            serde_json::from_value(example.clone()).unwrap();
        assert_eq!(serde_json::to_value(&specification).unwrap(), example);
        let response: CreateReportResponse =
            serde_json::from_value(json!({"reportId": "ID323"})).unwrap();
        assert_eq!(response.report_id, "ID323");
    }

    #[test]
    fn create_report_request_is_camel_case_with_options() {
        let start = "2024-05-01T00:00:00Z".parse().unwrap();
        let end = "2024-05-02T00:00:00Z".parse().unwrap();
        let specification =
            CreateReportSpecification::new("GET_SALES_AND_TRAFFIC_REPORT", ["ATVPDKIKX0DER"])
                .with_data_window(start, end)
                .with_option("dateGranularity", "DAY");
        assert_eq!(
            serde_json::to_value(&specification).unwrap(),
            json!({
                "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
                "marketplaceIds": ["ATVPDKIKX0DER"],
                "dataStartTime": "2024-05-01T00:00:00Z",
                "dataEndTime": "2024-05-02T00:00:00Z",
                "reportOptions": {"dateGranularity": "DAY"}
            })
        );
    }

    #[test]
    fn report_document_examples_deserialize_and_hide_the_signature_in_debug() {
        let plain: ReportDocument = serde_json::from_value(json!({
            "reportDocumentId": "0356cf79-b8b0-4226-b4b9-0ee058ea5760",
            "url": "https://d34o8swod1owfl.cloudfront.net/Report_47700__GET_MERCHANT_LISTINGS_ALL_DATA_.txt"
        }))
        .unwrap();
        assert_eq!(plain.compression_algorithm, None);

        let gzip: ReportDocument = serde_json::from_value(json!({
            "reportDocumentId": "DOC-1",
            "url": "https://tortuga-prod-na.s3.amazonaws.com/doc?X-Amz-Signature=abcdef&X-Amz-Security-Token=tok",
            "compressionAlgorithm": "GZIP"
        }))
        .unwrap();
        assert_eq!(gzip.compression_algorithm, Some(CompressionAlgorithm::Gzip));
        let printed = format!("{gzip:?}");
        assert!(
            !printed.contains("abcdef") && !printed.contains("tok"),
            "{printed}"
        );
        assert!(
            printed.contains("tortuga-prod-na.s3.amazonaws.com/doc"),
            "{printed}"
        );
    }

    #[test]
    fn times_in_queries_are_iso8601_utc() {
        let time = "2024-05-01T12:34:56.789Z".parse().unwrap();
        assert_eq!(iso8601(time), "2024-05-01T12:34:56Z");
    }
}
