//! Schedules: one EventBridge Scheduler schedule per configured report, kept in step with
//! the pushed config by `sync`.
//!
//! The template cannot know the reports (the config is pushed after the stack exists),
//! so the stack holds a schedule group and a role, and this module creates, updates and
//! deletes the schedules in that group. Each starts the `ingest` state machine with its
//! report and the scheduled time as `runAt`
//! (`<aws.scheduler.scheduled-time>`, <https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html>),
//! so a run's windows follow the schedule, not the moment Lambda got to it. Executions
//! are not named after the window (Scheduler's templated Step Functions target has no
//! name field); a doubled start is harmless — it plans the same request keys and
//! re-requests nothing.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
use domain::Config;

/// Where schedules go and what they start: the stack's group, role and state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTarget {
    /// The schedule group (`sp-ingest-<stage>`).
    pub group: String,
    /// The role Scheduler assumes to start executions.
    pub role_arn: String,
    /// The `ingest` state machine.
    pub state_machine_arn: String,
}

/// One schedule as the config wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The schedule's name: the report's.
    pub name: String,
    /// `cron(...)`, `rate(...)` or `at(...)`, in UTC.
    pub expression: String,
    /// The execution input.
    pub input: String,
}

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// Schedules created.
    pub created: Vec<String>,
    /// Schedules whose expression or input changed.
    pub updated: Vec<String>,
    /// Schedules of reports no longer configured.
    pub deleted: Vec<String>,
    /// Schedules already as wanted.
    pub unchanged: Vec<String>,
}

/// The schedules `config` wants, one per report.
pub fn wanted(config: &Config) -> Vec<Wanted> {
    config
        .reports
        .iter()
        .map(|(name, report)| Wanted {
            name: name.clone(),
            expression: report.schedule.clone(),
            input: serde_json::json!({
                "reports": [name],
                "runAt": "<aws.scheduler.scheduled-time>",
                "refresh": false,
            })
            .to_string(),
        })
        .collect()
}

/// Makes the group's schedules exactly those `config` wants.
pub async fn sync(
    scheduler: &aws_sdk_scheduler::Client,
    target: &ScheduleTarget,
    config: &Config,
) -> anyhow::Result<Synced> {
    let mut existing = BTreeMap::new();
    let mut pages = scheduler
        .list_schedules()
        .group_name(&target.group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.with_context(|| format!("listing the schedules of group {}", target.group))?;
        for summary in page.schedules() {
            if let Some(name) = summary.name() {
                let schedule = scheduler
                    .get_schedule()
                    .group_name(&target.group)
                    .name(name)
                    .send()
                    .await
                    .with_context(|| format!("reading schedule {name}"))?;
                let input = schedule
                    .target()
                    .and_then(|t| t.input())
                    .unwrap_or_default()
                    .to_owned();
                let expression = schedule
                    .schedule_expression()
                    .unwrap_or_default()
                    .to_owned();
                existing.insert(name.to_owned(), (expression, input));
            }
        }
    }
    let mut synced = Synced::default();
    for want in wanted(config) {
        let state = existing.remove(&want.name);
        if state.as_ref() == Some(&(want.expression.clone(), want.input.clone())) {
            synced.unchanged.push(want.name);
            continue;
        }
        let run = Target::builder()
            .arn(&target.state_machine_arn)
            .role_arn(&target.role_arn)
            .input(&want.input)
            .build()?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()?;
        // CreateSchedule and UpdateSchedule take the same fields on different builders.
        macro_rules! described {
            ($request:expr) => {
                $request
                    .group_name(&target.group)
                    .name(&want.name)
                    .schedule_expression(&want.expression)
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(window)
                    .target(run)
            };
        }
        if state.is_some() {
            described!(scheduler.update_schedule())
                .send()
                .await
                .with_context(|| format!("updating schedule {}", want.name))?;
            synced.updated.push(want.name);
        } else {
            described!(scheduler.create_schedule())
                .send()
                .await
                .with_context(|| format!("creating schedule {}", want.name))?;
            synced.created.push(want.name);
        }
    }
    for name in existing.into_keys() {
        scheduler
            .delete_schedule()
            .group_name(&target.group)
            .name(&name)
            .send()
            .await
            .with_context(|| format!("deleting schedule {name}"))?;
        synced.deleted.push(name);
    }
    Ok(synced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_report_gets_its_schedule_and_an_input_the_state_machine_accepts() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/example.json");
        let file = crate::config_file::ConfigFile::read(&path).unwrap();
        let config = crate::config_file::validate(&file).unwrap().config;
        let wanted = wanted(&config);
        assert_eq!(wanted.len(), config.reports.len());
        for want in &wanted {
            assert_eq!(want.expression, config.reports[&want.name].schedule);
            // What Scheduler sends, with the time it fills in.
            let sent = want
                .input
                .replace("<aws.scheduler.scheduled-time>", "2026-11-25T06:00:00Z");
            let input: contract::RunInput = serde_json::from_str(&sent).unwrap();
            assert_eq!(input.reports, vec![want.name.clone()]);
            assert!(!input.refresh);
        }
    }
}
