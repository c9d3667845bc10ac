//! Notifications: SP-API `REPORT_PROCESSING_FINISHED` messages from SQS → the metadata
//! table → the waiting execution.
//!
//! Amazon delivers at least once, sometimes many times, sometimes for reports nobody here
//! asked for (schedules, other tools of the same seller), and in any order relative to the
//! state machine storing its task token (api-facts.md §8 pitfall 11;
//! <https://github.com/amzn/selling-partner-api-models/issues/2616>). So each message is:
//! dropped if its notificationId was handled; recorded and acknowledged if its report is
//! unknown; otherwise its status is written with the forward-only transition rule and,
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
    /// A notification type this pipeline does not ingest yet.
    Ignored,
}

/// The function and the clients it keeps between invocations.
pub struct NotificationProcessor {
    table: MetadataTable,
    sfn: aws_sdk_sfn::Client,
}

impl NotificationProcessor {
    /// The function with its clients.
    pub fn new(table: MetadataTable, sfn: aws_sdk_sfn::Client) -> Self {
        NotificationProcessor { table, sfn }
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
        let report = match notification {
            Notification::ReportProcessingFinished(report) => report,
            Notification::DataKioskQueryProcessingFinished(_) => return Ok(Handled::Ignored),
        };
        let notification_id = &report.metadata.notification_id;
        if self.table.notification_seen(notification_id).await? {
            return Ok(Handled::Duplicate);
        }
        let payload = &report.payload;
        // Vendor notifications carry no sellerId; their account id names the vendor group.
        let selling_partner_id = payload.seller_id.as_deref().unwrap_or(&payload.account_id);
        let now = Utc::now();
        let change = self
            .table
            .record_status(
                selling_partner_id,
                &payload.report_id,
                payload.processing_status,
                payload.report_document_id.as_deref(),
            )
            .await?;
        let handled = match change {
            StatusChange::UnknownReport => {
                self.table
                    .record_unsolicited(
                        selling_partner_id,
                        &payload.report_id,
                        &payload.report_type,
                        payload.processing_status,
                        now,
                    )
                    .await?;
                Handled::Unsolicited
            }
            StatusChange::Ignored { .. } => Handled::Duplicate,
            StatusChange::Advanced { key } => Handled::Recorded {
                delivery: self.table.resume_if_ready(&self.sfn, &key).await?,
            },
        };
        self.table
            .remember_notification(notification_id, &payload.report_id, now)
            .await?;
        Ok(handled)
    }
}
