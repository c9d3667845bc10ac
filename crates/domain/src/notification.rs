//! Parsing of the SP-API notifications sp-ingest subscribes to.
//!
//! Shapes follow `schemas/notifications/ReportProcessingFinishedNotification.json` and
//! `DataKioskQueryProcessingFinishedNotification.json`. The schemas spell keys in
//! camelCase, other Amazon pages in PascalCase, so both are accepted
//! (api-facts.md §4.3, pitfall 12). A message that lacks a required field, has one of the
//! wrong type, or a status outside CANCELLED|DONE|FATAL is rejected with an error naming
//! the field's path. Keys the schema does not list are ignored, as the schema allows
//! (no `additionalProperties: false`): Amazon may add fields without a new version.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::status::ProcessingStatus;

/// `notificationType` of a finished report.
pub const REPORT_PROCESSING_FINISHED: &str = "REPORT_PROCESSING_FINISHED";
/// `notificationType` of a finished Data Kiosk query.
pub const DATA_KIOSK_QUERY_PROCESSING_FINISHED: &str = "DATA_KIOSK_QUERY_PROCESSING_FINISHED";

/// A notification sp-ingest understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A report reached a terminal status.
    ReportProcessingFinished(Envelope<ReportProcessingFinished>),
    /// A Data Kiosk query reached a terminal status.
    DataKioskQueryProcessingFinished(Envelope<DataKioskQueryProcessingFinished>),
}

impl Notification {
    /// The notification's unique id, for de-duplication.
    pub fn notification_id(&self) -> &str {
        match self {
            Notification::ReportProcessingFinished(e) => &e.metadata.notification_id,
            Notification::DataKioskQueryProcessingFinished(e) => &e.metadata.notification_id,
        }
    }
}

/// The fields every notification carries around its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<P> {
    /// `notificationVersion`.
    pub notification_version: String,
    /// `payloadVersion`.
    pub payload_version: String,
    /// When the event happened.
    pub event_time: DateTime<Utc>,
    /// The type-specific payload.
    pub payload: P,
    /// Who sent it and its id.
    pub metadata: NotificationMetadata,
}

/// `notificationMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationMetadata {
    /// The application the subscription belongs to.
    #[serde(alias = "ApplicationId")]
    pub application_id: String,
    /// The subscription that produced the message.
    #[serde(alias = "SubscriptionId")]
    pub subscription_id: String,
    /// When Amazon published it.
    #[serde(alias = "PublishTime")]
    pub publish_time: DateTime<Utc>,
    /// Unique per notification; the same message delivered twice keeps it.
    #[serde(alias = "NotificationId")]
    pub notification_id: String,
}

/// `payload.reportProcessingFinishedNotification`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportProcessingFinished {
    /// Seller id; absent or null for vendors.
    #[serde(default, alias = "SellerId")]
    pub seller_id: Option<String>,
    /// `amzn1.merchant.o.<id>` (seller) or `amzn1.vg.<id>` (vendor group).
    #[serde(alias = "AccountId")]
    pub account_id: String,
    /// The report.
    #[serde(alias = "ReportId")]
    pub report_id: String,
    /// Its reportType.
    #[serde(alias = "ReportType")]
    pub report_type: String,
    /// DONE, CANCELLED or FATAL.
    #[serde(alias = "ProcessingStatus", deserialize_with = "terminal_status")]
    pub processing_status: ProcessingStatus,
    /// The document (data, or the error document of a FATAL report).
    #[serde(default, alias = "ReportDocumentId")]
    pub report_document_id: Option<String>,
}

/// `payload` of a Data Kiosk notification (flat: no inner wrapper object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataKioskQueryProcessingFinished {
    /// The selling partner's account id.
    #[serde(alias = "AccountId")]
    pub account_id: String,
    /// The query.
    #[serde(alias = "QueryId")]
    pub query_id: String,
    /// The GraphQL query text.
    #[serde(alias = "Query")]
    pub query: String,
    /// DONE, CANCELLED or FATAL.
    #[serde(alias = "ProcessingStatus", deserialize_with = "terminal_status")]
    pub processing_status: ProcessingStatus,
    /// JSONL data document, if any data.
    #[serde(default, alias = "DataDocumentId")]
    pub data_document_id: Option<String>,
    /// Error document of a FATAL query.
    #[serde(default, alias = "ErrorDocumentId")]
    pub error_document_id: Option<String>,
    /// More pages to fetch with createQuery(paginationToken).
    #[serde(default, alias = "Pagination")]
    pub pagination: Option<Pagination>,
}

