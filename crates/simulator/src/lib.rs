//! An Amazon Selling Partner API and Login with Amazon simulator, for the demo and the
//! tests: the same paths, methods, JSON shapes, status codes, error bodies and headers as
//! Amazon (from the official models), so an SP-API client cannot tell it apart except by
//! host name; plus a scenario of faults (throttling, slow, FATAL or cancelled reports,
//! expiring tokens and URLs, truncated downloads, duplicate, lost and unsolicited
//! notifications) and introspection to check what a client did.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = simulator::start(simulator::SimConfig::default()).await?;
//! println!("SP-API at {}, LWA at {}", sim.base_url(), sim.lwa_token_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod ads;
mod amc;
mod amc_upload;
mod api_error;
mod content;
mod data_kiosk;
mod delivery;
mod documents;
mod gateway;
mod introspection;
mod limits;
mod lwa;
mod marketplaces;
mod notifications;
mod query;
mod reports;
pub mod scenario;
mod schedules;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::task::JoinHandle;

pub use ads::{
    ADS_CREATE_REPORT, ADS_GET_PROFILES, ADS_GET_REPORT, AdsOutcome, AdsProfile, AdsRule,
    AdsStatus, Advertiser,
};
pub use amc::{
    AMC_CREATE_EXECUTION, AMC_DOWNLOAD_URLS, AMC_GET_EXECUTION, AmcAccount, AmcInstanceInfo,
    AmcOutcome, AmcRule, AmcStatus,
};
pub use content::{DocumentDigest, report_chunks, report_text, typical_options};
pub use data_kiosk::query_document;
pub use domain::ProcessingStatus;
pub use introspection::{
    CallStats, DeliveryOutcome, NotificationDelivery, OperationCalls, QueryInfo, ReportInfo,
};
pub use scenario::{
    Charset, NotificationCasing, Outcome, QueryRule, RateLimit, ReportRule, Scenario, ScenarioError,
};

use crate::api_error::ApiError;
use crate::state::{RegisteredApp, Shared, Simulator};

/// LWA client id of the default application.
pub const DEFAULT_CLIENT_ID: &str = "amzn1.application-oa2-client.simulator";
/// LWA client secret of the default application.
pub const DEFAULT_CLIENT_SECRET: &str = "simulator-client-secret";
/// Refresh token of the default seller.
pub const DEFAULT_REFRESH_TOKEN: &str = "Atzr|simulator-refresh-token";
/// Selling partner id of the default seller.
pub const DEFAULT_SELLING_PARTNER_ID: &str = "A1SIMULATEDSELLER";
/// Refresh token of the default Amazon Ads account.
pub const DEFAULT_ADS_REFRESH_TOKEN: &str = "Atzr|simulator-ads-refresh-token";
/// Profile id of the default Ads account's US profile.
pub const DEFAULT_ADS_PROFILE_ID: u64 = 3_211_012_118_364_113;
/// The default Ads account's AMC account (`Amazon-Advertising-API-AdvertiserId`).
pub const DEFAULT_AMC_ACCOUNT_ID: &str = "ENTITY1SIMULATED01";
/// The instance of the default AMC account.
pub const DEFAULT_AMC_INSTANCE_ID: &str = "amcsimulated01";

/// How long shutdown waits for open connections before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Credentials of an LWA application the simulator accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppCredentials {
    /// LWA client id.
    pub client_id: String,
    /// LWA client secret.
    pub client_secret: String,
}

/// A seller authorisation: its refresh token and the selling partner it acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellerAuth {
    /// The LWA refresh token.
    pub refresh_token: String,
    /// The selling partner id; notifications carry `amzn1.merchant.o.<id>` as accountId.
    pub selling_partner_id: String,
}

/// Where notifications go: an SQS endpoint (e.g. a local moto server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqsTarget {
    /// Endpoint URL; `None` uses the SDK's default resolution (real AWS, `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// AWS region of the SQS client.
    pub region: String,
}

