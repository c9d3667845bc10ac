//! Sending REPORT_PROCESSING_FINISHED notifications: a timer per report fires when the
//! report reaches its terminal status, builds the envelope exactly as the JSON schema
//! (`SCHEMAS/notifications/ReportProcessingFinishedNotification.json`) or in PascalCase,
//! applies the scenario's notification faults (duplicates, re-notifications, unsolicited
//! reports, loss) and sends each message to the subscription's SQS queue. A failed send
//! is logged and recorded, never fatal.
//! <https://developer-docs.amazon.com/sp-api/docs/notifications-api-v1-use-case-guide>

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::SqsTarget;
use crate::data_kiosk::QueryRecord;
use crate::introspection::{DeliveryOutcome, NotificationDelivery};
use crate::notifications::{
    QUERY_PAYLOAD_VERSION, QUERY_PROCESSING_FINISHED, REPORT_PAYLOAD_VERSION,
    REPORT_PROCESSING_FINISHED,
};
use crate::reports::{ReportRecord, ReportRequest, timestamp};
use crate::scenario::NotificationCasing;
use crate::state::Shared;

/// The SQS client notifications are sent with, built once at start.
pub(crate) struct SqsDelivery {
    client: aws_sdk_sqs::Client,
    /// An S3 client of the same endpoint: AMC reads uploaded first-party files there.
    pub s3: aws_sdk_s3::Client,
    queue_urls: Mutex<HashMap<String, String>>,
}

impl SqsDelivery {
    /// Builds the client for the configured endpoint and region; credentials come from
    /// the environment as for any AWS SDK client. An explicit endpoint is an emulator,
    /// which accepts any credentials: without `AWS_ACCESS_KEY_ID` set, fixed dummy ones
    /// are used rather than letting the SDK probe profiles and instance metadata.
    pub(crate) async fn connect(target: &SqsTarget) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()));
        if let Some(endpoint_url) = &target.endpoint_url {
            loader = loader.endpoint_url(endpoint_url);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new(
                    "simulator",
                    "simulator",
                    None,
                    None,
                    "simulator-emulator-endpoint",
                ));
            }
        }
        let config = loader.load().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        Self {
            client: aws_sdk_sqs::Client::new(&config),
            s3,
            queue_urls: Mutex::new(HashMap::new()),
        }
    }

    /// Sends one message to the queue with this ARN; returns the SQS message id.
    async fn send(&self, queue_arn: &str, body: &str) -> Result<String, String> {
        let queue_url = self.queue_url(queue_arn).await?;
        let sent = self
            .client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "SendMessage to {queue_arn} failed: {}",
                    DisplayErrorContext(&error)
                )
            })?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }

    /// Resolves `arn:aws:sqs:<region>:<account>:<name>` with GetQueueUrl, once per queue.
    async fn queue_url(&self, queue_arn: &str) -> Result<String, String> {
        if let Some(url) = self
            .queue_urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(queue_arn)
        {
            return Ok(url.clone());
        }
        let parts: Vec<&str> = queue_arn.split(':').collect();
        let [_, _, _, _, account, name] = parts.as_slice() else {
            return Err(format!("{queue_arn} is not an SQS queue ARN"));
        };
        let answer = self
            .client
            .get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "GetQueueUrl for {queue_arn} failed: {}",
                    DisplayErrorContext(&error)
                )
            })?;
        let url = answer
            .queue_url()
            .ok_or_else(|| format!("GetQueueUrl for {queue_arn} returned no URL"))?
            .to_owned();
        self.queue_urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(queue_arn.to_owned(), url.clone());
        Ok(url)
    }
}

/// Sends the report's notification when its clock reaches the terminal status.
pub(crate) fn notify_when_terminal(sim: &Shared, report_id: String, terminal_at: Instant) {
    let task_sim = sim.clone();
    sim.spawn(async move {
        tokio::time::sleep_until(terminal_at.into()).await;
        report_finished(&task_sim, &report_id, false).await;
    });
}

/// Sends the report's notification now (after cancelReport).
pub(crate) fn notify_now(sim: &Shared, report_id: String) {
    let task_sim = sim.clone();
    sim.spawn(async move { report_finished(&task_sim, &report_id, true).await });
}

/// The facts one notification reports.
struct FinishedReport {
    selling_partner_id: String,
    report_id: String,
    report_type: String,
    status: &'static str,
    document_id: Option<String>,
    event_time: DateTime<Utc>,
}

impl FinishedReport {
    fn of(report: &ReportRecord, now: Instant) -> Self {
        Self {
            selling_partner_id: report.selling_partner_id.clone(),
            report_id: report.report_id.clone(),
            report_type: report.request.report_type.clone(),
            status: report.status_at(now).as_str(),
            document_id: report.visible_document_id(now).map(str::to_owned),
            event_time: report.processing_end(),
        }
    }
}

