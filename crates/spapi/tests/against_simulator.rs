//! The client against the in-process SP-API + LWA simulator: real HTTP, real gzip, real
//! fault injection. One file on purpose: every integration-test binary links the whole
//! dependency graph.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use simulator::scenario::{Charset, Outcome, QueryRule, RateLimit, ReportRule, Scenario};
use simulator::{RunningSimulator, SimConfig};
use spapi::data_kiosk::{CreateQuerySpecification, QueriesFilter, Query};
use spapi::notifications::REPORT_PROCESSING_FINISHED;
use spapi::{
    CreateDestinationRequest, CreateReportSpecification, CreateSubscriptionOutcome,
    CreateSubscriptionRequest, DocumentStream, Endpoints, Error, GetReportsQuery, LocalRateLimiter,
    LwaClient, LwaCredentials, Operation, ProcessingStatus, Report, ReportDocumentOptions,
    ReportsFilter, RetryPolicy, SellerAuthorization, SpApiClient, document_error_name,
};
use tokio::io::AsyncReadExt;

use domain::ErrorName;

const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const US: &str = "ATVPDKIKX0DER";
const JP: &str = "A1VC38T7YXB528";

/// Tiny waits so the whole file runs in seconds.
fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
    }
}

/// Reports finish within a few hundred milliseconds.
fn quick(scenario: Scenario) -> Scenario {
    Scenario {
        in_queue_ms: 20,
        in_progress_ms: 30,
        ..scenario
    }
}

async fn start(scenario: Scenario) -> RunningSimulator {
    let sim = simulator::start(SimConfig::default())
        .await
        .expect("simulator starts");
    sim.set_scenario(quick(scenario));
    sim
}

fn endpoints(sim: &RunningSimulator) -> Endpoints {
    Endpoints::parse(&sim.base_url(), &sim.lwa_token_url()).expect("simulator URLs are valid")
}

fn app() -> LwaCredentials {
    LwaCredentials::new(
        simulator::DEFAULT_CLIENT_ID,
        simulator::DEFAULT_CLIENT_SECRET,
    )
}

fn seller() -> SellerAuthorization {
    SellerAuthorization::new(
        simulator::DEFAULT_SELLING_PARTNER_ID,
        simulator::DEFAULT_REFRESH_TOKEN,
    )
}

fn client(sim: &RunningSimulator) -> SpApiClient {
    client_with(sim, app(), seller(), fast_retries(5))
}

fn client_with(
    sim: &RunningSimulator,
    app: LwaCredentials,
    seller: SellerAuthorization,
    retry: RetryPolicy,
) -> SpApiClient {
    SpApiClient::builder(endpoints(sim))
        .app_credentials(app)
        .seller(seller)
        .retry_policy(retry)
        .build()
        .unwrap()
}

fn orders(marketplace: &str) -> CreateReportSpecification {
    let end = chrono::Utc::now() - chrono::Duration::hours(1);
    CreateReportSpecification::new(ORDERS, [marketplace])
        .with_data_window(end - chrono::Duration::days(1), end)
}

