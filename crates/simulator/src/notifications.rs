//! Notifications API v1 (`MODELS/notifications.json`): destinations (grantless, per
//! application) and subscriptions (per application and selling partner, created with a
//! seller token; read or deleted by id with a grantless token), every answer wrapped in
//! `{"payload": …}` or `{"errors": […]}`. Sending notifications is `delivery.rs`.
//! <https://developer-docs.amazon.com/sp-api/docs/notifications-api-v1-use-case-guide>

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::Operation;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::gateway::{self, Caller};
use crate::introspection::NotificationDelivery;
use crate::query::QueryParams;
use crate::reports::json_body;
use crate::state::Shared;

/// The notification type the simulator delivers.
pub(crate) const REPORT_PROCESSING_FINISHED: &str = "REPORT_PROCESSING_FINISHED";
/// Its payload version.
pub(crate) const REPORT_PAYLOAD_VERSION: &str = "2020-09-04";
/// The Data Kiosk notification type the simulator delivers.
pub(crate) const QUERY_PROCESSING_FINISHED: &str = "DATA_KIOSK_QUERY_PROCESSING_FINISHED";
/// Its payload version (the schema's examples).
pub(crate) const QUERY_PAYLOAD_VERSION: &str = "2023-11-15";

/// Notification types Amazon documents; subscriptions to others are rejected.
/// <https://developer-docs.amazon.com/sp-api/docs/notification-type-values>
const NOTIFICATION_TYPES: [&str; 23] = [
    "ACCOUNT_STATUS_CHANGED",
    "ANY_OFFER_CHANGED",
    "B2B_ANY_OFFER_CHANGED",
    "BRANDED_ITEM_CONTENT_CHANGE",
    QUERY_PROCESSING_FINISHED,
    "DETAIL_PAGE_TRAFFIC_EVENT",
    "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE",
    "FBA_INVENTORY_AVAILABILITY_CHANGES",
    "FBA_OUTBOUND_SHIPMENT_STATUS",
    "FEE_PROMOTION",
    "FEED_PROCESSING_FINISHED",
    "FULFILLMENT_ORDER_STATUS",
    "ITEM_INVENTORY_EVENT_CHANGE",
    "ITEM_PRODUCT_TYPE_CHANGE",
    "LISTINGS_ITEM_ISSUES_CHANGE",
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
    "LISTINGS_ITEM_STATUS_CHANGE",
    "ORDER_CHANGE",
    "ORDER_STATUS_CHANGE",
    "PRICING_HEALTH",
    "PRODUCT_TYPE_DEFINITIONS_CHANGE",
    REPORT_PROCESSING_FINISHED,
    "TRANSACTION_UPDATE",
];

/// Where a destination sends notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
enum DestinationResource {
    Sqs {
        arn: String,
    },
    EventBridge {
        account_id: String,
        region: String,
        name: String,
    },
}

#[derive(Clone, Debug)]
struct Destination {
    destination_id: String,
    client_id: String,
    name: String,
    resource: DestinationResource,
}

impl Destination {
    fn to_model(&self) -> Value {
        let resource = match &self.resource {
            DestinationResource::Sqs { arn } => json!({ "sqs": { "arn": arn } }),
            DestinationResource::EventBridge {
                account_id,
                region,
                name,
            } => {
                json!({ "eventBridge": { "name": name, "region": region, "accountId": account_id } })
            }
        };
        json!({ "name": self.name, "destinationId": self.destination_id, "resource": resource })
    }
}

#[derive(Clone, Debug)]
struct Subscription {
    subscription_id: String,
    client_id: String,
    selling_partner_id: String,
    notification_type: String,
    payload_version: String,
    destination_id: String,
    processing_directive: Option<Value>,
}

impl Subscription {
    fn to_model(&self) -> Value {
        let mut model = json!({
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        });
        if let Some(directive) = &self.processing_directive {
            model["processingDirective"] = directive.clone();
        }
        model
    }
}

