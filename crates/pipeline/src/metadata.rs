//! The metadata table: one DynamoDB item per report request, and the race it referees.
//!
//! The notification that a report is done can arrive before the state machine has stored
//! its task token, after it, twice, or never (design.md "Why the task token, and the race
//! it brings"). Every write here is conditional, and the rule is: whichever of "token
//! stored" and "terminal status stored" happens second sends the task result. Both sides
//! call [`MetadataTable::claim_result`] after their write; its condition (a token is
//! stored, the status is terminal, no result was sent for this token) lets exactly one of
//! them win.
//!
//! Items (one table, string key `pk`):
//!
//! | pk | holds |
//! |---|---|
//! | `request#<request key>` | the request, reportId, status, documentId, next page token, task token, outcome (a later page of a window's results is a request of its own: [`domain::RequestKey::page`]) |
//! | `report#<selling partner>#<reportId>` | the request key of a report we created |
//! | `notification#<notificationId>` | a notification already handled (expires after 30 days: `expiresAt`, the table's TTL attribute) |
//! | `unsolicited#<selling partner>#<reportId>` | a notification for a report nobody here asked for (expires likewise) |
//! | `foreign#<notificationId>` | a notification sent to another SP-API application (expires likewise) |
//! | `amc#<instance id>` | the AMC executions the instance runs and how many started today ([`amc_ledger`]) |

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::{Ended, ErrorName, PlannedRequest, Previous, ProcessingStatus, RequestKey};

use contract::{Delivery, Outcome, ReportStatus};

use crate::failure::{Failure, aws_failure};
use crate::task_result::send_task_result;

mod amc_ledger;
mod rate_limits;

pub use rate_limits::{BucketName, SharedRateLimiter, Taken};

/// What the table knows about one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestRecord {
    /// The request key.
    pub key: String,
    /// Account name.
    pub account: String,
    /// Selling partner.
    pub selling_partner_id: String,
    /// Report type.
    pub report_type: String,
    /// Amazon's report id, once created.
    pub report_id: Option<String>,
    /// When that report was created.
    pub report_requested_at: Option<DateTime<Utc>>,
    /// Last known processing status.
    pub status: Option<ProcessingStatus>,
    /// When that status was recorded.
    pub status_at: Option<DateTime<Utc>>,
    /// The document id Amazon gave with the terminal status.
    pub report_document_id: Option<String>,
    /// The outcome, once recorded.
    pub outcome: Option<Outcome>,
}

/// The result of claiming a request before createReport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: create the report.
    New,
    /// Claimed before; reuse its report id if it has one.
    Existing {
        /// The report id recorded by the earlier attempt.
        report_id: Option<String>,
    },
}

/// What a status write changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// The report is not one we created (a schedule's, another tool's).
    UnknownReport,
    /// Recorded: the status moved forward.
    Advanced {
        /// The request key.
        key: RequestKey,
    },
    /// The same status again, or an older one: nothing to do.
    Ignored {
        /// The request key.
        key: RequestKey,
        /// The status already recorded.
        current: Option<ProcessingStatus>,
    },
}

/// A task result to send, won by [`MetadataTable::claim_result`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// The Step Functions task token waiting for it.
    pub task_token: String,
    /// What the task resumes with.
    pub status: ReportStatus,
}

