//! Planning: which report requests a run makes, from config, the time it runs and what
//! earlier runs left in the metadata table.
//!
//! A run expands reports × accounts × marketplaces × the trailing `catch_up` windows of
//! each report into [`Candidate`]s, oldest window first. One request per marketplace keeps
//! every request valid for the report types that allow only one (most analytics types
//! answer FATAL otherwise) and gives each raw object a single `marketplace=` partition.
//! Each candidate is then [`Candidate::decide`]d against what the table says about it:
//! a window that landed is skipped, one that failed is requested again (with a new report
//! when the old one cannot give data), one beyond the type's lookback is recorded expired
//! — so tomorrow's run heals today's failure without re-requesting what landed.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Api, Catalog, Completion};
use crate::config::{Config, RegionEndpoints, ReportConfig};
use crate::error::ErrorName;
use crate::marketplace::Region;
use crate::report_type::ReportTypeSpec;
use crate::request::{DataWindow, ReportRequest, RequestKey};

use crate::schedule::parse_duration;
use crate::status::ProcessingStatus;

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
    /// How long the report may stay queued or in progress before it is given up
    /// (the source's patience).
    pub patience_secs: u32,
    /// The report id an earlier run got for this request that must not be reused (it
    /// ended FATAL or CANCELLED, got stuck, is gone, or a refresh was asked for):
    /// CreateReport replaces it with a new report. `None`: reuse whatever report the
    /// request has.
    pub supersedes: Option<String>,
    /// Where to reach Amazon for this request, as the config said when the run was
    /// planned: every step of a run uses the endpoints of the config it was planned
    /// with, even when a new config is pushed while it runs.
    pub endpoints: RegionEndpoints,
    /// The Secrets Manager ARN of the account's LWA credentials (an address, not a
    /// secret), likewise from the run's config.
    pub secret_arn: String,
    /// The [`Config::version`] the run was planned with.
    pub config_version: String,
    /// Which page of the window's results this is, after the first (Data Kiosk: each
    /// page is a query of its own, created with the previous page's token). `None` for
    /// the first page, and for sources without pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<ResultPage>,
    /// For an AMC execution, the instance's limits as the run's config said: executions
    /// at once, and a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amc_limits: Option<AmcLimits>,
}

/// An AMC instance's limits, as config sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmcLimits {
    /// Executions at once.
    pub parallel: u32,
    /// Ad-hoc executions a day.
    pub daily: u32,
}

/// A page of a window's results after the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultPage {
    /// 1 for the second page, 2 for the third, …
    pub number: u32,
    /// The token the previous page ended with (Data Kiosk `pagination.nextToken`).
    pub token: String,
    /// The key of the window (its first page): where the window's outcome is recorded.
    pub window_key: RequestKey,
}

impl PlannedRequest {
    /// The key of the whole window: this request's, or for a later page, its first page's.
    pub fn window_key(&self) -> &RequestKey {
        self.page
            .as_ref()
            .map_or(&self.key, |page| &page.window_key)
    }

    /// The page number: 0 for the first.
    pub fn page_number(&self) -> u32 {
        self.page.as_ref().map_or(0, |page| page.number)
    }

    /// The request for the page after this one, which `token` leads to; it has a key of
    /// its own ([`RequestKey::page`]) so its query is created once, however often the
    /// window is run, and never gives up an earlier report (`supersedes` is the first
    /// page's business).
    pub fn next_page(&self, token: &str) -> PlannedRequest {
        let window_key = self.window_key().clone();
        let number = self.page_number() + 1;
        PlannedRequest {
            key: window_key.page(number),
            supersedes: None,
            page: Some(ResultPage {
                number,
                token: token.to_owned(),
                window_key,
            }),
            ..self.clone()
        }
    }
}

/// A window a run may request, before the metadata table was asked about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The request, should it be made.
    pub planned: PlannedRequest,
    /// The window starts before the type's lookback limit: Amazon would refuse it.
    pub beyond_lookback: bool,
    /// How long Amazon keeps a report of this type; an older one is not reused.
    pub retention: Option<TimeDelta>,
    /// When Amazon restates the window's figures (its end plus each restatement age): a
    /// window landed before one of these that the run's time has reached is requested
    /// again, replacing what landed.
    pub restated_at: Vec<DateTime<Utc>>,
    /// The run's time (the schedule's), which restatements are measured against.
    pub run_at: DateTime<Utc>,
}

