//! The SP-API error body, `{"errors":[{"code","message","details"?}]}`, shared by the
//! Reports and Notifications APIs (the models' `ErrorList`), with the codes and texts
//! Amazon uses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An SP-API error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<String>,
}

impl ApiError {
    /// 400 InvalidInput; `message` says which field is wrong and why.
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidInput",
            message: message.into(),
            details: Some(String::new()),
        }
    }

    /// 404 NotFound.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            message: message.into(),
            details: Some(String::new()),
        }
    }

    /// 403 Unauthorized with Amazon's fixed message and the reason in `details`.
    pub(crate) fn unauthorized(details: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "Unauthorized",
            message: "Access to requested resource is denied.".to_owned(),
            details: Some(details.to_owned()),
        }
    }

    /// 429 QuotaExceeded.
    pub(crate) fn quota_exceeded() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "QuotaExceeded",
            message: "You exceeded your quota for the requested resource.".to_owned(),
            details: None,
        }
    }

    /// 409 as createSubscription answers it when the subscription exists.
    /// <https://github.com/amzn/selling-partner-api-docs/issues/1564>
    pub(crate) fn state_conflict() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "StateConflict",
            message: "The resource specified conflicts with the current state.".to_owned(),
            details: None,
        }
    }

    /// 415 for a body that is not JSON.
    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UnsupportedMediaType",
            message: format!(
                "The content type {content_type:?} is not supported; send application/json."
            ),
            details: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = json!(details);
        }
        (self.status, Json(json!({ "errors": [error] }))).into_response()
    }
}
