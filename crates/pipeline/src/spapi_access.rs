//! SP-API clients for the Lambdas that call Amazon with a sealed token.
//!
//! One HTTP client and one SP-API client per region live as long as the container, so the
//! connection pool and the rate limiter's buckets carry over between invocations; each
//! invocation gets a view of the region's client bound to its own (opened) access token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use domain::PlannedRequest;
use spapi::{Endpoints, SpApiClient};

use crate::config_store::ConfigStore;
use crate::failure::Failure;
use crate::sealed_token::{SealedToken, TokenSealer};

/// Builds request-scoped SP-API clients from config and sealed tokens.
#[derive(Debug)]
pub struct SpApiAccess {
    config: Arc<ConfigStore>,
    sealer: TokenSealer,
    http: reqwest::Client,
    clients: Mutex<HashMap<domain::Region, SpApiClient>>,
}

impl SpApiAccess {
    /// Access through `config` (for endpoints) and `sealer` (for tokens).
    pub fn new(config: Arc<ConfigStore>, sealer: TokenSealer) -> Result<Self, Failure> {
        let http = spapi::build_http_client(spapi::HttpTimeouts::default())?;
        Ok(SpApiAccess {
            config,
            sealer,
            http,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The stage's config.
    pub fn config_store(&self) -> &ConfigStore {
        &self.config
    }

    /// A client for `planned`'s region acting with the token sealed for its selling partner.
    pub async fn client_for(
        &self,
        planned: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<SpApiClient, Failure> {
        let access_token = self
            .sealer
            .open(token, &planned.request.selling_partner_id, Utc::now())
            .await?;
        let region_client = self.region_client(planned.region).await?;
        Ok(region_client.with_access_token(access_token))
    }

    async fn region_client(&self, region: domain::Region) -> Result<SpApiClient, Failure> {
        if let Some(client) = self.clients.lock().map_err(|_| poisoned())?.get(&region) {
            return Ok(client.clone());
        }
        let config = self.config.config().await?;
        let endpoints = config.regions.get(&region).ok_or_else(|| {
            Failure::config(format!("no regions/{region} parameter: add the endpoints of region {region} to the configuration"))
        })?;
        let endpoints = Endpoints::parse(&endpoints.spapi_endpoint, &endpoints.lwa_endpoint)?;
        let client = SpApiClient::builder(endpoints)
            .http_client(self.http.clone())
            .build()?;
        self.clients
            .lock()
            .map_err(|_| poisoned())?
            .insert(region, client.clone());
        Ok(client)
    }
}

fn poisoned() -> Failure {
    Failure::new(
        domain::ErrorName::UpstreamUnavailable,
        "an earlier invocation panicked while holding the client cache; the runtime will restart the container",
    )
}
