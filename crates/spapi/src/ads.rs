//! Amazon Ads API client: profiles and reporting v3, with an Ads account's LWA token.
//!
//! Every call carries `Authorization: Bearer <token>`, the app's
//! `Amazon-Advertising-API-ClientId` and, for reports, the profile in
//! `Amazon-Advertising-API-Scope` (api-facts §1, §6). Two quirks are handled here:
//! 429 may come without `Retry-After` (issue #344 of amzn/ads-advanced-tools-docs), so
//! calls back off with jitter; and a create identical to a report still being
//! generated answers 425 "The Request is a duplicate of : <id>" — success in disguise,
//! returned as [`Created::Duplicate`] with that id.
//! <https://advertising.amazon.com/API/docs/en-us/guides/reporting/v3/get-started>

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ErrorName;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::credentials::{AccessToken, SellerAuthorization};
use crate::document::{DocumentError, DocumentStream};
use crate::lwa::{LwaClient, TokenGrant};
use crate::reports::without_query;
use crate::retry::RetryPolicy;

/// The createReport media type of reporting v3.
pub const CREATE_REPORT_MEDIA_TYPE: &str = "application/vnd.createasyncreportrequest.v3+json";

/// An advertising profile: an advertiser in one marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdsProfile {
    /// What `Amazon-Advertising-API-Scope` carries.
    pub profile_id: u64,
    /// e.g. `US`.
    pub country_code: String,
    /// e.g. `USD`.
    pub currency_code: String,
    /// The profile's time zone; report dates are days in it.
    pub timezone: String,
    /// Whose account it is.
    pub account_info: AccountInfo,
}

/// `accountInfo` of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// The marketplace, e.g. `ATVPDKIKX0DER`.
    pub marketplace_string_id: String,
    /// The seller or vendor id.
    pub id: String,
    /// seller, vendor or agency.
    #[serde(rename = "type")]
    pub kind: String,
    /// The account's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Where a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdsReportStatus {
    /// Queued (minutes to hours).
    Pending,
    /// Running.
    Processing,
    /// The file is ready at `url`.
    Completed,
    /// See `failureReason`.
    Failed,
}

/// A report as getReport shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdsReport {
    /// Its id.
    pub report_id: String,
    /// Its status.
    pub status: AdsReportStatus,
    /// The configuration it was created with.
    #[serde(default)]
    pub configuration: Value,
    /// First day.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Last day.
    #[serde(default)]
    pub end_date: Option<String>,
    /// When it was requested.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The file (a presigned URL: a read credential), once COMPLETED.
    #[serde(default)]
    pub url: Option<String>,
    /// When `url` stops working; read the report again for a new one.
    #[serde(default)]
    pub url_expires_at: Option<DateTime<Utc>>,
    /// Why a FAILED report failed.
    #[serde(default)]
    pub failure_reason: Option<String>,
}

impl fmt::Debug for AdsReport {
    /// Prints the URL without its query: its signature lets anyone read the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdsReport")
            .field("report_id", &self.report_id)
            .field("status", &self.status)
            .field(
                "url",
                &self
                    .url
                    .as_deref()
                    .map(|u| format!("{}?[redacted]", without_query(u))),
            )
            .field("url_expires_at", &self.url_expires_at)
            .field("failure_reason", &self.failure_reason)
            .finish()
    }
}

/// What createReport did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new report.
    New(String),
    /// An identical report was still being generated: this is its id (425).
    Duplicate(String),
}

impl Created {
    /// The report to wait on, either way.
    pub fn report_id(&self) -> &str {
        match self {
            Created::New(id) | Created::Duplicate(id) => id,
        }
    }
}

