//! The Storage core against real collaborators: documents from the SP-API simulator
//! (real HTTP, gzip, CP932, truncation and URL expiry) into a real moto S3 with a moto
//! KMS key. One file on purpose: every integration-test binary links the whole SDK graph.
//!
//! moto comes from `local_stack::Moto` (`SP_INGEST_MOTO_SERVER`, set by `make`); without
//! it these tests fail and say to run `make setup`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use chrono::{DateTime, Utc};
use domain::{DataWindow, DocumentFormat, ErrorName, RawObjectKey, ReportRequest, Source};
use local_stack::{Moto, MotoOptions};
use sha2::{Digest, Sha256};
use simulator::scenario::{Charset, ReportRule, Scenario};
use simulator::{DocumentDigest, RunningSimulator, SimConfig};
use spapi::{
    CreateReportSpecification, Endpoints, LwaCredentials, ReportDocument, RetryPolicy,
    SellerAuthorization, SpApiClient,
};
use storage::{
    MIN_PART_SIZE, SourceCharset, StoreOptions, StoredObject, UploadTarget, fetch_and_store,
    store_document,
};

const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const US: &str = "ATVPDKIKX0DER";
const JP: &str = "A1VC38T7YXB528";
const BUCKET: &str = "sp-ingest-raw";
/// Orders rows are ~300 bytes: this many make a ~13 MB document, more than two 5 MiB
/// parts, so even its first half (a truncated download) fills a part.
const LARGE_ROWS: u64 = 48_000;

// ------------------------------------------------------------------------------- harness

/// moto with one bucket and one KMS key; moto stops when this drops (also on panic).
struct Lake {
    _moto: Moto,
    s3: aws_sdk_s3::Client,
    kms_key_id: String,
}

impl Lake {
    async fn start() -> Lake {
        let options = MotoOptions::from_env()
            .unwrap_or_else(|error| panic!("{error} (run `make setup`, then the tests via make)"));
        let moto = Moto::start(options)
            .await
            .unwrap_or_else(|error| panic!("moto did not start: {error}; run `make setup`"));
        let sdk_config = moto.sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config)
                .force_path_style(true)
                .build(),
        );
        let kms = aws_sdk_kms::Client::new(&sdk_config);
        let key = kms
            .create_key()
            .description("sp-ingest storage tests")
            .send()
            .await
            .expect("moto creates a KMS key");
        let kms_key_id = key
            .key_metadata()
            .map(|metadata| metadata.key_id().to_owned())
            .expect("a created key has metadata");
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("moto creates the bucket");
        Lake {
            _moto: moto,
            s3,
            kms_key_id,
        }
    }

    fn target(&self, key: &str, report_id: &str) -> UploadTarget {
        UploadTarget {
            bucket: BUCKET.to_owned(),
            key: key.to_owned(),
            kms_key_id: Some(self.kms_key_id.clone()),
            format: DocumentFormat::Tsv,
            metadata: BTreeMap::from([
                ("report-id".to_owned(), report_id.to_owned()),
                (
                    "request-key".to_owned(),
                    "0123456789abcdef0123456789abcdef".to_owned(),
                ),
            ]),
        }
    }

    /// Every key in the bucket, staging prefix included.
    async fn keys(&self) -> Vec<String> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("listing works");
        listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect()
    }

    /// Multipart uploads still open in the bucket.
    async fn open_uploads(&self) -> usize {
        let listed = self
            .s3
            .list_multipart_uploads()
            .bucket(BUCKET)
            .send()
            .await
            .expect("listing uploads works");
        listed.uploads().len()
    }

    async fn body(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("the object exists");
        object
            .body
            .collect()
            .await
            .expect("the body reads")
            .to_vec()
    }
}

