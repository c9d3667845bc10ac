//! Notifications API v1: destinations (grantless) and subscriptions (seller and grantless).
//!
//! Types follow `notifications.json`; every answer wraps its payload as
//! `{"payload": …, "errors": […]}`. The client picks the token per operation
//! (api-facts.md §4.1): destinations and subscription-by-id are grantless, creating and
//! reading a subscription by type needs the seller's authorisation. A second
//! createSubscription for the same type answers 409, returned here as
//! [`CreateSubscriptionOutcome::AlreadyExists`] so the caller can look the existing one up.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{ApiRequest, SpApiClient};
use crate::error::{ApiErrors, Error, RequestId};
use crate::limiter::Operation;

const API: [&str; 2] = ["notifications", "v1"];

/// The notification type of finished reports.
pub const REPORT_PROCESSING_FINISHED: &str = "REPORT_PROCESSING_FINISHED";
/// The payload version of `REPORT_PROCESSING_FINISHED` (api-facts.md §4.1).
pub const REPORT_PROCESSING_FINISHED_PAYLOAD_VERSION: &str = "2020-09-04";
/// The notification Data Kiosk sends when a query finishes.
pub const DATA_KIOSK_QUERY_PROCESSING_FINISHED: &str = "DATA_KIOSK_QUERY_PROCESSING_FINISHED";
/// Its payload version (api-facts.md §4.1).
pub const DATA_KIOSK_QUERY_PROCESSING_FINISHED_PAYLOAD_VERSION: &str = "2023-11-15";

/// `SqsResource`: an SQS queue by ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsResource {
    /// The queue ARN, `arn:aws:sqs:<region>:<account>:<name>`.
    pub arn: String,
}

/// `EventBridgeResourceSpecification`: where to create the partner event source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeResourceSpecification {
    /// The AWS region that receives the notifications.
    pub region: String,
    /// The AWS account that pays for them.
    pub account_id: String,
}

/// `EventBridgeResource`: an existing EventBridge destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeResource {
    /// The partner event source name.
    pub name: String,
    /// The AWS region.
    pub region: String,
    /// The AWS account.
    pub account_id: String,
}

/// `DestinationResourceSpecification`: one of SQS or EventBridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationResourceSpecification {
    /// An SQS queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsResource>,
    /// An EventBridge partner event source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bridge: Option<EventBridgeResourceSpecification>,
}

/// `DestinationResource`: the resource of an existing destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationResource {
    /// An SQS queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsResource>,
    /// An EventBridge destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bridge: Option<EventBridgeResource>,
}

/// `CreateDestinationRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDestinationRequest {
    /// Where to deliver.
    pub resource_specification: DestinationResourceSpecification,
    /// A name of your choice.
    pub name: String,
}

impl CreateDestinationRequest {
    /// A destination delivering to the SQS queue `arn` (its policy must let account
    /// 437568002678 send messages, api-facts.md §4.2).
    pub fn sqs(name: impl Into<String>, arn: impl Into<String>) -> Self {
        CreateDestinationRequest {
            resource_specification: DestinationResourceSpecification {
                sqs: Some(SqsResource { arn: arn.into() }),
                event_bridge: None,
            },
            name: name.into(),
        }
    }
}

/// `Destination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// The name given at creation.
    pub name: String,
    /// Amazon's id of the destination.
    pub destination_id: String,
    /// Where it delivers.
    pub resource: DestinationResource,
}

/// `AggregationTimePeriod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggregationTimePeriod {
    /// One notification per five minutes.
    FiveMinutes,
    /// One notification per ten minutes.
    TenMinutes,
}

/// `AggregationSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationSettings {
    /// The aggregation period.
    pub aggregation_time_period: AggregationTimePeriod,
}

/// `EventFilter` (aggregation, marketplace and order-change filters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFilter {
    /// `ANY_OFFER_CHANGED`, `ORDER_CHANGE` or `SHIPMENT_TRACKING_MILESTONE_CHANGED`.
    pub event_filter_type: String,
    /// How to aggregate high-frequency notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_settings: Option<AggregationSettings>,
    /// Only these marketplaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_ids: Option<Vec<String>>,
    /// Only these order change types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_change_types: Option<Vec<String>>,
}

