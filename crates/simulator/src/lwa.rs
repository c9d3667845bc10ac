//! Login with Amazon: the token endpoint (`POST /auth/o2/token`) with its refresh-token
//! and client-credentials grants and its OAuth error answers, and the book of access
//! tokens issued so far, which the gateway checks on every SP-API call.
//! <https://developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api>

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;

use crate::state::Shared;

/// Scope of grantless Notifications API calls.
pub(crate) const NOTIFICATIONS_SCOPE: &str = "sellingpartnerapi::notifications";
/// Scope of the client-secret rotation API.
pub(crate) const ROTATION_SCOPE: &str = "sellingpartnerapi::client_credential:rotation";

/// What an access token lets its holder do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Acts for one selling partner (refresh-token grant).
    Seller { selling_partner_id: String },
    /// Acts for the application alone (client-credentials grant).
    Grantless { scope: String },
    /// Acts for an Amazon Ads account (refresh-token grant of an advertiser).
    Advertiser { refresh_token: String },
}

/// One access token the endpoint issued.
#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    pub client_id: String,
    pub grant: Grant,
    pub expires_at: Instant,
}

/// Every access token issued so far (tokens are never forgotten; expiry is a time).
#[derive(Debug, Default)]
pub(crate) struct TokenBook {
    tokens: HashMap<String, IssuedToken>,
}

impl TokenBook {
    /// Issues a new random `Atza|…` token.
    pub(crate) fn issue(&mut self, client_id: &str, grant: Grant, ttl: Duration) -> String {
        let random: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(320)
            .map(char::from)
            .collect();
        let token = format!("Atza|IwEB{random}");
        let expires_at = Instant::now() + ttl;
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                client_id: client_id.to_owned(),
                grant,
                expires_at,
            },
        );
        token
    }

    /// The token with this value, if it was ever issued.
    pub(crate) fn find(&self, token: &str) -> Option<&IssuedToken> {
        self.tokens.get(token)
    }

    /// Makes every token issued so far expired as of `now`.
    pub(crate) fn expire_all(&mut self, now: Instant) {
        for token in self.tokens.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
    }
}

/// An OAuth 2.0 error answer as LWA writes it.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn invalid_request(parameter: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: format!("The request is missing a required parameter : {parameter}"),
        }
    }

    fn invalid_client() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "Client authentication failed".to_owned(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error_description": self.description, "error": self.error });
        with_lwa_headers((self.status, Json(body)).into_response())
    }
}

fn with_lwa_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-RequestId", id);
    }
    response
}

/// `POST /auth/o2/token`.
pub(crate) async fn token_endpoint(
    State(sim): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant_token(&sim, &headers, &body) {
        Ok(response) => with_lwa_headers(response),
        Err(error) => error.into_response(),
    }
}

fn grant_token(sim: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let grant_type =
        param("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type"))?;
    if grant_type != "refresh_token" && grant_type != "client_credentials" {
        return Err(OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
            description:
                "The authorization grant type is not supported by the authorization server"
                    .to_owned(),
        });
    }
    let grant_parameter = if grant_type == "refresh_token" {
        "refresh_token"
    } else {
        "scope"
    };
    let grant_value =
        param(grant_parameter).ok_or_else(|| OAuthError::invalid_request(grant_parameter))?;

    // LWA also accepts client credentials as HTTP Basic auth (RFC 6749 §2.3.1).
    let basic = basic_credentials(headers);
    let client_id = param("client_id")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .ok_or_else(|| OAuthError::invalid_request("client_id"))?;
    let client_secret = param("client_secret")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|(_, secret)| secret.clone()))
        .ok_or_else(|| OAuthError::invalid_request("client_secret"))?;
    let known_client = sim
        .apps
        .iter()
        .any(|app| app.client_id == client_id && app.client_secret == client_secret);
    if !known_client {
        tracing::info!(client_id, "LWA rejected client credentials");
        return Err(OAuthError::invalid_client());
    }

    let grant = if grant_type == "refresh_token" {
        let seller = sim
            .sellers
            .iter()
            .find(|seller| seller.refresh_token == grant_value);
        let advertiser = sim
            .advertisers
            .iter()
            .find(|advertiser| advertiser.refresh_token == grant_value);
        match (seller, advertiser) {
            (Some(seller), _) => Grant::Seller {
                selling_partner_id: seller.selling_partner_id.clone(),
            },
            (None, Some(advertiser)) => Grant::Advertiser {
                refresh_token: advertiser.refresh_token.clone(),
            },
            (None, None) => {
                return Err(OAuthError {
                    status: StatusCode::BAD_REQUEST,
                    error: "invalid_grant",
                    description: "The request has an invalid grant parameter : refresh_token"
                        .to_owned(),
                });
            }
        }
    } else {
        if grant_value != NOTIFICATIONS_SCOPE && grant_value != ROTATION_SCOPE {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_scope",
                description: "The request has an invalid parameter : scope".to_owned(),
            });
        }
        Grant::Grantless {
            scope: grant_value.to_owned(),
        }
    };

    let mut world = sim.world();
    let ttl_secs = world.scenario.token_ttl_secs;
    let access_token = world
        .tokens
        .issue(&client_id, grant.clone(), Duration::from_secs(ttl_secs));
    drop(world);
    tracing::info!(client_id, grant_type, "LWA issued an access token");
    let mut body =
        json!({ "access_token": access_token, "token_type": "bearer", "expires_in": ttl_secs });
    if grant_type == "refresh_token" {
        body["refresh_token"] = json!(grant_value);
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Client id and secret from an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(decode_base64(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Standard base64 decoding; the only base64 the simulator needs, so no crate for it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0u32;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_all_at_once() {
        let mut book = TokenBook::default();
        let token = book.issue(
            "app",
            Grant::Grantless {
                scope: NOTIFICATIONS_SCOPE.into(),
            },
            Duration::from_secs(60),
        );
        assert!(token.starts_with("Atza|"));
        let now = Instant::now();
        assert!(book.find(&token).unwrap().expires_at > now);
        book.expire_all(now);
        assert!(book.find(&token).unwrap().expires_at <= now);
        assert!(book.find("Atza|unknown").is_none());
    }

    #[test]
    fn basic_auth_header_is_decoded() {
        let mut headers = HeaderMap::new();
        // "client:secret"
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Y2xpZW50OnNlY3JldA=="),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("client".into(), "secret".into()))
        );
    }
}