/// The metadata table.
#[derive(Debug, Clone)]
pub struct MetadataTable {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The number attribute `name` of `item`, if it is one.
fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn request_pk(key: &str) -> AttributeValue {
    s(format!("request#{key}"))
}

fn report_pk(selling_partner_id: &str, report_id: &str) -> AttributeValue {
    s(format!("report#{selling_partner_id}#{report_id}"))
}

/// The table's TTL attribute (epoch seconds): DynamoDB deletes the item after it.
pub const EXPIRES_AT: &str = "expiresAt";

/// How long a handled notification id or an unsolicited report is kept: Amazon's
/// redeliveries come within hours; a month leaves room for an operator to look.
const NOTIFICATION_RETENTION_DAYS: i64 = 30;

fn expires(now: DateTime<Utc>) -> AttributeValue {
    let at = now + chrono::TimeDelta::days(NOTIFICATION_RETENTION_DAYS);
    n(at.timestamp())
}

fn timestamp(now: DateTime<Utc>) -> AttributeValue {
    s(now.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn is_condition_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// The attributes that describe a request, written by whichever of the claim and a
/// failure creates its item.
fn description(planned: &PlannedRequest) -> [(&'static str, AttributeValue); 8] {
    let request = &planned.request;
    [
        ("key", s(planned.key.as_str())),
        ("account", s(&request.account)),
        ("sellingPartnerId", s(&request.selling_partner_id)),
        ("reportType", s(&request.report_type)),
        ("marketplaceIds", s(request.sorted_marketplaces().join(","))),
        ("dataStart", timestamp(request.window.start)),
        ("dataEnd", timestamp(request.window.end)),
        ("configVersion", s(&planned.config_version)),
    ]
}

/// Whether a transaction was cancelled because its first item's condition failed (the
/// request has a report id already, or is not claimed).
fn first_condition_failed(
    error: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled
                .cancellation_reasons()
                .first()
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        }
        _ => false,
    }
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

const TERMINAL: [ProcessingStatus; 3] = [
    ProcessingStatus::Done,
    ProcessingStatus::Cancelled,
    ProcessingStatus::Fatal,
];

impl MetadataTable {
    /// The table named `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        MetadataTable {
            client,
            table: table.into(),
        }
    }

    /// Claims a request before creating its report: the first claim is [`Claim::New`];
    /// later ones (a retried task, a rerun of the same window) see the earlier report id.
    /// When the plan says the request's report must not be reused (`supersedes`), the
    /// first claim that still finds that report gives it up and is [`Claim::New`]; a
    /// retried task then finds the replacement and reuses it.
    pub async fn claim(
        &self,
        planned: &PlannedRequest,
        now: DateTime<Utc>,
    ) -> Result<Claim, Failure> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", request_pk(planned.key.as_str()))
            .item("createdAt", timestamp(now))
            .condition_expression("attribute_not_exists(pk)");
        for (name, value) in description(planned) {
            put = put.item(name, value);
        }
        let put = put.send().await;
        match put {
            Ok(_) => Ok(Claim::New),
            Err(e) if is_condition_failure(&e) => {
                let current = self.request(&planned.key).await?.and_then(|r| r.report_id);
                match (&planned.supersedes, current) {
                    (Some(old), Some(current)) if *old == current => {
                        self.give_up_report(planned, old, now).await
                    }
                    (_, report_id) => Ok(Claim::Existing { report_id }),
                }
            }
            Err(e) => Err(aws_failure("claiming the request in the metadata table", e)),
        }
    }