async fn until_terminal(client: &SpApiClient, report_id: &str) -> Report {
    for _ in 0..100 {
        let report = client.get_report(report_id).await.unwrap();
        if report.processing_status.is_terminal() {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("report {report_id} did not finish");
}

async fn finished_report(
    client: &SpApiClient,
    specification: &CreateReportSpecification,
) -> Report {
    let created = client.create_report(specification).await.unwrap();
    until_terminal(client, &created.report_id).await
}

/// Reads a stream to its end: sha256 (hex) and the bytes themselves.
async fn drain(mut stream: DocumentStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut content = Vec::new();
    stream.read_to_end(&mut content).await?;
    Ok((hex::encode(Sha256::digest(&content)), content))
}

fn calls(sim: &RunningSimulator, operation: &str) -> (u64, u64) {
    let stats = sim.calls();
    (stats.calls(operation), stats.throttled(operation))
}

fn assert_no_secret(text: &str) {
    for secret in [
        simulator::DEFAULT_CLIENT_SECRET,
        simulator::DEFAULT_REFRESH_TOKEN,
        simulator::DEFAULT_ADS_REFRESH_TOKEN,
        "wrong-secret",
        "Atzr|revoked",
    ] {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
    assert!(
        !text.contains("Atza|"),
        "an access token leaked into: {text}"
    );
}

#[tokio::test]
async fn report_is_created_polled_and_streamed_byte_exact() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    assert_eq!(report.processing_status, ProcessingStatus::Done);
    let document_id = report.report_document_id.expect("DONE has a document");
    let document = client
        .get_report_document(&document_id, ReportDocumentOptions::default())
        .await
        .unwrap();
    let stream = client.download_document(&document).await.unwrap();
    let charset = stream.charset().map(str::to_owned);
    let (sha256, content) = drain(stream).await.unwrap();

    let expected = sim
        .expected_document(&report.report_id)
        .await
        .expect("simulator knows the report");
    assert_eq!(
        sha256, expected.source_sha256,
        "the client hands over the source bytes, decompressed"
    );
    assert_eq!(content.len() as u64, expected.source_bytes);
    assert_eq!(charset.as_deref(), Some(expected.source_charset.as_str()));
    sim.shutdown().await;
}

#[tokio::test]
async fn cp932_document_exposes_its_charset_and_is_not_transcoded() {
    let rule = ReportRule {
        marketplace_id: Some(JP.to_owned()),
        charset: Some(Charset::Cp932),
        ..ReportRule::default()
    };
    let sim = start(Scenario {
        rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(JP)).await;
    let document_id = report.report_document_id.unwrap();
    let document = client
        .get_report_document(&document_id, ReportDocumentOptions::default())
        .await
        .unwrap();
    let stream = client.download_document(&document).await.unwrap();
    assert_eq!(stream.charset(), Some("Cp932"));
    let (sha256, _) = drain(stream).await.unwrap();

    let expected = sim.expected_document(&report.report_id).await.unwrap();
    assert_eq!(expected.source_charset, "Cp932");
    assert_eq!(sha256, expected.source_sha256);
    assert_ne!(
        sha256, expected.sha256,
        "UTF-8 transcoding is the Storage Lambda's job"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn content_encoding_gzip_is_decoded_once() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    let options = ReportDocumentOptions {
        enable_content_encoding_url_header: true,
    };
    let document = client
        .get_report_document(report.report_document_id.as_deref().unwrap(), options)
        .await
        .unwrap();
    let stream = client.download_document(&document).await.unwrap();
    assert_eq!(
        stream.compression(),
        Some(spapi::CompressionAlgorithm::Gzip)
    );
    let (sha256, _) = drain(stream).await.unwrap();
    assert_eq!(
        sha256,
        sim.expected_document(&report.report_id)
            .await
            .unwrap()
            .source_sha256
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn uncompressed_document_is_streamed_as_is() {
    let rule = ReportRule {
        compress: Some(false),
        ..ReportRule::default()
    };
    let sim = start(Scenario {
        rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    let document = client
        .get_report_document(
            report.report_document_id.as_deref().unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(document.compression_algorithm, None);
    let stream = client.download_document(&document).await.unwrap();
    assert_eq!(stream.compression(), None);
    let (sha256, _) = drain(stream).await.unwrap();
    assert_eq!(
        sha256,
        sim.expected_document(&report.report_id)
            .await
            .unwrap()
            .source_sha256
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_refreshed_once_and_the_call_succeeds() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);
    let created = client.create_report(&orders(US)).await.unwrap();

    sim.expire_tokens();
    let report = client
        .get_report(&created.report_id)
        .await
        .expect("one refresh, then success");
    assert_eq!(report.report_id, created.report_id);
    let get_report = sim.calls().get("getReport");
    assert_eq!(
        (get_report.calls, get_report.unauthorized),
        (2, 1),
        "one 403, one retry with a fresh token"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_header_is_adopted_by_the_limiter() {
    let mut scenario = Scenario::default();
    scenario.rate_limits.insert(
        "getReport".to_owned(),
        RateLimit {
            rate: 5.0,
            burst: 15,
        },
    );
    let sim = start(scenario).await;
    let limiter = Arc::new(LocalRateLimiter::with_default_plans());
    let client = SpApiClient::builder(endpoints(&sim))
        .app_credentials(app())
        .seller(seller())
        .rate_limiter(limiter.clone())
        .build()
        .unwrap();

    let created = client.create_report(&orders(US)).await.unwrap();
    client.get_report(&created.report_id).await.unwrap();
    assert_eq!(
        limiter.rate_per_second(Operation::GetReport),
        5.0,
        "x-amzn-RateLimit-Limit replaced the default 2/s"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_share_one_token() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);
    let created = client.create_report(&orders(US)).await.unwrap();
    let first = client.seller_access_token().await.unwrap();

    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let id = created.report_id.clone();
            tokio::spawn(async move { client.get_report(&id).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let after = client.seller_access_token().await.unwrap();
    assert_eq!(
        after.expires_at(),
        first.expires_at(),
        "the cached token was reused, not refreshed per call"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn given_token_client_fails_with_token_expired_after_expiry() {
    // Tokens of ten minutes: one Amazon calls expired may well be (a fresh one, minted
    // minutes ago, would be Unauthorized: see the next test).
    let sim = start(Scenario {
        token_ttl_secs: 600,
        ..Scenario::default()
    })
    .await;
    let http = spapi::build_http_client(Default::default()).unwrap();
    let endpoints = endpoints(&sim);
    // What the `auth` Lambda does, and what the other Lambdas receive.
    let lwa = LwaClient::new(http.clone(), endpoints.lwa_token.clone(), app());
    let token = lwa.refresh_token_grant(&seller()).await.unwrap();
    let base = SpApiClient::builder(endpoints)
        .http_client(http)
        .retry_policy(fast_retries(5))
        .build()
        .unwrap();
    let client = base.with_access_token(token);

    let created = client.create_report(&orders(US)).await.unwrap();
    sim.expire_tokens();
    let error = client.get_report(&created.report_id).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::TokenExpired, "{error}");
    assert!(
        error.request_id().is_some(),
        "Amazon's request id is kept: {error}"
    );
    assert_no_secret(&format!("{error} {error:?}"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_fresh_token_refused_as_expired_is_unauthorized_and_not_renewed_forever() {
    let sim = start(Scenario::default()).await;
    let http = spapi::build_http_client(Default::default()).unwrap();
    let endpoints = endpoints(&sim);
    let lwa = LwaClient::new(http.clone(), endpoints.lwa_token.clone(), app());
    let token = lwa.refresh_token_grant(&seller()).await.unwrap();
    let client = SpApiClient::builder(endpoints)
        .http_client(http)
        .retry_policy(fast_retries(5))
        .build()
        .unwrap()
        .with_access_token(token);
    let created = client.create_report(&orders(US)).await.unwrap();
    // An hour-long token minted a moment ago, refused as expired: a new one would be
    // refused the same way (a missing role, a revoked grant), so the state machine must
    // not re-authenticate in a loop.
    sim.expire_tokens();
    let error = client.get_report(&created.report_id).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::Unauthorized, "{error}");
    assert!(
        error.to_string().contains("has expired"),
        "Amazon's words are kept: {error}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn given_token_past_its_expiry_is_not_sent() {
    let sim = start(Scenario {
        token_ttl_secs: 1,
        ..Scenario::default()
    })
    .await;
    let endpoints = endpoints(&sim);
    let lwa = LwaClient::new(
        spapi::build_http_client(Default::default()).unwrap(),
        endpoints.lwa_token.clone(),
        app(),
    );
    let token = lwa.refresh_token_grant(&seller()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let client = SpApiClient::builder(endpoints)
        .access_token(token)
        .build()
        .unwrap();

    let query = GetReportsQuery::Filter(ReportsFilter {
        report_types: vec![ORDERS.to_owned()],
        ..ReportsFilter::default()
    });
    let error = client.get_reports(&query).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::TokenExpired);
    assert_eq!(
        calls(&sim, "getReports").0,
        0,
        "an expired token never leaves the process"
    );
    sim.shutdown().await;
}

/// A scenario whose createReport plan (and `x-amzn-RateLimit-Limit`) is 50 a second: a
/// 429 empties the client's bucket, and the token after it is 20 ms away, not a minute.
fn fifty_a_second() -> Scenario {
    let mut scenario = Scenario::default();
    scenario.rate_limits.insert(
        "createReport".to_owned(),
        RateLimit {
            rate: 50.0,
            burst: 15,
        },
    );
    scenario
}

#[tokio::test]
async fn throttled_create_report_is_retried_and_succeeds() {
    let scenario = Scenario {
        throttle_next: [("createReport".to_owned(), 2)].into(),
        ..fifty_a_second()
    };
    let sim = start(scenario).await;
    let client = client(&sim);

    client
        .create_report(&orders(US))
        .await
        .expect("two 429s are absorbed by the retries");
    assert_eq!(
        calls(&sim, "createReport"),
        (3, 2),
        "three calls, two of them answered 429"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_beyond_max_attempts_fails_with_throttled() {
    let scenario = Scenario {
        throttle_next: [("createReport".to_owned(), 10)].into(),
        ..fifty_a_second()
    };
    let sim = start(scenario).await;
    let client = client_with(&sim, app(), seller(), fast_retries(3));

    let error = client.create_report(&orders(US)).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::Throttled, "{error}");
    assert!(error.to_string().contains("QuotaExceeded"), "{error}");
    assert_eq!(calls(&sim, "createReport"), (3, 3), "bounded attempts");
    sim.shutdown().await;
}

#[tokio::test]
async fn fatal_report_is_a_typed_status_with_a_downloadable_error_document() {
    let rule = ReportRule {
        outcome: Some(Outcome::Fatal),
        fatal_reason: Some("Report date range is not aligned".to_owned()),
        ..ReportRule::default()
    };
    let sim = start(Scenario {
        rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    assert_eq!(report.processing_status, ProcessingStatus::Fatal);
    let document_id = report
        .report_document_id
        .expect("this FATAL report has an error document");
    let document = client
        .get_report_document(&document_id, Default::default())
        .await
        .unwrap();
    let (_, content) = drain(client.download_document(&document).await.unwrap())
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&content).contains("Report date range is not aligned"));
    sim.shutdown().await;
}

#[tokio::test]
async fn cancelled_report_is_a_typed_status_without_document() {
    let rule = ReportRule {
        outcome: Some(Outcome::Cancelled),
        ..ReportRule::default()
    };
    let sim = start(Scenario {
        rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    assert_eq!(report.processing_status, ProcessingStatus::Cancelled);
    assert_eq!(report.report_document_id, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn queued_report_can_be_cancelled() {
    let sim = start(Scenario::default()).await;
    sim.set_scenario(Scenario {
        in_queue_ms: 60_000,
        ..Scenario::default()
    });
    let client = client(&sim);

    let created = client.create_report(&orders(US)).await.unwrap();
    client.cancel_report(&created.report_id).await.unwrap();
    assert_eq!(
        client
            .get_report(&created.report_id)
            .await
            .unwrap()
            .processing_status,
        ProcessingStatus::Cancelled
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_client_secret_is_unauthorized_with_advice_and_no_secret() {
    let sim = start(Scenario::default()).await;
    let wrong = LwaCredentials::new(simulator::DEFAULT_CLIENT_ID, "wrong-secret");
    let client = client_with(&sim, wrong, seller(), fast_retries(5));

    let error = client.create_report(&orders(US)).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::Unauthorized, "{error}");
    let message = error.to_string();
    assert!(message.contains("invalid_client"), "{message}");
    assert!(message.contains("client secret"), "{message}");
    assert_no_secret(&format!("{message} {error:?}"));
    assert_eq!(calls(&sim, "createReport").0, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_token_is_unauthorized_naming_the_seller() {
    let sim = start(Scenario::default()).await;
    let revoked = SellerAuthorization::new(simulator::DEFAULT_SELLING_PARTNER_ID, "Atzr|revoked");
    let client = client_with(&sim, app(), revoked, fast_retries(5));

    let error = client.get_report("123").await.unwrap_err();
    assert_eq!(error.name(), ErrorName::Unauthorized, "{error}");
    let message = error.to_string();
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(
        message.contains(simulator::DEFAULT_SELLING_PARTNER_ID),
        "{message}"
    );
    assert!(message.contains("re-authorise the app"), "{message}");
    assert_no_secret(&format!("{message} {error:?}"));
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_report_is_rejected_with_amazons_message_and_request_id() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);

    let error = client.get_report("999999999").await.unwrap_err();
    assert_eq!(error.rejected_status(), Some(404), "{error}");
    assert_eq!(error.name(), ErrorName::ReportGone);
    assert!(error.request_id().is_some(), "{error}");
    assert!(error.to_string().contains("NotFound"), "{error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_document_url_fails_with_document_url_expired() {
    let rule = ReportRule {
        url_ttl_secs: Some(1),
        ..ReportRule::default()
    };
    let sim = start(Scenario {
        rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    let document = client
        .get_report_document(
            report.report_document_id.as_deref().unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let error = client.download_document(&document).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::DocumentUrlExpired, "{error}");
    assert!(
        !error.to_string().contains('?'),
        "no presigned query string in the message: {error}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn truncated_download_is_reported_and_a_fresh_download_succeeds() {
    let rule = ReportRule {
        truncate_first_download: true,
        ..ReportRule::default()
    };
    let sim = start(Scenario {
        rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let report = finished_report(&client, &orders(US)).await;
    let document_id = report.report_document_id.unwrap();
    let document = client
        .get_report_document(&document_id, Default::default())
        .await
        .unwrap();
    let error = drain(client.download_document(&document).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        document_error_name(&error),
        Some(ErrorName::DocumentTruncated),
        "{error}"
    );

    let again = client
        .get_report_document(&document_id, Default::default())
        .await
        .unwrap();
    let (sha256, _) = drain(client.download_document(&again).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        sha256,
        sim.expected_document(&report.report_id)
            .await
            .unwrap()
            .source_sha256
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn report_pages_are_listed_with_next_token_alone() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);
    for _ in 0..3 {
        client.create_report(&orders(US)).await.unwrap();
    }

    let filter = ReportsFilter {
        report_types: vec![ORDERS.to_owned()],
        page_size: Some(2),
        ..ReportsFilter::default()
    };
    let first = client
        .get_reports(&GetReportsQuery::Filter(filter))
        .await
        .unwrap();
    assert_eq!(first.reports.len(), 2);
    let next = first
        .next_token
        .expect("a third report is on the next page");
    let second = client
        .get_reports(&GetReportsQuery::NextPage(next))
        .await
        .unwrap();
    assert_eq!(second.reports.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn notification_destination_and_subscription_lifecycle() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);
    let arn = "arn:aws:sqs:us-east-1:111122223333:sp-ingest-notifications";

    let destination = client
        .create_destination(&CreateDestinationRequest::sqs("sp-ingest", arn))
        .await
        .unwrap();
    let destinations = client.get_destinations().await.unwrap();
    assert!(
        destinations
            .iter()
            .any(|d| d.destination_id == destination.destination_id)
    );
    assert_eq!(
        client
            .get_destination(&destination.destination_id)
            .await
            .unwrap()
            .resource
            .sqs
            .unwrap()
            .arn,
        arn
    );

    let request = CreateSubscriptionRequest {
        payload_version: spapi::notifications::REPORT_PROCESSING_FINISHED_PAYLOAD_VERSION
            .to_owned(),
        destination_id: destination.destination_id.clone(),
        processing_directive: None,
    };
    let CreateSubscriptionOutcome::Created(subscription) = client
        .create_subscription(REPORT_PROCESSING_FINISHED, &request)
        .await
        .unwrap()
    else {
        panic!("the first subscription is created");
    };
    assert_eq!(subscription.destination_id, destination.destination_id);
    let found = client
        .get_subscription(REPORT_PROCESSING_FINISHED, None)
        .await
        .unwrap();
    assert_eq!(
        found.as_ref().map(|s| &s.subscription_id),
        Some(&subscription.subscription_id)
    );

    let again = client
        .create_subscription(REPORT_PROCESSING_FINISHED, &request)
        .await
        .unwrap();
    assert!(
        matches!(again, CreateSubscriptionOutcome::AlreadyExists { .. }),
        "{again:?}"
    );

    let by_id = client
        .get_subscription_by_id(REPORT_PROCESSING_FINISHED, &subscription.subscription_id)
        .await
        .unwrap();
    assert_eq!(by_id, subscription);
    client
        .delete_subscription_by_id(REPORT_PROCESSING_FINISHED, &subscription.subscription_id)
        .await
        .unwrap();
    assert_eq!(
        client
            .get_subscription(REPORT_PROCESSING_FINISHED, None)
            .await
            .unwrap(),
        None
    );
    client
        .delete_destination(&destination.destination_id)
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn grantless_operation_without_app_credentials_is_a_config_error() {
    let sim = start(Scenario::default()).await;
    let lwa = LwaClient::new(
        spapi::build_http_client(Default::default()).unwrap(),
        endpoints(&sim).lwa_token,
        app(),
    );
    let token = lwa.refresh_token_grant(&seller()).await.unwrap();
    let client = SpApiClient::builder(endpoints(&sim))
        .access_token(token)
        .build()
        .unwrap();

    let error = client.get_destinations().await.unwrap_err();
    assert_eq!(error.name(), ErrorName::ConfigInvalid);
    assert!(matches!(error, Error::MissingCredentials { .. }), "{error}");
    sim.shutdown().await;
}

/// Collects every log line written while a test runs.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, from when it is first asked for: a process-wide
/// subscriber, because a scoped one can lose a callsite whose interest another test's
/// thread decided meanwhile with nobody listening (a rare flake).
fn captured_logs() -> &'static CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // Setting it re-decides every callsite's interest.
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test of this binary sets a subscriber");
        logs
    })
}

#[tokio::test]
async fn logs_never_contain_a_secret_a_token_or_a_url_signature() {
    let logs = captured_logs();
    let from = logs.0.lock().unwrap().len();

    let sim = start(Scenario::default()).await;
    let wrong = LwaCredentials::new(simulator::DEFAULT_CLIENT_ID, "wrong-secret");
    let refused = client_with(&sim, wrong, seller(), fast_retries(2))
        .get_destinations()
        .await
        .unwrap_err();
    tracing::warn!(error = %refused, details = ?refused, "as a Lambda would log it");

    let client = client(&sim);
    let report = finished_report(&client, &orders(US)).await;
    sim.expire_tokens();
    let document_id = report.report_document_id.unwrap();
    let document = client
        .get_report_document(&document_id, Default::default())
        .await
        .unwrap();
    tracing::info!(?document, "as a Lambda would log it");
    drain(client.download_document(&document).await.unwrap())
        .await
        .unwrap();
    sim.shutdown().await;

    // From this test's start: its own lines, and whatever other tests logged meanwhile
    // (which must not hold a secret either).
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()[from..]).into_owned();
    assert!(
        text.contains("SP-API answered"),
        "the capture works: {text}"
    );
    assert_no_secret(&text);
    assert!(
        !text.contains("X-Amz-Signature="),
        "a presigned URL leaked into the logs"
    );
}

const SALES_BY_DATE: &str = r#"query SalesByDate { analytics_salesAndTraffic_2024_04_24 {
  salesAndTrafficByDate(startDate: "2024-05-01", endDate: "2024-05-07", aggregateBy: DAY, marketplaceIds: ["ATVPDKIKX0DER"]) {
    startDate endDate marketplaceId
    sales { orderedProductSales { amount currencyCode } unitsOrdered }
    traffic { pageViews sessions } } } }"#;

fn query(pagination_token: Option<&str>) -> CreateQuerySpecification {
    CreateQuerySpecification {
        query: SALES_BY_DATE.to_owned(),
        pagination_token: pagination_token.map(str::to_owned),
    }
}

async fn until_query_terminal(client: &SpApiClient, query_id: &str) -> Query {
    for _ in 0..100 {
        let query = client.get_query(query_id).await.unwrap();
        if query.processing_status.is_terminal() {
            return query;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("query {query_id} did not finish");
}

#[tokio::test]
async fn data_kiosk_pages_chain_by_token_and_each_page_downloads_byte_exact() {
    let rule = QueryRule {
        pages: Some(3),
        rows: Some(5),
        ..QueryRule::default()
    };
    let sim = start(Scenario {
        query_rules: vec![rule],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);

    let mut token: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let created = client.create_query(&query(token.as_deref())).await.unwrap();
        let finished = until_query_terminal(&client, &created.query_id).await;
        assert_eq!(finished.processing_status, ProcessingStatus::Done);
        assert_eq!(finished.query, SALES_BY_DATE);
        let document_id = finished
            .data_document_id
            .clone()
            .expect("a page with rows has data");
        let document = client.get_data_kiosk_document(&document_id).await.unwrap();
        assert!(!format!("{document:?}").contains("X-Amz-Signature"));
        let stream = client.download_document(&document.into()).await.unwrap();
        assert_eq!(
            stream.compression(),
            Some(spapi::CompressionAlgorithm::Gzip),
            "gzip is announced by Content-Encoding alone"
        );
        let (sha256, content) = drain(stream).await.unwrap();
        let expected = sim
            .expected_query_document(&finished.query_id)
            .await
            .unwrap();
        assert_eq!(sha256, expected.source_sha256);
        let lines: Vec<serde_json::Value> = std::str::from_utf8(&content)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["marketplaceId"], US);
        pages.push(finished.query_id.clone());
        match finished.next_page_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages.len(), 3, "three pages, the last without a token");
    let known: Vec<u32> = sim.queries().iter().map(|q| q.page).collect();
    assert_eq!(known, [0, 1, 2]);

    let listed = client
        .get_queries(&QueriesFilter {
            processing_statuses: vec![ProcessingStatus::Done],
            page_size: Some(2),
            ..QueriesFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.queries.len(), 2);
    let next = listed
        .pagination
        .and_then(|p| p.next_token)
        .expect("a third query remains");
    let rest = client
        .get_queries(&QueriesFilter {
            processing_statuses: vec![ProcessingStatus::Done],
            pagination_token: Some(next),
            ..QueriesFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.queries.len(), 1);
    assert_eq!(rest.queries[0].query_id, pages[0], "newest first");
    sim.shutdown().await;
}

#[tokio::test]
async fn data_kiosk_refuses_an_invalid_query_a_foreign_token_and_a_long_query() {
    let sim = start(Scenario::default()).await;
    let client = client(&sim);

    let unknown_field = CreateQuerySpecification {
        query: SALES_BY_DATE.replace("pageViews", "pageVisits"),
        pagination_token: None,
    };
    let error = client.create_query(&unknown_field).await.unwrap_err();
    assert_eq!(error.rejected_status(), Some(400), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("The provided query is invalid.") && text.contains("'pageVisits'"),
        "{text}"
    );

    let error = client
        .create_query(&query(Some("not-a-token")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("paginationToken"), "{error}");

    let long = CreateQuerySpecification {
        query: SALES_BY_DATE.replace(
            "traffic { pageViews sessions }",
            &"traffic { pageViews sessions } ".repeat(300),
        ),
        pagination_token: None,
    };
    let error = client.create_query(&long).await.unwrap_err();
    assert!(error.to_string().contains("at most 8000"), "{error}");
    assert_eq!(sim.queries().len(), 0, "nothing refused was filed");
    sim.shutdown().await;
}

#[tokio::test]
async fn data_kiosk_fatal_has_an_error_document_empty_has_none_and_queued_cancels() {
    let fatal = QueryRule {
        query: Some("salesAndTrafficByDate".to_owned()),
        outcome: Some(Outcome::Fatal),
        fatal_reason: Some("Too many ASINs in the marketplace.".to_owned()),
        ..QueryRule::default()
    };
    let sim = start(Scenario {
        query_rules: vec![fatal],
        ..Scenario::default()
    })
    .await;
    let client = client(&sim);
    let created = client.create_query(&query(None)).await.unwrap();
    let finished = until_query_terminal(&client, &created.query_id).await;
    assert_eq!(finished.processing_status, ProcessingStatus::Fatal);
    assert!(finished.data_document_id.is_none() && finished.next_page_token().is_none());
    let document = client
        .get_data_kiosk_document(finished.error_document_id.as_deref().unwrap())
        .await
        .unwrap();
    let (_, content) = drain(client.download_document(&document.into()).await.unwrap())
        .await
        .unwrap();
    assert!(
        String::from_utf8(content)
            .unwrap()
            .contains("Too many ASINs")
    );

    sim.set_scenario(quick(Scenario {
        query_rules: vec![QueryRule {
            rows: Some(0),
            ..QueryRule::default()
        }],
        ..Scenario::default()
    }));
    let created = client.create_query(&query(None)).await.unwrap();
    let empty = until_query_terminal(&client, &created.query_id).await;
    assert_eq!(empty.processing_status, ProcessingStatus::Done);
    assert!(empty.data_document_id.is_none() && empty.error_document_id.is_none());

    sim.set_scenario(Scenario {
        in_queue_ms: 60_000,
        ..Scenario::default()
    });
    let created = client.create_query(&query(None)).await.unwrap();
    client.cancel_query(&created.query_id).await.unwrap();
    client
        .cancel_query(&created.query_id)
        .await
        .expect("cancelling twice is a no-op");
    let cancelled = client.get_query(&created.query_id).await.unwrap();
    assert_eq!(cancelled.processing_status, ProcessingStatus::Cancelled);
    let error = client.cancel_query(&finished.query_id).await.unwrap_err();
    assert_eq!(
        error.rejected_status(),
        Some(400),
        "a FATAL query cannot be cancelled"
    );
    sim.shutdown().await;
}

fn ads_client(sim: &RunningSimulator, retry: RetryPolicy) -> spapi::ads::AdsClient {
    let endpoints = endpoints(sim);
    let http = reqwest::Client::new();
    let lwa = LwaClient::new(http.clone(), endpoints.lwa_token.clone(), app())
        .with_retry_policy(fast_retries(2));
    spapi::ads::AdsClient::new(
        http,
        lwa,
        simulator::DEFAULT_ADS_REFRESH_TOKEN.to_owned().into(),
        reqwest::Url::parse(&sim.base_url()).unwrap(),
        retry,
    )
}

fn sp_campaigns(days: i64) -> serde_json::Value {
    let spec: domain::ads::AdsReportSpec = serde_json::from_value(serde_json::json!({
        "group_by": ["campaign"],
        "columns": ["date", "campaignId", "campaignName", "impressions", "clicks", "cost", "sales7d", "campaignBudgetCurrencyCode"],
        "time_unit": "DAILY"
    }))
    .unwrap();
    let end = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    spec.request_body(
        domain::ads::report_type("spCampaigns").unwrap(),
        "sp-ingest test",
        end - chrono::Duration::days(days - 1),
        end,
    )
}

async fn until_ads_terminal(
    client: &spapi::ads::AdsClient,
    report_id: &str,
) -> spapi::ads::AdsReport {
    use spapi::ads::AdsReportStatus;
    for _ in 0..100 {
        let report = client
            .get_report(simulator::DEFAULT_ADS_PROFILE_ID, report_id)
            .await
            .unwrap();
        if matches!(
            report.status,
            AdsReportStatus::Completed | AdsReportStatus::Failed
        ) {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ads report {report_id} did not finish");
}

#[tokio::test]
async fn ads_profiles_reports_and_files_round_trip_byte_exact() {
    let sim = start(Scenario::default()).await;
    let client = ads_client(&sim, fast_retries(5));
    let profiles = client.profiles().await.unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].profile_id, simulator::DEFAULT_ADS_PROFILE_ID);
    assert_eq!(profiles[0].account_info.marketplace_string_id, US);

    let created = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &sp_campaigns(3))
        .await
        .unwrap();
    let report = until_ads_terminal(&client, created.report_id()).await;
    assert!(!format!("{report:?}").contains("X-Amz-Signature"));
    let mut file = client.download(&report).await.unwrap();
    let mut content = Vec::new();
    file.read_to_end(&mut content).await.unwrap();
    let expected = sim
        .expected_ads_document(created.report_id())
        .await
        .unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&content)),
        expected.source_sha256
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&content).unwrap();
    assert_eq!(rows.len(), 15, "5 rows a day for 3 days");
    assert!(rows[0]["impressions"].is_u64() && rows[0]["cost"].is_f64());
    assert_eq!(rows[0]["campaignBudgetCurrencyCode"], "USD");
    assert!(rows[0]["date"].as_str().is_some_and(|d| d.len() == 10));
    sim.shutdown().await;
}

#[tokio::test]
async fn ads_duplicate_is_the_report_in_progress_and_429_without_retry_after_is_retried() {
    let mut throttled = Scenario {
        in_queue_ms: 60_000,
        ..Scenario::default()
    };
    throttled
        .throttle_next
        .insert(simulator::ADS_CREATE_REPORT.to_owned(), 2);
    let sim = simulator::start(SimConfig::default()).await.unwrap();
    sim.set_scenario(throttled);
    let client = ads_client(&sim, fast_retries(5));
    let first = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &sp_campaigns(2))
        .await
        .unwrap();
    assert!(matches!(first, spapi::ads::Created::New(_)));
    assert_eq!(
        calls(&sim, simulator::ADS_CREATE_REPORT),
        (3, 2),
        "two 429s without Retry-After, then the report"
    );
    let again = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &sp_campaigns(2))
        .await
        .unwrap();
    assert_eq!(
        again,
        spapi::ads::Created::Duplicate(first.report_id().to_owned())
    );
    assert_eq!(sim.ads_reports().len(), 1, "one report for both requests");
    sim.shutdown().await;
}

#[tokio::test]
async fn ads_refusals_failures_and_expired_urls_are_named() {
    let sim = start(Scenario {
        ads_rules: vec![simulator::AdsRule {
            expire_first_url: true,
            ..simulator::AdsRule::default()
        }],
        ..Scenario::default()
    })
    .await;
    let client = ads_client(&sim, fast_retries(3));
    let mut wrong = sp_campaigns(2);
    wrong["configuration"]["columns"]
        .as_array_mut()
        .unwrap()
        .push("keywordId".into());
    let error = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &wrong)
        .await
        .unwrap_err();
    assert_eq!(error.name(), ErrorName::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("keywordId"), "{error}");
    let error = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &sp_campaigns(40))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("31 days"), "{error}");

    let created = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &sp_campaigns(1))
        .await
        .unwrap();
    let report = until_ads_terminal(&client, created.report_id()).await;
    let error = client
        .download(&report)
        .await
        .expect_err("the first URL is expired");
    assert_eq!(
        error.name(),
        domain::ErrorName::DocumentUrlExpired,
        "{error}"
    );
    let fresh = client
        .get_report(simulator::DEFAULT_ADS_PROFILE_ID, created.report_id())
        .await
        .unwrap();
    assert!(client.download(&fresh).await.is_ok(), "a fresh URL works");

    sim.set_scenario(quick(Scenario {
        ads_rules: vec![simulator::AdsRule {
            outcome: Some(simulator::AdsOutcome::Failed),
            failure_reason: Some("Report generation timed out.".into()),
            ..simulator::AdsRule::default()
        }],
        ..Scenario::default()
    }));
    let created = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &sp_campaigns(5))
        .await
        .unwrap();
    let failed = until_ads_terminal(&client, created.report_id()).await;
    assert_eq!(failed.status, spapi::ads::AdsReportStatus::Failed);
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("Report generation timed out.")
    );
    let unknown = client
        .get_report(simulator::DEFAULT_ADS_PROFILE_ID, "no-such-report")
        .await
        .unwrap_err();
    assert_eq!(unknown.name(), ErrorName::ReportGone);
    sim.shutdown().await;
}

fn amc_client(sim: &RunningSimulator, retry: RetryPolicy) -> spapi::amc::AmcClient {
    spapi::amc::AmcClient::new(
        ads_client(sim, retry),
        simulator::DEFAULT_AMC_ACCOUNT_ID,
        US,
    )
}

const REACH_SQL: &str = "-- @distinctUserCountColumn reach\n-- @filteredMetricsDiscriminatorColumn filtered\nSELECT campaign,\n  SUM(impressions) AS impressions,\n  COUNT(DISTINCT user_id) AS reach,\n  filtered\nFROM sponsored_ads_traffic\nGROUP BY campaign, filtered";

async fn until_amc_terminal(
    client: &spapi::amc::AmcClient,
    execution_id: &str,
) -> spapi::amc::AmcExecution {
    use spapi::amc::ExecutionStatus;
    for _ in 0..100 {
        let execution = client
            .execution(simulator::DEFAULT_AMC_INSTANCE_ID, execution_id)
            .await
            .unwrap();
        if !matches!(
            execution.status,
            ExecutionStatus::Pending | ExecutionStatus::Running
        ) {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("AMC execution {execution_id} did not finish");
}

#[tokio::test]
async fn amc_workflows_run_and_their_result_files_download_byte_exact() {
    use spapi::amc::ExecutionStatus;
    let sim = start(Scenario {
        amc_rules: vec![simulator::AmcRule {
            files: Some(2),
            rows: Some(15),
            data_gaps: vec![serde_json::json!({"dataSource": "sponsored_ads_traffic"})],
            ..Default::default()
        }],
        ..Scenario::default()
    })
    .await;
    let ads = ads_client(&sim, fast_retries(3));
    let accounts = ads.amc_accounts().await.unwrap();
    assert_eq!(accounts[0].account_id, simulator::DEFAULT_AMC_ACCOUNT_ID);
    let client = amc_client(&sim, fast_retries(3));
    let instances = client.instances().await.unwrap();
    assert_eq!(instances[0].instance_id, simulator::DEFAULT_AMC_INSTANCE_ID);
    let instance = simulator::DEFAULT_AMC_INSTANCE_ID;

    let workflow = domain::amc::Workflow::from_file("campaign_reach.sql", REACH_SQL).unwrap();
    client
        .save_workflow(instance, &workflow, false)
        .await
        .unwrap();
    assert_eq!(
        client.workflows(instance).await.unwrap(),
        vec![workflow.clone()]
    );
    assert_eq!(
        client.workflow(instance, "campaign_reach").await.unwrap(),
        workflow
    );
    let mut typo = workflow.clone();
    typo.sql_query = typo
        .sql_query
        .replace("sponsored_ads_traffic", "sponsored_ad_traffic");
    let refused = client
        .save_workflow(instance, &typo, true)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("line 5: unknown table `sponsored_ad_traffic`"),
        "{refused}"
    );
    assert_eq!(refused.name(), domain::ErrorName::ConfigInvalid);

    let spec = domain::amc::AmcRequest {
        instance_id: simulator::DEFAULT_AMC_INSTANCE_ID.into(),
        advertiser_id: simulator::DEFAULT_AMC_ACCOUNT_ID.into(),
        time_zone: "America/New_York".into(),
        ignore_data_gaps: true,
        parameters: Default::default(),
    };
    let day = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let body = spec.request_body("campaign_reach", day("2026-11-01"), day("2026-11-02"));
    let created = client.create_execution(instance, &body).await.unwrap();
    assert_eq!(created.status, ExecutionStatus::Pending);
    let done = until_amc_terminal(&client, &created.workflow_execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.data_gaps.len(), 1);
    let columns: Vec<(&str, &str)> = done
        .output_columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("campaign", "STRING"),
            ("impressions", "LONG"),
            ("reach", "LONG"),
            ("filtered", "STRING")
        ]
    );
    let urls = client
        .download_urls(instance, &created.workflow_execution_id)
        .await
        .unwrap();
    assert_eq!(urls.download_urls.len(), 2);
    assert!(!format!("{urls:?}").contains("X-Amz-Signature"));
    let mut rows = 0;
    for (part, url) in urls.download_urls.iter().enumerate() {
        let mut file = client.download(url).await.unwrap();
        let mut content = String::new();
        file.read_to_string(&mut content).await.unwrap();
        let expected = sim
            .expected_amc_file(&created.workflow_execution_id, part as u32)
            .await
            .unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(content.as_bytes())),
            expected.sha256
        );
        assert!(
            content.starts_with("campaign,impressions,reach,filtered\n"),
            "{content}"
        );
        rows += content.lines().count() - 1;
    }
    assert_eq!(rows, 15, "the rows are split over the files");
    sim.shutdown().await;
}

#[tokio::test]
async fn amc_failures_limits_and_expired_urls_are_named() {
    use spapi::amc::ExecutionStatus;
    let reason = "Query execution failed: division by zero";
    let sim = start(Scenario {
        amc_rules: vec![
            simulator::AmcRule {
                workflow_id: Some("failing".into()),
                outcome: Some(simulator::AmcOutcome::Failed),
                status_reason: Some(reason.into()),
                ..Default::default()
            },
            simulator::AmcRule {
                expire_first_urls: true,
                ..Default::default()
            },
        ],
        amc_parallel_executions: 1,
        ..Scenario::default()
    })
    .await;
    let client = amc_client(&sim, fast_retries(2));
    let instance = simulator::DEFAULT_AMC_INSTANCE_ID;
    for name in ["failing.sql", "reach.sql"] {
        let workflow = domain::amc::Workflow::from_file(name, REACH_SQL).unwrap();
        client
            .save_workflow(instance, &workflow, false)
            .await
            .unwrap();
    }
    let spec = domain::amc::AmcRequest {
        instance_id: simulator::DEFAULT_AMC_INSTANCE_ID.into(),
        advertiser_id: simulator::DEFAULT_AMC_ACCOUNT_ID.into(),
        time_zone: "UTC".into(),
        ignore_data_gaps: false,
        parameters: Default::default(),
    };
    let day = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let body = |id: &str| spec.request_body(id, day("2026-11-01"), day("2026-11-02"));
    let failing = client
        .create_execution(instance, &body("failing"))
        .await
        .unwrap();
    let over = client
        .create_execution(instance, &body("reach"))
        .await
        .unwrap_err();
    assert_eq!(over.name(), domain::ErrorName::Throttled, "{over}");
    assert!(sim.amc_refused_over_limit() >= 1);
    let failed = until_amc_terminal(&client, &failing.workflow_execution_id).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.status_reason.as_deref(), Some(reason));
    let not_yet = client
        .download_urls(instance, &failing.workflow_execution_id)
        .await
        .unwrap_err();
    assert!(
        not_yet.to_string().contains("has not succeeded"),
        "{not_yet}"
    );

    let reach = client
        .create_execution(instance, &body("reach"))
        .await
        .unwrap();
    until_amc_terminal(&client, &reach.workflow_execution_id).await;
    let first = client
        .download_urls(instance, &reach.workflow_execution_id)
        .await
        .unwrap();
    let expired = client.download(&first.download_urls[0]).await.unwrap_err();
    assert_eq!(
        expired.name(),
        domain::ErrorName::DocumentUrlExpired,
        "{expired}"
    );
    let fresh = client
        .download_urls(instance, &reach.workflow_execution_id)
        .await
        .unwrap();
    assert!(client.download(&fresh.download_urls[0]).await.is_ok());

    let mut cancel_body = body("reach");
    cancel_body["timeWindowStart"] = "2026-11-03T00:00:00".into();
    cancel_body["timeWindowEnd"] = "2026-11-04T00:00:00".into();
    sim.set_scenario(Scenario {
        in_queue_ms: 60_000,
        amc_parallel_executions: 1,
        ..Scenario::default()
    });
    let slow = client
        .create_execution(instance, &cancel_body)
        .await
        .unwrap();
    client
        .cancel_execution(instance, &slow.workflow_execution_id)
        .await
        .unwrap();
    let cancelled = client
        .execution(instance, &slow.workflow_execution_id)
        .await
        .unwrap();
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    assert!(
        client
            .cancel_execution(instance, &slow.workflow_execution_id)
            .await
            .is_err(),
        "a CANCELLED execution cannot be updated"
    );
    sim.shutdown().await;
}
