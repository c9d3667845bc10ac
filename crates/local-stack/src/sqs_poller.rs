//! The SQS event source mapping, stood in for: poll a queue, invoke a function with the
//! batch as an `SqsEvent`, delete what succeeded.
//!
//! moto has no event source mappings that run Rust binaries, so this loop plays Lambda's
//! part with `ReportBatchItemFailures` switched on
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>):
//!
//! - the function answers an `SqsBatchResponse`; messages named in `batchItemFailures`
//!   stay in the queue and come back after their visibility timeout, the rest are deleted;
//! - an empty or `null` list, or an empty or `null` answer, is complete success;
//! - an `itemIdentifier` that is empty, `null` or not in the batch fails the whole batch;
//! - a function error or a failed invoke leaves the whole batch to be redelivered.
//!
//! Long polls are short (1 s by default) and cancelled on shutdown, so stopping is quick; a
//! batch cut off by shutdown is redelivered, as Lambda does after a timeout.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::LocalStackError;
use crate::invoke::LambdaBackend;

/// How long the loop waits after a failed SQS call before it polls again.
const RETRY_AFTER_SQS_ERROR: Duration = Duration::from_millis(500);

/// Which queue to poll and how.
#[derive(Debug, Clone)]
pub struct SqsPollerOptions {
    /// The queue's URL.
    pub queue_url: String,
    /// Messages per invoke, 1 to 10 (an event source mapping's `BatchSize`).
    pub batch_size: i32,
    /// Long-poll wait per receive, whole seconds up to 20; short keeps shutdown quick.
    pub wait_time: Duration,
}

impl SqsPollerOptions {
    /// Batches of up to 10 messages, 1 s long polls.
    pub fn new(queue_url: impl Into<String>) -> Self {
        Self {
            queue_url: queue_url.into(),
            batch_size: 10,
            wait_time: Duration::from_secs(1),
        }
    }
}

/// What the poller has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqsPollerStats {
    /// Invokes made (one per non-empty receive).
    pub batches: u64,
    /// Messages deleted after the function succeeded with them.
    pub deleted: u64,
    /// Messages left for redelivery because the function reported them as failed.
    pub reported_failures: u64,
    /// Batches left whole for redelivery because the invoke or the function failed.
    pub failed_batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    deleted: AtomicU64,
    reported_failures: AtomicU64,
    failed_batches: AtomicU64,
}

/// A running poll loop, stopped on [`SqsPoller::shutdown`] or drop.
#[derive(Debug)]
pub struct SqsPoller {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    counters: Arc<Counters>,
}

impl SqsPoller {
    /// Looks up the queue's ARN, then polls it and invokes `backend` with each batch.
    pub async fn start(
        sqs: aws_sdk_sqs::Client,
        options: SqsPollerOptions,
        backend: impl LambdaBackend,
    ) -> Result<Self, LocalStackError> {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&options.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|error| LocalStackError::Sqs {
                operation: "GetQueueAttributes",
                queue_url: options.queue_url.clone(),
                source: Box::new(error.into()),
            })?;
        let queue_arn = attributes
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let region = sqs
            .config()
            .region()
            .map_or_else(|| crate::moto::REGION.to_owned(), ToString::to_string);
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = watch::channel(false);
        let poll_loop = PollLoop {
            sqs,
            options,
            source: EventSource { queue_arn, region },
            counters: counters.clone(),
        };
        let task = tokio::spawn(poll_loop.run(backend, stopped));
        Ok(Self {
            stop,
            task,
            counters,
        })
    }

    /// What the poller has done so far.
    pub fn stats(&self) -> SqsPollerStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SqsPollerStats {
            batches: read(&self.counters.batches),
            deleted: read(&self.counters.deleted),
            reported_failures: read(&self.counters.reported_failures),
            failed_batches: read(&self.counters.failed_batches),
        }
    }

    /// Stops polling (a poll or invoke in flight is cut off) and waits for the loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for SqsPoller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The queue as Lambda names it in each record.
#[derive(Debug, Clone)]
struct EventSource {
    queue_arn: String,
    region: String,
}

struct PollLoop {
    sqs: aws_sdk_sqs::Client,
    options: SqsPollerOptions,
    source: EventSource,
    counters: Arc<Counters>,
}

impl PollLoop {
    async fn run(self, backend: impl LambdaBackend, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                () = self.poll_once(&backend) => {}
            }
        }
    }

    async fn poll_once(&self, backend: &impl LambdaBackend) {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.options.queue_url)
            .max_number_of_messages(self.options.batch_size.clamp(1, 10))
            .wait_time_seconds(self.options.wait_time.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let messages = match received {
            Ok(received) => received.messages.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(
                    queue_url = %self.options.queue_url,
                    error = %aws_sdk_sqs::Error::from(error),
                    "ReceiveMessage failed; polling again shortly"
                );
                tokio::time::sleep(RETRY_AFTER_SQS_ERROR).await;
                return;
            }
        };
        if messages.is_empty() {
            return;
        }
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        let event = sqs_event(&messages, &self.source);
        let event = match serde_json::to_value(&event) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "cannot serialize an SqsEvent");
                return;
            }
        };
        let verdict = match backend.invoke(event).await {
            Ok(answer) => batch_verdict(&messages, &answer),
            Err(error) => BatchVerdict::KeepAll(error.to_string()),
        };
        let to_delete: Vec<&Message> = match &verdict {
            BatchVerdict::DeleteAllExcept(failed) => {
                let failed_count = failed.len() as u64;
                self.counters
                    .reported_failures
                    .fetch_add(failed_count, Ordering::Relaxed);
                messages
                    .iter()
                    .filter(|message| message.message_id().is_none_or(|id| !failed.contains(id)))
                    .collect()
            }
            BatchVerdict::KeepAll(reason) => {
                self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    queue_url = %self.options.queue_url,
                    messages = messages.len(),
                    reason,
                    "batch failed; every message is redelivered after its visibility timeout"
                );
                Vec::new()
            }
        };
        self.delete(&to_delete).await;
    }

    async fn delete(&self, messages: &[&Message]) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter_map(|(index, message)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(message.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        let requested = entries.len() as u64;
        let deleted = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.options.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match deleted {
            Ok(answer) => {
                let failed = answer.failed().len() as u64;
                if failed > 0 {
                    tracing::warn!(failed, "DeleteMessageBatch left messages in the queue");
                }
                self.counters
                    .deleted
                    .fetch_add(requested - failed, Ordering::Relaxed);
            }
            Err(error) => tracing::warn!(
                queue_url = %self.options.queue_url,
                error = %aws_sdk_sqs::Error::from(error),
                "DeleteMessageBatch failed; the messages will be redelivered"
            ),
        }
    }
}