    /// Forgets the request's report `old` (and everything learnt about it) so a new one
    /// is created, if `old` is still the request's report; it is kept in
    /// `supersededReportIds` for operators.
    async fn give_up_report(
        &self,
        planned: &PlannedRequest,
        old: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, Failure> {
        let given_up = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(planned.key.as_str()))
            .update_expression(
                "SET supersededAt = :t, configVersion = :v REMOVE reportId, reportRequestedAt, #status, reportDocumentId, outcome, finishedAt, taskToken, resultSentFor ADD supersededReportIds :old",
            )
            .condition_expression("reportId = :id")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":t", timestamp(now))
            .expression_attribute_values(":v", s(&planned.config_version))
            .expression_attribute_values(":id", s(old))
            .expression_attribute_values(":old", AttributeValue::Ss(vec![old.to_owned()]))
            .send()
            .await;
        match given_up {
            Ok(_) => {
                tracing::info!(key = %planned.key, superseded = old, "the earlier report is not reused; a new one is requested");
                Ok(Claim::New)
            }
            // Another attempt replaced it first: use its report.
            Err(e) if is_condition_failure(&e) => Ok(Claim::Existing {
                report_id: self.request(&planned.key).await?.and_then(|r| r.report_id),
            }),
            Err(e) => Err(aws_failure("giving up the earlier report", e)),
        }
    }

    /// Records the report id of a claimed request, unless one was recorded first; returns
    /// the id that stands (the first one), so concurrent creators converge on one report.
    /// The id and its `report#` index are written in one transaction: a notification that
    /// arrives the instant createReport answered finds the index, never an unknown report.
    pub async fn record_report_id(
        &self,
        key: &RequestKey,
        selling_partner_id: &str,
        report_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Failure> {
        let record = Update::builder()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .update_expression("SET reportId = :r, reportRequestedAt = :t")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(reportId)")
            .expression_attribute_values(":r", s(report_id))
            .expression_attribute_values(":t", timestamp(now))
            .build()
            .map_err(|e| {
                Failure::caused_by(ErrorName::ConfigInvalid, "building the report id update", e)
            })?;
        let index = Put::builder()
            .table_name(&self.table)
            .item("pk", report_pk(selling_partner_id, report_id))
            .item("requestKey", s(key.as_str()))
            .build()
            .map_err(|e| {
                Failure::caused_by(ErrorName::ConfigInvalid, "building the report index", e)
            })?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(record).build())
            .transact_items(TransactWriteItem::builder().put(index).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(report_id.to_owned()),
            Err(e) if first_condition_failed(&e) => self
                .request(key)
                .await?
                .and_then(|r| r.report_id)
                .ok_or_else(|| Failure::config(format!("request {key} is not in the metadata table; claim it before recording a report id"))),
            Err(e) => Err(aws_failure("recording the report id and its index", e)),
        }
    }

    /// Stores the task token of an execution waiting for the report. A new token replaces
    /// an older one (a rerun of the same window waits afresh) and re-opens the result.
    pub async fn store_task_token(
        &self,
        key: &RequestKey,
        task_token: &str,
    ) -> Result<(), Failure> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .update_expression("SET taskToken = :t REMOVE resultSentFor")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", s(task_token))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                if is_condition_failure(&e) {
                    Failure::config(format!("request {key} is not in the metadata table; CreateReport must run before AwaitReport"))
                } else {
                    aws_failure("storing the task token", e)
                }
            })
    }

    /// Records a status Amazon reported for `report_id` (a report, or a Data Kiosk query
    /// with the token of its next page), if it moves the request forward.
    pub async fn record_status(
        &self,
        selling_partner_id: &str,
        report_id: &str,
        status: ProcessingStatus,
        report_document_id: Option<&str>,
        next_page_token: Option<&str>,
    ) -> Result<StatusChange, Failure> {
        let Some(key) = self.request_key_of(selling_partner_id, report_id).await? else {
            return Ok(StatusChange::UnknownReport);
        };
        // Legal predecessors of `status` (domain rules), spelled as a condition.
        let predecessors: Vec<ProcessingStatus> = ProcessingStatus::ALL
            .into_iter()
            .filter(|from| from.transition(status) == Ok(domain::Transition::Advanced))
            .collect();
        // Only for the request's current report: one given up for a new one (a refresh,
        // a FATAL rerun) may still send notifications.
        let mut condition = String::from("reportId = :rid AND (attribute_not_exists(#status)");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":rid", s(report_id))
            .expression_attribute_values(":s", s(status.as_str()));
        for (i, from) in predecessors.iter().enumerate() {
            condition.push_str(&format!(" OR #status = :p{i}"));
            update = update.expression_attribute_values(format!(":p{i}"), s(from.as_str()));
        }
        condition.push(')');
        // When the status was learnt: a DONE's is where "DONE → landed" is counted from.
        let mut expression = String::from("SET #status = :s, statusAt = :at");
        update = update.expression_attribute_values(":at", timestamp(Utc::now()));
        if let Some(document) = report_document_id {
            expression.push_str(", reportDocumentId = :d");
            update = update.expression_attribute_values(":d", s(document));
        }
        if let Some(token) = next_page_token {
            expression.push_str(", nextPageToken = :n");
            update = update.expression_attribute_values(":n", s(token));
        }
        match update
            .update_expression(expression)
            .condition_expression(condition)
            .send()
            .await
        {
            Ok(_) => Ok(StatusChange::Advanced { key }),
            Err(e) if is_condition_failure(&e) => {
                let current = self.request(&key).await?.and_then(|r| r.status);
                Ok(StatusChange::Ignored { key, current })
            }
            Err(e) => Err(aws_failure("recording the report status", e)),
        }
    }

    /// Claims the right to send the task result: succeeds for exactly one caller once both
    /// a task token and a terminal status are stored, and never twice for one token.
    pub async fn claim_result(&self, key: &RequestKey) -> Result<Option<TaskResult>, Failure> {
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .update_expression("SET resultSentFor = taskToken")
            .condition_expression(
                "attribute_exists(taskToken) AND attribute_not_exists(resultSentFor) AND #status IN (:done, :cancelled, :fatal)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", s(TERMINAL[0].as_str()))
            .expression_attribute_values(":cancelled", s(TERMINAL[1].as_str()))
            .expression_attribute_values(":fatal", s(TERMINAL[2].as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match claimed {
            Ok(output) => {
                let item = output.attributes().cloned().unwrap_or_default();
                let status = text(&item, "status").and_then(|s| s.parse().ok());
                match (text(&item, "taskToken"), status) {
                    (Some(task_token), Some(processing_status)) => Ok(Some(TaskResult {
                        task_token,
                        status: ReportStatus {
                            processing_status,
                            report_document_id: text(&item, "reportDocumentId"),
                            next_page_token: text(&item, "nextPageToken"),
                        },
                    })),
                    _ => Ok(None),
                }
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(aws_failure("claiming the task result", e)),
        }
    }

    /// Sends the task result if this caller is the one to send it: after storing either
    /// the task token or a terminal status, both sides call this, and only the second
    /// finds both present ([`MetadataTable::claim_result`]). `None`: not ready, or
    /// someone else sent it.
    pub async fn resume_if_ready(
        &self,
        sfn: &aws_sdk_sfn::Client,
        key: &RequestKey,
    ) -> Result<Option<Delivery>, Failure> {
        let Some(result) = self.claim_result(key).await? else {
            return Ok(None);
        };
        match send_task_result(sfn, &result).await {
            Ok(delivery) => Ok(Some(delivery)),
            Err(failure) => {
                // Step Functions did not take the result: give the claim back, so the
                // redelivered notification (or the retried task) sends it again instead
                // of the task waiting out its whole timeout.
                if let Err(release) = self.release_result(key, &result.task_token).await {
                    tracing::warn!(%key, error = %release.describe(), "the claim on the task result could not be released; the task falls back to polling at its timeout");
                }
                Err(failure)
            }
        }
    }

    /// Gives back a claim on the task result whose sending failed.
    pub async fn release_result(&self, key: &RequestKey, task_token: &str) -> Result<(), Failure> {
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .update_expression("REMOVE resultSentFor")
            .condition_expression("resultSentFor = :t")
            .expression_attribute_values(":t", s(task_token))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // A newer token replaced it: that task's own AwaitReport sends.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(aws_failure("releasing the claim on the task result", e)),
        }
    }

    /// Records how the request ended; answers the request as it stands then (its
    /// status and when it was learnt, for the metrics).
    pub async fn record_outcome(
        &self,
        key: &RequestKey,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<RequestRecord, Failure> {
        let json = serde_json::to_string(outcome).unwrap_or_default();
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .update_expression("SET outcome = :o, finishedAt = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":o", s(json))
            .expression_attribute_values(":t", timestamp(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| aws_failure("recording the outcome", e))?;
        Ok(Self::record_of(
            key,
            updated.attributes.as_ref().unwrap_or(&HashMap::new()),
        ))
    }

    /// Records a request that failed for good. Unlike [`MetadataTable::record_outcome`]
    /// the request may not be in the table yet (it failed before CreateReport claimed
    /// it), so the item is created with the request's description where it is missing;
    /// a later claim still finds no report id and creates one.
    pub async fn record_failure(
        &self,
        planned: &PlannedRequest,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        self.upsert_outcome(planned, outcome, now).await
    }

    /// Writes `outcome`, creating the request's item (with its description) if needed.
    async fn upsert_outcome(
        &self,
        planned: &PlannedRequest,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let json = serde_json::to_string(outcome).unwrap_or_default();
        let mut expression = String::from("SET outcome = :o, finishedAt = :t");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", request_pk(planned.window_key().as_str()))
            .expression_attribute_values(":o", s(json))
            .expression_attribute_values(":t", timestamp(now));
        for (i, (name, value)) in description(planned).into_iter().enumerate() {
            expression.push_str(&format!(", #d{i} = if_not_exists(#d{i}, :d{i})"));
            update = update
                .expression_attribute_names(format!("#d{i}"), name)
                .expression_attribute_values(format!(":d{i}"), value);
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_failure("recording the outcome", e))
    }

    /// Whether a notification id was handled before (a duplicate delivery).
    pub async fn notification_seen(&self, notification_id: &str) -> Result<bool, Failure> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("notification#{notification_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_failure("looking up the notification id", e))?;
        Ok(output.item().is_some())
    }

    /// Remembers a handled notification id. Written after the notification was acted on,
    /// so a delivery that failed half-way is handled again rather than dropped.
    pub async fn remember_notification(
        &self,
        notification_id: &str,
        report_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        self.put_expiring(
            format!("notification#{notification_id}"),
            [("reportId", s(report_id))],
            now,
            "recording the notification id",
        )
        .await
    }

    /// Writes an item that DynamoDB deletes after the retention period, with when it was
    /// received.
    async fn put_expiring<const N: usize>(
        &self,
        pk: String,
        attributes: [(&str, AttributeValue); N],
        now: DateTime<Utc>,
        what: &str,
    ) -> Result<(), Failure> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("receivedAt", timestamp(now))
            .item(EXPIRES_AT, expires(now));
        for (name, value) in attributes {
            put = put.item(name, value);
        }
        put.send().await.map(drop).map_err(|e| aws_failure(what, e))
    }

    /// Records a notification sent to another SP-API application (kept for operators: a
    /// shared queue, or a subscription pointing at the wrong destination).
    pub async fn record_foreign(
        &self,
        notification_id: &str,
        application_id: &str,
        report_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        self.put_expiring(
            format!("foreign#{notification_id}"),
            [
                ("applicationId", s(application_id)),
                ("reportId", s(report_id)),
            ],
            now,
            "recording a notification of another application",
        )
        .await
    }

    /// Records a notification about a report nobody here created (kept for operators).
    pub async fn record_unsolicited(
        &self,
        selling_partner_id: &str,
        report_id: &str,
        report_type: &str,
        status: ProcessingStatus,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        self.put_expiring(
            format!("unsolicited#{selling_partner_id}#{report_id}"),
            [
                ("reportType", s(report_type)),
                ("status", s(status.as_str())),
            ],
            now,
            "recording an unsolicited notification",
        )
        .await
    }

    /// The request key of a report created here, if it is one.
    pub async fn request_key_of(
        &self,
        selling_partner_id: &str,
        report_id: &str,
    ) -> Result<Option<RequestKey>, Failure> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", report_pk(selling_partner_id, report_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_failure("looking up the report id", e))?;
        Ok(output
            .item()
            .and_then(|item| text(item, "requestKey"))
            .and_then(|k| RequestKey::parse(&k)))
    }

    /// What the table holds for a request.
    pub async fn request(&self, key: &RequestKey) -> Result<Option<RequestRecord>, Failure> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", request_pk(key.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_failure("reading the request", e))?;
        Ok(output.item().map(|item| Self::record_of(key, item)))
    }

    fn record_of(key: &RequestKey, item: &HashMap<String, AttributeValue>) -> RequestRecord {
        RequestRecord {
            key: key.to_string(),
            account: text(item, "account").unwrap_or_default(),
            selling_partner_id: text(item, "sellingPartnerId").unwrap_or_default(),
            report_type: text(item, "reportType").unwrap_or_default(),
            report_id: text(item, "reportId"),
            report_requested_at: text(item, "reportRequestedAt")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            status: text(item, "status").and_then(|s| s.parse().ok()),
            status_at: text(item, "statusAt")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            report_document_id: text(item, "reportDocumentId"),
            outcome: text(item, "outcome").and_then(|o| serde_json::from_str(&o).ok()),
        }
    }

    /// What earlier runs left for each of `keys` that the table knows, for planning.
    pub async fn previous(
        &self,
        keys: &[RequestKey],
    ) -> Result<HashMap<RequestKey, Previous>, Failure> {
        Ok(self
            .records(keys)
            .await?
            .into_iter()
            .map(|(key, record)| (key, previous_of(&record)))
            .collect())
    }

    /// What the table holds for each of `keys` it knows: consistent reads, 100 keys per
    /// BatchGetItem, no scan.
    pub async fn records(
        &self,
        keys: &[RequestKey],
    ) -> Result<HashMap<RequestKey, RequestRecord>, Failure> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|key| HashMap::from([("pk".to_owned(), request_pk(key.as_str()))]))
                .collect();
            // DynamoDB may hand back part of a batch as unprocessed; ask again for it.
            for _ in 0..10 {
                if pending.is_empty() {
                    break;
                }
                let batch = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| {
                        Failure::caused_by(ErrorName::ConfigInvalid, "building the batch read", e)
                    })?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, batch)
                    .send()
                    .await
                    .map_err(|e| aws_failure("reading earlier requests", e))?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let Some(key) = text(item, "key").and_then(|k| RequestKey::parse(&k)) else {
                        continue;
                    };
                    found.insert(key.clone(), Self::record_of(&key, item));
                }
                pending = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(Failure::new(
                    ErrorName::Throttled,
                    "DynamoDB left part of the earlier requests unread after 10 tries; the run is retried",
                ));
            }
        }
        Ok(found)
    }

    /// Records a window that will not be requested because it starts before the report
    /// type's lookback limit.
    pub async fn record_expired(
        &self,
        planned: &PlannedRequest,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        self.upsert_outcome(
            planned,
            &Outcome::Expired {
                reason: reason.to_owned(),
            },
            now,
        )
        .await
    }
}

