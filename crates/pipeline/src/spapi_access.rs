//! SP-API and Amazon Ads clients for the Lambdas that call Amazon with a sealed token.
//!
//! One HTTP client, and one SP-API client per endpoint and selling partner, live as long
//! as the container, so the connection pool and the rate limiter's buckets carry over
//! between invocations; each invocation gets a view of that client bound to its own
//! (opened) access token. Amazon meters each (application, selling partner) with its own
//! buckets, so one seller's spent createReport burst never delays another's; deployed,
//! those buckets are shared by every Lambda through the metadata table
//! ([`SharedRateLimiter`]). The endpoint comes with the request (as the run's config said
//! when the run was planned), so a config pushed later is used by the next run, not by
//! half of this one, and never waits for the container to recycle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use domain::config::RegionEndpoints;
use domain::{ErrorName, PlannedRequest};
use spapi::ads::AdsClient;
use spapi::amc::AmcClient;
use spapi::{Endpoints, RetryPolicy, SpApiClient};

use crate::failure::Failure;
use crate::metadata::{MetadataTable, SharedRateLimiter};
use crate::sealed_token::{SealedToken, TokenSealer};

/// Who a cached client calls for: endpoints, application, selling partner.
type ClientKey = (RegionEndpoints, String, String);

/// Builds request-scoped SP-API clients from planned requests and sealed tokens.
#[derive(Debug)]
pub struct SpApiAccess {
    sealer: TokenSealer,
    http: reqwest::Client,
    clients: Mutex<HashMap<ClientKey, SpApiClient>>,
    shared_limits: Option<(MetadataTable, Duration)>,
}

/// The application a sealed token was issued to (its LWA client id): Amazon's buckets
/// are per application. Tokens sealed before the id travelled with them share one name.
pub fn application_of(token: &SealedToken) -> &str {
    token.client_id.as_deref().unwrap_or("app")
}

impl SpApiAccess {
    /// Access through `sealer` (for tokens).
    pub fn new(sealer: TokenSealer) -> Result<Self, Failure> {
        let http = spapi::build_http_client(spapi::HttpTimeouts::default())?;
        Ok(SpApiAccess {
            sealer,
            http,
            clients: Mutex::new(HashMap::new()),
            shared_limits: None,
        })
    }

    /// Rate limits kept in `table`, shared by every Lambda, instead of in this process;
    /// a token further than `longest_wait` away is left to the state machine to wait for.
    pub fn with_shared_limits(mut self, table: MetadataTable, longest_wait: Duration) -> Self {
        self.shared_limits = Some((table, longest_wait));
        self
    }

    /// A client for `planned`'s endpoints acting with the token sealed for its selling
    /// partner.
    pub async fn client_for(
        &self,
        planned: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<SpApiClient, Failure> {
        let access_token = self
            .sealer
            .open(token, &planned.request.selling_partner_id, Utc::now())
            .await?;
        let endpoint_client = self.endpoint_client(planned, application_of(token))?;
        Ok(endpoint_client.with_access_token(access_token))
    }

    /// An Amazon Ads client for `planned`'s profile, at its region's Ads host, acting
    /// with the token sealed for that profile (Authenticate adds the app's client id).
    pub async fn ads_client_for(
        &self,
        planned: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<AdsClient, Failure> {
        let access_token = self
            .sealer
            .open(token, &planned.request.selling_partner_id, Utc::now())
            .await?;
        let client_id = token.client_id.clone().ok_or_else(|| {
            Failure::new(
                ErrorName::Unauthorized,
                "the sealed token carries no client id; it was not issued for Amazon Ads",
            )
        })?;
        let host = planned.endpoints.ads_host(planned.region);
        // Plan validated the config; checked again because the access token goes there.
        if !domain::config::is_trusted_endpoint(host) {
            return Err(Failure::config(format!(
                "Amazon Ads endpoint `{host}` is not an Amazon host; fix regions/{} and push the config",
                planned.region
            )));
        }
        let host = host.parse().map_err(|e| {
            Failure::caused_by(
                ErrorName::ConfigInvalid,
                format!("regions/{}: ads_endpoint is not a URL", planned.region),
                e,
            )
        })?;
        Ok(AdsClient::with_access_token(
            self.http.clone(),
            client_id,
            access_token,
            host,
            RetryPolicy::default(),
        ))
    }

    /// An Amazon Marketing Cloud client for `planned`'s instance (its AMC account and
    /// marketplace), through [`SpApiAccess::ads_client_for`].
    pub async fn amc_client_for(
        &self,
        planned: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<AmcClient, Failure> {
        let request = &planned.request;
        let amc = request.amc.as_ref().ok_or_else(|| {
            Failure::config(format!(
                "report {} is not an AMC execution; push a config whose amc-workflows reports name an instance",
                planned.report
            ))
        })?;
        let ads = self.ads_client_for(planned, token).await?;
        let marketplace = request
            .sorted_marketplaces()
            .first()
            .map(|m| (*m).to_owned())
            .unwrap_or_default();
        Ok(AmcClient::new(ads, &amc.advertiser_id, &marketplace))
    }

    fn endpoint_client(&self, planned: &PlannedRequest, app: &str) -> Result<SpApiClient, Failure> {
        let endpoints = &planned.endpoints;
        let selling_partner = &planned.request.selling_partner_id;
        let key = (endpoints.clone(), app.to_owned(), selling_partner.clone());
        if let Some(client) = self.clients.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(client.clone());
        }
        // Plan validated the config; checked again because the access token goes there.
        if !domain::config::is_trusted_endpoint(&endpoints.spapi_endpoint) {
            return Err(Failure::config(format!(
                "SP-API endpoint `{}` is not an Amazon host; fix regions/{} and push the config",
                endpoints.spapi_endpoint, planned.region
            )));
        }
        let parsed = Endpoints::parse(&endpoints.spapi_endpoint, &endpoints.lwa_endpoint)?;
        let mut builder = SpApiClient::builder(parsed).http_client(self.http.clone());
        if let Some((table, longest_wait)) = &self.shared_limits {
            builder = builder.rate_limiter(Arc::new(SharedRateLimiter::new(
                table.clone(),
                (app, selling_partner, planned.region),
                *longest_wait,
            )));
        }
        let client = builder.build()?;
        self.clients
            .lock()
            .map_err(|_| poisoned())?
            .insert(key, client.clone());
        Ok(client)
    }
}
fn poisoned() -> Failure {
    Failure::new(
        domain::ErrorName::UpstreamUnavailable,
        "an earlier invocation panicked while holding the client cache; the runtime will restart the container",
    )
}
