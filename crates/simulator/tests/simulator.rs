//! The simulator through real HTTP, as an SP-API client sees it: LWA grants and errors,
//! the Reports and Notifications APIs, document URLs and downloads, every scenario knob,
//! notification delivery to a moto SQS server, and the binary.
//!
//! One file on purpose: each integration-test file links the whole dependency graph.

use std::io::{Read as _, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use simulator::{
    AppCredentials, Charset, NotificationCasing, Outcome, RateLimit, ReportRule, RunningSimulator,
    Scenario, SellerAuth, SimConfig, SqsTarget,
};

const US: &str = "ATVPDKIKX0DER";
const JP: &str = "A1VC38T7YXB528";
const DE: &str = "A1PA6795UKMFR9";
const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const LISTINGS: &str = "GET_MERCHANT_LISTINGS_ALL_DATA";
const SALES_AND_TRAFFIC: &str = "GET_SALES_AND_TRAFFIC_REPORT";
const START: &str = "2024-05-01T00:00:00Z";
const END: &str = "2024-05-08T00:00:00Z";
const SECOND_REFRESH_TOKEN: &str = "Atzr|second-seller";
const SECOND_SELLER: &str = "A2SECONDSELLER";

/// A fast clock and no buckets: tests poll freely unless they test the buckets.
fn fast() -> Scenario {
    Scenario {
        in_queue_ms: 40,
        in_progress_ms: 40,
        enforce_rate_limits: false,
        ..Scenario::default()
    }
}

fn rule(report_type: &str) -> ReportRule {
    ReportRule {
        report_type: Some(report_type.to_owned()),
        ..ReportRule::default()
    }
}

struct Harness {
    sim: RunningSimulator,
    http: reqwest::Client,
}

impl Harness {
    async fn start(scenario: Scenario) -> Self {
        Self::with_config(SimConfig {
            scenario,
            ..SimConfig::default()
        })
        .await
    }

    async fn with_config(config: SimConfig) -> Self {
        let sim = simulator::start(config).await.expect("simulator starts");
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    async fn lwa(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.sim.lwa_token_url())
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn token_for(&self, refresh_token: &str) -> String {
        let response = self
            .lwa(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", simulator::DEFAULT_CLIENT_ID),
                ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn seller_token(&self) -> String {
        self.token_for(simulator::DEFAULT_REFRESH_TOKEN).await
    }

    async fn grantless_token(&self, scope: &str) -> String {
        let response = self
            .lwa(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("client_id", simulator::DEFAULT_CLIENT_ID),
                ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("x-amz-access-token", token)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("x-amz-access-token", token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .header("x-amz-access-token", token)
            .send()
            .await
            .unwrap()
    }

    async fn create_report(&self, token: &str, body: Value) -> reqwest::Response {
        self.post(token, "/reports/2021-06-30/reports", &body).await
    }

    /// Creates a report and returns its id.
    async fn create(
        &self,
        token: &str,
        report_type: &str,
        marketplace: &str,
        start: &str,
        end: &str,
    ) -> String {
        let response = self
            .create_report(
                token,
                json!({"reportType": report_type, "marketplaceIds": [marketplace], "dataStartTime": start, "dataEndTime": end}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        body["reportId"].as_str().unwrap().to_owned()
    }

    async fn report(&self, token: &str, report_id: &str) -> Value {
        let response = self
            .get(token, &format!("/reports/2021-06-30/reports/{report_id}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn wait_terminal(&self, token: &str, report_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let report = self.report(token, report_id).await;
            let status = report["processingStatus"].as_str().unwrap();
            if ["DONE", "FATAL", "CANCELLED"].contains(&status) {
                return report;
            }
            assert!(
                Instant::now() < deadline,
                "report {report_id} stuck in {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn document(&self, token: &str, document_id: &str, content_encoding: bool) -> Value {
        let query = if content_encoding {
            "?enableContentEncodingUrlHeader=true"
        } else {
            ""
        };
        let response = self
            .get(
                token,
                &format!("/reports/2021-06-30/documents/{document_id}{query}"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Creates a report, waits for DONE, and downloads its document as served.
    async fn run_and_download(&self, token: &str, report_id: &str) -> (Value, reqwest::Response) {
        let report = self.wait_terminal(token, report_id).await;
        let document_id = report["reportDocumentId"].as_str().expect("document id");
        let document = self.document(token, document_id, false).await;
        let download = self
            .http
            .get(document["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        (document, download)
    }

    async fn wait_notifications(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sent = self.sim.notifications_sent();
            if sent.len() >= count {
                return sent;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} notifications, got {sent:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A destination for `arn` and a REPORT_PROCESSING_FINISHED subscription to it.
    async fn subscribe(&self, arn: &str) -> (String, String) {
        let grantless = self
            .grantless_token("sellingpartnerapi::notifications")
            .await;
        let response = self
            .post(
                &grantless,
                "/notifications/v1/destinations",
                &json!({"name": "sp-ingest", "resourceSpecification": {"sqs": {"arn": arn}}}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let destination: Value = response.json().await.unwrap();
        let destination_id = destination["payload"]["destinationId"]
            .as_str()
            .unwrap()
            .to_owned();
        let seller = self.seller_token().await;
        let response = self
            .post(
                &seller,
                "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
                &json!({"payloadVersion": "2020-09-04", "destinationId": destination_id}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let subscription: Value = response.json().await.unwrap();
        (
            destination_id,
            subscription["payload"]["subscriptionId"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn errors_code(body: &Value) -> (&str, &str) {
    (
        body["errors"][0]["code"].as_str().unwrap(),
        body["errors"][0]["message"].as_str().unwrap(),
    )
}

// ---------------------------------------------------------------- LWA

#[tokio::test]
async fn refresh_grant_issues_a_bearer_token_and_echoes_the_refresh_token() {
    let h = Harness::start(fast()).await;
    let response = h
        .lwa(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
            ("client_id", simulator::DEFAULT_CLIENT_ID),
            ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().starts_with("Atza|"));
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["refresh_token"], simulator::DEFAULT_REFRESH_TOKEN);
}

#[tokio::test]
async fn client_credentials_grant_issues_a_grantless_token_without_refresh_token() {
    let h = Harness::start(fast()).await;
    for scope in [
        "sellingpartnerapi::notifications",
        "sellingpartnerapi::client_credential:rotation",
    ] {
        let response = h
            .lwa(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("client_id", simulator::DEFAULT_CLIENT_ID),
                ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert!(body["access_token"].as_str().unwrap().starts_with("Atza|"));
        assert!(body.get("refresh_token").is_none());
    }
}

#[tokio::test]
async fn lwa_rejects_wrong_client_credentials_with_401_invalid_client() {
    let h = Harness::start(fast()).await;
    for (client_id, secret) in [
        (simulator::DEFAULT_CLIENT_ID, "wrong"),
        ("amzn1.application-oa2-client.other", "x"),
    ] {
        let response = h
            .lwa(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "invalid_client", "error_description": "Client authentication failed"})
        );
    }
}

#[tokio::test]
async fn lwa_rejects_an_unknown_refresh_token_with_400_invalid_grant() {
    let h = Harness::start(fast()).await;
    let response = h
        .lwa(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "Atzr|revoked"),
            ("client_id", simulator::DEFAULT_CLIENT_ID),
            ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "The request has an invalid grant parameter : refresh_token"})
    );
}

#[tokio::test]
async fn lwa_answers_oauth_errors_for_malformed_requests() {
    let h = Harness::start(fast()).await;
    let id = ("client_id", simulator::DEFAULT_CLIENT_ID);
    let secret = ("client_secret", simulator::DEFAULT_CLIENT_SECRET);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("grant_type", "password"), id, secret],
            "unsupported_grant_type",
        ),
        (vec![("refresh_token", "x"), id, secret], "invalid_request"),
        (
            vec![("grant_type", "refresh_token"), id, secret],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
                id,
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "sellingpartnerapi::everything"),
                id,
                secret,
            ],
            "invalid_scope",
        ),
    ];
    for (form, error) in cases {
        let response = h.lwa(&form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}");
        assert!(body["error_description"].is_string());
    }
}

#[tokio::test]
async fn lwa_accepts_client_credentials_in_basic_auth() {
    let h = Harness::start(fast()).await;
    let response = h
        .http
        .post(h.sim.lwa_token_url())
        .basic_auth(
            simulator::DEFAULT_CLIENT_ID,
            Some(simulator::DEFAULT_CLIENT_SECRET),
        )
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- access tokens and headers

#[tokio::test]
async fn missing_unknown_and_expired_tokens_answer_403_unauthorized() {
    let h = Harness::start(fast()).await;
    let path = h.url("/reports/2021-06-30/reports?reportTypes=GET_X");
    let details = |body: &Value| body["errors"][0]["details"].as_str().unwrap().to_owned();

    let missing = h.http.get(&path).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        errors_code(&body),
        ("Unauthorized", "Access to requested resource is denied.")
    );
    assert_eq!(
        details(&body),
        "Access token is missing in the request header."
    );

    let unknown: Value = h
        .get(
            "Atza|made-up",
            "/reports/2021-06-30/reports?reportTypes=GET_X",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        details(&unknown),
        "The access token you provided is revoked, malformed or invalid."
    );

    let token = h.seller_token().await;
    assert_eq!(
        h.get(&token, "/reports/2021-06-30/reports?reportTypes=GET_X")
            .await
            .status(),
        StatusCode::OK
    );
    h.sim.expire_tokens();
    let expired = h
        .get(&token, "/reports/2021-06-30/reports?reportTypes=GET_X")
        .await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        details(&expired.json().await.unwrap()),
        "The access token you provided has expired."
    );

    // The same over HTTP, for scripts; a fresh token works again.
    let fresh = h.seller_token().await;
    let expire = h
        .http
        .post(h.url("/_sim/tokens/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(expire.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        h.get(&fresh, "/reports/2021-06-30/reports?reportTypes=GET_X")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let newest = h.seller_token().await;
    assert_eq!(
        h.get(&newest, "/reports/2021-06-30/reports?reportTypes=GET_X")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(h.sim.calls()["getReports"].unauthorized, 4);
}

#[tokio::test]
async fn token_ttl_knob_expires_tokens_after_their_lifetime() {
    let h = Harness::start(Scenario {
        token_ttl_secs: 1,
        ..fast()
    })
    .await;
    let response = h
        .lwa(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
            ("client_id", simulator::DEFAULT_CLIENT_ID),
            ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
        ])
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        h.get(token, "/reports/2021-06-30/reports?reportTypes=GET_X")
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        h.get(token, "/reports/2021-06-30/reports?reportTypes=GET_X")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn every_sp_api_answer_carries_request_id_and_rate_limit_headers() {
    let h = Harness::start(Scenario {
        throttle_next: [("getReport".to_owned(), 1)].into(),
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let answers = [
        (
            h.get(&token, "/reports/2021-06-30/reports/123").await,
            StatusCode::TOO_MANY_REQUESTS,
            "2.0",
        ),
        (
            h.get(&token, "/reports/2021-06-30/reports/123").await,
            StatusCode::NOT_FOUND,
            "2.0",
        ),
        (
            h.get(&token, "/reports/2021-06-30/reports/abc").await,
            StatusCode::BAD_REQUEST,
            "2.0",
        ),
        (
            h.get("nope", "/reports/2021-06-30/reports/1").await,
            StatusCode::FORBIDDEN,
            "2.0",
        ),
        (
            h.create_report(
                &token,
                json!({"reportType": ORDERS, "marketplaceIds": [US]}),
            )
            .await,
            StatusCode::ACCEPTED,
            "0.0167",
        ),
        (
            h.get(&token, "/reports/2021-06-30/reports?reportTypes=GET_X")
                .await,
            StatusCode::OK,
            "0.0222",
        ),
    ];
    for (response, status, rate) in answers {
        assert_eq!(response.status(), status);
        let request_id = response.headers()["x-amzn-requestid"].to_str().unwrap();
        assert_eq!(request_id.len(), 36, "uuid request id");
        assert_eq!(response.headers()["x-amzn-ratelimit-limit"], rate);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}

#[tokio::test]
async fn unknown_path_answers_404_with_an_sp_api_error_body() {
    let h = Harness::start(fast()).await;
    let response = h.http.get(h.url("/orders/v0/orders")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(errors_code(&body).0, "NotFound");
}

// ---------------------------------------------------------------- Reports API

#[tokio::test]
async fn create_report_rejects_invalid_input_with_400_naming_the_field() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let many: Vec<&str> = vec![US; 26];
    let cases = [
        (json!({"marketplaceIds": [US]}), "reportType"),
        (json!({"reportType": ORDERS}), "marketplaceIds"),
        (
            json!({"reportType": ORDERS, "marketplaceIds": []}),
            "marketplaceIds",
        ),
        (
            json!({"reportType": ORDERS, "marketplaceIds": many}),
            "marketplaceIds",
        ),
        (
            json!({"reportType": ORDERS, "marketplaceIds": ["A0NOTAMARKET"]}),
            "A0NOTAMARKET",
        ),
        (
            json!({"reportType": ORDERS, "marketplaceIds": [US], "dataStartTime": "last tuesday"}),
            "dataStartTime",
        ),
        (
            json!({"reportType": ORDERS, "marketplaceIds": [US], "dataStartTime": END, "dataEndTime": START}),
            "dataStartTime",
        ),
        (
            json!({"reportType": ORDERS, "marketplaceIds": [US], "dataEndTime": "2999-01-01T00:00:00Z"}),
            "dataEndTime",
        ),
        (
            json!({"reportType": ORDERS, "marketplaceIds": [US], "reportOptions": {"a": 1}}),
            "reportOptions",
        ),
        (
            json!({"reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "marketplaceIds": [US]}),
            "not allowed",
        ),
    ];
    for (body, mentions) in cases {
        let response = h.create_report(&token, body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.unwrap();
        let (code, message) = errors_code(&answer);
        assert_eq!(code, "InvalidInput");
        assert!(message.contains(mentions), "{body} → {message}");
    }
    let not_json = h
        .http
        .post(h.url("/reports/2021-06-30/reports"))
        .header("x-amz-access-token", &token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert!(
        h.sim
            .reports()
            .iter()
            .all(|r| r.report_type.starts_with("GET_V2_SETTLEMENT")),
        "no report was created"
    );
}

#[tokio::test]
async fn report_status_moves_from_in_queue_to_in_progress_to_done() {
    let h = Harness::start(Scenario {
        in_queue_ms: 400,
        in_progress_ms: 400,
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    assert!(report_id.chars().all(|c| c.is_ascii_digit()));

    let queued = h.report(&token, &report_id).await;
    assert_eq!(queued["processingStatus"], "IN_QUEUE");
    assert_eq!(queued["reportType"], ORDERS);
    assert_eq!(queued["marketplaceIds"], json!([US]));
    assert_eq!(queued["dataStartTime"], "2024-05-01T00:00:00.000Z");
    assert!(queued["createdTime"].is_string());
    assert!(
        queued.get("processingStartTime").is_none() && queued.get("reportDocumentId").is_none()
    );

    tokio::time::sleep(Duration::from_millis(550)).await;
    let running = h.report(&token, &report_id).await;
    assert_eq!(running["processingStatus"], "IN_PROGRESS");
    assert!(
        running["processingStartTime"].is_string() && running.get("processingEndTime").is_none()
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    let done = h.report(&token, &report_id).await;
    assert_eq!(done["processingStatus"], "DONE");
    assert!(done["processingEndTime"].is_string());
    assert!(
        done["reportDocumentId"]
            .as_str()
            .unwrap()
            .starts_with("amzn1.spdoc.1.4.na.")
    );
    assert_eq!(
        h.sim.report(&report_id).unwrap().processing_status,
        simulator::ProcessingStatus::Done
    );
}

#[tokio::test]
async fn slow_report_rule_overrides_the_clock_for_matching_reports_only() {
    let slow = ReportRule {
        in_queue_ms: Some(60_000),
        ..rule(LISTINGS)
    };
    let h = Harness::start(Scenario {
        rules: vec![slow],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let slow_id = h.create(&token, LISTINGS, US, START, END).await;
    let quick_id = h.create(&token, ORDERS, US, START, END).await;
    h.wait_terminal(&token, &quick_id).await;
    assert_eq!(
        h.report(&token, &slow_id).await["processingStatus"],
        "IN_QUEUE"
    );
}

#[tokio::test]
async fn get_reports_filters_and_pages_with_a_next_token() {
    let h = Harness::start(Scenario {
        in_queue_ms: 60_000,
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(h.create(&token, ORDERS, US, START, END).await);
    }
    h.create(&token, LISTINGS, DE, START, END).await;

    let first: Value = h
        .get(
            &token,
            &format!("/reports/2021-06-30/reports?reportTypes={ORDERS}&pageSize=2"),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut seen: Vec<String> = first["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reportId"].as_str().unwrap().to_owned())
        .collect();
    let mut token_next = first["nextToken"].as_str().unwrap().to_owned();
    loop {
        let page: Value = h
            .get(
                &token,
                &format!("/reports/2021-06-30/reports?nextToken={token_next}"),
            )
            .await
            .json()
            .await
            .unwrap();
        seen.extend(
            page["reports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["reportId"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(next) => token_next = next.to_owned(),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each once");

    let with_extra = h
        .get(
            &token,
            &format!("/reports/2021-06-30/reports?nextToken={token_next}&pageSize=2"),
        )
        .await;
    assert_eq!(with_extra.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        h.get(&token, "/reports/2021-06-30/reports").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get(
            &token,
            "/reports/2021-06-30/reports?reportTypes=X&pageSize=101"
        )
        .await
        .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get(
            &token,
            "/reports/2021-06-30/reports?reportTypes=X&processingStatuses=SLEEPING"
        )
        .await
        .status(),
        StatusCode::BAD_REQUEST
    );

    let by_market: Value = h
        .get(
            &token,
            &format!(
                "/reports/2021-06-30/reports?reportTypes={ORDERS},{LISTINGS}&marketplaceIds={DE}"
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_market["reports"].as_array().unwrap().len(), 1);
    let done: Value = h
        .get(
            &token,
            &format!(
                "/reports/2021-06-30/reports?reportTypes={ORDERS}&processingStatuses=DONE,CANCELLED"
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(done["reports"].as_array().unwrap().is_empty());
    let future: Value = h
        .get(
            &token,
            &format!(
                "/reports/2021-06-30/reports?reportTypes={ORDERS}&createdSince=2999-01-01T00:00:00Z"
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(future["reports"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn reports_are_visible_only_to_their_selling_partner() {
    let config = SimConfig {
        sellers: vec![
            SellerAuth {
                refresh_token: simulator::DEFAULT_REFRESH_TOKEN.into(),
                selling_partner_id: simulator::DEFAULT_SELLING_PARTNER_ID.into(),
            },
            SellerAuth {
                refresh_token: SECOND_REFRESH_TOKEN.into(),
                selling_partner_id: SECOND_SELLER.into(),
            },
        ],
        scenario: fast(),
        ..SimConfig::default()
    };
    let h = Harness::with_config(config).await;
    let first = h.seller_token().await;
    let second = h.token_for(SECOND_REFRESH_TOKEN).await;
    let report_id = h.create(&first, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&first, &report_id).await;
    assert_eq!(
        h.get(&second, &format!("/reports/2021-06-30/reports/{report_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let document_id = report["reportDocumentId"].as_str().unwrap();
    assert_eq!(
        h.get(
            &second,
            &format!("/reports/2021-06-30/documents/{document_id}")
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let listed: Value = h
        .get(
            &second,
            &format!("/reports/2021-06-30/reports?reportTypes={ORDERS}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["reports"].as_array().unwrap().is_empty());
    assert_eq!(
        h.sim.report(&report_id).unwrap().selling_partner_id,
        simulator::DEFAULT_SELLING_PARTNER_ID
    );
}

#[tokio::test]
async fn cancel_report_works_only_while_in_queue_and_leaves_no_document() {
    let slow = ReportRule {
        in_queue_ms: Some(60_000),
        ..rule(LISTINGS)
    };
    let h = Harness::start(Scenario {
        rules: vec![slow],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let queued = h.create(&token, LISTINGS, US, START, END).await;
    let cancel = h
        .delete(&token, &format!("/reports/2021-06-30/reports/{queued}"))
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    let report = h.report(&token, &queued).await;
    assert_eq!(report["processingStatus"], "CANCELLED");
    assert!(report.get("reportDocumentId").is_none() && report["processingEndTime"].is_string());
    assert!(h.sim.expected_document(&queued).await.is_none());

    let finished = h.create(&token, ORDERS, US, START, END).await;
    h.wait_terminal(&token, &finished).await;
    let refused = h
        .delete(&token, &format!("/reports/2021-06-30/reports/{finished}"))
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert!(errors_code(&body).1.contains("IN_QUEUE"));
    assert_eq!(
        h.delete(&token, "/reports/2021-06-30/reports/1")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn cancelled_outcome_rule_ends_the_report_without_a_document() {
    let cancelled = ReportRule {
        outcome: Some(Outcome::Cancelled),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![cancelled],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;
    assert_eq!(report["processingStatus"], "CANCELLED");
    assert!(report.get("reportDocumentId").is_none());
    assert!(
        report["processingStartTime"].is_string(),
        "cancelled for lack of data after processing"
    );
}

#[tokio::test]
async fn fatal_report_serves_an_error_document() {
    let fatal = ReportRule {
        outcome: Some(Outcome::Fatal),
        fatal_reason: Some("Invalid date range".into()),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![fatal],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let (document, download) = h.run_and_download(&token, &report_id).await;
    assert_eq!(
        h.report(&token, &report_id).await["processingStatus"],
        "FATAL"
    );
    assert_eq!(document["compressionAlgorithm"], "GZIP");
    assert_eq!(download.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&gunzip(&download.bytes().await.unwrap())).unwrap();
    assert_eq!(body, json!({"errorDetails": "Invalid date range"}));
    let expected = h.sim.expected_document(&report_id).await.unwrap();
    assert_eq!(
        expected.sha256,
        sha256_hex(br#"{"errorDetails":"Invalid date range"}"#)
    );
    assert_eq!(expected.rows, 0);
}

#[tokio::test]
async fn sales_and_traffic_older_than_two_years_is_cancelled_like_amazon() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let report_id = h
        .create(
            &token,
            SALES_AND_TRAFFIC,
            US,
            "2020-01-01T00:00:00Z",
            "2020-01-02T00:00:00Z",
        )
        .await;
    assert_eq!(
        h.wait_terminal(&token, &report_id).await["processingStatus"],
        "CANCELLED"
    );
}

#[tokio::test]
async fn analytics_report_for_two_marketplaces_is_fatal_like_amazon() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let response = h
        .create_report(&token, json!({"reportType": SALES_AND_TRAFFIC, "marketplaceIds": [US, "A2EUQ1WTGCTBG2"], "dataStartTime": START, "dataEndTime": END}))
        .await;
    let report_id = response.json::<Value>().await.unwrap()["reportId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.wait_terminal(&token, &report_id).await["processingStatus"],
        "FATAL"
    );
}

// ---------------------------------------------------------------- documents

#[tokio::test]
async fn downloaded_document_matches_the_expected_digest() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let (document, download) = h.run_and_download(&token, &report_id).await;
    assert_eq!(document["compressionAlgorithm"], "GZIP");
    assert!(
        document["url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Signature=")
    );
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-type"],
        "text/plain; charset=UTF-8"
    );
    assert!(download.headers().get("content-encoding").is_none());
    let text = String::from_utf8(gunzip(&download.bytes().await.unwrap())).unwrap();
    let expected = h.sim.expected_document(&report_id).await.unwrap();
    assert_eq!(sha256_hex(text.as_bytes()), expected.sha256);
    assert_eq!(
        expected.source_sha256, expected.sha256,
        "UTF-8 needs no transcoding"
    );
    assert_eq!(expected.bytes, text.len() as u64);
    assert_eq!(text.lines().count() as u64, expected.rows + 1);
    assert!((50..=500).contains(&expected.rows));
    let header: Vec<&str> = text.lines().next().unwrap().split('\t').collect();
    assert_eq!(
        &header[..4],
        [
            "amazon-order-id",
            "merchant-order-id",
            "purchase-date",
            "last-updated-date"
        ]
    );
    assert!(header.contains(&"item-price") && header.contains(&"currency"));
    assert_eq!(h.sim.report(&report_id).unwrap().downloads_served, 1);
}

#[tokio::test]
async fn japanese_report_is_served_in_cp932_and_transcodes_to_the_expected_digest() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, LISTINGS, JP, START, END).await;
    let (_, download) = h.run_and_download(&token, &report_id).await;
    assert_eq!(
        download.headers()["content-type"],
        "text/plain; charset=Cp932"
    );
    let source = gunzip(&download.bytes().await.unwrap());
    assert!(
        std::str::from_utf8(&source).is_err(),
        "Cp932 bytes are not UTF-8"
    );
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&source);
    assert!(!had_errors);
    for special in ["①", "～", "髙"] {
        assert!(text.contains(special), "missing {special}");
    }
    let expected = h.sim.expected_document(&report_id).await.unwrap();
    assert_eq!(expected.source_charset, "Cp932");
    assert_eq!(expected.source_sha256, sha256_hex(&source));
    assert_eq!(expected.sha256, sha256_hex(text.as_bytes()));
    assert_eq!(expected.bytes, text.len() as u64);
}

#[tokio::test]
async fn charset_rule_serves_a_japanese_report_in_utf8() {
    let utf8 = ReportRule {
        charset: Some(Charset::Utf8),
        marketplace_id: Some(JP.into()),
        ..ReportRule::default()
    };
    let h = Harness::start(Scenario {
        rules: vec![utf8],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, LISTINGS, JP, START, END).await;
    let (_, download) = h.run_and_download(&token, &report_id).await;
    assert_eq!(
        download.headers()["content-type"],
        "text/plain; charset=UTF-8"
    );
    let text = String::from_utf8(gunzip(&download.bytes().await.unwrap())).unwrap();
    assert_eq!(
        sha256_hex(text.as_bytes()),
        h.sim.expected_document(&report_id).await.unwrap().sha256
    );
}

#[tokio::test]
async fn same_inputs_give_the_same_document_and_other_inputs_another() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let base = h.create(&token, ORDERS, US, START, END).await;
    let again = h.create(&token, ORDERS, US, START, END).await;
    let other_window = h
        .create(&token, ORDERS, US, START, "2024-05-09T00:00:00Z")
        .await;
    let other_market = h.create(&token, ORDERS, DE, START, END).await;
    let sha = |id: String| {
        let sim = &h.sim;
        async move { sim.expected_document(&id).await.unwrap().sha256 }
    };
    let base_sha = sha(base.clone()).await;
    assert_eq!(base_sha, sha(again.clone()).await);
    assert_ne!(base_sha, sha(other_window).await);
    assert_ne!(base_sha, sha(other_market).await);

    let (_, first) = h.run_and_download(&token, &base).await;
    let (_, second) = h.run_and_download(&token, &again).await;
    assert_eq!(
        first.bytes().await.unwrap(),
        second.bytes().await.unwrap(),
        "gzip bytes are deterministic too"
    );

    let reseeded = Harness::with_config(SimConfig {
        seed: 1,
        scenario: fast(),
        ..SimConfig::default()
    })
    .await;
    let token = reseeded.seller_token().await;
    let other_seed = reseeded.create(&token, ORDERS, US, START, END).await;
    assert_ne!(
        base_sha,
        reseeded
            .sim
            .expected_document(&other_seed)
            .await
            .unwrap()
            .sha256
    );
}

#[tokio::test]
async fn sales_and_traffic_report_is_json_with_specification_and_rows() {
    let rows = ReportRule {
        rows: Some(42),
        ..rule(SALES_AND_TRAFFIC)
    };
    let h = Harness::start(Scenario {
        rules: vec![rows],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    // Within Amazon's two years, or the report is CANCELLED.
    let end = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let start = end - chrono::Duration::days(7);
    let report_id = h
        .create(
            &token,
            SALES_AND_TRAFFIC,
            US,
            &format!("{start}T00:00:00Z"),
            &format!("{end}T00:00:00Z"),
        )
        .await;
    let (_, download) = h.run_and_download(&token, &report_id).await;
    assert_eq!(download.headers()["content-type"], "application/json");
    let bytes = gunzip(&download.bytes().await.unwrap());
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["reportSpecification"]["reportType"], SALES_AND_TRAFFIC);
    assert_eq!(body["reportSpecification"]["marketplaceIds"], json!([US]));
    assert_eq!(body["salesAndTrafficByAsin"].as_array().unwrap().len(), 42);
    assert_eq!(body["salesAndTrafficByDate"].as_array().unwrap().len(), 8);
    assert!(
        body["salesAndTrafficByAsin"][0]["salesByAsin"]["orderedProductSales"]["amount"]
            .is_number()
    );
    let expected = h.sim.expected_document(&report_id).await.unwrap();
    assert_eq!((expected.rows, expected.sha256), (42, sha256_hex(&bytes)));
}

#[tokio::test]
async fn uncompressed_rule_serves_a_plain_document_without_compression_algorithm() {
    let plain = ReportRule {
        compress: Some(false),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![plain],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let (document, download) = h.run_and_download(&token, &report_id).await;
    assert!(document.get("compressionAlgorithm").is_none());
    let bytes = download.bytes().await.unwrap();
    assert_eq!(
        sha256_hex(&bytes),
        h.sim.expected_document(&report_id).await.unwrap().sha256
    );
}

#[tokio::test]
async fn content_encoding_url_header_serves_gzip_as_content_encoding() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;
    let document = h
        .document(&token, report["reportDocumentId"].as_str().unwrap(), true)
        .await;
    assert_eq!(document["compressionAlgorithm"], "GZIP");
    let download = h
        .http
        .get(document["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.headers()["content-encoding"], "gzip");
    let text = gunzip(&download.bytes().await.unwrap());
    assert_eq!(
        sha256_hex(&text),
        h.sim.expected_document(&report_id).await.unwrap().sha256
    );
    let bad = h
        .get(
            &token,
            &format!(
                "/reports/2021-06-30/documents/{}?enableContentEncodingUrlHeader=yes",
                report["reportDocumentId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn only_the_first_url_is_expired_when_asked() {
    let h = Harness::start(Scenario {
        rules: vec![ReportRule {
            expire_first_url: true,
            ..rule(ORDERS)
        }],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;
    let document_id = report["reportDocumentId"].as_str().unwrap();
    let first = h.document(&token, document_id, false).await;
    let refused = h
        .http
        .get(first["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let second = h.document(&token, document_id, false).await;
    let served = h
        .http
        .get(second["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_document_hosted_elsewhere_is_handed_out_at_its_own_url() {
    let hosted = "http://127.0.0.1:9/orders.tsv.gz";
    let h = Harness::start(Scenario {
        rules: vec![ReportRule {
            document_url: Some(hosted.to_owned()),
            ..rule(ORDERS)
        }],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;
    let document = h
        .document(&token, report["reportDocumentId"].as_str().unwrap(), false)
        .await;
    assert_eq!(document["url"], hosted);
    assert_eq!(document["compressionAlgorithm"], "GZIP");
}

#[tokio::test]
async fn expired_url_answers_403_access_denied() {
    let short = ReportRule {
        url_ttl_secs: Some(0),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![short],
        url_ttl_secs: 1,
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    for report_type in [ORDERS, LISTINGS] {
        let report_id = h.create(&token, report_type, US, START, END).await;
        let report = h.wait_terminal(&token, &report_id).await;
        let document = h
            .document(&token, report["reportDocumentId"].as_str().unwrap(), false)
            .await;
        if report_type == LISTINGS {
            // The scenario's 1 s lifetime: usable at once, expired after it.
            assert_eq!(
                h.http
                    .get(document["url"].as_str().unwrap())
                    .send()
                    .await
                    .unwrap()
                    .status(),
                StatusCode::OK
            );
            tokio::time::sleep(Duration::from_millis(1050)).await;
        }
        let response = h
            .http
            .get(document["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{report_type}");
        assert_eq!(response.headers()["content-type"], "application/xml");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("<Code>AccessDenied</Code>")
                && body.contains("<Message>Request has expired</Message>"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn tampered_url_answers_403_signature_does_not_match() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;
    let document = h
        .document(&token, report["reportDocumentId"].as_str().unwrap(), false)
        .await;
    let url = document["url"]
        .as_str()
        .unwrap()
        .replace("X-Amz-Expires=300", "X-Amz-Expires=86400");
    let response = h.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<Code>SignatureDoesNotMatch</Code>")
    );
    let unsigned = h
        .http
        .get(h.url("/_documents/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn first_download_is_truncated_mid_gzip_and_the_next_is_whole() {
    let truncated = ReportRule {
        truncate_first_download: true,
        rows: Some(3000),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![truncated],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let (document, first) = h.run_and_download(&token, &report_id).await;
    assert_eq!(first.status(), StatusCode::OK);
    let cut = first
        .bytes()
        .await
        .expect("the HTTP body itself ends cleanly");
    let mut partial = Vec::new();
    let error = flate2::read::GzDecoder::new(&cut[..])
        .read_to_end(&mut partial)
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(
        !partial.is_empty(),
        "the first half inflates before the stream breaks"
    );

    let again = h
        .http
        .get(document["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let whole = gunzip(&again.bytes().await.unwrap());
    assert!(whole.len() > partial.len());
    assert_eq!(
        sha256_hex(&whole),
        h.sim.expected_document(&report_id).await.unwrap().sha256
    );
    assert_eq!(h.sim.report(&report_id).unwrap().downloads_served, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_document_streams_with_bounded_memory() {
    // Resident memory is the whole process's, and the other tests of this binary allocate
    // while they run in parallel: measure in a process of its own, this test alone.
    const ALONE: &str = "SIMULATOR_MEMORY_TEST_ALONE";
    if std::env::var_os(ALONE).is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "large_document_streams_with_bounded_memory"])
            .env(ALONE, "1")
            .status()
            .unwrap();
        assert!(
            status.success(),
            "the memory measurement failed (output above)"
        );
        return;
    }
    // 200 MB by default (fits the ~10 s budget of a debug build); more with the variable.
    let megabytes: u64 = std::env::var("SIMULATOR_LARGE_DOCUMENT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rows = megabytes * 1_000_000 / 300;
    let big = ReportRule {
        rows: Some(rows),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![big],
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let (_, download) = h.run_and_download(&token, &report_id).await;

    let baseline = resident_bytes();
    let stream_and_hash = async {
        let mut peak = baseline;
        let mut inflater = flate2::write::GzDecoder::new(HashingWriter::default());
        let mut body = download.bytes_stream();
        let mut pieces = 0u64;
        while let Some(piece) = body.next().await {
            inflater.write_all(&piece.unwrap()).unwrap();
            pieces += 1;
            if pieces.is_multiple_of(64) {
                peak = peak.max(resident_bytes());
            }
        }
        (inflater.finish().unwrap(), peak.max(resident_bytes()))
    };
    // The digest generates the document a second time, on a blocking thread, meanwhile.
    let ((hashed, peak), expected) =
        tokio::join!(stream_and_hash, h.sim.expected_document(&report_id));
    let expected = expected.unwrap();
    assert!(
        expected.bytes >= megabytes * 1_000_000 * 9 / 10,
        "document is {} bytes",
        expected.bytes
    );
    assert_eq!(hashed.bytes, expected.bytes);
    assert_eq!(hex::encode(hashed.hasher.finalize()), expected.sha256);
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 64 * 1024 * 1024,
        "memory grew by {} MB while streaming",
        growth / 1024 / 1024
    );
}

#[derive(Default)]
struct HashingWriter {
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Resident set size of this process (the simulator runs in it).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

// ---------------------------------------------------------------- throttling

#[tokio::test]
async fn throttle_next_answers_429_for_the_next_n_calls_then_recovers() {
    let h = Harness::start(Scenario {
        throttle_next: [("createReport".to_owned(), 3)].into(),
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    for _ in 0..3 {
        let response = h
            .create_report(
                &token,
                json!({"reportType": ORDERS, "marketplaceIds": [US]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["x-amzn-ratelimit-limit"], "0.0167");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]})
        );
    }
    assert_eq!(
        h.sim.scenario().throttle_next["createReport"],
        0,
        "counted down"
    );
    let response = h
        .create_report(
            &token,
            json!({"reportType": ORDERS, "marketplaceIds": [US]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let calls = h.sim.calls();
    assert_eq!(
        (calls.calls("createReport"), calls.throttled("createReport")),
        (4, 3)
    );
}

#[tokio::test]
async fn empty_bucket_answers_429_with_the_rate_limit_header() {
    let h = Harness::start(Scenario {
        enforce_rate_limits: true,
        ..fast()
    })
    .await;
    let token = h.seller_token().await;
    // createReport: Amazon's burst of 15, then about one a minute.
    for _ in 0..15 {
        assert_eq!(
            h.create_report(
                &token,
                json!({"reportType": ORDERS, "marketplaceIds": [US]})
            )
            .await
            .status(),
            StatusCode::ACCEPTED
        );
    }
    let dry = h
        .create_report(
            &token,
            json!({"reportType": ORDERS, "marketplaceIds": [US]}),
        )
        .await;
    assert_eq!(dry.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(dry.headers()["x-amzn-ratelimit-limit"], "0.0167");
    assert_eq!(h.sim.calls().throttled("createReport"), 1);

    // A custom bucket refills at its rate; another seller has its own bucket.
    let mut scenario = Scenario {
        enforce_rate_limits: true,
        ..fast()
    };
    scenario.rate_limits.insert(
        "getReport".into(),
        RateLimit {
            rate: 5.0,
            burst: 2,
        },
    );
    h.sim.set_scenario(scenario);
    let path = "/reports/2021-06-30/reports/1";
    assert_eq!(h.get(&token, path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(h.get(&token, path).await.status(), StatusCode::NOT_FOUND);
    let throttled = h.get(&token, path).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["x-amzn-ratelimit-limit"], "5.0");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(h.get(&token, path).await.status(), StatusCode::NOT_FOUND);

    h.sim.set_scenario(Scenario {
        enforce_rate_limits: false,
        ..fast()
    });
    for _ in 0..30 {
        assert_eq!(h.get(&token, path).await.status(), StatusCode::NOT_FOUND);
    }
}

// ---------------------------------------------------------------- Notifications API

const NOTIFICATIONS_SCOPE: &str = "sellingpartnerapi::notifications";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:sp-ingest-notifications";

#[tokio::test]
async fn notifications_api_enforces_grantless_and_seller_tokens() {
    let h = Harness::start(fast()).await;
    let seller = h.seller_token().await;
    let grantless = h.grantless_token(NOTIFICATIONS_SCOPE).await;
    let rotation = h
        .grantless_token("sellingpartnerapi::client_credential:rotation")
        .await;
    let denied = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            errors_code(&body),
            ("Unauthorized", "Access to requested resource is denied.")
        );
    };
    let destination = json!({"name": "q", "resourceSpecification": {"sqs": {"arn": QUEUE_ARN}}});
    denied(
        h.post(&seller, "/notifications/v1/destinations", &destination)
            .await,
    )
    .await;
    denied(h.get(&seller, "/notifications/v1/destinations").await).await;
    denied(h.get(&rotation, "/notifications/v1/destinations").await).await;
    denied(
        h.get(&grantless, "/reports/2021-06-30/reports?reportTypes=X")
            .await,
    )
    .await;
    let subscription = json!({"payloadVersion": "2020-09-04", "destinationId": "x"});
    denied(
        h.post(
            &grantless,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
            &subscription,
        )
        .await,
    )
    .await;
    denied(
        h.get(
            &grantless,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
        )
        .await,
    )
    .await;
    denied(
        h.get(
            &seller,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED/some-id",
        )
        .await,
    )
    .await;
    denied(
        h.delete(
            &seller,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED/some-id",
        )
        .await,
    )
    .await;

    let (destination_id, subscription_id) = h.subscribe(QUEUE_ARN).await;
    let listed: Value = h
        .get(&grantless, "/notifications/v1/destinations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!({"payload": [{"name": "sp-ingest", "destinationId": destination_id, "resource": {"sqs": {"arn": QUEUE_ARN}}}]})
    );
    let one: Value = h
        .get(
            &grantless,
            &format!("/notifications/v1/destinations/{destination_id}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["payload"]["resource"]["sqs"]["arn"], QUEUE_ARN);
    let by_type: Value = h
        .get(
            &seller,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        by_type,
        json!({"payload": {"subscriptionId": subscription_id, "payloadVersion": "2020-09-04", "destinationId": destination_id}})
    );
    let by_id: Value = h
        .get(
            &grantless,
            &format!(
                "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED/{subscription_id}"
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id, by_type);
    let all: Value = h
        .get(
            &seller,
            "/notifications/v1/subscriptions?notificationTypes=REPORT_PROCESSING_FINISHED",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["payload"]["subscriptions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn subscriptions_and_destinations_answer_conflicts_and_not_found() {
    let h = Harness::start(fast()).await;
    let seller = h.seller_token().await;
    let grantless = h.grantless_token(NOTIFICATIONS_SCOPE).await;
    let (destination_id, subscription_id) = h.subscribe(QUEUE_ARN).await;

    let again = h
        .post(
            &seller,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
            &json!({"payloadVersion": "2020-09-04", "destinationId": destination_id}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body: Value = again.json().await.unwrap();
    assert_eq!(errors_code(&body).0, "StateConflict");
    let same_queue = h
        .post(
            &grantless,
            "/notifications/v1/destinations",
            &json!({"name": "x", "resourceSpecification": {"sqs": {"arn": QUEUE_ARN}}}),
        )
        .await;
    assert_eq!(same_queue.status(), StatusCode::CONFLICT);

    let bad_arn = h
        .post(
            &grantless,
            "/notifications/v1/destinations",
            &json!({"name": "x", "resourceSpecification": {"sqs": {"arn": "queue"}}}),
        )
        .await;
    assert_eq!(bad_arn.status(), StatusCode::BAD_REQUEST);
    let bad_destination = h
        .post(
            &seller,
            "/notifications/v1/subscriptions/FEED_PROCESSING_FINISHED",
            &json!({"payloadVersion": "2020-09-04", "destinationId": "nope"}),
        )
        .await;
    assert_eq!(bad_destination.status(), StatusCode::BAD_REQUEST);
    let bad_type = h
        .get(&seller, "/notifications/v1/subscriptions/NOT_A_TYPE")
        .await;
    assert_eq!(bad_type.status(), StatusCode::BAD_REQUEST);

    let path =
        format!("/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED/{subscription_id}");
    assert_eq!(h.delete(&grantless, &path).await.status(), StatusCode::OK);
    assert_eq!(
        h.get(&grantless, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(
            &seller,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED"
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let destination_path = format!("/notifications/v1/destinations/{destination_id}");
    assert_eq!(
        h.delete(&grantless, &destination_path).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        h.get(&grantless, &destination_path).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn finished_report_sends_a_camel_case_notification_matching_the_schema() {
    let h = Harness::start(fast()).await;
    let (_, subscription_id) = h.subscribe(QUEUE_ARN).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;
    let sent = h.wait_notifications(1).await;
    let body = &sent[0];
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        // The order of the schema's example, which is what Amazon sends.
        [
            "notificationVersion",
            "notificationType",
            "payloadVersion",
            "eventTime",
            "payload",
            "notificationMetadata"
        ]
    );
    assert_eq!(body["notificationType"], "REPORT_PROCESSING_FINISHED");
    assert_eq!(
        (&body["notificationVersion"], &body["payloadVersion"]),
        (&json!("2020-09-04"), &json!("2020-09-04"))
    );
    assert_eq!(body["eventTime"], report["processingEndTime"]);
    assert_eq!(
        body["payload"],
        json!({"reportProcessingFinishedNotification": {
            "sellerId": simulator::DEFAULT_SELLING_PARTNER_ID,
            "accountId": format!("amzn1.merchant.o.{}", simulator::DEFAULT_SELLING_PARTNER_ID),
            "reportId": report_id,
            "reportType": ORDERS,
            "processingStatus": "DONE",
            "reportDocumentId": report["reportDocumentId"],
        }})
    );
    let metadata = &body["notificationMetadata"];
    assert!(
        metadata["applicationId"]
            .as_str()
            .unwrap()
            .starts_with("amzn1.sellerapps.app.")
    );
    assert_eq!(metadata["subscriptionId"], subscription_id.as_str());
    assert!(metadata["publishTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(metadata["notificationId"].as_str().unwrap().len(), 36);
    let deliveries = h.sim.notification_deliveries();
    assert_eq!(deliveries[0].destination_arn, QUEUE_ARN);
    assert_eq!(deliveries[0].outcome, simulator::DeliveryOutcome::Recorded);
}

#[tokio::test]
async fn pascal_casing_renames_the_envelope_but_not_the_payload() {
    let h = Harness::start(Scenario {
        notification_casing: NotificationCasing::Pascal,
        ..fast()
    })
    .await;
    h.subscribe(QUEUE_ARN).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let sent = h.wait_notifications(1).await;
    let body = &sent[0];
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "NotificationVersion",
            "NotificationType",
            "PayloadVersion",
            "EventTime",
            "Payload",
            "NotificationMetadata"
        ]
    );
    let metadata: Vec<&String> = body["NotificationMetadata"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        metadata,
        [
            "ApplicationId",
            "SubscriptionId",
            "PublishTime",
            "NotificationId"
        ]
    );
    assert_eq!(
        body["Payload"]["reportProcessingFinishedNotification"]["reportId"],
        report_id.as_str()
    );
}

#[tokio::test]
async fn notification_faults_duplicate_renotify_add_unsolicited_and_lose() {
    let noisy = ReportRule {
        duplicate_notifications: 2,
        renotify: 1,
        unsolicited_notifications: 2,
        ..rule(ORDERS)
    };
    let lost = ReportRule {
        lose_notification: true,
        ..rule(LISTINGS)
    };
    let fatal = ReportRule {
        outcome: Some(Outcome::Fatal),
        ..rule(SALES_AND_TRAFFIC)
    };
    let h = Harness::start(Scenario {
        rules: vec![noisy, lost, fatal],
        ..fast()
    })
    .await;
    h.subscribe(QUEUE_ARN).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let sent = h.wait_notifications(6).await;
    let id = |body: &Value| {
        body["notificationMetadata"]["notificationId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let report_of = |body: &Value| {
        body["payload"]["reportProcessingFinishedNotification"]["reportId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(sent[..4].iter().all(|body| report_of(body) == report_id));
    assert_eq!(sent[0], sent[1], "duplicates are identical");
    assert_eq!(sent[0], sent[2]);
    assert_ne!(
        id(&sent[0]),
        id(&sent[3]),
        "a re-notification has a new notificationId"
    );
    let unsolicited: Vec<String> = sent[4..].iter().map(report_of).collect();
    assert!(unsolicited.iter().all(|other| *other != report_id));
    for other in &unsolicited {
        // They exist for the same seller, as reports of a schedule would.
        let report = h.report(&token, other).await;
        assert_eq!(report["processingStatus"], "DONE");
        assert!(report["reportScheduleId"].is_string());
    }

    let lost_id = h.create(&token, LISTINGS, US, START, END).await;
    let fatal_id = h.create(&token, SALES_AND_TRAFFIC, US, START, END).await;
    h.wait_terminal(&token, &lost_id).await;
    let sent = h.wait_notifications(7).await;
    assert_eq!(report_of(&sent[6]), fatal_id);
    assert_eq!(
        sent[6]["payload"]["reportProcessingFinishedNotification"]["processingStatus"],
        "FATAL"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        h.sim
            .notifications_sent()
            .iter()
            .all(|body| report_of(body) != lost_id),
        "lost notification never sent"
    );
}

#[tokio::test]
async fn cancelling_a_report_notifies_cancelled_without_document() {
    let slow = ReportRule {
        in_queue_ms: Some(60_000),
        ..rule(ORDERS)
    };
    let h = Harness::start(Scenario {
        rules: vec![slow],
        ..fast()
    })
    .await;
    h.subscribe(QUEUE_ARN).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    assert_eq!(
        h.delete(&token, &format!("/reports/2021-06-30/reports/{report_id}"))
            .await
            .status(),
        StatusCode::OK
    );
    let sent = h.wait_notifications(1).await;
    let inner = &sent[0]["payload"]["reportProcessingFinishedNotification"];
    assert_eq!(inner["processingStatus"], "CANCELLED");
    assert!(inner.get("reportDocumentId").is_none());
}

// ---------------------------------------------------------------- SQS delivery through moto

/// A moto server on a free port, killed when dropped (also on panic).
struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    fn start() -> Self {
        let program = std::env::var("SP_INGEST_MOTO_SERVER").unwrap_or_else(|_| {
            panic!("SP_INGEST_MOTO_SERVER is not set: run `make setup` (installs moto into .venv) and run the tests through make, or export SP_INGEST_MOTO_SERVER=.venv/bin/moto_server")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}; run `make setup`"));
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_is_delivered_to_a_moto_sqs_queue() {
    let moto = MotoServer::start();
    let credentials = aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test");
    let sqs_config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(credentials)
        .build();
    let sqs = aws_sdk_sqs::Client::from_conf(sqs_config);
    let queue_url = sqs
        .create_queue()
        .queue_name("sp-notifications")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();

    let config = SimConfig {
        scenario: fast(),
        sqs: Some(SqsTarget {
            endpoint_url: Some(moto.endpoint.clone()),
            region: "us-east-1".into(),
        }),
        ..SimConfig::default()
    };
    let h = Harness::with_config(config).await;
    let (_, subscription_id) = h.subscribe(&queue_arn).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    let report = h.wait_terminal(&token, &report_id).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let message = loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(message) = received.messages().first() {
            break message.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no message; deliveries: {:?}",
            h.sim.notification_deliveries()
        );
    };
    let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(body["notificationType"], "REPORT_PROCESSING_FINISHED");
    assert_eq!(
        body["notificationMetadata"]["subscriptionId"],
        subscription_id.as_str()
    );
    let inner = &body["payload"]["reportProcessingFinishedNotification"];
    assert_eq!(inner["reportId"], report_id.as_str());
    assert_eq!(inner["reportDocumentId"], report["reportDocumentId"]);
    assert_eq!(inner["processingStatus"], "DONE");
    // The simulator records a delivery once SendMessage has answered, maybe after the receive.
    h.wait_notifications(1).await;
    assert!(matches!(
        h.sim.notification_deliveries()[0].outcome,
        simulator::DeliveryOutcome::Sent { .. }
    ));
    assert_eq!(h.sim.notifications_sent(), vec![body]);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn failed_sqs_delivery_is_recorded_not_fatal() {
    // Nothing listens on this port: the send fails, the simulator carries on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = SimConfig {
        scenario: fast(),
        sqs: Some(SqsTarget {
            endpoint_url: Some(format!("http://127.0.0.1:{port}")),
            region: "us-east-1".into(),
        }),
        ..SimConfig::default()
    };
    let h = Harness::with_config(config).await;
    h.subscribe(QUEUE_ARN).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, ORDERS, US, START, END).await;
    h.wait_terminal(&token, &report_id).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.sim.notification_deliveries().is_empty() {
        assert!(Instant::now() < deadline, "no delivery attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        h.sim.notification_deliveries()[0].outcome,
        simulator::DeliveryOutcome::Failed { .. }
    ));
    assert!(h.sim.notifications_sent().is_empty());
    assert_eq!(
        h.get(&token, &format!("/reports/2021-06-30/reports/{report_id}"))
            .await
            .status(),
        StatusCode::OK
    );
}

// ---------------------------------------------------------------- schedules, settlements, introspection

#[tokio::test]
async fn settlement_reports_are_listed_and_downloadable_but_cannot_be_requested() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let listed: Value = h
        .get(
            &token,
            "/reports/2021-06-30/reports?reportTypes=GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
        )
        .await
        .json()
        .await
        .unwrap();
    let reports = listed["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 3);
    let newest = &reports[0];
    assert_eq!(newest["processingStatus"], "DONE");
    let (_, download) = h
        .run_and_download(&token, newest["reportId"].as_str().unwrap())
        .await;
    let text = String::from_utf8(gunzip(&download.bytes().await.unwrap())).unwrap();
    assert!(text.starts_with("settlement-id\tsettlement-start-date"));
}

#[tokio::test]
async fn report_schedules_are_created_replaced_listed_and_cancelled() {
    let h = Harness::start(fast()).await;
    let token = h.seller_token().await;
    let body = json!({"reportType": ORDERS, "marketplaceIds": [US], "period": "P1D"});
    let first = h.post(&token, "/reports/2021-06-30/schedules", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_id = first.json::<Value>().await.unwrap()["reportScheduleId"]
        .as_str()
        .unwrap()
        .to_owned();
    let second: Value = h
        .post(&token, "/reports/2021-06-30/schedules", &body)
        .await
        .json()
        .await
        .unwrap();
    let second_id = second["reportScheduleId"].as_str().unwrap().to_owned();
    let listed: Value = h
        .get(
            &token,
            &format!("/reports/2021-06-30/schedules?reportTypes={ORDERS}"),
        )
        .await
        .json()
        .await
        .unwrap();
    let schedules = listed["reportSchedules"].as_array().unwrap();
    assert_eq!(
        schedules.len(),
        1,
        "the same type and marketplaces replace the old schedule"
    );
    assert_eq!(schedules[0]["reportScheduleId"], second_id.as_str());
    assert_eq!(schedules[0]["period"], "P1D");
    assert_eq!(
        h.get(&token, &format!("/reports/2021-06-30/schedules/{first_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let bad_period = h
        .post(
            &token,
            "/reports/2021-06-30/schedules",
            &json!({"reportType": ORDERS, "marketplaceIds": [US], "period": "P2W"}),
        )
        .await;
    assert_eq!(bad_period.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        h.delete(
            &token,
            &format!("/reports/2021-06-30/schedules/{second_id}")
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        h.get(
            &token,
            &format!("/reports/2021-06-30/schedules/{second_id}")
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(&token, "/reports/2021-06-30/schedules")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn scenario_is_read_and_replaced_over_http() {
    let h = Harness::start(fast()).await;
    let current: Value = h
        .http
        .get(h.url("/_sim/scenario"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["in_queue_ms"], 40);
    assert_eq!(
        current["rate_limits"]["getReport"],
        json!({"rate": 2.0, "burst": 15})
    );

    let partial = json!({"throttle_next": {"getReport": 1}, "rules": [{"report_type": ORDERS, "outcome": "FATAL"}]});
    let replaced = h
        .http
        .post(h.url("/_sim/scenario"))
        .json(&partial)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let scenario = h.sim.scenario();
    assert_eq!(
        scenario.in_queue_ms, 200,
        "omitted knobs take their defaults"
    );
    assert_eq!(scenario.rules[0].outcome, Some(Outcome::Fatal));
    let token = h.seller_token().await;
    assert_eq!(
        h.get(&token, "/reports/2021-06-30/reports/1")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    for bad in [
        json!({"in_queue": 5}),
        json!({"throttle_next": {"getReportz": 1}}),
        json!({"rules": [{"outcome": "MAYBE"}]}),
    ] {
        let response = h
            .http
            .post(h.url("/_sim/scenario"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
}

#[tokio::test]
async fn introspection_shows_reports_with_digest_calls_and_notifications() {
    let h = Harness::start(fast()).await;
    h.subscribe(QUEUE_ARN).await;
    let token = h.seller_token().await;
    let report_id = h.create(&token, LISTINGS, JP, START, END).await;
    h.wait_terminal(&token, &report_id).await;
    h.wait_notifications(1).await;

    let report: Value = h
        .http
        .get(h.url(&format!("/_sim/reports/{report_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["processing_status"], "DONE");
    assert_eq!(report["outcome"], "DONE");
    assert_eq!(report["charset"], "Cp932");
    let expected = h.sim.expected_document(&report_id).await.unwrap();
    assert_eq!(report["document"]["sha256"], expected.sha256.as_str());
    assert_eq!(report["document"]["source_charset"], "Cp932");
    assert_eq!(report["document"]["rows"], expected.rows);

    let all: Value = h
        .http
        .get(h.url("/_sim/reports"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|r| r["report_id"] == report_id.as_str())
    );
    assert_eq!(
        h.http
            .get(h.url("/_sim/reports/1"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let calls: Value = h
        .http
        .get(h.url("/_sim/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["createReport"]["calls"], 1);
    assert_eq!(calls["createSubscription"]["calls"], 1);
    let notifications: Value = h
        .http
        .get(h.url("/_sim/notifications"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(notifications[0]["outcome"]["status"], "recorded");
    assert_eq!(
        notifications[0]["body"]["notificationType"],
        "REPORT_PROCESSING_FINISHED"
    );
}

#[tokio::test]
async fn start_refuses_addresses_other_than_localhost() {
    let config = SimConfig {
        bind: "0.0.0.0:0".parse().unwrap(),
        ..SimConfig::default()
    };
    assert!(simulator::start(config).await.is_err());
    let no_apps = SimConfig {
        apps: Vec::<AppCredentials>::new(),
        ..SimConfig::default()
    };
    assert!(simulator::start(no_apps).await.is_err());
}

// ---------------------------------------------------------------- the binary

/// The `simulator` binary running as a child process, killed when dropped (also on panic).
struct SimulatorProcess {
    child: Child,
    base_url: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl SimulatorProcess {
    fn spawn(args: &[&str], rust_log: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_simulator"))
            .args(["--exit-on-stdin-eof"])
            .args(args)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drain stderr on a thread so verbose logs never block the child on a full pipe.
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let base_url = line
            .trim()
            .strip_prefix("simulator listening on ")
            .expect("announcement line")
            .to_owned();
        Self {
            child,
            base_url,
            stderr: Some(stderr),
        }
    }

    /// Closes stdin, waits for a clean exit and returns the logs.
    fn stop_by_closing_stdin(mut self) -> String {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                assert!(exit.success(), "{exit}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the simulator kept running after stdin closed"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stderr.take().unwrap().join().unwrap()
    }
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn binary_announces_its_address_and_exits_when_stdin_closes() {
    let addr_file =
        std::env::temp_dir().join(format!("simulator-addr-{}.json", uuid::Uuid::new_v4()));
    let process = SimulatorProcess::spawn(
        &["--seed", "3", "--addr-file", addr_file.to_str().unwrap()],
        "warn",
    );
    let base_url = process.base_url.clone();
    assert!(base_url.starts_with("http://127.0.0.1:"));
    let addresses: Value =
        serde_json::from_str(&std::fs::read_to_string(&addr_file).unwrap()).unwrap();
    assert_eq!(
        addresses,
        json!({"base_url": base_url, "lwa_token_url": format!("{base_url}/auth/o2/token")})
    );
    let _ = std::fs::remove_file(&addr_file);

    let status = block_on(async {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
            ("client_id", simulator::DEFAULT_CLIENT_ID),
            ("client_secret", simulator::DEFAULT_CLIENT_SECRET),
        ];
        reqwest::Client::new()
            .post(format!("{base_url}/auth/o2/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::OK);
    process.stop_by_closing_stdin();
}

#[test]
fn binary_logs_never_contain_tokens_or_client_secrets() {
    let scenario =
        std::env::temp_dir().join(format!("simulator-scenario-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&scenario, r#"{"in_queue_ms": 20, "in_progress_ms": 20}"#).unwrap();
    let process = SimulatorProcess::spawn(&["--scenario", scenario.to_str().unwrap()], "trace");
    let base = process.base_url.clone();
    let access_token = block_on(async move {
        let http = reqwest::Client::new();
        let token = |form: Vec<(&'static str, &'static str)>| {
            let http = http.clone();
            let url = format!("{base}/auth/o2/token");
            async move {
                http.post(url)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        let id = ("client_id", simulator::DEFAULT_CLIENT_ID);
        let secret = ("client_secret", simulator::DEFAULT_CLIENT_SECRET);
        let seller = token(vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", simulator::DEFAULT_REFRESH_TOKEN),
            id,
            secret,
        ])
        .await;
        let seller = seller["access_token"].as_str().unwrap().to_owned();
        let grantless = token(vec![
            ("grant_type", "client_credentials"),
            ("scope", NOTIFICATIONS_SCOPE),
            id,
            secret,
        ])
        .await;
        let grantless = grantless["access_token"].as_str().unwrap().to_owned();
        let rejected = token(vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", "Atzr|x"),
            id,
            ("client_secret", "a-wrong-secret"),
        ])
        .await;
        assert_eq!(rejected["error"], "invalid_client");

        let call = |method: reqwest::Method, path: String, token: String, body: Option<Value>| {
            let mut request = http
                .request(method, format!("{base}{path}"))
                .header("x-amz-access-token", token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let destination = call(
            reqwest::Method::POST,
            "/notifications/v1/destinations".into(),
            grantless.clone(),
            Some(json!({"name": "q", "resourceSpecification": {"sqs": {"arn": QUEUE_ARN}}})),
        )
        .await;
        call(
            reqwest::Method::POST,
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED".into(),
            seller.clone(),
            Some(json!({"payloadVersion": "2020-09-04", "destinationId": destination["payload"]["destinationId"]})),
        )
        .await;
        let created = call(
            reqwest::Method::POST,
            "/reports/2021-06-30/reports".into(),
            seller.clone(),
            Some(json!({"reportType": ORDERS, "marketplaceIds": [US], "dataStartTime": START, "dataEndTime": END})),
        )
        .await;
        let report_id = created["reportId"].as_str().unwrap().to_owned();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let report = call(
            reqwest::Method::GET,
            format!("/reports/2021-06-30/reports/{report_id}"),
            seller.clone(),
            None,
        )
        .await;
        let document_id = report["reportDocumentId"]
            .as_str()
            .expect("DONE by now")
            .to_owned();
        let document = call(
            reqwest::Method::GET,
            format!("/reports/2021-06-30/documents/{document_id}"),
            seller.clone(),
            None,
        )
        .await;
        let download = http
            .get(document["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        download.bytes().await.unwrap();
        seller
    });
    let logs = process.stop_by_closing_stdin();
    let _ = std::fs::remove_file(&scenario);
    assert!(
        logs.contains("createReport")
            && logs.contains("serving document")
            && logs.contains("notification"),
        "{logs}"
    );
    for secret in [
        simulator::DEFAULT_CLIENT_SECRET,
        simulator::DEFAULT_REFRESH_TOKEN,
        "a-wrong-secret",
        &access_token,
        "Atza|",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}

// ------------------------------------------------------------ documents against the schemas

/// Every JSON report type a curated table reads, as the simulator serves it, is valid
/// under Amazon's published JSON schema for it (`schemas/reports/`, copied from
/// amzn/selling-partner-api-models), checked by the `jsonschema` package.
#[test]
fn json_documents_validate_against_amazons_report_schemas() {
    let moto = std::env::var_os("SP_INGEST_MOTO_SERVER").expect(
        "SP_INGEST_MOTO_SERVER is not set: run the tests through make (its venv has jsonschema)",
    );
    let python = std::path::PathBuf::from(moto).with_file_name("python");
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/reports");
    let dir = std::env::temp_dir().join(format!("sp-ingest-schemas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (report_type, schema) in [
        (SALES_AND_TRAFFIC, "sellerSalesAndTrafficReport"),
        ("GET_VENDOR_SALES_REPORT", "vendorSalesReport"),
        ("GET_VENDOR_TRAFFIC_REPORT", "vendorTrafficReport"),
        ("GET_VENDOR_INVENTORY_REPORT", "vendorInventoryReport"),
        (
            "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
            "sellingPartnerSearchTermsReport",
        ),
    ] {
        let text = simulator::report_text(
            report_type,
            &simulator::typical_options(report_type),
            US,
            (START.parse().unwrap(), END.parse().unwrap()),
            25,
        );
        let document = dir.join(format!("{report_type}.json"));
        std::fs::write(&document, text).unwrap();
        let output = Command::new(&python)
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
            ])
            .arg(&document)
            .arg(schemas.join(format!("{schema}.json")))
            .output()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
        assert!(
            output.status.success(),
            "{report_type} does not validate against {schema}.json:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A simulator whose reports, queries and Ads reports finish within 50 ms.
async fn quick_simulator() -> simulator::RunningSimulator {
    let sim = simulator::start(SimConfig::default()).await.unwrap();
    sim.set_scenario(Scenario {
        in_queue_ms: 20,
        in_progress_ms: 30,
        ..Scenario::default()
    });
    sim
}

/// Runs `tests/<script>` with the venv's Python (which has the PyPI clients) on a
/// blocking thread, so the simulator keeps serving; the JSON it prints.
async fn python_client(script: &str, args: Vec<String>) -> Value {
    let moto = std::env::var_os("SP_INGEST_MOTO_SERVER").expect(
        "SP_INGEST_MOTO_SERVER is not set: run the tests through make (its venv has the PyPI clients)",
    );
    let python = std::path::PathBuf::from(moto).with_file_name("python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(&script)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the PyPI client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// python-amazon-sp-api 2.1.35, a client from PyPI, runs a Data Kiosk query against the
/// simulator (createQuery, getQuery, getDocument with its download, gzip by
/// `Content-Encoding`) and gets the document the simulator says it served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_kiosk_query_through_python_amazon_sp_api_gets_the_served_document() {
    let sim = quick_simulator().await;
    let query = r#"query { analytics_salesAndTraffic_2024_04_24 { salesAndTrafficByDate(startDate: "2024-05-01", endDate: "2024-05-07", aggregateBy: DAY, marketplaceIds: ["ATVPDKIKX0DER"]) { startDate sales { unitsOrdered orderedProductSales { amount currencyCode } } } } }"#;
    let got = python_client(
        "data_kiosk_client.py",
        vec![
            sim.base_url(),
            query.to_owned(),
            simulator::DEFAULT_CLIENT_ID.to_owned(),
            simulator::DEFAULT_CLIENT_SECRET.to_owned(),
            simulator::DEFAULT_REFRESH_TOKEN.to_owned(),
        ],
    )
    .await;
    assert_eq!(got["status"], "DONE");
    assert_eq!(got["lines"], 7, "a record per day of the week");
    let expected = sim
        .expected_query_document(got["queryId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(got["sha256"], expected.sha256.as_str());
    sim.shutdown().await;
}

/// python-amazon-ad-api 1.2.9, a client from PyPI, lists the profiles, creates a
/// Sponsored Products report, polls it and downloads the file the simulator served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ads_report_through_python_amazon_ad_api_gets_the_served_file() {
    let sim = quick_simulator().await;
    let end = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let body = json!({
        "name": "through python-amazon-ad-api",
        "startDate": (end - chrono::Duration::days(2)).to_string(),
        "endDate": end.to_string(),
        "configuration": {
            "adProduct": "SPONSORED_PRODUCTS", "reportTypeId": "spCampaigns",
            "groupBy": ["campaign"], "columns": ["date", "campaignId", "impressions", "clicks", "cost"],
            "timeUnit": "DAILY", "format": "GZIP_JSON"
        }
    });
    let got = python_client(
        "ads_client.py",
        vec![
            sim.base_url(),
            simulator::DEFAULT_CLIENT_ID.to_owned(),
            simulator::DEFAULT_CLIENT_SECRET.to_owned(),
            simulator::DEFAULT_ADS_REFRESH_TOKEN.to_owned(),
            simulator::DEFAULT_ADS_PROFILE_ID.to_string(),
            body.to_string(),
        ],
    )
    .await;
    assert_eq!(got["profiles"], json!([simulator::DEFAULT_ADS_PROFILE_ID]));
    assert_eq!(got["status"], "COMPLETED");
    assert_eq!(got["rows"], 15, "5 rows a day for 3 days");
    let expected = sim
        .expected_ads_document(got["reportId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(got["sha256"], expected.sha256.as_str());
    sim.shutdown().await;
}