/// A subscription a notification goes to.
#[derive(Clone, Debug)]
pub(crate) struct DeliveryTarget {
    pub client_id: String,
    pub subscription_id: String,
    pub queue_arn: String,
}

/// Destinations, subscriptions and the log of notifications sent.
#[derive(Debug, Default)]
pub(crate) struct NotificationBook {
    destinations: BTreeMap<String, Destination>,
    subscriptions: BTreeMap<String, Subscription>,
    /// Every notification sent or attempted, in order.
    pub deliveries: Vec<NotificationDelivery>,
}

impl NotificationBook {
    /// SQS subscriptions of a selling partner, of any application, to a notification
    /// type in the payload version the simulator sends.
    pub(crate) fn targets(
        &self,
        selling_partner_id: &str,
        notification_type: &str,
        payload_version: &str,
    ) -> Vec<DeliveryTarget> {
        self.subscriptions
            .values()
            .filter(|s| {
                s.selling_partner_id == selling_partner_id
                    && s.notification_type == notification_type
            })
            .filter(|s| s.payload_version == payload_version)
            .filter_map(
                |s| match &self.destinations.get(&s.destination_id)?.resource {
                    DestinationResource::Sqs { arn } => Some(DeliveryTarget {
                        client_id: s.client_id.clone(),
                        subscription_id: s.subscription_id.clone(),
                        queue_arn: arn.clone(),
                    }),
                    DestinationResource::EventBridge { .. } => None,
                },
            )
            .collect()
    }
}

/// Routes of the Notifications API.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/notifications/v1/destinations",
            get(get_destinations).post(create_destination),
        )
        .route(
            "/notifications/v1/destinations/{destinationId}",
            get(get_destination).delete(delete_destination),
        )
        .route("/notifications/v1/subscriptions", get(get_subscriptions))
        .route(
            "/notifications/v1/subscriptions/{notificationType}",
            get(get_subscription).post(create_subscription),
        )
        .route(
            "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}",
            get(get_subscription_by_id).delete(delete_subscription_by_id),
        )
}

fn payload(value: Value) -> Result<Response, ApiError> {
    Ok(Json(json!({ "payload": value })).into_response())
}

fn empty_success() -> Result<Response, ApiError> {
    Ok(Json(json!({})).into_response())
}

fn known_notification_type(notification_type: &str) -> Result<(), ApiError> {
    if NOTIFICATION_TYPES.contains(&notification_type) {
        Ok(())
    } else {
        Err(ApiError::invalid_input(format!(
            "{notification_type} is not a valid notification type."
        )))
    }
}

async fn get_destinations(State(sim): State<Shared>, headers: HeaderMap) -> Response {
    gateway::handle(&sim, Operation::GetDestinations, &headers, |caller| {
        let world = sim.world();
        let list: Vec<Value> = world
            .notifications
            .destinations
            .values()
            .filter(|destination| destination.client_id == caller.client_id)
            .map(Destination::to_model)
            .collect();
        payload(Value::Array(list))
    })
}

fn parse_destination(
    caller: &Caller,
    body: &serde_json::Map<String, Value>,
) -> Result<Destination, ApiError> {
    let name = match body.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() && name.chars().count() <= 256 => name.to_owned(),
        Some(_) => return Err(ApiError::invalid_input("name must be 1 to 256 characters.")),
        None => return Err(ApiError::invalid_input("name is required.")),
    };
    let specification = body
        .get("resourceSpecification")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid_input("resourceSpecification is required."))?;
    let resource = match (specification.get("sqs"), specification.get("eventBridge")) {
        (Some(sqs), None) => {
            let arn = sqs.get("arn").and_then(Value::as_str).unwrap_or_default();
            let parts: Vec<&str> = arn.split(':').collect();
            let well_formed = parts.len() == 6
                && parts[..3] == ["arn", "aws", "sqs"]
                && parts[3..]
                    .iter()
                    .all(|part| !part.is_empty() && !part.contains(char::is_whitespace))
                && arn.len() <= 1000;
            if !well_formed {
                return Err(ApiError::invalid_input(format!(
                    "resourceSpecification.sqs.arn {arn:?} is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>)."
                )));
            }
            DestinationResource::Sqs {
                arn: arn.to_owned(),
            }
        }
        (None, Some(event_bridge)) => {
            let field = |key: &str| {
                event_bridge
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ApiError::invalid_input(format!(
                            "resourceSpecification.eventBridge.{key} is required."
                        ))
                    })
            };
            let account_id = field("accountId")?;
            let region = field("region")?;
            let name = format!(
                "aws.partner/sellingpartnerapi.amazon.com/{account_id}/{}",
                uuid::Uuid::new_v4()
            );
            DestinationResource::EventBridge {
                account_id,
                region,
                name,
            }
        }
        _ => {
            return Err(ApiError::invalid_input(
                "resourceSpecification must contain exactly one of sqs or eventBridge.",
            ));
        }
    };
    Ok(Destination {
        destination_id: uuid::Uuid::new_v4().to_string(),
        client_id: caller.client_id.clone(),
        name,
        resource,
    })
}

