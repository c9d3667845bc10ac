//! `make bench`, rate limits: eight concurrent workers (as eight Lambdas) against the
//! simulator with Amazon's createReport usage plan scaled 60× in time (burst 15, one a
//! second instead of one a minute), once through the shared rate limit in DynamoDB (moto)
//! and once as a naive client that retries on 429 — the same run, the same seconds.
//! Quota used = createReports Amazon accepted ÷ the most its bucket allows in the time
//! taken (burst + rate × seconds). Prints one JSON object per mode on the last line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use domain::Region;
use local_stack::{Moto, MotoOptions};
use pipeline::MetadataTable;
use pipeline::metadata::SharedRateLimiter;
use serde_json::json;
use simulator::scenario::{RateLimit, Scenario};
use simulator::{RunningSimulator, SimConfig};
use spapi::{
    CreateReportSpecification, Endpoints, LwaCredentials, MustWait, Operation, RateLimiter,
    RetryPolicy, SellerAuthorization, SpApiClient,
};

const WORKERS: usize = 8;
const SECONDS: u64 = 20;
const RATE: f64 = 1.0;
const BURST: u32 = 15;

/// The naive client: no pacing at all; only its retries on 429.
struct Unpaced;

impl RateLimiter for Unpaced {
    fn acquire(
        &self,
        _: Operation,
    ) -> Pin<Box<dyn Future<Output = Result<(), MustWait>> + Send + '_>> {
        Box::pin(std::future::ready(Ok(())))
    }
    fn observe_limit(&self, _: Operation, _: f64) {}
    fn observe_throttle(&self, _: Operation) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

fn client(sim: &RunningSimulator, limiter: Arc<dyn RateLimiter>) -> SpApiClient {
    SpApiClient::builder(
        Endpoints::parse(&sim.base_url(), &sim.lwa_token_url()).expect("simulator URLs"),
    )
    .app_credentials(LwaCredentials::new(
        simulator::DEFAULT_CLIENT_ID,
        simulator::DEFAULT_CLIENT_SECRET,
    ))
    .seller(SellerAuthorization::new(
        simulator::DEFAULT_SELLING_PARTNER_ID,
        simulator::DEFAULT_REFRESH_TOKEN,
    ))
    .retry_policy(RetryPolicy::default())
    .rate_limiter(limiter)
    .build()
    .expect("client")
}

/// Eight workers asking for reports for [`SECONDS`]; a worker told to wait (the state
/// machine's job in the pipeline) waits, then asks again. Returns the seconds taken.
async fn workers(clients: Vec<SpApiClient>) -> f64 {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        tasks.spawn(async move {
            let end = chrono::Utc::now() - chrono::Duration::days(2);
            let spec = CreateReportSpecification::new(
                "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                ["ATVPDKIKX0DER"],
            )
            .with_data_window(end - chrono::Duration::days(1), end);
            while started.elapsed() < Duration::from_secs(SECONDS) {
                // Other answers (created, 429 after the retries) just go round again.
                if let Err(spapi::Error::RateLimited { wait_secs, .. }) =
                    client.create_report(&spec).await
                {
                    tokio::time::sleep(Duration::from_secs(wait_secs)).await;
                }
            }
        });
    }
    tasks.join_all().await;
    started.elapsed().as_secs_f64()
}

async fn measure(
    sim: &RunningSimulator,
    mode: &str,
    limiter: impl Fn() -> Arc<dyn RateLimiter>,
) -> serde_json::Value {
    let mut scenario = Scenario::default();
    scenario.rate_limits.insert(
        "createReport".into(),
        RateLimit {
            rate: RATE,
            burst: BURST,
        },
    );
    sim.set_scenario(scenario);
    let before = sim.calls();
    let clients = (0..WORKERS).map(|_| client(sim, limiter())).collect();
    let seconds = workers(clients).await;
    let after = sim.calls();
    let calls = after.calls("createReport") - before.calls("createReport");
    let throttled = after.throttled("createReport") - before.throttled("createReport");
    let accepted = calls - throttled;
    let allowed = f64::from(BURST) + RATE * seconds;
    json!({
        "mode": mode,
        "workers": WORKERS,
        "seconds": (seconds * 10.0).round() / 10.0,
        "accepted": accepted,
        "allowed": allowed.floor(),
        "quota_used": (accepted as f64 / allowed.floor() * 1000.0).round() / 1000.0,
        "throttled": throttled,
    })
}

#[tokio::main]
async fn main() {
    let moto = Moto::start(MotoOptions::from_env().expect("SP_INGEST_MOTO_SERVER"))
        .await
        .expect("moto starts");
    let aws = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    dynamodb
        .create_table()
        .table_name("bench")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("table");
    let table = MetadataTable::new(dynamodb, "bench");
    let sim = simulator::start(SimConfig::default())
        .await
        .expect("simulator starts");

    let shared = measure(&sim, "shared limiter", || {
        Arc::new(SharedRateLimiter::new(
            table.clone(),
            (
                simulator::DEFAULT_CLIENT_ID,
                simulator::DEFAULT_SELLING_PARTNER_ID,
                Region::Na,
            ),
            Duration::from_secs(5),
        ))
    })
    .await;
    let naive = measure(&sim, "naive retry-on-429", || Arc::new(Unpaced)).await;
    println!(
        "rate limits: {WORKERS} workers, createReport burst {BURST} + {RATE}/s (Amazon's plan 60x faster), {SECONDS} s each"
    );
    for result in [&shared, &naive] {
        println!(
            "  {:<20} {:>4} of {:>4} allowed ({:>5.1} %), {:>5} x 429",
            result["mode"].as_str().unwrap_or_default(),
            result["accepted"],
            result["allowed"],
            result["quota_used"].as_f64().unwrap_or_default() * 100.0,
            result["throttled"],
        );
    }
    let target = shared["quota_used"].as_f64().unwrap_or_default() >= 0.9
        && shared["throttled"].as_u64() == Some(0);
    println!(
        "  target >= 90 % of the quota and 0 x 429 with the shared limiter: {}",
        if target { "pass" } else { "FAIL" }
    );
    println!(
        "{}",
        json!({"rate_limits": [shared, naive], "pass": target})
    );
    sim.shutdown().await;
}