/// What planning needs to know of a recorded request.
fn previous_of(record: &RequestRecord) -> Previous {
    let ended = record.outcome.as_ref().map(|outcome| match outcome {
        Outcome::Stored(_) | Outcome::StoredPages { .. } | Outcome::NoData => Ended::Landed,
        Outcome::Fatal { .. } => Ended::Fatal,
        Outcome::Failed { error, .. } => Ended::Failed(error.clone()),
        Outcome::Expired { .. } => Ended::Expired,
    });
    Previous {
        report_id: record.report_id.clone(),
        requested_at: record.report_requested_at,
        status: record.status,
        ended,
    }
}

#[cfg(test)]
mod tests {
    //! The conditional-write paths, against the real DynamoDB client answered by
    //! `aws-smithy-mocks`: what each writer does when its condition fails.

    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, ProvisionedThroughputExceededException,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use chrono::TimeZone;
    use domain::{DataWindow, ErrorName, Region, ReportRequest, Source};

    use super::*;

    fn condition_failed() -> ConditionalCheckFailedException {
        ConditionalCheckFailedException::builder()
            .meta(
                ErrorMetadata::builder()
                    .code("ConditionalCheckFailedException")
                    .build(),
            )
            .build()
    }

    fn update_refused() -> Rule {
        mock!(aws_sdk_dynamodb::Client::update_item)
            .then_error(|| UpdateItemError::ConditionalCheckFailedException(condition_failed()))
    }