/// `ProcessingDirective`: filters applied before delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingDirective {
    /// A typed filter (exclusive with `filter_expression`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_filter: Option<EventFilter>,
    /// A CEL filter expression (exclusive with `event_filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_expression: Option<String>,
}

/// `CreateSubscriptionRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubscriptionRequest {
    /// The payload version, e.g. `2020-09-04` for `REPORT_PROCESSING_FINISHED`.
    pub payload_version: String,
    /// The destination to deliver to.
    pub destination_id: String,
    /// Optional filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_directive: Option<ProcessingDirective>,
}

/// `Subscription`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Amazon's id of the subscription.
    pub subscription_id: String,
    /// The payload version.
    pub payload_version: String,
    /// The destination it delivers to.
    pub destination_id: String,
    /// Its filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_directive: Option<ProcessingDirective>,
}

/// What createSubscription did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateSubscriptionOutcome {
    /// A new subscription.
    Created(Subscription),
    /// Amazon answered 409: the seller already has a subscription of this type (and
    /// payload version); look it up with [`SpApiClient::get_subscription`].
    AlreadyExists {
        /// Amazon's request id.
        request_id: RequestId,
        /// Amazon's explanation.
        errors: ApiErrors,
    },
}

/// The `{"payload": …}` envelope of every Notifications answer.
#[derive(Deserialize)]
struct Envelope<T> {
    payload: T,
}

/// The Notifications API operations; the token (seller or grantless) follows the operation.
impl SpApiClient {
    /// `getDestinations` (grantless): every destination of the app.
    pub async fn get_destinations(&self) -> Result<Vec<Destination>, Error> {
        let path = [API[0], API[1], "destinations"];
        self.payload(ApiRequest::new(
            Operation::GetDestinations,
            Method::GET,
            &path,
        ))
        .await
    }

    /// `createDestination` (grantless).
    pub async fn create_destination(
        &self,
        request: &CreateDestinationRequest,
    ) -> Result<Destination, Error> {
        let path = [API[0], API[1], "destinations"];
        let destination: Destination = self
            .payload(
                ApiRequest::new(Operation::CreateDestination, Method::POST, &path)
                    .json_body(request),
            )
            .await?;
        tracing::info!(destination_id = %destination.destination_id, name = %destination.name, "destination created");
        Ok(destination)
    }

    /// `getDestination` (grantless).
    pub async fn get_destination(&self, destination_id: &str) -> Result<Destination, Error> {
        let path = [API[0], API[1], "destinations", destination_id];
        self.payload(ApiRequest::new(
            Operation::GetDestination,
            Method::GET,
            &path,
        ))
        .await
    }

    /// `deleteDestination` (grantless).
    pub async fn delete_destination(&self, destination_id: &str) -> Result<(), Error> {
        let path = [API[0], API[1], "destinations", destination_id];
        self.execute(ApiRequest::new(
            Operation::DeleteDestination,
            Method::DELETE,
            &path,
        ))
        .await?;
        Ok(())
    }

    /// `createSubscription` (seller): subscribes the seller to `notification_type`.
    pub async fn create_subscription(
        &self,
        notification_type: &str,
        request: &CreateSubscriptionRequest,
    ) -> Result<CreateSubscriptionOutcome, Error> {
        let path = [API[0], API[1], "subscriptions", notification_type];
        let call =
            ApiRequest::new(Operation::CreateSubscription, Method::POST, &path).json_body(request);
        match self.payload(call).await {
            Ok(subscription) => Ok(CreateSubscriptionOutcome::Created(subscription)),
            Err(Error::Rejected {
                status: 409,
                request_id,
                errors,
                ..
            }) => {
                tracing::info!(
                    notification_type,
                    request_id = request_id.as_deref(),
                    "subscription already exists"
                );
                Ok(CreateSubscriptionOutcome::AlreadyExists { request_id, errors })
            }
            Err(error) => Err(error),
        }
    }

