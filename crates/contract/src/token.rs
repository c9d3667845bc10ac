//! An access token as it travels between steps: encrypted with KMS by `auth`, opened only
//! by the functions that call Amazon (design.md "Tokens never in plain text").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An access token encrypted with KMS, as it travels through the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedToken {
    /// KMS ciphertext, base64.
    pub ciphertext: String,
    /// When the token inside expires.
    pub expires_at: DateTime<Utc>,
    /// The LWA app's client id: every Amazon Ads call names the app
    /// (`Amazon-Advertising-API-ClientId`), and SP-API rate limits are per application.
    /// An identifier, not a secret; `None` in tokens sealed before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}