/// What the metadata table remembers of a request an earlier run made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Previous {
    /// The report it got, if it got that far.
    pub report_id: Option<String>,
    /// When that report was requested.
    pub requested_at: Option<DateTime<Utc>>,
    /// The report's last known status.
    pub status: Option<ProcessingStatus>,
    /// How the request ended, if it did.
    pub ended: Option<Ended>,
}

/// How an earlier request ended, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Stored, or Amazon had no data: nothing more to fetch.
    Landed,
    /// Amazon ended the report FATAL.
    Fatal,
    /// A step failed for good with this error name.
    Failed(String),
    /// The window was recorded beyond the type's lookback.
    Expired,
}

/// What a run does with a [`Candidate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Landed before (or recorded expired): nothing to do.
    Skip,
    /// Beyond the lookback and never landed: record it expired, request nothing.
    Expire(Box<PlannedRequest>),
    /// Request it (reusing or superseding the earlier report, as set in the request).
    Request(Box<PlannedRequest>),
}

impl Candidate {
    /// Decides what this run does with the window, given what an earlier run left
    /// (`None`: never requested) and whether the run forces a new report (`refresh`).
    pub fn decide(
        self,
        previous: Option<&Previous>,
        now: DateTime<Utc>,
        refresh: bool,
    ) -> Decision {
        let landed = previous.is_some_and(|p| p.ended == Some(Ended::Landed));
        let expired = previous.is_some_and(|p| p.ended == Some(Ended::Expired));
        // Landed before a restatement the run has reached: the figures changed since.
        let restated = landed
            && previous.and_then(|p| p.requested_at).is_some_and(|at| {
                self.restated_at
                    .iter()
                    .any(|r| at < *r && *r <= self.run_at)
            });
        let refresh = refresh || restated;
        if (landed && !refresh) || expired {
            return Decision::Skip;
        }
        if self.beyond_lookback {
            return if landed {
                Decision::Skip
            } else {
                Decision::Expire(Box::new(self.planned))
            };
        }
        let mut planned = self.planned;
        if let Some(previous) = previous {
            let cannot_give_data = matches!(
                previous.status,
                Some(ProcessingStatus::Fatal | ProcessingStatus::Cancelled)
            ) || previous.ended == Some(Ended::Fatal)
                || matches!(&previous.ended, Some(Ended::Failed(error)) if REQUEST_AGAIN.iter().any(|e| e.as_str() == error));
            let too_old = match (previous.requested_at, self.retention) {
                (Some(at), Some(retention)) => now - at >= retention,
                _ => false,
            };
            if refresh || cannot_give_data || too_old {
                planned.supersedes = previous.report_id.clone();
            }
        }
        Decision::Request(Box::new(planned))
    }
}

/// Failures after which the report itself is no use and a new one is requested.
const REQUEST_AGAIN: [ErrorName; 2] = [ErrorName::ReportStuck, ErrorName::ReportGone];

/// Which windows a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Each report's trailing catch-up windows (a scheduled run).
    CatchUp,
    /// The window of each report starting that day, where complete.
    Starting(NaiveDate),
    /// A backfill of the days `from..to` (end excluded), in the fewest windows each
    /// report type allows ([`crate::backfill`]).
    Backfill {
        /// First day.
        from: NaiveDate,
        /// First day not included.
        to: NaiveDate,
    },
}

impl From<Option<NaiveDate>> for Span {
    fn from(only: Option<NaiveDate>) -> Self {
        only.map_or(Span::CatchUp, Span::Starting)
    }
}

impl Config {
    /// The candidate requests of a run at `now`: every configured report (or only those
    /// named in `reports`), each trailing catch-up window, in a stable order (report,
    /// account, marketplace, window oldest first).
    pub fn plan(&self, now: DateTime<Utc>, reports: &[String]) -> Vec<Candidate> {
        self.plan_with(Catalog::builtin(), now, reports, Span::CatchUp)
    }