/// How to run a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on; must be on 127.0.0.1 (port 0 = any free port).
    pub bind: SocketAddr,
    /// LWA applications accepted.
    pub apps: Vec<AppCredentials>,
    /// Seller authorisations accepted.
    pub sellers: Vec<SellerAuth>,
    /// Amazon Ads accounts (refresh token and profiles) accepted.
    pub advertisers: Vec<Advertiser>,
    /// Clock and faults; replaceable at run time.
    pub scenario: Scenario,
    /// Where notifications are sent; `None` = recorded only.
    pub sqs: Option<SqsTarget>,
    /// Seed of all generated document content.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            apps: vec![AppCredentials {
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            }],
            sellers: vec![SellerAuth {
                refresh_token: DEFAULT_REFRESH_TOKEN.to_owned(),
                selling_partner_id: DEFAULT_SELLING_PARTNER_ID.to_owned(),
            }],
            advertisers: vec![Advertiser {
                refresh_token: DEFAULT_ADS_REFRESH_TOKEN.to_owned(),
                profiles: vec![AdsProfile {
                    profile_id: DEFAULT_ADS_PROFILE_ID,
                    country_code: "US".to_owned(),
                    currency_code: "USD".to_owned(),
                    timezone: "America/Los_Angeles".to_owned(),
                    marketplace_id: "ATVPDKIKX0DER".to_owned(),
                    account_id: DEFAULT_SELLING_PARTNER_ID.to_owned(),
                    account_type: "seller".to_owned(),
                    account_name: "Simulated Seller".to_owned(),
                }],
                amc_accounts: vec![AmcAccount {
                    account_id: DEFAULT_AMC_ACCOUNT_ID.to_owned(),
                    account_name: "Simulated AMC Account".to_owned(),
                    marketplace_id: "ATVPDKIKX0DER".to_owned(),
                    instances: vec![AmcInstanceInfo {
                        instance_id: DEFAULT_AMC_INSTANCE_ID.to_owned(),
                        instance_name: "simulated".to_owned(),
                        instance_type: "STANDARD".to_owned(),
                    }],
                }],
            }],
            scenario: Scenario::default(),
            sqs: None,
            seed: 0,
        }
    }
}

/// A simulator serving on its port; stops on [`RunningSimulator::shutdown`] or drop.
pub struct RunningSimulator {
    sim: Shared,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

/// Starts a simulator: binds, then serves in a background task.
pub async fn start(config: SimConfig) -> anyhow::Result<RunningSimulator> {
    if config.bind.ip() != Ipv4Addr::LOCALHOST {
        bail!(
            "the simulator only listens on 127.0.0.1, not {}",
            config.bind.ip()
        );
    }
    config.scenario.validate().context("invalid scenario")?;
    if config.apps.is_empty() || config.sellers.is_empty() {
        bail!("the simulator needs at least one LWA application and one seller");
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding the simulator to {}", config.bind))?;
    let addr = listener
        .local_addr()
        .context("reading the simulator's bound address")?;
    let sqs = match &config.sqs {
        Some(target) => Some(delivery::SqsDelivery::connect(target).await),
        None => None,
    };
    let apps = config.apps.iter().map(RegisteredApp::new).collect();
    let sim = Arc::new(Simulator::new(
        format!("http://{addr}"),
        apps,
        config.sellers.clone(),
        config.advertisers.clone(),
        config.seed,
        config.scenario,
        sqs,
    ));
    {
        let sellers: Vec<String> = config
            .sellers
            .iter()
            .map(|seller| seller.selling_partner_id.clone())
            .collect();
        reports::file_settlement_reports(&mut sim.world(), &sellers, config.seed);
    }

    let router = router(sim.clone());
    let shutdown = sim.shutdown.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "simulator server stopped with an error");
        }
    });
    tracing::info!(%addr, "simulator listening");
    Ok(RunningSimulator {
        sim,
        addr,
        server: Some(server),
    })
}

fn router(sim: Shared) -> Router {
    Router::new()
        .route("/auth/o2/token", post(lwa::token_endpoint))
        .merge(reports::routes())
        .merge(data_kiosk::routes())
        .merge(ads::routes())
        .merge(amc::routes())
        .merge(amc_upload::routes())
        .merge(schedules::routes())
        .merge(documents::routes())
        .merge(notifications::routes())
        .merge(introspection::routes())
        .fallback(unknown_resource)
        .with_state(sim)
}

/// Paths no operation serves.
async fn unknown_resource() -> Response {
    let mut response = ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NotFound",
        message: "The requested resource was not found.".to_owned(),
        details: None,
    }
    .into_response();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
    response
}

impl RunningSimulator {
    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the SP-API host.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    /// The LWA token endpoint: `base_url + "/auth/o2/token"`.
    pub fn lwa_token_url(&self) -> String {
        format!("{}/auth/o2/token", self.sim.base_url)
    }

