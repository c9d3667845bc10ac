//! The configuration model and its validation.
//!
//! Config lives in Parameter Store under `/sp-ingest/<stage>/` as one JSON value per
//! parameter (design.md "Configuration"):
//!
//! | parameter | holds |
//! |---|---|
//! | `regions/<na\|eu\|fe>` | SP-API endpoint, LWA endpoint, AWS region |
//! | `marketplaces` | marketplace id → country, region |
//! | `accounts/<name>` | selling partner id, seller or vendor, region, marketplaces, secret ARN |
//! | `reports/<name>` | source, report type, accounts, marketplaces, options, window, lag, schedule |
//!
//! Validation collects every problem, not just the first, and each error names the
//! parameter path, the field and what is allowed, because the reader is an operator
//! looking at a failed deployment, not the code.

use std::collections::BTreeMap;
use std::fmt;

use chrono::TimeDelta;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ads::AdsReportSpec;
use crate::amc::AmcInstance;
use crate::catalog::{Api, Catalog};
use crate::data_kiosk::QuerySpec;
use crate::marketplace::{MARKETPLACES, Region, marketplace};
use crate::report_type::{AccountKind, ReportTypeSpec, is_report_type_name};
use crate::request::Source;
use crate::schedule::{parse_duration, validate_schedule};

/// The root every stage's parameters live under.
pub const PARAMETER_ROOT: &str = "/sp-ingest";

/// `regions/<code>`: where to reach Amazon for one SP-API region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionEndpoints {
    /// SP-API host, e.g. `https://sellingpartnerapi-na.amazon.com` (or a simulator).
    pub spapi_endpoint: String,
    /// LWA token URL, e.g. `https://api.amazon.com/auth/o2/token`.
    pub lwa_endpoint: String,
    /// AWS region Amazon runs the SP-API region in.
    pub aws_region: String,
    /// Amazon Ads API host for the region; Amazon's production host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads_endpoint: Option<String>,
    /// LWA token URL for the region's Amazon Ads refresh tokens; `lwa_endpoint` when
    /// absent. Amazon Ads documents regional token hosts (`https://api.amazon.co.uk/…`
    /// for EU, `https://api.amazon.co.jp/…` for FE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads_lwa_endpoint: Option<String>,
}

impl RegionEndpoints {
    /// Amazon's production endpoints for `region`.
    pub fn production(region: Region) -> Self {
        RegionEndpoints {
            spapi_endpoint: region.production_endpoint().to_owned(),
            lwa_endpoint: crate::marketplace::LWA_TOKEN_ENDPOINT.to_owned(),
            aws_region: region.aws_region().to_owned(),
            ads_endpoint: None,
            ads_lwa_endpoint: None,
        }
    }

    /// The LWA token URL for Amazon Ads refresh tokens, as configured.
    pub fn ads_lwa(&self) -> &str {
        self.ads_lwa_endpoint
            .as_deref()
            .unwrap_or(&self.lwa_endpoint)
    }

    /// The Amazon Ads API host of `region` as configured (production by default).
    pub fn ads_host(&self, region: Region) -> &str {
        self.ads_endpoint
            .as_deref()
            .unwrap_or(region.ads_production_endpoint())
    }
}

/// `ads_accounts/<name>`: one Amazon Ads account — its own LWA refresh token (scope
/// `advertising::campaign_management`) — and the profiles to fetch reports for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsAccount {
    /// The region whose Ads host serves the profiles (refresh tokens are per region).
    pub region: Region,
    /// Secrets Manager ARN holding the LWA client id, client secret and refresh token.
    pub secret_arn: String,
    /// The profiles (`sp-ingest ads profiles` lists them), each with its marketplace.
    pub profiles: Vec<AdsProfileRef>,
}

/// A profile of an Ads account, as config names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsProfileRef {
    /// `profileId`.
    pub profile_id: u64,
    /// The profile's marketplace (its `accountInfo.marketplaceStringId`).
    pub marketplace: String,
}

/// One entry of the `marketplaces` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketplaceEntry {
    /// Country code as Amazon lists it.
    pub country: String,
    /// SP-API region serving it.
    pub region: Region,
}

/// `accounts/<name>`: one selling partner authorisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The selling partner (merchant) id.
    pub selling_partner_id: String,
    /// Seller or vendor.
    pub kind: AccountKind,
    /// The SP-API region the refresh token is for.
    pub region: Region,
    /// Marketplaces the account sells in (all in `region`).
    pub marketplaces: Vec<String>,
    /// Secrets Manager ARN holding LWA client id, client secret and refresh token.
    pub secret_arn: String,
}

/// `reports/<name>`: one report to ingest on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Where the data comes from.
    pub source: Source,
    /// The SP-API reportType.
    pub report_type: String,
    /// Account names; empty = every account of a kind allowed to request the type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Marketplace ids; empty = each account's own marketplaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marketplaces: Vec<String>,
    /// reportOptions passed to createReport.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Length of each data window, ISO 8601 (`P1D`).
    pub window: String,
    /// How far behind now the window ends (`P0D` = up to today's midnight UTC).
    #[serde(default = "no_lag")]
    pub lag: String,
    /// EventBridge Scheduler expression.
    pub schedule: String,
    /// How long to wait for the notification before polling (AwaitReport TimeoutSeconds).
    #[serde(default = "default_await_timeout_secs")]
    pub await_timeout_secs: u32,
    /// How many trailing windows each run covers (requesting those not landed yet);
    /// the catalog's value for the type when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<u32>,
    /// How long a report may stay queued or in progress before it is given up
    /// (`ReportStuck`), ISO 8601; the source's patience from the catalog when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<String>,
    /// The query, for source `data-kiosk` (whose `report_type` is the dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_kiosk: Option<QuerySpec>,
    /// The report's configuration, for source `ads-reports` (whose `report_type` is the
    /// `reportTypeId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads: Option<AdsReportSpec>,
    /// The execution's instance and settings, for source `amc-workflows` (whose
    /// `report_type` is the workflow id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amc: Option<crate::amc::AmcExecutionSpec>,
    /// Ages after a window's end at which it is requested again because Amazon restates
    /// its figures (`["P7D"]`), ISO 8601; the report type's when absent, `[]` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restatement: Option<Vec<String>>,
}

/// The most trailing windows a run covers; each is a request looked up every run.
pub const MAX_CATCH_UP: u32 = 92;

fn no_lag() -> String {
    "P0D".to_owned()
}

fn default_await_timeout_secs() -> u32 {
    900
}

/// The whole validated configuration of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Deployment stage, e.g. `prod` or `local`.
    pub stage: String,
    /// Endpoints per SP-API region.
    pub regions: BTreeMap<Region, RegionEndpoints>,
    /// Marketplaces known to this deployment.
    pub marketplaces: BTreeMap<String, MarketplaceEntry>,
    /// Accounts by name.
    pub accounts: BTreeMap<String, Account>,
    /// Amazon Ads accounts by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ads_accounts: BTreeMap<String, AdsAccount>,
    /// Amazon Marketing Cloud instances by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub amc_instances: BTreeMap<String, AmcInstance>,
    /// Reports by name.
    pub reports: BTreeMap<String, ReportConfig>,
}

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Full parameter path, e.g. `/sp-ingest/prod/accounts/acme`.
    pub parameter: String,
    /// Field inside the parameter's JSON, e.g. `marketplaces[1]` (empty = the whole value).
    pub field: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "parameter {}: {}", self.parameter, self.problem)
        } else {
            write!(
                f,
                "parameter {}, field {}: {}",
                self.parameter, self.field, self.problem
            )
        }
    }
}

/// Every problem found in a configuration (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration is invalid ({} problem{}):",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    /// Whether some error is about `parameter` (a path suffix such as `accounts/acme`)
    /// and `field`.
    pub fn mentions(&self, parameter: &str, field: &str) -> bool {
        self.0
            .iter()
            .any(|e| e.parameter.ends_with(parameter) && e.field == field)
    }
}

/// The parameter prefix of a stage: `/sp-ingest/<stage>/`.
pub fn stage_prefix(stage: &str) -> String {
    format!("{PARAMETER_ROOT}/{stage}/")
}

