//! `make demo`: the whole pipeline on the local default, against the built-in SP-API
//! simulator, ending with a table of what landed.
//!
//! Starts the local pipeline and the simulator (delivering notifications to the stage's
//! queue), pushes a configuration of one US seller and one Japanese seller with four
//! reports (orders TSV, Sales and Traffic JSON, Japanese orders TSV in CP932, and Sales
//! and Traffic by day from Data Kiosk as JSON Lines) and one Amazon Ads advertiser with
//! a Sponsored Products campaigns report (a gzip JSON array, stored as JSON Lines) and
//! an AMC workflow (`config/amc/campaign_reach.sql`, synced to the simulator's instance)
//! whose execution's CSV result lands,
//! subscribes them to notifications, runs the ingest state machine and checks every
//! object in S3 against the simulator's own digest of what it served.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use domain::ads::{AdsReportSpec, TimeUnit};
use domain::amc::{AmcExecutionSpec, AmcInstance};
use domain::config::{AdsProfileRef, RegionEndpoints, ReportConfig};
use domain::data_kiosk::QuerySpec;
use domain::{AccountKind, Region, Source};

use crate::config_file::{AccountEntry, AdsAccountEntry, ConfigFile, Credentials};
use crate::results::{Landed, read_back, table};
use crate::run::{self, RunRequest};
use crate::stage::StageHandle;
use crate::{LocalOptions, LocalPipeline};

/// The demo's configuration for a simulator at `simulator_url`.
pub fn demo_config(stage: &str, simulator_url: &str, lwa_url: &str) -> ConfigFile {
    let endpoints = RegionEndpoints {
        spapi_endpoint: simulator_url.to_owned(),
        lwa_endpoint: lwa_url.to_owned(),
        aws_region: String::new(),
        ads_endpoint: Some(simulator_url.to_owned()),
        ads_lwa_endpoint: None,
    };
    let credentials = Credentials {
        client_id: simulator::DEFAULT_CLIENT_ID.to_owned(),
        client_secret: simulator::DEFAULT_CLIENT_SECRET.to_owned(),
        refresh_token: simulator::DEFAULT_REFRESH_TOKEN.to_owned(),
    };
    let account = |region: Region, marketplace: &str| AccountEntry {
        selling_partner_id: simulator::DEFAULT_SELLING_PARTNER_ID.to_owned(),
        kind: AccountKind::Seller,
        region,
        marketplaces: vec![marketplace.to_owned()],
        secret_arn: None,
        credentials: Some(credentials.clone()),
    };
    let report = |report_type: &str, account: &str| ReportConfig {
        source: Source::sp_api_reports(),
        report_type: report_type.to_owned(),
        accounts: vec![account.to_owned()],
        marketplaces: vec![],
        options: BTreeMap::new(),
        window: "P1D".to_owned(),
        lag: "P0D".to_owned(),
        schedule: "cron(0 6 * * ? *)".to_owned(),
        await_timeout_secs: 30,
        // The demo fetches yesterday only; a real config leaves this to the catalog
        // (seven trailing days for SP-API reports), so missed days are fetched later.
        catch_up: Some(1),
        patience: None,
        data_kiosk: None,
        ads: None,
        restatement: None,
        amc: None,
    };
    ConfigFile {
        stage: stage.to_owned(),
        regions: BTreeMap::from([
            (
                Region::Na,
                RegionEndpoints {
                    aws_region: "us-east-1".into(),
                    ..endpoints.clone()
                },
            ),
            (
                Region::Fe,
                RegionEndpoints {
                    aws_region: "us-west-2".into(),
                    ..endpoints
                },
            ),
        ]),
        marketplaces: None,
        accounts: BTreeMap::from([
            ("demo-us".to_owned(), account(Region::Na, "ATVPDKIKX0DER")),
            (
                "demo-jp".to_owned(),
                account(Region::Fe, domain::marketplace::JAPAN),
            ),
        ]),
        ads_accounts: BTreeMap::from([(
            "demo-ads".to_owned(),
            AdsAccountEntry {
                region: Region::Na,
                profiles: vec![AdsProfileRef {
                    profile_id: simulator::DEFAULT_ADS_PROFILE_ID,
                    marketplace: "ATVPDKIKX0DER".to_owned(),
                }],
                secret_arn: None,
                credentials: Some(Credentials {
                    refresh_token: simulator::DEFAULT_ADS_REFRESH_TOKEN.to_owned(),
                    ..credentials.clone()
                }),
            },
        )]),
        amc_instances: BTreeMap::from([(
            "demo-amc".to_owned(),
            AmcInstance {
                ads_account: "demo-ads".to_owned(),
                instance_id: simulator::DEFAULT_AMC_INSTANCE_ID.to_owned(),
                advertiser_id: simulator::DEFAULT_AMC_ACCOUNT_ID.to_owned(),
                marketplace: "ATVPDKIKX0DER".to_owned(),
                parallel_executions: domain::amc::PARALLEL_EXECUTIONS,
                daily_executions: domain::amc::DAILY_AD_HOC_EXECUTIONS,
            },
        )]),
        reports: BTreeMap::from([
            (
                "orders".to_owned(),
                report(
                    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                    "demo-us",
                ),
            ),
            (
                "sales-traffic".to_owned(),
                report("GET_SALES_AND_TRAFFIC_REPORT", "demo-us"),
            ),
            (
                "jp-orders".to_owned(),
                report(
                    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                    "demo-jp",
                ),
            ),
            (
                "sales-by-date".to_owned(),
                ReportConfig {
                    source: Source::new("data-kiosk"),
                    data_kiosk: Some(sales_by_date()),
                    ..report("analytics_salesAndTraffic_2024_04_24", "demo-us")
                },
            ),
            (
                "sp-campaigns".to_owned(),
                ReportConfig {
                    source: Source::new("ads-reports"),
                    ads: Some(sp_campaigns()),
                    // The demo fetches yesterday once; a real config keeps the type's
                    // restatement (each day fetched again 1, 7 and 28 days later).
                    restatement: Some(vec![]),
                    ..report("spCampaigns", "demo-ads")
                },
            ),
            (
                "campaign-reach".to_owned(),
                ReportConfig {
                    source: Source::new("amc-workflows"),
                    accounts: vec![],
                    amc: Some(AmcExecutionSpec {
                        instance: "demo-amc".to_owned(),
                        time_zone: "America/New_York".to_owned(),
                        ignore_data_gaps: false,
                        parameters: BTreeMap::new(),
                    }),
                    ..report(EXAMPLE_WORKFLOW, "demo-amc")
                },
            ),
        ]),
    }
}

