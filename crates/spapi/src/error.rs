//! The client's error type, its stable names, and Amazon's error bodies.
//!
//! Every failure carries what an operator needs — the operation, the HTTP status, Amazon's
//! `x-amzn-RequestId` for a support case, Amazon's own message — and maps to one
//! [`ErrorName`] the state machine retries or catches by (design.md "Errors are the
//! contract"). No variant holds a secret: tokens and client secrets never leave their
//! [`SecretString`](secrecy::SecretString)s, LWA's free text is scrubbed of them, and
//! document URLs (presigned, so credentials) are stripped from transport errors.

use std::fmt;

use domain::ErrorName;
use serde::{Deserialize, Serialize};

use crate::document::DocumentError;

/// One entry of Amazon's `{"errors":[…]}` body (`Error` in every SP-API model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// An error code, e.g. `QuotaExceeded`, `InvalidInput`, `Unauthorized`.
    pub code: String,
    /// What went wrong, in Amazon's words.
    pub message: String,
    /// More detail, e.g. "The access token you provided has expired."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// The errors of one SP-API answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrors {
    /// The entries, in Amazon's order; may be empty when the body was not an error list.
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

impl ApiErrors {
    /// Parses an error body; a body that is not `{"errors":[…]}` (a proxy's HTML page,
    /// an empty 503) becomes one entry with code `unparsed` and the body's first 300 chars.
    pub fn from_body(body: &[u8]) -> Self {
        match serde_json::from_slice::<ApiErrors>(body) {
            Ok(parsed) if !parsed.errors.is_empty() => parsed,
            _ if body.iter().all(u8::is_ascii_whitespace) => ApiErrors::default(),
            _ => {
                let text = String::from_utf8_lossy(body);
                let message: String = text.trim().chars().take(300).collect();
                ApiErrors {
                    errors: vec![ApiError {
                        code: "unparsed".to_owned(),
                        message,
                        details: None,
                    }],
                }
            }
        }
    }

    /// Whether Amazon says the access token expired (as opposed to being wrong or lacking
    /// a role): 403 `Unauthorized` with details "The access token you provided has
    /// expired." (<https://developer-docs.amazon.com/sp-api/docs/error-handling>).
    pub fn says_token_expired(&self) -> bool {
        self.errors.iter().any(|error| {
            [
                Some(error.message.as_str()),
                error.details.as_deref(),
                Some(error.code.as_str()),
            ]
            .into_iter()
            .flatten()
            .map(str::to_ascii_lowercase)
            .any(|text| text.contains("expired") && text.contains("token"))
        })
    }
}

impl fmt::Display for ApiErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.is_empty() {
            return f.write_str("no error details in the body");
        }
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.code, error.message)?;
            if let Some(details) = error
                .details
                .as_deref()
                .filter(|details| !details.is_empty())
            {
                write!(f, " ({details})")?;
            }
        }
        Ok(())
    }
}

/// Amazon's `x-amzn-RequestId`, printed as "request id …" for support cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestId(pub Option<String>);

impl RequestId {
    /// The id, if the answer carried one.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(id) => write!(f, "request id {id}"),
            None => f.write_str("no request id"),
        }
    }
}

/// Why LWA refused a token request, from its OAuth `error` code (api-facts.md §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LwaRefusal {
    /// `invalid_grant`: the refresh token is revoked, expired or not this app's.
    InvalidGrant,
    /// `invalid_client`: the client id or secret is wrong (e.g. the secret was rotated).
    InvalidClient,
    /// `unauthorized_client`: the app may not use this grant type or scope.
    UnauthorizedClient,
    /// `invalid_scope`: the grantless scope is unknown.
    InvalidScope,
    /// Any other code (`invalid_request`, `unsupported_grant_type`, …): a bug in the request.
    Other(String),
}