struct Collector {
    prefix: String,
    errors: Vec<ConfigError>,
}

impl Collector {
    fn push(&mut self, name: &str, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(ConfigError {
            parameter: format!("{}{name}", self.prefix),
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn parse<T: DeserializeOwned>(&mut self, name: &str, json: &str) -> Option<T> {
        let mut de = serde_json::Deserializer::from_str(json);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(value) => Some(value),
            Err(err) => {
                let path = err.path().to_string();
                let inner = err.into_inner();
                let syntax = matches!(
                    inner.classify(),
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof
                );
                let problem = inner.to_string();
                let problem = problem
                    .split(" at line ")
                    .next()
                    .unwrap_or(&problem)
                    .to_owned();
                let (field, problem) = match problem
                    .strip_prefix("missing field `")
                    .and_then(|r| r.strip_suffix('`'))
                {
                    Some(name) if path == "." => (name.to_owned(), "is required".to_owned()),
                    Some(name) => (format!("{path}.{name}"), "is required".to_owned()),
                    None if syntax => (String::new(), format!("not valid JSON: {problem}")),
                    None if path == "." => (
                        String::new(),
                        format!("not valid for this parameter: {problem}"),
                    ),
                    None => (path, problem),
                };
                self.push(name, field, problem);
                None
            }
        }
    }
}

fn is_config_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A stage name fits bucket names (no `_`) and Glue database names (no `-`).
fn is_stage_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 32
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_endpoint(url: &str) -> bool {
    // Plain http only for a local simulator; Amazon is always https.
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    let host_start = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if local.iter().any(|l| url.starts_with(l)) {
        &url["http://".len()..]
    } else {
        return false;
    };
    !host_start.is_empty() && !host_start.contains(char::is_whitespace)
}

/// Whether an endpoint may receive the app's client secret and the sellers' tokens: one
/// of Amazon's hosts, or this machine (the simulator). The config decides where the
/// secret goes, so a typo or a hostile config must not send it elsewhere.
pub fn is_trusted_endpoint(url: &str) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, rest)| rest) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    let amazon = [
        "amazon.com",
        "amazon.co.uk",
        "amazon.co.jp",
        "amazon.eu",
        "amazonaws.com",
    ];
    matches!(name.as_str(), "127.0.0.1" | "localhost" | "[::1]")
        || amazon
            .iter()
            .any(|domain| name == *domain || name.ends_with(&format!(".{domain}")))
}

fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

fn is_secret_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "secretsmanager"
        && is_aws_region(parts[3])
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
}