/// The demo's Data Kiosk query: daily sales and traffic of the account's marketplace.
pub fn sales_by_date() -> QuerySpec {
    QuerySpec {
        query: "salesAndTrafficByDate".to_owned(),
        arguments: BTreeMap::from([("aggregateBy".to_owned(), "DAY".into())]),
        fields: [
            "startDate",
            "endDate",
            "marketplaceId",
            "sales.orderedProductSales.amount",
            "sales.orderedProductSales.currencyCode",
            "sales.unitsOrdered",
            "sales.totalOrderItems",
            "traffic.pageViews",
            "traffic.sessions",
        ]
        .map(str::to_owned)
        .to_vec(),
        preset: None,
    }
}

/// The workflow of `config/amc/` the demo runs on AMC.
pub const EXAMPLE_WORKFLOW: &str = "campaign_reach";

/// Makes the simulator's AMC instance hold the workflows of `config/amc/` (as
/// `sp-ingest amc workflows sync` does for a real instance).
pub async fn sync_example_workflows(file: &ConfigFile) -> anyhow::Result<()> {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/example.json");
    let instance = &file.amc_instances["demo-amc"];
    let (Some(account), Some(endpoints)) = (
        file.ads_accounts.get(&instance.ads_account),
        file.regions.get(&Region::Na),
    ) else {
        anyhow::bail!("the demo config has no Ads account for its AMC instance");
    };
    let credentials = account
        .credentials
        .as_ref()
        .context("the demo's Ads account has inline credentials")?;
    let ads = crate::ads::client(account.region, endpoints, credentials)?;
    let client = spapi::amc::AmcClient::new(ads, &instance.advertiser_id, &instance.marketplace);
    let files = crate::amc::workflow_files(&example)?;
    let changes = crate::amc::plan(&client, &instance.instance_id, &files).await?;
    crate::amc::apply(&client, &instance.instance_id, &files, &changes, false).await
}

