//! The simulator's shared state: fixed configuration, one lock around everything that
//! changes (scenario, tokens, reports, subscriptions, buckets, statistics), the cache of
//! document digests, and the shutdown signal every background task listens to.
//!
//! One lock keeps every answer consistent (a status, its document and its notification
//! never disagree); it is never held across an `.await`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::ads::{AdsBook, Advertiser};
use crate::amc::AmcBook;
use crate::content::{DocumentDigest, DocumentKind, DocumentSpec};
use crate::data_kiosk::QueryBook;
use crate::delivery::SqsDelivery;
use crate::introspection::CallStats;
use crate::limits::Limiter;
use crate::lwa::TokenBook;
use crate::notifications::NotificationBook;
use crate::reports::ReportBook;
use crate::scenario::Scenario;
use crate::schedules::ScheduleBook;
use crate::{AppCredentials, SellerAuth};

/// The state handlers and tasks share.
pub(crate) type Shared = Arc<Simulator>;

/// An LWA application the simulator accepts, with the id notifications carry.
#[derive(Clone, Debug)]
pub(crate) struct RegisteredApp {
    pub client_id: String,
    pub client_secret: String,
    /// `amzn1.sellerapps.app.<uuid>`, derived from the client id so it is stable.
    pub application_id: String,
}

impl RegisteredApp {
    pub(crate) fn new(credentials: &AppCredentials) -> Self {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(credentials.client_id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        Self {
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            application_id: format!("amzn1.sellerapps.app.{uuid}"),
        }
    }
}

/// Everything that changes while the simulator runs.
pub(crate) struct World {
    pub scenario: Scenario,
    pub tokens: TokenBook,
    pub reports: ReportBook,
    pub queries: QueryBook,
    pub ads: AdsBook,
    pub amc: AmcBook,
    /// AMC first-party datasets and uploads.
    pub amc_uploads: crate::amc_upload::UploadBook,
    /// AMC executions refused for the instance's parallel or daily limit.
    pub amc_refused_over_limit: u64,
    pub schedules: ScheduleBook,
    pub notifications: NotificationBook,
    pub limiter: Limiter,
    pub calls: CallStats,
    /// Signature of each document URL → when it was issued.
    pub document_urls_issued: HashMap<String, Instant>,
}

/// The simulator.
pub(crate) struct Simulator {
    /// `http://127.0.0.1:PORT`: the SP-API host, the LWA host and the document host.
    pub base_url: String,
    pub apps: Vec<RegisteredApp>,
    pub sellers: Vec<SellerAuth>,
    /// Amazon Ads accounts.
    pub advertisers: Vec<Advertiser>,
    /// Seed of all generated content.
    pub seed: u64,
    /// Key of document URL signatures; random per simulator, so URLs cannot be forged.
    pub url_secret: [u8; 32],
    pub sqs: Option<SqsDelivery>,
    pub shutdown: CancellationToken,
    world: Mutex<World>,
    digests: Mutex<HashMap<String, Arc<OnceCell<DocumentDigest>>>>,
}

impl Simulator {
    pub(crate) fn new(
        base_url: String,
        apps: Vec<RegisteredApp>,
        sellers: Vec<SellerAuth>,
        advertisers: Vec<Advertiser>,
        seed: u64,
        scenario: Scenario,
        sqs: Option<SqsDelivery>,
    ) -> Self {
        Self {
            base_url,
            apps,
            sellers,
            advertisers,
            seed,
            url_secret: rand::random(),
            sqs,
            shutdown: CancellationToken::new(),
            world: Mutex::new(World {
                scenario,
                tokens: TokenBook::default(),
                reports: ReportBook::new(),
                queries: QueryBook::new(),
                ads: AdsBook::default(),
                amc: AmcBook::default(),
                amc_uploads: Default::default(),
                amc_refused_over_limit: 0,
                schedules: ScheduleBook::new(),
                notifications: NotificationBook::default(),
                limiter: Limiter::default(),
                calls: CallStats::default(),
                document_urls_issued: HashMap::new(),
            }),
            digests: Mutex::new(HashMap::new()),
        }
    }

    /// Locks the world. A panic while it was held cannot leave it half-updated in a way
    /// that matters to a simulator, so a poisoned lock is used as is.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The application registered under this client id.
    pub(crate) fn app(&self, client_id: &str) -> Option<&RegisteredApp> {
        self.apps.iter().find(|app| app.client_id == client_id)
    }

    /// Runs a background task that stops when the simulator shuts down.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// The digest of a report's document, generated once per report and cached.
    pub(crate) async fn digest(&self, report_id: &str) -> Option<DocumentDigest> {
        let spec = self.world().reports.document_spec(report_id, self.seed)?;
        self.digest_of(report_id.to_owned(), spec).await
    }

    /// The digest of a Data Kiosk query's document (data or error), cached likewise.
    pub(crate) async fn query_digest(&self, query_id: &str) -> Option<DocumentDigest> {
        let spec = self
            .world()
            .queries
            .get(query_id)?
            .document_spec(self.seed)?;
        self.digest_of(format!("query/{query_id}"), spec).await
    }

    /// The digest of an Amazon Ads report's file, cached likewise.
    pub(crate) async fn ads_digest(&self, report_id: &str) -> Option<DocumentDigest> {
        let spec = self.world().ads.get(report_id)?.document_spec(self.seed)?;
        self.digest_of(format!("ads/{report_id}"), spec).await
    }

    /// What file `part` of an AMC execution's result holds.
    pub(crate) async fn amc_digest(&self, execution_id: &str, part: u32) -> Option<DocumentDigest> {
        let spec = self
            .world()
            .amc
            .get(execution_id)?
            .document_spec(part, self.seed)?;
        self.digest_of(format!("amc/{execution_id}/{part}"), spec)
            .await
    }

    /// [`Shared::ads_digest`] of the rows one per line, as a client stores them.
    pub(crate) async fn ads_lines_digest(&self, report_id: &str) -> Option<DocumentDigest> {
        let mut spec = self.world().ads.get(report_id)?.document_spec(self.seed)?;
        if let DocumentKind::Ads(rows) = &mut spec.kind {
            rows.as_lines = true;
        }
        self.digest_of(format!("ads-lines/{report_id}"), spec).await
    }

    async fn digest_of(&self, key: String, spec: DocumentSpec) -> Option<DocumentDigest> {
        let cell = {
            let mut digests = self.digests.lock().unwrap_or_else(PoisonError::into_inner);
            digests.entry(key.clone()).or_default().clone()
        };
        let digest = cell
            .get_or_try_init(
                || async move { tokio::task::spawn_blocking(move || spec.digest()).await },
            )
            .await;
        match digest {
            Ok(digest) => Some(digest.clone()),
            Err(error) => {
                tracing::error!(key, %error, "digest computation failed");
                None
            }
        }
    }
}