impl LwaRefusal {
    /// The refusal for an OAuth `error` code.
    pub fn from_code(code: &str) -> Self {
        match code {
            "invalid_grant" => LwaRefusal::InvalidGrant,
            "invalid_client" => LwaRefusal::InvalidClient,
            "unauthorized_client" => LwaRefusal::UnauthorizedClient,
            "invalid_scope" => LwaRefusal::InvalidScope,
            other => LwaRefusal::Other(other.to_owned()),
        }
    }

    /// The OAuth `error` code.
    pub fn code(&self) -> &str {
        match self {
            LwaRefusal::InvalidGrant => "invalid_grant",
            LwaRefusal::InvalidClient => "invalid_client",
            LwaRefusal::UnauthorizedClient => "unauthorized_client",
            LwaRefusal::InvalidScope => "invalid_scope",
            LwaRefusal::Other(code) => code,
        }
    }
}

/// What a token request was for, so that a refusal names the thing to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSubject {
    /// A refresh-token grant for this selling partner.
    Seller {
        /// The selling partner id.
        selling_partner_id: String,
    },
    /// A client-credentials (grantless) grant for this scope.
    Grantless {
        /// The requested scope.
        scope: String,
    },
}

/// Everything that can go wrong talking to LWA, SP-API or a document URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// LWA refused the credentials; an operator must fix the secret or re-authorise.
    #[error("Login with Amazon refused the token request ({code}) of app {client_id}: {advice}{said}",
        code = refusal.code(), advice = lwa_advice(refusal, subject), said = amazon_said(description.as_deref()))]
    LwaRefused {
        /// LWA's `error` code.
        refusal: LwaRefusal,
        /// What the token was for.
        subject: GrantSubject,
        /// The LWA client id (not a secret).
        client_id: String,
        /// LWA's `error_description`, scrubbed of the secrets that were sent.
        description: Option<String>,
    },

    /// LWA answered 5xx, 429 or could not be reached, after the bounded retries.
    #[error("Login with Amazon at {url} is unavailable ({status}) after {attempts} attempt(s): try again later",
        status = status.map_or_else(|| "no answer".to_owned(), |status| format!("HTTP {status}")))]
    LwaUnavailable {
        /// The token URL.
        url: String,
        /// The last HTTP status, if there was an answer.
        status: Option<u16>,
        /// How many attempts were made.
        attempts: u32,
        /// The transport error, if there was no answer.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// LWA answered 200 with a body that is not a token.
    #[error("Login with Amazon at {url} answered with a body that is not a token response")]
    LwaMalformed {
        /// The token URL.
        url: String,
        /// Why the body did not parse.
        #[source]
        source: serde_json::Error,
    },

    /// The access token expired: re-authenticate (the `auth` Lambda) and retry.
    #[error(
        "the access token for {operation} has expired ({request_id}): re-authenticate and retry"
    )]
    TokenExpired {
        /// The operation that needed the token.
        operation: &'static str,
        /// Amazon's request id, when Amazon said so (rather than the clock).
        request_id: RequestId,
    },

    /// SP-API refused the call with 401/403 for a reason other than expiry.
    #[error(
        "SP-API refused {operation} with HTTP {status} ({request_id}): {errors}. \
        Check that the app has the role this operation needs and that the seller's authorisation is still valid"
    )]
    Unauthorized {
        /// The operation.
        operation: &'static str,
        /// 401 or 403.
        status: u16,
        /// Amazon's request id.
        request_id: RequestId,
        /// Amazon's error list.
        errors: ApiErrors,
    },

    /// The shared rate limiter has no token for the operation within the wait the caller
    /// accepts: nothing was sent; the state machine waits and asks again.
    #[error(
        "no {operation} token for {wait_secs} s in this selling partner's shared rate limit: nothing was sent; the state machine waits and tries again"
    )]
    RateLimited {
        /// The operation.
        operation: &'static str,
        /// Seconds until a token is there (rounded up).
        wait_secs: u64,
    },

    /// SP-API kept answering 429 for the whole retry budget.
    #[error(
        "SP-API throttled {operation} {attempts} time(s) in a row ({request_id}): {errors}. Retry later"
    )]
    Throttled {
        /// The operation.
        operation: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// Amazon's request id of the last answer.
        request_id: RequestId,
        /// Amazon's error list of the last answer (usually `QuotaExceeded`).
        errors: ApiErrors,
    },

    /// SP-API rejected the request (400, 404, 409, 415, …): the input is wrong.
    #[error("SP-API rejected {operation} with HTTP {status} ({request_id}): {errors}")]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// Amazon's request id.
        request_id: RequestId,
        /// Amazon's error list with its message.
        errors: ApiErrors,
    },

    /// SP-API kept answering 5xx for the whole retry budget.
    #[error(
        "SP-API answered {operation} with HTTP {status} {attempts} time(s) ({request_id}): {errors}. Retry later"
    )]
    Unavailable {
        /// The operation.
        operation: &'static str,
        /// The last HTTP status.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
        /// Amazon's request id of the last answer.
        request_id: RequestId,
        /// Amazon's error list of the last answer.
        errors: ApiErrors,
    },

    /// SP-API could not be reached or did not answer in time.
    #[error("SP-API did not answer {operation} after {attempts} attempt(s)")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// SP-API answered 2xx with a body that does not match the model.
    #[error("SP-API answered {operation} with a body that does not match the model ({request_id})")]
    Malformed {
        /// The operation.
        operation: &'static str,
        /// Amazon's request id.
        request_id: RequestId,
        /// Why the body did not parse.
        #[source]
        source: serde_json::Error,
    },

    /// Downloading a report document failed.
    #[error(transparent)]
    Document(#[from] DocumentError),

    /// The client cannot make this call with the credentials it was built with.
    #[error("this client cannot call {operation}: {reason}")]
    MissingCredentials {
        /// The operation.
        operation: &'static str,
        /// What is missing and how to build the client instead.
        reason: &'static str,
    },

    /// An endpoint in the configuration is not a usable URL.
    #[error("the {which} endpoint `{url}` is not usable: {reason}")]
    InvalidEndpoint {
        /// Which endpoint (`spapi` or `lwa_token`).
        which: &'static str,
        /// The configured value.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// The client was configured inconsistently.
    #[error("invalid SP-API client configuration: {0}")]
    InvalidConfig(&'static str),

    /// The HTTP client could not be built (TLS setup).
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
}

impl Error {
    /// The stable name the state machine retries or catches by.
    pub fn name(&self) -> ErrorName {
        match self {
            Error::LwaRefused { .. } | Error::Unauthorized { .. } => ErrorName::Unauthorized,
            Error::TokenExpired { .. } => ErrorName::TokenExpired,
            Error::Throttled { .. } => ErrorName::Throttled,
            Error::RateLimited { .. } => ErrorName::RateLimited,
            Error::LwaUnavailable {
                status: Some(429), ..
            } => ErrorName::Throttled,
            Error::LwaUnavailable { .. }
            | Error::LwaMalformed { .. }
            | Error::Unavailable { .. }
            | Error::Transport { .. }
            | Error::Malformed { .. } => ErrorName::UpstreamUnavailable,
            // A report or document we were given an id for, unknown to Amazon now: it was
            // dropped (reports are kept at most 90 days) or never existed; a new report
            // is the way on.
            Error::Rejected {
                status: 404,
                operation: "getReport" | "getReportDocument",
                ..
            } => ErrorName::ReportGone,
            // A 4xx other than auth means the request was wrong: the report type, the
            // marketplace, the dates or an id in the configuration. Retrying cannot help.
            Error::Rejected { .. }
            | Error::MissingCredentials { .. }
            | Error::InvalidEndpoint { .. }
            | Error::InvalidConfig(_)
            | Error::HttpClient(_) => ErrorName::ConfigInvalid,
            Error::Document(error) => error.name(),
        }
    }

    /// Amazon's request id, when the failure came with an SP-API answer.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::TokenExpired { request_id, .. }
            | Error::Unauthorized { request_id, .. }
            | Error::Throttled { request_id, .. }
            | Error::Rejected { request_id, .. }
            | Error::Unavailable { request_id, .. }
            | Error::Malformed { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of a rejected request (`Rejected`), e.g. 404 for an unknown id.
    pub fn rejected_status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn lwa_advice(refusal: &LwaRefusal, subject: &GrantSubject) -> String {
    match (refusal, subject) {
        (LwaRefusal::InvalidGrant, GrantSubject::Seller { selling_partner_id }) => format!(
            "the refresh token for selling partner {selling_partner_id} was revoked, has expired or belongs to \
             another app: re-authorise the app in Seller Central (or Vendor Central) and update the refresh token \
             in the account's secret"
        ),
        (LwaRefusal::InvalidGrant, GrantSubject::Grantless { scope }) => format!(
            "the client-credentials grant for scope {scope} was refused: check the app's client id and secret in the secret"
        ),
        (LwaRefusal::InvalidClient, _) => "the client id or client secret is wrong (LWA client secrets are rotated \
             periodically): copy the current LWA credentials from Developer Central into the secret"
            .to_owned(),
        (LwaRefusal::UnauthorizedClient, GrantSubject::Seller { selling_partner_id }) => format!(
            "the app is not allowed to act for selling partner {selling_partner_id} with a refresh token: check the \
             app's registration and that the refresh token was issued to this app"
        ),
        (LwaRefusal::UnauthorizedClient, GrantSubject::Grantless { scope }) => format!(
            "the app is not allowed the grantless scope {scope}: check the app's registration in Developer Central"
        ),
        (LwaRefusal::InvalidScope, GrantSubject::Grantless { scope }) => format!(
            "`{scope}` is not a grantless scope LWA knows: fix the scope in the configuration \
             (e.g. sellingpartnerapi::notifications)"
        ),
        (LwaRefusal::InvalidScope, GrantSubject::Seller { .. }) => {
            "LWA refused a scope on a refresh-token grant, which sends none: this is a bug in sp-ingest".to_owned()
        }
        (LwaRefusal::Other(_), _) => {
            "LWA refused the request itself (not the credentials): this is probably a bug in sp-ingest".to_owned()
        }
    }
}

fn amazon_said(description: Option<&str>) -> String {
    description
        .filter(|text| !text.is_empty())
        .map(|text| format!(" (LWA said: {text})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_from_the_model_is_parsed() {
        let body = br#"{"errors":[{"code":"400","message":"Invalid input","details":"Invalid input in processing status"}]}"#;
        let errors = ApiErrors::from_body(body);
        assert_eq!(errors.errors.len(), 1);
        assert_eq!(errors.errors[0].code, "400");
        assert_eq!(
            errors.to_string(),
            "400: Invalid input (Invalid input in processing status)"
        );
        assert!(!errors.says_token_expired());
    }

    #[test]
    fn error_body_without_details_and_with_several_errors_is_parsed() {
        let body = br#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource."},
                                  {"code":"Other","message":"second","details":""}]}"#;
        let errors = ApiErrors::from_body(body);
        assert_eq!(
            errors.to_string(),
            "QuotaExceeded: You exceeded your quota for the requested resource.; Other: second"
        );
    }

    #[test]
    fn notifications_error_body_with_a_payload_field_is_parsed() {
        let body = br#"{"payload":null,"errors":[{"code":"Conflict","message":"exists"}]}"#;
        assert_eq!(ApiErrors::from_body(body).errors[0].code, "Conflict");
    }

    #[test]
    fn a_body_that_is_not_an_error_list_is_kept_short() {
        let html = "<html>".repeat(200);
        let errors = ApiErrors::from_body(html.as_bytes());
        assert_eq!(errors.errors[0].code, "unparsed");
        assert_eq!(errors.errors[0].message.chars().count(), 300);
        assert!(ApiErrors::from_body(b"  ").errors.is_empty());
    }

    #[test]
    fn expired_token_is_told_apart_from_a_missing_role() {
        let expired = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided has expired."}]}"#;
        assert!(ApiErrors::from_body(expired).says_token_expired());
        let in_message = br#"{"errors":[{"code":"Unauthorized","message":"The access token you provided has expired."}]}"#;
        assert!(ApiErrors::from_body(in_message).says_token_expired());
        let no_role = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
        assert!(!ApiErrors::from_body(no_role).says_token_expired());
    }

    #[test]
    fn every_variant_maps_to_its_stable_name() {
        let rid = || RequestId(Some("req-1".to_owned()));
        let cases = [
            (
                Error::LwaRefused {
                    refusal: LwaRefusal::InvalidGrant,
                    subject: GrantSubject::Seller {
                        selling_partner_id: "A1".to_owned(),
                    },
                    client_id: "c".to_owned(),
                    description: None,
                },
                ErrorName::Unauthorized,
            ),
            (
                Error::TokenExpired {
                    operation: "getReport",
                    request_id: rid(),
                },
                ErrorName::TokenExpired,
            ),
            (
                Error::Throttled {
                    operation: "createReport",
                    attempts: 5,
                    request_id: rid(),
                    errors: ApiErrors::default(),
                },
                ErrorName::Throttled,
            ),
            (
                Error::Rejected {
                    operation: "getReport",
                    status: 404,
                    request_id: rid(),
                    errors: ApiErrors::default(),
                },
                ErrorName::ReportGone,
            ),
            (
                Error::Rejected {
                    operation: "createReport",
                    status: 400,
                    request_id: rid(),
                    errors: ApiErrors::default(),
                },
                ErrorName::ConfigInvalid,
            ),
            (
                Error::Unavailable {
                    operation: "getReport",
                    status: 503,
                    attempts: 5,
                    request_id: rid(),
                    errors: ApiErrors::default(),
                },
                ErrorName::UpstreamUnavailable,
            ),
            (
                Error::LwaUnavailable {
                    url: "u".to_owned(),
                    status: Some(429),
                    attempts: 5,
                    source: None,
                },
                ErrorName::Throttled,
            ),
            (
                Error::LwaUnavailable {
                    url: "u".to_owned(),
                    status: Some(500),
                    attempts: 5,
                    source: None,
                },
                ErrorName::UpstreamUnavailable,
            ),
        ];
        for (error, name) in cases {
            assert_eq!(error.name(), name, "{error}");
        }
    }

    #[test]
    fn request_id_is_in_the_message_for_support_cases() {
        let error = Error::Rejected {
            operation: "getReport",
            status: 404,
            request_id: RequestId(Some("7a2f-req".to_owned())),
            errors: ApiErrors::from_body(
                br#"{"errors":[{"code":"NotFound","message":"Report not found"}]}"#,
            ),
        };
        assert_eq!(error.request_id(), Some("7a2f-req"));
        assert_eq!(
            error.to_string(),
            "SP-API rejected getReport with HTTP 404 (request id 7a2f-req): NotFound: Report not found"
        );
    }

    #[test]
    fn revoked_refresh_token_message_tells_the_operator_what_to_do() {
        let error = Error::LwaRefused {
            refusal: LwaRefusal::InvalidGrant,
            subject: GrantSubject::Seller {
                selling_partner_id: "A3TH9S8BH6GOGM".to_owned(),
            },
            client_id: "amzn1.application-oa2-client.abc".to_owned(),
            description: Some(
                "The request has an invalid grant parameter : refresh_token".to_owned(),
            ),
        };
        let message = error.to_string();
        assert!(
            message.contains("selling partner A3TH9S8BH6GOGM"),
            "{message}"
        );
        assert!(
            message.contains("re-authorise the app in Seller Central"),
            "{message}"
        );
        assert!(
            message.contains("LWA said: The request has an invalid grant parameter"),
            "{message}"
        );
    }
}