    /// [`Config::plan`] over the windows of `span`.
    pub fn plan_window(
        &self,
        now: DateTime<Utc>,
        reports: &[String],
        span: impl Into<Span>,
    ) -> Vec<Candidate> {
        self.plan_with(Catalog::builtin(), now, reports, span.into())
    }

    /// [`Config::plan_window`] with the rules of `catalog` (a config validated against it).
    pub fn plan_with(
        &self,
        catalog: &Catalog,
        now: DateTime<Utc>,
        reports: &[String],
        span: Span,
    ) -> Vec<Candidate> {
        let mut planned = Vec::new();
        let version = self.version();
        for (name, report) in &self.reports {
            if !reports.is_empty() && !reports.contains(name) {
                continue;
            }
            let Some((length, lag)) = Config::window_of(report) else {
                continue;
            };
            // Validation refused unknown sources and types; nothing to plan for them.
            let (Some(source), Some(spec)) = (
                catalog.source(&report.source),
                catalog.report_type(&report.source, &report.report_type),
            ) else {
                continue;
            };
            let latest = DataWindow::latest_complete(now, length, lag);
            let restatement: Vec<TimeDelta> = report
                .restatement
                .as_ref()
                .unwrap_or(&spec.restatement)
                .iter()
                .filter_map(|age| parse_duration(age).ok())
                .collect();
            // The run covers every window still to be restated, besides its catch-up.
            let restating = restatement
                .iter()
                .max()
                .map_or(0, |age| age.num_seconds() / length.num_seconds().max(1) + 1);
            let catch_up = report
                .catch_up
                .or(spec.catch_up)
                .unwrap_or(source.catch_up)
                .max(1)
                .max(u32::try_from(restating).unwrap_or(u32::MAX));
            let lookback = spec.lookback_days.map(|days| now - TimeDelta::days(days));
            let windows: Vec<DataWindow> = match span {
                Span::Backfill { from, to } => crate::backfill::windows(
                    crate::backfill::Period::of(&spec, &report.options, length.num_days()),
                    from,
                    to,
                    lookback.map(|limit| limit.date_naive() + TimeDelta::days(1)),
                    latest.end.date_naive(),
                ),
                Span::Starting(day) => {
                    let start = day.and_time(NaiveTime::MIN).and_utc();
                    let window = DataWindow {
                        start,
                        end: start + length,
                    };
                    if window.end <= latest.end {
                        vec![window]
                    } else {
                        vec![]
                    }
                }
                Span::CatchUp => (0..catch_up)
                    .rev()
                    .map(|back| {
                        let shift = length * i32::try_from(back).unwrap_or(i32::MAX);
                        DataWindow {
                            start: latest.start - shift,
                            end: latest.end - shift,
                        }
                    })
                    .collect(),
            };
            let retention = spec
                .retention_days
                .map(TimeDelta::days)
                .or_else(|| source.retention());
            let patience = report
                .patience
                .as_deref()
                .and_then(|p| parse_duration(p).ok())
                .unwrap_or_else(|| source.patience());
            let patience_secs = u32::try_from(patience.num_seconds()).unwrap_or(u32::MAX);
            // Amazon Ads takes at most this many days per request: longer windows are
            // requested in consecutive parts, each a request of its own.
            let max_days = crate::ads::report_type(&report.report_type)
                .filter(|_| source.api == Api::AmazonAds)
                .map(|rt| rt.max_window_days);
            for who in self.requesters(report, &spec, source.api) {
                for window in &windows {
                    let parts =
                        max_days.map_or_else(|| vec![*window], |days| window.split_days(days));
                    for part in parts {
                        let request = ReportRequest {
                            account: who.account.clone(),
                            selling_partner_id: who.selling_partner_id.clone(),
                            source: report.source.clone(),
                            report_type: report.report_type.clone(),
                            marketplace_ids: vec![who.marketplace.clone()],
                            window: part,
                            options: report.options.clone(),
                            query: report.data_kiosk.clone(),
                            ads: report.ads.clone(),
                            amc: report.amc.as_ref().and_then(|spec| {
                                let instance = self.amc_instances.get(&spec.instance)?;
                                Some(crate::amc::AmcRequest::new(spec, instance))
                            }),
                        };
                        planned.push(Candidate {
                            planned: PlannedRequest {
                                report: name.clone(),
                                key: request.key(),
                                request,
                                region: who.region,
                                completion: source.completion,
                                await_timeout_secs: report.await_timeout_secs,
                                patience_secs,
                                supersedes: None,
                                endpoints: who.endpoints.clone(),
                                secret_arn: who.secret_arn.clone(),
                                config_version: version.clone(),
                                page: None,
                                amc_limits: report
                                    .amc
                                    .as_ref()
                                    .and_then(|spec| self.amc_instances.get(&spec.instance))
                                    .map(|instance| AmcLimits {
                                        parallel: instance.parallel_executions,
                                        daily: instance.daily_executions,
                                    }),
                            },
                            beyond_lookback: lookback.is_some_and(|limit| part.start < limit),
                            retention,
                            restated_at: restatement.iter().map(|age| part.end + *age).collect(),
                            run_at: now,
                        });
                    }
                }
            }
        }
        planned
    }