/// The demo's Amazon Ads report: Sponsored Products spend and sales per campaign and day.
pub fn sp_campaigns() -> AdsReportSpec {
    AdsReportSpec {
        group_by: vec!["campaign".to_owned()],
        columns: [
            "date",
            "campaignId",
            "campaignName",
            "campaignStatus",
            "campaignBudgetCurrencyCode",
            "impressions",
            "clicks",
            "cost",
            "purchases7d",
            "sales7d",
        ]
        .map(str::to_owned)
        .to_vec(),
        filters: vec![],
        time_unit: TimeUnit::Daily,
    }
}

/// Checks each stored object against the simulator's digest (a Data Kiosk page by the
/// query its object names in `report-id`) and measures DONE → recorded from the
/// notification's `eventTime`.
pub async fn compare_with_simulator(
    sim: &simulator::RunningSimulator,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    lines: &mut [Landed],
) -> anyhow::Result<()> {
    let deliveries = sim.notification_deliveries();
    for line in lines.iter_mut() {
        match &line.result.outcome {
            contract::Outcome::Stored(_) => {
                let report_id = line.result.report_id.as_deref().unwrap_or_default();
                // An Ads report's file is a JSON array, stored as its rows' lines.
                let expected = match sim.expected_document(report_id).await {
                    Some(digest) => Some(digest),
                    None => sim.expected_ads_lines(report_id).await,
                };
                line.matches_source =
                    Some(expected.is_some_and(|d| Some(d.sha256) == line.object_sha256));
            }
            contract::Outcome::StoredPages { pages } => {
                let mut matches = true;
                for page in pages {
                    let head = s3
                        .head_object()
                        .bucket(bucket)
                        .key(&page.object_key)
                        .send()
                        .await
                        .with_context(|| format!("reading s3://{bucket}/{}", page.object_key))?;
                    let query_id = head
                        .metadata()
                        .and_then(|m| m.get("report-id"))
                        .cloned()
                        .unwrap_or_default();
                    // A Data Kiosk page, or a file of an AMC result (its number in the key).
                    let expected = match sim.expected_query_document(&query_id).await {
                        Some(digest) => Some(digest),
                        None => {
                            sim.expected_amc_file(&query_id, part_of(&page.object_key))
                                .await
                        }
                    };
                    matches &= expected.is_some_and(|d| d.sha256 == page.sha256);
                }
                line.matches_source = Some(matches);
            }
            _ => {}
        }
        let done_at = deliveries.iter().find_map(|d| {
            let body = &d.body;
            let report = &body["payload"]["reportProcessingFinishedNotification"]["reportId"];
            let id = report.as_str().or(body["payload"]["queryId"].as_str());
            (line.result.report_id.as_deref() == id)
                .then(|| {
                    body["eventTime"]
                        .as_str()
                        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                })
                .flatten()
        });
        line.done_to_recorded =
            done_at.and_then(|done| (line.result.recorded_at - done).to_std().ok());
    }
    Ok(())
}

/// Runs the demo; returns whether everything landed.
pub async fn run_demo() -> anyhow::Result<bool> {
    let started = Instant::now();
    println!("starting the local stack (moto, cargo lambda watch, routing proxy) …");
    let local = LocalPipeline::up(LocalOptions::default()).await?;
    let sim = simulator::start(simulator::SimConfig {
        sqs: Some(simulator::SqsTarget {
            endpoint_url: Some(local.aws_endpoint_url()),
            region: "us-east-1".into(),
        }),
        ..simulator::SimConfig::default()
    })
    .await?;
    println!("SP-API simulator on {}", sim.base_url());
    let outcome = demo_on(&local, &sim).await;
    sim.shutdown().await;
    local.shutdown().await;
    let ok = outcome?;
    println!("demo took {:.1} s", started.elapsed().as_secs_f64());
    Ok(ok)
}

/// The file number of a `…/page=0002.csv` key, from 0.
fn part_of(object_key: &str) -> u32 {
    object_key
        .rsplit_once("page=")
        .and_then(|(_, rest)| rest.split('.').next())
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(0, |n| n.saturating_sub(1))
}

