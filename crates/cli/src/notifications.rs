//! SP-API notifications of a stage's accounts: subscribe, status, unsubscribe.
//!
//! Two steps with two kinds of token (api-facts.md §4.1): the destination (the stage's
//! queue) exists once per application and region and is managed with the app's grantless
//! token; the subscriptions to `REPORT_PROCESSING_FINISHED` and
//! `DATA_KIOSK_QUERY_PROCESSING_FINISHED` exist once per application and selling partner
//! and are created with the seller's refresh token. Everything is
//! looked up first, so running a command twice changes nothing the second time. The
//! credentials come from each account's secret, as the pipeline reads them; deployed, the
//! queue policy must also let Amazon's account 437568002678 send to it (§4.2).

use std::collections::BTreeSet;

use anyhow::Context as _;
use domain::Config;
use spapi::{
    CreateDestinationRequest, CreateSubscriptionOutcome, CreateSubscriptionRequest,
    DATA_KIOSK_QUERY_PROCESSING_FINISHED, DATA_KIOSK_QUERY_PROCESSING_FINISHED_PAYLOAD_VERSION,
    Endpoints, LwaCredentials, REPORT_PROCESSING_FINISHED,
    REPORT_PROCESSING_FINISHED_PAYLOAD_VERSION, SellerAuthorization, SpApiClient,
};

/// The notification types each account is subscribed to, with their payload versions;
/// the first (reports) is the one `status` reports.
const SUBSCRIBED: [(&str, &str); 2] = [
    (
        REPORT_PROCESSING_FINISHED,
        REPORT_PROCESSING_FINISHED_PAYLOAD_VERSION,
    ),
    (
        DATA_KIOSK_QUERY_PROCESSING_FINISHED,
        DATA_KIOSK_QUERY_PROCESSING_FINISHED_PAYLOAD_VERSION,
    ),
];

use crate::config_file::Credentials;

/// Where an account's report notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// To the stage's queue.
    Subscribed {
        /// The destination (the stage's queue).
        destination_id: String,
        /// The subscription.
        subscription_id: String,
    },
    /// To another destination of the same application (another stage, or another tool):
    /// Amazon keeps one subscription per application and seller, so this stage gets none.
    Elsewhere {
        /// The other destination.
        destination_id: String,
        /// The subscription.
        subscription_id: String,
    },
    /// Nowhere: the pipeline polls for this account's reports.
    NotSubscribed,
}

impl std::fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubscriptionState::Subscribed {
                destination_id,
                subscription_id,
            } => write!(
                f,
                "subscribed (subscription {subscription_id}, destination {destination_id})"
            ),
            SubscriptionState::Elsewhere {
                destination_id,
                subscription_id,
            } => write!(
                f,
                "subscribed to another destination {destination_id} (subscription {subscription_id}): this stage polls"
            ),
            SubscriptionState::NotSubscribed => write!(f, "not subscribed: this stage polls"),
        }
    }
}

/// One account of a stage, with the SP-API client its secret's credentials make.
pub struct AccountNotifications {
    /// The account's name in the config.
    pub account: String,
    /// The application and region, which own the destination.
    app: (String, String),
    client: SpApiClient,
}

/// The accounts of `config` named in `only` (every account when empty), each with its
/// credentials read from its secret.
pub async fn accounts(
    secrets: &aws_sdk_secretsmanager::Client,
    config: &Config,
    only: &[String],
) -> anyhow::Result<Vec<AccountNotifications>> {
    if let Some(unknown) = only.iter().find(|n| !config.accounts.contains_key(*n)) {
        anyhow::bail!(
            "stage `{}` has no account `{unknown}`; its accounts: {:?}",
            config.stage,
            config.accounts.keys().collect::<Vec<_>>()
        );
    }
    let mut out = Vec::new();
    for (name, account) in &config.accounts {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        let arn = &account.secret_arn;
        let secret = secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "reading the credentials of account `{name}` from {arn} ({}): store them with `sp-ingest credentials set {name} --stage {}`",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                    config.stage
                )
            })?;
        let credentials = Credentials::parse(secret.secret_string().unwrap_or_default())
            .with_context(|| format!("the secret of account `{name}` ({arn})"))?;
        let region = config.regions.get(&account.region).with_context(|| {
            format!(
                "account `{name}` is in region {}, which the config has no endpoints for",
                account.region
            )
        })?;
        let client = SpApiClient::builder(Endpoints::parse(
            &region.spapi_endpoint,
            &region.lwa_endpoint,
        )?)
        .app_credentials(LwaCredentials::new(
            &credentials.client_id,
            &credentials.client_secret,
        ))
        .seller(SellerAuthorization::new(
            &account.selling_partner_id,
            &credentials.refresh_token,
        ))
        .build()?;
        out.push(AccountNotifications {
            account: name.clone(),
            app: (credentials.client_id, region.spapi_endpoint.clone()),
            client,
        });
    }
    Ok(out)
}

