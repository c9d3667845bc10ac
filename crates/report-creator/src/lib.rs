//! Plan and CreateReport: what to request this run, and requesting it exactly once.
//!
//! `plan` expands the configuration into one request per report × account × marketplace
//! for the latest complete window ([`domain::Config::plan`]). `create` calls createReport
//! at most once per request key: the request is claimed in the metadata table first (a
//! conditional write), so a retried task or a rerun of the same window reuses the report
//! Amazon already made instead of spending createReport quota (≈1/min) on a duplicate.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::PlannedRequest;
use pipeline::{Claim, ConfigStore, Failure, MetadataTable, SealedToken, SpApiAccess};
use serde::{Deserialize, Serialize};
use spapi::CreateReportSpecification;

/// Input, by mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Input {
    /// Expand config into requests.
    #[serde(rename_all = "camelCase")]
    Plan {
        /// Only these reports (config names); empty = all.
        #[serde(default)]
        reports: Vec<String>,
        /// The run's time (the schedule's time); default now.
        #[serde(default)]
        run_at: Option<DateTime<Utc>>,
    },
    /// Create the report of one planned request.
    #[serde(rename_all = "camelCase")]
    Create {
        /// The request.
        item: Box<PlannedRequest>,
        /// Access token from `auth`.
        token: SealedToken,
    },
}

/// Output, by mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Output {
    /// The run's requests.
    Plan {
        /// One per report × account × marketplace.
        requests: Vec<PlannedRequest>,
    },
    /// The report standing for the request.
    #[serde(rename_all = "camelCase")]
    Create {
        /// Amazon's report id.
        report_id: String,
        /// True when an earlier attempt had created it.
        reused: bool,
    },
}

/// The function and the clients it keeps between invocations.
pub struct ReportCreator {
    config: Arc<ConfigStore>,
    spapi: SpApiAccess,
    table: MetadataTable,
}

impl ReportCreator {
    /// The function with its clients.
    pub fn new(config: Arc<ConfigStore>, spapi: SpApiAccess, table: MetadataTable) -> Self {
        ReportCreator {
            config,
            spapi,
            table,
        }
    }

    /// Runs one invocation.
    pub async fn handle(&self, input: Input) -> Result<Output, Failure> {
        match input {
            Input::Plan { reports, run_at } => {
                self.plan(&reports, run_at.unwrap_or_else(Utc::now)).await
            }
            Input::Create { item, token } => self.create(&item, &token).await,
        }
    }

    async fn plan(&self, reports: &[String], run_at: DateTime<Utc>) -> Result<Output, Failure> {
        let config = self.config.config().await?;
        let unknown: Vec<&String> = reports
            .iter()
            .filter(|r| !config.reports.contains_key(*r))
            .collect();
        if !unknown.is_empty() {
            return Err(Failure::config(format!(
                "unknown report(s) {unknown:?} in the execution input; configured: {}",
                config
                    .reports
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let requests = config.plan(run_at, reports);
        tracing::info!(requests = requests.len(), %run_at, "planned");
        Ok(Output::Plan { requests })
    }

    async fn create(&self, item: &PlannedRequest, token: &SealedToken) -> Result<Output, Failure> {
        if let Claim::Existing {
            report_id: Some(report_id),
        } = self.table.claim(item, Utc::now()).await?
        {
            tracing::info!(key = %item.key, %report_id, "request already has a report; reusing it");
            return Ok(Output::Create {
                report_id,
                reused: true,
            });
        }
        let client = self.spapi.client_for(item, token).await?;
        let request = &item.request;
        let mut spec =
            CreateReportSpecification::new(&request.report_type, request.sorted_marketplaces())
                .with_data_window(request.window.start, request.window.amazon_end());
        for (name, value) in &request.options {
            spec = spec.with_option(name, value);
        }
        let created = client.create_report(&spec).await?;
        let standing = self
            .table
            .record_report_id(&item.key, &request.selling_partner_id, &created.report_id)
            .await?;
        tracing::info!(key = %item.key, report_id = %standing, report_type = %request.report_type, "report created");
        Ok(Output::Create {
            reused: standing != created.report_id,
            report_id: standing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_input_defaults_to_all_reports_and_now() {
        let input: Input = serde_json::from_str(r#"{"mode":"plan"}"#).unwrap();
        assert_eq!(
            input,
            Input::Plan {
                reports: vec![],
                run_at: None
            }
        );
        let input: Input = serde_json::from_str(
            r#"{"mode":"plan","reports":["orders"],"runAt":"2026-11-25T06:00:00Z"}"#,
        )
        .unwrap();
        assert!(matches!(input, Input::Plan { reports, run_at: Some(_) } if reports == ["orders"]));
    }

    #[test]
    fn unknown_mode_is_rejected() {
        assert!(serde_json::from_str::<Input>(r#"{"mode":"delete"}"#).is_err());
    }

    #[test]
    fn create_output_is_camel_case() {
        let json = serde_json::to_value(Output::Create {
            report_id: "1".into(),
            reused: false,
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({"reportId": "1", "reused": false}));
    }
}
