//! A running stage's resources and what an operator does with them: push a config file,
//! subscribe its accounts to notifications, run the ingest state machine.
//!
//! The in-process local pipeline holds one; `sp-ingest local run` attaches to the one a
//! `local up` in another terminal described in its endpoints file.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::config_file::{self, ConfigFile};
use crate::notifications::{self, AccountNotifications, SubscriptionState};
use crate::resources::Provisioned;
use crate::run::{self, RunOutcome, RunRequest};

/// What `sp-ingest local up` writes so other commands can find the stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointsFile {
    /// The AWS endpoint (`AWS_ENDPOINT_URL` for any SDK or CLI).
    pub aws_endpoint_url: String,
    /// The stage's resources.
    pub resources: Provisioned,
    /// The notification queue's ARN, for SP-API destinations.
    pub notification_queue_arn: String,
    /// The ingest state machine.
    pub state_machine_arn: String,
    /// The `local up` process, for `local down`.
    pub pid: u32,
}

/// A stage whose resources exist, reachable with `aws`.
#[derive(Debug, Clone)]
pub struct StageHandle {
    aws: aws_config::SdkConfig,
    provisioned: Provisioned,
}

impl StageHandle {
    /// A handle on provisioned resources.
    pub fn new(aws: aws_config::SdkConfig, provisioned: Provisioned) -> Self {
        StageHandle { aws, provisioned }
    }

    /// Attaches to the stack an endpoints file describes.
    pub async fn attach(path: &Path) -> anyhow::Result<(StageHandle, EndpointsFile)> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading {}: is `sp-ingest local up` running?",
                path.display()
            )
        })?;
        let endpoints: EndpointsFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an endpoints file", path.display()))?;
        let aws = local_stack::sdk_config_for(&endpoints.aws_endpoint_url).await;
        Ok((
            StageHandle::new(aws, endpoints.resources.clone()),
            endpoints,
        ))
    }

    /// The AWS configuration.
    pub fn aws(&self) -> &aws_config::SdkConfig {
        &self.aws
    }

    /// The stage's resources.
    pub fn resources(&self) -> &Provisioned {
        &self.provisioned
    }

    /// Pushes a configuration file to the stage (secrets, then parameters).
    pub async fn push(&self, file: &ConfigFile) -> anyhow::Result<domain::Config> {
        let stage = &self.provisioned.names.stage;
        anyhow::ensure!(
            file.stage == *stage,
            "the file is for stage `{}`, the stack runs stage `{stage}`",
            file.stage
        );
        config_file::push(&self.aws, file).await
    }

    /// `config`'s accounts named in `only` (all when empty), for their notifications,
    /// with the credentials of their secrets.
    pub async fn notification_accounts(
        &self,
        config: &domain::Config,
        only: &[String],
    ) -> anyhow::Result<Vec<AccountNotifications>> {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.aws);
        notifications::accounts(&secrets, config, only).await
    }

    /// Subscribes `config`'s accounts named in `only` (all when empty) to the stage's
    /// notification queue.
    pub async fn subscribe(
        &self,
        config: &domain::Config,
        only: &[String],
    ) -> anyhow::Result<Vec<(String, SubscriptionState)>> {
        let queue_arn = self.provisioned.names.queue_arn();
        let mut out = Vec::new();
        for account in self.notification_accounts(config, only).await? {
            let state = account.subscribe(&queue_arn, &config.stage).await?;
            out.push((account.account, state));
        }
        Ok(out)
    }

    /// Makes the stage's schedules those of `config`, one per report.
    pub async fn sync_schedules(
        &self,
        config: &domain::Config,
    ) -> anyhow::Result<crate::schedules::Synced> {
        let names = &self.provisioned.names;
        let target = crate::schedules::ScheduleTarget {
            group: names.schedule_group.clone(),
            role_arn: names.scheduler_role_arn(),
            state_machine_arn: names.state_machine_arn(),
        };
        crate::schedules::sync(&aws_sdk_scheduler::Client::new(&self.aws), &target, config).await
    }

    /// Creates or replaces the Athena views of `sql/views/` in the stage's workgroup,
    /// after making sure every curated table exists; returns the views' names.
    pub async fn create_views(&self) -> anyhow::Result<Vec<&'static str>> {
        let names = &self.provisioned.names;
        crate::views::create(
            &self.aws,
            &names.glue_database,
            &names.curated_bucket,
            &names.athena_workgroup,
        )
        .await
    }

    /// Runs the ingest state machine to its end.
    pub async fn run(
        &self,
        request: &RunRequest,
        timeout: Duration,
        progress: impl FnMut(Duration, &str),
    ) -> anyhow::Result<RunOutcome> {
        let sfn = aws_sdk_sfn::Client::new(&self.aws);
        run::run(
            &sfn,
            &self.provisioned.names.state_machine_arn(),
            request,
            timeout,
            progress,
        )
        .await
    }
}