/// `pagination` of a Data Kiosk notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Token for the next page, when there is one.
    #[serde(default, alias = "NextToken")]
    pub next_token: Option<String>,
}

/// A message that is not a notification sp-ingest can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The body is not JSON at all.
    #[error("notification body is not JSON: {0}")]
    NotJson(String),
    /// A field is missing, mistyped or has a value outside the schema.
    #[error("notification field `{path}`: {problem}")]
    Field {
        /// JSON path of the field, e.g. `payload.reportProcessingFinishedNotification.reportId`.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A notification type sp-ingest does not subscribe to.
    #[error(
        "notificationType `{0}` is not handled; expected REPORT_PROCESSING_FINISHED or DATA_KIOSK_QUERY_PROCESSING_FINISHED"
    )]
    UnsupportedType(String),
}

impl NotificationError {
    /// The path of the offending field, when the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            NotificationError::Field { path, .. } => Some(path),
            NotificationError::UnsupportedType(_) => Some("notificationType"),
            NotificationError::NotJson(_) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    #[serde(alias = "NotificationVersion")]
    notification_version: String,
    #[serde(alias = "NotificationType")]
    notification_type: String,
    #[serde(alias = "PayloadVersion")]
    payload_version: String,
    #[serde(alias = "EventTime")]
    event_time: DateTime<Utc>,
    #[serde(alias = "Payload")]
    payload: serde_json::Value,
    #[serde(alias = "NotificationMetadata")]
    notification_metadata: NotificationMetadata,
}

impl RawEnvelope {
    fn wrap<P>(self, payload: P) -> Envelope<P> {
        Envelope {
            notification_version: self.notification_version,
            payload_version: self.payload_version,
            event_time: self.event_time,
            payload,
            metadata: self.notification_metadata,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReportPayload {
    #[serde(alias = "ReportProcessingFinishedNotification")]
    report_processing_finished_notification: ReportProcessingFinished,
}

fn terminal_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ProcessingStatus, D::Error> {
    let text = String::deserialize(d)?;
    match text.parse::<ProcessingStatus>() {
        Ok(status) if status.is_terminal() => Ok(status),
        _ => Err(serde::de::Error::custom(format!(
            "`{text}` is not CANCELLED, DONE or FATAL"
        ))),
    }
}

fn parse_at<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, NotificationError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let inner = err.path().to_string();
        let path = match (prefix, inner.as_str()) {
            (p, ".") => p.to_owned(),
            ("", i) => i.to_owned(),
            (p, i) => format!("{p}.{i}"),
        };
        field_error(path, err.into_inner().to_string())
    })
}

fn field_error(path: String, problem: String) -> NotificationError {
    // serde says "missing field `x`" about the parent object; name the field itself.
    if let Some(name) = problem
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let path = if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return NotificationError::Field {
            path,
            problem: "is required".to_owned(),
        };
    }
    let problem = problem
        .split(" at line ")
        .next()
        .unwrap_or(&problem)
        .to_owned();
    NotificationError::Field { path, problem }
}

