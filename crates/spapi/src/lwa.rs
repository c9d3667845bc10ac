//! Login with Amazon: the token grants and the shared token cache.
//!
//! SP-API calls carry an LWA access token that lives one hour (api-facts.md §1.1). The
//! seller's token comes from the refresh-token grant, the app's own token for grantless
//! operations from the client-credentials grant
//! (<https://developer-docs.amazon.com/sp-api/docs/grantless-operations>). The cache asks
//! LWA once per token lifetime however many tasks share the client: the first caller
//! refreshes under the lock while the others wait for its result.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use crate::credentials::{AccessToken, LwaCredentials, SellerAuthorization, scrub};
use crate::error::{Error, GrantSubject, LwaRefusal, RequestId};
use crate::retry::RetryPolicy;

/// The default time a cached token is refreshed before it expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What to ask LWA for.
#[derive(Debug, Clone)]
pub enum TokenGrant {
    /// `grant_type=refresh_token`: a token to act for one selling partner.
    RefreshToken(SellerAuthorization),
    /// `grant_type=client_credentials`: the app's own token for a grantless scope.
    ClientCredentials {
        /// The scope, e.g. [`NOTIFICATIONS_SCOPE`](crate::NOTIFICATIONS_SCOPE).
        scope: String,
    },
}

impl TokenGrant {
    fn subject(&self) -> GrantSubject {
        match self {
            TokenGrant::RefreshToken(seller) => GrantSubject::Seller {
                selling_partner_id: seller.selling_partner_id.clone(),
            },
            TokenGrant::ClientCredentials { scope } => GrantSubject::Grantless {
                scope: scope.clone(),
            },
        }
    }
}

/// A client of the LWA token endpoint for one app.
#[derive(Debug, Clone)]
pub struct LwaClient {
    http: reqwest::Client,
    token_url: Url,
    app: LwaCredentials,
    retry: RetryPolicy,
    timeout: Duration,
}

/// LWA's successful answer (<https://developer.amazon.com/docs/login-with-amazon/access-token.html>).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds; 3600 in practice, assumed when absent.
    expires_in: Option<u64>,
}

/// LWA's OAuth error answer: `{"error":"invalid_grant","error_description":"…"}`.
#[derive(Deserialize)]
struct TokenErrorResponse {
    error: String,
    error_description: Option<String>,
}