/// The simulator with fast reports, the given rules, and a client for it.
async fn amazon(rules: Vec<ReportRule>) -> (RunningSimulator, SpApiClient) {
    let sim = simulator::start(SimConfig::default())
        .await
        .expect("simulator starts");
    sim.set_scenario(Scenario {
        in_queue_ms: 20,
        in_progress_ms: 30,
        rules,
        ..Scenario::default()
    });
    let endpoints = Endpoints::parse(&sim.base_url(), &sim.lwa_token_url()).expect("valid URLs");
    let client = SpApiClient::builder(endpoints)
        .app_credentials(LwaCredentials::new(
            simulator::DEFAULT_CLIENT_ID,
            simulator::DEFAULT_CLIENT_SECRET,
        ))
        .seller(SellerAuthorization::new(
            simulator::DEFAULT_SELLING_PARTNER_ID,
            simulator::DEFAULT_REFRESH_TOKEN,
        ))
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        })
        .build()
        .expect("client builds");
    (sim, client)
}

/// A finished orders report: its id, the raw object key and a fresh document URL.
struct Finished {
    report_id: String,
    key: String,
    document: ReportDocument,
}

/// A finished orders report for `marketplace` and the `day`th of May 2024 (the content
/// is a function of the request, so another day is another document).
async fn finished_report(client: &SpApiClient, marketplace: &str, day: u32) -> Finished {
    let start: DateTime<Utc> = format!("2024-05-{day:02}T00:00:00Z").parse().unwrap();
    let end = start + chrono::Duration::days(1);
    let created = client
        .create_report(
            &CreateReportSpecification::new(ORDERS, [marketplace]).with_data_window(start, end),
        )
        .await
        .expect("createReport");
    let mut report = client.get_report(&created.report_id).await.unwrap();
    for _ in 0..100 {
        if report.processing_status.is_terminal() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        report = client.get_report(&created.report_id).await.unwrap();
    }
    let document_id = report.report_document_id.expect("DONE with a document");
    let document = client
        .get_report_document(&document_id, Default::default())
        .await
        .expect("getReportDocument");
    let request = ReportRequest {
        account: "acme".into(),
        selling_partner_id: simulator::DEFAULT_SELLING_PARTNER_ID.into(),
        source: Source::sp_api_reports(),
        report_type: ORDERS.into(),
        marketplace_ids: vec![marketplace.into()],
        window: DataWindow::new(start, end).unwrap(),
        options: BTreeMap::new(),
        query: None,
        ads: None,
        amc: None,
    };
    let key = RawObjectKey::new(&request, DocumentFormat::Tsv)
        .expect("safe key")
        .to_string();
    Finished {
        report_id: created.report_id,
        key,
        document,
    }
}

fn large(rule: ReportRule) -> ReportRule {
    ReportRule {
        rows: Some(LARGE_ROWS),
        ..rule
    }
}

fn multipart_options() -> StoreOptions {
    StoreOptions {
        part_size: MIN_PART_SIZE,
        ..StoreOptions::default()
    }
}

/// What a user of the lake checks: the bytes, their digest, the metadata, encryption,
/// and that the bucket holds this one object and no open upload.
async fn assert_stored(lake: &Lake, stored: &StoredObject, expected: &DocumentDigest) {
    let body = lake.body(&stored.key).await;
    assert_eq!(hex::encode(Sha256::digest(&body)), expected.sha256);
    assert_eq!(stored.sha256, expected.sha256);
    assert_eq!(stored.bytes, expected.bytes);
    assert_eq!(body.len() as u64, expected.bytes);
    assert_eq!(stored.rows, expected.rows);
    assert_eq!(stored.source_charset, expected.source_charset);
    assert_eq!(stored.malformed_sequences, 0);

    let head = lake
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(&stored.key)
        .send()
        .await
        .expect("head");
    let metadata = head.metadata().cloned().unwrap_or_default();
    assert_eq!(
        metadata.get("sha256").map(String::as_str),
        Some(expected.sha256.as_str())
    );
    assert_eq!(
        metadata.get("rows").map(String::as_str),
        Some(expected.rows.to_string().as_str())
    );
    assert_eq!(
        metadata.get("source-charset").map(String::as_str),
        Some(expected.source_charset.as_str())
    );
    assert_eq!(
        metadata.get("source-compression").map(String::as_str),
        Some("GZIP")
    );
    assert!(metadata.contains_key("report-id"), "{metadata:?}");
    assert!(metadata.contains_key("request-key"), "{metadata:?}");
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert!(
        head.ssekms_key_id()
            .is_some_and(|id| id.contains(&lake.kms_key_id)),
        "SSE-KMS key {:?}, want {}",
        head.ssekms_key_id(),
        lake.kms_key_id
    );
    assert_eq!(
        head.content_type(),
        Some("text/tab-separated-values; charset=utf-8")
    );

    assert_eq!(
        lake.keys().await,
        vec![stored.key.clone()],
        "one object, no staging left"
    );
    assert_eq!(lake.open_uploads().await, 0);
}