/// Why an Amazon Ads call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdsError {
    /// Amazon Ads refused the call.
    #[error("Amazon Ads refused {what} with HTTP {status}: {detail}")]
    Refused {
        /// Which call.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// Amazon's `detail` (or the body's start).
        detail: String,
    },
    /// Still throttled after every retry.
    #[error("Amazon Ads throttled {what} {attempts} times in a row; it is tried again later")]
    Throttled {
        /// Which call.
        what: &'static str,
        /// Attempts made.
        attempts: u32,
    },
    /// The call did not get an answer.
    #[error("Amazon Ads did not answer {what}: {source}")]
    Unreachable {
        /// Which call.
        what: &'static str,
        /// The transport error, without its URL.
        source: reqwest::Error,
    },
    /// The answer is not the documented shape.
    #[error("Amazon Ads answered {what} with a body that is not the documented shape: {problem}")]
    Malformed {
        /// Which call.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The Ads account's refresh token was refused (or LWA failed).
    #[error(transparent)]
    Lwa(#[from] crate::Error),
    /// The report file could not be downloaded.
    #[error("downloading the report file failed: {0}")]
    File(DocumentError),
    /// The issued access token expired.
    #[error("the Amazon Ads access token expired at {at}; authenticate again")]
    TokenExpired {
        /// When it expired.
        at: DateTime<Utc>,
    },
}

impl AdsError {
    /// The stable name the state machine acts on.
    pub fn name(&self) -> ErrorName {
        match self {
            AdsError::Refused {
                status: 401 | 403, ..
            } => ErrorName::Unauthorized,
            AdsError::Refused { status: 404, .. } => ErrorName::ReportGone,
            AdsError::Refused {
                status: 400 | 422, ..
            } => ErrorName::ConfigInvalid,
            AdsError::Refused { .. }
            | AdsError::Unreachable { .. }
            | AdsError::Malformed { .. } => ErrorName::UpstreamUnavailable,
            AdsError::Throttled { .. } => ErrorName::Throttled,
            AdsError::Lwa(error) => error.name(),
            AdsError::TokenExpired { .. } => ErrorName::TokenExpired,
            AdsError::File(error) => error.name(),
        }
    }
}

/// Which advertiser a call acts for, beyond the token's account.
pub(crate) enum Scope {
    /// None (profiles, AMC accounts).
    None,
    /// An advertising profile (`Amazon-Advertising-API-Scope`).
    Profile(u64),
    /// An AMC account and its marketplace.
    Amc {
        /// `Amazon-Advertising-API-AdvertiserId` (`ENTITY…`).
        advertiser_id: String,
        /// `Amazon-Advertising-API-MarketplaceId`.
        marketplace_id: String,
    },
}

/// A client of one Ads account in one region.
#[derive(Clone)]
pub struct AdsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    authorization: Authorization,
    host: Url,
    retry: RetryPolicy,
}

/// Where the client's access tokens come from.
enum Authorization {
    /// It refreshes them itself from the account's refresh token (the CLI).
    Refresh {
        lwa: Box<LwaClient>,
        refresh_token: SecretString,
        token: Mutex<Option<AccessToken>>,
    },
    /// One token issued elsewhere (the auth Lambda), used until it expires; the app's
    /// client id comes with it, as every Ads call names the app.
    Issued {
        client_id: String,
        token: AccessToken,
    },
}

impl AdsClient {
    /// A client for the account whose refresh token is `refresh_token`, at the region's
    /// API `host` (e.g. `https://advertising-api.amazon.com`).
    pub fn new(
        http: reqwest::Client,
        lwa: LwaClient,
        refresh_token: SecretString,
        host: Url,
        retry: RetryPolicy,
    ) -> Self {
        Self::with(
            http,
            Authorization::Refresh {
                lwa: Box::new(lwa),
                refresh_token,
                token: Mutex::new(None),
            },
            host,
            retry,
        )
    }

    /// A client acting with `token`, issued to the app `client_id` for the account,
    /// until the token expires (then calls fail `TokenExpired`, and the state machine
    /// authenticates again).
    pub fn with_access_token(
        http: reqwest::Client,
        client_id: impl Into<String>,
        token: AccessToken,
        host: Url,
        retry: RetryPolicy,
    ) -> Self {
        Self::with(
            http,
            Authorization::Issued {
                client_id: client_id.into(),
                token,
            },
            host,
            retry,
        )
    }

    fn with(
        http: reqwest::Client,
        authorization: Authorization,
        host: Url,
        retry: RetryPolicy,
    ) -> Self {
        AdsClient {
            inner: Arc::new(Inner {
                http,
                authorization,
                host,
                retry,
            }),
        }
    }

    /// `GET /v2/profiles`: the account's profiles in this region.
    pub async fn profiles(&self) -> Result<Vec<AdsProfile>, AdsError> {
        let (status, body) = self
            .call("getProfiles", Method::GET, "v2/profiles", None, None)
            .await?;
        refused_unless_ok("getProfiles", status, &body)?;
        parse("getProfiles", &body)
    }

