//! The secrets the client holds, as types that cannot be printed.
//!
//! The LWA client secret, refresh tokens and access tokens are [`SecretString`]s: their
//! `Debug` prints `[REDACTED]` and there is no `Display`, so a secret reaches a log line
//! or an error message only through an explicit `expose_secret()` — which this crate
//! calls in exactly two places: the LWA form body and the `x-amz-access-token` header.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

/// The LWA scope of the Notifications grantless operations (api-facts.md §1.1).
pub const NOTIFICATIONS_SCOPE: &str = "sellingpartnerapi::notifications";

/// An SP-API application's LWA credentials (Developer Central → app → LWA credentials).
#[derive(Clone)]
pub struct LwaCredentials {
    /// The LWA client id, `amzn1.application-oa2-client.…` (not a secret).
    pub client_id: String,
    /// The LWA client secret.
    pub client_secret: SecretString,
}

impl LwaCredentials {
    /// Credentials from a client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        LwaCredentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

impl fmt::Debug for LwaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LwaCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// One selling partner's authorisation of the app: the refresh token from the OAuth
/// authorisation (or the self-authorisation in Seller Central).
#[derive(Clone)]
pub struct SellerAuthorization {
    /// The selling partner id (merchant token), named in error messages.
    pub selling_partner_id: String,
    /// The long-lived LWA refresh token, `Atzr|…`.
    pub refresh_token: SecretString,
}

impl SellerAuthorization {
    /// A seller's authorisation from its id and refresh token.
    pub fn new(selling_partner_id: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        SellerAuthorization {
            selling_partner_id: selling_partner_id.into(),
            refresh_token: SecretString::from(refresh_token.into()),
        }
    }
}

impl fmt::Debug for SellerAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SellerAuthorization")
            .field("selling_partner_id", &self.selling_partner_id)
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

/// An LWA access token (`Atza|…`) and the moment it stops working.
#[derive(Clone)]
pub struct AccessToken {
    value: SecretString,
    expires_at: DateTime<Utc>,
}

impl AccessToken {
    /// A token and its expiry, e.g. as decrypted from the `auth` Lambda's output.
    pub fn new(value: SecretString, expires_at: DateTime<Utc>) -> Self {
        AccessToken { value, expires_at }
    }

    /// The token itself; expose it only to put it on the wire or to encrypt it.
    pub fn secret(&self) -> &SecretString {
        &self.value
    }

    /// When LWA said the token stops working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Whether the token has stopped working at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Whether two tokens are the same token (used to refresh a rejected token once).
    pub(crate) fn same_token_as(&self, other: &AccessToken) -> bool {
        self.value.expose_secret() == other.value.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Replaces every occurrence of the given secrets in a text that came back from a server
/// (an LWA `error_description`), in case a server ever echoes what it was sent.
pub(crate) fn scrub(text: &str, secrets: &[&SecretString]) -> String {
    secrets
        .iter()
        .map(|secret| secret.expose_secret())
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, "[redacted]")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_a_secret() {
        let app = LwaCredentials::new("amzn1.application-oa2-client.abc", "client-secret-value");
        let seller = SellerAuthorization::new("A3TH9S8BH6GOGM", "Atzr|refresh-token-value");
        let token = AccessToken::new(SecretString::from("Atza|access-token-value"), Utc::now());
        let printed = format!("{app:?} {seller:?} {token:?} {app:#?} {seller:#?} {token:#?}");
        for secret in [
            "client-secret-value",
            "refresh-token-value",
            "access-token-value",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        assert!(
            printed.contains("amzn1.application-oa2-client.abc"),
            "the client id is not a secret"
        );
        assert!(printed.contains("A3TH9S8BH6GOGM"));
    }

    #[test]
    fn echoed_secrets_are_scrubbed_from_server_text() {
        let secret = SecretString::from("s3cr3t");
        let empty = SecretString::from("");
        assert_eq!(
            scrub("bad client secret s3cr3t!", &[&secret, &empty]),
            "bad client secret [redacted]!"
        );
    }

    #[test]
    fn a_token_is_expired_from_its_expiry_on() {
        let expires_at = Utc::now();
        let token = AccessToken::new(SecretString::from("t"), expires_at);
        assert!(!token.is_expired_at(expires_at - chrono::Duration::seconds(1)));
        assert!(token.is_expired_at(expires_at));
    }
}
