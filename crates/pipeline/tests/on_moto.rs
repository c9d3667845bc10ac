//! The pipeline's AWS-side pieces against a real emulator (moto): the metadata table's
//! race rules, sealed tokens and the config store.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use chrono::{DateTime, TimeDelta, Utc};
use domain::{
    DataWindow, ErrorName, PlannedRequest, ProcessingStatus, Region, ReportRequest, Source,
};
use local_stack::{Moto, MotoOptions};
use pipeline::{Claim, ConfigStore, MetadataTable, Outcome, StatusChange, TokenSealer};
use secrecy::{ExposeSecret, SecretString};
use spapi::AccessToken;

struct Stack {
    _moto: Moto,
    aws: aws_config::SdkConfig,
}

async fn stack() -> Stack {
    let moto = Moto::start(MotoOptions::from_env().expect("moto"))
        .await
        .expect("moto starts");
    let aws = moto.sdk_config().await;
    Stack { _moto: moto, aws }
}

async fn table(stack: &Stack) -> MetadataTable {
    let client = aws_sdk_dynamodb::Client::new(&stack.aws);
    client
        .create_table()
        .table_name("reports")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    MetadataTable::new(client, "reports")
}

fn planned(day: u32) -> PlannedRequest {
    let start: DateTime<Utc> = format!("2026-11-{day:02}T00:00:00Z").parse().unwrap();
    let request = ReportRequest {
        account: "acme".into(),
        selling_partner_id: "A1SIMULATEDSELLER".into(),
        source: Source::sp_api_reports(),
        report_type: "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL".into(),
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        window: DataWindow::new(start, start + TimeDelta::days(1)).unwrap(),
        options: BTreeMap::new(),
        query: None,
        ads: None,
        amc: None,
    };
    PlannedRequest {
        report: "orders".into(),
        key: request.key(),
        request,
        region: Region::Na,
        completion: domain::Completion::Notification,
        await_timeout_secs: 60,
        endpoints: domain::config::RegionEndpoints::production(Region::Na),
        secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme".into(),
        patience_secs: 6 * 3600,
        supersedes: None,
        config_version: "0123456789abcdef".into(),
        page: None,
        amc_limits: None,
    }
}

const SELLER: &str = "A1SIMULATEDSELLER";