/// What to do with a batch after the function answered.
#[derive(Debug, PartialEq, Eq)]
enum BatchVerdict {
    /// Delete every message except these message ids.
    DeleteAllExcept(HashSet<String>),
    /// Delete nothing; the reason is logged.
    KeepAll(String),
}

/// Reads an `SqsBatchResponse` the way Lambda does with `ReportBatchItemFailures`.
fn batch_verdict(messages: &[Message], answer: &Value) -> BatchVerdict {
    let failures = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return BatchVerdict::DeleteAllExcept(HashSet::new()),
        Some(Value::Array(failures)) => failures,
        Some(other) => {
            return BatchVerdict::KeepAll(format!("batchItemFailures is not a list: {other}"));
        }
    };
    let in_batch: HashSet<&str> = messages.iter().filter_map(Message::message_id).collect();
    let mut failed = HashSet::new();
    for failure in failures {
        match failure.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if in_batch.contains(id) => {
                failed.insert(id.to_owned());
            }
            _ => {
                return BatchVerdict::KeepAll(format!(
                    "batchItemFailures names no message of the batch: {failure}"
                ));
            }
        }
    }
    BatchVerdict::DeleteAllExcept(failed)
}

/// The event Lambda sends for a batch of SQS messages.
fn sqs_event(messages: &[Message], source: &EventSource) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|message| sqs_record(message, source))
        .collect();
    event
}

fn sqs_record(message: &Message, source: &EventSource) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    record.md5_of_body = message.md5_of_body.clone();
    record.md5_of_message_attributes = message.md5_of_message_attributes.clone();
    record.attributes = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record.message_attributes = message
        .message_attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.clone(), message_attribute(value)))
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default();
    record.event_source_arn = Some(source.queue_arn.clone());
    record.event_source = Some("aws:sqs".to_owned());
    record.aws_region = Some(source.region.clone());
    record
}

fn message_attribute(value: &MessageAttributeValue) -> SqsMessageAttribute {
    let base64 = |bytes: &[u8]| {
        let mut data = Base64Data::default();
        data.0 = bytes.to_vec();
        data
    };
    let mut attribute = SqsMessageAttribute::default();
    attribute.string_value = value.string_value.clone();
    attribute.binary_value = value.binary_value().map(|blob| base64(blob.as_ref()));
    attribute.string_list_values = value.string_list_values().to_vec();
    attribute.binary_list_values = value
        .binary_list_values()
        .iter()
        .map(|blob| base64(blob.as_ref()))
        .collect();
    attribute.data_type = Some(value.data_type.clone());
    attribute
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("handle-{id}"))
            .body(format!("body of {id}"))
            .md5_of_body("md5")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("report")
                    .build()
                    .unwrap(),
            )
            .build()
    }

    fn batch() -> Vec<Message> {
        vec![message("a"), message("b")]
    }

    #[test]
    fn records_look_like_the_ones_lambda_sends() {
        let source = EventSource {
            queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            region: "us-east-1".into(),
        };
        let event = serde_json::to_value(sqs_event(&batch(), &source)).unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "a");
        assert_eq!(record["receiptHandle"], "handle-a");
        assert_eq!(record["body"], "body of a");
        assert_eq!(record["md5OfBody"], "md5");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(record["messageAttributes"]["kind"]["stringValue"], "report");
        assert_eq!(record["messageAttributes"]["kind"]["dataType"], "String");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:us-east-1:123456789012:q"
        );
        assert_eq!(record["awsRegion"], "us-east-1");
        assert_eq!(event["Records"][1]["messageId"], "b");
    }

    #[test]
    fn empty_or_missing_failure_lists_delete_the_whole_batch() {
        for answer in [
            json!({"batchItemFailures": []}),
            json!({"batchItemFailures": null}),
            json!({}),
            Value::Null,
        ] {
            assert_eq!(
                batch_verdict(&batch(), &answer),
                BatchVerdict::DeleteAllExcept(HashSet::new()),
                "{answer}"
            );
        }
    }

    #[test]
    fn reported_failures_are_kept_and_the_rest_deleted() {
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "b"}]});
        assert_eq!(
            batch_verdict(&batch(), &answer),
            BatchVerdict::DeleteAllExcept(HashSet::from(["b".to_owned()]))
        );
    }

    #[test]
    fn a_failure_that_names_no_message_of_the_batch_fails_the_whole_batch() {
        for failure in [
            json!({"itemIdentifier": ""}),
            json!({"itemIdentifier": null}),
            json!({"itemIdentifier": "zzz"}),
            json!({"id": "a"}),
        ] {
            let answer = json!({ "batchItemFailures": [failure] });
            assert!(
                matches!(batch_verdict(&batch(), &answer), BatchVerdict::KeepAll(_)),
                "{answer}"
            );
        }
    }
}
