//! Authenticate: turns an account's LWA credentials into an access token sealed with KMS.
//!
//! An Amazon Ads account's secret has the same three fields; its token is sealed for the
//! request's advertising profile and carries the app's client id.
//!
//! The refresh token, client id and client secret stay in Secrets Manager and in this
//! function's memory; what leaves is the token encrypted for the selling partner
//! (design.md "Tokens never in plain text"). Nothing secret is logged: the credential
//! types redact themselves, and errors name fields, never values.

use contract::{AuthInput, AuthenticateInput, AuthenticateOutput};
use domain::ErrorName;
use lambda_runtime::LambdaEvent;
use pipeline::{Failure, TokenSealer, aws_failure};
use serde::Deserialize;
use spapi::{LwaClient, LwaCredentials, SellerAuthorization};

/// The secret an operator stores per account: a JSON object with these three fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LwaSecret {
    client_id: String,
    client_secret: String,
    refresh_token: String,
}

impl std::fmt::Debug for LwaSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret's values never reach a log line, even through a stray `{:?}`.
        f.debug_struct("LwaSecret")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The function and the clients it keeps between invocations.
pub struct Auth {
    secrets: aws_sdk_secretsmanager::Client,
    sealer: TokenSealer,
    http: reqwest::Client,
}

impl Auth {
    /// The function with its clients.
    pub fn new(
        secrets: aws_sdk_secretsmanager::Client,
        sealer: TokenSealer,
    ) -> Result<Self, Failure> {
        let http = spapi::build_http_client(spapi::HttpTimeouts::default())?;
        Ok(Auth {
            secrets,
            sealer,
            http,
        })
    }

    /// Fetches a fresh access token for the input's account and seals it.
    pub async fn handle(
        &self,
        event: LambdaEvent<AuthInput>,
    ) -> Result<AuthenticateOutput, Failure> {
        let AuthInput::Authenticate(AuthenticateInput { item }) = event.payload;
        // Amazon Ads refresh tokens may have a token host of their own.
        let lwa_endpoint = if item.request.uses_ads_token() {
            item.endpoints.ads_lwa()
        } else {
            &item.endpoints.lwa_endpoint
        };
        // The item comes from Plan, which validated the config; checked again because
        // this is where the client secret is sent.
        if !domain::config::is_trusted_endpoint(lwa_endpoint) {
            return Err(Failure::config(format!(
                "LWA endpoint `{lwa_endpoint}` of account `{}` is not an Amazon host; fix regions/{} and push the config",
                item.request.account, item.region
            )));
        }
        let token_url = url::Url::parse(lwa_endpoint).map_err(|e| {
            Failure::caused_by(
                ErrorName::ConfigInvalid,
                format!("regions/{} lwa_endpoint is not a URL", item.region),
                e,
            )
        })?;
        let secret = self.read_secret(&item.secret_arn).await?;
        let selling_partner_id = &item.request.selling_partner_id;
        let client_id = secret.client_id.clone();
        let lwa = LwaClient::new(
            self.http.clone(),
            token_url,
            LwaCredentials::new(secret.client_id, secret.client_secret),
        );
        let token = lwa
            .refresh_token_grant(&SellerAuthorization::new(
                selling_partner_id,
                secret.refresh_token,
            ))
            .await?;
        let mut sealed = self.sealer.seal(&token, selling_partner_id).await?;
        // The client id travels with the token (the secret's other values stay here):
        // Amazon Ads wants the app named in every call, and Amazon meters SP-API calls per
        // application, so the shared rate limits are keyed by it.
        sealed.client_id = Some(client_id);
        tracing::info!(account = %item.request.account, config_version = %item.config_version, expires_at = %sealed.expires_at, "access token sealed");
        Ok(AuthenticateOutput { token: sealed })
    }

    async fn read_secret(&self, arn: &str) -> Result<LwaSecret, Failure> {
        let output = self
            .secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                    Failure::caused_by(ErrorName::ConfigInvalid, format!("secret {arn} does not exist: create it with client_id, client_secret and refresh_token"), e)
                } else {
                    aws_failure(&format!("reading secret {arn}"), e)
                }
            })?;
        let text = output.secret_string().ok_or_else(|| {
            Failure::config(format!("secret {arn} has no string value; store JSON with client_id, client_secret and refresh_token"))
        })?;
        parse_secret(arn, text)
    }
}

fn parse_secret(arn: &str, text: &str) -> Result<LwaSecret, Failure> {
    // serde's message names the field, never the value; keep only that part.
    serde_json::from_str(text).map_err(|e| {
        let problem = e.to_string();
        let problem = problem
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        Failure::config(format!(
            "secret {arn} must be JSON with client_id, client_secret and refresh_token: {problem}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_with_all_fields_parses() {
        let secret = parse_secret(
            "arn:x",
            r#"{"client_id":"id","client_secret":"s3cr3t","refresh_token":"Atzr|r"}"#,
        )
        .unwrap();
        assert_eq!(secret.client_id, "id");
    }

    #[test]
    fn secret_debug_output_redacts_the_secret_values() {
        let secret = parse_secret(
            "arn:x",
            r#"{"client_id":"id","client_secret":"s3cr3t","refresh_token":"Atzr|r"}"#,
        )
        .unwrap();
        let text = format!("{secret:?}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("Atzr|r"),
            "{text}"
        );
    }

    #[test]
    fn secret_problems_name_the_field_and_never_the_values() {
        let err = parse_secret(
            "arn:x",
            r#"{"client_id":"id","client_secret":"s3cr3t-value"}"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("missing field `refresh_token`"), "{text}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        let err = parse_secret("arn:x", r#"{"client_id":"id","client_secret":"s3cr3t-value","refresh_token":"Atzr|x","extra":"leak-me"}"#).unwrap_err();
        assert!(!err.to_string().contains("leak-me"), "{err}");
        let err = parse_secret("arn:x", "Atzr|plain-token-value").unwrap_err();
        assert!(!err.to_string().contains("plain-token-value"), "{err}");
        assert_eq!(err.name(), ErrorName::ConfigInvalid);
    }
}