/// A request claimed and given `report_id`, as CreateReport leaves it.
async fn claimed_with_report(table: &MetadataTable, item: &PlannedRequest, report_id: &str) {
    table.claim(item, Utc::now()).await.unwrap();
    table
        .record_report_id(&item.key, SELLER, report_id, Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn second_claim_of_a_request_reuses_its_report() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(1);
    assert_eq!(table.claim(&item, Utc::now()).await.unwrap(), Claim::New);
    assert_eq!(
        table.claim(&item, Utc::now()).await.unwrap(),
        Claim::Existing { report_id: None }
    );
    assert_eq!(
        table
            .record_report_id(&item.key, SELLER, "5001", Utc::now())
            .await
            .unwrap(),
        "5001"
    );
    assert_eq!(
        table.claim(&item, Utc::now()).await.unwrap(),
        Claim::Existing {
            report_id: Some("5001".into())
        }
    );
    // A slower creator that made a second report converges on the first one.
    assert_eq!(
        table
            .record_report_id(&item.key, SELLER, "5002", Utc::now())
            .await
            .unwrap(),
        "5001"
    );
    assert_eq!(
        table.request_key_of(SELLER, "5001").await.unwrap(),
        Some(item.key.clone())
    );
}

#[tokio::test]
async fn a_superseded_report_is_given_up_once_and_its_late_notifications_change_nothing() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(20);
    claimed_with_report(&table, &item, "5101").await;
    table
        .record_status(SELLER, "5101", ProcessingStatus::Fatal, None, None)
        .await
        .unwrap();
    let previous = table
        .previous(std::slice::from_ref(&item.key))
        .await
        .unwrap();
    assert_eq!(
        previous[&item.key].status,
        Some(ProcessingStatus::Fatal),
        "{previous:?}"
    );
    assert!(previous[&item.key].requested_at.is_some());

    let again = PlannedRequest {
        supersedes: Some("5101".into()),
        ..item.clone()
    };
    assert_eq!(table.claim(&again, Utc::now()).await.unwrap(), Claim::New);
    table
        .record_report_id(&item.key, SELLER, "5102", Utc::now())
        .await
        .unwrap();
    // The same task retried: the replacement stands, nothing is given up twice.
    assert_eq!(
        table.claim(&again, Utc::now()).await.unwrap(),
        Claim::Existing {
            report_id: Some("5102".into())
        }
    );
    // Amazon's late word on the old report is not the request's status.
    let late = table
        .record_status(
            SELLER,
            "5101",
            ProcessingStatus::Done,
            Some("doc-old"),
            None,
        )
        .await
        .unwrap();
    assert!(
        matches!(late, StatusChange::Ignored { current: None, .. }),
        "{late:?}"
    );
    let record = table.request(&item.key).await.unwrap().unwrap();
    assert_eq!(
        (
            record.report_id.as_deref(),
            record.status,
            record.report_document_id
        ),
        (Some("5102"), None, None)
    );
    assert!(matches!(
        table
            .record_status(
                SELLER,
                "5102",
                ProcessingStatus::Done,
                Some("doc-new"),
                None
            )
            .await
            .unwrap(),
        StatusChange::Advanced { .. }
    ));
    assert!(table.previous(&[planned(21).key]).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_window_is_recorded_once_and_planning_sees_it_expired() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(22);
    table
        .record_expired(&item, "before the lookback limit", Utc::now())
        .await
        .unwrap();
    let previous = table
        .previous(std::slice::from_ref(&item.key))
        .await
        .unwrap();
    assert_eq!(previous[&item.key].ended, Some(domain::Ended::Expired));
    let record = table.request(&item.key).await.unwrap().unwrap();
    assert_eq!(
        record.account, "acme",
        "the window is described for operators"
    );
    assert!(record.report_id.is_none());
}

#[tokio::test]
async fn notification_before_token_is_sent_when_the_token_arrives() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(2);
    claimed_with_report(&table, &item, "6001").await;

    let change = table
        .record_status(SELLER, "6001", ProcessingStatus::Done, Some("doc-1"), None)
        .await
        .unwrap();
    assert_eq!(
        change,
        StatusChange::Advanced {
            key: item.key.clone()
        }
    );
    assert_eq!(
        table.claim_result(&item.key).await.unwrap(),
        None,
        "no token is waiting yet"
    );

    table.store_task_token(&item.key, "token-1").await.unwrap();
    let result = table
        .claim_result(&item.key)
        .await
        .unwrap()
        .expect("the token side comes second and sends");
    assert_eq!(
        (
            result.task_token.as_str(),
            result.status.processing_status,
            result.status.report_document_id.as_deref()
        ),
        ("token-1", ProcessingStatus::Done, Some("doc-1"))
    );
    assert_eq!(
        table.claim_result(&item.key).await.unwrap(),
        None,
        "never twice for one token"
    );
}

#[tokio::test]
async fn a_claim_given_back_after_a_failed_send_is_won_again_but_never_twice() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(11);
    claimed_with_report(&table, &item, "7101").await;
    table
        .record_status(SELLER, "7101", ProcessingStatus::Done, Some("doc-7"), None)
        .await
        .unwrap();
    table.store_task_token(&item.key, "token-7").await.unwrap();
    let first = table.claim_result(&item.key).await.unwrap();
    assert!(first.is_some());
    assert_eq!(table.claim_result(&item.key).await.unwrap(), None);
    // SendTaskSuccess failed: the claim is given back and can be won once more.
    table.release_result(&item.key, "token-7").await.unwrap();
    assert_eq!(table.claim_result(&item.key).await.unwrap(), first);
    assert_eq!(table.claim_result(&item.key).await.unwrap(), None);
    // A release for a token that was replaced changes nothing.
    table.store_task_token(&item.key, "token-8").await.unwrap();
    table.release_result(&item.key, "token-7").await.unwrap();
    let second = table.claim_result(&item.key).await.unwrap().unwrap();
    assert_eq!(second.task_token, "token-8");
}