    /// `POST /reporting/reports` with `body` (see `domain::ads::AdsReportSpec::request_body`).
    pub async fn create_report(&self, profile_id: u64, body: &Value) -> Result<Created, AdsError> {
        let what = "createReport";
        let (status, text) = self
            .call(
                what,
                Method::POST,
                "reporting/reports",
                Some(profile_id),
                Some(body),
            )
            .await?;
        if status.as_u16() == 425 {
            let detail = detail_of(&text);
            // "The Request is a duplicate of : <reportId>"
            let id = detail
                .rsplit(':')
                .next()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| AdsError::Malformed {
                    what,
                    problem: format!("a 425 without the report it duplicates: {detail}"),
                })?;
            tracing::info!(
                report_id = id,
                profile_id,
                "the report is a duplicate of one in progress; waiting on that one"
            );
            return Ok(Created::Duplicate(id.to_owned()));
        }
        refused_unless_ok(what, status, &text)?;
        let report: AdsReport = parse(what, &text)?;
        tracing::info!(report_id = %report.report_id, profile_id, "ads report requested");
        Ok(Created::New(report.report_id))
    }

    /// `GET /reporting/reports/{reportId}`: its status and, once COMPLETED, a fresh URL.
    pub async fn get_report(
        &self,
        profile_id: u64,
        report_id: &str,
    ) -> Result<AdsReport, AdsError> {
        let path = format!("reporting/reports/{report_id}");
        let (status, text) = self
            .call("getReport", Method::GET, &path, Some(profile_id), None)
            .await?;
        refused_unless_ok("getReport", status, &text)?;
        parse("getReport", &text)
    }

    /// The COMPLETED report's file, gunzipped as it streams (the file is gzip JSON; no
    /// `Content-Encoding` says so). The URL is never logged; an expired one, a refusal
    /// or a broken body fail with the names SP-API documents get (`DocumentUrlExpired`,
    /// `DocumentTruncated`), so the caller starts over from a fresh URL (getReport).
    pub async fn download(&self, report: &AdsReport) -> Result<DocumentStream, AdsError> {
        let what = "the report file";
        let url = report.url.as_deref().ok_or_else(|| AdsError::Malformed {
            what,
            problem: format!(
                "report {} has no url (status {:?})",
                report.report_id, report.status
            ),
        })?;
        self.download_file(url, true).await
    }

    /// A presigned file (no Ads headers go there), as it streams, gunzipped when `gzip`;
    /// an expired URL fails `DocumentUrlExpired`, a refusal or a broken body the names
    /// SP-API documents get.
    pub(crate) async fn download_file(
        &self,
        url: &str,
        gzip: bool,
    ) -> Result<DocumentStream, AdsError> {
        let response = self.inner.http.get(url).send().await.map_err(|source| {
            AdsError::File(DocumentError::Unreachable {
                source: source.without_url(),
            })
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(AdsError::File(
                DocumentStream::refused(status, response).await,
            ));
        }
        Ok(DocumentStream::file(response, gzip))
    }

    /// A fresh-enough access token for the account.
    async fn token(&self) -> Result<SecretString, AdsError> {
        let margin = chrono::Duration::seconds(60);
        match &self.inner.authorization {
            Authorization::Issued { token, .. } if token.expires_at() > Utc::now() => {
                Ok(token.secret().clone())
            }
            Authorization::Issued { token, .. } => Err(AdsError::TokenExpired {
                at: token.expires_at(),
            }),
            Authorization::Refresh {
                lwa,
                refresh_token,
                token,
            } => {
                let mut cached = token.lock().await;
                if let Some(token) = cached.as_ref()
                    && token.expires_at() > Utc::now() + margin
                {
                    return Ok(token.secret().clone());
                }
                let grant = TokenGrant::RefreshToken(SellerAuthorization::new(
                    "amazon-ads",
                    refresh_token.expose_secret(),
                ));
                let fresh = lwa.request_token(&grant).await?;
                let secret = fresh.secret().clone();
                *cached = Some(fresh);
                Ok(secret)
            }
        }
    }

    /// The app's LWA client id, which every call names.
    fn client_id(&self) -> &str {
        match &self.inner.authorization {
            Authorization::Refresh { lwa, .. } => lwa.client_id(),
            Authorization::Issued { client_id, .. } => client_id,
        }
    }

    /// One call with the Ads headers; 429 and 5xx are retried with jittered backoff.
    async fn call(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        profile_id: Option<u64>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), AdsError> {
        let scope = profile_id.map_or(Scope::None, Scope::Profile);
        let body = body.map(|b| (b, CREATE_REPORT_MEDIA_TYPE));
        self.call_scoped(what, method, path, &scope, body).await
    }

    /// [`AdsClient::call`] with the scope headers of `scope` and a body of its media
    /// type (Amazon Marketing Cloud calls are scoped by AMC account and marketplace).
    pub(crate) async fn call_scoped(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        scope: &Scope,
        body: Option<(&Value, &'static str)>,
    ) -> Result<(StatusCode, String), AdsError> {
        let url = self
            .inner
            .host
            .join(path)
            .map_err(|e| AdsError::Malformed {
                what,
                problem: format!("the API host cannot take the path {path}: {e}"),
            })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .header("Amazon-Advertising-API-ClientId", self.client_id());
            match scope {
                Scope::None => {}
                Scope::Profile(profile_id) => {
                    request =
                        request.header("Amazon-Advertising-API-Scope", profile_id.to_string());
                }
                Scope::Amc {
                    advertiser_id,
                    marketplace_id,
                } => {
                    request = request
                        .header("Amazon-Advertising-API-AdvertiserId", advertiser_id)
                        .header("Amazon-Advertising-API-MarketplaceId", marketplace_id);
                }
            }
            if let Some((body, media_type)) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, media_type)
                    .header(reqwest::header::ACCEPT, media_type)
                    .body(body.to_string());
            }
            let outcome = request.send().await;
            let retryable = match &outcome {
                Ok(response) => {
                    response.status() == StatusCode::TOO_MANY_REQUESTS
                        || response.status().is_server_error()
                }
                Err(_) => true,
            };
            if retryable && self.inner.retry.allows_retry_after(attempt) {
                let wait = self.inner.retry.backoff(attempt, &mut rand::rng());
                tracing::warn!(
                    what,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "Amazon Ads asked to slow down or failed; backing off"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let response = outcome.map_err(|source| AdsError::Unreachable {
                what,
                source: source.without_url(),
            })?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                return Err(AdsError::Throttled {
                    what,
                    attempts: attempt,
                });
            }
            let text = response
                .text()
                .await
                .map_err(|source| AdsError::Unreachable {
                    what,
                    source: source.without_url(),
                })?;
            return Ok((status, text));
        }
    }
}