impl LwaClient {
    /// A client posting to `token_url` with the app's credentials over `http`.
    pub fn new(http: reqwest::Client, token_url: Url, app: LwaCredentials) -> Self {
        LwaClient {
            http,
            token_url,
            app,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Uses `retry` for 5xx, 429 and connection failures of the token endpoint.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Bounds each token request to `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The app's LWA client id.
    pub fn client_id(&self) -> &str {
        &self.app.client_id
    }

    /// A seller access token from the refresh-token grant.
    pub async fn refresh_token_grant(
        &self,
        seller: &SellerAuthorization,
    ) -> Result<AccessToken, Error> {
        self.request_token(&TokenGrant::RefreshToken(seller.clone()))
            .await
    }

    /// The app's grantless access token for `scope` from the client-credentials grant.
    pub async fn client_credentials_grant(&self, scope: &str) -> Result<AccessToken, Error> {
        self.request_token(&TokenGrant::ClientCredentials {
            scope: scope.to_owned(),
        })
        .await
    }

    /// Asks LWA for a token, retrying 5xx/429/connection failures with backoff.
    pub async fn request_token(&self, grant: &TokenGrant) -> Result<AccessToken, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_once(grant).await {
                Attempt::Token(token) => return Ok(token),
                Attempt::Refused(error) => return Err(error),
                Attempt::Unavailable { status, source } => {
                    let status = status.map(|status| status.as_u16());
                    if !self.retry.allows_retry_after(attempt) {
                        return Err(Error::LwaUnavailable {
                            url: self.token_url.to_string(),
                            status,
                            attempts: attempt,
                            source,
                        });
                    }
                    let wait = self.retry.backoff(attempt, &mut rand::rng());
                    tracing::info!(
                        attempt,
                        status,
                        error = source.as_ref().map(tracing::field::display),
                        wait_ms = wait.as_millis() as u64,
                        "LWA token endpoint unavailable; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn try_once(&self, grant: &TokenGrant) -> Attempt {
        let client_secret = self.app.client_secret.expose_secret();
        let form: Vec<(&str, &str)> = match grant {
            TokenGrant::RefreshToken(seller) => vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", seller.refresh_token.expose_secret()),
                ("client_id", &self.app.client_id),
                ("client_secret", client_secret),
            ],
            TokenGrant::ClientCredentials { scope } => vec![
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("client_id", &self.app.client_id),
                ("client_secret", client_secret),
            ],
        };
        let sent = self
            .http
            .post(self.token_url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(source) => {
                return Attempt::Unavailable {
                    status: None,
                    source: Some(source),
                };
            }
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => {
                return Attempt::Unavailable {
                    status: Some(status),
                    source: Some(source),
                };
            }
        };
        tracing::debug!(status = status.as_u16(), "LWA token endpoint answered");

        if status.is_success() {
            return match serde_json::from_slice::<TokenResponse>(&body) {
                Ok(token) => {
                    let lifetime = chrono::Duration::seconds(
                        token.expires_in.unwrap_or(3600).min(86_400) as i64,
                    );
                    Attempt::Token(AccessToken::new(
                        SecretString::from(token.access_token),
                        Utc::now() + lifetime,
                    ))
                }
                Err(source) => Attempt::Refused(Error::LwaMalformed {
                    url: self.token_url.to_string(),
                    source,
                }),
            };
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::Unavailable {
                status: Some(status),
                source: None,
            };
        }
        let (refusal, description) = match serde_json::from_slice::<TokenErrorResponse>(&body) {
            Ok(answer) => (
                LwaRefusal::from_code(&answer.error),
                answer.error_description,
            ),
            Err(_) => (LwaRefusal::Other(format!("HTTP {}", status.as_u16())), None),
        };
        let mut secrets = vec![&self.app.client_secret];
        if let TokenGrant::RefreshToken(seller) = grant {
            secrets.push(&seller.refresh_token);
        }
        let description = description.map(|text| scrub(&text, &secrets));
        tracing::warn!(code = refusal.code(), client_id = %self.app.client_id, "LWA refused the token request");
        Attempt::Refused(Error::LwaRefused {
            refusal,
            subject: grant.subject(),
            client_id: self.app.client_id.clone(),
            description,
        })
    }
}

enum Attempt {
    Token(AccessToken),
    Refused(Error),
    Unavailable {
        status: Option<StatusCode>,
        source: Option<reqwest::Error>,
    },
}

/// When a token that is valid from `now` until `expires_at` should be replaced: `margin`
/// before expiry, but at least a quarter of the lifetime before (a long-lived token is
/// renewed in good time) and at most half of it (a short-lived one, as the simulator hands
/// out, is still used for half its life instead of being refreshed on every call).
pub fn refresh_deadline(
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    margin: Duration,
) -> DateTime<Utc> {
    let lifetime = (expires_at - now).max(chrono::Duration::zero());
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
    let margin = margin.clamp(lifetime / 4, lifetime / 2);
    expires_at - margin
}

#[derive(Debug)]
struct CachedToken {
    token: AccessToken,
    refresh_at: DateTime<Utc>,
}

/// One token shared by every task using the client, refreshed once before it expires.
#[derive(Debug)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<CachedToken>>,
    margin: Duration,
}

impl TokenCache {
    pub(crate) fn new(margin: Duration) -> Self {
        TokenCache {
            slot: Mutex::new(None),
            margin,
        }
    }

    /// The cached token, or the one `fetch` returns when none is fresh. The lock is held
    /// across `fetch`, so concurrent callers cause one refresh and share its result.
    pub(crate) async fn get_or_refresh<F, Fut>(&self, fetch: F) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        let mut slot = self.slot.lock().await;
        let now = Utc::now();
        if let Some(cached) = slot.as_ref().filter(|cached| now < cached.refresh_at) {
            return Ok(cached.token.clone());
        }
        let token = fetch().await?;
        let refresh_at = refresh_deadline(Utc::now(), token.expires_at(), self.margin);
        *slot = Some(CachedToken {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    /// Forgets `rejected` if it is still the cached token (when several requests see the
    /// same token rejected, only the first forgets it; the rest reuse the new one).
    pub(crate) async fn forget(&self, rejected: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|cached| cached.token.same_token_as(rejected))
        {
            *slot = None;
        }
    }
}

/// Where the client gets the token for one kind of operation.
#[derive(Debug, Clone)]
pub(crate) enum TokenSource {
    /// From LWA, cached.
    Lwa {
        lwa: Arc<LwaClient>,
        grant: TokenGrant,
        cache: Arc<TokenCache>,
    },
    /// Handed in (the `auth` Lambda's output); cannot be renewed here.
    Given(AccessToken),
    /// Not configured; the reason says how to build the client instead.
    Missing(&'static str),
}

impl TokenSource {
    /// A source that asks `lwa` for `grant` and caches the answer.
    pub(crate) fn from_lwa(lwa: &Arc<LwaClient>, grant: TokenGrant, margin: Duration) -> Self {
        TokenSource::Lwa {
            lwa: lwa.clone(),
            grant,
            cache: Arc::new(TokenCache::new(margin)),
        }
    }

    /// A token for `operation`, or `TokenExpired` for a given token past its expiry.
    pub(crate) async fn token(&self, operation: &'static str) -> Result<AccessToken, Error> {
        match self {
            TokenSource::Lwa { lwa, grant, cache } => {
                cache.get_or_refresh(|| lwa.request_token(grant)).await
            }
            TokenSource::Given(token) if token.is_expired_at(Utc::now()) => {
                Err(Error::TokenExpired {
                    operation,
                    request_id: RequestId(None),
                })
            }
            TokenSource::Given(token) => Ok(token.clone()),
            TokenSource::Missing(reason) => Err(Error::MissingCredentials { operation, reason }),
        }
    }

    /// Drops a token SP-API said has expired; `true` when a fresh one can be fetched.
    pub(crate) async fn renew_after_rejection(&self, rejected: &AccessToken) -> bool {
        match self {
            TokenSource::Lwa { cache, .. } => {
                cache.forget(rejected).await;
                true
            }
            TokenSource::Given(_) | TokenSource::Missing(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn token(value: &str, lifetime: chrono::Duration) -> AccessToken {
        AccessToken::new(SecretString::from(value.to_owned()), Utc::now() + lifetime)
    }

    #[test]
    fn an_hour_token_is_refreshed_a_quarter_of_its_life_early() {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::hours(1);
        let deadline = refresh_deadline(now, expires_at, DEFAULT_REFRESH_MARGIN);
        assert_eq!(
            expires_at - deadline,
            chrono::Duration::minutes(15),
            "never less than a quarter"
        );
        let long_margin = refresh_deadline(now, expires_at, Duration::from_secs(20 * 60));
        assert_eq!(
            expires_at - long_margin,
            chrono::Duration::minutes(20),
            "a larger margin is kept"
        );
    }

    #[test]
    fn a_short_lived_token_is_still_used_for_half_its_life() {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::seconds(60);
        let deadline = refresh_deadline(now, expires_at, DEFAULT_REFRESH_MARGIN);
        assert_eq!(deadline - now, chrono::Duration::seconds(30));
        assert_eq!(
            refresh_deadline(now, now, DEFAULT_REFRESH_MARGIN),
            now,
            "an expired token is due now"
        );
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let cache = Arc::new(TokenCache::new(DEFAULT_REFRESH_MARGIN));
        let fetches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                let fetches = fetches.clone();
                tokio::spawn(async move {
                    cache
                        .get_or_refresh(|| async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(token("Atza|one", chrono::Duration::hours(1)))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_near_expiry_is_replaced_and_a_rejected_one_forgotten_once() {
        let cache = TokenCache::new(DEFAULT_REFRESH_MARGIN);
        let fetches = AtomicUsize::new(0);
        let fetch = |lifetime| {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            async move { Ok(token(&format!("Atza|{n}"), lifetime)) }
        };
        // Already inside its refresh window: the next call fetches again.
        cache
            .get_or_refresh(|| fetch(chrono::Duration::seconds(0)))
            .await
            .unwrap();
        let second = cache
            .get_or_refresh(|| fetch(chrono::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(second.secret().expose_secret(), "Atza|1");
        let cached = cache
            .get_or_refresh(|| fetch(chrono::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(
            cached.secret().expose_secret(),
            "Atza|1",
            "a fresh token is reused"
        );

        cache.forget(&second).await;
        cache.forget(&second).await;
        let third = cache
            .get_or_refresh(|| fetch(chrono::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(third.secret().expose_secret(), "Atza|2");
        cache.forget(&second).await; // a late rejection of the old token keeps the new one
        let still = cache
            .get_or_refresh(|| fetch(chrono::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(still.secret().expose_secret(), "Atza|2");
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_given_token_past_its_expiry_fails_with_token_expired() {
        let source = TokenSource::Given(token("Atza|given", chrono::Duration::seconds(-1)));
        let error = source.token("getReport").await.unwrap_err();
        assert_eq!(error.name(), domain::ErrorName::TokenExpired);
        assert!(!format!("{error:?} {error}").contains("Atza|given"));
        assert!(
            !source
                .renew_after_rejection(&token("Atza|given", chrono::Duration::zero()))
                .await
        );
    }
}
