//! `sp-ingest ads profiles`: the profiles an Amazon Ads account reaches in its region,
//! so a user can name them in `ads_accounts/<name>.profiles` (api-facts §6: one profile
//! per advertiser and marketplace; its id goes into `Amazon-Advertising-API-Scope`).

use anyhow::Context as _;
use domain::Region;
use domain::config::{AdsProfileRef, RegionEndpoints};
use spapi::ads::{AdsClient, AdsProfile};
use spapi::{LwaClient, LwaCredentials, RetryPolicy};

use crate::config_file::Credentials;

/// The profiles `credentials` reach at the Ads host of `region` (as `endpoints` say).
pub async fn profiles(
    region: Region,
    endpoints: &RegionEndpoints,
    credentials: &Credentials,
) -> anyhow::Result<Vec<AdsProfile>> {
    client(region, endpoints, credentials)?
        .profiles()
        .await
        .with_context(|| format!("listing the Ads profiles at {}", endpoints.ads_host(region)))
}

/// An Ads client with `credentials` at the Ads host of `region` (as `endpoints` say),
/// refreshing its own tokens.
pub fn client(
    region: Region,
    endpoints: &RegionEndpoints,
    credentials: &Credentials,
) -> anyhow::Result<AdsClient> {
    let http = spapi::build_http_client(Default::default())?;
    let lwa_url = endpoints
        .ads_lwa()
        .parse()
        .with_context(|| format!("regions/{region}: ads_lwa_endpoint is not a URL"))?;
    let host = endpoints
        .ads_host(region)
        .parse()
        .with_context(|| format!("regions/{region}: ads_endpoint is not a URL"))?;
    let lwa = LwaClient::new(
        http.clone(),
        lwa_url,
        LwaCredentials::new(&credentials.client_id, &credentials.client_secret),
    );
    Ok(AdsClient::new(
        http,
        lwa,
        credentials.refresh_token.clone().into(),
        host,
        RetryPolicy::default(),
    ))
}

/// A table of the profiles, then the `profiles` entry to paste into the config.
pub fn table(profiles: &[AdsProfile]) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:<9} {:<24} {:<16} {:<8} {}\n",
        "profile id", "country", "currency", "timezone", "marketplace", "type", "account"
    );
    for p in profiles {
        out.push_str(&format!(
            "{:<20} {:<8} {:<9} {:<24} {:<16} {:<8} {} ({})\n",
            p.profile_id,
            p.country_code,
            p.currency_code,
            p.timezone,
            p.account_info.marketplace_string_id,
            p.account_info.kind,
            p.account_info.name.as_deref().unwrap_or("-"),
            p.account_info.id
        ));
    }
    let refs: Vec<AdsProfileRef> = profiles
        .iter()
        .map(|p| AdsProfileRef {
            profile_id: p.profile_id,
            marketplace: p.account_info.marketplace_string_id.clone(),
        })
        .collect();
    out.push_str(&format!(
        "\nfor ads_accounts/<name>.profiles (keep the ones to ingest):\n{}\n",
        serde_json::to_string(&refs).unwrap_or_default()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_profiles_of_an_ads_account_are_listed_with_what_config_needs() {
        let sim = simulator::start(simulator::SimConfig::default())
            .await
            .unwrap();
        let endpoints = RegionEndpoints {
            spapi_endpoint: sim.base_url(),
            lwa_endpoint: sim.lwa_token_url(),
            aws_region: "us-east-1".into(),
            ads_endpoint: Some(sim.base_url()),
            ads_lwa_endpoint: None,
        };
        let credentials = Credentials {
            client_id: simulator::DEFAULT_CLIENT_ID.into(),
            client_secret: simulator::DEFAULT_CLIENT_SECRET.into(),
            refresh_token: simulator::DEFAULT_ADS_REFRESH_TOKEN.into(),
        };
        let found = profiles(Region::Na, &endpoints, &credentials)
            .await
            .unwrap();
        let text = table(&found);
        assert!(
            text.contains(&format!(
                r#"[{{"profile_id":{},"marketplace":"ATVPDKIKX0DER"}}]"#,
                simulator::DEFAULT_ADS_PROFILE_ID
            )),
            "{text}"
        );
        let seller = Credentials {
            refresh_token: simulator::DEFAULT_REFRESH_TOKEN.into(),
            ..credentials
        };
        let refused = profiles(Region::Na, &endpoints, &seller).await.unwrap_err();
        assert!(
            format!("{refused:#}").contains("not an Amazon Ads token"),
            "a seller's refresh token is no Ads token: {refused:#}"
        );
        sim.shutdown().await;
    }
}