impl AccountNotifications {
    /// The app's destination delivering to `queue_arn`, if it has one.
    async fn destination(&self, queue_arn: &str) -> anyhow::Result<Option<String>> {
        let destinations = self
            .client
            .get_destinations()
            .await
            .context("listing notification destinations")?;
        Ok(destinations
            .into_iter()
            .find(|d| d.resource.sqs.as_ref().is_some_and(|s| s.arn == queue_arn))
            .map(|d| d.destination_id))
    }

    /// Where the account's report notifications go now.
    pub async fn status(&self, queue_arn: &str) -> anyhow::Result<SubscriptionState> {
        self.status_of(queue_arn, SUBSCRIBED[0]).await
    }

    /// Where the account's notifications of one type go now.
    async fn status_of(
        &self,
        queue_arn: &str,
        (notification_type, payload_version): (&str, &str),
    ) -> anyhow::Result<SubscriptionState> {
        let ours = self.destination(queue_arn).await?;
        let subscription = self
            .client
            .get_subscription(notification_type, Some(payload_version))
            .await
            .with_context(|| format!("reading the {notification_type} subscription"))?;
        Ok(match subscription {
            None => SubscriptionState::NotSubscribed,
            Some(s) if ours.as_deref() == Some(s.destination_id.as_str()) => {
                SubscriptionState::Subscribed {
                    destination_id: s.destination_id,
                    subscription_id: s.subscription_id,
                }
            }
            Some(s) => SubscriptionState::Elsewhere {
                destination_id: s.destination_id,
                subscription_id: s.subscription_id,
            },
        })
    }

    /// Subscribes the account's reports and Data Kiosk queries to `queue_arn`, creating
    /// the destination (named `sp-ingest-<stage>`) if the app has none for it; answers
    /// where report notifications go. Refuses when a subscription goes elsewhere, which
    /// Amazon would not let a second one replace.
    pub async fn subscribe(
        &self,
        queue_arn: &str,
        stage: &str,
    ) -> anyhow::Result<SubscriptionState> {
        let reports = self.subscribe_to(queue_arn, stage, SUBSCRIBED[0]).await?;
        self.subscribe_to(queue_arn, stage, SUBSCRIBED[1]).await?;
        Ok(reports)
    }

    async fn subscribe_to(
        &self,
        queue_arn: &str,
        stage: &str,
        kind: (&str, &str),
    ) -> anyhow::Result<SubscriptionState> {
        let (notification_type, payload_version) = kind;
        let destination_id = match self.status_of(queue_arn, kind).await? {
            subscribed @ SubscriptionState::Subscribed { .. } => return Ok(subscribed),
            SubscriptionState::Elsewhere { destination_id, .. } => anyhow::bail!(
                "account `{}` already has a {notification_type} subscription to destination {destination_id}, and Amazon keeps one per app and seller: run `sp-ingest notifications unsubscribe` on the stage that owns it, then subscribe again",
                self.account
            ),
            SubscriptionState::NotSubscribed => match self.destination(queue_arn).await? {
                Some(id) => id,
                None => {
                    self.client
                        .create_destination(&CreateDestinationRequest::sqs(
                            format!("sp-ingest-{stage}"),
                            queue_arn,
                        ))
                        .await
                        .context("creating the notification destination")?
                        .destination_id
                }
            },
        };
        let request = CreateSubscriptionRequest {
            payload_version: payload_version.to_owned(),
            destination_id: destination_id.clone(),
            processing_directive: None,
        };
        match self
            .client
            .create_subscription(notification_type, &request)
            .await
            .with_context(|| format!("creating the {notification_type} subscription"))?
        {
            CreateSubscriptionOutcome::Created(s) => Ok(SubscriptionState::Subscribed {
                destination_id,
                subscription_id: s.subscription_id,
            }),
            // Created meanwhile (another subscribe running): read what it made.
            CreateSubscriptionOutcome::AlreadyExists { .. } => {
                self.status_of(queue_arn, kind).await
            }
        }
    }

    /// Deletes the account's subscriptions that go to `queue_arn`; returns what the
    /// report subscription was. Subscriptions to another destination are left alone.
    pub async fn unsubscribe(&self, queue_arn: &str) -> anyhow::Result<SubscriptionState> {
        let mut reports = None;
        for kind in SUBSCRIBED {
            let state = self.status_of(queue_arn, kind).await?;
            if let SubscriptionState::Subscribed {
                subscription_id, ..
            } = &state
            {
                self.client
                    .delete_subscription_by_id(kind.0, subscription_id)
                    .await
                    .with_context(|| format!("deleting the {} subscription", kind.0))?;
            }
            reports.get_or_insert(state);
        }
        Ok(reports.unwrap_or(SubscriptionState::NotSubscribed))
    }
}

/// Deletes the destinations delivering to `queue_arn`, once per application and region
/// of `accounts`; returns their ids. For `unsubscribe` of every account of a stage.
pub async fn delete_destinations(
    accounts: &[AccountNotifications],
    queue_arn: &str,
) -> anyhow::Result<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut deleted = Vec::new();
    for account in accounts {
        if !seen.insert(account.app.clone()) {
            continue;
        }
        if let Some(id) = account.destination(queue_arn).await? {
            account
                .client
                .delete_destination(&id)
                .await
                .context("deleting the notification destination")?;
            deleted.push(id);
        }
    }
    Ok(deleted)
}
