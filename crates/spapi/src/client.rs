//! The SP-API client: one shared HTTP client, the right token per operation, the rate
//! limiter, retries, and the mapping of HTTP answers to typed errors.
//!
//! Every operation goes through `SpApiClient::execute`: take a token (seller or
//! grantless), wait for the operation's rate-limit token, send with `x-amz-access-token`
//! and `x-amz-date`, learn the rate from `x-amzn-RateLimit-Limit`, then:
//! 2xx → the body; 429 and 5xx → back off with jitter and try again, up to the policy's
//! attempts (<https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits>);
//! 403 "access token … expired" → refresh once when the client holds LWA credentials, else
//! `TokenExpired`; other 401/403 → `Unauthorized`; other 4xx → `Rejected` with Amazon's
//! message. Amazon's `x-amzn-RequestId` is logged and kept in every error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use crate::credentials::{AccessToken, LwaCredentials, NOTIFICATIONS_SCOPE, SellerAuthorization};
use crate::endpoints::Endpoints;
use crate::error::{ApiErrors, Error, RequestId};
use crate::limiter::{
    LocalRateLimiter, MustWait, Operation, RateLimiter, TokenKind, parse_rate_limit_header,
};
use crate::lwa::{DEFAULT_REFRESH_MARGIN, LwaClient, TokenGrant, TokenSource};
use crate::retry::RetryPolicy;

/// The `user-agent` Amazon asks for: application/version and the language
/// (<https://developer-docs.amazon.com/sp-api/docs/include-a-user-agent-header-in-all-requests>).
pub const USER_AGENT: &str = concat!("sp-ingest/", env!("CARGO_PKG_VERSION"), " (Language=Rust)");

const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
const RATE_LIMIT_HEADER: &str = "x-amzn-ratelimit-limit";

/// Timeouts of the shared HTTP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Establishing a connection (TCP + TLS).
    pub connect: Duration,
    /// Waiting for the next bytes of an answer; bounds a stalled document download
    /// without bounding a long healthy one.
    pub read: Duration,
}

impl Default for HttpTimeouts {
    /// 10 s to connect, 60 s between bytes.
    fn default() -> Self {
        HttpTimeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(60),
        }
    }
}

/// Builds the HTTP client to share across every SP-API client of a process (a Lambda
/// builds it once per container). Redirects are not followed: a redirect would carry the
/// `x-amz-access-token` header to wherever it points.
pub fn build_http_client(timeouts: HttpTimeouts) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(Error::HttpClient)
}

/// A Selling Partner API client for one selling partner (and the app's grantless calls).
///
/// Cheap to clone; clones share the HTTP client, the token caches and the rate limiter.
#[derive(Clone)]
pub struct SpApiClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    http: reqwest::Client,
    endpoints: Endpoints,
    retry: RetryPolicy,
    limiter: Arc<dyn RateLimiter>,
    seller: TokenSource,
    grantless: TokenSource,
    request_timeout: Duration,
}

impl std::fmt::Debug for SpApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpApiClient")
            .field("endpoints", &self.inner.endpoints)
            .field("retry", &self.inner.retry)
            .field("seller", &self.inner.seller)
            .field("grantless", &self.inner.grantless)
            .finish_non_exhaustive()
    }
}

/// Configures an [`SpApiClient`].
#[derive(Debug)]
#[must_use]
pub struct SpApiClientBuilder {
    endpoints: Endpoints,
    http: Option<reqwest::Client>,
    app: Option<LwaCredentials>,
    seller: Option<SellerAuthorization>,
    access_token: Option<AccessToken>,
    grantless_scope: String,
    retry: RetryPolicy,
    limiter: Option<Arc<dyn RateLimiter>>,
    refresh_margin: Duration,
    request_timeout: Duration,
}

impl std::fmt::Debug for dyn RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimiter")
    }
}

impl SpApiClientBuilder {
    /// The app's LWA credentials: needed for grantless operations and, with
    /// [`seller`](Self::seller), for refreshing the seller's token.
    pub fn app_credentials(mut self, app: LwaCredentials) -> Self {
        self.app = Some(app);
        self
    }

    /// The seller's refresh token: the client fetches and renews the seller token itself.
    pub fn seller(mut self, seller: SellerAuthorization) -> Self {
        self.seller = Some(seller);
        self
    }

