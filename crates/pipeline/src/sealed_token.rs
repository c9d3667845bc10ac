//! Access tokens sealed with KMS, so Step Functions history and logs never hold one.
//!
//! The `auth` Lambda seals the LWA access token with the stack's KMS key and an
//! encryption context of the selling partner and the purpose; the functions that call
//! SP-API open it. KMS refuses to open a token under another context, so a token passed
//! with the wrong account's request cannot be used (design.md "Tokens never in plain
//! text").

use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use domain::ErrorName;
use secrecy::{ExposeSecret, SecretString};
use spapi::AccessToken;

pub use contract::SealedToken;

use crate::failure::{Failure, aws_failure};

/// The `purpose` in the encryption context of sealed SP-API access tokens.
pub const PURPOSE: &str = "sp-api-access-token";

/// Seals and opens access tokens with one KMS key.
#[derive(Debug, Clone)]
pub struct TokenSealer {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl TokenSealer {
    /// A sealer using `key_id` (id, ARN or alias).
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        TokenSealer {
            kms,
            key_id: key_id.into(),
        }
    }

    /// Encrypts `token` for `selling_partner_id`.
    pub async fn seal(
        &self,
        token: &AccessToken,
        selling_partner_id: &str,
    ) -> Result<SealedToken, Failure> {
        let output = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(token.secret().expose_secret().as_bytes()))
            .encryption_context("sellingPartnerId", selling_partner_id)
            .encryption_context("purpose", PURPOSE)
            .send()
            .await
            .map_err(|e| aws_failure("sealing the access token with KMS", e))?;
        let ciphertext = output.ciphertext_blob().ok_or_else(|| {
            Failure::new(
                ErrorName::UpstreamUnavailable,
                "KMS Encrypt returned no ciphertext",
            )
        })?;
        Ok(SealedToken {
            ciphertext: BASE64.encode(ciphertext.as_ref()),
            expires_at: token.expires_at(),
            client_id: None,
        })
    }

    /// Decrypts a token sealed for `selling_partner_id`; an expired one is `TokenExpired`,
    /// so the state machine authenticates again.
    pub async fn open(
        &self,
        sealed: &SealedToken,
        selling_partner_id: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, Failure> {
        if sealed.expires_at <= now {
            return Err(Failure::new(
                ErrorName::TokenExpired,
                format!(
                    "the access token for {selling_partner_id} expired at {}; authenticate again",
                    sealed.expires_at
                ),
            ));
        }
        let ciphertext = BASE64.decode(&sealed.ciphertext).map_err(|e| {
            Failure::caused_by(
                ErrorName::Unauthorized,
                "the sealed token is not base64; it was not made by the auth function",
                e,
            )
        })?;
        let output = self
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_context("sellingPartnerId", selling_partner_id)
            .encryption_context("purpose", PURPOSE)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_invalid_ciphertext_exception()) {
                    Failure::caused_by(
                        ErrorName::Unauthorized,
                        format!("the sealed token was not issued for {selling_partner_id}; KMS refused to open it"),
                        e,
                    )
                } else {
                    aws_failure("opening the access token with KMS", e)
                }
            })?;
        let plaintext = output.plaintext().ok_or_else(|| {
            Failure::new(
                ErrorName::UpstreamUnavailable,
                "KMS Decrypt returned no plaintext",
            )
        })?;
        let token = String::from_utf8(plaintext.as_ref().to_vec()).map_err(|e| {
            Failure::caused_by(ErrorName::Unauthorized, "the sealed token is not text", e)
        })?;
        Ok(AccessToken::new(
            SecretString::from(token),
            sealed.expires_at,
        ))
    }
}