/// The notification body, camelCase as the schema has it.
fn envelope(application_id: &str, subscription_id: &str, report: &FinishedReport) -> Value {
    let mut inner = json!({
        "sellerId": report.selling_partner_id,
        "accountId": format!("amzn1.merchant.o.{}", report.selling_partner_id),
        "reportId": report.report_id,
        "reportType": report.report_type,
        "processingStatus": report.status,
    });
    if let Some(document_id) = &report.document_id {
        inner["reportDocumentId"] = json!(document_id);
    }
    json!({
        "notificationVersion": REPORT_PAYLOAD_VERSION,
        "notificationType": REPORT_PROCESSING_FINISHED,
        "payloadVersion": REPORT_PAYLOAD_VERSION,
        "eventTime": timestamp(report.event_time),
        "payload": { "reportProcessingFinishedNotification": inner },
        "notificationMetadata": {
            "applicationId": application_id,
            "subscriptionId": subscription_id,
            "publishTime": timestamp(Utc::now()),
            "notificationId": uuid::Uuid::new_v4().to_string(),
        },
    })
}

/// PascalCase for the envelope and its metadata; the payload's inside stays camelCase,
/// as in the wire examples of other Amazon docs (api-facts §4.3).
fn pascal_case(body: Value) -> Value {
    fn capitalise(key: &str) -> String {
        let mut chars = key.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }
    let Value::Object(top) = body else {
        return body;
    };
    let renamed: Map<String, Value> = top
        .into_iter()
        .map(|(key, value)| {
            let value = match (key.as_str(), value) {
                ("notificationMetadata", Value::Object(metadata)) => Value::Object(
                    metadata
                        .into_iter()
                        .map(|(k, v)| (capitalise(&k), v))
                        .collect(),
                ),
                (_, value) => value,
            };
            (capitalise(&key), value)
        })
        .collect();
    Value::Object(renamed)
}

/// A new notification id and publish time for a re-sent notification.
fn renotified(mut body: Value) -> Value {
    if let Some(metadata) = body.get_mut("notificationMetadata") {
        metadata["notificationId"] = json!(uuid::Uuid::new_v4().to_string());
        metadata["publishTime"] = json!(timestamp(Utc::now()));
    }
    body
}

/// Reports a schedule of the same seller would have made: same type and marketplaces,
/// earlier windows, already DONE.
fn file_unsolicited(sim: &Shared, origin: &ReportRecord, count: u32) -> Vec<FinishedReport> {
    let mut world = sim.world();
    let window =
        (origin.request.data_end - origin.request.data_start).max(chrono::Duration::days(1));
    let now = Instant::now();
    (1..=i32::try_from(count).unwrap_or(i32::MAX))
        .filter_map(|back| {
            let request = ReportRequest {
                data_start: origin.request.data_start - window * back,
                data_end: origin.request.data_end - window * back,
                ..origin.request.clone()
            };
            let schedule_id = world.schedules.next_id();
            let report_id = world.reports.file_finished(
                &origin.selling_partner_id,
                request,
                sim.seed,
                Utc::now(),
                schedule_id,
            );
            world
                .reports
                .get(&report_id)
                .map(|report| FinishedReport::of(report, now))
        })
        .collect()
}

async fn report_finished(sim: &Shared, report_id: &str, cancelled_now: bool) {
    let now = Instant::now();
    let (report, casing, targets) = {
        let world = sim.world();
        let Some(report) = world.reports.get(report_id).cloned() else {
            return;
        };
        // The clock's task stands down for a report cancelReport already notified.
        if report.cancelled.is_some() != cancelled_now || !report.status_at(now).is_terminal() {
            return;
        }
        let targets = world.notifications.targets(
            &report.selling_partner_id,
            REPORT_PROCESSING_FINISHED,
            REPORT_PAYLOAD_VERSION,
        );
        (report, world.scenario.notification_casing, targets)
    };
    let unsolicited = file_unsolicited(sim, &report, report.plan.unsolicited_notifications);
    if report.plan.lose_notification {
        tracing::info!(report_id, "notification lost on purpose (scenario)");
        return;
    }
    if targets.is_empty() {
        tracing::debug!(
            report_id,
            "no REPORT_PROCESSING_FINISHED subscription; nothing sent"
        );
        return;
    }
    let finished = FinishedReport::of(&report, now);
    for target in &targets {
        let application_id = sim
            .app(&target.client_id)
            .map_or("", |app| app.application_id.as_str());
        let first = envelope(application_id, &target.subscription_id, &finished);
        let mut messages = vec![first.clone()];
        messages.extend((0..report.plan.duplicate_notifications).map(|_| first.clone()));
        messages.extend((0..report.plan.renotify).map(|_| renotified(first.clone())));
        messages.extend(
            unsolicited
                .iter()
                .map(|other| envelope(application_id, &target.subscription_id, other)),
        );
        for body in messages {
            deliver(sim, &target.queue_arn, cased(body, casing)).await;
        }
    }
}

fn cased(body: Value, casing: NotificationCasing) -> Value {
    match casing {
        NotificationCasing::Camel => body,
        NotificationCasing::Pascal => pascal_case(body),
    }
}

/// Sends the query's notification when its clock reaches the terminal status.
pub(crate) fn notify_query_when_terminal(sim: &Shared, query_id: String, terminal_at: Instant) {
    let task_sim = sim.clone();
    sim.spawn(async move {
        tokio::time::sleep_until(terminal_at.into()).await;
        query_finished(&task_sim, &query_id, false).await;
    });
}

