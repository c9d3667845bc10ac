//! A deployed stage, found by its name: the outputs of the `sp-ingest-<stage>` stack
//! (`infra/template.yaml`), so no operator types an ARN.

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::schedules::ScheduleTarget;

/// The stack of `stage`.
pub fn stack_name(stage: &str) -> String {
    format!("sp-ingest-{stage}")
}

/// What the commands need of a deployed stage, from its stack's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    /// The stage.
    pub stage: String,
    /// The `ingest` state machine.
    pub state_machine_arn: String,
    /// Where SP-API sends notifications.
    pub notification_queue_arn: String,
    /// Where the reports' schedules go.
    pub schedule_group: String,
    /// The role the schedules start executions with.
    pub scheduler_role_arn: String,
    /// The raw bucket.
    pub raw_bucket: String,
    /// The metadata table.
    pub metadata_table: String,
    /// The curated bucket.
    pub curated_bucket: String,
    /// The Glue database of the curated tables.
    pub glue_database: String,
    /// The Athena workgroup of the views.
    pub athena_workgroup: String,
}

impl StackOutputs {
    /// Reads the outputs of stage `stage`'s stack; the error says how to get one.
    pub async fn discover(
        cloudformation: &aws_sdk_cloudformation::Client,
        stage: &str,
    ) -> anyhow::Result<StackOutputs> {
        let name = stack_name(stage);
        let described = cloudformation
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "no stack {name} in this account and region ({}): deploy the stage with `make deploy STAGE={stage}`, or set AWS_REGION / AWS_PROFILE to where it is",
                    aws_sdk_cloudformation::error::DisplayErrorContext(e)
                )
            })?;
        let stack = described
            .stacks()
            .first()
            .with_context(|| format!("stack {name} is not described"))?;
        let outputs: BTreeMap<&str, &str> = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?, o.output_value()?)))
            .collect();
        let output = |key: &str| {
            outputs.get(key).map(|v| (*v).to_owned()).with_context(|| {
                format!(
                    "stack {name} has no output {key}: update it with `make deploy STAGE={stage}`"
                )
            })
        };
        Ok(StackOutputs {
            stage: stage.to_owned(),
            state_machine_arn: output("StateMachineArn")?,
            notification_queue_arn: output("NotificationQueueArn")?,
            schedule_group: output("ScheduleGroup")?,
            scheduler_role_arn: output("SchedulerRoleArn")?,
            raw_bucket: output("RawBucket")?,
            metadata_table: output("MetadataTable")?,
            curated_bucket: output("CuratedBucket")?,
            glue_database: output("GlueDatabase")?,
            athena_workgroup: output("AthenaWorkGroup")?,
        })
    }

    /// The same for a local stack (which has no CloudFormation stack).
    pub fn local(provisioned: &crate::resources::Provisioned) -> StackOutputs {
        let names = &provisioned.names;
        StackOutputs {
            stage: names.stage.clone(),
            state_machine_arn: names.state_machine_arn(),
            notification_queue_arn: names.queue_arn(),
            schedule_group: names.schedule_group.clone(),
            scheduler_role_arn: names.scheduler_role_arn(),
            raw_bucket: names.raw_bucket.clone(),
            metadata_table: names.metadata_table.clone(),
            curated_bucket: names.curated_bucket.clone(),
            glue_database: names.glue_database.clone(),
            athena_workgroup: names.athena_workgroup.clone(),
        }
    }

    /// Where the stage's schedules go and what they start.
    pub fn schedule_target(&self) -> ScheduleTarget {
        ScheduleTarget {
            group: self.schedule_group.clone(),
            role_arn: self.scheduler_role_arn.clone(),
            state_machine_arn: self.state_machine_arn.clone(),
        }
    }
}