async fn create_destination(
    State(sim): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    gateway::handle(&sim, Operation::CreateDestination, &headers, |caller| {
        let body = json_body(&headers, &body)?;
        let destination = parse_destination(caller, &body)?;
        let mut world = sim.world();
        let destinations = &mut world.notifications.destinations;
        // One queue serves as one destination per application (api-facts §4.2, unverified).
        let taken = destinations.values().any(|existing| {
            existing.client_id == destination.client_id
                && matches!(&destination.resource, DestinationResource::Sqs { .. })
                && existing.resource == destination.resource
        });
        if taken {
            return Err(ApiError::state_conflict());
        }
        let model = destination.to_model();
        tracing::info!(
            destination_id = destination.destination_id,
            "createDestination"
        );
        destinations.insert(destination.destination_id.clone(), destination);
        payload(model)
    })
}

async fn get_destination(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(destination_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::GetDestination, &headers, |caller| {
        let world = sim.world();
        let destination = world
            .notifications
            .destinations
            .get(&destination_id)
            .filter(|destination| destination.client_id == caller.client_id)
            .ok_or_else(|| {
                ApiError::not_found(format!("Destination {destination_id} not found."))
            })?;
        payload(destination.to_model())
    })
}

async fn delete_destination(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(destination_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::DeleteDestination, &headers, |caller| {
        let mut world = sim.world();
        let destinations = &mut world.notifications.destinations;
        if destinations
            .get(&destination_id)
            .is_none_or(|destination| destination.client_id != caller.client_id)
        {
            return Err(ApiError::not_found(format!(
                "Destination {destination_id} not found."
            )));
        }
        destinations.remove(&destination_id);
        empty_success()
    })
}

async fn get_subscriptions(
    State(sim): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    gateway::handle(&sim, Operation::GetSubscriptions, &headers, |caller| {
        let seller = caller.seller()?;
        let params = QueryParams::parse(query.as_deref());
        let types = params
            .bounded_list("notificationTypes", 1, 1)?
            .ok_or_else(|| ApiError::invalid_input("notificationTypes is required."))?;
        params.bounded_integer("pageSize", 30, 100)?;
        let payload_version = params.single("payloadVersion");
        let world = sim.world();
        let list: Vec<Value> = world
            .notifications
            .subscriptions
            .values()
            .filter(|s| s.client_id == caller.client_id && s.selling_partner_id == seller)
            .filter(|s| types.contains(&s.notification_type))
            .filter(|s| payload_version.is_none_or(|version| s.payload_version == version))
            .map(Subscription::to_model)
            .collect();
        payload(json!({ "subscriptions": list }))
    })
}

