//! What every SP-API call goes through before and after its operation runs, as Amazon's
//! API gateway does: count the call, check the `x-amz-access-token` (present, known,
//! unexpired, right kind), apply `throttle_next` and the usage-plan bucket, then stamp
//! `x-amzn-RequestId` and `x-amzn-RateLimit-Limit` on whatever the answer is.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use domain::{Operation, TokenKind};

use crate::api_error::ApiError;
use crate::limits::{BucketKey, rate_header_value};
use crate::lwa::{Grant, NOTIFICATIONS_SCOPE};
use crate::state::{Shared, World};

/// Who is calling, as established from the access token.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub client_id: String,
    /// The selling partner a seller token acts for; `None` for grantless tokens.
    pub selling_partner_id: Option<String>,
}

impl Caller {
    /// The selling partner; operations that need one only admit seller tokens, so this
    /// fails only if a handler is wired to the wrong operation.
    pub(crate) fn seller(&self) -> Result<&str, ApiError> {
        self.selling_partner_id
            .as_deref()
            .ok_or_else(|| ApiError::unauthorized(""))
    }
}

/// Runs `operation` for the request if the gateway admits it; decorates every answer.
pub(crate) fn handle(
    sim: &Shared,
    operation: Operation,
    headers: &HeaderMap,
    work: impl FnOnce(&Caller) -> Result<Response, ApiError>,
) -> Response {
    let (admitted, rate) = {
        let mut world = sim.world();
        let rate = world.scenario.rate_limit(operation).rate;
        (admit(&mut world, operation, headers), rate)
    };
    let mut response = match admitted {
        Ok(caller) => work(&caller).unwrap_or_else(IntoResponse::into_response),
        Err(error) => error.into_response(),
    };
    let response_headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response_headers.insert("x-amzn-RequestId", id);
    }
    if let Ok(limit) = HeaderValue::from_str(&rate_header_value(rate)) {
        response_headers.insert("x-amzn-RateLimit-Limit", limit);
    }
    response
}

fn admit(world: &mut World, operation: Operation, headers: &HeaderMap) -> Result<Caller, ApiError> {
    world.calls.record_call(operation.name());
    let caller = authenticate(world, operation, headers)
        .inspect_err(|_| world.calls.record_unauthorized(operation.name()))?;

    if let Some(remaining) = world.scenario.throttle_next.get_mut(operation.name())
        && *remaining > 0
    {
        *remaining -= 1;
        world.calls.record_throttled(operation.name());
        return Err(ApiError::quota_exceeded());
    }

    if let Some(seller) = &caller.selling_partner_id
        && world.scenario.throttled_sellers.contains(seller)
    {
        world.calls.record_throttled(operation.name());
        return Err(ApiError::quota_exceeded());
    }

    if world.scenario.enforce_rate_limits {
        let limit = world.scenario.rate_limit(operation);
        let key = BucketKey {
            client_id: caller.client_id.clone(),
            subject: caller.selling_partner_id.clone().unwrap_or_default(),
            operation,
        };
        if !world.limiter.try_acquire(key, limit, Instant::now()) {
            world.calls.record_throttled(operation.name());
            return Err(ApiError::quota_exceeded());
        }
    }
    Ok(caller)
}

fn authenticate(
    world: &World,
    operation: Operation,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let token = headers
        .get("x-amz-access-token")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::unauthorized("Access token is missing in the request header."))?;
    let issued = world.tokens.find(token).ok_or_else(|| {
        ApiError::unauthorized("The access token you provided is revoked, malformed or invalid.")
    })?;
    if issued.expires_at <= Instant::now() {
        return Err(ApiError::unauthorized(
            "The access token you provided has expired.",
        ));
    }
    // A token of the wrong kind gets Amazon's bare denial, without details. Every grantless
    // operation the simulator serves is a Notifications one, so the grantless token must
    // carry the notifications scope.
    // <https://developer-docs.amazon.com/sp-api/docs/grantless-operations>
    match (&issued.grant, operation.token_kind()) {
        (Grant::Seller { selling_partner_id }, TokenKind::Seller) => Ok(Caller {
            client_id: issued.client_id.clone(),
            selling_partner_id: Some(selling_partner_id.clone()),
        }),
        (Grant::Grantless { scope }, TokenKind::Grantless) if scope == NOTIFICATIONS_SCOPE => {
            Ok(Caller {
                client_id: issued.client_id.clone(),
                selling_partner_id: None,
            })
        }
        _ => Err(ApiError::unauthorized("")),
    }
}