    /// GetItem of the request finds it with this report id and status.
    fn request_found(report_id: &'static str, status: &'static str) -> Rule {
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            let item = [
                ("pk", format!("request#{}", key())),
                ("reportId", report_id.to_owned()),
                ("status", status.to_owned()),
                ("requestKey", key().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
            .collect();
            GetItemOutput::builder().set_item(Some(item)).build()
        })
    }

    fn table(rules: &[&Rule]) -> MetadataTable {
        MetadataTable::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules),
            "metadata",
        )
    }

    fn planned() -> PlannedRequest {
        let day = |d| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
        let request = ReportRequest {
            account: "acme".into(),
            selling_partner_id: "A1SELLER".into(),
            source: Source::sp_api_reports(),
            report_type: "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL".into(),
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            window: DataWindow::new(day(24), day(25)).unwrap(),
            options: Default::default(),
            query: None,
            ads: None,
            amc: None,
        };
        PlannedRequest {
            report: "orders".into(),
            key: request.key(),
            request,
            region: Region::Na,
            completion: domain::Completion::Notification,
            await_timeout_secs: 60,
            endpoints: domain::config::RegionEndpoints::production(Region::Na),
            secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme".into(),
            patience_secs: 6 * 3600,
            supersedes: None,
            config_version: "0123456789abcdef".into(),
            page: None,
            amc_limits: None,
        }
    }

    fn key() -> RequestKey {
        planned().key
    }

    #[tokio::test]
    async fn a_second_claim_of_a_request_reuses_the_first_report() {
        let refused = mock!(aws_sdk_dynamodb::Client::put_item)
            .then_error(|| PutItemError::ConditionalCheckFailedException(condition_failed()));
        let found = request_found("5001", "IN_QUEUE");
        let claim = table(&[&refused, &found])
            .claim(&planned(), Utc::now())
            .await
            .unwrap();
        assert_eq!(
            claim,
            Claim::Existing {
                report_id: Some("5001".into())
            }
        );
    }

    #[tokio::test]
    async fn a_losing_creator_converges_on_the_report_recorded_first() {
        let cancelled = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(|| {
            TransactWriteItemsError::TransactionCanceledException(
                aws_sdk_dynamodb::types::error::TransactionCanceledException::builder()
                    .cancellation_reasons(
                        aws_sdk_dynamodb::types::CancellationReason::builder()
                            .code("ConditionalCheckFailed")
                            .build(),
                    )
                    .cancellation_reasons(
                        aws_sdk_dynamodb::types::CancellationReason::builder()
                            .code("None")
                            .build(),
                    )
                    .build(),
            )
        });
        let found = request_found("5001", "IN_QUEUE");
        let standing = table(&[&cancelled, &found])
            .record_report_id(&key(), "A1SELLER", "5002", Utc::now())
            .await
            .unwrap();
        assert_eq!(
            standing, "5001",
            "the first report stands; its index was written with it"
        );
    }

    #[tokio::test]
    async fn a_task_token_for_an_unclaimed_request_is_a_named_config_error() {
        let refused = update_refused();
        let failure = table(&[&refused])
            .store_task_token(&key(), "token-1")
            .await
            .unwrap_err();
        assert_eq!(failure.name(), ErrorName::ConfigInvalid);
        assert!(
            failure
                .to_string()
                .contains("CreateReport must run before AwaitReport"),
            "{failure}"
        );
    }

    #[tokio::test]
    async fn a_result_claimed_already_or_not_ready_is_not_claimed_again() {
        let refused = update_refused();
        assert_eq!(table(&[&refused]).claim_result(&key()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_status_that_does_not_move_forward_is_ignored_with_the_current_one() {
        let index = mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests(|r| {
                r.key()
                    .and_then(|k| k.get("pk"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|pk| pk.starts_with("report#"))
            })
            .then_output(|| {
                let item = [(
                    "requestKey".to_owned(),
                    AttributeValue::S(key().to_string()),
                )]
                .into_iter()
                .collect();
                GetItemOutput::builder().set_item(Some(item)).build()
            });
        let (refused, found) = (update_refused(), request_found("5001", "DONE"));
        let change = table(&[&index, &refused, &found])
            .record_status("A1SELLER", "5001", ProcessingStatus::InProgress, None, None)
            .await
            .unwrap();
        assert_eq!(
            change,
            StatusChange::Ignored {
                key: key(),
                current: Some(ProcessingStatus::Done)
            }
        );
    }

    #[tokio::test]
    async fn dynamodb_throttling_is_named_throttled_for_the_state_machine() {
        let throttled = mock!(aws_sdk_dynamodb::Client::update_item).then_error(|| {
            UpdateItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("ProvisionedThroughputExceededException")
                            .build(),
                    )
                    .build(),
            )
        });
        let failure = table(&[&throttled])
            .record_outcome(&key(), &Outcome::NoData, Utc::now())
            .await
            .unwrap_err();
        assert_eq!(failure.name(), ErrorName::Throttled);
    }
}