/// Amazon's `detail` (reporting v3) or `details` (v2), else the body's start.
pub(crate) fn detail_of(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    parsed
        .as_ref()
        .and_then(|v| v.get("detail").or_else(|| v.get("details")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(300).collect())
}

pub(crate) fn refused_unless_ok(
    what: &'static str,
    status: StatusCode,
    body: &str,
) -> Result<(), AdsError> {
    if status.is_success() {
        return Ok(());
    }
    Err(AdsError::Refused {
        what,
        status: status.as_u16(),
        detail: detail_of(body),
    })
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    body: &str,
) -> Result<T, AdsError> {
    serde_json::from_str(body).map_err(|e| AdsError::Malformed {
        what,
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_names_the_report_it_duplicates_and_a_url_is_never_printed() {
        assert_eq!(
            detail_of(
                r#"{"code":"425","detail":"The Request is a duplicate of : 8f1d6a5e-2b4c-4d1e-9f3a-0c2b7e6d5a41"}"#
            ),
            "The Request is a duplicate of : 8f1d6a5e-2b4c-4d1e-9f3a-0c2b7e6d5a41"
        );
        let report = AdsReport {
            report_id: "r".into(),
            status: AdsReportStatus::Completed,
            configuration: Value::Null,
            start_date: None,
            end_date: None,
            created_at: None,
            url: Some(
                "https://offline-report-storage.s3.amazonaws.com/r.json.gz?X-Amz-Signature=secret"
                    .into(),
            ),
            url_expires_at: None,
            failure_reason: None,
        };
        let printed = format!("{report:?}");
        assert!(
            !printed.contains("secret") && printed.contains("[redacted]"),
            "{printed}"
        );
    }

    #[test]
    fn errors_have_the_names_the_state_machine_acts_on() {
        let refused = |status| AdsError::Refused {
            what: "createReport",
            status,
            detail: String::new(),
        };
        assert_eq!(refused(401).name(), ErrorName::Unauthorized);
        assert_eq!(refused(404).name(), ErrorName::ReportGone);
        assert_eq!(refused(400).name(), ErrorName::ConfigInvalid);
        assert_eq!(refused(502).name(), ErrorName::UpstreamUnavailable);
        assert_eq!(
            AdsError::Throttled {
                what: "createReport",
                attempts: 5
            }
            .name(),
            ErrorName::Throttled
        );
    }
}