#[tokio::test]
async fn a_data_kiosk_page_resumes_its_task_with_the_token_of_the_next_page() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(23);
    claimed_with_report(&table, &item, "7201").await;
    table
        .record_status(
            SELLER,
            "7201",
            ProcessingStatus::Done,
            Some("data-doc"),
            Some("AAMA-next"),
        )
        .await
        .unwrap();
    table.store_task_token(&item.key, "token-3").await.unwrap();
    let result = table
        .claim_result(&item.key)
        .await
        .unwrap()
        .expect("the token side comes second and sends");
    assert_eq!(
        result.status.report_document_id.as_deref(),
        Some("data-doc")
    );
    assert_eq!(result.status.next_page_token.as_deref(), Some("AAMA-next"));

    // The next page is a request of its own: claimed under its own key, its query kept.
    let next = item.next_page("AAMA-next");
    assert_ne!(next.key, item.key);
    assert_eq!(next.window_key(), &item.key);
    assert_eq!(table.claim(&next, Utc::now()).await.unwrap(), Claim::New);
    table
        .record_report_id(&next.key, SELLER, "7202", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        table
            .claim(&item.next_page("AAMA-next"), Utc::now())
            .await
            .unwrap(),
        Claim::Existing {
            report_id: Some("7202".into())
        },
        "a rerun reuses the page's query"
    );
}

#[tokio::test]
async fn token_before_notification_is_sent_by_the_status_side_once() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(3);
    claimed_with_report(&table, &item, "7001").await;
    table.store_task_token(&item.key, "token-2").await.unwrap();
    assert_eq!(
        table.claim_result(&item.key).await.unwrap(),
        None,
        "no terminal status yet"
    );

    table
        .record_status(SELLER, "7001", ProcessingStatus::Cancelled, None, None)
        .await
        .unwrap();
    let result = table
        .claim_result(&item.key)
        .await
        .unwrap()
        .expect("the status side comes second and sends");
    assert_eq!(result.status.processing_status, ProcessingStatus::Cancelled);
    assert_eq!(result.status.report_document_id, None);
    // What SendTaskSuccess carries is the status alone: the token stays out of the output.
    let json = serde_json::to_value(&result.status).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"processingStatus": "CANCELLED", "reportDocumentId": null, "nextPageToken": null})
    );

    // The duplicate notification changes nothing and sends nothing.
    let again = table
        .record_status(SELLER, "7001", ProcessingStatus::Cancelled, None, None)
        .await
        .unwrap();
    assert_eq!(
        again,
        StatusChange::Ignored {
            key: item.key.clone(),
            current: Some(ProcessingStatus::Cancelled)
        }
    );
    assert_eq!(table.claim_result(&item.key).await.unwrap(), None);
}

#[tokio::test]
async fn repeated_claims_send_exactly_one_result() {
    // One after another: moto applies concurrent conditional writes without a lock (two
    // of eight parallel claims were seen to win on moto 5.2.5), while DynamoDB makes each
    // conditional write atomic. What is checked here is the condition itself.
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(4);
    claimed_with_report(&table, &item, "8001").await;
    table.store_task_token(&item.key, "token-3").await.unwrap();
    table
        .record_status(SELLER, "8001", ProcessingStatus::Done, Some("doc"), None)
        .await
        .unwrap();
    let mut claims = Vec::new();
    for _ in 0..8 {
        claims.push(table.claim_result(&item.key).await.unwrap());
    }
    assert_eq!(
        claims.iter().filter(|c| c.is_some()).count(),
        1,
        "{claims:?}"
    );
}