    /// A seller access token fetched elsewhere (the `auth` Lambda): used until it expires,
    /// then calls fail with `TokenExpired`.
    pub fn access_token(mut self, token: AccessToken) -> Self {
        self.access_token = Some(token);
        self
    }

    /// The scope of the grantless token (default `sellingpartnerapi::notifications`).
    pub fn grantless_scope(mut self, scope: impl Into<String>) -> Self {
        self.grantless_scope = scope.into();
        self
    }

    /// Shares an existing HTTP client (see [`build_http_client`]).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Retries of 429, 5xx and connection failures (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Shares a rate limiter (default: a fresh [`LocalRateLimiter`] with Amazon's plans).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// How long before expiry a cached token is refreshed (default 5 min, see
    /// [`refresh_deadline`](crate::lwa::refresh_deadline)).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Bounds each SP-API and LWA call, body included (default 30 s; not downloads).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Builds the client; fails when the credentials given contradict each other.
    pub fn build(self) -> Result<SpApiClient, Error> {
        let http = match self.http {
            Some(http) => http,
            None => build_http_client(HttpTimeouts::default())?,
        };
        let lwa = self.app.map(|app| {
            Arc::new(
                LwaClient::new(http.clone(), self.endpoints.lwa_token.clone(), app)
                    .with_retry_policy(self.retry)
                    .with_timeout(self.request_timeout),
            )
        });
        let margin = self.refresh_margin;
        let seller = match (self.seller, self.access_token, &lwa) {
            (Some(_), Some(_), _) => {
                return Err(Error::InvalidConfig(
                    "give either a seller refresh token or an access token, not both",
                ));
            }
            (Some(_), None, None) => {
                return Err(Error::InvalidConfig(
                    "a seller refresh token needs the app's LWA client id and secret",
                ));
            }
            (Some(seller), None, Some(lwa)) => {
                TokenSource::from_lwa(lwa, TokenGrant::RefreshToken(seller), margin)
            }
            (None, Some(token), _) => TokenSource::Given(token),
            (None, None, _) => TokenSource::Missing(
                "it was built without a seller refresh token or access token; \
                 use SpApiClientBuilder::seller or ::access_token (or SpApiClient::with_access_token)",
            ),
        };
        let grantless = match &lwa {
            Some(lwa) => TokenSource::from_lwa(
                lwa,
                TokenGrant::ClientCredentials {
                    scope: self.grantless_scope,
                },
                margin,
            ),
            None => TokenSource::Missing(
                "grantless operations need the app's LWA client id and secret (SpApiClientBuilder::app_credentials)",
            ),
        };
        Ok(SpApiClient {
            inner: Arc::new(ClientInner {
                http,
                endpoints: self.endpoints,
                retry: self.retry,
                limiter: self
                    .limiter
                    .unwrap_or_else(|| Arc::new(LocalRateLimiter::with_default_plans())),
                seller,
                grantless,
                request_timeout: self.request_timeout,
            }),
        })
    }
}

/// One SP-API call, before authentication.
pub(crate) struct ApiRequest<'a> {
    pub(crate) operation: Operation,
    pub(crate) method: Method,
    pub(crate) path: &'a [&'a str],
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

