//! Subscribing an account's reports to the notification queue.
//!
//! Two steps with two kinds of token (api-facts.md §4.1): the destination (the queue) is
//! created once per region with the app's grantless token; the subscription to
//! `REPORT_PROCESSING_FINISHED` is created per selling partner with its refresh token.
//! Both are looked up first, so subscribing again changes nothing. Deployed, the queue
//! policy must also let Amazon's account 437568002678 send to it (§4.2).

use anyhow::Context as _;
use domain::Config;
use spapi::{
    CreateDestinationRequest, CreateSubscriptionOutcome, CreateSubscriptionRequest, Endpoints,
    LwaCredentials, SellerAuthorization, SpApiClient,
};

use crate::config_file::ConfigFile;

/// The notification type the pipeline listens to, and its payload version.
pub const REPORT_PROCESSING_FINISHED: (&str, &str) = ("REPORT_PROCESSING_FINISHED", "2020-09-04");

/// What was found or created for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The account.
    pub account: String,
    /// The destination id.
    pub destination_id: String,
    /// The subscription id.
    pub subscription_id: String,
}

/// Subscribes every account of `file` that has inline credentials to `queue_arn`.
pub async fn subscribe(
    file: &ConfigFile,
    config: &Config,
    queue_arn: &str,
) -> anyhow::Result<Vec<Subscribed>> {
    let mut out = Vec::new();
    for (name, entry) in &file.accounts {
        let Some(credentials) = &entry.credentials else {
            tracing::warn!(account = %name, "no inline credentials: subscribe this account with its secret deployed");
            continue;
        };
        let region = config
            .regions
            .get(&entry.region)
            .with_context(|| format!("no endpoints for region {}", entry.region))?;
        let client = SpApiClient::builder(Endpoints::parse(
            &region.spapi_endpoint,
            &region.lwa_endpoint,
        )?)
        .app_credentials(LwaCredentials::new(
            &credentials.client_id,
            &credentials.client_secret,
        ))
        .seller(SellerAuthorization::new(
            &entry.selling_partner_id,
            &credentials.refresh_token,
        ))
        .build()?;
        let existing = client
            .get_destinations()
            .await
            .context("listing notification destinations")?;
        let destination_id = match existing
            .iter()
            .find(|d| d.resource.sqs.as_ref().is_some_and(|s| s.arn == queue_arn))
        {
            Some(found) => found.destination_id.clone(),
            None => {
                client
                    .create_destination(&CreateDestinationRequest::sqs(
                        format!("sp-ingest-{}", config.stage),
                        queue_arn,
                    ))
                    .await
                    .context("creating the notification destination")?
                    .destination_id
            }
        };
        let (kind, version) = REPORT_PROCESSING_FINISHED;
        let request = CreateSubscriptionRequest {
            payload_version: version.to_owned(),
            destination_id: destination_id.clone(),
            processing_directive: None,
        };
        let subscription_id = match client
            .create_subscription(kind, &request)
            .await
            .context("creating the subscription")?
        {
            CreateSubscriptionOutcome::Created(subscription) => subscription.subscription_id,
            CreateSubscriptionOutcome::AlreadyExists { .. } => {
                client
                    .get_subscription(kind, Some(version))
                    .await?
                    .context("Amazon said the subscription exists but returned none")?
                    .subscription_id
            }
        };
        out.push(Subscribed {
            account: name.clone(),
            destination_id,
            subscription_id,
        });
    }
    Ok(out)
}