#[tokio::test]
async fn terminal_status_never_goes_back_and_unknown_reports_are_told_apart() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(5);
    claimed_with_report(&table, &item, "9001").await;
    table
        .record_status(SELLER, "9001", ProcessingStatus::InProgress, None, None)
        .await
        .unwrap();
    table
        .record_status(
            SELLER,
            "9001",
            ProcessingStatus::Fatal,
            Some("err-doc"),
            None,
        )
        .await
        .unwrap();
    let late = table
        .record_status(SELLER, "9001", ProcessingStatus::InProgress, None, None)
        .await
        .unwrap();
    assert_eq!(
        late,
        StatusChange::Ignored {
            key: item.key.clone(),
            current: Some(ProcessingStatus::Fatal)
        }
    );
    assert_eq!(
        table
            .record_status(SELLER, "404404", ProcessingStatus::Done, None, None)
            .await
            .unwrap(),
        StatusChange::UnknownReport
    );
    assert_eq!(
        table
            .record_status("OTHERSELLER", "9001", ProcessingStatus::Done, None, None)
            .await
            .unwrap(),
        StatusChange::UnknownReport,
        "report ids are unique per selling partner only"
    );
}

#[tokio::test]
async fn rerun_of_a_finished_request_gets_its_result_again() {
    let stack = stack().await;
    let table = table(&stack).await;
    let item = planned(6);
    claimed_with_report(&table, &item, "9101").await;
    table
        .store_task_token(&item.key, "first-run")
        .await
        .unwrap();
    table
        .record_status(SELLER, "9101", ProcessingStatus::Done, Some("doc"), None)
        .await
        .unwrap();
    assert!(table.claim_result(&item.key).await.unwrap().is_some());
    let outcome = Outcome::Stored(contract::StoredObject {
        object_key: "k".into(),
        sha256: "00".into(),
        bytes: 3,
        rows: 1,
        source_charset: "UTF-8".into(),
        malformed_sequences: 0,
    });
    table
        .record_outcome(&item.key, &outcome, Utc::now())
        .await
        .unwrap();

    table
        .store_task_token(&item.key, "second-run")
        .await
        .unwrap();
    let result = table
        .claim_result(&item.key)
        .await
        .unwrap()
        .expect("a new waiter gets the recorded status");
    assert_eq!(result.task_token, "second-run");
    let record = table.request(&item.key).await.unwrap().unwrap();
    assert_eq!(
        (record.report_id.as_deref(), record.outcome),
        (Some("9101"), Some(outcome))
    );
}