    /// `getSubscription` (seller): the seller's subscription to `notification_type`, or
    /// `None` when Amazon answers 404 (there is none).
    pub async fn get_subscription(
        &self,
        notification_type: &str,
        payload_version: Option<&str>,
    ) -> Result<Option<Subscription>, Error> {
        let path = [API[0], API[1], "subscriptions", notification_type];
        let mut request = ApiRequest::new(Operation::GetSubscription, Method::GET, &path);
        if let Some(version) = payload_version {
            request = request.query("payloadVersion", version);
        }
        match self.payload(request).await {
            Ok(subscription) => Ok(Some(subscription)),
            Err(Error::Rejected { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `getSubscriptionById` (grantless).
    pub async fn get_subscription_by_id(
        &self,
        notification_type: &str,
        subscription_id: &str,
    ) -> Result<Subscription, Error> {
        let path = [
            API[0],
            API[1],
            "subscriptions",
            notification_type,
            subscription_id,
        ];
        self.payload(ApiRequest::new(
            Operation::GetSubscriptionById,
            Method::GET,
            &path,
        ))
        .await
    }

    /// `deleteSubscriptionById` (grantless).
    pub async fn delete_subscription_by_id(
        &self,
        notification_type: &str,
        subscription_id: &str,
    ) -> Result<(), Error> {
        let path = [
            API[0],
            API[1],
            "subscriptions",
            notification_type,
            subscription_id,
        ];
        self.execute(ApiRequest::new(
            Operation::DeleteSubscriptionById,
            Method::DELETE,
            &path,
        ))
        .await?;
        Ok(())
    }

    async fn payload<T: DeserializeOwned>(&self, request: ApiRequest<'_>) -> Result<T, Error> {
        let envelope: Envelope<T> = self.execute_json(request).await?;
        Ok(envelope.payload)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn get_destinations_example_from_the_model_deserializes() {
        let example = json!({"payload": [{"destinationId": "TEST_CASE_200",
            "resource": {"sqs": {"arn": "arn:aws:sqs:us-east-2:444455556666:queue1"}}, "name": "SQSDestination"}]});
        let envelope: Envelope<Vec<Destination>> = serde_json::from_value(example).unwrap();
        let destination = &envelope.payload[0];
        assert_eq!(destination.destination_id, "TEST_CASE_200");
        assert_eq!(
            destination.resource.sqs.as_ref().unwrap().arn,
            "arn:aws:sqs:us-east-2:444455556666:queue1"
        );
    }

    #[test]
    fn create_destination_request_names_the_queue() {
        let request =
            CreateDestinationRequest::sqs("sp-ingest", "arn:aws:sqs:us-east-1:111122223333:spapi");
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"name": "sp-ingest",
                   "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:111122223333:spapi"}}})
        );
    }

    #[test]
    fn subscription_examples_from_the_model_deserialize() {
        let example = json!({"payload": {"subscriptionId": "TEST_CASE_200_SUBSCRIPTION_ID",
            "payloadVersion": "1.0", "destinationId": "TEST_CASE_200_DESTINATION_ID"}});
        let envelope: Envelope<Subscription> = serde_json::from_value(example).unwrap();
        assert_eq!(
            envelope.payload.subscription_id,
            "TEST_CASE_200_SUBSCRIPTION_ID"
        );
        assert_eq!(envelope.payload.processing_directive, None);

        let filtered = json!({"subscriptionId": "s", "payloadVersion": "1.0", "destinationId": "d",
            "processingDirective": {"eventFilter": {"eventFilterType": "ANY_OFFER_CHANGED",
                "marketplaceIds": ["ATVPDKIKX0DER"], "aggregationSettings": {"aggregationTimePeriod": "FiveMinutes"}}}});
        let subscription: Subscription = serde_json::from_value(filtered.clone()).unwrap();
        let filter = subscription
            .processing_directive
            .as_ref()
            .unwrap()
            .event_filter
            .as_ref()
            .unwrap();
        assert_eq!(
            filter
                .aggregation_settings
                .as_ref()
                .unwrap()
                .aggregation_time_period,
            AggregationTimePeriod::FiveMinutes
        );
        assert_eq!(serde_json::to_value(&subscription).unwrap(), filtered);
    }

    #[test]
    fn create_subscription_request_is_camel_case() {
        let request = CreateSubscriptionRequest {
            payload_version: REPORT_PROCESSING_FINISHED_PAYLOAD_VERSION.to_owned(),
            destination_id: "dest-1".to_owned(),
            processing_directive: None,
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"payloadVersion": "2020-09-04", "destinationId": "dest-1"})
        );
    }
}
