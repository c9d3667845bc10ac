//! Planning: which report requests a run makes, from config and the time it runs.
//!
//! A run expands reports × accounts × marketplaces into one [`PlannedRequest`] each, for
//! the latest complete window of each report. One request per marketplace keeps every
//! request valid for the report types that allow only one (most analytics types answer
//! FATAL otherwise) and gives each raw object a single `marketplace=` partition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Completion};
use crate::config::{Config, RegionEndpoints};
use crate::marketplace::Region;
use crate::request::{DataWindow, ReportRequest, RequestKey};

/// One request of a run, with what the state machine needs to carry it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRequest {
    /// The report's config name.
    pub report: String,
    /// Its identity.
    pub key: RequestKey,
    /// The request itself.
    pub request: ReportRequest,
    /// The SP-API region to call.
    pub region: Region,
    /// How the request completes: wait for a notification, or poll from the start.
    pub completion: Completion,
    /// How long to wait for the notification before polling.
    pub await_timeout_secs: u32,
    /// Where to reach Amazon for this request, as the config said when the run was
    /// planned: every step of a run uses the endpoints of the config it was planned
    /// with, even when a new config is pushed while it runs.
    pub endpoints: RegionEndpoints,
    /// The Secrets Manager ARN of the account's LWA credentials (an address, not a
    /// secret), likewise from the run's config.
    pub secret_arn: String,
    /// The [`Config::version`] the run was planned with.
    pub config_version: String,
}

impl Config {
    /// The requests of a run at `now`: every configured report, or only those named in
    /// `reports` when it is not empty, in a stable order (report, account, marketplace).
    pub fn plan(&self, now: DateTime<Utc>, reports: &[String]) -> Vec<PlannedRequest> {
        self.plan_with(Catalog::builtin(), now, reports)
    }