/// Parses one notification (an SQS message body).
pub fn parse_notification(body: &str) -> Result<Notification, NotificationError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(NotificationError::NotJson(
            "expected a JSON object".to_owned(),
        ));
    }
    let mut raw: RawEnvelope = parse_at(value, "")?;
    let payload = raw.payload.take();
    match raw.notification_type.as_str() {
        REPORT_PROCESSING_FINISHED => {
            let payload: RawReportPayload = parse_at(payload, "payload")?;
            let report = &payload.report_processing_finished_notification;
            // DONE means a document is ready; without its id there is nothing to fetch,
            // and acting on it would send the waiting task a result it cannot use. The
            // message goes back (then to the dead-letter queue); polling finds the report.
            if report.processing_status == ProcessingStatus::Done
                && report.report_document_id.is_none()
            {
                return Err(NotificationError::Field {
                    path: "payload.reportProcessingFinishedNotification.reportDocumentId"
                        .to_owned(),
                    problem: "missing although processingStatus is DONE".to_owned(),
                });
            }
            Ok(Notification::ReportProcessingFinished(
                raw.wrap(payload.report_processing_finished_notification),
            ))
        }
        DATA_KIOSK_QUERY_PROCESSING_FINISHED => {
            let payload: DataKioskQueryProcessingFinished = parse_at(payload, "payload")?;
            Ok(Notification::DataKioskQueryProcessingFinished(
                raw.wrap(payload),
            ))
        }
        other => Err(NotificationError::UnsupportedType(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_without_a_document_id_is_refused_naming_the_field() {
        let body = REPORT_EXAMPLE
            .replace(
                r#""reportDocumentId": "amzn1.tortuga.3.edbcd0d8-3434-8222-1234-52ad8ade1208.REP4567URI9BMZ""#,
                r#""reportDocumentId": null"#,
            )
            .replace(r#""CANCELLED""#, r#""DONE""#);
        let error = parse_notification(&body).unwrap_err();
        assert_eq!(
            error.field(),
            Some("payload.reportProcessingFinishedNotification.reportDocumentId")
        );
    }

    /// The schema's own first example, verbatim.
    const REPORT_EXAMPLE: &str = r#"{
      "notificationVersion": "2020-09-04",
      "notificationType": "REPORT_PROCESSING_FINISHED",
      "payloadVersion": "2020-09-04",
      "eventTime": "2020-07-14T03:35:13.214Z",
      "payload": {
        "reportProcessingFinishedNotification": {
          "sellerId": "A3TH9S8BH6GOGM",
          "accountId": "amzn1.merchant.o.A3TH9S8BH6GOGM",
          "reportId": "54517018502",
          "reportType": "GET_FLAT_FILE_ACTIONABLE_ORDER_DATA",
          "processingStatus": "CANCELLED",
          "reportDocumentId": "amzn1.tortuga.3.edbcd0d8-3434-8222-1234-52ad8ade1208.REP4567URI9BMZ"
        }
      },
      "notificationMetadata": {
        "applicationId": "amzn1.sellerapps.app.aacccfff-4455-4b7c-4422-664ecacdd336",
        "subscriptionId": "subscription-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
        "publishTime": "2020-07-13T19:42:04.284Z",
        "notificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
      }
    }"#;

    const DATA_KIOSK_EXAMPLE: &str = r#"{
      "notificationVersion": "2023-11-15",
      "notificationType": "DATA_KIOSK_QUERY_PROCESSING_FINISHED",
      "payloadVersion": "2023-11-15",
      "eventTime": "2023-12-23T21:30:13.713Z",
      "payload": {
        "accountId": "amzn1.merchant.o.A21CXK3C4ERTY8",
        "queryId": "54517018502",
        "query": "query MyQuery{salesAndTrafficByDate(startDate:\"2023-05-01\" endDate:\"2023-06-01\" aggregateBy:DAY){marketplaceId}}",
        "processingStatus": "DONE",
        "dataDocumentId": "amzn1.tortuga.3.edbcd0d8-3434-8222-1234-52ad8ade1208.REP4567URI9BMZ",
        "pagination": { "nextToken": "AAMA-EFRSURBSGhKZlpVSWVwOW96aU1xa2p6amVJdGp1YlZxMndOelFXa2hydStrUjZvVmFRRWVINldMNnFUVz" }
      },
      "notificationMetadata": {
        "applicationId": "amzn1.sellerapps.app.aacccfff-4455-4b7c-4422-664ecacdd336",
        "subscriptionId": "subscription-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
        "publishTime": "2023-12-23T21:30:16.903Z",
        "notificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
      }
    }"#;

    fn report(n: Notification) -> Envelope<ReportProcessingFinished> {
        match n {
            Notification::ReportProcessingFinished(e) => e,
            other => panic!("expected a report notification, got {other:?}"),
        }
    }

    fn pascal_case(body: &str) -> String {
        let mut value: serde_json::Value = serde_json::from_str(body).unwrap();
        fn upper(v: &mut serde_json::Value) {
            if let serde_json::Value::Object(map) = v {
                let old = std::mem::take(map);
                for (k, mut inner) in old {
                    upper(&mut inner);
                    let mut chars = k.chars();
                    let first = chars.next().unwrap().to_ascii_uppercase();
                    map.insert(format!("{first}{}", chars.as_str()), inner);
                }
            }
        }
        upper(&mut value);
        value.to_string()
    }

    #[test]
    fn schema_example_parses() {
        let n = parse_notification(REPORT_EXAMPLE).unwrap();
        assert_eq!(n.notification_id(), "d0e9e693-c3ad-4373-979f-ed4ec98dd746");
        let e = report(n);
        assert_eq!(e.payload.report_id, "54517018502");
        assert_eq!(e.payload.processing_status, ProcessingStatus::Cancelled);
        assert_eq!(e.payload.seller_id.as_deref(), Some("A3TH9S8BH6GOGM"));
        assert_eq!(e.payload_version, "2020-09-04");
        assert_eq!(e.event_time.to_rfc3339(), "2020-07-14T03:35:13.214+00:00");
    }

    #[test]
    fn pascal_case_keys_parse_to_the_same_notification() {
        let camel = parse_notification(REPORT_EXAMPLE).unwrap();
        let pascal_body = pascal_case(REPORT_EXAMPLE);
        assert!(
            pascal_body.contains("\"NotificationMetadata\"")
                && pascal_body.contains("\"ReportId\"")
        );
        assert_eq!(parse_notification(&pascal_body).unwrap(), camel);
        let kiosk = parse_notification(DATA_KIOSK_EXAMPLE).unwrap();
        assert_eq!(
            parse_notification(&pascal_case(DATA_KIOSK_EXAMPLE)).unwrap(),
            kiosk
        );
    }

    #[test]
    fn vendor_notification_without_seller_id_parses() {
        let body = REPORT_EXAMPLE
            .replace("\"sellerId\": \"A3TH9S8BH6GOGM\",", "")
            .replace("amzn1.merchant.o.A3TH9S8BH6GOGM", "amzn1.vg.6213651");
        let e = report(parse_notification(&body).unwrap());
        assert_eq!(e.payload.seller_id, None);
        assert_eq!(e.payload.account_id, "amzn1.vg.6213651");
        let null_seller = REPORT_EXAMPLE.replace(
            "\"A3TH9S8BH6GOGM\",\n          \"accountId",
            "null,\n          \"accountId",
        );
        assert_eq!(
            report(parse_notification(&null_seller).unwrap())
                .payload
                .seller_id,
            None
        );
    }

    #[test]
    fn data_kiosk_example_parses() {
        match parse_notification(DATA_KIOSK_EXAMPLE).unwrap() {
            Notification::DataKioskQueryProcessingFinished(e) => {
                assert_eq!(e.payload.query_id, "54517018502");
                assert_eq!(e.payload.processing_status, ProcessingStatus::Done);
                assert!(e.payload.pagination.and_then(|p| p.next_token).is_some());
                assert_eq!(e.payload.error_document_id, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_report_id_names_its_path() {
        let body = REPORT_EXAMPLE.replace("\"reportId\": \"54517018502\",", "");
        let err = parse_notification(&body).unwrap_err();
        assert_eq!(
            err.field(),
            Some("payload.reportProcessingFinishedNotification.reportId")
        );
        assert_eq!(
            err.to_string(),
            "notification field `payload.reportProcessingFinishedNotification.reportId`: is required"
        );
    }

    #[test]
    fn snake_case_key_is_rejected_naming_the_expected_field() {
        let body = REPORT_EXAMPLE.replace("\"notificationMetadata\"", "\"notification_metadata\"");
        let err = parse_notification(&body).unwrap_err();
        assert_eq!(err.field(), Some("notificationMetadata"));
    }

    #[test]
    fn non_terminal_or_unknown_status_is_rejected() {
        for status in ["IN_PROGRESS", "done", "FINISHED"] {
            let body = REPORT_EXAMPLE.replace("\"CANCELLED\"", &format!("\"{status}\""));
            let err = parse_notification(&body).unwrap_err();
            assert_eq!(
                err.field(),
                Some("payload.reportProcessingFinishedNotification.processingStatus"),
                "{status}"
            );
            assert!(err.to_string().contains(status), "{err}");
        }
    }

    #[test]
    fn wrong_type_and_bad_time_name_the_field() {
        let body = REPORT_EXAMPLE.replace("\"54517018502\"", "54517018502");
        assert_eq!(
            parse_notification(&body).unwrap_err().field(),
            Some("payload.reportProcessingFinishedNotification.reportId")
        );
        let body = REPORT_EXAMPLE.replace("2020-07-13T19:42:04.284Z", "yesterday");
        assert_eq!(
            parse_notification(&body).unwrap_err().field(),
            Some("notificationMetadata.publishTime")
        );
    }

    #[test]
    fn other_notification_types_and_non_json_are_rejected() {
        let body =
            REPORT_EXAMPLE.replace("\"REPORT_PROCESSING_FINISHED\"", "\"ANY_OFFER_CHANGED\"");
        let err = parse_notification(&body).unwrap_err();
        assert_eq!(err.field(), Some("notificationType"));
        assert!(err.to_string().contains("ANY_OFFER_CHANGED"));
        assert!(matches!(
            parse_notification("not json"),
            Err(NotificationError::NotJson(_))
        ));
        assert!(matches!(
            parse_notification("[1]"),
            Err(NotificationError::NotJson(_))
        ));
    }
}
