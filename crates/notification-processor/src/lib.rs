//! Notifications: SP-API `REPORT_PROCESSING_FINISHED` and Data Kiosk
//! `DATA_KIOSK_QUERY_PROCESSING_FINISHED` messages from SQS → the metadata table → the
//! waiting execution. A query is handled like a report: its id stands where a report id
//! would, its data or error document where the report's document would, and the token of
//! its next page of results is recorded with the status.
//!
//! Amazon delivers at least once, sometimes many times, sometimes for reports nobody here
//! asked for (schedules, other tools of the same seller), and in any order relative to the
//! state machine storing its task token (api-facts.md §8 pitfall 11;
//! <https://github.com/amzn/selling-partner-api-models/issues/2616>). So each message is:
//! recorded and acknowledged, nothing else, when it was sent to another application (the
//! queue's policy lets Amazon's publisher in for every app, so only the notification's
//! `applicationId` says it is ours); dropped if its notificationId was handled; recorded
//! and acknowledged if its report is unknown; otherwise its status is written with the forward-only transition rule and,
//! if a task token is waiting and this write came second, the task result is sent.
//! A message is reported as a batch item failure only when an AWS call failed (it will
//! come back) or it cannot be parsed (after the queue's receive limit it moves to the
//! dead-letter queue for an operator).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use domain::notification::{Notification, parse_notification};
use lambda_runtime::LambdaEvent;
use pipeline::{Delivery, Failure, MetadataTable, StatusChange};

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A new status was recorded.
    Recorded {
        /// `None`: no task was waiting yet (AwaitReport will send the result when it
        /// stores its token); otherwise what became of the result this message sent.
        delivery: Option<Delivery>,
    },
    /// The same notification or status was already handled.
    Duplicate,
    /// The report was not created here; recorded for operators.
    Unsolicited,
    /// Sent to another application; recorded for operators, not acted on.
    Foreign,
}

/// The function and the clients it keeps between invocations.
pub struct NotificationProcessor {
    table: MetadataTable,
    sfn: aws_sdk_sfn::Client,
    application_id: Option<String>,
}

impl NotificationProcessor {
    /// The function with its clients, accepting notifications of `application_id` (the
    /// SP-API application, `amzn1.sp.solution.…` / `amzn1.sellerapps.app.…`) only; every
    /// application's when `None`.
    pub fn new(
        table: MetadataTable,
        sfn: aws_sdk_sfn::Client,
        application_id: Option<String>,
    ) -> Self {
        NotificationProcessor {
            table,
            sfn,
            application_id,
        }
    }

    /// Handles a batch; the response lists only the messages to deliver again.
    pub async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Failure> {
        let event = event.payload;
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            let id = message.message_id.clone().unwrap_or_default();
            match self.handle_message(message).await {
                Ok(handled) => tracing::info!(message_id = %id, ?handled, "notification handled"),
                Err(failure) => {
                    tracing::warn!(message_id = %id, error = %failure.describe(), "notification will be delivered again");
                    let mut failed = BatchItemFailure::default();
                    failed.item_identifier = id;
                    response.batch_item_failures.push(failed);
                }
            }
        }
        Ok(response)
    }

    /// Handles one message.
    pub async fn handle_message(&self, message: &SqsMessage) -> Result<Handled, Failure> {
        let body = message.body.as_deref().unwrap_or_default();
        let notification = parse_notification(body).map_err(|e| {
            Failure::caused_by(
                domain::ErrorName::UpstreamUnavailable,
                "the message is not a notification this pipeline understands",
                e,
            )
        })?;
        let finished = Finished::of(&notification);
        let notification_id = finished.notification_id;
        let sent_to = finished.application_id;
        if self
            .application_id
            .as_ref()
            .is_some_and(|ours| ours != sent_to)
        {
            tracing::warn!(%notification_id, application_id = %sent_to, "notification for another application; recorded, not acted on");
            self.table
                .record_foreign(notification_id, sent_to, finished.id, Utc::now())
                .await?;
            return Ok(Handled::Foreign);
        }
        if self.table.notification_seen(notification_id).await? {
            return Ok(Handled::Duplicate);
        }
        let selling_partner_id = finished.selling_partner_id;
        let now = Utc::now();
        let change = self
            .table
            .record_status(
                selling_partner_id,
                finished.id,
                finished.status,
                finished.document_id,
                finished.next_page_token,
            )
            .await?;
        let handled = match change {
            StatusChange::UnknownReport => {
                self.table
                    .record_unsolicited(
                        selling_partner_id,
                        finished.id,
                        finished.kind,
                        finished.status,
                        now,
                    )
                    .await?;
                Handled::Unsolicited
            }
            // The status was recorded before, yet the result may not have been taken:
            // an earlier delivery whose SendTaskSuccess failed gave its claim back and
            // came back to this point. Claiming again sends it, at most once per token.
            StatusChange::Ignored { key, .. } => {
                match self.table.resume_if_ready(&self.sfn, &key).await? {
                    Some(delivery) => Handled::Recorded {
                        delivery: Some(delivery),
                    },
                    None => Handled::Duplicate,
                }
            }
            StatusChange::Advanced { key } => Handled::Recorded {
                delivery: self.table.resume_if_ready(&self.sfn, &key).await?,
            },
        };
        self.table
            .remember_notification(notification_id, finished.id, now)
            .await?;
        Ok(handled)
    }
}