    /// Who requests a report: each account and marketplace it covers, or for Amazon Ads
    /// each profile of its Ads accounts (the profile id standing for the selling partner).
    fn requesters(&self, report: &ReportConfig, spec: &ReportTypeSpec, api: Api) -> Vec<Requester> {
        let named = |name: &String| report.accounts.is_empty() || report.accounts.contains(name);
        let in_report = |marketplace: &String| {
            report.marketplaces.is_empty() || report.marketplaces.contains(marketplace)
        };
        let mut requesters = Vec::new();
        if api == Api::AmazonMarketingCloud {
            // One requester: the instance, with its Ads account's region and secret.
            let resolved = report.amc.as_ref().and_then(|amc| {
                let instance = self.amc_instances.get(&amc.instance)?;
                let account = self.ads_accounts.get(&instance.ads_account)?;
                let endpoints = self.regions.get(&account.region)?;
                Some(Requester {
                    account: amc.instance.clone(),
                    selling_partner_id: instance.instance_id.clone(),
                    marketplace: instance.marketplace.clone(),
                    region: account.region,
                    endpoints: endpoints.clone(),
                    secret_arn: account.secret_arn.clone(),
                })
            });
            return resolved.into_iter().collect();
        }
        if api == Api::AmazonAds {
            for (name, account) in self.ads_accounts.iter().filter(|(n, _)| named(n)) {
                // Validation refused accounts of regions without endpoints.
                let Some(endpoints) = self.regions.get(&account.region) else {
                    continue;
                };
                for profile in account
                    .profiles
                    .iter()
                    .filter(|p| in_report(&p.marketplace))
                {
                    requesters.push(Requester {
                        account: name.clone(),
                        selling_partner_id: profile.profile_id.to_string(),
                        marketplace: profile.marketplace.clone(),
                        region: account.region,
                        endpoints: endpoints.clone(),
                        secret_arn: account.secret_arn.clone(),
                    });
                }
            }
            return requesters;
        }
        let accounts = self.accounts.iter().filter(|(name, account)| {
            if report.accounts.is_empty() {
                spec.audience.is_none_or(|kind| kind == account.kind)
            } else {
                named(name)
            }
        });
        for (name, account) in accounts {
            let Some(endpoints) = self.regions.get(&account.region) else {
                continue;
            };
            for marketplace in account.marketplaces.iter().filter(|m| in_report(m)) {
                requesters.push(Requester {
                    account: name.clone(),
                    selling_partner_id: account.selling_partner_id.clone(),
                    marketplace: marketplace.clone(),
                    region: account.region,
                    endpoints: endpoints.clone(),
                    secret_arn: account.secret_arn.clone(),
                });
            }
        }
        requesters
    }
}

/// One account (or advertising profile) in one marketplace, as a report's requests name it.
struct Requester {
    account: String,
    selling_partner_id: String,
    marketplace: String,
    region: Region,
    endpoints: RegionEndpoints,
    secret_arn: String,
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
            catch_up: Some(1),
            patience: None,
            data_kiosk: None,
            ads: None,
            restatement: None,
            amc: None,
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
            ads_accounts: BTreeMap::new(),
            amc_instances: BTreeMap::new(),
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