async fn demo_on(local: &LocalPipeline, sim: &simulator::RunningSimulator) -> anyhow::Result<bool> {
    let file = demo_config("local", &sim.base_url(), &sim.lwa_token_url());
    sync_example_workflows(&file).await?;
    run_file(local.stage(), &file, Some(sim), false).await
}

/// The question an analyst asks first, answered with SQL over what the run curated.
async fn print_daily_sales(
    stage: &StageHandle,
    s3: &aws_sdk_s3::Client,
    partitions: &[contract::CuratedPartition],
) -> anyhow::Result<()> {
    let dir = std::path::Path::new(".local/curated");
    let bucket = &stage.resources().names.curated_bucket;
    crate::query::fetch_partitions(s3, bucket, partitions, dir).await?;
    let answer = crate::query::answer(
        &crate::query::venv_python(),
        dir,
        "SELECT marketplace, day, currency, orders, units, sales FROM daily_sales ORDER BY marketplace, day",
    )
    .await?;
    println!(
        "\ndaily sales — sql/views/daily_sales.sql run by DuckDB over the curated Parquet (in Athena: the same view):\n{}",
        answer.table()
    );
    Ok(())
}

/// Pushes `file` to the stage, subscribes its accounts, runs every report once and prints
/// what landed; with a simulator, each object is also checked against what it served.
/// Returns whether every report landed.
pub async fn run_file(
    stage: &StageHandle,
    file: &ConfigFile,
    sim: Option<&simulator::RunningSimulator>,
    refresh: bool,
) -> anyhow::Result<bool> {
    let config = stage.push(file).await?;
    println!(
        "configuration pushed: {} accounts, {} Amazon Ads accounts, {} reports",
        config.accounts.len(),
        config.ads_accounts.len(),
        config.reports.len()
    );
    for (account, state) in stage.subscribe(&config, &[]).await? {
        println!("notifications of account `{account}`: {state}");
    }
    let synced = stage.sync_schedules(&config).await?;
    println!(
        "schedules: {} created, {} updated, {} deleted, {} unchanged (group {})",
        synced.created.len(),
        synced.updated.len(),
        synced.deleted.len(),
        synced.unchanged.len(),
        stage.resources().names.schedule_group
    );
    let request = RunRequest {
        reports: vec![],
        run_at: Utc::now(),
        attempt: None,
        refresh,
        window: None,
        backfill: None,
        accounts: Vec::new(),
    };
    let sfn = aws_sdk_sfn::Client::new(stage.aws());
    let arn = stage.resources().names.state_machine_arn();
    let outcome = run::run_and_print(&sfn, &arn, &request, Duration::from_secs(900)).await?;
    let Some(summary) = outcome.summary else {
        println!(
            "the run ended before its summary; see the execution history of {}",
            outcome.execution_arn
        );
        return Ok(false);
    };
    let s3 = pipeline::s3_client(stage.aws());
    let raw_bucket = &stage.resources().names.raw_bucket;
    let mut lines = read_back(&s3, raw_bucket, &summary.results).await?;
    if let Some(sim) = sim {
        compare_with_simulator(sim, &s3, raw_bucket, &mut lines).await?;
    }
    print!("\n{}", table(&lines));
    let partitions: Vec<_> = lines
        .iter()
        .flat_map(|l| l.result.curated.clone())
        .collect();
    if !partitions.is_empty() {
        let views = stage.create_views().await?;
        println!(
            "\nAthena views in workgroup {} (database {}): {}",
            stage.resources().names.athena_workgroup,
            stage.resources().names.glue_database,
            views.join(", ")
        );
    }
    if partitions.iter().any(|p| p.table == "orders") {
        print_daily_sales(stage, &s3, &partitions).await?;
    }
    // A successful run can still carry a warning (characters replaced by U+FFFD).
    if let (None, Some(message)) = (&outcome.error, &summary.message) {
        println!("\nnote: {message}");
    }
    if lines.is_empty() {
        println!("every window of the run had landed before; `--refresh` requests them anew");
    }
    Ok(outcome.status == "SUCCEEDED" && lines.iter().all(Landed::is_ok))
}