/// What either notification type says, in the terms of the metadata table.
struct Finished<'a> {
    notification_id: &'a str,
    application_id: &'a str,
    selling_partner_id: &'a str,
    /// The report id, or the query id.
    id: &'a str,
    /// The report type, or `DATA_KIOSK_QUERY` (a notification does not name the dataset).
    kind: &'a str,
    status: domain::ProcessingStatus,
    /// The report's document, or the query's data or error document.
    document_id: Option<&'a str>,
    next_page_token: Option<&'a str>,
}

/// What an unsolicited query is recorded as.
const DATA_KIOSK_QUERY: &str = "DATA_KIOSK_QUERY";
/// How a seller's account id starts; a vendor group's (`amzn1.vg.…`) is used whole.
const SELLER_ACCOUNT_PREFIX: &str = "amzn1.merchant.o.";

impl<'a> Finished<'a> {
    fn of(notification: &'a Notification) -> Self {
        match notification {
            Notification::ReportProcessingFinished(report) => {
                let payload = &report.payload;
                Finished {
                    notification_id: &report.metadata.notification_id,
                    application_id: &report.metadata.application_id,
                    // Vendor notifications carry no sellerId; their account id names the
                    // vendor group.
                    selling_partner_id: payload.seller_id.as_deref().unwrap_or(&payload.account_id),
                    id: &payload.report_id,
                    kind: &payload.report_type,
                    status: payload.processing_status,
                    document_id: payload.report_document_id.as_deref(),
                    next_page_token: None,
                }
            }
            Notification::DataKioskQueryProcessingFinished(query) => {
                let payload = &query.payload;
                Finished {
                    notification_id: &query.metadata.notification_id,
                    application_id: &query.metadata.application_id,
                    // Data Kiosk names the account only: `amzn1.merchant.o.<seller id>`.
                    selling_partner_id: payload
                        .account_id
                        .strip_prefix(SELLER_ACCOUNT_PREFIX)
                        .unwrap_or(&payload.account_id),
                    id: &payload.query_id,
                    kind: DATA_KIOSK_QUERY,
                    status: payload.processing_status,
                    document_id: payload
                        .data_document_id
                        .as_deref()
                        .or(payload.error_document_id.as_deref()),
                    next_page_token: payload
                        .pagination
                        .as_ref()
                        .and_then(|p| p.next_token.as_deref()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every branch of a message's handling, against the real DynamoDB and Step Functions
    //! clients answered by `aws-smithy-mocks`: no network, milliseconds.

    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
    use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessOutput};
    use aws_sdk_sfn::types::error::TaskTimedOut;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    const SELLER: &str = "A3TH9S8BH6GOGM";
    const KEY: &str = "b37071399f5c0e7aa527e411c0903ff5";

    fn notification(status: &str) -> String {
        format!(
            r#"{{"notificationVersion":"2020-09-04","notificationType":"REPORT_PROCESSING_FINISHED","payloadVersion":"2020-09-04","eventTime":"2026-11-25T03:35:13.214Z",
            "payload":{{"reportProcessingFinishedNotification":{{"sellerId":"{SELLER}","accountId":"amzn1.merchant.o.{SELLER}","reportId":"5001","reportType":"GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL","processingStatus":"{status}","reportDocumentId":"amzn1.tortuga.doc"}}}},
            "notificationMetadata":{{"applicationId":"amzn1.sellerapps.app.x","subscriptionId":"s-1","publishTime":"2026-11-25T03:35:14.000Z","notificationId":"n-1"}}}}"#
        )
    }

    fn event(bodies: &[&str]) -> LambdaEvent<SqsEvent> {
        let mut event = SqsEvent::default();
        for (i, body) in bodies.iter().enumerate() {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("m-{i}"));
            message.body = Some((*body).to_owned());
            event.records.push(message);
        }
        LambdaEvent::new(event, lambda_runtime::Context::default())
    }

    fn pk_of(key: Option<&std::collections::HashMap<String, AttributeValue>>) -> String {
        key.and_then(|k| k.get("pk"))
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    }

    /// GetItem answers: the notification id seen or not, the report ours or not.
    fn lookups(seen: bool, ours: bool) -> Rule {
        mock!(aws_sdk_dynamodb::Client::get_item).then_compute_output(move |input| {
            let pk = pk_of(input.key());
            let found =
                (pk.starts_with("notification#") && seen) || (pk.starts_with("report#") && ours);
            let item = found.then(|| {
                [("pk", pk.as_str()), ("requestKey", KEY)]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
                    .collect()
            });
            GetItemOutput::builder().set_item(item).build()
        })
    }

    /// What DynamoDB answers a conditional write whose condition does not hold.
    fn condition_failed() -> UpdateItemError {
        UpdateItemError::ConditionalCheckFailedException(
            aws_sdk_dynamodb::types::error::ConditionalCheckFailedException::builder()
                .meta(
                    aws_sdk_dynamodb::error::ErrorMetadata::builder()
                        .code("ConditionalCheckFailedException")
                        .build(),
                )
                .build(),
        )
    }

    fn puts() -> Rule {
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build())
    }