/// Sends the query's notification now (after cancelQuery).
pub(crate) fn notify_query_now(sim: &Shared, query_id: String) {
    let task_sim = sim.clone();
    sim.spawn(async move { query_finished(&task_sim, &query_id, true).await });
}

/// The DATA_KIOSK_QUERY_PROCESSING_FINISHED body: the same envelope as reports', with a
/// flat payload (api-facts §4.4).
fn query_envelope(
    application_id: &str,
    subscription_id: &str,
    query: &QueryRecord,
    now: Instant,
) -> Value {
    let mut payload = json!({
        "accountId": format!("amzn1.merchant.o.{}", query.selling_partner_id),
        "queryId": query.query_id,
        "query": query.text,
        "processingStatus": query.status_at(now).as_str(),
    });
    let (data, error, next) = query.visible(now);
    if let Some(id) = data {
        payload["dataDocumentId"] = json!(id);
    }
    if let Some(id) = error {
        payload["errorDocumentId"] = json!(id);
    }
    if let Some(token) = next {
        payload["pagination"] = json!({ "nextToken": token });
    }
    json!({
        "notificationVersion": QUERY_PAYLOAD_VERSION,
        "notificationType": QUERY_PROCESSING_FINISHED,
        "payloadVersion": QUERY_PAYLOAD_VERSION,
        "eventTime": timestamp(query.processing_end()),
        "payload": payload,
        "notificationMetadata": {
            "applicationId": application_id,
            "subscriptionId": subscription_id,
            "publishTime": timestamp(Utc::now()),
            "notificationId": uuid::Uuid::new_v4().to_string(),
        },
    })
}

async fn query_finished(sim: &Shared, query_id: &str, cancelled_now: bool) {
    let now = Instant::now();
    let (query, casing, targets) = {
        let world = sim.world();
        let Some(query) = world.queries.get(query_id).cloned() else {
            return;
        };
        if query.cancelled.is_some() != cancelled_now || !query.status_at(now).is_terminal() {
            return;
        }
        let targets = world.notifications.targets(
            &query.selling_partner_id,
            QUERY_PROCESSING_FINISHED,
            QUERY_PAYLOAD_VERSION,
        );
        (query, world.scenario.notification_casing, targets)
    };
    if query.plan.lose_notification {
        tracing::info!(query_id, "notification lost on purpose (scenario)");
        return;
    }
    for target in &targets {
        let application_id = sim
            .app(&target.client_id)
            .map_or("", |app| app.application_id.as_str());
        let body = query_envelope(application_id, &target.subscription_id, &query, now);
        for _ in 0..=query.plan.duplicate_notifications {
            deliver(sim, &target.queue_arn, cased(body.clone(), casing)).await;
        }
    }
}

async fn deliver(sim: &Shared, queue_arn: &str, body: Value) {
    let outcome = match &sim.sqs {
        None => DeliveryOutcome::Recorded,
        Some(sqs) => match sqs.send(queue_arn, &body.to_string()).await {
            Ok(message_id) => DeliveryOutcome::Sent { message_id },
            Err(error) => {
                tracing::warn!(queue_arn, %error, "notification delivery failed");
                DeliveryOutcome::Failed { error }
            }
        },
    };
    tracing::info!(queue_arn, ?outcome, "notification");
    sim.world()
        .notifications
        .deliveries
        .push(NotificationDelivery {
            destination_arn: queue_arn.to_owned(),
            body,
            outcome,
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        let report = FinishedReport {
            selling_partner_id: "A1".into(),
            report_id: "123".into(),
            report_type: "GET_X".into(),
            status: "DONE",
            document_id: Some("amzn1.spdoc.1.4.na.x".into()),
            event_time: Utc::now(),
        };
        envelope("amzn1.sellerapps.app.x", "sub", &report)
    }

    #[test]
    fn envelope_has_the_schema_fields() {
        let body = sample();
        let inner = &body["payload"]["reportProcessingFinishedNotification"];
        assert_eq!(inner["accountId"], "amzn1.merchant.o.A1");
        assert_eq!(inner["reportDocumentId"], "amzn1.spdoc.1.4.na.x");
        assert_eq!(body["notificationMetadata"]["subscriptionId"], "sub");
        assert_eq!(body["payloadVersion"], "2020-09-04");
    }

    #[test]
    fn pascal_case_renames_envelope_but_not_payload() {
        let body = pascal_case(sample());
        assert_eq!(body["NotificationType"], "REPORT_PROCESSING_FINISHED");
        assert!(body["NotificationMetadata"]["NotificationId"].is_string());
        assert_eq!(
            body["Payload"]["reportProcessingFinishedNotification"]["reportId"],
            "123"
        );
        assert!(body.get("payload").is_none());
    }

    #[test]
    fn renotified_has_a_new_id() {
        let body = sample();
        let again = renotified(body.clone());
        assert_ne!(
            body["notificationMetadata"]["notificationId"],
            again["notificationMetadata"]["notificationId"]
        );
        assert_eq!(body["payload"], again["payload"]);
    }
}