impl Config {
    /// The configured reports' names, for messages (`orders, sales-by-date`).
    pub fn report_names(&self) -> String {
        self.reports.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Builds and validates a stage's config from its parameters (full path → JSON value),
    /// as GetParametersByPath returns them.
    pub fn from_parameters<I, P, V>(stage: &str, parameters: I) -> Result<Config, ConfigErrors>
    where
        I: IntoIterator<Item = (P, V)>,
        P: AsRef<str>,
        V: AsRef<str>,
    {
        let prefix = stage_prefix(stage);
        let mut c = Collector {
            prefix: prefix.clone(),
            errors: Vec::new(),
        };
        let mut config = Config {
            stage: stage.to_owned(),
            regions: BTreeMap::new(),
            marketplaces: BTreeMap::new(),
            accounts: BTreeMap::new(),
            ads_accounts: BTreeMap::new(),
            amc_instances: BTreeMap::new(),
            reports: BTreeMap::new(),
        };
        let mut saw_marketplaces = false;
        for (path, json) in parameters {
            let (path, json) = (path.as_ref(), json.as_ref());
            let Some(name) = path.strip_prefix(&prefix) else {
                c.errors.push(ConfigError {
                    parameter: path.to_owned(),
                    field: String::new(),
                    problem: format!(
                        "is not under {prefix}; every parameter of stage `{stage}` must be"
                    ),
                });
                continue;
            };
            match name.split_once('/') {
                None if name == "marketplaces" => {
                    saw_marketplaces = true;
                    if let Some(map) = c.parse(name, json) {
                        config.marketplaces = map;
                    }
                }
                Some(("regions", code)) => match code.parse::<Region>() {
                    Ok(region) => {
                        if let Some(endpoints) = c.parse(name, json) {
                            config.regions.insert(region, endpoints);
                        }
                    }
                    Err(problem) => c.push(name, "", problem),
                },
                Some(("accounts", account)) if is_config_name(account) => {
                    if let Some(value) = c.parse(name, json) {
                        config.accounts.insert(account.to_owned(), value);
                    }
                }
                Some(("reports", report)) if is_config_name(report) => {
                    if let Some(value) = c.parse(name, json) {
                        config.reports.insert(report.to_owned(), value);
                    }
                }
                Some(("ads_accounts", account)) if is_config_name(account) => {
                    if let Some(value) = c.parse(name, json) {
                        config.ads_accounts.insert(account.to_owned(), value);
                    }
                }
                Some(("amc_instances", instance)) if is_config_name(instance) => {
                    if let Some(value) = c.parse(name, json) {
                        config.amc_instances.insert(instance.to_owned(), value);
                    }
                }
                Some(("accounts" | "reports" | "ads_accounts" | "amc_instances", bad)) => {
                    c.push(name, "", format!("name `{bad}` must be 1-64 characters of a-z, 0-9, `-`, `_`"))
                }
                _ => c.push(
                    name,
                    "",
                    "unknown parameter; expected regions/<na|eu|fe>, marketplaces, accounts/<name>, ads_accounts/<name>, amc_instances/<name> or reports/<name>",
                ),
            }
        }
        if !saw_marketplaces {
            c.push("marketplaces", "", "is missing; it maps each marketplace id used by accounts to its country and region");
        }
        config.check(&mut c, Catalog::builtin());
        if c.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(c.errors))
        }
    }

    /// Validates a config built in code or read from a file (the same rules as
    /// [`Config::from_parameters`]).
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        self.validate_with(Catalog::builtin())
    }

    /// Validates against `catalog` instead of the built-in one.
    pub fn validate_with(&self, catalog: &Catalog) -> Result<(), ConfigErrors> {
        let mut c = Collector {
            prefix: stage_prefix(&self.stage),
            errors: Vec::new(),
        };
        self.check(&mut c, catalog);
        if c.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(c.errors))
        }
    }

    /// A short fingerprint of this config (16 hex characters of a SHA-256 over its
    /// parameters in path order): a run records the version it planned with, and two
    /// pushes of the same content have the same version.
    pub fn version(&self) -> String {
        let mut parameters = self.to_parameters();
        parameters.sort();
        let mut digest = Sha256::new();
        for (path, value) in parameters {
            digest.update(path.as_bytes());
            digest.update(b"\n");
            digest.update(value.as_bytes());
            digest.update(b"\n");
        }
        hex::encode(&digest.finalize()[..8])
    }

    /// The parameters (full path, JSON value) that hold this config, for pushing it.
    pub fn to_parameters(&self) -> Vec<(String, String)> {
        let prefix = stage_prefix(&self.stage);
        let mut out = vec![(format!("{prefix}marketplaces"), json(&self.marketplaces))];
        out.extend(
            self.regions
                .iter()
                .map(|(r, v)| (format!("{prefix}regions/{r}"), json(v))),
        );
        out.extend(
            self.accounts
                .iter()
                .map(|(n, v)| (format!("{prefix}accounts/{n}"), json(v))),
        );
        out.extend(
            self.ads_accounts
                .iter()
                .map(|(n, v)| (format!("{prefix}ads_accounts/{n}"), json(v))),
        );
        out.extend(
            self.amc_instances
                .iter()
                .map(|(n, v)| (format!("{prefix}amc_instances/{n}"), json(v))),
        );
        out.extend(
            self.reports
                .iter()
                .map(|(n, v)| (format!("{prefix}reports/{n}"), json(v))),
        );
        out
    }

    fn check(&self, c: &mut Collector, catalog: &Catalog) {
        if !is_stage_name(&self.stage) {
            c.push(
                "",
                "",
                format!(
                    "stage `{}` must be a lower-case letter then up to 31 of a-z, 0-9 (it is part of bucket names and of the Glue database's, as in infra/template.yaml)",
                    self.stage
                ),
            );
        }
        for (region, endpoints) in &self.regions {
            let name = format!("regions/{region}");
            let ads = (endpoints.ads_endpoint.iter().map(|e| ("ads_endpoint", e))).chain(
                endpoints
                    .ads_lwa_endpoint
                    .iter()
                    .map(|e| ("ads_lwa_endpoint", e)),
            );
            for (field, value) in [
                ("spapi_endpoint", &endpoints.spapi_endpoint),
                ("lwa_endpoint", &endpoints.lwa_endpoint),
            ]
            .into_iter()
            .chain(ads)
            {
                if !is_endpoint(value) {
                    c.push(&name, field, format!("`{value}` must be an https:// URL (http:// only for 127.0.0.1 or localhost)"));
                } else if !is_trusted_endpoint(value) {
                    c.push(&name, field, format!("`{value}` is not an Amazon host (sellingpartnerapi-*.amazon.com, api.amazon.com) nor this machine; the client secret and the sellers' tokens are sent there"));
                }
            }
            if !is_aws_region(&endpoints.aws_region) {
                c.push(
                    &name,
                    "aws_region",
                    format!(
                        "`{}` is not an AWS region such as {}",
                        endpoints.aws_region,
                        region.aws_region()
                    ),
                );
            }
        }
        for (id, entry) in &self.marketplaces {
            match marketplace(id) {
                None => c.push(
                    "marketplaces",
                    id.as_str(),
                    format!(
                        "`{id}` is not an SP-API marketplace id; known ids: {}",
                        known_marketplaces()
                    ),
                ),
                Some(known) if known.region != entry.region => c.push(
                    "marketplaces",
                    format!("{id}.region"),
                    format!(
                        "{} ({id}) is served by region {}, not {}",
                        known.name, known.region, entry.region
                    ),
                ),
                Some(known) if known.country != entry.country => c.push(
                    "marketplaces",
                    format!("{id}.country"),
                    format!(
                        "{id} is {} ({}), not `{}`",
                        known.country, known.name, entry.country
                    ),
                ),
                Some(_) => {}
            }
        }
        for (name, account) in &self.accounts {
            self.check_account(c, &format!("accounts/{name}"), account);
        }
        // The account name is not part of the request key (renaming must not re-request
        // reports), so two accounts of one selling partner sharing a marketplace would plan
        // the same requests twice in one run and collide on one metadata item.
        let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for (name, account) in &self.accounts {
            for (i, marketplace) in account.marketplaces.iter().enumerate() {
                let key = (account.selling_partner_id.as_str(), marketplace.as_str());
                if let Some(first) = seen.insert(key, name) {
                    c.push(
                        &format!("accounts/{name}"),
                        format!("marketplaces[{i}]"),
                        format!("`{marketplace}` of selling partner {} is already account `{first}`'s; keep one account per selling partner and marketplace", account.selling_partner_id),
                    );
                }
            }
        }
        let mut profiles: BTreeMap<u64, &str> = BTreeMap::new();
        for (name, account) in &self.ads_accounts {
            self.check_ads_account(c, name, account, &mut profiles);
        }
        for (name, instance) in &self.amc_instances {
            self.check_amc_instance(c, &format!("amc_instances/{name}"), instance);
        }
        for (name, report) in &self.reports {
            self.check_report(c, catalog, &format!("reports/{name}"), report);
        }
        self.check_curated_partitions(c, catalog);
    }

    /// A curated partition is one seller's marketplace and day of a table: two reports
    /// of one curated type for the same seller and marketplace, with other options or
    /// another window, would replace each other's rows there, run after run. (With the
    /// same ones they make the same requests, which is harmless.)
    fn check_curated_partitions(&self, c: &mut Collector, catalog: &Catalog) {
        let curated = crate::curated::CuratedCatalog::builtin();
        let mut filled: BTreeMap<(String, String, String), (String, String)> = BTreeMap::new();
        for candidate in self.plan_with(
            catalog,
            chrono::DateTime::UNIX_EPOCH,
            &[],
            crate::plan::Span::CatchUp,
        ) {
            let planned = candidate.planned;
            let request = &planned.request;
            if curated.tables_for_request(request).is_empty() {
                continue;
            }
            // A Data Kiosk query fills its own tables; two with other fields or
            // arguments would replace each other's rows there too.
            let query = request.query.as_ref();
            let key = (
                format!(
                    "{}{}",
                    request.report_type,
                    query.map_or(String::new(), |q| format!(".{}", q.query))
                ),
                request.selling_partner_id.clone(),
                request.marketplace_ids.join("+"),
            );
            let shape = format!(
                "{:?} {:?} {:?} {:?}",
                request.window.length(),
                request.options,
                query,
                request.ads
            );
            match filled.get(&key) {
                Some((first, first_shape)) if *first_shape != shape && *first != planned.report => c.push(
                    &format!("reports/{}", planned.report),
                    "report_type",
                    format!(
                        "report `{first}` already fills the curated tables of {} for account `{}` in {} with another window or options; the two would replace each other's partitions — keep one",
                        request.report_type, request.account, key.2
                    ),
                ),
                Some(_) => {}
                None => {
                    filled.insert(key, (planned.report.clone(), shape));
                }
            }
        }
    }

    fn check_account(&self, c: &mut Collector, name: &str, account: &Account) {
        let id = &account.selling_partner_id;
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            c.push(name, "selling_partner_id", format!("`{id}` must be the selling partner id from Seller/Vendor Central, e.g. A3TH9S8BH6GOGM"));
        }
        if !self.regions.contains_key(&account.region) {
            c.push(
                name,
                "region",
                format!(
                    "region {} has no regions/{} parameter with its endpoints",
                    account.region, account.region
                ),
            );
        }
        if account.marketplaces.is_empty() {
            c.push(
                name,
                "marketplaces",
                "must list at least one marketplace id",
            );
        }
        for (i, id) in account.marketplaces.iter().enumerate() {
            let field = format!("marketplaces[{i}]");
            match self.marketplaces.get(id) {
                None => c.push(name, field, format!("`{id}` is not in the marketplaces parameter; known ids: {}", known_marketplaces())),
                Some(entry) if entry.region != account.region => c.push(
                    name,
                    field,
                    format!("`{id}` ({}) is in region {}, but the account is in region {}; one account (refresh token) serves one region", entry.country, entry.region, account.region),
                ),
                Some(_) => {}
            }
        }
        if !is_secret_arn(&account.secret_arn) {
            c.push(name, "secret_arn", format!("`{}` must be a Secrets Manager ARN, arn:aws:secretsmanager:<region>:<account>:secret:<name>", account.secret_arn));
        }
    }

    /// An Ads account: a region with endpoints, a secret, known profiles each in a
    /// marketplace of that region and named by one account only.
    fn check_ads_account<'a>(
        &self,
        c: &mut Collector,
        name: &'a str,
        account: &AdsAccount,
        profiles: &mut BTreeMap<u64, &'a str>,
    ) {
        let parameter = format!("ads_accounts/{name}");
        if !self.regions.contains_key(&account.region) {
            c.push(
                &parameter,
                "region",
                format!(
                    "there is no regions/{} parameter with the endpoints to reach it",
                    account.region
                ),
            );
        }
        if !is_secret_arn(&account.secret_arn) {
            c.push(&parameter, "secret_arn", format!("`{}` must be a Secrets Manager ARN, arn:aws:secretsmanager:<region>:<account>:secret:<name>", account.secret_arn));
        }
        if account.profiles.is_empty() {
            c.push(
                &parameter,
                "profiles",
                "name at least one profile; `sp-ingest ads profiles` lists the account's",
            );
        }
        for (i, profile) in account.profiles.iter().enumerate() {
            let field = format!("profiles[{i}]");
            if profile.profile_id == 0 {
                c.push(
                    &parameter,
                    format!("{field}.profile_id"),
                    "a profile id is a positive number, as `sp-ingest ads profiles` shows it",
                );
            }
            match self.marketplaces.get(&profile.marketplace) {
                None => c.push(
                    &parameter,
                    format!("{field}.marketplace"),
                    format!("`{}` is not in the marketplaces parameter", profile.marketplace),
                ),
                Some(entry) if entry.region != account.region => c.push(
                    &parameter,
                    format!("{field}.marketplace"),
                    format!(
                        "`{}` ({}) is in region {}, but the Ads account is in region {}; an Ads refresh token serves one region",
                        profile.marketplace, entry.country, entry.region, account.region
                    ),
                ),
                Some(_) => {}
            }
            if let Some(first) = profiles.insert(profile.profile_id, name) {
                c.push(
                    &parameter,
                    format!("{field}.profile_id"),
                    format!(
                        "profile {} is already Ads account `{first}`'s; name each profile once",
                        profile.profile_id
                    ),
                );
            }
        }
    }

    /// An AMC instance: its Ads account exists, its marketplace is in that account's
    /// region, its ids and limits have their shape.
    fn check_amc_instance(&self, c: &mut Collector, name: &str, instance: &AmcInstance) {
        match self.ads_accounts.get(&instance.ads_account) {
            None => c.push(
                name,
                "ads_account",
                format!(
                    "no Ads account `{}`; AMC is reached with an Ads account's credentials, configured: {}",
                    instance.ads_account,
                    self.ads_accounts.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ),
            Some(account) => match self.marketplaces.get(&instance.marketplace) {
                None => c.push(
                    name,
                    "marketplace",
                    format!("`{}` is not in the marketplaces parameter", instance.marketplace),
                ),
                Some(entry) if entry.region != account.region => c.push(
                    name,
                    "marketplace",
                    format!(
                        "`{}` is in region {}, but Ads account `{}` is in region {}",
                        instance.marketplace, entry.region, instance.ads_account, account.region
                    ),
                ),
                Some(_) => {}
            },
        }
        let id = |value: &str| {
            !value.is_empty()
                && value.len() <= 64
                && value.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !id(&instance.instance_id) {
            c.push(
                name,
                "instance_id",
                format!(
                    "`{}` is not an AMC instance id; `sp-ingest amc instances` lists them",
                    instance.instance_id
                ),
            );
        }
        if !id(&instance.advertiser_id) {
            c.push(
                name,
                "advertiser_id",
                format!(
                    "`{}` is not an AMC account id (ENTITY…); `sp-ingest amc accounts` lists them",
                    instance.advertiser_id
                ),
            );
        }
        if instance.parallel_executions == 0 {
            c.push(name, "parallel_executions", "must be at least 1");
        }
        if !(1..=crate::amc::DAILY_AD_HOC_EXECUTIONS).contains(&instance.daily_executions) {
            c.push(
                name,
                "daily_executions",
                format!(
                    "{} must be between 1 and AMC's {} ad-hoc executions a day",
                    instance.daily_executions,
                    crate::amc::DAILY_AD_HOC_EXECUTIONS
                ),
            );
        }
    }

    fn check_report(
        &self,
        c: &mut Collector,
        catalog: &Catalog,
        name: &str,
        report: &ReportConfig,
    ) {
        let Some(source) = catalog.source(&report.source) else {
            c.push(
                name,
                "source",
                format!(
                    "`{}` is not a source sp-ingest knows; known: {}",
                    report.source,
                    catalog.source_names()
                ),
            );
            return;
        };
        if source.api == Api::SpApiReports && !is_report_type_name(&report.report_type) {
            c.push(name, "report_type", format!("`{}` is not an SP-API reportType (GET_ followed by upper-case words, e.g. GET_SALES_AND_TRAFFIC_REPORT)", report.report_type));
            return;
        }
        match (source.api, &report.data_kiosk) {
            (Api::DataKiosk, None) => c.push(
                name,
                "data_kiosk",
                format!(
                    "is required for source {}: name the query and the fields, e.g. {{\"query\": \"salesAndTrafficByDate\", \"arguments\": {{\"aggregateBy\": \"DAY\"}}, \"fields\": [\"startDate\", \"sales.unitsOrdered\"]}}",
                    report.source
                ),
            ),
            (Api::SpApiReports | Api::AmazonAds | Api::AmazonMarketingCloud, Some(_)) => c.push(
                name,
                "data_kiosk",
                format!(
                    "only reports of source data-kiosk take a query; remove it or set source to data-kiosk (this report's source is {})",
                    report.source
                ),
            ),
            _ => {}
        }
        match (source.api, &report.ads) {
            (Api::AmazonAds, None) => c.push(
                name,
                "ads",
                format!(
                    "is required for source {}: name the groupBy, columns and time unit, e.g. {{\"group_by\": [\"campaign\"], \"columns\": [\"date\", \"campaignId\", \"impressions\", \"cost\"], \"time_unit\": \"DAILY\"}}",
                    report.source
                ),
            ),
            (Api::SpApiReports | Api::DataKiosk | Api::AmazonMarketingCloud, Some(_)) => c.push(
                name,
                "ads",
                format!(
                    "only reports of source ads-reports take an Amazon Ads config; remove it or set source to ads-reports (this report's source is {})",
                    report.source
                ),
            ),
            _ => {}
        }
        for (i, age) in report.restatement.iter().flatten().enumerate() {
            match parse_duration(age) {
                Err(problem) => c.push(name, format!("restatement[{i}]"), problem),
                Ok(d) if d <= TimeDelta::zero() || d > TimeDelta::days(MAX_CATCH_UP.into()) => c
                    .push(
                        name,
                        format!("restatement[{i}]"),
                        format!("{age} must be longer than zero and at most {MAX_CATCH_UP} days"),
                    ),
                Ok(_) => {}
            }
        }
        let Some(spec) = catalog.report_type(&report.source, &report.report_type) else {
            c.push(
                name,
                "report_type",
                format!(
                    "`{}` is not a report type of source {}; known: {}",
                    report.report_type,
                    report.source,
                    catalog.report_type_names(&report.source)
                ),
            );
            return;
        };
        if !spec.requestable {
            c.push(
                name,
                "report_type",
                format!(
                    "{} cannot be requested: Amazon generates it on its own schedule",
                    report.report_type
                ),
            );
        }
        for (option, value) in &report.options {
            if let Some(problem) = spec.option_problem(option, value) {
                c.push(name, format!("options.{option}"), problem);
            }
        }
        let accounts = match source.api {
            Api::AmazonAds => {
                self.check_ads_report(c, name, report);
                Vec::new()
            }
            Api::AmazonMarketingCloud => {
                self.check_amc_report(c, name, report);
                Vec::new()
            }
            Api::SpApiReports | Api::DataKiosk => {
                self.check_report_accounts(c, name, report, &spec)
            }
        };
        let window = parse_duration(&report.window);
        match &window {
            Err(problem) => c.push(name, "window", problem.clone()),
            Ok(w) if *w <= TimeDelta::zero() => {
                c.push(name, "window", "must be longer than zero, e.g. P1D")
            }
            Ok(w) => {
                if let Some(max) = spec.max_window().filter(|max| w > max) {
                    c.push(
                        name,
                        "window",
                        format!(
                            "{} is longer than {} allows ({} days at most per request)",
                            report.window,
                            report.report_type,
                            max.num_days()
                        ),
                    );
                }
            }
        }
        if let Err(problem) = parse_duration(&report.lag) {
            c.push(name, "lag", problem);
        }
        if let Err(problem) = validate_schedule(&report.schedule) {
            c.push(name, "schedule", problem);
        }
        if let Some(catch_up) = report.catch_up
            && !(1..=MAX_CATCH_UP).contains(&catch_up)
        {
            c.push(
                name,
                "catch_up",
                format!("{catch_up} must be between 1 (the latest window only) and {MAX_CATCH_UP} windows; use a backfill for more"),
            );
        }
        if let Some(patience) = &report.patience {
            match parse_duration(patience) {
                Err(problem) => c.push(name, "patience", problem),
                Ok(p) if p <= TimeDelta::zero() || p > TimeDelta::days(3) => c.push(
                    name,
                    "patience",
                    format!("{patience} must be longer than zero and at most P3D"),
                ),
                Ok(_) => {}
            }
        }
        if let (Api::DataKiosk, Some(query)) = (source.api, &report.data_kiosk) {
            let marketplaces = match (report.marketplaces.is_empty(), accounts.first()) {
                (false, _) => report.marketplaces.clone(),
                (true, Some((_, account))) => account.marketplaces.clone(),
                (true, None) => Vec::new(),
            };
            // Any day checks the dates' format; the window's own days come per request.
            let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
            if let Err(problems) = query.build(&report.report_type, (day, day), &marketplaces) {
                for problem in problems {
                    c.push(
                        name,
                        format!("data_kiosk.{}", problem.field),
                        problem.problem,
                    );
                }
            }
            if !report.options.is_empty() {
                c.push(
                    name,
                    "options",
                    "Data Kiosk takes no reportOptions; put the query's arguments in data_kiosk.arguments",
                );
            }
            // The curated table of the query needs its required columns' fields.
            for table in crate::curated::CuratedCatalog::builtin().tables_for(&report.report_type) {
                if !matches!(&table.layout, crate::curated::Layout::Jsonl { query: Some(q) } if *q == query.query)
                {
                    continue;
                }
                for path in table
                    .columns
                    .iter()
                    .filter(|column| column.required && query.preset.is_none())
                    .filter_map(crate::curated::Column::record_path)
                    .filter(|path| !query.fields.contains(path))
                {
                    c.push(
                        name,
                        "data_kiosk.fields",
                        format!(
                            "the curated table {} needs `{path}`: add it to the fields",
                            table.name
                        ),
                    );
                }
            }
        }
        // Step Functions caps a task's TimeoutSeconds at one year; a day is plenty for a report.
        if !(1..=86_400).contains(&report.await_timeout_secs) {
            c.push(
                name,
                "await_timeout_secs",
                format!(
                    "{} must be between 1 and 86400 seconds",
                    report.await_timeout_secs
                ),
            );
        }
    }

    /// The accounts a selling-partner report names (or, naming none, every account of a
    /// kind the type allows), each checked, and its marketplaces among theirs.
    fn check_report_accounts(
        &self,
        c: &mut Collector,
        name: &str,
        report: &ReportConfig,
        spec: &ReportTypeSpec,
    ) -> Vec<(&String, &Account)> {
        for (i, account) in report.accounts.iter().enumerate() {
            match self.accounts.get(account) {
                None => c.push(
                    name,
                    format!("accounts[{i}]"),
                    format!(
                        "no account `{account}`; configured accounts: {}",
                        self.accounts.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ),
                Some(a) if spec.audience.is_some_and(|kind| kind != a.kind) => c.push(
                    name,
                    format!("accounts[{i}]"),
                    format!(
                        "{} is for {:?} accounts; `{account}` is a {:?} account",
                        report.report_type,
                        spec.audience.unwrap_or(a.kind),
                        a.kind
                    )
                    .to_lowercase(),
                ),
                Some(_) => {}
            }
        }
        let accounts: Vec<(&String, &Account)> = if report.accounts.is_empty() {
            self.accounts
                .iter()
                .filter(|(_, a)| spec.audience.is_none_or(|kind| kind == a.kind))
                .collect()
        } else {
            report
                .accounts
                .iter()
                .filter_map(|n| self.accounts.get_key_value(n))
                .collect()
        };
        for (i, id) in report.marketplaces.iter().enumerate() {
            let field = format!("marketplaces[{i}]");
            if !self.marketplaces.contains_key(id) {
                c.push(
                    name,
                    field,
                    format!("`{id}` is not in the marketplaces parameter"),
                );
            } else if let Some((account, _)) =
                accounts.iter().find(|(_, a)| !a.marketplaces.contains(id))
            {
                c.push(
                    name,
                    field,
                    format!("`{id}` is not one of account `{account}`'s marketplaces"),
                );
            }
        }
        accounts
    }

    /// An Amazon Ads report: its `ads` config fits its report type, its accounts are Ads
    /// accounts, its marketplaces are their profiles'; its window is whole days.
    fn check_ads_report(&self, c: &mut Collector, name: &str, report: &ReportConfig) {
        let Some(ads) = &report.ads else {
            return;
        };
        for problem in ads.check(&report.report_type) {
            c.push(name, problem.field, problem.problem);
        }
        for (i, account) in report.accounts.iter().enumerate() {
            if !self.ads_accounts.contains_key(account) {
                c.push(
                    name,
                    format!("accounts[{i}]"),
                    format!(
                        "no Ads account `{account}`; an ads-reports report names ads_accounts, configured: {}",
                        self.ads_accounts.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        let profiles: Vec<&AdsProfileRef> = self
            .ads_accounts
            .iter()
            .filter(|(n, _)| report.accounts.is_empty() || report.accounts.contains(n))
            .flat_map(|(_, a)| &a.profiles)
            .collect();
        for (i, id) in report.marketplaces.iter().enumerate() {
            if !profiles.iter().any(|p| p.marketplace == *id) {
                c.push(
                    name,
                    format!("marketplaces[{i}]"),
                    format!("`{id}` is the marketplace of none of the report's Ads profiles"),
                );
            }
        }
        // The oldest window a run covers must still be kept by Amazon.
        if let (Some(rt), Some((length, lag))) = (
            crate::ads::report_type(&report.report_type),
            Config::window_of(report),
        ) {
            let windows = i32::try_from(report.catch_up.unwrap_or(1)).unwrap_or(i32::MAX);
            let reach = (lag + length * windows).num_days();
            if reach > rt.retention_days {
                let field = if report.catch_up.is_some() {
                    "catch_up"
                } else {
                    "window"
                };
                c.push(
                    name,
                    field,
                    format!(
                        "the run's oldest window starts {reach} days back, but Amazon keeps {} data {} days; its older days would never be requested — shorten the window or catch_up",
                        report.report_type, rt.retention_days
                    ),
                );
            }
        }
        for (field, value) in [("window", &report.window), ("lag", &report.lag)] {
            if parse_duration(value).is_ok_and(|d| d.num_seconds() % 86_400 != 0) {
                c.push(
                    name,
                    field,
                    format!(
                        "{value} is not whole days; Amazon Ads reports cover days (P1D, P7D, …)"
                    ),
                );
            }
        }
    }

    /// An AMC report: its instance is configured, its time zone a zone name; accounts
    /// and marketplaces come from the instance, so the report names none.
    fn check_amc_report(&self, c: &mut Collector, name: &str, report: &ReportConfig) {
        let Some(amc) = &report.amc else {
            c.push(
                name,
                "amc",
                format!(
                    "is required for source {}: name the instance, e.g. {{\"instance\": \"brand\", \"time_zone\": \"America/New_York\"}}",
                    report.source
                ),
            );
            return;
        };
        if !self.amc_instances.contains_key(&amc.instance) {
            c.push(
                name,
                "amc.instance",
                format!(
                    "no AMC instance `{}`; configured amc_instances: {}",
                    amc.instance,
                    self.amc_instances
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if !crate::amc::is_time_zone(&amc.time_zone) {
            c.push(
                name,
                "amc.time_zone",
                format!(
                    "`{}` is not a time zone name such as America/New_York or UTC",
                    amc.time_zone
                ),
            );
        }
        for (field, empty) in [
            ("accounts", report.accounts.is_empty()),
            ("marketplaces", report.marketplaces.is_empty()),
            ("options", report.options.is_empty()),
        ] {
            if !empty {
                c.push(name, field, "an AMC report takes its account and marketplace from its instance, and no options; remove it");
            }
        }
        for (field, value) in [("window", &report.window), ("lag", &report.lag)] {
            if parse_duration(value).is_ok_and(|d| d.num_seconds() % 86_400 != 0) {
                c.push(name, field, format!("{value} is not whole days; AMC windows run midnight to midnight in the time zone"));
            }
        }
    }

    /// Amazon's full marketplace table as a `marketplaces` parameter value.
    pub fn all_marketplaces() -> BTreeMap<String, MarketplaceEntry> {
        MARKETPLACES
            .iter()
            .map(|m| {
                (
                    m.id.to_owned(),
                    MarketplaceEntry {
                        country: m.country.to_owned(),
                        region: m.region,
                    },
                )
            })
            .collect()
    }

    /// The window length of a report, once validated.
    pub fn window_of(report: &ReportConfig) -> Option<(TimeDelta, TimeDelta)> {
        Some((
            parse_duration(&report.window).ok()?,
            parse_duration(&report.lag).ok()?,
        ))
    }
}

fn known_marketplaces() -> String {
    MARKETPLACES
        .iter()
        .map(|m| format!("{} ({})", m.id, m.country))
        .collect::<Vec<_>>()
        .join(", ")
}

fn json<T: Serialize>(value: &T) -> String {
    // Plain maps and structs of strings always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGE: &str = "dev";

    fn valid() -> Vec<(String, String)> {
        let p = |name: &str, json: serde_json::Value| {
            (format!("/sp-ingest/dev/{name}"), json.to_string())
        };
        vec![
            p(
                "regions/na",
                serde_json::json!({"spapi_endpoint": "https://sellingpartnerapi-na.amazon.com", "lwa_endpoint": "https://api.amazon.com/auth/o2/token", "aws_region": "us-east-1"}),
            ),
            p(
                "regions/fe",
                serde_json::json!({"spapi_endpoint": "http://127.0.0.1:9000", "lwa_endpoint": "http://127.0.0.1:9000/auth/o2/token", "aws_region": "us-west-2"}),
            ),
            p(
                "marketplaces",
                serde_json::to_value(Config::all_marketplaces()).unwrap(),
            ),
            p(
                "accounts/acme-us",
                serde_json::json!({"selling_partner_id": "A3TH9S8BH6GOGM", "kind": "seller", "region": "na", "marketplaces": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"], "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sp-ingest/acme-us"}),
            ),
            p(
                "accounts/acme-jp",
                serde_json::json!({"selling_partner_id": "A1JPSELLER0001", "kind": "seller", "region": "fe", "marketplaces": ["A1VC38T7YXB528"], "secret_arn": "arn:aws:secretsmanager:us-west-2:123456789012:secret:sp-ingest/acme-jp"}),
            ),
            p(
                "reports/orders",
                serde_json::json!({"source": "sp-api-reports", "report_type": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "window": "P1D", "schedule": "cron(0 6 * * ? *)"}),
            ),
            p(
                "reports/sales-traffic",
                serde_json::json!({"source": "sp-api-reports", "report_type": "GET_SALES_AND_TRAFFIC_REPORT", "accounts": ["acme-us"], "marketplaces": ["ATVPDKIKX0DER"], "options": {"dateGranularity": "DAY", "asinGranularity": "CHILD"}, "window": "P1D", "lag": "P2D", "schedule": "rate(1 day)", "await_timeout_secs": 1800}),
            ),
            p(
                "ads_accounts/acme-ads",
                serde_json::json!({"region": "na", "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sp-ingest/acme-ads", "profiles": [{"profile_id": 3211012118364113u64, "marketplace": "ATVPDKIKX0DER"}]}),
            ),
            p(
                "reports/sp-campaigns",
                serde_json::json!({"source": "ads-reports", "report_type": "spCampaigns", "accounts": ["acme-ads"], "ads": {"group_by": ["campaign"], "columns": ["date", "campaignId", "impressions", "clicks", "cost"], "time_unit": "DAILY"}, "window": "P1D", "schedule": "rate(1 day)"}),
            ),
            p(
                "reports/sales-by-date",
                serde_json::json!({"source": "data-kiosk", "report_type": "analytics_salesAndTraffic_2024_04_24", "accounts": ["acme-us"], "marketplaces": ["ATVPDKIKX0DER"], "data_kiosk": {"query": "salesAndTrafficByDate", "arguments": {"aggregateBy": "DAY"}, "fields": ["startDate", "marketplaceId", "sales.orderedProductSales.amount", "traffic.sessions"]}, "window": "P1D", "lag": "P2D", "schedule": "rate(1 day)"}),
            ),
        ]
    }

    fn with(name: &str, edit: impl Fn(&mut serde_json::Value)) -> Vec<(String, String)> {
        valid()
            .into_iter()
            .map(|(path, json)| {
                if path.ends_with(name) {
                    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
                    edit(&mut value);
                    (path, value.to_string())
                } else {
                    (path, json)
                }
            })
            .collect()
    }

    fn errors(parameters: Vec<(String, String)>) -> ConfigErrors {
        Config::from_parameters(STAGE, parameters).unwrap_err()
    }

    #[test]
    fn valid_config_loads_with_defaults() {
        let config = Config::from_parameters(STAGE, valid()).unwrap();
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(config.marketplaces.len(), 23);
        let orders = &config.reports["orders"];
        assert_eq!(orders.lag, "P0D");
        assert_eq!(orders.await_timeout_secs, 900);
        assert_eq!(
            Config::window_of(orders),
            Some((TimeDelta::days(1), TimeDelta::zero()))
        );
    }

    #[test]
    fn two_reports_that_would_replace_each_others_curated_partitions_are_refused() {
        let mut parameters = valid();
        let weekly = serde_json::json!({"source": "sp-api-reports", "report_type": "GET_SALES_AND_TRAFFIC_REPORT", "accounts": ["acme-us"], "marketplaces": ["ATVPDKIKX0DER"], "options": {"dateGranularity": "WEEK", "asinGranularity": "CHILD"}, "window": "P7D", "schedule": "rate(7 days)"});
        parameters.push((
            format!("/sp-ingest/{STAGE}/reports/sales-traffic-weekly"),
            weekly.to_string(),
        ));
        let errs = errors(parameters);
        assert!(
            errs.mentions("reports/sales-traffic-weekly", "report_type"),
            "{errs}"
        );
        assert!(
            errs.to_string().contains("replace each other's partitions"),
            "{errs}"
        );
        // The same report twice (same window and options) makes the same requests: fine.
        let mut parameters = valid();
        let same = serde_json::json!({"source": "sp-api-reports", "report_type": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "accounts": ["acme-jp"], "window": "P1D", "schedule": "cron(0 7 * * ? *)"});
        parameters.push((
            format!("/sp-ingest/{STAGE}/reports/jp-orders"),
            same.to_string(),
        ));
        assert!(Config::from_parameters(STAGE, parameters).is_ok());
    }

    #[test]
    fn data_kiosk_reports_name_each_wrong_query_field() {
        let errs = errors(with("reports/sales-by-date", |v| {
            v["data_kiosk"]["arguments"]["aggregateBy"] = "FORTNIGHT".into();
            v["data_kiosk"]["fields"][1] = "marketplace".into();
            v["options"] = serde_json::json!({"dateGranularity": "DAY"});
        }));
        let text = errs.to_string();
        assert!(
            errs.mentions("reports/sales-by-date", "data_kiosk.arguments.aggregateBy")
                && text.contains("use one of DAY, MONTH, WEEK"),
            "{text}"
        );
        assert!(
            errs.mentions("reports/sales-by-date", "data_kiosk.fields[1]")
                && text.contains("has no field `marketplace`"),
            "{text}"
        );
        assert!(errs.mentions("reports/sales-by-date", "options"), "{text}");

        let errs = errors(with("reports/sales-by-date", |v| {
            v["data_kiosk"]["fields"][0] = "endDate".into();
        }));
        assert!(
            errs.mentions("reports/sales-by-date", "data_kiosk.fields")
                && errs
                    .to_string()
                    .contains("dk_sales_traffic_by_date needs `startDate`"),
            "{errs}"
        );
        let errs = errors(with("reports/sales-by-date", |v| {
            v["data_kiosk"]["query"] = "salesAndTrafficByWeek".into();
        }));
        assert!(
            errs.to_string()
                .contains("use one of salesAndTrafficByAsin"),
            "{errs}"
        );
        let errs = errors(with("reports/sales-by-date", |v| {
            v["report_type"] = "analytics_salesAndTraffic_2023".into();
        }));
        assert!(
            errs.mentions("reports/sales-by-date", "report_type")
                && errs.to_string().contains("analytics_economics_2024_03_15"),
            "{errs}"
        );
        let errs = errors(with("reports/sales-by-date", |v| {
            v.as_object_mut().unwrap().remove("data_kiosk");
        }));
        assert!(
            errs.mentions("reports/sales-by-date", "data_kiosk"),
            "{errs}"
        );
        let errs = errors(with("reports/orders", |v| {
            v["data_kiosk"] = serde_json::json!({"query": "economics", "fields": ["msku"]});
        }));
        assert!(errs.mentions("reports/orders", "data_kiosk"), "{errs}");
        let errs = errors(with("reports/sales-by-date", |v| {
            v["report_type"] = "analytics_vendorAnalytics_2024_09_30".into();
        }));
        assert!(
            errs.mentions("reports/sales-by-date", "accounts[0]")
                && errs.to_string().contains("vendor"),
            "{errs}"
        );
    }

    #[test]
    fn ads_reports_name_each_wrong_field() {
        let config = Config::from_parameters(STAGE, valid()).unwrap();
        assert_eq!(
            config.reports["sp-campaigns"]
                .ads
                .as_ref()
                .unwrap()
                .time_unit,
            crate::ads::TimeUnit::Daily
        );
        let errs = errors(with("reports/sp-campaigns", |v| {
            v["ads"]["columns"][1] = "keywordId".into();
            v["accounts"][0] = "acme-us".into();
            v["marketplaces"] = serde_json::json!(["A2EUQ1WTGCTBG2"]);
            v["window"] = "PT12H".into();
            v["restatement"] = serde_json::json!(["P7D", "soon"]);
        }));
        for field in [
            "ads.columns[1]",
            "accounts[0]",
            "marketplaces[0]",
            "window",
            "restatement[1]",
        ] {
            assert!(
                errs.mentions("reports/sp-campaigns", field),
                "{field}: {errs}"
            );
        }
        assert!(
            errs.to_string().contains("no Ads account `acme-us`"),
            "{errs}"
        );
        let errs = errors(with("reports/sp-campaigns", |v| {
            v.as_object_mut().unwrap().remove("ads");
        }));
        assert!(errs.mentions("reports/sp-campaigns", "ads"), "{errs}");
        let errs = errors(with("reports/orders", |v| {
            v["ads"] = serde_json::json!({"group_by": ["campaign"], "columns": ["date"], "time_unit": "DAILY"});
        }));
        assert!(errs.mentions("reports/orders", "ads"), "{errs}");
        let errs = errors(with("reports/sp-campaigns", |v| {
            v["report_type"] = "spCampaign".into();
        }));
        assert!(
            errs.to_string().contains("spCampaigns"),
            "the known types are listed: {errs}"
        );
        let errs = errors(with("reports/sp-campaigns", |v| {
            v["window"] = "P31D".into();
            v["catch_up"] = 4.into();
        }));
        assert!(
            errs.mentions("reports/sp-campaigns", "catch_up")
                && errs.to_string().contains("starts 124 days back")
                && errs.to_string().contains("95 days"),
            "{errs}"
        );
    }

    #[test]
    fn amc_instances_name_their_ads_account_ids_and_limits() {
        let mut parameters = valid();
        let instance = |v: serde_json::Value| {
            (
                "/sp-ingest/dev/amc_instances/brand".to_owned(),
                v.to_string(),
            )
        };
        parameters.push(instance(serde_json::json!({"ads_account": "acme-ads", "instance_id": "amcr1aaaa1a", "advertiser_id": "ENTITY1AA1AA11AAA1", "marketplace": "ATVPDKIKX0DER"})));
        let config = Config::from_parameters(STAGE, parameters.clone()).unwrap();
        let brand = &config.amc_instances["brand"];
        assert_eq!(
            (brand.parallel_executions, brand.daily_executions),
            (10, 30)
        );
        assert_eq!(
            Config::from_parameters(STAGE, config.to_parameters()).unwrap(),
            config
        );
        parameters.pop();
        parameters.push(instance(serde_json::json!({"ads_account": "acme", "instance_id": "amc r1", "advertiser_id": "", "marketplace": "A1VC38T7YXB528", "daily_executions": 31})));
        let errs = Config::from_parameters(STAGE, parameters).unwrap_err();
        for field in [
            "ads_account",
            "instance_id",
            "advertiser_id",
            "daily_executions",
        ] {
            assert!(
                errs.mentions("amc_instances/brand", field),
                "{field}: {errs}"
            );
        }
    }

    #[test]
    fn ads_accounts_name_their_region_profiles_and_marketplaces() {
        let config = Config::from_parameters(STAGE, valid()).unwrap();
        assert_eq!(
            config.ads_accounts["acme-ads"].profiles[0].profile_id,
            3211012118364113
        );
        assert_eq!(
            config.regions[&Region::Na].ads_host(Region::Na),
            "https://advertising-api.amazon.com"
        );
        let errs = errors(with("ads_accounts/acme-ads", |v| {
            v["profiles"][0]["marketplace"] = "A1PA6795UKMFR9".into();
            if let Some(profiles) = v["profiles"].as_array_mut() {
                profiles.push(serde_json::json!({"profile_id": 3211012118364113u64, "marketplace": "ATVPDKIKX0DER"}));
            }
            v["secret_arn"] = "acme".into();
        }));
        let text = errs.to_string();
        assert!(
            errs.mentions("ads_accounts/acme-ads", "profiles[0].marketplace")
                && text.contains("an Ads refresh token serves one region"),
            "{text}"
        );
        assert!(
            errs.mentions("ads_accounts/acme-ads", "profiles[1].profile_id"),
            "{text}"
        );
        assert!(
            errs.mentions("ads_accounts/acme-ads", "secret_arn"),
            "{text}"
        );
        let errs = errors(with("ads_accounts/acme-ads", |v| {
            v["region"] = "eu".into();
            v["profiles"] = serde_json::json!([]);
        }));
        assert!(errs.mentions("ads_accounts/acme-ads", "region"), "{errs}");
        assert!(errs.mentions("ads_accounts/acme-ads", "profiles"), "{errs}");
    }

    #[test]
    fn config_round_trips_through_parameters() {
        let config = Config::from_parameters(STAGE, valid()).unwrap();
        let again = Config::from_parameters(STAGE, config.to_parameters()).unwrap();
        assert_eq!(again, config);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn version_follows_content_not_parameter_order() {
        let config = Config::from_parameters(STAGE, valid()).unwrap();
        let mut reversed = valid();
        reversed.reverse();
        let same = Config::from_parameters(STAGE, reversed).unwrap();
        assert_eq!(config.version(), same.version());
        assert_eq!(config.version().len(), 16);
        let changed = Config::from_parameters(
            STAGE,
            with("accounts/acme-us", |v| {
                v["selling_partner_id"] = "A3TH9S8BH6GOGN".into()
            }),
        )
        .unwrap();
        assert_ne!(changed.version(), config.version());
    }

    #[test]
    fn unknown_marketplace_id_names_account_field_and_known_ids() {
        let errs = errors(with("accounts/acme-us", |v| {
            v["marketplaces"][1] = "ATVPDKIKX0DEX".into()
        }));
        assert!(
            errs.mentions("accounts/acme-us", "marketplaces[1]"),
            "{errs}"
        );
        let text = errs.to_string();
        assert!(text.contains("parameter /sp-ingest/dev/accounts/acme-us, field marketplaces[1]: `ATVPDKIKX0DEX` is not in the marketplaces parameter"), "{text}");
        assert!(text.contains("ATVPDKIKX0DER (US)"), "{text}");
    }

    #[test]
    fn region_mismatch_between_account_and_marketplace_is_named() {
        let errs = errors(with("accounts/acme-us", |v| {
            v["marketplaces"][0] = "A1PA6795UKMFR9".into()
        }));
        let text = errs.to_string();
        assert!(
            errs.mentions("accounts/acme-us", "marketplaces[0]"),
            "{text}"
        );
        assert!(
            text.contains("is in region eu, but the account is in region na"),
            "{text}"
        );
    }

    #[test]
    fn marketplace_table_entry_in_wrong_region_is_named() {
        let errs = errors(with("marketplaces", |v| {
            v["ATVPDKIKX0DER"]["region"] = "eu".into()
        }));
        assert!(
            errs.mentions("marketplaces", "ATVPDKIKX0DER.region"),
            "{errs}"
        );
        assert!(
            errs.to_string()
                .contains("United States (ATVPDKIKX0DER) is served by region na, not eu"),
            "{errs}"
        );
    }

    #[test]
    fn window_longer_than_the_report_type_allows_is_named() {
        let errs = errors(with("reports/orders", |v| v["window"] = "P31D".into()));
        assert!(errs.mentions("reports/orders", "window"), "{errs}");
        assert!(errs.to_string().contains("P31D is longer than GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL allows (30 days at most per request)"), "{errs}");
    }

    #[test]
    fn bad_cron_is_named_with_an_example() {
        let errs = errors(with("reports/orders", |v| {
            v["schedule"] = "cron(0 6 * * *)".into()
        }));
        assert!(errs.mentions("reports/orders", "schedule"), "{errs}");
        assert!(
            errs.to_string().contains("e.g. cron(0 6 * * ? *)"),
            "{errs}"
        );
    }

    #[test]
    fn missing_and_misspelled_fields_are_named() {
        let errs = errors(with("accounts/acme-jp", |v| {
            drop(v.as_object_mut().unwrap().remove("secret_arn"))
        }));
        assert!(errs.mentions("accounts/acme-jp", "secret_arn"), "{errs}");
        assert!(
            errs.to_string().contains("secret_arn: is required"),
            "{errs}"
        );
        let errs = errors(with("reports/orders", |v| {
            v["shedule"] = "rate(1 day)".into()
        }));
        assert!(
            errs.to_string().contains("unknown field `shedule`"),
            "{errs}"
        );
    }

    #[test]
    fn wrong_enum_value_names_the_field_and_choices() {
        let errs = errors(with("accounts/acme-us", |v| v["kind"] = "agency".into()));
        assert!(errs.mentions("accounts/acme-us", "kind"), "{errs}");
        assert!(errs.to_string().contains("seller"), "{errs}");
    }

    #[test]
    fn secrets_go_only_to_amazon_or_this_machine() {
        for trusted in [
            "https://sellingpartnerapi-eu.amazon.com",
            "https://sandbox.sellingpartnerapi-fe.amazon.com/",
            "https://api.amazon.co.uk/auth/o2/token",
            "http://127.0.0.1:9000/auth/o2/token",
            "http://localhost:8080",
        ] {
            assert!(is_trusted_endpoint(trusted), "{trusted}");
        }
        for untrusted in [
            "https://sellingpartnerapi-na.amazon.com.evil.example",
            "https://evil.example/amazon.com",
            "https://amazon.com@evil.example",
            "https://notamazon.com",
        ] {
            assert!(!is_trusted_endpoint(untrusted), "{untrusted}");
        }
        let errs = errors(with("regions/na", |v| {
            v["lwa_endpoint"] = "https://token-proxy.example.net/auth/o2/token".into()
        }));
        assert!(errs.mentions("regions/na", "lwa_endpoint"), "{errs}");
        assert!(errs.to_string().contains("not an Amazon host"), "{errs}");
    }

    #[test]
    fn one_selling_partner_and_marketplace_belong_to_one_account() {
        let errs = errors(with("accounts/acme-jp", |v| {
            v["selling_partner_id"] = "A3TH9S8BH6GOGM".into();
            v["region"] = "na".into();
            v["marketplaces"] = serde_json::json!(["ATVPDKIKX0DER"]);
            v["secret_arn"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x".into();
        }));
        assert!(
            errs.mentions("accounts/acme-us", "marketplaces[0]"),
            "{errs}"
        );
        assert!(
            errs.to_string().contains("is already account `acme-jp`'s"),
            "{errs}"
        );
    }

    #[test]
    fn unknown_source_names_the_known_ones() {
        let errs = errors(with("reports/orders", |v| {
            v["source"] = "sp-api-reprots".into()
        }));
        assert!(errs.mentions("reports/orders", "source"), "{errs}");
        assert!(errs.to_string().contains("known: sp-api-reports"), "{errs}");
    }

    #[test]
    fn options_the_report_type_does_not_take_are_refused_with_the_allowed_ones() {
        let errs =
            errors(with(
                "reports/sales-traffic",
                |v| {
                    v["options"] =
                        serde_json::json!({"dateGranularity": "YEAR", "reportPeriod": "DAY"})
                },
            ));
        assert!(
            errs.mentions("reports/sales-traffic", "options.dateGranularity"),
            "{errs}"
        );
        assert!(
            errs.mentions("reports/sales-traffic", "options.reportPeriod"),
            "{errs}"
        );
        assert!(
            errs.to_string().contains("allowed: DAY, WEEK, MONTH"),
            "{errs}"
        );
    }

    #[test]
    fn vendor_only_type_on_a_seller_account_is_refused() {
        let errs = errors(with("reports/sales-traffic", |v| {
            v["report_type"] = "GET_VENDOR_SALES_REPORT".into()
        }));
        assert!(
            errs.mentions("reports/sales-traffic", "accounts[0]"),
            "{errs}"
        );
        assert!(
            errs.to_string().contains("is for vendor accounts"),
            "{errs}"
        );
    }

    #[test]
    fn unrequestable_report_type_and_unknown_account_are_refused() {
        let errs = errors(with("reports/orders", |v| {
            v["report_type"] = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2".into()
        }));
        assert!(errs.to_string().contains("cannot be requested"), "{errs}");
        let errs = errors(with("reports/sales-traffic", |v| {
            v["accounts"][0] = "nobody".into()
        }));
        assert!(
            errs.to_string()
                .contains("no account `nobody`; configured accounts: acme-jp, acme-us"),
            "{errs}"
        );
    }

    #[test]
    fn report_marketplace_outside_the_account_is_refused() {
        let errs = errors(with("reports/sales-traffic", |v| {
            v["marketplaces"][0] = "A1AM78C64UM0Y8".into()
        }));
        assert!(
            errs.to_string()
                .contains("`A1AM78C64UM0Y8` is not one of account `acme-us`'s marketplaces"),
            "{errs}"
        );
    }

    #[test]
    fn endpoints_must_be_https_except_local() {
        let errs = errors(with("regions/na", |v| {
            v["spapi_endpoint"] = "http://sellingpartnerapi-na.amazon.com".into()
        }));
        assert!(errs.mentions("regions/na", "spapi_endpoint"), "{errs}");
        let errs = errors(with("regions/na", |v| v["aws_region"] = "virginia".into()));
        assert!(errs.mentions("regions/na", "aws_region"), "{errs}");
    }

    #[test]
    fn account_in_region_without_endpoints_is_refused() {
        let params: Vec<_> = valid()
            .into_iter()
            .filter(|(p, _)| !p.ends_with("regions/fe"))
            .collect();
        let errs = errors(params);
        assert!(errs.mentions("accounts/acme-jp", "region"), "{errs}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut params = with("reports/orders", |v| {
            v["window"] = "P1M".into();
            v["schedule"] = "daily".into();
        });
        params.push(("/sp-ingest/dev/reprots/x".into(), "{}".into()));
        params.push(("/sp-ingest/prod/reports/x".into(), "{}".into()));
        let errs = errors(params);
        assert_eq!(errs.0.len(), 4, "{errs}");
        assert!(
            errs.to_string()
                .starts_with("configuration is invalid (4 problems):")
        );
        assert!(
            errs.to_string()
                .contains("unknown parameter; expected regions/<na|eu|fe>")
        );
        assert!(errs.to_string().contains("is not under /sp-ingest/dev/"));
    }

    #[test]
    fn missing_marketplaces_parameter_is_named() {
        let params: Vec<_> = valid()
            .into_iter()
            .filter(|(p, _)| !p.ends_with("/marketplaces"))
            .collect();
        let errs = errors(params);
        assert!(errs.mentions("/marketplaces", ""), "{errs}");
    }

    #[test]
    fn invalid_json_names_the_parameter() {
        let mut params = valid();
        params[0].1 = "{not json".into();
        let errs = errors(params);
        assert!(errs.0[0].parameter.ends_with("regions/na"), "{errs}");
        assert!(errs.0[0].problem.starts_with("not valid JSON"), "{errs}");
    }
}