    /// UpdateItem: the status write succeeds; the result claim finds a waiting token.
    fn updates(token_waiting: bool) -> Rule {
        mock!(aws_sdk_dynamodb::Client::update_item).then_compute_output(move |input| {
            let claiming = input
                .update_expression()
                .is_some_and(|e| e.contains("resultSentFor"));
            let attributes = (claiming && token_waiting).then(|| {
                [
                    ("taskToken", "token-1"),
                    ("status", "DONE"),
                    ("reportDocumentId", "amzn1.tortuga.doc"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
                .collect()
            });
            UpdateItemOutput::builder()
                .set_attributes(attributes)
                .build()
        })
    }

    fn processor_with(dynamodb: &[&Rule], sfn: &[&Rule]) -> NotificationProcessor {
        let table = MetadataTable::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, dynamodb),
            "metadata",
        );
        NotificationProcessor::new(
            table,
            mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn),
            Some("amzn1.sellerapps.app.x".to_owned()),
        )
    }

    fn sent() -> Rule {
        mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(|r| {
                r.task_token() == Some("token-1")
                    && r.output()
                        .is_some_and(|o| o.contains(r#""processingStatus":"DONE""#))
            })
            .then_output(|| SendTaskSuccessOutput::builder().build())
    }

    async fn handled(processor: &NotificationProcessor, body: &str) -> Result<Handled, Failure> {
        let mut message = SqsMessage::default();
        message.body = Some(body.to_owned());
        processor.handle_message(&message).await
    }

    #[tokio::test]
    async fn done_for_a_waiting_task_resumes_it_once_and_remembers_the_notification() {
        let (lookups, puts, updates, sent) = (lookups(false, true), puts(), updates(true), sent());
        let processor = processor_with(&[&lookups, &puts, &updates], &[&sent]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(
            handled,
            Handled::Recorded {
                delivery: Some(Delivery::Delivered)
            }
        );
        assert_eq!(sent.num_calls(), 1);
        assert_eq!(puts.num_calls(), 1, "the notification id is remembered");
    }

    #[tokio::test]
    async fn a_notification_for_another_application_is_recorded_and_nothing_else() {
        let (lookups, updates, sent) = (lookups(false, true), updates(true), sent());
        let foreign = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|r| {
                r.item()
                    .and_then(|i| i.get("pk"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|pk| pk == "foreign#n-1")
                    && r.item()
                        .is_some_and(|i| i.contains_key(pipeline::metadata::EXPIRES_AT))
            })
            .then_output(|| PutItemOutput::builder().build());
        let processor = processor_with(&[&lookups, &foreign, &updates], &[&sent]);
        let other =
            notification("DONE").replace("amzn1.sellerapps.app.x", "amzn1.sellerapps.app.other");
        assert_eq!(handled(&processor, &other).await.unwrap(), Handled::Foreign);
        assert_eq!(foreign.num_calls(), 1);
        assert_eq!(
            (updates.num_calls(), sent.num_calls(), lookups.num_calls()),
            (0, 0, 0),
            "no status written, no task resumed"
        );
    }

    #[tokio::test]
    async fn done_before_the_token_is_stored_records_and_sends_nothing() {
        let (lookups, puts, updates) = (lookups(false, true), puts(), updates(false));
        let processor = processor_with(&[&lookups, &puts, &updates], &[]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(handled, Handled::Recorded { delivery: None });
    }

    #[tokio::test]
    async fn a_task_that_stopped_waiting_is_reported_as_such_not_as_sent() {
        let (lookups, puts, updates) = (lookups(false, true), puts(), updates(true));
        let timed_out = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_error(|| SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().build()));
        let processor = processor_with(&[&lookups, &puts, &updates], &[&timed_out]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(
            handled,
            Handled::Recorded {
                delivery: Some(Delivery::NoLongerWaiting)
            }
        );
    }

    #[tokio::test]
    async fn a_failed_send_gives_the_claim_back_and_the_redelivery_resumes_the_task() {
        // First delivery: the status is recorded, the claim won, SendTaskSuccess fails.
        let release = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| r.update_expression() == Some("REMOVE resultSentFor"))
            .then_output(|| UpdateItemOutput::builder().build());
        let (first_lookups, first_puts, first_updates) =
            (lookups(false, true), puts(), updates(true));
        let unavailable = mock!(aws_sdk_sfn::Client::send_task_success).then_error(|| {
            SendTaskSuccessError::InvalidOutput(
                aws_sdk_sfn::types::error::InvalidOutput::builder()
                    .message("refused for the test")
                    .build(),
            )
        });
        let processor = processor_with(
            &[&release, &first_lookups, &first_puts, &first_updates],
            &[&unavailable],
        );
        let failure = handled(&processor, &notification("DONE"))
            .await
            .unwrap_err();
        assert_eq!(release.num_calls(), 1, "the claim is given back");
        assert_eq!(
            first_puts.num_calls(),
            0,
            "the notification id is not remembered: it comes back"
        );
        assert_eq!(failure.name(), domain::ErrorName::UpstreamUnavailable);

        // Redelivery: the status is already DONE, yet the claim is free again and wins.
        let status_refused = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| {
                r.update_expression()
                    .is_some_and(|e| e.starts_with("SET #status"))
            })
            .then_error(condition_failed);
        let (again, remembered, claim, sent) =
            (lookups(false, true), puts(), updates(true), sent());
        let processor = processor_with(&[&status_refused, &again, &remembered, &claim], &[&sent]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(
            handled,
            Handled::Recorded {
                delivery: Some(Delivery::Delivered)
            }
        );
        assert_eq!(sent.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_notification_seen_before_is_a_duplicate_and_touches_nothing() {
        let lookups = lookups(true, true);
        let processor = processor_with(&[&lookups], &[]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(handled, Handled::Duplicate);
        assert_eq!(lookups.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_report_nobody_here_created_is_recorded_as_unsolicited() {
        let (lookups, puts) = (lookups(false, false), puts());
        let processor = processor_with(&[&lookups, &puts], &[]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(handled, Handled::Unsolicited);
        assert_eq!(
            puts.num_calls(),
            2,
            "the unsolicited item and the notification id"
        );
    }

    #[tokio::test]
    async fn a_status_already_recorded_is_a_duplicate() {
        let (lookups, puts) = (lookups(false, true), puts());
        let refused = mock!(aws_sdk_dynamodb::Client::update_item).then_error(condition_failed);
        let processor = processor_with(&[&lookups, &puts, &refused], &[]);
        let handled = handled(&processor, &notification("DONE")).await.unwrap();
        assert_eq!(handled, Handled::Duplicate);
    }

    #[tokio::test]
    async fn a_data_kiosk_query_is_recorded_like_a_report_with_its_next_page_token() {
        let lookups = mock!(aws_sdk_dynamodb::Client::get_item).then_compute_output(|input| {
            let pk = pk_of(input.key());
            // The query was created here: the index is keyed by the seller id inside the
            // notification's accountId.
            let item = (pk == format!("report#{SELLER}#q-1")).then(|| {
                [("pk", pk.as_str()), ("requestKey", KEY)]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
                    .collect()
            });
            GetItemOutput::builder().set_item(item).build()
        });
        let status_write = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| {
                r.update_expression()
                    .is_some_and(|e| e.contains("nextPageToken = :n"))
                    && r.expression_attribute_values()
                        .and_then(|v| v.get(":n"))
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|token| token == "AAMA-next")
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let (puts, claim, sent) = (puts(), updates(true), sent());
        let processor = processor_with(&[&lookups, &puts, &status_write, &claim], &[&sent]);
        let body = format!(
            r#"{{"notificationVersion":"2023-11-15","notificationType":"DATA_KIOSK_QUERY_PROCESSING_FINISHED","payloadVersion":"2023-11-15","eventTime":"2026-11-25T03:35:13.214Z",
            "payload":{{"accountId":"amzn1.merchant.o.{SELLER}","queryId":"q-1","query":"query{{}}","processingStatus":"DONE","dataDocumentId":"amzn1.tortuga.doc","pagination":{{"nextToken":"AAMA-next"}}}},
            "notificationMetadata":{{"applicationId":"amzn1.sellerapps.app.x","subscriptionId":"s-1","publishTime":"2026-11-25T03:35:14.000Z","notificationId":"n-2"}}}}"#
        );
        let handled = handled(&processor, &body).await.unwrap();
        assert_eq!(
            handled,
            Handled::Recorded {
                delivery: Some(Delivery::Delivered)
            }
        );
        assert_eq!(
            status_write.num_calls(),
            1,
            "the status and the token written"
        );
        assert_eq!(sent.num_calls(), 1);
    }

    #[tokio::test]
    async fn only_unparsable_or_failed_messages_come_back_in_the_batch() {
        let throttled = mock!(aws_sdk_dynamodb::Client::get_item).then_error(|| {
            aws_sdk_dynamodb::operation::get_item::GetItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder().build(),
            )
        });
        let processor = processor_with(&[&throttled], &[]);
        let done = notification("DONE");
        let response = processor.handle(event(&["not json", &done])).await.unwrap();
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m-0", "m-1"]);

        let (lookups, puts) = (lookups(true, true), puts());
        let processor = processor_with(&[&lookups, &puts], &[]);
        let response = processor.handle(event(&["{}", &done])).await.unwrap();
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(
            failed,
            ["m-0"],
            "the duplicate is acknowledged, the unparsable one is not"
        );
    }
}