impl<'a> ApiRequest<'a> {
    pub(crate) fn new(operation: Operation, method: Method, path: &'a [&'a str]) -> Self {
        ApiRequest {
            operation,
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(crate) fn json_body(mut self, body: &impl serde::Serialize) -> Self {
        // Serialising the model structs (strings, maps, dates) cannot fail.
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self
    }
}

/// A successful SP-API answer.
pub(crate) struct ApiResponse {
    pub(crate) request_id: RequestId,
    pub(crate) body: Bytes,
}

impl SpApiClient {
    /// Starts configuring a client for `endpoints`.
    pub fn builder(endpoints: Endpoints) -> SpApiClientBuilder {
        SpApiClientBuilder {
            endpoints,
            http: None,
            app: None,
            seller: None,
            access_token: None,
            grantless_scope: NOTIFICATIONS_SCOPE.to_owned(),
            retry: RetryPolicy::default(),
            limiter: None,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            request_timeout: Duration::from_secs(30),
        }
    }

    /// The same client acting with a given seller access token (a Lambda builds the base
    /// client once per container and this one per invocation from its decrypted input).
    /// The HTTP client, the grantless token cache and the rate limiter stay shared.
    pub fn with_access_token(&self, token: AccessToken) -> SpApiClient {
        SpApiClient {
            inner: Arc::new(ClientInner {
                http: self.inner.http.clone(),
                endpoints: self.inner.endpoints.clone(),
                retry: self.inner.retry,
                limiter: self.inner.limiter.clone(),
                seller: TokenSource::Given(token),
                grantless: self.inner.grantless.clone(),
                request_timeout: self.inner.request_timeout,
            }),
        }
    }

    /// The seller access token the client would send now, fetching or renewing it from LWA
    /// when needed (the `auth` Lambda returns it, encrypted, to the state machine).
    pub async fn seller_access_token(&self) -> Result<AccessToken, Error> {
        self.inner.seller.token("seller access token").await
    }

    /// The endpoints the client talks to.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The shared HTTP client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The shared rate limiter.
    pub fn rate_limiter(&self) -> Arc<dyn RateLimiter> {
        self.inner.limiter.clone()
    }

    /// Sends `request` and decodes a 2xx JSON body.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: ApiRequest<'_>,
    ) -> Result<T, Error> {
        let operation = request.operation.name();
        let response = self.execute(request).await?;
        serde_json::from_slice(&response.body).map_err(|source| Error::Malformed {
            operation,
            request_id: response.request_id,
            source,
        })
    }

    /// Sends `request` with authentication, rate limiting and retries.
    pub(crate) async fn execute(&self, request: ApiRequest<'_>) -> Result<ApiResponse, Error> {
        let inner = &*self.inner;
        let op = request.operation;
        let tokens = match op.token_kind() {
            TokenKind::Seller => &inner.seller,
            TokenKind::Grantless => &inner.grantless,
        };
        let url = inner.endpoints.spapi_url(request.path);
        let mut attempt = 0;
        let mut renewed_token = false;
        loop {
            attempt += 1;
            let token = tokens.token(op.name()).await?;
            if let Err(MustWait(wait)) = inner.limiter.acquire(op).await {
                return Err(Error::RateLimited {
                    operation: op.name(),
                    wait_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                });
            }

            let mut builder = inner
                .http
                .request(request.method.clone(), url.clone())
                .timeout(inner.request_timeout)
                .header("x-amz-access-token", token_header(&token)?)
                .header(
                    "x-amz-date",
                    Utc::now().format("%Y%m%dT%H%M%SZ").to_string(),
                )
                .header(ACCEPT, "application/json");
            if !request.query.is_empty() {
                builder = builder.query(&request.query);
            }
            if let Some(body) = &request.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }

            let (status, request_id, body) = match send(builder, inner, op).await {
                Ok(answer) => answer,
                Err(source) => {
                    if is_retryable_transport(&source, &request.method)
                        && inner.retry.allows_retry_after(attempt)
                    {
                        let wait = inner.retry.backoff(attempt, &mut rand::rng());
                        tracing::info!(operation = %op, attempt, error = %source, wait_ms = wait.as_millis() as u64,
                            "SP-API unreachable; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        operation: op.name(),
                        attempts: attempt,
                        source,
                    });
                }
            };
            tracing::debug!(operation = %op, status = status.as_u16(), request_id = request_id.as_deref(), attempt,
                "SP-API answered");
            if status.is_success() {
                return Ok(ApiResponse { request_id, body });
            }

            let errors = ApiErrors::from_body(&body);
            if status == StatusCode::TOO_MANY_REQUESTS {
                inner.limiter.observe_throttle(op).await;
            }
            match next_step(status, &errors) {
                NextStep::BackOff if inner.retry.allows_retry_after(attempt) => {
                    let wait = inner.retry.backoff(attempt, &mut rand::rng());
                    tracing::info!(operation = %op, status = status.as_u16(), request_id = request_id.as_deref(),
                        attempt, wait_ms = wait.as_millis() as u64, "SP-API asked to back off; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                NextStep::RenewToken
                    if !renewed_token && tokens.renew_after_rejection(&token).await =>
                {
                    renewed_token = true;
                    // A refresh is not a failed attempt: it must not eat the 429 budget.
                    attempt -= 1;
                    tracing::info!(operation = %op, request_id = request_id.as_deref(),
                        "SP-API says the access token expired; refreshing it and retrying once");
                    continue;
                }
                NextStep::BackOff | NextStep::RenewToken | NextStep::Fail => {
                    let fresh = token.expires_at() - Utc::now() > FRESH_TOKEN_LEFT;
                    return Err(failure(op, status, attempt, request_id, errors, fresh));
                }
            }
        }
    }
}

/// What to do after a non-2xx SP-API answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextStep {
    /// 429 or 5xx: wait and try again, while attempts remain.
    BackOff,
    /// 401/403 saying the token expired: renew it and try again, once, if possible.
    RenewToken,
    /// Anything else: give up with [`failure`].
    Fail,
}