#[tokio::test]
async fn notification_ids_are_remembered() {
    let stack = stack().await;
    let table = table(&stack).await;
    assert!(!table.notification_seen("n-1").await.unwrap());
    table
        .remember_notification("n-1", "5001", Utc::now())
        .await
        .unwrap();
    assert!(table.notification_seen("n-1").await.unwrap());
    assert!(!table.notification_seen("n-2").await.unwrap());
    // Remembered for a month, then DynamoDB's TTL deletes it.
    let item = aws_sdk_dynamodb::Client::new(&stack.aws)
        .get_item()
        .table_name("reports")
        .key("pk", AttributeValue::S("notification#n-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = item[pipeline::metadata::EXPIRES_AT]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    let days = (expires - Utc::now().timestamp()) / 86_400;
    assert!((29..=30).contains(&days), "expires in {days} days");
}

#[tokio::test]
async fn sealed_tokens_open_only_for_their_selling_partner_and_until_expiry() {
    let stack = stack().await;
    let kms = aws_sdk_kms::Client::new(&stack.aws);
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let sealer = TokenSealer::new(kms, key);
    let expires = Utc::now() + TimeDelta::hours(1);
    let token = AccessToken::new(
        SecretString::from("Atza|secret-access-token".to_owned()),
        expires,
    );
    let sealed = sealer.seal(&token, SELLER).await.unwrap();
    assert!(!sealed.ciphertext.contains("secret-access-token"));
    assert!(!serde_json::to_string(&sealed).unwrap().contains("Atza|"));

    let opened = sealer.open(&sealed, SELLER, Utc::now()).await.unwrap();
    assert_eq!(opened.secret().expose_secret(), "Atza|secret-access-token");
    assert_eq!(opened.expires_at(), expires);

    let wrong = sealer
        .open(&sealed, "ANOTHERSELLER", Utc::now())
        .await
        .unwrap_err();
    assert_eq!(wrong.name(), ErrorName::Unauthorized, "{wrong}");
    let late = sealer
        .open(&sealed, SELLER, expires + TimeDelta::seconds(1))
        .await
        .unwrap_err();
    assert_eq!(late.name(), ErrorName::TokenExpired, "{late}");
}

#[tokio::test]
async fn config_store_reads_a_stage_and_names_bad_parameters() {
    let stack = stack().await;
    let ssm = aws_sdk_ssm::Client::new(&stack.aws);
    let put = |name: &str, value: serde_json::Value| {
        let ssm = ssm.clone();
        let name = format!("/sp-ingest/test/{name}");
        async move {
            ssm.put_parameter()
                .name(name)
                .value(value.to_string())
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .unwrap()
        }
    };
    put(
        "marketplaces",
        serde_json::to_value(domain::Config::all_marketplaces()).unwrap(),
    )
    .await;
    put("regions/na", serde_json::json!({"spapi_endpoint": "http://127.0.0.1:9", "lwa_endpoint": "http://127.0.0.1:9/auth/o2/token", "aws_region": "us-east-1"})).await;
    put("accounts/acme", serde_json::json!({"selling_partner_id": SELLER, "kind": "seller", "region": "na", "marketplaces": ["ATVPDKIKX0DER"], "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme"})).await;
    let config = ConfigStore::new(ssm.clone(), "test")
        .config()
        .await
        .unwrap();
    assert_eq!(config.accounts["acme"].selling_partner_id, SELLER);
    assert_eq!(config.marketplaces.len(), 23);

    put("accounts/broken", serde_json::json!({"selling_partner_id": SELLER, "kind": "seller", "region": "na", "marketplaces": ["A1PA6795UKMFR9"], "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:b"})).await;
    let failure = ConfigStore::new(ssm.clone(), "test")
        .config()
        .await
        .unwrap_err();
    assert_eq!(failure.name(), ErrorName::ConfigInvalid);
    assert!(
        failure
            .to_string()
            .contains("/sp-ingest/test/accounts/broken, field marketplaces[0]"),
        "{failure}"
    );

    let empty = ConfigStore::new(ssm, "nothing-here")
        .config()
        .await
        .unwrap_err();
    assert!(
        empty
            .to_string()
            .contains("no parameters under /sp-ingest/nothing-here/"),
        "{empty}"
    );
}

#[tokio::test]
async fn an_amc_ledger_grants_exactly_its_limit_to_concurrent_takers_and_frees_given_back_places() {
    use domain::amc::Capacity;
    let stack = stack().await;
    let table = table(&stack).await;
    let now = Utc::now();
    let lease = now + TimeDelta::hours(8);
    let keys: Vec<domain::RequestKey> = (1..=5).map(|day| planned(day).key).collect();
    let take = |i: usize| table.take_amc_place("amcsim", &keys[i], (2, 30), now, lease);
    let (a, b, c, d, e) = tokio::join!(take(0), take(1), take(2), take(3), take(4));
    let outcomes: Vec<Capacity> = [a, b, c, d, e].into_iter().map(Result::unwrap).collect();
    let started: Vec<&domain::RequestKey> = keys
        .iter()
        .zip(&outcomes)
        .filter(|(_, c)| matches!(c, Capacity::Start(_)))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(started.len(), 2, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter(|c| !matches!(c, Capacity::Start(_)))
            .all(|c| *c == Capacity::Full { running: 2 }),
        "{outcomes:?}"
    );
    // A retried take of a place held is granted again, and takes nothing more.
    assert_eq!(
        table
            .take_amc_place("amcsim", started[0], (2, 30), now, lease)
            .await
            .unwrap(),
        Capacity::Held
    );
    table.release_amc_place("amcsim", started[0]).await.unwrap();
    table.release_amc_place("amcsim", started[0]).await.unwrap();
    let waiting = keys.iter().find(|k| !started.contains(k)).unwrap();
    assert!(matches!(
        table
            .take_amc_place("amcsim", waiting, (2, 30), now, lease)
            .await
            .unwrap(),
        Capacity::Start(_)
    ));
    // Three started today: a daily limit of three is spent.
    let last = keys
        .iter()
        .rfind(|k| !started.contains(k) && *k != waiting)
        .unwrap();
    assert_eq!(
        table
            .take_amc_place("amcsim", last, (9, 3), now, lease)
            .await
            .unwrap(),
        Capacity::DayIsSpent { started: 3 }
    );
    // Another instance has a ledger of its own.
    assert!(matches!(
        table
            .take_amc_place("other", last, (1, 1), now, lease)
            .await
            .unwrap(),
        Capacity::Start(_)
    ));
}

#[tokio::test]
async fn lambdas_sharing_a_selling_partners_buckets_never_take_more_than_amazon_allows() {
    use pipeline::metadata::{BucketName, SharedRateLimiter};
    use spapi::{MustWait, Operation, RateLimiter};
    use std::time::Duration;

    let stack = stack().await;
    let table = table(&stack).await;
    let lambda = |seller: &str| {
        SharedRateLimiter::new(
            table.clone(),
            ("amzn1.application-oa2-client.app", seller, Region::Na),
            Duration::ZERO,
        )
    };
    // Eight containers of one seller ask for createReport three times each, at once:
    // Amazon's bucket holds fifteen and refills one a minute.
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let container = std::sync::Arc::new(lambda("A1SELLER"));
        for _ in 0..3 {
            let container = container.clone();
            asks.spawn(async move { container.acquire(Operation::CreateReport).await });
        }
    }
    let answers = asks.join_all().await;
    let granted = answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(granted, 15, "{answers:?}");
    for answer in answers.iter().filter_map(|a| a.err()) {
        let MustWait(wait) = answer;
        assert!(
            (Duration::from_secs(55)..=Duration::from_secs(60)).contains(&wait),
            "the next token is a minute away, not {wait:?}"
        );
    }
    // Another seller of the same app has buckets of its own.
    let other = lambda("A2OTHER");
    assert_eq!(other.acquire(Operation::CreateReport).await, Ok(()));
    // A 429 empties the bucket for every container, even one that saw it full.
    other.observe_throttle(Operation::GetReport).await;
    assert!(
        lambda("A2OTHER")
            .acquire(Operation::GetReport)
            .await
            .is_err()
    );
    // Amazon's header sets the rate: at 1000/s the next token is at once.
    let fast = lambda("A3FAST");
    fast.observe_limit(Operation::GetReportDocument, 1000.0);
    for _ in 0..40 {
        assert_eq!(fast.acquire(Operation::GetReportDocument).await, Ok(()));
    }

    // A hidden per-application quota: one Sales and Traffic report per 15 minutes across
    // sellers; a token not used is given back.
    let quota = BucketName::app_quota(
        "amzn1.application-oa2-client.app",
        Region::Na,
        "GET_SALES_AND_TRAFFIC_REPORT",
    );
    let plan = domain::rate_limit::one_per(Duration::from_secs(900));
    let now = Utc::now().timestamp_millis();
    let take = || table.take_token(&quota, None, (plan, None), now, Duration::ZERO);
    let domain::rate_limit::Admission::Go { next, .. } = take().await.unwrap().admission else {
        panic!("a fresh quota has a token")
    };
    let domain::rate_limit::Admission::Later { wait } = take().await.unwrap().admission else {
        panic!("a spent quota has none")
    };
    // Fifteen minutes from the first take, less the moments this call took.
    assert!(
        (Duration::from_secs(899)..=Duration::from_secs(900)).contains(&wait),
        "{wait:?}"
    );
    table.give_back_token(&quota, next).await.unwrap();
    assert!(matches!(
        take().await.unwrap().admission,
        domain::rate_limit::Admission::Go { .. }
    ));
}