    fn requests(config: &Config, reports: &[&str]) -> Vec<PlannedRequest> {
        let reports: Vec<String> = reports.iter().map(|r| r.to_string()).collect();
        config
            .plan(now(), &reports)
            .into_iter()
            .map(|c| c.planned)
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn plan_expands_reports_accounts_and_marketplaces() {
        let plan = requests(&config(), &[]);
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
        let a = requests(&config(), &[]);
        assert_eq!(a, requests(&config(), &[]));
        let mut keys: Vec<_> = a.iter().map(|p| p.key.clone()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), a.len());
        assert!(a.iter().all(|p| p.key == p.request.key()));
    }

    #[test]
    fn each_request_carries_its_accounts_endpoints_and_secret_and_the_config_version() {
        let config = config();
        let plan = requests(&config, &[]);
        let jp = plan.iter().find(|p| p.request.account == "jp").unwrap();
        assert_eq!(jp.endpoints, config.regions[&Region::Fe]);
        assert_eq!(jp.secret_arn, config.accounts["jp"].secret_arn);
        assert!(plan.iter().all(|p| p.config_version == config.version()));
    }

    #[test]
    fn plan_can_be_limited_to_named_reports() {
        let plan = requests(&config(), &["vendor-sales"]);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].request.selling_partner_id, "A1VE");
    }

    #[test]
    fn report_marketplaces_narrow_the_accounts_marketplaces() {
        let mut config = config();
        config.reports.get_mut("us-only").unwrap().marketplaces = vec!["A2EUQ1WTGCTBG2".into()];
        let plan = requests(&config, &["us-only"]);
        assert_eq!(plan.len(), 1);
        assert_eq!(
            plan[0].request.marketplace_ids,
            vec!["A2EUQ1WTGCTBG2".to_owned()]
        );
    }

    fn orders(catch_up: Option<u32>) -> Vec<Candidate> {
        let mut config = config();
        config.reports.get_mut("orders").unwrap().catch_up = catch_up;
        config
            .plan(now(), &["orders".to_owned()])
            .into_iter()
            .filter(|c| c.planned.request.account == "jp")
            .collect()
    }

    #[test]
    fn a_run_covers_the_trailing_catch_up_windows_oldest_first() {
        let dates = |candidates: Vec<Candidate>| -> Vec<String> {
            candidates
                .iter()
                .map(|c| c.planned.request.window.data_date().to_string())
                .collect()
        };
        assert_eq!(
            dates(orders(Some(3))),
            vec!["2026-11-22", "2026-11-23", "2026-11-24"]
        );
        // The catalog's seven for SP-API reports when the config says nothing.
        assert_eq!(dates(orders(None)).len(), 7);
        let windows = orders(Some(3));
        assert!(windows.iter().all(|c| !c.beyond_lookback));
        assert_eq!(windows[0].retention, Some(TimeDelta::days(30)));
        assert_eq!(windows[0].planned.patience_secs, 6 * 3600);
    }

    #[test]
    fn a_run_for_one_window_covers_only_that_day_and_only_once_it_is_complete() {
        let mut config = config();
        config.reports.get_mut("orders").unwrap().catch_up = Some(3);
        let day = |d: &str| d.parse::<NaiveDate>().ok();
        let orders = ["orders".to_owned()];
        let one = config.plan_window(now(), &orders, day("2026-11-01"));
        let catch_up = config.plan(now(), &orders);
        // One window per account and marketplace, where the catch-up run has three.
        assert_eq!(one.len() * 3, catch_up.len());
        assert!(one.iter().all(|c| {
            let window = c.planned.request.window;
            window.data_date().to_string() == "2026-11-01" && window.length() == TimeDelta::days(1)
        }));
        // The latest complete day is the 24th at 06:00 on the 25th; the 25th is not over.
        assert!(
            !config
                .plan_window(now(), &orders, day("2026-11-24"))
                .is_empty()
        );
        assert!(
            config
                .plan_window(now(), &orders, day("2026-11-25"))
                .is_empty()
        );
    }

    #[test]
    fn windows_before_the_lookback_limit_are_marked() {
        let mut config = config();
        let vendor = config.reports.get_mut("us-only").unwrap();
        vendor.catch_up = Some(92);
        vendor.window = "P10D".into();
        let candidates = config.plan(now(), &["us-only".to_owned()]);
        // GET_SALES_AND_TRAFFIC_REPORT looks back 730 days; 92 windows of 10 days reach 920.
        let beyond = candidates.iter().filter(|c| c.beyond_lookback).count();
        assert!(beyond > 0 && beyond < candidates.len(), "{beyond}");
    }

    /// The test config with one Ads account of two profiles and a Sponsored Products
    /// campaigns report of `window`.
    fn with_ads(window: &str) -> Config {
        let mut config = config();
        config.ads_accounts.insert(
            "brand".into(),
            crate::config::AdsAccount {
                region: Region::Na,
                secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:ads".into(),
                profiles: vec![
                    crate::config::AdsProfileRef {
                        profile_id: 111,
                        marketplace: "ATVPDKIKX0DER".into(),
                    },
                    crate::config::AdsProfileRef {
                        profile_id: 222,
                        marketplace: "A2EUQ1WTGCTBG2".into(),
                    },
                ],
            },
        );
        let ads = serde_json::from_value(serde_json::json!({
            "group_by": ["campaign"],
            "columns": ["date", "campaignId", "impressions", "cost"],
            "time_unit": "DAILY"
        }))
        .unwrap();
        config.reports.insert(
            "sp-campaigns".into(),
            ReportConfig {
                source: Source::new("ads-reports"),
                report_type: "spCampaigns".into(),
                marketplaces: vec!["ATVPDKIKX0DER".into()],
                window: window.into(),
                ads: Some(ads),
                restatement: Some(vec![]),
                ..config.reports["orders"].clone()
            },
        );
        config
    }

    #[test]
    fn ads_reports_are_requested_per_profile_and_split_into_31_days() {
        let config = with_ads("P40D");
        let plan = config.plan(now(), &["sp-campaigns".to_owned()]);
        let parts: Vec<(&str, i64, String)> = plan
            .iter()
            .map(|c| {
                let request = &c.planned.request;
                (
                    request.selling_partner_id.as_str(),
                    request.window.length().num_days(),
                    request.window.data_date().to_string(),
                )
            })
            .collect();
        assert_eq!(
            parts,
            vec![
                ("111", 31, "2026-10-16".into()),
                ("111", 9, "2026-11-16".into())
            ],
            "the profile in the report's marketplace only, 40 days as 31 + 9"
        );
        let first = &plan[0].planned;
        assert_eq!(first.request.account, "brand");
        assert_eq!(first.request.ads_profile(), Some(111));
        assert_eq!(first.completion, Completion::Polling);
        assert_eq!(first.secret_arn, config.ads_accounts["brand"].secret_arn);
        assert_ne!(plan[0].planned.key, plan[1].planned.key);
        // spCampaigns data is kept 95 days.
        let old = with_ads("P1D").plan_window(
            now(),
            &["sp-campaigns".to_owned()],
            "2026-08-01".parse().ok(),
        );
        assert!(old.len() == 1 && old[0].beyond_lookback, "{old:?}");
    }

    #[test]
    fn a_landed_window_is_requested_again_once_each_restatement_passes() {
        let mut config = with_ads("P1D");
        // The type's own: restated at 1, 7 and 28 days.
        config.reports.get_mut("sp-campaigns").unwrap().restatement = None;
        let plan = config.plan(now(), &["sp-campaigns".to_owned()]);
        assert_eq!(
            plan.len(),
            29,
            "every window still to be restated is covered"
        );
        let landed_at = |at: DateTime<Utc>| Previous {
            report_id: Some("r1".into()),
            requested_at: Some(at),
            status: Some(ProcessingStatus::Done),
            ended: Some(Ended::Landed),
        };
        let day = |date: &str| {
            plan.iter()
                .find(|c| c.planned.request.window.data_date().to_string() == date)
                .unwrap()
                .clone()
        };
        // The 24th (ends the 25th 00:00) landed at 01:00 on the 25th: not restated yet.
        let yesterday = day("2026-11-24");
        let early = now() - TimeDelta::hours(5);
        assert_eq!(
            yesterday
                .clone()
                .decide(Some(&landed_at(early)), now(), false),
            Decision::Skip
        );
        // The 23rd landed on the 24th: its one-day restatement (the 25th 00:00) passed.
        let day_before = day("2026-11-23");
        let on_the_24th = now() - TimeDelta::days(1);
        assert_eq!(
            supersedes(
                day_before
                    .clone()
                    .decide(Some(&landed_at(on_the_24th)), now(), false)
            ),
            Some("r1".into())
        );
        // Landed again after it: skipped until the seven-day restatement.
        assert_eq!(
            day_before.decide(Some(&landed_at(now())), now(), false),
            Decision::Skip
        );
        // The oldest window covered ended 28 days ago: its last restatement is due.
        let oldest = &plan[0];
        assert_eq!(
            oldest.planned.request.window.end,
            now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc() - TimeDelta::days(28)
        );
        let landed_before = landed_at(oldest.planned.request.window.end + TimeDelta::days(8));
        assert!(matches!(
            oldest.clone().decide(Some(&landed_before), now(), false),
            Decision::Request(_)
        ));
    }

    fn previous(ended: Option<Ended>, status: Option<ProcessingStatus>) -> Previous {
        Previous {
            report_id: Some("5001".into()),
            requested_at: Some(now() - TimeDelta::days(1)),
            status,
            ended,
        }
    }

    fn decide(previous: Option<&Previous>, refresh: bool) -> Decision {
        orders(Some(1)).remove(0).decide(previous, now(), refresh)
    }

    fn supersedes(decision: Decision) -> Option<String> {
        match decision {
            Decision::Request(planned) => planned.supersedes,
            other => panic!("not requested: {other:?}"),
        }
    }

    #[test]
    fn landed_windows_are_skipped_unless_refreshed_and_then_replaced() {
        let landed = previous(Some(Ended::Landed), Some(ProcessingStatus::Done));
        assert_eq!(decide(Some(&landed), false), Decision::Skip);
        assert_eq!(supersedes(decide(Some(&landed), true)), Some("5001".into()));
        assert_eq!(supersedes(decide(None, true)), None);
    }

    #[test]
    fn a_window_that_failed_reuses_its_report_when_the_report_can_still_give_data() {
        let failed_store = previous(
            Some(Ended::Failed("Unauthorized".into())),
            Some(ProcessingStatus::Done),
        );
        assert_eq!(supersedes(decide(Some(&failed_store), false)), None);
        let in_flight = previous(None, Some(ProcessingStatus::InProgress));
        assert_eq!(supersedes(decide(Some(&in_flight), false)), None);
        assert_eq!(supersedes(decide(None, false)), None);
    }

    #[test]
    fn fatal_cancelled_stuck_gone_or_old_reports_are_never_reused() {
        let cases = [
            previous(Some(Ended::Fatal), Some(ProcessingStatus::Fatal)),
            previous(None, Some(ProcessingStatus::Cancelled)),
            previous(
                Some(Ended::Failed("ReportStuck".into())),
                Some(ProcessingStatus::InQueue),
            ),
            previous(
                Some(Ended::Failed("ReportGone".into())),
                Some(ProcessingStatus::Done),
            ),
            Previous {
                // Order reports are kept 30 days.
                requested_at: Some(now() - TimeDelta::days(30)),
                ..previous(
                    Some(Ended::Failed("Throttled".into())),
                    Some(ProcessingStatus::Done),
                )
            },
        ];
        for case in cases {
            assert_eq!(
                supersedes(decide(Some(&case), false)),
                Some("5001".into()),
                "{case:?}"
            );
        }
    }

    #[test]
    fn windows_beyond_the_lookback_are_expired_once_and_never_requested() {
        let mut candidate = orders(Some(1)).remove(0);
        candidate.beyond_lookback = true;
        let failed = previous(Some(Ended::Failed("Throttled".into())), None);
        assert!(matches!(
            candidate.clone().decide(Some(&failed), now(), false),
            Decision::Expire(_)
        ));
        assert!(matches!(
            candidate.clone().decide(None, now(), true),
            Decision::Expire(_)
        ));
        let expired = previous(Some(Ended::Expired), None);
        assert_eq!(
            candidate.clone().decide(Some(&expired), now(), false),
            Decision::Skip
        );
        let landed = previous(Some(Ended::Landed), None);
        assert_eq!(candidate.decide(Some(&landed), now(), true), Decision::Skip);
    }
}
