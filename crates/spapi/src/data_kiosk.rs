//! Data Kiosk API 2023-11-15 (`dataKiosk_2023-11-15.json`): createQuery, getQueries,
//! getQuery, cancelQuery and getDocument. A query's status uses the Reports API's
//! [`ProcessingStatus`] values (IN_QUEUE, IN_PROGRESS, DONE, FATAL, CANCELLED).
//!
//! A DONE query with `pagination.nextToken` has more pages: the next one is a new
//! createQuery with the same query text and that token (api-facts.md §5). A DONE query
//! with neither document id had no data.

use std::fmt;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{ApiRequest, SpApiClient};
use crate::error::Error;
use crate::limiter::Operation;
use crate::reports::ProcessingStatus;

const API: [&str; 2] = ["dataKiosk", "2023-11-15"];

/// `CreateQuerySpecification`: a GraphQL query, or the next page of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateQuerySpecification {
    /// The GraphQL text (at most 8,000 characters without whitespace).
    pub query: String,
    /// A DONE query's `pagination.nextToken`, for the page after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
}

/// `CreateQueryResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateQueryResponse {
    /// The new query's id.
    pub query_id: String,
}

/// A query's `pagination`: present when more pages follow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPagination {
    /// The token for the next page's createQuery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Query`: a query's status and, when finished, its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// The query's id.
    pub query_id: String,
    /// Its GraphQL text.
    pub query: String,
    /// When it was created.
    pub created_time: DateTime<Utc>,
    /// Where it stands.
    pub processing_status: ProcessingStatus,
    /// When processing began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<DateTime<Utc>>,
    /// When processing ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<DateTime<Utc>>,
    /// The JSON Lines result (DONE with data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_document_id: Option<String>,
    /// The error document (FATAL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_document_id: Option<String>,
    /// Set when more pages follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<QueryPagination>,
}

impl Query {
    /// The token of the next page, when there is one.
    pub fn next_page_token(&self) -> Option<&str> {
        self.pagination.as_ref()?.next_token.as_deref()
    }
}

/// `GetQueriesResponse`: one page of queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetQueriesResponse {
    /// The queries of this page.
    pub queries: Vec<Query>,
    /// Set when more pages follow (its `nextToken` goes to [`QueriesFilter::pagination_token`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<QueryPagination>,
}

/// The filters of getQueries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueriesFilter {
    /// Statuses to keep (empty: all).
    pub processing_statuses: Vec<ProcessingStatus>,
    /// Page size 1–100 (Amazon's default 10).
    pub page_size: Option<u32>,
    /// Oldest creation time (Amazon's default: 90 days ago).
    pub created_since: Option<DateTime<Utc>>,
    /// Newest creation time (Amazon's default: now).
    pub created_until: Option<DateTime<Utc>>,
    /// The previous page's token.
    pub pagination_token: Option<String>,
}

/// `GetDocumentResponse`: where to download a document, for the next five minutes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataKioskDocument {
    /// The document id.
    pub document_id: String,
    /// The presigned URL. Compression is told only by the download's `Content-Encoding`
    /// (api-facts.md pitfall 9).
    pub document_url: String,
}

impl fmt::Debug for DataKioskDocument {
    /// Prints the URL without its query: a presigned URL lets anyone read the document
    /// until it expires, so it stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = crate::reports::without_query(&self.document_url);
        f.debug_struct("DataKioskDocument")
            .field("document_id", &self.document_id)
            .field("document_url", &format_args!("{url}?[redacted]"))
            .finish()
    }
}

/// A Data Kiosk document downloads like a report document; its compression is only
/// ever signalled by the download's `Content-Encoding` (api-facts pitfall 9), so none is
/// declared here.
impl From<DataKioskDocument> for crate::ReportDocument {
    fn from(document: DataKioskDocument) -> Self {
        Self {
            report_document_id: document.document_id,
            url: document.document_url,
            compression_algorithm: None,
        }
    }
}

/// Which API a document id belongs to, so a fresh URL is asked of the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentSource {
    /// A report document (getReportDocument).
    Report,
    /// A Data Kiosk data or error document (getDocument).
    DataKiosk,
}

impl SpApiClient {
    /// A fresh presigned URL for a document of `source`, right before downloading it.
    pub async fn fresh_document(
        &self,
        source: DocumentSource,
        document_id: &str,
    ) -> Result<crate::ReportDocument, Error> {
        match source {
            DocumentSource::Report => {
                self.get_report_document(document_id, crate::ReportDocumentOptions::default())
                    .await
            }
            DocumentSource::DataKiosk => {
                Ok(self.get_data_kiosk_document(document_id).await?.into())
            }
        }
    }
}

