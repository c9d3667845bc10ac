//! The one readable configuration file an operator edits, and pushing it to Parameter
//! Store (design.md "Configuration").
//!
//! The file is the [`domain::Config`] parameters in one JSON document. Locally an account
//! may carry its LWA `credentials` inline instead of a `secret_arn`: `push` then stores
//! them in Secrets Manager and points the account at that secret, so nothing secret ever
//! lands in Parameter Store.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use domain::config::{
    Account, AdsAccount, AdsProfileRef, MarketplaceEntry, RegionEndpoints, ReportConfig,
    stage_prefix,
};
use domain::{AccountKind, Config, Region};
use serde::{Deserialize, Serialize};

/// LWA credentials of one account (local use; deployed, they live in Secrets Manager).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// LWA client id of the app.
    pub client_id: String,
    /// LWA client secret of the app.
    pub client_secret: String,
    /// The selling partner's refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// An account in the file: the config's fields, with a secret ARN or inline credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// The selling partner id.
    pub selling_partner_id: String,
    /// Seller or vendor.
    pub kind: AccountKind,
    /// SP-API region.
    pub region: Region,
    /// Marketplaces.
    pub marketplaces: Vec<String>,
    /// An existing secret with the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// Credentials to store in a secret of the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
}

/// An Amazon Ads account in the file: the config's fields, with a secret ARN or inline
/// credentials (the app's LWA client id and secret, the Ads refresh token).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsAccountEntry {
    /// The region whose Ads host serves the profiles.
    pub region: Region,
    /// The profiles to fetch reports for (`sp-ingest ads profiles` lists them).
    #[serde(default)]
    pub profiles: Vec<AdsProfileRef>,
    /// An existing secret with the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// Credentials to store in a secret of the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
}

/// The secret name an Ads account's inline credentials get (`ads-` keeps it apart from
/// an SP-API account of the same name).
pub fn ads_secret_key(account: &str) -> String {
    format!("ads-{account}")
}

/// The configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Stage to push to.
    pub stage: String,
    /// Endpoints per region.
    pub regions: BTreeMap<Region, RegionEndpoints>,
    /// Marketplace table; Amazon's full table when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplaces: Option<BTreeMap<String, MarketplaceEntry>>,
    /// Accounts by name.
    pub accounts: BTreeMap<String, AccountEntry>,
    /// Amazon Ads accounts by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ads_accounts: BTreeMap<String, AdsAccountEntry>,
    /// Amazon Marketing Cloud instances by name (reached with an Ads account).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub amc_instances: BTreeMap<String, domain::amc::AmcInstance>,
    /// Reports by name.
    pub reports: BTreeMap<String, ReportConfig>,
}

impl ConfigFile {
    /// Reads a file.
    pub fn read(path: &Path) -> anyhow::Result<ConfigFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid configuration file", path.display()))
    }

    /// The config with each account's secret ARN resolved by `secret_arn_of` when it has
    /// inline credentials; validated.
    pub fn to_config(&self, secret_arn_of: impl Fn(&str) -> String) -> anyhow::Result<Config> {
        let mut accounts = BTreeMap::new();
        for (name, entry) in &self.accounts {
            let secret_arn = match (&entry.secret_arn, &entry.credentials) {
                (Some(arn), None) => arn.clone(),
                (None, Some(_)) => secret_arn_of(name),
                _ => bail!(
                    "account `{name}` needs exactly one of `secret_arn` (an existing secret) or `credentials` (stored for you)"
                ),
            };
            accounts.insert(
                name.clone(),
                Account {
                    selling_partner_id: entry.selling_partner_id.clone(),
                    kind: entry.kind,
                    region: entry.region,
                    marketplaces: entry.marketplaces.clone(),
                    secret_arn,
                },
            );
        }
        let mut ads_accounts = BTreeMap::new();
        for (name, entry) in &self.ads_accounts {
            let secret_arn = match (&entry.secret_arn, &entry.credentials) {
                (Some(arn), None) => arn.clone(),
                (None, Some(_)) => secret_arn_of(&ads_secret_key(name)),
                _ => bail!(
                    "Ads account `{name}` needs exactly one of `secret_arn` (an existing secret) or `credentials` (stored for you)"
                ),
            };
            ads_accounts.insert(
                name.clone(),
                AdsAccount {
                    region: entry.region,
                    secret_arn,
                    profiles: entry.profiles.clone(),
                },
            );
        }
        let config = Config {
            stage: self.stage.clone(),
            regions: self.regions.clone(),
            marketplaces: self
                .marketplaces
                .clone()
                .unwrap_or_else(Config::all_marketplaces),
            accounts,
            ads_accounts,
            amc_instances: self.amc_instances.clone(),
            reports: self.reports.clone(),
        };
        config.validate()?;
        Ok(config)
    }
}

