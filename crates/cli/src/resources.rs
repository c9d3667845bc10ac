//! The AWS resources a stage needs, created in the local emulator.
//!
//! Deployed, the SAM template (`infra/template.yaml`) creates these; locally this module
//! does, with the template's names derived from the stage, so the Lambda processes can be
//! given their environment before the resources exist and a second `up` finds the same
//! ones. `tests/infra.rs` checks the two agree. One deliberate difference: the local
//! queue's visibility timeout is 5 s (the template's 180 s would slow the retry tests).

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};

/// Account id moto uses for every resource.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";

/// Receives of a notification before it moves to the dead-letter queue (the template's
/// `maxReceiveCount` too).
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// Names of a stage's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageResources {
    /// The stage.
    pub stage: String,
    /// AWS region.
    pub region: String,
    /// Raw documents bucket.
    pub raw_bucket: String,
    /// Curated Parquet bucket.
    pub curated_bucket: String,
    /// Glue database of the curated tables.
    pub glue_database: String,
    /// Athena workgroup of the views.
    pub athena_workgroup: String,
    /// SNS topic of "new data" messages.
    pub new_data_topic: String,
    /// Metadata table.
    pub metadata_table: String,
    /// KMS alias of the stage's key.
    pub kms_alias: String,
    /// Notification queue name.
    pub notification_queue: String,
    /// Its dead-letter queue name.
    pub dead_letter_queue: String,
    /// State machine name.
    pub state_machine: String,
    /// EventBridge Scheduler group of the reports' schedules.
    pub schedule_group: String,
}

impl StageResources {
    /// The names for `stage` in `region`.
    pub fn for_stage(stage: &str, region: &str) -> Self {
        StageResources {
            stage: stage.to_owned(),
            region: region.to_owned(),
            // Bucket names are global: the account id keeps two accounts' stages apart.
            raw_bucket: format!("sp-ingest-{stage}-raw-{LOCAL_ACCOUNT_ID}"),
            curated_bucket: format!("sp-ingest-{stage}-curated-{LOCAL_ACCOUNT_ID}"),
            // Glue (and Athena) names take no hyphens.
            glue_database: format!("sp_ingest_{}", stage.replace('-', "_")),
            athena_workgroup: format!("sp-ingest-{stage}"),
            new_data_topic: format!("sp-ingest-{stage}-new-data"),
            metadata_table: format!("sp-ingest-{stage}-reports"),
            kms_alias: format!("alias/sp-ingest-{stage}"),
            notification_queue: format!("sp-ingest-{stage}-notifications"),
            dead_letter_queue: format!("sp-ingest-{stage}-notifications-dlq"),
            state_machine: format!("sp-ingest-{stage}-ingest"),
            schedule_group: format!("sp-ingest-{stage}"),
        }
    }

    /// The environment every Lambda of the stage runs with.
    pub fn lambda_environment(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (pipeline::settings::STAGE.to_owned(), self.stage.clone()),
            (
                pipeline::settings::METADATA_TABLE.to_owned(),
                self.metadata_table.clone(),
            ),
            (
                pipeline::settings::RAW_BUCKET.to_owned(),
                self.raw_bucket.clone(),
            ),
            (
                pipeline::settings::KMS_KEY_ID.to_owned(),
                self.kms_alias.clone(),
            ),
            (
                pipeline::settings::CURATED_BUCKET.to_owned(),
                self.curated_bucket.clone(),
            ),
            (
                pipeline::settings::GLUE_DATABASE.to_owned(),
                self.glue_database.clone(),
            ),
            (
                pipeline::settings::NEW_DATA_TOPIC.to_owned(),
                self.new_data_topic_arn(),
            ),
        ])
    }

    /// The "new data" topic's ARN.
    pub fn new_data_topic_arn(&self) -> String {
        format!(
            "arn:aws:sns:{}:{LOCAL_ACCOUNT_ID}:{}",
            self.region, self.new_data_topic
        )
    }

    /// The notification queue's ARN (what SP-API destinations are created with).
    pub fn queue_arn(&self) -> String {
        format!(
            "arn:aws:sqs:{}:{LOCAL_ACCOUNT_ID}:{}",
            self.region, self.notification_queue
        )
    }

    /// The state machine's ARN.
    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{LOCAL_ACCOUNT_ID}:stateMachine:{}",
            self.region, self.state_machine
        )
    }

    /// The role Scheduler assumes to start executions (the stack's `SchedulerRole`).
    pub fn scheduler_role_arn(&self) -> String {
        format!(
            "arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/sp-ingest-{}-scheduler",
            self.stage
        )
    }

    /// A function's ARN, as the state machine names it.
    pub fn function_arn(&self, function: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{LOCAL_ACCOUNT_ID}:function:{function}",
            self.region
        )
    }
}

/// What [`provision`] created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioned {
    /// The names.
    pub names: StageResources,
    /// Notification queue URL.
    pub queue_url: String,
    /// KMS key id behind the alias.
    pub kms_key_id: String,
}