async fn get_subscription(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(notification_type): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    gateway::handle(&sim, Operation::GetSubscription, &headers, |caller| {
        let seller = caller.seller()?;
        known_notification_type(&notification_type)?;
        let params = QueryParams::parse(query.as_deref());
        let payload_version = params.single("payloadVersion");
        let world = sim.world();
        // Without payloadVersion Amazon returns the latest version's subscription.
        let subscription = world
            .notifications
            .subscriptions
            .values()
            .filter(|s| s.client_id == caller.client_id && s.selling_partner_id == seller)
            .filter(|s| s.notification_type == notification_type)
            .filter(|s| payload_version.is_none_or(|version| s.payload_version == version))
            .max_by(|a, b| a.payload_version.cmp(&b.payload_version))
            .ok_or_else(|| {
                ApiError::not_found(format!("No subscription found for {notification_type}."))
            })?;
        payload(subscription.to_model())
    })
}

async fn create_subscription(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(notification_type): Path<String>,
    body: Bytes,
) -> Response {
    gateway::handle(&sim, Operation::CreateSubscription, &headers, |caller| {
        let seller = caller.seller()?;
        known_notification_type(&notification_type)?;
        let body = json_body(&headers, &body)?;
        let payload_version = match body.get("payloadVersion").and_then(Value::as_str) {
            Some(version) if !version.is_empty() => version.to_owned(),
            _ => return Err(ApiError::invalid_input("payloadVersion is required.")),
        };
        if notification_type == REPORT_PROCESSING_FINISHED
            && payload_version != REPORT_PAYLOAD_VERSION
        {
            return Err(ApiError::invalid_input(format!(
                "payloadVersion {payload_version:?} is not supported for {REPORT_PROCESSING_FINISHED}; use {REPORT_PAYLOAD_VERSION}."
            )));
        }
        let destination_id = match body.get("destinationId").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => return Err(ApiError::invalid_input("destinationId is required.")),
        };
        let processing_directive = body
            .get("processingDirective")
            .filter(|value| !value.is_null())
            .cloned();
        let mut world = sim.world();
        let book = &mut world.notifications;
        if book
            .destinations
            .get(&destination_id)
            .is_none_or(|destination| destination.client_id != caller.client_id)
        {
            return Err(ApiError::invalid_input(format!(
                "Invalid destinationId {destination_id}."
            )));
        }
        let exists = book.subscriptions.values().any(|s| {
            s.client_id == caller.client_id
                && s.selling_partner_id == seller
                && s.notification_type == notification_type
                && s.payload_version == payload_version
        });
        if exists {
            return Err(ApiError::state_conflict());
        }
        let subscription = Subscription {
            subscription_id: uuid::Uuid::new_v4().to_string(),
            client_id: caller.client_id.clone(),
            selling_partner_id: seller.to_owned(),
            notification_type,
            payload_version,
            destination_id,
            processing_directive,
        };
        let model = subscription.to_model();
        tracing::info!(
            subscription_id = subscription.subscription_id,
            seller,
            "createSubscription"
        );
        book.subscriptions
            .insert(subscription.subscription_id.clone(), subscription);
        payload(model)
    })
}

async fn get_subscription_by_id(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((notification_type, subscription_id)): Path<(String, String)>,
) -> Response {
    gateway::handle(&sim, Operation::GetSubscriptionById, &headers, |caller| {
        known_notification_type(&notification_type)?;
        let world = sim.world();
        let subscription = world
            .notifications
            .subscriptions
            .get(&subscription_id)
            .filter(|s| s.client_id == caller.client_id && s.notification_type == notification_type)
            .ok_or_else(|| {
                ApiError::not_found(format!("Subscription {subscription_id} not found."))
            })?;
        payload(subscription.to_model())
    })
}

async fn delete_subscription_by_id(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((notification_type, subscription_id)): Path<(String, String)>,
) -> Response {
    gateway::handle(
        &sim,
        Operation::DeleteSubscriptionById,
        &headers,
        |caller| {
            known_notification_type(&notification_type)?;
            let mut world = sim.world();
            let subscriptions = &mut world.notifications.subscriptions;
            let owned = subscriptions.get(&subscription_id).is_some_and(|s| {
                s.client_id == caller.client_id && s.notification_type == notification_type
            });
            if !owned {
                return Err(ApiError::not_found(format!(
                    "Subscription {subscription_id} not found."
                )));
            }
            subscriptions.remove(&subscription_id);
            empty_success()
        },
    )
}