/// What a valid file amounts to, for `sp-ingest config validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The config as it would be pushed (inline credentials get their secret's name).
    pub config: Config,
    /// Requests the next run would make if nothing had landed yet (every catch-up window).
    pub requests_per_run: usize,
    /// Each Data Kiosk report's query as the next run sends it for its latest window
    /// (first account and marketplace), with how long Data Kiosk keeps its results.
    pub data_kiosk: Vec<(String, domain::data_kiosk::BuiltQuery)>,
}

/// Checks `file` offline, as `config push` would before writing anything: every problem
/// at once, each naming the parameter and field.
pub fn validate(file: &ConfigFile) -> anyhow::Result<Validated> {
    let config = file.to_config(|name| {
        format!(
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:{}",
            secret_name(&file.stage, name)
        )
    })?;
    let planned = config.plan(chrono::Utc::now(), &[]);
    let requests_per_run = planned.len();
    let mut data_kiosk: Vec<(String, domain::data_kiosk::BuiltQuery)> = Vec::new();
    // The latest window of each report comes last in the plan.
    for candidate in planned.iter().rev() {
        let (planned, request) = (&candidate.planned, &candidate.planned.request);
        let Some(query) = &request.query else {
            continue;
        };
        if data_kiosk
            .iter()
            .any(|(report, _)| *report == planned.report)
        {
            continue;
        }
        let days = (
            request.window.start.date_naive(),
            request.window.amazon_end().date_naive(),
        );
        let marketplaces = request.marketplace_ids.clone();
        // Validation built the query already; a failure here cannot happen.
        if let Ok(built) = query.build(&request.report_type, days, &marketplaces) {
            data_kiosk.push((planned.report.clone(), built));
        }
    }
    data_kiosk.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Validated {
        config,
        requests_per_run,
        data_kiosk,
    })
}

/// The name of the secret holding an account's inline credentials.
pub fn secret_name(stage: &str, account: &str) -> String {
    format!("sp-ingest/{stage}/{account}")
}

/// The stage's parameters as Parameter Store holds them now (path → value).
pub async fn stored_parameters(
    ssm: &aws_sdk_ssm::Client,
    stage: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let prefix = stage_prefix(stage);
    let mut stored = BTreeMap::new();
    let mut next_token = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(prefix.trim_end_matches('/'))
            .recursive(true)
            .set_next_token(next_token)
            .send()
            .await
            .with_context(|| format!("reading the parameters under {prefix}"))?;
        for parameter in page.parameters() {
            if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                stored.insert(name.to_owned(), value.to_owned());
            }
        }
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(stored);
        }
    }
}

/// What a push would change, parameter by parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Parameters the stage does not have yet.
    pub added: Vec<String>,
    /// Parameters whose value changes.
    pub changed: Vec<String>,
    /// Parameters the file no longer has (deleted by the push).
    pub removed: Vec<String>,
}

impl Changes {
    /// What pushing `file` over `stored` would change. Accounts with inline credentials
    /// keep the secret their stored parameter names (the push writes that same secret).
    pub fn of_push(
        stored: &BTreeMap<String, String>,
        file: &ConfigFile,
    ) -> anyhow::Result<Changes> {
        let prefix = stage_prefix(&file.stage);
        let config = file.to_config(|name| {
            stored
                .get(&format!("{prefix}accounts/{name}"))
                .and_then(|value| serde_json::from_str::<serde_json::Value>(value).ok())
                .and_then(|value| value["secret_arn"].as_str().map(str::to_owned))
                .unwrap_or_else(|| {
                    format!(
                        "arn:aws:secretsmanager:us-east-1:000000000000:secret:{}",
                        secret_name(&file.stage, name)
                    )
                })
        })?;
        Ok(Changes::between(stored, &config))
    }