// --------------------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_tsv_lands_byte_exact_with_metadata_and_sse_kms() {
    let (lake, (sim, client)) = tokio::join!(Lake::start(), amazon(vec![]));
    let report = finished_report(&client, US, 1).await;
    let target = lake.target(&report.key, &report.report_id);

    let stored = fetch_and_store(
        &client,
        &report.document,
        US,
        &lake.s3,
        &target,
        &StoreOptions::default(),
    )
    .await
    .expect("stored");

    let expected = sim.expected_document(&report.report_id).await.unwrap();
    assert_eq!(expected.source_charset, "UTF-8");
    assert!(expected.rows > 0);
    assert_stored(&lake, &stored, &expected).await;
    assert_eq!(stored.parts, 1, "a small document is one PutObject");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn japanese_cp932_document_lands_as_utf8_with_its_source_charset() {
    let cp932 = ReportRule {
        marketplace_id: Some(JP.into()),
        charset: Some(Charset::Cp932),
        ..ReportRule::default()
    };
    let (lake, (sim, client)) = tokio::join!(Lake::start(), amazon(vec![cp932]));
    let report = finished_report(&client, JP, 1).await;
    let target = lake.target(&report.key, &report.report_id);

    let stored = fetch_and_store(
        &client,
        &report.document,
        JP,
        &lake.s3,
        &target,
        &StoreOptions::default(),
    )
    .await
    .expect("stored");

    let expected = sim.expected_document(&report.report_id).await.unwrap();
    assert_eq!(expected.source_charset, "Cp932");
    assert_ne!(
        expected.sha256, expected.source_sha256,
        "it really is transcoded"
    );
    assert_stored(&lake, &stored, &expected).await;
    let text = String::from_utf8(lake.body(&stored.key).await).expect("UTF-8 in the lake");
    assert!(!text.is_ascii(), "Japanese text survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_download_leaves_nothing_and_fetch_and_store_retries_it() {
    let truncating = large(ReportRule {
        truncate_first_download: true,
        ..ReportRule::default()
    });
    let (lake, (sim, client)) = tokio::join!(Lake::start(), amazon(vec![truncating]));

    // The first download of a report stops halfway, after more than one part was sent.
    let first = finished_report(&client, US, 1).await;
    let stream = client.download_document(&first.document).await.unwrap();
    let error = store_document(
        stream,
        SourceCharset::utf8(),
        &lake.s3,
        &lake.target(&first.key, &first.report_id),
        &multipart_options(),
    )
    .await
    .expect_err("a truncated download is not stored");
    assert_eq!(error.name(), ErrorName::DocumentTruncated, "{error}");
    assert!(error.to_string().contains("nothing was stored"), "{error}");
    assert_eq!(
        lake.keys().await,
        Vec::<String>::new(),
        "no object, not even staged"
    );
    assert_eq!(
        lake.open_uploads().await,
        0,
        "the multipart upload was aborted"
    );

    // fetch_and_store meets the same fault and starts over from a fresh URL.
    let second = finished_report(&client, US, 1).await;
    let before = sim.calls().calls("getReportDocument");
    let stored = fetch_and_store(
        &client,
        &second.document,
        US,
        &lake.s3,
        &lake.target(&second.key, &second.report_id),
        &multipart_options(),
    )
    .await
    .expect("stored on the second download");
    assert_eq!(
        sim.calls().calls("getReportDocument") - before,
        1,
        "one fresh URL"
    );
    assert_eq!(sim.report(&second.report_id).unwrap().downloads_served, 2);
    let expected = sim.expected_document(&second.report_id).await.unwrap();
    assert_stored(&lake, &stored, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_reset_mid_body_resumes_from_the_last_byte_received() {
    let resetting = large(ReportRule {
        reset_first_download: true,
        ..ReportRule::default()
    });
    let (lake, (sim, client)) = tokio::join!(Lake::start(), amazon(vec![resetting]));
    let report = finished_report(&client, US, 2).await;
    let stored = fetch_and_store(
        &client,
        &report.document,
        US,
        &lake.s3,
        &lake.target(&report.key, &report.report_id),
        &multipart_options(),
    )
    .await
    .expect("stored across the reset");
    let info = sim.report(&report.report_id).unwrap();
    assert_eq!((info.downloads_served, info.range_requests), (2, 1));
    // The same document downloaded whole, for comparison. The reset cut it at half its
    // rows; the Range request asked for the rest from the last byte received, so the two
    // downloads together served the document once plus what was in flight when the
    // connection broke — starting over would have served the first half twice (1.5×).
    let fresh = client
        .get_report_document(&report.document.report_document_id, Default::default())
        .await
        .unwrap();
    let whole = reqwest::get(&fresh.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len() as u64;
    let resumed_from = info.last_range_start.expect("a range request");
    assert!(
        resumed_from >= whole / 3,
        "resumed from byte {resumed_from} of {whole}"
    );
    assert!(
        info.bytes_served <= whole + whole / 10,
        "{} bytes served for a {whole}-byte document",
        info.bytes_served
    );
    let expected = sim.expected_document(&report.report_id).await.unwrap();
    assert_stored(&lake, &stored, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_reached_mid_upload_aborts_it_and_stores_nothing() {
    let lake = Lake::start().await;
    // More than a part of rows, then a download that stalls: a part is uploaded, then
    // the deadline passes while the read waits.
    let rows = "a\tb\n".repeat(MIN_PART_SIZE / 4 + 1024);
    let (_writer, stalled) = tokio::io::duplex(64);
    let reader = tokio::io::AsyncReadExt::chain(std::io::Cursor::new(rows.into_bytes()), stalled);
    let options = StoreOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(2)),
        ..multipart_options()
    };
    let error = store_document(
        reader,
        SourceCharset::utf8(),
        &lake.s3,
        &lake.target("source=x/stalled.tsv", "1"),
        &options,
    )
    .await
    .expect_err("the deadline passed");
    assert_eq!(error.name(), ErrorName::DeadlineExceeded, "{error}");
    assert!(error.to_string().contains("nothing was stored"), "{error}");
    assert_eq!(
        lake.keys().await,
        Vec::<String>::new(),
        "nothing, not even staged"
    );
    assert_eq!(
        lake.open_uploads().await,
        0,
        "the multipart upload was aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_url_is_fetched_again_and_stored() {
    let (lake, (sim, client)) = tokio::join!(Lake::start(), amazon(vec![]));
    // URLs handed out now are dead on arrival; the fresh one fetched later lives.
    let mut scenario = sim.scenario();
    scenario.url_ttl_secs = 0;
    sim.set_scenario(scenario.clone());
    let report = finished_report(&client, US, 1).await;
    scenario.url_ttl_secs = 300;
    sim.set_scenario(scenario);

    let before = sim.calls().calls("getReportDocument");
    let stored = fetch_and_store(
        &client,
        &report.document,
        US,
        &lake.s3,
        &lake.target(&report.key, &report.report_id),
        &StoreOptions::default(),
    )
    .await
    .expect("stored from a fresh URL");
    assert_eq!(sim.calls().calls("getReportDocument") - before, 1);
    let expected = sim.expected_document(&report.report_id).await.unwrap();
    assert_stored(&lake, &stored, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_that_keep_expiring_give_up_with_document_url_expired() {
    let (lake, (sim, client)) = tokio::join!(Lake::start(), amazon(vec![]));
    let mut scenario = sim.scenario();
    scenario.url_ttl_secs = 0;
    sim.set_scenario(scenario);
    let report = finished_report(&client, US, 1).await;

    let error = fetch_and_store(
        &client,
        &report.document,
        US,
        &lake.s3,
        &lake.target(&report.key, &report.report_id),
        &StoreOptions::default(),
    )
    .await
    .expect_err("every URL is expired");
    assert_eq!(error.name(), ErrorName::DocumentUrlExpired, "{error}");
    assert!(
        error.to_string().contains("after 3 download attempts"),
        "{error}"
    );
    assert_eq!(lake.keys().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_document_goes_up_in_parts_and_appears_whole() {
    let (lake, (sim, client)) =
        tokio::join!(Lake::start(), amazon(vec![large(ReportRule::default())]));
    let report = finished_report(&client, US, 1).await;

    let stored = fetch_and_store(
        &client,
        &report.document,
        US,
        &lake.s3,
        &lake.target(&report.key, &report.report_id),
        &multipart_options(),
    )
    .await
    .expect("stored");

    let expected = sim.expected_document(&report.report_id).await.unwrap();
    assert!(
        expected.bytes > 12 * 1024 * 1024,
        "{} bytes",
        expected.bytes
    );
    assert!(stored.parts > 1, "{} parts", stored.parts);
    assert_stored(&lake, &stored, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storing_the_same_key_again_overwrites_the_one_object() {
    let (lake, (sim, client)) =
        tokio::join!(Lake::start(), amazon(vec![large(ReportRule::default())]));
    let first = finished_report(&client, US, 1).await;
    let second = finished_report(&client, US, 2).await;
    let target = lake.target(&first.key, &first.report_id);

    fetch_and_store(
        &client,
        &first.document,
        US,
        &lake.s3,
        &target,
        &multipart_options(),
    )
    .await
    .expect("first store");
    // The retry of a Store step: same key, here another document, copied into place in
    // ranges (UploadPartCopy) because the copy part size is below its size.
    let options = StoreOptions {
        copy_part_size: MIN_PART_SIZE as u64,
        ..multipart_options()
    };
    let stored = fetch_and_store(&client, &second.document, US, &lake.s3, &target, &options)
        .await
        .expect("second store");

    let expected = sim.expected_document(&second.report_id).await.unwrap();
    assert_ne!(
        expected.sha256,
        sim.expected_document(&first.report_id)
            .await
            .unwrap()
            .sha256
    );
    assert_stored(&lake, &stored, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_fails_as_config_invalid_and_says_what_to_check() {
    let lake = Lake::start().await;
    let mut target = lake.target("k.tsv", "1");
    target.bucket = "no-such-bucket".into();

    let error = store_document(
        &b"sku\tqty\na\t1\n"[..],
        SourceCharset::utf8(),
        &lake.s3,
        &target,
        &StoreOptions::default(),
    )
    .await
    .expect_err("the bucket does not exist");
    assert_eq!(error.name(), ErrorName::ConfigInvalid, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("PutObject of s3://no-such-bucket/k.tsv"),
        "{message}"
    );
    assert!(message.contains("NoSuchBucket"), "{message}");
    assert!(
        message.contains("check that the bucket exists"),
        "{message}"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the SDK error stays in the chain"
    );
}