/// Creates the stage's bucket, table, key, queues, schedule group and state machine (`definition` is the
/// ASL with its `${…FunctionArn}` placeholders); existing ones are kept.
pub async fn provision(
    aws: &aws_config::SdkConfig,
    names: &StageResources,
    definition: &str,
) -> anyhow::Result<Provisioned> {
    let s3 = pipeline::s3_client(aws);
    for bucket in [&names.raw_bucket, &names.curated_bucket] {
        if s3.head_bucket().bucket(bucket).send().await.is_err() {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .with_context(|| format!("creating bucket {bucket}"))?;
        }
    }
    let glue = aws_sdk_glue::Client::new(aws);
    if glue
        .get_database()
        .name(&names.glue_database)
        .send()
        .await
        .is_err()
    {
        glue.create_database()
            .database_input(
                aws_sdk_glue::types::DatabaseInput::builder()
                    .name(&names.glue_database)
                    .description(format!("sp-ingest {}: curated tables", names.stage))
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("creating Glue database {}", names.glue_database))?;
    }
    let athena = aws_sdk_athena::Client::new(aws);
    let workgroup = athena
        .get_work_group()
        .work_group(&names.athena_workgroup)
        .send()
        .await
        .ok()
        .and_then(|found| found.work_group().cloned());
    if workgroup.is_none() {
        athena
            .create_work_group()
            .name(&names.athena_workgroup)
            .configuration(
                aws_sdk_athena::types::WorkGroupConfiguration::builder()
                    .enforce_work_group_configuration(true)
                    .result_configuration(
                        aws_sdk_athena::types::ResultConfiguration::builder()
                            .output_location(format!(
                                "s3://{}/athena-results/",
                                names.curated_bucket
                            ))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("creating Athena workgroup {}", names.athena_workgroup))?;
    }
    // CreateTopic is idempotent by name.
    aws_sdk_sns::Client::new(aws)
        .create_topic()
        .name(&names.new_data_topic)
        .send()
        .await
        .with_context(|| format!("creating topic {}", names.new_data_topic))?;

    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    if dynamodb
        .describe_table()
        .table_name(&names.metadata_table)
        .send()
        .await
        .is_err()
    {
        dynamodb
            .create_table()
            .table_name(&names.metadata_table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .with_context(|| format!("creating table {}", names.metadata_table))?;
        // Handled notification ids and unsolicited reports expire (`expiresAt`).
        dynamodb
            .update_time_to_live()
            .table_name(&names.metadata_table)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(pipeline::metadata::EXPIRES_AT)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on table {}", names.metadata_table))?;
    }

    let kms = aws_sdk_kms::Client::new(aws);
    let kms_key_id = match kms.describe_key().key_id(&names.kms_alias).send().await {
        Ok(found) => found
            .key_metadata()
            .map(|m| m.key_id().to_owned())
            .unwrap_or_default(),
        Err(_) => {
            let created = kms
                .create_key()
                .description(format!("sp-ingest {} tokens and documents", names.stage))
                .send()
                .await
                .context("creating the KMS key")?;
            let key_id = created
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .context("KMS CreateKey returned no key")?;
            kms.create_alias()
                .alias_name(&names.kms_alias)
                .target_key_id(&key_id)
                .send()
                .await
                .context("creating the KMS alias")?;
            key_id
        }
    };

    let sqs = aws_sdk_sqs::Client::new(aws);
    let dlq_url = sqs
        .create_queue()
        .queue_name(&names.dead_letter_queue)
        .send()
        .await
        .context("creating the dead-letter queue")?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let dlq_arn = format!(
        "arn:aws:sqs:{}:{LOCAL_ACCOUNT_ID}:{}",
        names.region, names.dead_letter_queue
    );
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT.to_string()}).to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(&names.notification_queue)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .context("creating the notification queue")?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    tracing::debug!(%dlq_url, %queue_url, "queues ready");

    let scheduler = aws_sdk_scheduler::Client::new(aws);
    if scheduler
        .get_schedule_group()
        .name(&names.schedule_group)
        .send()
        .await
        .is_err()
    {
        scheduler
            .create_schedule_group()
            .name(&names.schedule_group)
            .send()
            .await
            .with_context(|| format!("creating schedule group {}", names.schedule_group))?;
    }

    let definition =
        contract::functions::substitute_function_arns(definition, |f| names.function_arn(f))
            .map_err(anyhow::Error::msg)?;
    let sfn = aws_sdk_sfn::Client::new(aws);
    let role = format!(
        "arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/sp-ingest-{}-states",
        names.stage
    );
    match sfn
        .describe_state_machine()
        .state_machine_arn(names.state_machine_arn())
        .send()
        .await
    {
        Ok(_) => {
            sfn.update_state_machine()
                .state_machine_arn(names.state_machine_arn())
                .definition(definition)
                .send()
                .await
                .context("updating the state machine")?;
        }
        Err(_) => {
            sfn.create_state_machine()
                .name(&names.state_machine)
                .definition(definition)
                .role_arn(role)
                .send()
                .await
                .context("creating the state machine")?;
        }
    }
    Ok(Provisioned {
        names: names.clone(),
        queue_url,
        kms_key_id,
    })
}
