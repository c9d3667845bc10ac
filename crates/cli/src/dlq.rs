//! `sp-ingest dlq show | replay`: the notifications the processor could not handle
//! (moved to the stage's dead-letter queue after their last receive), listed, and sent
//! back to the notification queue. Replaying is idempotent: the processor drops a
//! notification whose id it has handled, and a replayed message leaves the dead-letter
//! queue only once it is back on the notification queue — replaying twice changes
//! nothing.

use anyhow::Context as _;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use domain::notification::Notification;

/// Messages received from the dead-letter queue at a time (SQS's most).
const BATCH: i32 = 10;

/// One dead letter, as `dlq show` lists it (what it is about, never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The SQS message id.
    pub message_id: String,
    /// Times it was received before it was moved here.
    pub receive_count: u32,
    /// What it says: type, id, report or query, status; or why it is not a notification.
    pub summary: String,
}

/// The stage's queue URL of `name`.
async fn queue_url(sqs: &Client, name: &str) -> anyhow::Result<String> {
    Ok(sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("finding queue {name}: is the stage deployed?"))?
        .queue_url()
        .unwrap_or_default()
        .to_owned())
}

/// What a notification is about, in one line.
fn summary(body: &str) -> String {
    match domain::parse_notification(body) {
        Ok(Notification::ReportProcessingFinished(n)) => format!(
            "REPORT_PROCESSING_FINISHED {} report {} ({}) {}",
            n.metadata.notification_id,
            n.payload.report_id,
            n.payload.report_type,
            n.payload.processing_status
        ),
        Ok(Notification::DataKioskQueryProcessingFinished(n)) => format!(
            "DATA_KIOSK_QUERY_PROCESSING_FINISHED {} query {} {}",
            n.metadata.notification_id, n.payload.query_id, n.payload.processing_status
        ),
        Err(error) => format!("not a notification the processor reads: {error}"),
    }
}

/// The dead letters of `dead_letter_queue`, left where they are.
pub async fn show(sqs: &Client, dead_letter_queue: &str) -> anyhow::Result<Vec<DeadLetter>> {
    let url = queue_url(sqs, dead_letter_queue).await?;
    let mut letters: Vec<DeadLetter> = Vec::new();
    // Received with no visibility timeout, so they stay; a message seen twice counts once.
    for _ in 0..10 {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(BATCH)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .context("reading the dead-letter queue")?;
        let mut new = 0;
        for message in received.messages() {
            let id = message.message_id().unwrap_or_default().to_owned();
            if letters.iter().any(|l| l.message_id == id) {
                continue;
            }
            new += 1;
            let receive_count = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            letters.push(DeadLetter {
                message_id: id,
                receive_count,
                summary: summary(message.body().unwrap_or_default()),
            });
        }
        if new == 0 {
            break;
        }
    }
    Ok(letters)
}

/// Sends every dead letter back to `queue` (each deleted from the dead-letter queue only
/// once it is sent); answers how many.
pub async fn replay(sqs: &Client, dead_letter_queue: &str, queue: &str) -> anyhow::Result<usize> {
    let dead = queue_url(sqs, dead_letter_queue).await?;
    let live = queue_url(sqs, queue).await?;
    let mut replayed = 0;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&dead)
            .max_number_of_messages(BATCH)
            .visibility_timeout(60)
            .send()
            .await
            .context("reading the dead-letter queue")?;
        if received.messages().is_empty() {
            return Ok(replayed);
        }
        for message in received.messages() {
            sqs.send_message()
                .queue_url(&live)
                .message_body(message.body().unwrap_or_default())
                .send()
                .await
                .context("sending a dead letter back to the notification queue")?;
            sqs.delete_message()
                .queue_url(&dead)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .context("removing a replayed dead letter")?;
            replayed += 1;
        }
    }
}

/// `dlq show` as a table.
pub fn table(letters: &[DeadLetter]) -> String {
    if letters.is_empty() {
        return "the dead-letter queue is empty\n".to_owned();
    }
    let mut out = format!("{:<38} {:>8}  {}\n", "message", "received", "notification");
    for letter in letters {
        out.push_str(&format!(
            "{:<38} {:>8}  {}\n",
            letter.message_id, letter.receive_count, letter.summary
        ));
    }
    out
}