/// The Data Kiosk operations (seller token).
impl SpApiClient {
    /// `createQuery`: asks Data Kiosk to run a query (or a page of one); answers its id.
    pub async fn create_query(
        &self,
        specification: &CreateQuerySpecification,
    ) -> Result<CreateQueryResponse, Error> {
        let path = [API[0], API[1], "queries"];
        let request =
            ApiRequest::new(Operation::CreateQuery, Method::POST, &path).json_body(specification);
        let response: CreateQueryResponse = self.execute_json(request).await?;
        tracing::info!(query_id = %response.query_id, page = specification.pagination_token.is_some(), "query requested");
        Ok(response)
    }

    /// `getQuery`: a query's status and, when finished, its document ids and pagination.
    pub async fn get_query(&self, query_id: &str) -> Result<Query, Error> {
        let path = [API[0], API[1], "queries", query_id];
        self.execute_json(ApiRequest::new(Operation::GetQuery, Method::GET, &path))
            .await
    }

    /// `getQueries`: one page of this selling partner's queries.
    pub async fn get_queries(&self, filter: &QueriesFilter) -> Result<GetQueriesResponse, Error> {
        let path = [API[0], API[1], "queries"];
        let mut request = crate::reports::listing_filters(
            ApiRequest::new(Operation::GetQueries, Method::GET, &path),
            &filter.processing_statuses,
            filter.page_size,
            filter.created_since,
            filter.created_until,
        );
        if let Some(token) = &filter.pagination_token {
            request = request.query("paginationToken", token.clone());
        }
        self.execute_json(request).await
    }

    /// `cancelQuery`: cancels a query still IN_QUEUE or IN_PROGRESS.
    pub async fn cancel_query(&self, query_id: &str) -> Result<(), Error> {
        let path = [API[0], API[1], "queries", query_id];
        self.execute(ApiRequest::new(
            Operation::CancelQuery,
            Method::DELETE,
            &path,
        ))
        .await?;
        Ok(())
    }

    /// `getDocument`: a fresh presigned URL for a data or error document (call it right
    /// before downloading: the URL lives 5 minutes).
    pub async fn get_data_kiosk_document(
        &self,
        document_id: &str,
    ) -> Result<DataKioskDocument, Error> {
        let path = [API[0], API[1], "documents", document_id];
        self.execute_json(ApiRequest::new(Operation::GetDocument, Method::GET, &path))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Responses of the model's `x-amzn-api-sandbox` examples (dataKiosk_2023-11-15.json).
    const GET_QUERY: &str = r#"{"queryId": "QueryId1", "query": "query {sampleQuery(startDate:\"2023-03-01\" endDate:\"2023-03-31\" marketplaceIds:[\"ATVPDKIKX0DER\"]){sales{date averageSellingPrice{amount currencyCode}}}}", "createdTime": "2023-12-11T13:47:20.677Z", "processingStatus": "DONE", "processingStartTime": "2023-12-11T13:47:20.677Z", "processingEndTime": "2023-12-11T13:47:20.677Z", "dataDocumentId": "DataDocumentId1", "pagination": {"nextToken": "NextToken1"}}"#;
    const GET_DOCUMENT: &str = r#"{"documentId": "DocumentId1", "documentUrl": "https://d34o8swod1owfl.cloudfront.net/QUERY_DATA_OUTPUT_DOC.txt"}"#;

    #[test]
    fn the_models_examples_read_and_a_done_page_names_the_next() {
        let query: Query = serde_json::from_str(GET_QUERY).unwrap();
        assert_eq!(query.processing_status, ProcessingStatus::Done);
        assert_eq!(query.data_document_id.as_deref(), Some("DataDocumentId1"));
        assert_eq!(query.next_page_token(), Some("NextToken1"));
        let list: GetQueriesResponse = serde_json::from_str(&format!(
            r#"{{"queries": [{GET_QUERY}], "pagination": {{"nextToken": "NextToken1"}}}}"#
        ))
        .unwrap();
        assert_eq!(list.queries, [query]);
        let document: DataKioskDocument = serde_json::from_str(GET_DOCUMENT).unwrap();
        assert_eq!(document.document_id, "DocumentId1");
    }

    #[test]
    fn a_page_request_carries_its_token_and_a_first_one_none() {
        let first = CreateQuerySpecification {
            query: "query{x}".into(),
            pagination_token: None,
        };
        assert_eq!(
            serde_json::to_string(&first).unwrap(),
            r#"{"query":"query{x}"}"#
        );
        let next = CreateQuerySpecification {
            pagination_token: Some("NextToken1".into()),
            ..first
        };
        assert_eq!(
            serde_json::to_string(&next).unwrap(),
            r#"{"query":"query{x}","paginationToken":"NextToken1"}"#
        );
    }

    #[test]
    fn a_document_url_signature_never_reaches_a_log() {
        let document = DataKioskDocument {
            document_id: "D1".into(),
            document_url: "https://bucket.s3.amazonaws.com/doc?X-Amz-Signature=secret".into(),
        };
        let printed = format!("{document:?}");
        assert!(
            !printed.contains("secret") && printed.contains("[redacted]"),
            "{printed}"
        );
    }
}