    /// From what is stored to what `config` would write.
    pub fn between(stored: &BTreeMap<String, String>, config: &Config) -> Changes {
        let wanted: BTreeMap<String, String> = config.to_parameters().into_iter().collect();
        let mut changes = Changes::default();
        for (name, value) in &wanted {
            match stored.get(name) {
                None => changes.added.push(name.clone()),
                Some(old) if !same_json(old, value) => changes.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        changes.removed = stored
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        changes
    }

    /// Whether the push would change nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Two parameter values mean the same (JSON compared as values, not text).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Writes `credentials` into the account's secret of the stage (`sp-ingest/<stage>/<account>`,
/// the name `auth`'s role may read), creating it the first time, encrypted with the
/// stage's key; returns its ARN.
pub async fn store_credentials(
    secrets: &aws_sdk_secretsmanager::Client,
    stage: &str,
    account: &str,
    credentials: &Credentials,
) -> anyhow::Result<String> {
    let secret_name = secret_name(stage, account);
    let value = serde_json::to_string(credentials)?;
    match secrets
        .describe_secret()
        .secret_id(&secret_name)
        .send()
        .await
    {
        Ok(found) => {
            secrets
                .put_secret_value()
                .secret_id(&secret_name)
                .secret_string(value)
                .send()
                .await
                .with_context(|| format!("updating secret {secret_name}"))?;
            Ok(found.arn().unwrap_or_default().to_owned())
        }
        Err(_) => Ok(secrets
            .create_secret()
            .name(&secret_name)
            // The stage's key, so only roles the key trusts can read it.
            .kms_key_id(format!("alias/sp-ingest-{stage}"))
            .secret_string(value)
            .send()
            .await
            .with_context(|| format!("creating secret {secret_name}"))?
            .arn()
            .unwrap_or_default()
            .to_owned()),
    }
}

impl Credentials {
    /// Reads credentials an operator pipes in: a JSON object with `client_id`,
    /// `client_secret` and `refresh_token`, or those three values on three lines. Errors
    /// name what is wrong, never a value.
    pub fn parse(text: &str) -> anyhow::Result<Credentials> {
        let text = text.trim();
        let credentials = if text.starts_with('{') {
            serde_json::from_str::<Credentials>(text).map_err(|e| {
                // serde names a missing or unknown field; other messages may quote a value.
                let problem = e.to_string();
                let named =
                    problem.starts_with("missing field") || problem.starts_with("unknown field");
                let problem = if named {
                    problem
                        .split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                } else {
                    "not a JSON object of three strings".to_owned()
                };
                anyhow::anyhow!(
                    "the JSON must have client_id, client_secret and refresh_token: {problem}"
                )
            })?
        } else {
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let [client_id, client_secret, refresh_token] = lines[..] else {
                bail!(
                    "expected 3 lines (client id, client secret, refresh token) or a JSON object; got {} lines",
                    lines.len()
                );
            };
            Credentials {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                refresh_token: refresh_token.to_owned(),
            }
        };
        if !credentials
            .client_id
            .starts_with("amzn1.application-oa2-client.")
        {
            bail!(
                "client_id must be the app's LWA client id (amzn1.application-oa2-client.…), from Developer Central"
            );
        }
        if credentials.client_secret.is_empty() {
            bail!("client_secret is empty");
        }
        if !credentials.refresh_token.starts_with("Atzr|") {
            bail!(
                "refresh_token must be the seller's LWA refresh token (Atzr|…), from authorising the app"
            );
        }
        Ok(credentials)
    }
}

/// Stores inline credentials, validates, writes every parameter and deletes the stage's
/// parameters the file no longer has. Returns the pushed config.
pub async fn push(aws: &aws_config::SdkConfig, file: &ConfigFile) -> anyhow::Result<Config> {
    let secrets = aws_sdk_secretsmanager::Client::new(aws);
    let mut arns = BTreeMap::new();
    for (name, entry) in &file.accounts {
        let Some(credentials) = &entry.credentials else {
            continue;
        };
        let arn = store_credentials(&secrets, &file.stage, name, credentials).await?;
        arns.insert(name.clone(), arn);
    }
    for (name, entry) in &file.ads_accounts {
        let Some(credentials) = &entry.credentials else {
            continue;
        };
        let key = ads_secret_key(name);
        let arn = store_credentials(&secrets, &file.stage, &key, credentials).await?;
        arns.insert(key, arn);
    }
    let config = file.to_config(|name| arns.get(name).cloned().unwrap_or_default())?;

    let ssm = aws_sdk_ssm::Client::new(aws);
    let parameters = config.to_parameters();
    for (name, value) in &parameters {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .with_context(|| format!("writing parameter {name}"))?;
    }
    let stale: Vec<String> = stored_parameters(&ssm, &config.stage)
        .await?
        .into_keys()
        .filter(|n| !parameters.iter().any(|(p, _)| p == n))
        .collect();
    for name in stale {
        ssm.delete_parameter()
            .name(&name)
            .send()
            .await
            .with_context(|| format!("deleting stale parameter {name}"))?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ConfigFile {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/example.json");
        ConfigFile::read(&path).expect("the example reads")
    }

    #[test]
    fn credentials_are_read_from_json_or_three_lines_and_never_echoed() {
        let json = r#"{"client_id":"amzn1.application-oa2-client.abc","client_secret":"s3cr3t-value","refresh_token":"Atzr|tok-value"}"#;
        let from_json = Credentials::parse(json).unwrap();
        let from_lines =
            Credentials::parse("amzn1.application-oa2-client.abc\ns3cr3t-value\nAtzr|tok-value\n")
                .unwrap();
        assert_eq!(
            serde_json::to_string(&from_json).unwrap(),
            serde_json::to_string(&from_lines).unwrap()
        );
        for bad in [
            r#"{"client_id":"amzn1.application-oa2-client.abc","client_secret":"s3cr3t-value"}"#,
            "amzn1.application-oa2-client.abc\ns3cr3t-value",
            "wrong-id\ns3cr3t-value\nAtzr|tok-value",
            "amzn1.application-oa2-client.abc\ns3cr3t-value\ntok-value",
        ] {
            let error = Credentials::parse(bad).unwrap_err().to_string();
            assert!(
                !error.contains("s3cr3t-value") && !error.contains("tok-value"),
                "{error}"
            );
        }
        assert!(format!("{from_json:?}").contains("amzn1.application-oa2-client.abc"));
        assert!(!format!("{from_json:?}").contains("s3cr3t"));
    }

    #[test]
    fn changes_name_added_changed_and_removed_parameters() {
        let config = validate(&example()).unwrap().config;
        let mut stored: BTreeMap<String, String> = config.to_parameters().into_iter().collect();
        assert!(Changes::between(&stored, &config).is_empty());
        let marketplaces = "/sp-ingest/local/marketplaces".to_owned();
        let region = "/sp-ingest/local/regions/na".to_owned();
        assert!(stored.remove(&marketplaces).is_some());
        stored.insert(
            region.clone(),
            r#"{"spapi_endpoint": "https://elsewhere"}"#.into(),
        );
        stored.insert("/sp-ingest/local/reports/gone".into(), "{}".into());
        let changes = Changes::between(&stored, &config);
        assert_eq!(changes.added, vec![marketplaces]);
        assert_eq!(changes.changed, vec![region]);
        assert_eq!(
            changes.removed,
            vec!["/sp-ingest/local/reports/gone".to_owned()]
        );
    }

    #[test]
    fn the_example_config_is_valid_and_plans_requests() {
        let validated = validate(&example()).expect("the shipped example is valid");
        assert!(validated.requests_per_run > 0);
        assert!(!validated.config.reports.is_empty());
        // Its Data Kiosk report: the query the next run sends, and how long it is kept.
        let [(report, query)] = &validated.data_kiosk[..] else {
            panic!("queries: {:?}", validated.data_kiosk);
        };
        assert_eq!(report, "sales-by-asin");
        assert!(
            query.text.starts_with("query{analytics_salesAndTraffic_2024_04_24{salesAndTrafficByAsin(aggregateBy:CHILD endDate:")
                && query.text.contains("marketplaceIds:[\"ATVPDKIKX0DER\"]"),
            "{}",
            query.text
        );
        assert_eq!(query.retention.as_deref(), Some("P30D"));
    }

    #[test]
    fn a_bad_file_names_every_problem_before_anything_is_pushed() {
        let mut file = example();
        let account = file.accounts.values_mut().next().expect("an account");
        account.selling_partner_id = "not an id".into();
        let report = file.reports.values_mut().next().expect("a report");
        report.window = "one day".into();
        let error = validate(&file).unwrap_err().to_string();
        assert!(error.contains("selling_partner_id"), "{error}");
        assert!(error.contains("field window"), "{error}");
    }
}
