//! `make bench`'s end-to-end figure: schedule → object landed for 20 reports, on the
//! notification path and on the polling path, in one run of the local pipeline (moto,
//! the real functions and state machine, the simulator). Prints one JSON object.
//!
//! Five sellers ask for four daily All Orders windows each (20 reports, all in flight at
//! once: four per account, each within its createReport burst). Amazon takes 25 s per
//! report (5 s queued, 20 s in progress). The state machine is started as the schedule
//! starts it; each report's latency is its outcome's `recordedAt` minus that start.
//! - notification path: REPORT_PROCESSING_FINISHED reaches SQS, the notification
//!   processor resumes the waiting task;
//! - polling path: the notifications are lost; after AwaitReport's timeout (1 s here)
//!   getReport is polled at the deployed pace (15 s, doubling to 600 s).
//!
//! Each run's usage (state transitions, Lambda invocations and their seconds, from the
//! execution history) feeds the cost model in bench/endtoend.py.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use cli::config_file::{AccountEntry, ConfigFile, Credentials};
use cli::run::{self, RunRequest};
use cli::{LocalOptions, LocalPipeline};
use domain::config::{RegionEndpoints, ReportConfig};
use domain::{AccountKind, Region, Source};
use simulator::scenario::{ReportRule, Scenario};
use simulator::{SellerAuth, SimConfig, SqsTarget};

const SELLERS: usize = 5;
const WINDOWS: u32 = 4;
/// Amazon's time per report: queued, then in progress.
const IN_QUEUE_MS: u64 = 5_000;
const IN_PROGRESS_MS: u64 = 20_000;
/// getReport's polling pace as deployed: the first wait, doubling up to the longest.
const POLL_BASE_SECONDS: u64 = 15;
const POLL_MAX_SECONDS: u64 = 600;
const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";

fn seller(n: usize) -> SellerAuth {
    SellerAuth {
        refresh_token: format!("Atzr|bench-seller-{n}"),
        selling_partner_id: format!("A{n}BENCHSELLER"),
    }
}

fn config(stage: &str, sim: &simulator::RunningSimulator, await_timeout_secs: u32) -> ConfigFile {
    let endpoints = RegionEndpoints {
        spapi_endpoint: sim.base_url(),
        lwa_endpoint: sim.lwa_token_url(),
        aws_region: "us-east-1".to_owned(),
        ads_endpoint: None,
        ads_lwa_endpoint: None,
    };
    let accounts: BTreeMap<String, AccountEntry> = (0..SELLERS)
        .map(|n| {
            let auth = seller(n);
            let entry = AccountEntry {
                selling_partner_id: auth.selling_partner_id,
                kind: AccountKind::Seller,
                region: Region::Na,
                marketplaces: vec!["ATVPDKIKX0DER".to_owned()],
                secret_arn: None,
                credentials: Some(Credentials {
                    client_id: simulator::DEFAULT_CLIENT_ID.to_owned(),
                    client_secret: simulator::DEFAULT_CLIENT_SECRET.to_owned(),
                    refresh_token: auth.refresh_token,
                }),
            };
            (format!("seller-{n}"), entry)
        })
        .collect();
    let orders = ReportConfig {
        source: Source::sp_api_reports(),
        report_type: ORDERS.to_owned(),
        accounts: accounts.keys().cloned().collect(),
        marketplaces: vec![],
        options: BTreeMap::new(),
        window: "P1D".to_owned(),
        lag: "P0D".to_owned(),
        schedule: "cron(0 6 * * ? *)".to_owned(),
        await_timeout_secs,
        catch_up: Some(WINDOWS),
        patience: None,
        data_kiosk: None,
        ads: None,
        restatement: None,
        amc: None,
    };
    ConfigFile {
        stage: stage.to_owned(),
        regions: BTreeMap::from([(Region::Na, endpoints)]),
        marketplaces: None,
        accounts,
        ads_accounts: BTreeMap::new(),
        amc_instances: BTreeMap::new(),
        reports: BTreeMap::from([("orders".to_owned(), orders)]),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let local = LocalPipeline::up(LocalOptions {
        poll_base_seconds: POLL_BASE_SECONDS,
        poll_max_seconds: POLL_MAX_SECONDS,
        ..LocalOptions::default()
    })
    .await?;
    let sim = simulator::start(SimConfig {
        sellers: (0..SELLERS).map(seller).collect(),
        sqs: Some(SqsTarget {
            endpoint_url: Some(local.aws_endpoint_url()),
            region: "us-east-1".into(),
        }),
        ..SimConfig::default()
    })
    .await?;
    let outcome = measure(&local, &sim).await;
    sim.shutdown().await;
    local.shutdown().await;
    println!("{}", serde_json::to_string(&outcome?)?);
    Ok(())
}

async fn measure(
    local: &LocalPipeline,
    sim: &simulator::RunningSimulator,
) -> anyhow::Result<serde_json::Value> {
    let stage = local.stage();
    let sfn = aws_sdk_sfn::Client::new(stage.aws());
    let arn = stage.resources().names.state_machine_arn();
    let mut paths = serde_json::Map::new();
    for (path, notified) in [("notification", true), ("polling", false)] {
        sim.set_scenario(Scenario {
            in_queue_ms: IN_QUEUE_MS,
            in_progress_ms: IN_PROGRESS_MS,
            rules: vec![ReportRule {
                lose_notification: !notified,
                ..ReportRule::default()
            }],
            ..Scenario::default()
        });
        let file = config(
            &stage.resources().names.stage,
            sim,
            if notified { 900 } else { 1 },
        );
        let pushed = stage.push(&file).await?;
        stage.subscribe(&pushed, &[]).await?;
        let request = RunRequest {
            reports: vec![],
            run_at: Utc::now(),
            attempt: Some(path.to_owned()),
            // The second path asks again for the windows the first one landed.
            refresh: true,
            window: None,
            backfill: None,
            accounts: Vec::new(),
        };
        eprintln!("{path} path: starting the run (as the schedule does) …");
        let started_at = Utc::now();
        let started = Instant::now();
        let outcome = run::run(&sfn, &arn, &request, Duration::from_secs(1800), |_, _| {}).await?;
        let summary = outcome.summary.with_context(|| {
            format!("the {path} run ended {} without a summary", outcome.status)
        })?;
        let mut latencies: Vec<f64> = summary
            .results
            .iter()
            .filter(|r| matches!(r.outcome, contract::Outcome::Stored(_)))
            .map(|r| (r.recorded_at - started_at).num_milliseconds() as f64 / 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        eprintln!(
            "{path} path: {} landed in {:.1} s",
            latencies.len(),
            started.elapsed().as_secs_f64()
        );
        paths.insert(
            path.to_owned(),
            serde_json::json!({
                "reports": SELLERS * WINDOWS as usize,
                "landed": latencies.len(),
                "status": outcome.status,
                "landed_seconds": latencies,
                "run_seconds": outcome.elapsed.as_secs_f64(),
                "transitions": outcome.usage.transitions,
                "invocations": outcome.usage.invocations,
                "invocation_seconds": outcome.usage.invocation_ms as f64 / 1000.0,
            }),
        );
    }
    Ok(serde_json::json!({
        "amazon_seconds_per_report": (IN_QUEUE_MS + IN_PROGRESS_MS) / 1000,
        "poll_seconds": [POLL_BASE_SECONDS, POLL_MAX_SECONDS],
        "paths": paths,
    }))
}