fn next_step(status: StatusCode, errors: &ApiErrors) -> NextStep {
    match status {
        StatusCode::TOO_MANY_REQUESTS => NextStep::BackOff,
        status if status.is_server_error() => NextStep::BackOff,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if errors.says_token_expired() => {
            NextStep::RenewToken
        }
        _ => NextStep::Fail,
    }
}

/// An access token with more than this left was minted minutes ago (LWA's live an hour):
/// Amazon calling it expired means something else is wrong, and a new one will not help.
const FRESH_TOKEN_LEFT: chrono::TimeDelta = chrono::TimeDelta::minutes(55);

/// The error for a non-2xx answer the client gives up on. `fresh_token`: the access
/// token sent was minted minutes ago, so "expired" is not the real reason — it is
/// `Unauthorized`, which no re-authentication loops on.
fn failure(
    op: Operation,
    status: StatusCode,
    attempts: u32,
    request_id: RequestId,
    errors: ApiErrors,
    fresh_token: bool,
) -> Error {
    let operation = op.name();
    match status {
        StatusCode::TOO_MANY_REQUESTS => Error::Throttled {
            operation,
            attempts,
            request_id,
            errors,
        },
        status if status.is_server_error() => Error::Unavailable {
            operation,
            status: status.as_u16(),
            attempts,
            request_id,
            errors,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            if errors.says_token_expired() && !fresh_token =>
        {
            Error::TokenExpired {
                operation,
                request_id,
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized {
            operation,
            status: status.as_u16(),
            request_id,
            errors,
        },
        status => Error::Rejected {
            operation,
            status: status.as_u16(),
            request_id,
            errors,
        },
    }
}

/// Sends one request and reads its whole (small, JSON) body.
async fn send(
    builder: reqwest::RequestBuilder,
    inner: &ClientInner,
    op: Operation,
) -> Result<(StatusCode, RequestId, Bytes), reqwest::Error> {
    let response = builder.send().await?;
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let request_id = RequestId(header(REQUEST_ID_HEADER).map(str::to_owned));
    if let Some(rate) = header(RATE_LIMIT_HEADER).and_then(parse_rate_limit_header) {
        inner.limiter.observe_limit(op, rate);
    }
    let body = response.bytes().await?;
    Ok((status, request_id, body))
}

/// A connection that never reached Amazon can always be retried; a request that may have
/// reached it (timeout, reset) only when repeating it is harmless (GET, DELETE) — a second
/// createReport would queue a second report.
fn is_retryable_transport(error: &reqwest::Error, method: &Method) -> bool {
    error.is_connect()
        || (method.is_idempotent() && (error.is_timeout() || error.is_request() || error.is_body()))
}

fn token_header(token: &AccessToken) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(token.secret().expose_secret()).map_err(|_| {
        Error::InvalidConfig(
            "the access token contains characters that cannot go in an HTTP header",
        )
    })?;
    // Keeps the token out of any Debug print of the request headers.
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints::parse("http://127.0.0.1:9", "http://127.0.0.1:9/auth/o2/token").unwrap()
    }

    #[test]
    fn user_agent_names_the_app_and_the_language() {
        assert!(USER_AGENT.starts_with("sp-ingest/"));
        assert!(USER_AGENT.ends_with(" (Language=Rust)"));
    }

    #[test]
    fn contradicting_credentials_are_a_config_error() {
        let token = AccessToken::new("Atza|x".to_owned().into(), Utc::now());
        let error = SpApiClient::builder(endpoints())
            .app_credentials(LwaCredentials::new("id", "secret"))
            .seller(SellerAuthorization::new("A1", "Atzr|r"))
            .access_token(token)
            .build()
            .unwrap_err();
        assert_eq!(error.name(), domain::ErrorName::ConfigInvalid);
        let error = SpApiClient::builder(endpoints())
            .seller(SellerAuthorization::new("A1", "Atzr|r"))
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("needs the app's LWA client id and secret"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_client_without_app_credentials_cannot_make_grantless_calls() {
        let token = AccessToken::new(
            "Atza|x".to_owned().into(),
            Utc::now() + chrono::Duration::hours(1),
        );
        let client = SpApiClient::builder(endpoints())
            .access_token(token)
            .build()
            .unwrap();
        let error = client.get_destinations().await.unwrap_err();
        assert_eq!(error.name(), domain::ErrorName::ConfigInvalid);
        assert!(error.to_string().contains("getDestinations"), "{error}");
    }

    #[test]
    fn client_debug_output_holds_no_secret() {
        let client = SpApiClient::builder(endpoints())
            .app_credentials(LwaCredentials::new(
                "amzn1.application-oa2-client.id",
                "the-client-secret",
            ))
            .seller(SellerAuthorization::new("A1", "Atzr|the-refresh-token"))
            .build()
            .unwrap();
        let given = client.with_access_token(AccessToken::new(
            "Atza|the-access-token".to_owned().into(),
            Utc::now(),
        ));
        let printed = format!("{client:?} {given:?}");
        for secret in ["the-client-secret", "the-refresh-token", "the-access-token"] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
    }

    #[test]
    fn answers_map_to_retries_and_stable_names() {
        use domain::ErrorName::*;

        let body = |code: &str, details: &str| {
            ApiErrors::from_body(
                format!(
                    r#"{{"errors":[{{"code":"{code}","message":"m","details":"{details}"}}]}}"#
                )
                .as_bytes(),
            )
        };
        let expired = body("Unauthorized", "The access token you provided has expired.");
        let denied = body("Unauthorized", "");
        let cases = [
            (429, body("QuotaExceeded", ""), NextStep::BackOff, Throttled),
            (
                500,
                body("InternalFailure", ""),
                NextStep::BackOff,
                UpstreamUnavailable,
            ),
            (
                503,
                ApiErrors::from_body(b""),
                NextStep::BackOff,
                UpstreamUnavailable,
            ),
            (403, expired.clone(), NextStep::RenewToken, TokenExpired),
            (401, expired, NextStep::RenewToken, TokenExpired),
            (403, denied, NextStep::Fail, Unauthorized),
            (
                400,
                body("InvalidInput", "bad marketplace"),
                NextStep::Fail,
                ConfigInvalid,
            ),
            // getReport of an id Amazon does not know (any more).
            (404, body("NotFound", ""), NextStep::Fail, ReportGone),
            (
                415,
                body("UnsupportedMediaType", ""),
                NextStep::Fail,
                ConfigInvalid,
            ),
        ];
        for (status, errors, step, name) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(next_step(status, &errors), step, "{status}");
            let error = failure(
                Operation::GetReport,
                status,
                5,
                RequestId(Some("rid".to_owned())),
                errors,
                false,
            );
            assert_eq!(error.name(), name, "{status}: {error}");
            assert_eq!(error.request_id(), Some("rid"), "{status}: {error}");
        }
    }

    #[test]
    fn a_fresh_token_refused_as_expired_is_unauthorized_so_no_reauthentication_loops() {
        let expired = ApiErrors::from_body(
            br#"{"errors":[{"code":"Unauthorized","message":"The access token you provided has expired."}]}"#,
        );
        let error = |fresh| {
            failure(
                Operation::CreateReport,
                StatusCode::FORBIDDEN,
                1,
                RequestId(None),
                expired.clone(),
                fresh,
            )
        };
        assert_eq!(error(false).name(), domain::ErrorName::TokenExpired);
        assert_eq!(error(true).name(), domain::ErrorName::Unauthorized);
    }

    #[test]
    fn token_header_is_marked_sensitive() {
        let token = AccessToken::new("Atza|abc".to_owned().into(), Utc::now());
        let header = token_header(&token).unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("abc"));
    }
}