    /// [`Config::plan`] with the rules of `catalog` (a config validated against it).
    pub fn plan_with(
        &self,
        catalog: &Catalog,
        now: DateTime<Utc>,
        reports: &[String],
    ) -> Vec<PlannedRequest> {
        let mut planned = Vec::new();
        let version = self.version();
        for (name, report) in &self.reports {
            if !reports.is_empty() && !reports.contains(name) {
                continue;
            }
            let Some((length, lag)) = Config::window_of(report) else {
                continue;
            };
            let window = DataWindow::latest_complete(now, length, lag);
            // Validation refused unknown sources and types; nothing to plan for them.
            let (Some(source), Some(spec)) = (
                catalog.source(&report.source),
                catalog.report_type(&report.source, &report.report_type),
            ) else {
                continue;
            };
            let accounts = self.accounts.iter().filter(|(account_name, account)| {
                if report.accounts.is_empty() {
                    spec.audience.is_none_or(|kind| kind == account.kind)
                } else {
                    report.accounts.contains(account_name)
                }
            });
            for (account_name, account) in accounts {
                // Validation refused accounts of regions without endpoints.
                let Some(endpoints) = self.regions.get(&account.region) else {
                    continue;
                };
                let marketplaces = account.marketplaces.iter().filter(|id| {
                    report.marketplaces.is_empty() || report.marketplaces.contains(id)
                });
                for marketplace in marketplaces {
                    let request = ReportRequest {
                        account: account_name.clone(),
                        selling_partner_id: account.selling_partner_id.clone(),
                        source: report.source.clone(),
                        report_type: report.report_type.clone(),
                        marketplace_ids: vec![marketplace.clone()],
                        window,
                        options: report.options.clone(),
                    };
                    planned.push(PlannedRequest {
                        report: name.clone(),
                        key: request.key(),
                        request,
                        region: account.region,
                        completion: source.completion,
                        await_timeout_secs: report.await_timeout_secs,
                        endpoints: endpoints.clone(),
                        secret_arn: account.secret_arn.clone(),
                        config_version: version.clone(),
                    });
                }
            }
        }
        planned
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{Account, ReportConfig};
    use crate::report_type::AccountKind;
    use crate::request::Source;

    fn config() -> Config {
        let account = |id: &str, kind, region, marketplaces: &[&str]| Account {
            selling_partner_id: id.into(),
            kind,
            region,
            marketplaces: marketplaces.iter().map(|m| m.to_string()).collect(),
            secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x".into(),
        };
        let report = |report_type: &str, accounts: &[&str], window: &str| ReportConfig {
            source: Source::sp_api_reports(),
            report_type: report_type.into(),
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            marketplaces: vec![],
            options: BTreeMap::new(),
            window: window.into(),
            lag: "P0D".into(),
            schedule: "rate(1 day)".into(),
            await_timeout_secs: 60,
        };
        Config {
            stage: "dev".into(),
            regions: Region::ALL
                .into_iter()
                .map(|r| (r, crate::config::RegionEndpoints::production(r)))
                .collect(),
            marketplaces: Config::all_marketplaces(),
            accounts: BTreeMap::from([
                (
                    "us".into(),
                    account(
                        "A1US",
                        AccountKind::Seller,
                        Region::Na,
                        &["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
                    ),
                ),
                (
                    "jp".into(),
                    account("A1JP", AccountKind::Seller, Region::Fe, &["A1VC38T7YXB528"]),
                ),
                (
                    "vendor".into(),
                    account("A1VE", AccountKind::Vendor, Region::Na, &["ATVPDKIKX0DER"]),
                ),
            ]),
            reports: BTreeMap::from([
                (
                    "orders".into(),
                    report(
                        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                        &[],
                        "P1D",
                    ),
                ),
                (
                    "vendor-sales".into(),
                    report("GET_VENDOR_SALES_REPORT", &[], "P7D"),
                ),
                (
                    "us-only".into(),
                    report("GET_SALES_AND_TRAFFIC_REPORT", &["us"], "P1D"),
                ),
            ]),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn plan_expands_reports_accounts_and_marketplaces() {
        let plan = config().plan(now(), &[]);
        let rows: Vec<(&str, &str, &str)> = plan
            .iter()
            .map(|p| {
                (
                    p.report.as_str(),
                    p.request.account.as_str(),
                    p.request.marketplace_ids[0].as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("orders", "jp", "A1VC38T7YXB528"),
                ("orders", "us", "ATVPDKIKX0DER"),
                ("orders", "us", "A2EUQ1WTGCTBG2"),
                ("us-only", "us", "ATVPDKIKX0DER"),
                ("us-only", "us", "A2EUQ1WTGCTBG2"),
                ("vendor-sales", "vendor", "ATVPDKIKX0DER"),
            ]
        );
        assert_eq!(plan[0].region, Region::Fe);
        assert_eq!(plan[5].request.window.length().num_days(), 7);
        assert_eq!(plan[1].request.window.data_date().to_string(), "2026-11-24");
    }

    #[test]
    fn plan_is_deterministic_and_keys_are_distinct() {
        let a = config().plan(now(), &[]);
        assert_eq!(a, config().plan(now(), &[]));
        let mut keys: Vec<_> = a.iter().map(|p| p.key.clone()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), a.len());
        assert!(a.iter().all(|p| p.key == p.request.key()));
    }

    #[test]
    fn each_request_carries_its_accounts_endpoints_and_secret_and_the_config_version() {
        let config = config();
        let plan = config.plan(now(), &[]);
        let jp = plan.iter().find(|p| p.request.account == "jp").unwrap();
        assert_eq!(jp.endpoints, config.regions[&Region::Fe]);
        assert_eq!(jp.secret_arn, config.accounts["jp"].secret_arn);
        assert!(plan.iter().all(|p| p.config_version == config.version()));
    }

    #[test]
    fn plan_can_be_limited_to_named_reports() {
        let plan = config().plan(now(), &["vendor-sales".to_owned()]);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].request.selling_partner_id, "A1VE");
    }

    #[test]
    fn report_marketplaces_narrow_the_accounts_marketplaces() {
        let mut config = config();
        config.reports.get_mut("us-only").unwrap().marketplaces = vec!["A2EUQ1WTGCTBG2".into()];
        let plan = config.plan(now(), &["us-only".to_owned()]);
        assert_eq!(plan.len(), 1);
        assert_eq!(
            plan[0].request.marketplace_ids,
            vec!["A2EUQ1WTGCTBG2".to_owned()]
        );
    }
}