    /// Replaces the scenario (reports already created keep their plans; buckets refill).
    pub fn set_scenario(&self, scenario: Scenario) {
        if let Err(error) = scenario.validate() {
            tracing::warn!(%error, "scenario has names the simulator does not know; they are ignored");
        }
        self.sim.replace_scenario(scenario);
    }

    /// The scenario now, with `throttle_next` counted down.
    pub fn scenario(&self) -> Scenario {
        self.sim.world().scenario.clone()
    }

    /// Makes every access token issued so far expired.
    pub fn expire_tokens(&self) {
        self.sim.expire_tokens();
    }

    /// One report.
    pub fn report(&self, report_id: &str) -> Option<ReportInfo> {
        self.sim.report_info(report_id)
    }

    /// Every report, of every seller, including Amazon-made ones (settlements, schedules).
    pub fn reports(&self) -> Vec<ReportInfo> {
        self.sim.report_infos()
    }

    /// What a client should store for the report's document (DONE: the data, FATAL: the
    /// error document); `None` for cancelled or unknown reports.
    pub async fn expected_document(&self, report_id: &str) -> Option<DocumentDigest> {
        self.sim.digest(report_id).await
    }

    /// Every Data Kiosk query (each page of results is one), of every seller.
    pub fn queries(&self) -> Vec<QueryInfo> {
        self.sim.query_infos()
    }

    /// What a client should store for the query's document (DONE: the JSON Lines page,
    /// FATAL: the error document); `None` when it has none.
    pub async fn expected_query_document(&self, query_id: &str) -> Option<DocumentDigest> {
        self.sim.query_digest(query_id).await
    }

    /// Every Amazon Ads report: `(report id, profile id, status now, downloads served)`.
    pub fn ads_reports(&self) -> Vec<(String, u64, AdsStatus, u64)> {
        let now = std::time::Instant::now();
        self.sim
            .world()
            .ads
            .all()
            .map(|r| {
                (
                    r.report_id.clone(),
                    r.profile_id,
                    r.status_at(now),
                    r.downloads_served,
                )
            })
            .collect()
    }

    /// What a client should hold after gunzipping an Ads report's file.
    pub async fn expected_ads_document(&self, report_id: &str) -> Option<DocumentDigest> {
        self.sim.ads_digest(report_id).await
    }

    /// What a client should store for an Ads report's file as JSON Lines: its rows, one
    /// per line, byte for byte as served.
    pub async fn expected_ads_lines(&self, report_id: &str) -> Option<DocumentDigest> {
        self.sim.ads_lines_digest(report_id).await
    }

    /// Every AMC workflow execution: `(execution id, instance, workflow, status now)`.
    pub fn amc_executions(&self) -> Vec<(String, String, String, AmcStatus)> {
        self.sim.world().amc.summary()
    }

    /// Every body the AMC data upload API received and every file it read, as received.
    pub fn amc_upload_received(&self) -> Vec<String> {
        self.sim.world().amc_uploads.received.clone()
    }

    /// AMC executions refused because the instance was at its parallel or daily limit.
    pub fn amc_refused_over_limit(&self) -> u64 {
        self.sim.world().amc_refused_over_limit
    }

    /// What a client should store for file `part` of an AMC execution's result.
    pub async fn expected_amc_file(&self, execution_id: &str, part: u32) -> Option<DocumentDigest> {
        self.sim.amc_digest(execution_id, part).await
    }

    /// Calls per operation.
    pub fn calls(&self) -> CallStats {
        self.sim.world().calls.clone()
    }

    /// Bodies of every notification delivered (or recorded, without SQS), in order.
    pub fn notifications_sent(&self) -> Vec<serde_json::Value> {
        let world = self.sim.world();
        world
            .notifications
            .deliveries
            .iter()
            .filter(|d| d.was_sent())
            .map(|d| d.body.clone())
            .collect()
    }

    /// Every notification with its destination and outcome, failed ones included.
    pub fn notification_deliveries(&self) -> Vec<NotificationDelivery> {
        self.sim.world().notifications.deliveries.clone()
    }

    /// Stops serving and every background task.
    pub async fn shutdown(mut self) {
        self.sim.shutdown.cancel();
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; dropping them");
            server.abort();
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.sim.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
