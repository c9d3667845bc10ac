//! The pipeline end to end: the real Lambda binaries under `cargo lambda watch`, the real
//! `ingest` state machine in moto's interpreter, the SP-API simulator delivering
//! notifications to the stage's SQS queue — one scenario per behaviour a user relies on.
//!
//! One local stack serves every scenario (starting it costs seconds), so this file runs
//! without the libtest harness: each scenario prints `test <name> ... ok|FAILED` and the
//! binary exits non-zero when any failed.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use cli::config_file::ConfigFile;
use cli::run::{RunOutcome, RunRequest};
use cli::{LocalOptions, LocalPipeline};
use contract::{Outcome, StoredObject};
use domain::config::ReportConfig;
use pipeline::{Claim, MetadataTable};
use simulator::scenario::{Outcome as SimOutcome, QueryRule, ReportRule, Scenario};
use spapi::{
    CreateReportSpecification, Endpoints, LwaCredentials, SellerAuthorization, SpApiClient,
};

const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const US: &str = "ATVPDKIKX0DER";

/// Accounts of their own (name, selling partner, refresh token, report) for the
/// scenarios that request many reports, so Amazon's createReport burst (15 per selling
/// partner) is not shared with the others.
const OWN_SELLERS: [(&str, &str, &str, &str); 7] = [
    (
        "backfilling",
        "A2BACKFILLSELLER",
        "Atzr|backfill-seller",
        "orders-backfill",
    ),
    (
        "catching-up",
        "A2CATCHUPSELLER",
        "Atzr|catch-up-seller",
        "orders-catch-up",
    ),
    (
        "refreshing",
        "A2REFRESHSELLER",
        "Atzr|refresh-seller",
        "orders-refresh",
    ),
    (
        "stalling",
        "A2STUCKSELLER",
        "Atzr|stuck-seller",
        "orders-stuck",
    ),
    (
        "forgotten",
        "A2GONESELLER",
        "Atzr|gone-seller",
        "orders-gone",
    ),
    (
        "crashing",
        "A2CRASHSELLER",
        "Atzr|crash-seller",
        "orders-crash",
    ),
    (
        "expiring",
        "A2EXPIRESELLER",
        "Atzr|expire-seller",
        "orders-expiring",
    ),
];

/// Selling partners (account, selling partner, refresh token) whose every call Amazon
/// answers 429, all requested by [`QUOTA_REPORT`] after [`STEADY`]'s account.
const REFUSED_SELLERS: [(&str, &str, &str); 4] = [
    ("refused-1", "A3REFUSEDONE", "Atzr|refused-1"),
    ("refused-2", "A3REFUSEDTWO", "Atzr|refused-2"),
    ("refused-3", "A3REFUSEDTHREE", "Atzr|refused-3"),
    ("refused-4", "A3REFUSEDFOUR", "Atzr|refused-4"),
];

/// The account requested with the refused ones, whose quota is fine.
const STEADY: (&str, &str, &str) = ("steady", "A3STEADYSELLER", "Atzr|steady");

/// The report of the refused accounts and the steady one.
const QUOTA_REPORT: &str = "orders-quota";

struct World {
    local: LocalPipeline,
    sim: simulator::RunningSimulator,
    file: ConfigFile,
    config: domain::Config,
    table: MetadataTable,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

type Scenario_ = for<'a> fn(&'a World) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// Every scenario: its name, what a user expects of it (for `docs/reliability.md`), and
/// the test. Order matters only for the last one, which scans what the others left.
const SCENARIOS: &[(&str, &str, Scenario_)] = &[
    (
        "happy_path_stores_exactly_the_bytes_amazon_served",
        "one object, SSE-KMS, whose SHA-256, bytes and rows are those of the document the simulator served",
        |w| Box::pin(happy_path(w)),
    ),
    (
        "japanese_cp932_report_lands_as_utf8",
        "a CP932 flat file lands as UTF-8 Japanese text with `source-charset: Cp932`",
        |w| Box::pin(japanese_report(w)),
    ),
    (
        "rerun_of_a_landed_window_requests_nothing_and_keeps_one_object",
        "a second run over a landed window plans nothing, calls no createReport, leaves one object; the same execution name is refused",
        |w| Box::pin(rerun_same_window(w)),
    ),
    (
        "notification_before_token_registered_resumes_at_once",
        "a DONE notification that arrived before anyone waited resumes the next run at once (no timeout) with the same report",
        |w| Box::pin(notification_before_token(w)),
    ),
    (
        "duplicate_and_unsolicited_notifications_give_one_object",
        "duplicated and re-sent notifications give one object; unsolicited reports are recorded and acknowledged, none fails",
        |w| Box::pin(duplicates_and_unsolicited(w)),
    ),
    (
        "lost_notification_falls_back_to_polling",
        "no notification: the wait times out, polling finds DONE, the report lands",
        |w| Box::pin(lost_notification(w)),
    ),
    (
        "fatal_report_fails_the_run_with_its_reason_and_no_object",
        "FATAL: the run ends `ReportFatal` with Amazon's reason, recorded, no object",
        |w| Box::pin(fatal_report(w)),
    ),
    (
        "cancelled_report_is_recorded_as_no_data",
        "CANCELLED: recorded NO_DATA, the run succeeds, no object",
        |w| Box::pin(cancelled_report(w)),
    ),
    (
        "expired_document_url_is_fetched_again",
        "an expired document URL: one fresh URL, one download, the report lands",
        |w| Box::pin(expired_url(w)),
    ),
    (
        "truncated_gzip_is_retried_without_a_partial_object",
        "a cut-off gzip body: downloaded again, no partial object, no open multipart upload",
        |w| Box::pin(truncated_download(w)),
    ),
    (
        "throttled_create_report_still_completes",
        "two 429s on createReport: backed off, the report lands",
        |w| Box::pin(throttled_create(w)),
    ),
    (
        "one_revoked_account_fails_alone_and_the_others_land",
        "one of three accounts revoked (`Unauthorized`): recorded FAILED without a secret, the two others land, the run ends `ReportsFailed` naming it",
        |w| Box::pin(revoked_account_fails_alone(w)),
    ),
    (
        "a_failed_window_is_caught_up_and_landed_ones_are_not_requested_again",
        "three runs over three trailing windows: 3, 1 (FATAL), then 1 new + the FATAL window again with a new report; five windows, one object each",
        |w| Box::pin(catch_up(w)),
    ),
    (
        "a_forced_refresh_replaces_the_landed_object_with_the_new_report",
        "`--refresh` of a landed window: one new report, the same object key, still one object, naming the new report",
        |w| Box::pin(forced_refresh(w)),
    ),
    (
        "a_report_stuck_past_its_patience_is_cancelled_and_requested_again",
        "IN_QUEUE past the patience: cancelled, recorded `ReportStuck`; the rerun lands a new report",
        |w| Box::pin(stuck_report(w)),
    ),
    (
        "a_report_amazon_no_longer_has_is_requested_anew_in_the_same_run",
        "getReport 404 for the request's report (`ReportGone`): the same run creates a new one and lands it",
        |w| Box::pin(gone_report(w)),
    ),
    (
        "a_store_killed_at_any_point_leaves_no_partial_object_and_the_rerun_cleans_up",
        "Store dies mid-upload / after CompleteMultipartUpload / after the copy: no partial or second object; the rerun removes the leftovers and lands one object",
        |w| Box::pin(killed_store(w)),
    ),
    (
        "tokens_that_expire_mid_request_are_renewed_and_the_report_lands",
        "access tokens of 2 s: the token Authenticate sealed has expired by Store (notification path) and by PollStatus (lost notification); each re-authenticates and the report lands",
        |w| Box::pin(expiring_tokens(w)),
    ),
    (
        "schedules_follow_the_pushed_config",
        "one EventBridge Scheduler schedule per report in the stage's group; a second sync changes nothing; a changed schedule is updated, a removed report's schedule deleted",
        |w| Box::pin(schedules_follow_the_config(w)),
    ),
    (
        "a_deployed_stage_is_found_by_its_name",
        "the commands find a stage's state machine, queue, schedule group and bucket in the outputs of its CloudFormation stack; a missing stack is named with the command that deploys it",
        |w| Box::pin(stage_found_by_name(w)),
    ),
    (
        "notifications_subscribe_status_unsubscribe_are_idempotent",
        "with the credentials of the account's secret: status says subscribed; unsubscribe twice leaves none; subscribe twice leaves one; a subscription another destination holds is named, not replaced",
        |w| Box::pin(notifications_commands(w)),
    ),
    (
        "one_window_runs_alone_and_status_shows_each_window",
        "`run --window D` requests only the window starting on D, even from a later run time; `status` lists each catch-up window, D stored with its object, the others not requested yet and late; `--account` narrows it",
        |w| Box::pin(one_window_and_status(w)),
    ),
    (
        "a_report_lands_as_a_curated_partition_and_a_restatement_replaces_it_whole",
        "the orders report becomes a Parquet partition in Glue (rows and the sum of `quantity` equal the raw TSV's) with one new-data message; a refreshed report gets a new version folder, the partition is pointed at it, and the old folder is tagged for expiry — one copy of each row either way",
        |w| Box::pin(curated_partition(w)),
    ),
    (
        "a_column_amazon_added_is_kept_and_a_missing_required_one_is_named",
        "an orders file with an undocumented `order-item-id` column lands with the column kept in `extra_fields` and named in the result; one without `sku` is recorded FAILED `SchemaMismatch` naming the column, its raw object kept; the next run tries the window again with the same report (no second createReport)",
        |w| Box::pin(column_changes(w)),
    ),
    (
        "the_views_are_created_in_athena_over_every_curated_table",
        "`views create` makes sure every curated table exists in Glue (vendor ones too, before any vendor report) and sends each view of sql/views/ to the stage's Athena workgroup in its database, from its CREATE statement; run twice, it changes nothing",
        |w| Box::pin(views_created(w)),
    ),
    (
        "a_data_kiosk_query_lands_every_page_once_and_a_rerun_resumes_from_the_missing_page",
        "a 3-page Data Kiosk query whose Store dies before page 2: the window is FAILED with page 1 stored; the rerun reuses pages 1 and 2's queries, skips page 1's download and lands all three pages (three createQuery in all, each page the bytes the simulator served) and their 15 records in one partition of `dk_sales_traffic_by_date`; a third run requests nothing",
        |w| Box::pin(data_kiosk_pages(w)),
    ),
    (
        "a_fatal_data_kiosk_query_is_recorded_with_its_error_document_and_an_empty_one_as_no_data",
        "FATAL: the run ends `ReportFatal` with the error document's message, no object; DONE without a document: NO_DATA, the run succeeds",
        |w| Box::pin(data_kiosk_fatal_and_empty(w)),
    ),
    (
        "a_lost_data_kiosk_notification_falls_back_to_polling_getquery",
        "no DATA_KIOSK_QUERY_PROCESSING_FINISHED: the wait times out, getQuery finds DONE, the page lands",
        |w| Box::pin(data_kiosk_lost_notification(w)),
    ),
    (
        "a_data_kiosk_config_with_a_wrong_query_is_refused_naming_each_field",
        "pushing a Data Kiosk report with an unknown field, a granularity the query does not take, a value of the wrong type, a misspelt query or a window argument set by hand is refused, each error naming `reports/<name>` and the `data_kiosk.…` field with what is allowed",
        |w| Box::pin(data_kiosk_config_refused(w)),
    ),
    (
        "an_ads_report_lands_as_json_lines_of_exactly_the_rows_amazon_served",
        "Amazon Ads spCampaigns, polled from PENDING to COMPLETED: one `.jsonl` object whose lines are the served gzip JSON array's rows, byte for byte (SHA-256, rows, bytes), and a partition of `ads_sp_campaigns` with every row",
        |w| Box::pin(ads_report_lands(w)),
    ),
    (
        "an_ads_425_duplicate_waits_on_the_report_in_flight",
        "createReport answers 425 naming a report of the same request still PENDING (an earlier attempt made it): that report is checked and waited on — one report created, one object",
        |w| Box::pin(ads_duplicate(w)),
    ),
    (
        "a_failed_ads_report_is_recorded_and_the_others_land",
        "spCampaigns ends FAILED: the run ends `ReportFatal` with Amazon's `failureReason`, recorded, no object; spAdvertisedProduct in the same run lands",
        |w| Box::pin(ads_failed(w)),
    ),
    (
        "an_ads_window_of_40_days_is_requested_as_31_and_9",
        "a 40-day Ads window: two reports (31 and 9 days, consecutive, no gap or overlap), two objects",
        |w| Box::pin(ads_split_window(w)),
    ),
    (
        "an_expired_ads_file_url_is_read_again_and_the_report_lands",
        "the first file URL of an Ads report is expired: getReport again for a fresh one, the report lands byte-exact",
        |w| Box::pin(ads_expired_url(w)),
    ),
    (
        "an_amc_result_in_two_files_lands_whole_with_its_data_gaps",
        "an AMC workflow execution whose result is two CSV files: both land byte-exact (the window is landed when both did), with `_execution.json` holding the execution's dataGaps, output columns and how many rows AMC filtered for privacy, and all rows in one partition of `amc_campaign_reach`, typed from those columns",
        |w| Box::pin(amc_two_files(w)),
    ),
    (
        "a_failed_amc_execution_is_recorded_with_its_reason",
        "an AMC execution ends FAILED: the run ends `ReportFatal` with AMC's `statusReason`, recorded, no object",
        |w| Box::pin(amc_failed(w)),
    ),
    (
        "an_expired_amc_download_url_is_read_again",
        "the first download URLs of an AMC result are expired: fresh ones are read, the file lands byte-exact",
        |w| Box::pin(amc_expired_url(w)),
    ),
    (
        "amc_executions_beyond_the_instance_limit_wait_and_none_is_refused",
        "three windows on an instance that runs one execution at a time: the others wait their turn in the state machine (never more than one running, AMC refuses none), all three land",
        |w| Box::pin(amc_parallel_limit(w)),
    ),
    (
        "dead_letters_replayed_resume_the_waiting_run_and_a_second_replay_changes_nothing",
        "a notification in the dead-letter queue (twice: a redelivery) is listed by `dlq show` with its report, sent back by `dlq replay`, and resumes the waiting report at once (no polling); the duplicate is dropped, a second replay finds nothing",
        |w| Box::pin(dlq_replay(w)),
    ),
    (
        "accounts_amazon_keeps_refusing_hold_none_of_another_accounts_slots",
        "four accounts whose every createReport Amazon answers 429 wait for their quota in the state machine (each asked twice, no retry storm) and give up `ReportStuck` at their patience, while a fifth account in the same run lands at once",
        |w| Box::pin(permanent_429_starves_no_one(w)),
    ),
    (
        "a_backfill_interrupted_and_started_again_requests_each_window_once",
        "a 90-day backfill of orders (three 30-day windows, one run each): interrupted while its first run waits on Amazon and started again, it follows that run instead of starting it twice, runs the rest, and Amazon gets one createReport per window; a third start requests nothing",
        |w| Box::pin(backfill_resumes(w)),
    ),
    (
        "a_restated_ads_window_replaces_its_object",
        "a landed Ads day is requested again once its restatement age passes: a new report, the same object key, its rows the restated ones, the curated partition pointed at the new version",
        |w| Box::pin(ads_restated(w)),
    ),
    (
        "a_config_pushed_between_runs_reaches_the_warm_functions",
        "a config with other endpoints, a new account and a new report, pushed between runs on warm functions, is the one the next run uses",
        |w| Box::pin(config_pushed_between_runs(w)),
    ),
    (
        "no_secret_in_any_history_item_log_or_dead_letter",
        "no client secret, refresh token, `Atza|`/`Atzr|` token or `X-Amz-Signature` in any execution history, metadata item, dead letter or function log",
        |w| Box::pin(no_secret_anywhere(w)),
    ),
];

/// Faults proven by the crates' own tests (named so the document lists them too).
const CRATE_TESTS: &[(&str, &str, &str)] = &[
    (
        "SendTaskSuccess fails once",
        "the claim is given back; the redelivered notification sends the result",
        "crates/notification-processor/src/lib.rs `a_failed_send_gives_the_claim_back_and_the_redelivery_resumes_the_task`; crates/pipeline/tests/on_moto.rs `a_claim_given_back_after_a_failed_send_is_won_again_but_never_twice`",
    ),
    (
        "notification before the index write",
        "the report id and its `report#` index are one transaction: no notification finds one without the other",
        "crates/pipeline/src/metadata.rs (TransactWriteItems), crates/pipeline/tests/on_moto.rs `second_claim_of_a_request_reuses_its_report`",
    ),
    (
        "a superseded report's late notification",
        "ignored: a status is recorded only for the request's current report",
        "crates/pipeline/tests/on_moto.rs `a_superseded_report_is_given_up_once_and_its_late_notifications_change_nothing`",
    ),
    (
        "a download reset mid-body",
        "resumed with `Range` from the last byte received: served ≤ 1.1× the document (a restart serves 1.5×)",
        "crates/storage/tests/storage.rs `a_download_reset_mid_body_resumes_from_the_last_byte_received`",
    ),
    (
        "a deadline almost spent",
        "Store stops before it (a stalled read too), `DeadlineExceeded`, upload aborted, nothing staged",
        "crates/storage/tests/storage.rs `a_deadline_reached_mid_upload_aborts_it_and_stores_nothing`; crates/storage/src/handler.rs `store_stops_a_tenth_of_its_time_early_and_at_most_a_minute`",
    ),
    (
        "a permanent 403 \"token expired\" on a fresh token",
        "`Unauthorized`, so the re-authentication loop ends",
        "crates/spapi/tests/against_simulator.rs `a_fresh_token_refused_as_expired_is_unauthorized_and_not_renewed_forever`",
    ),
    (
        "a stuck report's history",
        "at most 42 polls (≈ 380 history events) over a 6 h patience",
        "crates/data-processor/src/lib.rs `a_stuck_report_costs_a_bounded_number_of_polls`",
    ),
    (
        "a notification for another application",
        "recorded `foreign#…`, nothing else",
        "crates/notification-processor/src/lib.rs `a_notification_for_another_application_is_recorded_and_nothing_else`",
    ),
    (
        "an EU Cp1252 flat file without a charset",
        "sniffed and decoded as Cp1252, the replacement count in the output and the summary",
        "crates/storage/src/transcode.rs `an_unlabelled_eu_flat_file_is_read_as_cp1252_unless_it_is_utf8`",
    ),
    (
        "a malformed secret",
        "`ConfigInvalid` naming the fields, never echoing the value",
        "crates/auth/src/lib.rs `secret_problems_name_the_field_and_never_the_values`",
    ),
    (
        "DONE without a document id",
        "a notification saying so is refused naming the field (back to the queue, then the dead-letter queue); PollStatus answers `ReportGone`, so the report is replaced once",
        "crates/domain/src/notification.rs `done_without_a_document_id_is_refused_naming_the_field`; crates/data-processor/src/lib.rs",
    ),
    (
        "FATAL without an error document",
        "recorded FATAL with the common causes instead of Amazon's reason",
        "crates/data-processor/src/lib.rs `reason_comes_from_error_details_or_the_text`",
    ),
    (
        "an expired window",
        "recorded EXPIRED once; planning never requests it",
        "crates/domain/src/plan.rs `windows_beyond_the_lookback_are_expired_once_and_never_requested`; crates/pipeline/tests/on_moto.rs `an_expired_window_is_recorded_once_and_planning_sees_it_expired`",
    ),
    (
        "unparsable SQS messages",
        "batch item failures (to the dead-letter queue after the receive limit), the rest of the batch handled",
        "crates/notification-processor/src/lib.rs `only_unparsable_or_failed_messages_come_back_in_the_batch`",
    ),
];

/// One scenario's result, for the document.
struct Observed {
    name: &'static str,
    expected: &'static str,
    took: f64,
    failure: Option<String>,
}

const RELIABILITY_DOC: &str = "docs/reliability.md";

/// Writes `docs/reliability.md` from this run (`SP_INGEST_WRITE_RELIABILITY=1`, `make
/// reliability`, after a full run only); otherwise, after a full run, checks that the
/// committed document lists exactly these scenarios, so it cannot go stale.
fn reliability_doc(observed: &[Observed], full_run: bool) -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(RELIABILITY_DOC);
    if !full_run {
        return Ok(());
    }
    if std::env::var_os("SP_INGEST_WRITE_RELIABILITY").is_some() {
        let mut text = String::from(
            "# Reliability: faults and what they leave\n\n\
             Generated by `make reliability` from the end-to-end run (`tests/pipeline.rs`): each\n\
             scenario runs the real Lambda binaries and the real state machine on the local stack\n\
             against the SP-API simulator, and checks what a user cares about — every window\n\
             STORED, NO_DATA or a named failure in the metadata table, one object per request key,\n\
             the bytes Amazon served, no secret anywhere. `make test` fails when this list and the\n\
             scenarios differ.\n\n\
             | scenario | expected | observed |\n|---|---|---|\n",
        );
        for o in observed {
            let outcome = match &o.failure {
                None => format!("as expected ({:.1} s)", o.took),
                Some(failure) => format!("FAILED: {}", failure.replace('|', "/")),
            };
            text.push_str(&format!("| `{}` | {} | {outcome} |\n", o.name, o.expected));
        }
        text.push_str(
            "\n## Proven by the crates' own tests\n\n| fault | expected | test |\n|---|---|---|\n",
        );
        for (fault, expected, test) in CRATE_TESTS {
            text.push_str(&format!("| {fault} | {expected} | {test} |\n"));
        }
        std::fs::write(&path, text)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path)
        .with_context(|| format!("{RELIABILITY_DOC} is missing; run `make reliability`"))?;
    let stale: Vec<&str> = observed
        .iter()
        .filter(|o| !committed.contains(&format!("| `{}` | {} |", o.name, o.expected)))
        .map(|o| o.name)
        .collect();
    let listed = committed
        .lines()
        .filter(|line| line.starts_with("| `"))
        .count();
    anyhow::ensure!(
        stale.is_empty() && listed == observed.len(),
        "{RELIABILITY_DOC} is stale (scenarios {stale:?} differ, {listed} listed for {} run); run `make reliability`",
        observed.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let world = match World::start().await {
            Ok(world) => world,
            Err(error) => {
                eprintln!("could not start the local pipeline: {error:#}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "local pipeline up in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
        let mut observed = Vec::new();
        for (name, expected, scenario) in SCENARIOS {
            if only.as_deref().is_some_and(|o| !name.contains(o)) {
                continue;
            }
            let began = Instant::now();
            // Each scenario meets Amazon's quotas as they stand in the simulator, not as
            // earlier scenarios left the shared rate limits.
            if let Err(error) = world.forget_rate_limits().await {
                eprintln!("could not reset the shared rate limits: {error:#}");
                return ExitCode::FAILURE;
            }
            let result = scenario(&world).await;
            let took = began.elapsed().as_secs_f64();
            match &result {
                Ok(()) => println!("test {name} ... ok ({took:.1} s)"),
                Err(error) => println!("test {name} ... FAILED ({took:.1} s)\n    {error:#}"),
            }
            observed.push(Observed {
                name,
                expected,
                took,
                failure: result.err().map(|e| format!("{e:#}")),
            });
        }
        let failed: Vec<&str> = observed
            .iter()
            .filter(|o| o.failure.is_some())
            .map(|o| o.name)
            .collect();
        if let Err(error) = reliability_doc(&observed, only.is_none()) {
            println!("docs/reliability.md: {error:#}");
            return ExitCode::FAILURE;
        }
        world.sim.shutdown().await;
        world.local.shutdown().await;
        if failed.is_empty() {
            println!(
                "end-to-end: all scenarios passed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        } else {
            println!("end-to-end: {} failed: {failed:?}", failed.len());
            ExitCode::FAILURE
        }
    })
}

impl World {
    async fn start() -> anyhow::Result<World> {
        let crash_file = crash_file();
        let local = LocalPipeline::up(LocalOptions {
            env: vec![(
                pipeline::settings::CRASH_FILE.to_owned(),
                crash_file.display().to_string(),
            )],
            ..LocalOptions::default()
        })
        .await?;
        let mut sim_config = simulator::SimConfig {
            sqs: Some(simulator::SqsTarget {
                endpoint_url: Some(local.aws_endpoint_url()),
                region: "us-east-1".into(),
            }),
            scenario: fast(vec![]),
            ..simulator::SimConfig::default()
        };
        sim_config.sellers.extend(
            OWN_SELLERS.map(|(_, seller, token, _)| simulator::SellerAuth {
                refresh_token: token.into(),
                selling_partner_id: seller.into(),
            }),
        );
        sim_config
            .sellers
            .extend(
                REFUSED_SELLERS
                    .iter()
                    .chain([&STEADY])
                    .map(|(_, seller, token)| simulator::SellerAuth {
                        refresh_token: (*token).into(),
                        selling_partner_id: (*seller).into(),
                    }),
            );
        let sim = simulator::start(sim_config).await?;
        let mut file = cli::demo::demo_config("local", &sim.base_url(), &sim.lwa_token_url());
        let base = file.reports["orders"].clone();
        // A short patience, so the polling fallback starts quickly when a notification is lost.
        file.reports.insert(
            "orders-impatient".into(),
            ReportConfig {
                await_timeout_secs: 2,
                ..base
            },
        );
        for (name, seller, token, report) in OWN_SELLERS {
            let mut account = file.accounts["demo-us"].clone();
            account.selling_partner_id = seller.into();
            if let Some(credentials) = account.credentials.as_mut() {
                credentials.refresh_token = token.into();
            }
            file.accounts.insert(name.into(), account);
            file.reports.insert(
                report.into(),
                ReportConfig {
                    accounts: vec![name.into()],
                    ..file.reports["orders"].clone()
                },
            );
        }
        // The refused accounts first, so the steady one would be last in line if the
        // accounts shared their slots.
        for (name, seller, token) in REFUSED_SELLERS.iter().chain([&STEADY]) {
            let mut account = file.accounts["demo-us"].clone();
            account.selling_partner_id = (*seller).into();
            if let Some(credentials) = account.credentials.as_mut() {
                credentials.refresh_token = (*token).into();
            }
            file.accounts.insert((*name).into(), account);
        }
        file.reports.insert(
            QUOTA_REPORT.into(),
            ReportConfig {
                accounts: REFUSED_SELLERS
                    .iter()
                    .chain([&STEADY])
                    .map(|(name, _, _)| (*name).to_owned())
                    .collect(),
                patience: Some("PT15S".into()),
                ..file.reports["orders"].clone()
            },
        );
        let tweak = |file: &mut ConfigFile, report: &str, change: fn(&mut ReportConfig)| {
            if let Some(config) = file.reports.get_mut(report) {
                change(config);
            }
        };
        file.reports.insert(
            "sales-by-date-impatient".into(),
            ReportConfig {
                await_timeout_secs: 2,
                ..file.reports["sales-by-date"].clone()
            },
        );
        let campaigns = file.reports[SP_CAMPAIGNS].clone();
        file.reports.insert(
            "sp-products".into(),
            ReportConfig {
                report_type: "spAdvertisedProduct".into(),
                ads: Some(domain::ads::AdsReportSpec {
                    group_by: vec!["advertiser".into()],
                    columns: [
                        "date",
                        "campaignId",
                        "adGroupId",
                        "advertisedAsin",
                        "impressions",
                        "cost",
                        "sales7d",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                    filters: vec![],
                    time_unit: domain::ads::TimeUnit::Daily,
                }),
                ..campaigns.clone()
            },
        );
        // Another type than sp-campaigns': one type's curated partitions have one window.
        file.reports.insert(
            "sp-search-terms-40".into(),
            ReportConfig {
                report_type: "spSearchTerm".into(),
                ads: Some(domain::ads::AdsReportSpec {
                    group_by: vec!["searchTerm".into()],
                    columns: ["date", "impressions", "clicks", "cost"]
                        .map(str::to_owned)
                        .to_vec(),
                    filters: vec![],
                    time_unit: domain::ads::TimeUnit::Daily,
                }),
                window: "P40D".into(),
                ..campaigns.clone()
            },
        );
        file.reports.insert(
            "sp-campaigns-restated".into(),
            ReportConfig {
                restatement: Some(vec!["P1D".into()]),
                ..campaigns
            },
        );
        // An instance taking one execution at a time, and three windows to run on it.
        let mut one_at_a_time = file.amc_instances["demo-amc"].clone();
        one_at_a_time.parallel_executions = 1;
        file.amc_instances
            .insert("one-at-a-time".into(), one_at_a_time);
        let mut three = file.reports[AMC_REPORT].clone();
        three.catch_up = Some(3);
        if let Some(amc) = three.amc.as_mut() {
            amc.instance = "one-at-a-time".into();
        }
        file.reports.insert("campaign-reach-three".into(), three);
        tweak(&mut file, "orders-catch-up", |r| r.catch_up = Some(3));
        tweak(&mut file, "orders-stuck", |r| {
            r.patience = Some("PT4S".into());
            r.await_timeout_secs = 1;
        });
        tweak(&mut file, "orders-gone", |r| r.await_timeout_secs = 2);
        tweak(&mut file, "orders-expiring", |r| r.await_timeout_secs = 4);
        // An account whose refresh token the seller revoked: LWA answers invalid_grant.
        // It is subscribed to nothing (subscribing needs a working token).
        let subscribed = file.clone();
        let mut revoked = file.accounts["demo-us"].clone();
        revoked.selling_partner_id = "A2REVOKEDSELLER".into();
        if let Some(credentials) = revoked.credentials.as_mut() {
            credentials.refresh_token = "Atzr|revoked-by-the-seller".into();
        }
        file.accounts.insert("revoked".into(), revoked);
        file.reports.insert(
            "orders-three".into(),
            ReportConfig {
                accounts: vec!["demo-us".into(), "demo-jp".into(), "revoked".into()],
                ..file.reports["orders"].clone()
            },
        );
        let config = local.stage().push(&file).await?;
        cli::demo::sync_example_workflows(&file).await?;
        let subscribed: Vec<String> = subscribed.accounts.keys().cloned().collect();
        local.stage().subscribe(&config, &subscribed).await?;
        let aws = local.aws().clone();
        let table = MetadataTable::new(
            aws_sdk_dynamodb::Client::new(&aws),
            local.resources().names.metadata_table.clone(),
        );
        let s3 = pipeline::s3_client(&aws);
        let bucket = local.resources().names.raw_bucket.clone();
        Ok(World {
            local,
            sim,
            file,
            config,
            table,
            s3,
            bucket,
        })
    }

    /// Deletes the shared rate limits' items (`limit#…`) from the metadata table.
    async fn forget_rate_limits(&self) -> anyhow::Result<()> {
        let dynamodb = aws_sdk_dynamodb::Client::new(self.local.aws());
        let table = &self.local.resources().names.metadata_table;
        let scan = dynamodb
            .scan()
            .table_name(table)
            .filter_expression("begins_with(pk, :limit)")
            .expression_attribute_values(
                ":limit",
                aws_sdk_dynamodb::types::AttributeValue::S("limit#".into()),
            )
            .send()
            .await?;
        for item in scan.items() {
            if let Some(pk) = item.get("pk") {
                dynamodb
                    .delete_item()
                    .table_name(table)
                    .key("pk", pk.clone())
                    .send()
                    .await?;
            }
        }
        Ok(())
    }

    /// Runs `report` for the day before `day` and returns the outcome.
    async fn run(
        &self,
        report: &str,
        day: u32,
        attempt: Option<&str>,
    ) -> anyhow::Result<RunOutcome> {
        self.run_with(report, day, attempt, false).await
    }

    /// [`World::run`], asking for new reports even where windows landed when `refresh`.
    async fn run_with(
        &self,
        report: &str,
        day: u32,
        attempt: Option<&str>,
        refresh: bool,
    ) -> anyhow::Result<RunOutcome> {
        self.run_reports_with(&[report], run_at(day), attempt, refresh)
            .await
    }

    /// Runs `reports` at `run_at` (new reports for landed windows too when `refresh`).
    async fn run_reports_with(
        &self,
        reports: &[&str],
        run_at: DateTime<Utc>,
        attempt: Option<&str>,
        refresh: bool,
    ) -> anyhow::Result<RunOutcome> {
        let request = RunRequest {
            reports: reports.iter().map(|r| (*r).to_owned()).collect(),
            run_at,
            attempt: attempt.map(str::to_owned),
            refresh,
            window: None,
            backfill: None,
            accounts: Vec::new(),
        };
        self.local
            .stage()
            .run(&request, Duration::from_secs(300), |_, _| {})
            .await
    }

    /// Runs `report` for the day before `day`; the outcome and every state it entered.
    async fn run_states(
        &self,
        report: &str,
        day: u32,
    ) -> (anyhow::Result<RunOutcome>, Vec<String>) {
        let request = RunRequest {
            reports: vec![report.to_owned()],
            run_at: run_at(day),
            attempt: None,
            refresh: false,
            window: None,
            backfill: None,
            accounts: Vec::new(),
        };
        let mut states = Vec::new();
        let outcome = self
            .local
            .stage()
            .run(&request, Duration::from_secs(300), |_, state| {
                states.push(state.to_owned())
            })
            .await;
        (outcome, states)
    }

    /// The request for the latest window of `report`'s first account and marketplace.
    fn planned(&self, report: &str, day: u32) -> anyhow::Result<domain::PlannedRequest> {
        self.windows(report, day).pop().context("nothing planned")
    }

    /// The requests for each catch-up window of `report` (first account and marketplace),
    /// oldest first.
    fn windows(&self, report: &str, day: u32) -> Vec<domain::PlannedRequest> {
        let candidates = self.config.plan(run_at(day), &[report.to_owned()]);
        let first = candidates.first().map(|c| {
            (
                c.planned.request.account.clone(),
                c.planned.request.marketplace_ids.clone(),
            )
        });
        candidates
            .into_iter()
            .map(|c| c.planned)
            .filter(|p| {
                Some((p.request.account.clone(), p.request.marketplace_ids.clone())) == first
            })
            .collect()
    }

    async fn objects_under(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await?;
        Ok(listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }

    /// A raw object's text.
    async fn raw_text(&self, key: &str) -> anyhow::Result<String> {
        let body = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(String::from_utf8(
            body.body.collect().await?.into_bytes().to_vec(),
        )?)
    }

    /// Multipart uploads open under `prefix`.
    async fn uploads_under(&self, prefix: &str) -> anyhow::Result<usize> {
        let listed = self
            .s3
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await?;
        Ok(listed.uploads().len())
    }

    /// The request's object key without its extension: every object of the request,
    /// whatever its report, starts with it.
    fn key_prefix(&self, planned: &domain::PlannedRequest) -> anyhow::Result<String> {
        let key = domain::RawObjectKey::new(&planned.request, domain::DocumentFormat::Tsv)?;
        Ok(key.as_str().trim_end_matches(".tsv").to_owned())
    }

    /// Checks the one stored result against S3 and the simulator; returns it.
    async fn assert_stored(&self, outcome: &RunOutcome) -> anyhow::Result<contract::ItemResult> {
        self.assert_stored_from(outcome, &self.sim).await
    }

    /// [`World::assert_stored`] for a report served by `amazon`.
    async fn assert_stored_from(
        &self,
        outcome: &RunOutcome,
        amazon: &simulator::RunningSimulator,
    ) -> anyhow::Result<contract::ItemResult> {
        ensure!(
            outcome.status == "SUCCEEDED",
            "execution {}: {:?} {:?}",
            outcome.status,
            outcome.error,
            outcome.cause
        );
        let summary = outcome.summary.as_ref().context("no summary")?;
        ensure!(
            summary.results.len() == 1 && summary.stored == 1,
            "summary: {summary:?}"
        );
        let result = summary.results[0].clone();
        let Outcome::Stored(StoredObject {
            object_key,
            sha256,
            rows,
            bytes,
            ..
        }) = &result.outcome
        else {
            bail!("not stored: {result:?}")
        };
        let lines =
            cli::results::read_back(&self.s3, &self.bucket, std::slice::from_ref(&result)).await?;
        ensure!(
            lines[0].object_sha256.as_deref() == Some(sha256.as_str()),
            "the object's sha256 differs from what Store reported"
        );
        let expected = amazon
            .expected_document(result.report_id.as_deref().unwrap_or_default())
            .await
            .context("the simulator has no such document")?;
        ensure!(
            expected.sha256 == *sha256,
            "object sha256 {sha256} != simulator's {}",
            expected.sha256
        );
        ensure!(
            expected.rows == *rows && expected.bytes == *bytes,
            "rows/bytes {rows}/{bytes} != simulator's {}/{}",
            expected.rows,
            expected.bytes
        );
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await?;
        ensure!(
            head.server_side_encryption().map(|e| e.as_str()) == Some("aws:kms"),
            "object is not SSE-KMS: {:?}",
            head.server_side_encryption()
        );
        Ok(result)
    }
}

/// The file the Store process reads its crash point from (see `storage::crash`).
fn crash_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sp-ingest-crash-{}", std::process::id()))
}

fn run_at(day: u32) -> DateTime<Utc> {
    let base: DateTime<Utc> = "2026-10-01T06:00:00Z".parse().expect("time");
    base + TimeDelta::days(i64::from(day))
}

fn fast(rules: Vec<ReportRule>) -> Scenario {
    Scenario {
        in_queue_ms: 100,
        in_progress_ms: 200,
        rules,
        ..Scenario::default()
    }
}

/// `scenario` with Amazon's createReport plan (and its `x-amzn-RateLimit-Limit`) set to
/// `rate` per second and `burst`.
fn create_report_plan(mut scenario: Scenario, rate: f64, burst: u32) -> Scenario {
    scenario.rate_limits.insert(
        "createReport".into(),
        simulator::scenario::RateLimit { rate, burst },
    );
    scenario
}

fn rule(report_type: &str) -> ReportRule {
    ReportRule {
        report_type: Some(report_type.to_owned()),
        ..ReportRule::default()
    }
}

async fn happy_path(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![]));
    let outcome = w.run("orders", 1, None).await?;
    let result = w.assert_stored(&outcome).await?;
    let planned = w.planned("orders", 1)?;
    ensure!(result.key == planned.key, "result for another request");
    ensure!(
        w.objects_under(&w.key_prefix(&planned)?).await?.len() == 1,
        "not exactly one object"
    );
    Ok(())
}

async fn japanese_report(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![]));
    let outcome = w.run("jp-orders", 1, None).await?;
    let result = w.assert_stored(&outcome).await?;
    let expected = w
        .sim
        .expected_document(result.report_id.as_deref().unwrap_or_default())
        .await
        .context("digest")?;
    ensure!(
        expected.source_charset == "Cp932",
        "the simulator served {}",
        expected.source_charset
    );
    let Outcome::Stored(StoredObject { object_key, .. }) = &result.outcome else {
        bail!("not stored")
    };
    let head =
        w.s3.head_object()
            .bucket(&w.bucket)
            .key(object_key)
            .send()
            .await?;
    let charset = head
        .metadata()
        .and_then(|m| m.get("source-charset"))
        .cloned();
    ensure!(
        charset.as_deref() == Some("Cp932"),
        "source-charset metadata: {charset:?}"
    );
    let body =
        w.s3.get_object()
            .bucket(&w.bucket)
            .key(object_key)
            .send()
            .await?
            .body
            .collect()
            .await?
            .into_bytes();
    let text = std::str::from_utf8(&body).context("the object is not UTF-8")?;
    ensure!(
        text.chars()
            .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)
                || ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "no Japanese text in the object"
    );
    Ok(())
}

async fn rerun_same_window(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![]));
    let planned = w.planned("orders", 1)?;
    let creates_before = w.sim.calls().calls("createReport");
    let outcome = w.run("orders", 1, Some("rerun")).await?;
    ensure!(
        outcome.status == "SUCCEEDED",
        "{} {:?}",
        outcome.status,
        outcome.cause
    );
    let summary = outcome.summary.context("no summary")?;
    ensure!(
        summary.results.is_empty(),
        "a landed window was requested again: {summary:?}"
    );
    ensure!(
        w.sim.calls().calls("createReport") == creates_before,
        "the rerun called createReport again"
    );
    let objects = w.objects_under(&w.key_prefix(&planned)?).await?;
    ensure!(
        objects.len() == 1,
        "objects for the request after a rerun: {objects:?}"
    );
    // The same execution name again is refused by Step Functions itself.
    ensure!(
        w.run("orders", 1, Some("rerun")).await.is_err(),
        "a duplicate execution name was accepted"
    );
    Ok(())
}

async fn notification_before_token(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![]));
    // A previous attempt claimed the request and created the report, then died before
    // AwaitReport; Amazon's notification arrives while nobody waits.
    let planned = w.planned("orders", 2)?;
    ensure!(w.table.claim(&planned, Utc::now()).await? == Claim::New);
    let credentials = w.file.accounts["demo-us"]
        .credentials
        .clone()
        .context("credentials")?;
    let client = SpApiClient::builder(Endpoints::parse(&w.sim.base_url(), &w.sim.lwa_token_url())?)
        .app_credentials(LwaCredentials::new(
            credentials.client_id,
            credentials.client_secret,
        ))
        .seller(SellerAuthorization::new(
            &planned.request.selling_partner_id,
            credentials.refresh_token,
        ))
        .build()?;
    let spec = CreateReportSpecification::new(ORDERS, [US]).with_data_window(
        planned.request.window.start,
        planned.request.window.amazon_end(),
    );
    let report_id = client.create_report(&spec).await?.report_id;
    w.table
        .record_report_id(
            &planned.key,
            &planned.request.selling_partner_id,
            &report_id,
            Utc::now(),
        )
        .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.table.request(&planned.key).await?.and_then(|r| r.status)
        != Some(domain::ProcessingStatus::Done)
    {
        ensure!(
            Instant::now() < deadline,
            "the notification was not recorded within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let outcome = w.run("orders", 2, None).await?;
    let result = w.assert_stored(&outcome).await?;
    ensure!(
        result.report_id.as_deref() == Some(report_id.as_str()),
        "a second report was created"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}: the task waited for a timeout",
        started.elapsed()
    );
    Ok(())
}

async fn duplicates_and_unsolicited(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        duplicate_notifications: 2,
        renotify: 2,
        unsolicited_notifications: 2,
        ..rule(ORDERS)
    }]));
    let reports_before = w.sim.reports().len();
    let outcome = w.run("orders", 3, None).await?;
    w.assert_stored(&outcome).await?;
    let planned = w.planned("orders", 3)?;
    ensure!(
        w.objects_under(&w.key_prefix(&planned)?).await?.len() == 1,
        "not exactly one object"
    );
    // Let the extra deliveries drain, then check they were acknowledged, not retried.
    let unsolicited: Vec<String> = w.sim.reports()[reports_before..]
        .iter()
        .filter(|r| r.report_schedule_id.is_some())
        .map(|r| r.report_id.clone())
        .collect();
    ensure!(
        unsolicited.len() == 2,
        "the simulator made {} unsolicited reports",
        unsolicited.len()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    for report_id in &unsolicited {
        let client = aws_sdk_dynamodb::Client::new(w.local.aws());
        let pk = format!(
            "unsolicited#{}#{report_id}",
            planned.request.selling_partner_id
        );
        loop {
            let item = client
                .get_item()
                .table_name(&w.local.resources().names.metadata_table)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
                .send()
                .await?;
            if item.item().is_some() {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "unsolicited report {report_id} was not recorded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    ensure!(
        w.local.poller_stats().reported_failures == 0,
        "some notification was reported as failed: {:?}",
        w.local.poller_stats()
    );
    Ok(())
}

async fn lost_notification(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        lose_notification: true,
        ..rule(ORDERS)
    }]));
    let outcome = w.run("orders-impatient", 4, None).await?;
    w.assert_stored(&outcome).await?;
    Ok(())
}

async fn fatal_report(w: &World) -> anyhow::Result<()> {
    let reason = "Report date range exceeds the limit for this report type";
    w.sim.set_scenario(fast(vec![ReportRule {
        outcome: Some(SimOutcome::Fatal),
        fatal_reason: Some(reason.into()),
        ..rule(ORDERS)
    }]));
    ensure_fatal_run(&w.run("orders", 5, None).await?, reason)?;
    let planned = w.planned("orders", 5)?;
    w.ensure_recorded_fatal(&planned.key, reason).await?;
    ensure!(
        w.objects_under(&w.key_prefix(&planned)?).await?.is_empty(),
        "an object was stored for a FATAL report"
    );
    Ok(())
}

async fn cancelled_report(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        outcome: Some(SimOutcome::Cancelled),
        ..rule(ORDERS)
    }]));
    let outcome = w.run("orders", 6, None).await?;
    ensure!(
        outcome.status == "SUCCEEDED",
        "{} {:?}",
        outcome.status,
        outcome.cause
    );
    let summary = outcome.summary.context("no summary")?;
    ensure!(summary.no_data == 1 && summary.stored == 0, "{summary:?}");
    let planned = w.planned("orders", 6)?;
    ensure!(w.table.request(&planned.key).await?.and_then(|r| r.outcome) == Some(Outcome::NoData));
    ensure!(w.objects_under(&w.key_prefix(&planned)?).await?.is_empty());
    Ok(())
}

async fn expired_url(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        expire_first_url: true,
        ..rule(ORDERS)
    }]));
    let documents_before = w.sim.calls().calls("getReportDocument");
    let outcome = w.run("orders", 7, None).await?;
    let result = w.assert_stored(&outcome).await?;
    ensure!(
        w.sim.calls().calls("getReportDocument") == documents_before + 2,
        "the URL was not fetched again exactly once"
    );
    ensure!(
        w.sim
            .report(result.report_id.as_deref().unwrap_or_default())
            .context("report")?
            .downloads_served
            == 1,
        "more than one download was served"
    );
    Ok(())
}

async fn truncated_download(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        truncate_first_download: true,
        ..rule(ORDERS)
    }]));
    let outcome = w.run("orders", 8, None).await?;
    let result = w.assert_stored(&outcome).await?;
    let info = w
        .sim
        .report(result.report_id.as_deref().unwrap_or_default())
        .context("report")?;
    ensure!(
        info.downloads_served == 2,
        "downloads served: {}",
        info.downloads_served
    );
    let uploads =
        w.s3.list_multipart_uploads()
            .bucket(&w.bucket)
            .send()
            .await?;
    ensure!(
        uploads.uploads().is_empty(),
        "multipart uploads left open: {}",
        uploads.uploads().len()
    );
    Ok(())
}

async fn throttled_create(w: &World) -> anyhow::Result<()> {
    // Amazon's header says one token a second: the emptied bucket refills at once, and
    // the client waits that second itself rather than the state machine a minute.
    let mut scenario = create_report_plan(fast(vec![]), 1.0, 15);
    scenario.throttle_next.insert("createReport".into(), 2);
    w.sim.set_scenario(scenario);
    let throttled_before = w.sim.calls().throttled("createReport");
    let outcome = w.run("orders", 9, None).await?;
    w.assert_stored(&outcome).await?;
    ensure!(
        w.sim.calls().throttled("createReport") == throttled_before + 2,
        "429s served: {}",
        w.sim.calls().throttled("createReport") - throttled_before
    );
    Ok(())
}

/// Four accounts whose every call Amazon refuses (429), one steady account, one run.
/// Amazon says createReport refills one token per 10 s: each refused request is asked
/// once, waits for its next token in the state machine (not in a Lambda, not in a 429
/// loop), is refused again and gives up `ReportStuck` because its next token is past its
/// 15 s patience — each holding a slot of its own account's Map for ~10 s. The steady
/// account has Map slots of its own and lands at once.
async fn permanent_429_starves_no_one(w: &World) -> anyhow::Result<()> {
    let mut scenario = create_report_plan(fast(vec![]), 0.1, 1);
    scenario.throttled_sellers = REFUSED_SELLERS
        .iter()
        .map(|(_, seller, _)| (*seller).to_owned())
        .collect();
    w.sim.set_scenario(scenario);
    let throttled_before = w.sim.calls().throttled("createReport");
    let started = Utc::now();
    let outcome = w.run(QUOTA_REPORT, 12, None).await?;
    let took = Utc::now() - started;
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(
        (summary.stored, summary.failed) == (1, 4),
        "stored {} failed {}: {:?}",
        summary.stored,
        summary.failed,
        outcome.cause
    );
    for result in &summary.results {
        if result.account == STEADY.0 {
            let record = w
                .table
                .request(&result.key)
                .await?
                .context("no record of the steady request")?;
            let requested = record
                .report_requested_at
                .context("the steady request has no report")?;
            ensure!(
                requested - started < TimeDelta::seconds(5),
                "the steady account's createReport came {} s after the run started: it waited behind the refused accounts",
                (requested - started).num_seconds()
            );
            continue;
        }
        let Outcome::Failed { error, cause } = &result.outcome else {
            bail!("a refused account's request did not fail: {result:?}")
        };
        ensure!(
            error == "ReportStuck" && cause.contains("patience"),
            "{}: {error}: {cause}",
            result.account
        );
    }
    // The refused requests held their slots (they waited for their token), and each was
    // asked exactly twice: once at the start, once when its token came.
    ensure!(
        took >= TimeDelta::seconds(9),
        "the run took {took}: the refused requests did not wait for their token"
    );
    let refused = w.sim.calls().throttled("createReport") - throttled_before;
    ensure!(
        refused == 8,
        "Amazon answered {refused} createReport with 429, not 2 × 4"
    );
    w.sim.set_scenario(fast(vec![]));
    Ok(())
}

/// A backfill of three 30-day order windows, one run of the state machine each, one at a
/// time: stopped while the first run waits on Amazon, then started again to the end.
async fn backfill_resumes(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        in_queue_ms: Some(2_500),
        ..rule(ORDERS)
    }]));
    let backfill = cli::backfill::Backfill {
        report: "orders-backfill".into(),
        days: contract::DayRange {
            from: "2026-06-01".parse()?,
            to: "2026-08-30".parse()?,
        },
        accounts: vec![],
        parallel: 1,
        per_run: 1,
    };
    let parts = backfill.parts(&w.config, Utc::now())?;
    ensure!(parts.len() == 3, "parts: {parts:?}");
    let stage = w.local.stage();
    let sfn = aws_sdk_sfn::Client::new(stage.aws());
    let machine = stage.resources().names.state_machine_arn();
    let bar = indicatif::ProgressBar::hidden();
    let created_before = w.sim.calls().calls("createReport");
    let interrupted = tokio::time::timeout(
        Duration::from_millis(2_000),
        cli::backfill::run(&sfn, &machine, &w.table, &backfill, parts.clone(), &bar),
    )
    .await;
    ensure!(
        interrupted.is_err(),
        "the backfill ended before it was interrupted"
    );
    ensure!(
        w.sim.calls().calls("createReport") == created_before + 1,
        "the first run had not asked for its report when interrupted"
    );
    let tally =
        cli::backfill::run(&sfn, &machine, &w.table, &backfill, parts.clone(), &bar).await?;
    ensure!(
        (tally.landed, tally.remaining(), tally.failed) == (3, 0, 0),
        "{tally:?}"
    );
    let created = w.sim.calls().calls("createReport") - created_before;
    ensure!(created == 3, "{created} createReport calls for 3 windows");
    for key in parts.iter().flat_map(|p| &p.keys) {
        let record = w.table.request(key).await?.context("no record")?;
        let Some(Outcome::Stored(StoredObject { object_key, .. })) = &record.outcome else {
            bail!("window {key} did not land: {record:?}")
        };
        ensure!(w.objects_under(object_key).await?.len() == 1);
    }
    let again = cli::backfill::run(&sfn, &machine, &w.table, &backfill, parts, &bar).await?;
    ensure!(again == tally, "{again:?}");
    ensure!(
        w.sim.calls().calls("createReport") - created_before == 3,
        "a finished backfill started again asked Amazon again"
    );
    w.sim.set_scenario(fast(vec![]));
    Ok(())
}

/// One account's refresh token was revoked: its request is recorded FAILED with
/// `Unauthorized` and no secret, the other two land, and the run ends `ReportsFailed`
/// only after both finished.
async fn revoked_account_fails_alone(w: &World) -> anyhow::Result<()> {
    let outcome = w.run("orders-three", 10, None).await?;
    ensure!(
        outcome.status == "FAILED" && outcome.error.as_deref() == Some("ReportsFailed"),
        "execution {} {:?}: {:?}",
        outcome.status,
        outcome.error,
        outcome.cause
    );
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(
        (summary.stored, summary.failed, summary.results.len()) == (2, 1, 3),
        "summary: {summary:?}"
    );
    let failed = summary
        .results
        .iter()
        .find(|r| r.account == "revoked")
        .context("no result for the revoked account")?;
    let Outcome::Failed { error, cause } = &failed.outcome else {
        bail!("the revoked account's request: {failed:?}")
    };
    ensure!(error == "Unauthorized", "error {error}: {cause}");
    ensure!(
        failed.report_id.is_none(),
        "a report was created: {failed:?}"
    );
    let cause_of_run = outcome.cause.as_deref().unwrap_or_default();
    ensure!(
        cause_of_run.contains("1 of 3 reports failed")
            && cause_of_run.contains("orders-three (revoked"),
        "the run's cause does not name the failed request: {cause_of_run}"
    );
    for text in [cause.as_str(), cause_of_run] {
        ensure!(
            !text.contains("revoked-by-the-seller")
                && !text.contains(simulator::DEFAULT_CLIENT_SECRET),
            "a secret leaked: {text}"
        );
    }
    let record = w
        .table
        .request(&failed.key)
        .await?
        .context("the failure is not in the metadata table")?;
    ensure!(
        matches!(&record.outcome, Some(Outcome::Failed { error, .. }) if error == "Unauthorized"),
        "metadata: {record:?}"
    );
    for result in summary.results.iter().filter(|r| r.account != "revoked") {
        let Outcome::Stored(StoredObject { object_key, .. }) = &result.outcome else {
            bail!("{} did not land: {result:?}", result.account)
        };
        ensure!(
            w.objects_under(object_key).await?.len() == 1,
            "{object_key} is not in S3"
        );
    }
    Ok(())
}

/// Each run covers the trailing three windows: the first run lands three, the next
/// requests only its new window (which ends FATAL), the one after requests that window
/// again with a new report — never reusing the FATAL one — plus its own new window, and
/// skips what landed. Every window ends with exactly one object.
async fn catch_up(w: &World) -> anyhow::Result<()> {
    let report = "orders-catch-up";
    let creates = || w.sim.calls().calls("createReport");
    let mut runs = Vec::new();
    for (day, scenario) in [
        (30, fast(vec![])),
        (
            31,
            fast(vec![ReportRule {
                outcome: Some(SimOutcome::Fatal),
                ..rule(ORDERS)
            }]),
        ),
        (32, fast(vec![])),
    ] {
        w.sim.set_scenario(scenario);
        let before = creates();
        let outcome = w.run(report, day, None).await?;
        runs.push((creates() - before, outcome));
    }
    let made: Vec<u64> = runs.iter().map(|(n, _)| *n).collect();
    ensure!(
        made == vec![3, 1, 2],
        "createReport calls per run: {made:?} (expected 3 new, 1 new, 1 new + 1 again)"
    );
    let (_, fatal_run) = &runs[1];
    ensure!(
        fatal_run.error.as_deref() == Some("ReportFatal"),
        "second run: {} {:?}",
        fatal_run.status,
        fatal_run.error
    );
    let fatal_report = fatal_run
        .summary
        .as_ref()
        .and_then(|s| s.results.first())
        .and_then(|r| r.report_id.clone())
        .context("no FATAL report")?;
    let (_, healed) = &runs[2];
    ensure!(healed.status == "SUCCEEDED", "third run: {healed:?}");
    let summary = healed.summary.as_ref().context("no summary")?;
    ensure!(
        (summary.stored, summary.results.len()) == (2, 2),
        "third run: {summary:?}"
    );
    // Days 27 to 31: every window landed, once.
    let mut windows = w.windows(report, 30);
    windows.extend(w.windows(report, 32).into_iter().skip(1));
    ensure!(windows.len() == 5, "{} windows", windows.len());
    for planned in &windows {
        let record = w.table.request(&planned.key).await?.context("no record")?;
        ensure!(
            matches!(record.outcome, Some(Outcome::Stored(_))),
            "{}: {:?}",
            planned.request.window.data_date(),
            record.outcome
        );
        ensure!(
            record.report_id.as_deref() != Some(fatal_report.as_str()),
            "the FATAL report was reused"
        );
        let objects = w.objects_under(&w.key_prefix(planned)?).await?;
        ensure!(objects.len() == 1, "{objects:?}");
    }
    Ok(())
}

/// `--refresh` of a landed window: a new report, whose bytes replace the object in
/// place — still one object for the request, naming the new report.
async fn forced_refresh(w: &World) -> anyhow::Result<()> {
    let report = "orders-refresh";
    w.sim.set_scenario(fast(vec![]));
    let first = w.assert_stored(&w.run(report, 33, None).await?).await?;
    let before = w.sim.calls().calls("createReport");
    let again = w.run_with(report, 33, None, true).await?;
    let second = w.assert_stored(&again).await?;
    ensure!(
        w.sim.calls().calls("createReport") == before + 1,
        "the refresh did not request exactly one new report"
    );
    ensure!(
        first.report_id != second.report_id && first.key == second.key,
        "first {:?}, then {:?}",
        first.report_id,
        second.report_id
    );
    let (Outcome::Stored(one), Outcome::Stored(two)) = (&first.outcome, &second.outcome) else {
        bail!("not stored")
    };
    ensure!(
        one.object_key == two.object_key,
        "the refresh wrote another key"
    );
    let planned = w.planned(report, 33)?;
    let objects = w.objects_under(&w.key_prefix(&planned)?).await?;
    ensure!(objects == vec![two.object_key.clone()], "{objects:?}");
    let head =
        w.s3.head_object()
            .bucket(&w.bucket)
            .key(&two.object_key)
            .send()
            .await?;
    let named = head.metadata().and_then(|m| m.get("report-id")).cloned();
    ensure!(
        named == second.report_id,
        "the object names report {named:?}, not {:?}",
        second.report_id
    );
    Ok(())
}

/// A report that stays IN_QUEUE past its patience (4 s here, 6 h for SP-API reports):
/// cancelled, recorded FAILED `ReportStuck`, the run ends; a rerun requests a new report
/// for the window, which lands.
async fn stuck_report(w: &World) -> anyhow::Result<()> {
    let report = "orders-stuck";
    w.sim.set_scenario(fast(vec![ReportRule {
        in_queue_ms: Some(600_000),
        ..rule(ORDERS)
    }]));
    let started = Instant::now();
    let outcome = w.run(report, 40, None).await?;
    ensure!(
        outcome.error.as_deref() == Some("ReportsFailed"),
        "{} {:?} {:?}",
        outcome.status,
        outcome.error,
        outcome.cause
    );
    ensure!(
        started.elapsed() < Duration::from_secs(30),
        "the wait took {:?}",
        started.elapsed()
    );
    let result = outcome
        .summary
        .as_ref()
        .and_then(|s| s.results.first())
        .context("no result")?;
    let Outcome::Failed { error, cause } = &result.outcome else {
        bail!("not failed: {result:?}")
    };
    ensure!(
        error == "ReportStuck" && cause.contains("cancelled it"),
        "{error}: {cause}"
    );
    let stuck = result.report_id.clone().context("no report id")?;
    let info = w.sim.report(&stuck).context("no such report")?;
    ensure!(
        info.processing_status == domain::ProcessingStatus::Cancelled,
        "the stuck report is {}",
        info.processing_status
    );
    w.sim.set_scenario(fast(vec![]));
    let again = w
        .assert_stored(&w.run(report, 40, Some("again")).await?)
        .await?;
    ensure!(
        again.report_id.as_deref() != Some(stuck.as_str()),
        "the cancelled report was reused"
    );
    Ok(())
}

/// The request's report is unknown to Amazon (dropped after its retention, or an id
/// from elsewhere): getReport answers 404, and the same run requests a new report in its
/// place and lands it.
async fn gone_report(w: &World) -> anyhow::Result<()> {
    let report = "orders-gone";
    w.sim.set_scenario(fast(vec![]));
    let planned = w.planned(report, 42)?;
    ensure!(w.table.claim(&planned, Utc::now()).await? == Claim::New);
    let gone = "99000111222";
    w.table
        .record_report_id(
            &planned.key,
            &planned.request.selling_partner_id,
            gone,
            Utc::now(),
        )
        .await?;
    let before = w.sim.calls().calls("createReport");
    let result = w.assert_stored(&w.run(report, 42, None).await?).await?;
    ensure!(
        result.report_id.as_deref() != Some(gone) && result.key == planned.key,
        "{result:?}"
    );
    ensure!(
        w.sim.calls().calls("createReport") == before + 1,
        "not exactly one new report"
    );
    Ok(())
}

/// The Store process killed mid-upload, after CompleteMultipartUpload and after the copy
/// into place: the window has no object (or its one complete object), what the dead
/// process left under `_staging/` is there to prove where it died, and the rerun removes
/// it and lands exactly one object.
async fn killed_store(w: &World) -> anyhow::Result<()> {
    let report = "orders-crash";
    // Two 8 MiB parts' worth: the multipart path.
    w.sim.set_scenario(fast(vec![ReportRule {
        rows: Some(40_000),
        ..rule(ORDERS)
    }]));
    // The points of `storage::crash::CrashPoint`.
    for (day, at) in [
        (50, "mid-upload"),
        (51, "after-complete"),
        (52, "after-copy"),
    ] {
        std::fs::write(crash_file(), at)?;
        let crashed = w.run(report, day, None).await?;
        ensure!(
            !crash_file().exists(),
            "{at}: the Store process never reached the point"
        );
        ensure!(
            crashed.error.as_deref() == Some("ReportsFailed"),
            "{at}: {} {:?}",
            crashed.status,
            crashed.error
        );
        let planned = w.planned(report, day)?;
        let object_key = domain::RawObjectKey::new(&planned.request, domain::DocumentFormat::Tsv)?;
        let visible = w.objects_under(&w.key_prefix(&planned)?).await?;
        let staging = format!("_staging/{object_key}/");
        let left_objects = w.objects_under(&staging).await?;
        let left_uploads = w.uploads_under(&staging).await?;
        let (visible_expected, staged_expected, open_expected) = match at {
            "after-copy" => (1, 1, false),
            "after-complete" => (0, 1, false),
            _ => (0, 0, true),
        };
        ensure!(
            visible.len() == visible_expected
                && left_objects.len() == staged_expected
                && (left_uploads > 0) == open_expected,
            "{at}: visible {visible:?}, staging {left_objects:?}, {left_uploads} open uploads"
        );
        let again = w
            .assert_stored(&w.run(report, day, Some("again")).await?)
            .await?;
        ensure!(again.key == planned.key, "{at}: another request landed");
        let visible = w.objects_under(&w.key_prefix(&planned)?).await?;
        ensure!(visible.len() == 1, "{at}: after the rerun {visible:?}");
        ensure!(
            w.objects_under(&staging).await?.is_empty() && w.uploads_under(&staging).await? == 0,
            "{at}: the rerun left the staging area as it was"
        );
    }
    Ok(())
}

const SALES_BY_DATE: &str = "sales-by-date";

fn data_kiosk(rule: QueryRule) -> Scenario {
    Scenario {
        query_rules: vec![rule],
        ..fast(vec![])
    }
}

/// The Data Kiosk queries the simulator made since `before` queries existed, in order.
fn queries_since(w: &World, before: usize) -> Vec<simulator::QueryInfo> {
    w.sim.queries().into_iter().skip(before).collect()
}

async fn data_kiosk_pages(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(data_kiosk(QueryRule {
        pages: Some(3),
        rows: Some(5),
        ..QueryRule::default()
    }));
    let (before, creates, documents) = (
        w.sim.queries().len(),
        w.sim.calls().calls("createQuery"),
        w.sim.calls().calls("getDocument"),
    );
    let planned = w.planned(SALES_BY_DATE, 70)?;
    let folder = domain::RawObjectKey::page(&planned.request, domain::DocumentFormat::Jsonl, 0)?
        .as_str()
        .trim_end_matches("page=0001.jsonl")
        .to_owned();

    std::fs::write(crash_file(), "before-later-page")?;
    let crashed = w.run(SALES_BY_DATE, 70, None).await?;
    ensure!(
        !crash_file().exists() && crashed.error.as_deref() == Some("ReportsFailed"),
        "the Store of page 2 did not die: {} {:?}",
        crashed.status,
        crashed.error
    );
    let stored = w.objects_under(&folder).await?;
    ensure!(
        stored.len() == 1 && stored[0].ends_with("page=0001.jsonl"),
        "after the crash: {stored:?}"
    );
    let record = w.table.request(&planned.key).await?.context("no record")?;
    ensure!(
        matches!(record.outcome, Some(Outcome::Failed { .. })),
        "the window is recorded {:?}",
        record.outcome
    );

    let result = only_result(&w.run(SALES_BY_DATE, 70, Some("resumed")).await?)?;
    ensure!(result.key == planned.key, "recorded under another key");
    let Outcome::StoredPages { pages } = &result.outcome else {
        bail!("not stored in pages: {result:?}");
    };
    let queries = queries_since(w, before);
    ensure!(
        queries.len() == 3 && w.sim.calls().calls("createQuery") - creates == 3,
        "createQuery made {} queries: {queries:?}",
        queries.len()
    );
    ensure!(
        w.sim.calls().calls("getDocument") - documents == 3,
        "page 1 was downloaded again: {} getDocument",
        w.sim.calls().calls("getDocument") - documents
    );
    ensure!(pages.len() == 3, "pages: {pages:?}");
    for (number, (page, query)) in pages.iter().zip(&queries).enumerate() {
        ensure!(
            query.page as usize == number,
            "query {} is page {}",
            query.query_id,
            query.page
        );
        let expected = w
            .sim
            .expected_query_document(&query.query_id)
            .await
            .context("the simulator has no such page")?;
        ensure!(
            expected.sha256 == page.sha256 && page.rows == 5,
            "page {number}: {} rows, sha256 {} != {}",
            page.rows,
            page.sha256,
            expected.sha256
        );
    }
    let lines = cli::results::read_back(&w.s3, &w.bucket, std::slice::from_ref(&result)).await?;
    ensure!(
        lines[0].pages_intact == Some(true),
        "a page object differs from its record"
    );
    let [partition] = &result.curated[..] else {
        bail!("partitions: {:?}", result.curated);
    };
    ensure!(
        partition.table == "dk_sales_traffic_by_date" && partition.rows == 15,
        "the three pages' 15 records did not land in the curated table: {partition:?}"
    );
    ensure!(
        w.objects_under(&folder).await?.len() == 3,
        "not three objects"
    );

    let again = w.run(SALES_BY_DATE, 70, Some("again")).await?;
    let summary = again.summary.as_ref().context("no summary")?;
    ensure!(
        summary.results.is_empty() && w.sim.calls().calls("createQuery") - creates == 3,
        "the landed window was requested again: {summary:?}"
    );
    Ok(())
}

async fn data_kiosk_fatal_and_empty(w: &World) -> anyhow::Result<()> {
    let reason = "The query exceeded the maximum number of ASINs for this marketplace.";
    w.sim.set_scenario(data_kiosk(QueryRule {
        outcome: Some(SimOutcome::Fatal),
        fatal_reason: Some(reason.into()),
        ..QueryRule::default()
    }));
    ensure_fatal_run(&w.run(SALES_BY_DATE, 72, None).await?, reason)?;
    let planned = w.planned(SALES_BY_DATE, 72)?;
    w.ensure_recorded_fatal(&planned.key, reason).await?;

    w.sim.set_scenario(data_kiosk(QueryRule {
        rows: Some(0),
        ..QueryRule::default()
    }));
    let outcome = w.run(SALES_BY_DATE, 73, None).await?;
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(
        outcome.status == "SUCCEEDED" && summary.no_data == 1,
        "{} {summary:?}",
        outcome.status
    );
    let planned = w.planned(SALES_BY_DATE, 73)?;
    let folder = w.key_prefix(&planned)?;
    ensure!(
        w.objects_under(&folder).await?.is_empty(),
        "an object for a query without data"
    );
    Ok(())
}

async fn data_kiosk_lost_notification(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(data_kiosk(QueryRule {
        lose_notification: true,
        rows: Some(7),
        ..QueryRule::default()
    }));
    let polls = w.sim.calls().calls("getQuery");
    let outcome = w.run("sales-by-date-impatient", 74, None).await?;
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(
        outcome.status == "SUCCEEDED" && summary.stored == 1,
        "{} {:?} {summary:?}",
        outcome.status,
        outcome.error
    );
    ensure!(
        w.sim.calls().calls("getQuery") > polls,
        "nothing polled getQuery"
    );
    let Outcome::StoredPages { pages } = &summary.results[0].outcome else {
        bail!("not stored: {:?}", summary.results[0]);
    };
    ensure!(pages.len() == 1 && pages[0].rows == 7, "pages: {pages:?}");
    Ok(())
}

async fn data_kiosk_config_refused(w: &World) -> anyhow::Result<()> {
    let mut file = w.file.clone();
    let mut wrong = file.reports[SALES_BY_DATE].clone();
    let query = wrong.data_kiosk.as_mut().context("no query")?;
    query.fields.push("traffic.pageVisits".into());
    query
        .arguments
        .insert("aggregateBy".into(), "FORTNIGHT".into());
    query
        .arguments
        .insert("startDate".into(), "2026-01-01".into());
    file.reports.insert("sales-wrong".into(), wrong.clone());
    let mut misspelt = wrong;
    if let Some(query) = misspelt.data_kiosk.as_mut() {
        query.query = "salesAndTrafficByDay".into();
    }
    file.reports.insert("sales-misspelt".into(), misspelt);
    let mut mistyped = file.reports[SALES_BY_DATE].clone();
    if let Some(query) = mistyped.data_kiosk.as_mut() {
        query.arguments.insert("aggregateBy".into(), 7.into());
    }
    file.reports.insert("sales-mistyped".into(), mistyped);
    let error = match w.local.stage().push(&file).await {
        Ok(_) => bail!("a wrong Data Kiosk config was pushed"),
        Err(error) => format!("{error:#}"),
    };
    for expected in [
        "reports/sales-wrong",
        "data_kiosk.fields[9]",
        "has no field `pageVisits`",
        "data_kiosk.arguments.aggregateBy",
        "use one of DAY, MONTH, WEEK",
        "data_kiosk.arguments.startDate",
        "reports/sales-misspelt",
        "data_kiosk.query",
        "use one of salesAndTrafficByAsin",
        "reports/sales-mistyped",
        "7 is not a value of DateGranularity",
    ] {
        ensure!(
            error.contains(expected),
            "`{expected}` missing from: {error}"
        );
    }
    Ok(())
}

const SP_CAMPAIGNS: &str = "sp-campaigns";

/// A run time `days_ago` days before now: Amazon Ads keeps 60–95 days of data, counted
/// from today, so its windows follow the clock rather than the fixed dates of the others.
fn recent(days_ago: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(days_ago)
}

fn ads(rule: simulator::AdsRule) -> Scenario {
    Scenario {
        ads_rules: vec![rule],
        ..fast(vec![])
    }
}

impl World {
    /// Runs `reports` at `run_at` and returns the outcome.
    async fn run_reports(
        &self,
        reports: &[&str],
        run_at: DateTime<Utc>,
        attempt: Option<&str>,
    ) -> anyhow::Result<RunOutcome> {
        self.run_reports_with(reports, run_at, attempt, false).await
    }

    /// Checks a stored Ads result against the simulator's rows as JSON Lines; its object.
    async fn assert_ads_stored(
        &self,
        result: &contract::ItemResult,
    ) -> anyhow::Result<StoredObject> {
        let Outcome::Stored(object) = &result.outcome else {
            bail!("not stored: {result:?}");
        };
        let report_id = result.report_id.as_deref().unwrap_or_default();
        let expected = self
            .sim
            .expected_ads_lines(report_id)
            .await
            .context("the simulator has no such Ads report")?;
        ensure!(
            (expected.sha256.as_str(), expected.rows, expected.bytes)
                == (object.sha256.as_str(), object.rows, object.bytes),
            "stored {} rows / {} bytes / {}, the simulator served {} / {} / {}",
            object.rows,
            object.bytes,
            object.sha256,
            expected.rows,
            expected.bytes,
            expected.sha256
        );
        ensure!(
            object
                .object_key
                .starts_with("source=ads-reports/report_type=")
                && object.object_key.ends_with(".jsonl"),
            "key {}",
            object.object_key
        );
        Ok(object.clone())
    }
}

/// The run failed `ReportFatal`, its cause giving Amazon's `reason`.
fn ensure_fatal_run(outcome: &RunOutcome, reason: &str) -> anyhow::Result<()> {
    ensure!(
        outcome.status == "FAILED"
            && outcome.error.as_deref() == Some("ReportFatal")
            && outcome.cause.as_deref().is_some_and(|c| c.contains(reason)),
        "{} {:?} {:?}",
        outcome.status,
        outcome.error,
        outcome.cause
    );
    Ok(())
}

impl World {
    /// The request is recorded FATAL with Amazon's `reason`.
    async fn ensure_recorded_fatal(
        &self,
        key: &domain::RequestKey,
        reason: &str,
    ) -> anyhow::Result<()> {
        let record = self.table.request(key).await?.context("no record")?;
        ensure!(
            matches!(&record.outcome, Some(Outcome::Fatal { reason: r }) if r.contains(reason)),
            "recorded {:?}",
            record.outcome
        );
        Ok(())
    }
}

/// The one result of a run that must have succeeded.
fn only_result(outcome: &RunOutcome) -> anyhow::Result<contract::ItemResult> {
    ensure!(
        outcome.status == "SUCCEEDED",
        "{} {:?} {:?}",
        outcome.status,
        outcome.error,
        outcome.cause
    );
    let summary = outcome.summary.as_ref().context("no summary")?;
    let [result] = &summary.results[..] else {
        bail!("results: {:?}", summary.results);
    };
    Ok(result.clone())
}

async fn ads_report_lands(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(ads(simulator::AdsRule {
        pending_ms: Some(300),
        processing_ms: Some(300),
        ..Default::default()
    }));
    let before = w.sim.ads_reports().len();
    let result = only_result(&w.run_reports(&[SP_CAMPAIGNS], recent(10), None).await?)?;
    let object = w.assert_ads_stored(&result).await?;
    ensure!(
        object.rows == 5 && w.sim.ads_reports().len() == before + 1,
        "{} rows, {} reports",
        object.rows,
        w.sim.ads_reports().len() - before
    );
    let [partition] = &result.curated[..] else {
        bail!("partitions: {:?}", result.curated);
    };
    ensure!(
        partition.table == "ads_sp_campaigns"
            && partition.rows == 5
            && partition.values[0] == simulator::DEFAULT_ADS_PROFILE_ID.to_string()
            && partition.extra_fields.is_empty(),
        "the rows did not land in the curated table: {partition:?}"
    );
    let text = w.raw_text(&object.object_key).await?;
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or_default())?;
    let columns = cli::demo::sp_campaigns().columns;
    ensure!(
        first.as_object().is_some_and(
            |row| row.len() == columns.len() && columns.iter().all(|c| row.contains_key(c))
        ),
        "the first line is not a row of the requested columns: {first}"
    );
    Ok(())
}

async fn ads_duplicate(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(ads(simulator::AdsRule {
        pending_ms: Some(2000),
        ..Default::default()
    }));
    let run_at = recent(12);
    let planned = w
        .config
        .plan(run_at, &[SP_CAMPAIGNS.to_owned()])
        .pop()
        .context("nothing planned")?
        .planned;
    let request = &planned.request;
    let spec = request.ads.as_ref().context("no Ads config")?;
    let report_type = domain::ads::report_type(&request.report_type).context("no such type")?;
    let day = request.window.start.date_naive();
    // An earlier attempt made the report and was lost before it recorded it.
    let body = spec.request_body(report_type, "an earlier attempt", day, day);
    let account = &w.file.ads_accounts["demo-ads"];
    let credentials = account.credentials.as_ref().context("no credentials")?;
    let http = spapi::build_http_client(Default::default())?;
    let client = spapi::ads::AdsClient::new(
        http.clone(),
        spapi::LwaClient::new(
            http,
            w.sim.lwa_token_url().parse()?,
            LwaCredentials::new(&credentials.client_id, &credentials.client_secret),
        ),
        credentials.refresh_token.clone().into(),
        w.sim.base_url().parse()?,
        spapi::RetryPolicy::default(),
    );
    let earlier = client
        .create_report(simulator::DEFAULT_ADS_PROFILE_ID, &body)
        .await?;
    let (before, creates) = (
        w.sim.ads_reports().len(),
        w.sim.calls().calls(simulator::ADS_CREATE_REPORT),
    );
    let result = only_result(&w.run_reports(&[SP_CAMPAIGNS], run_at, None).await?)?;
    w.assert_ads_stored(&result).await?;
    ensure!(
        result.report_id.as_deref() == Some(earlier.report_id()),
        "the run stored {:?}, not the report in flight {}",
        result.report_id,
        earlier.report_id()
    );
    ensure!(
        w.sim.ads_reports().len() == before
            && w.sim.calls().calls(simulator::ADS_CREATE_REPORT) == creates + 1,
        "a second report was created"
    );
    Ok(())
}

async fn ads_failed(w: &World) -> anyhow::Result<()> {
    let reason = "Report generation failed due to an internal error. Please retry.";
    w.sim.set_scenario(ads(simulator::AdsRule {
        report_type_id: Some("spCampaigns".into()),
        outcome: Some(simulator::AdsOutcome::Failed),
        failure_reason: Some(reason.into()),
        ..Default::default()
    }));
    let outcome = w
        .run_reports(&[SP_CAMPAIGNS, "sp-products"], recent(14), None)
        .await?;
    ensure_fatal_run(&outcome, reason)?;
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(
        summary.results.len() == 2 && summary.stored == 1 && summary.fatal == 1,
        "{summary:?}"
    );
    for result in &summary.results {
        match result.report_type.as_str() {
            "spCampaigns" => {
                ensure!(
                    matches!(&result.outcome, Outcome::Fatal { reason: r } if r.contains(reason)),
                    "{result:?}"
                );
                w.ensure_recorded_fatal(&result.key, reason).await?;
            }
            _ => drop(w.assert_ads_stored(result).await?),
        }
    }
    Ok(())
}

async fn ads_split_window(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(ads(simulator::AdsRule {
        rows: Some(3),
        ..Default::default()
    }));
    let (report, run_at) = ("sp-search-terms-40", recent(20));
    let planned: Vec<domain::PlannedRequest> = w
        .config
        .plan(run_at, &[report.to_owned()])
        .into_iter()
        .map(|c| c.planned)
        .collect();
    let windows: Vec<domain::DataWindow> = planned.iter().map(|p| p.request.window).collect();
    let days: Vec<i64> = windows.iter().map(|w| w.length().num_days()).collect();
    ensure!(
        days == [31, 9] && windows[0].end == windows[1].start,
        "planned windows {windows:?}"
    );
    let before = w.sim.ads_reports().len();
    let outcome = w.run_reports(&[report], run_at, None).await?;
    ensure!(
        outcome.status == "SUCCEEDED",
        "{} {:?}",
        outcome.status,
        outcome.cause
    );
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(summary.stored == 2, "{summary:?}");
    for result in &summary.results {
        w.assert_ads_stored(result).await?;
        ensure!(
            planned.iter().any(|p| p.key == result.key),
            "{} is not one of the two parts",
            result.key
        );
    }
    ensure!(w.sim.ads_reports().len() == before + 2, "not two reports");
    Ok(())
}

async fn ads_expired_url(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(ads(simulator::AdsRule {
        expire_first_url: true,
        ..Default::default()
    }));
    let reads = w.sim.calls().calls(simulator::ADS_GET_REPORT);
    let result = only_result(&w.run_reports(&[SP_CAMPAIGNS], recent(16), None).await?)?;
    w.assert_ads_stored(&result).await?;
    let (_, _, _, downloads) = w
        .sim
        .ads_reports()
        .into_iter()
        .find(|(id, ..)| Some(id.as_str()) == result.report_id.as_deref())
        .context("no such report")?;
    ensure!(
        downloads == 1 && w.sim.calls().calls(simulator::ADS_GET_REPORT) - reads >= 2,
        "{downloads} downloads"
    );
    Ok(())
}

async fn ads_restated(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(ads(simulator::AdsRule::default()));
    let report = "sp-campaigns-restated";
    let first_run = Utc::now();
    let outcome = w.run_reports(&[report], first_run, None).await?;
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(summary.stored == 2, "the first run: {summary:?}");
    let yesterday = (first_run - TimeDelta::days(1)).date_naive().to_string();
    let landed = summary
        .results
        .iter()
        .find(|r| r.data_date == yesterday)
        .context("yesterday did not land")?;
    let before = w.assert_ads_stored(landed).await?;

    // A day later its one-day restatement has passed: requested again, replaced.
    let outcome = w
        .run_reports(&[report], first_run + TimeDelta::days(1), None)
        .await?;
    let summary = outcome.summary.as_ref().context("no summary")?;
    let again = summary
        .results
        .iter()
        .find(|r| r.key == landed.key)
        .context("the landed day was not requested again")?;
    let after = w.assert_ads_stored(again).await?;
    ensure!(
        again.report_id != landed.report_id
            && after.object_key == before.object_key
            && after.sha256 != before.sha256,
        "not replaced by restated rows: {before:?} → {after:?}"
    );
    ensure!(
        w.objects_under(&before.object_key).await?.len() == 1,
        "not one object"
    );
    let (Some(first), Some(second)) = (landed.curated.first(), again.curated.first()) else {
        bail!("not curated: {:?} / {:?}", landed.curated, again.curated);
    };
    ensure!(
        second.replaced.as_deref() == Some(first.location.as_str()) && second.rows == first.rows,
        "the curated partition was not replaced whole: {first:?} → {second:?}"
    );
    Ok(())
}

const AMC_REPORT: &str = "campaign-reach";

fn amc(rule: simulator::AmcRule) -> Scenario {
    Scenario {
        amc_rules: vec![rule],
        ..fast(vec![])
    }
}

/// The AMC result files of a stored window, each checked against the simulator's bytes.
async fn assert_amc_stored(
    w: &World,
    result: &contract::ItemResult,
) -> anyhow::Result<Vec<StoredObject>> {
    let Outcome::StoredPages { pages } = &result.outcome else {
        bail!("not stored: {result:?}");
    };
    let execution = result.report_id.as_deref().unwrap_or_default();
    for (part, page) in pages.iter().enumerate() {
        let expected = w
            .sim
            .expected_amc_file(execution, part as u32)
            .await
            .context("the simulator has no such file")?;
        ensure!(
            (expected.sha256.as_str(), expected.rows) == (page.sha256.as_str(), page.rows)
                && page
                    .object_key
                    .ends_with(&format!("page={:04}.csv", part + 1)),
            "file {part}: {page:?} is not the simulator's {expected:?}"
        );
    }
    Ok(pages.clone())
}

async fn amc_two_files(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(amc(simulator::AmcRule {
        files: Some(2),
        rows: Some(20),
        data_gaps: vec![serde_json::json!({"dataSource": "sponsored_ads_traffic", "gapStart": "2026-10-30T00:00:00Z"})],
        ..Default::default()
    }));
    let result = only_result(&w.run(AMC_REPORT, 30, None).await?)?;
    let pages = assert_amc_stored(w, &result).await?;
    ensure!(
        pages.len() == 2 && pages.iter().map(|p| p.rows).sum::<u64>() == 20,
        "pages: {pages:?}"
    );
    let folder = pages[0]
        .object_key
        .rsplit_once('/')
        .map(|(f, _)| f.to_owned())
        .unwrap_or_default();
    let described: serde_json::Value =
        serde_json::from_str(&w.raw_text(&format!("{folder}/_execution.json")).await?)?;
    ensure!(
        described["workflowExecutionId"].as_str() == result.report_id.as_deref()
            && described["dataGaps"][0]["dataSource"] == "sponsored_ads_traffic"
            && described["outputColumns"]
                .as_array()
                .is_some_and(|c| c.len() == 4)
            && described["files"].as_array().is_some_and(|f| f.len() == 2)
            // The simulator filters every seventh row of a file: one in each of the two.
            && described["filteredMetricsDiscriminatorColumn"] == "filtered"
            && described["filteredRows"] == 2,
        "_execution.json: {described}"
    );
    let [partition] = &result.curated[..] else {
        bail!("partitions: {:?}", result.curated);
    };
    ensure!(
        partition.table == "amc_campaign_reach" && partition.rows == 20,
        "both files' 20 rows did not land in the workflow's table: {partition:?}"
    );
    let record = w.table.request(&result.key).await?.context("no record")?;
    ensure!(
        matches!(&record.outcome, Some(Outcome::StoredPages { pages }) if pages.len() == 2),
        "the window is recorded {:?}",
        record.outcome
    );
    Ok(())
}

async fn amc_failed(w: &World) -> anyhow::Result<()> {
    let reason = "Query execution failed: column `reach` is ambiguous";
    w.sim.set_scenario(amc(simulator::AmcRule {
        outcome: Some(simulator::AmcOutcome::Failed),
        status_reason: Some(reason.into()),
        ..Default::default()
    }));
    ensure_fatal_run(&w.run(AMC_REPORT, 31, None).await?, reason)?;
    let planned = w.planned(AMC_REPORT, 31)?;
    w.ensure_recorded_fatal(&planned.key, reason).await?;
    let folder = domain::RawObjectKey::page(&planned.request, domain::DocumentFormat::Csv, 0)?
        .as_str()
        .trim_end_matches("page=0001.csv")
        .to_owned();
    ensure!(
        w.objects_under(&folder).await?.is_empty(),
        "an object for a FAILED execution"
    );
    Ok(())
}

async fn amc_expired_url(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(amc(simulator::AmcRule {
        expire_first_urls: true,
        ..Default::default()
    }));
    let reads = w.sim.calls().calls(simulator::AMC_DOWNLOAD_URLS);
    let result = only_result(&w.run(AMC_REPORT, 32, None).await?)?;
    assert_amc_stored(w, &result).await?;
    ensure!(
        w.sim.calls().calls(simulator::AMC_DOWNLOAD_URLS) - reads == 2,
        "download URLs read {} times, not twice (the expired ones, then fresh ones)",
        w.sim.calls().calls(simulator::AMC_DOWNLOAD_URLS) - reads
    );
    Ok(())
}

async fn amc_parallel_limit(w: &World) -> anyhow::Result<()> {
    let scenario = Scenario {
        amc_parallel_executions: 1,
        amc_rules: vec![simulator::AmcRule {
            running_ms: Some(1500),
            ..Default::default()
        }],
        ..fast(vec![])
    };
    w.sim.set_scenario(scenario);
    let (refused, before) = (w.sim.amc_refused_over_limit(), w.sim.amc_executions().len());
    let (outcome, states) = w.run_states("campaign-reach-three", 40).await;
    let outcome = outcome?;
    let summary = outcome.summary.as_ref().context("no summary")?;
    ensure!(
        outcome.status == "SUCCEEDED" && summary.stored == 3,
        "{} {:?} {summary:?}",
        outcome.status,
        outcome.cause
    );
    ensure!(
        w.sim.amc_refused_over_limit() == refused,
        "AMC refused {} executions over the instance's limit",
        w.sim.amc_refused_over_limit() - refused
    );
    ensure!(
        w.sim.amc_executions().len() == before + 3,
        "not three executions"
    );
    ensure!(
        states.iter().any(|s| s == "WaitForRoom"),
        "no request waited for room: {states:?}"
    );
    for result in &summary.results {
        assert_amc_stored(w, result).await?;
    }
    Ok(())
}

async fn dlq_replay(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        lose_notification: true,
        ..rule(ORDERS)
    }]));
    let names = &w.local.resources().names;
    let sqs = aws_sdk_sqs::Client::new(w.local.aws());
    let dlq_url = sqs
        .get_queue_url()
        .queue_name(&names.dead_letter_queue)
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let before: Vec<String> = w.sim.reports().into_iter().map(|r| r.report_id).collect();
    let started = Instant::now();
    let inject = async {
        // The run's report, once Amazon finished it: its notification was "lost" and the
        // processor is taken to have failed on it, so it sits in the dead-letter queue.
        let report = loop {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(25),
                "no report finished"
            );
            if let Some(r) = w.sim.reports().into_iter().find(|r| {
                !before.contains(&r.report_id)
                    && r.processing_status == simulator::ProcessingStatus::Done
            }) {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let now = Utc::now().to_rfc3339();
        let body = serde_json::json!({
            "notificationVersion": "2020-09-04",
            "notificationType": "REPORT_PROCESSING_FINISHED",
            "payloadVersion": "2020-09-04",
            "eventTime": now,
            "payload": {"reportProcessingFinishedNotification": {
                "sellerId": report.selling_partner_id,
                "accountId": format!("amzn1.merchant.o.{}", report.selling_partner_id),
                "reportId": report.report_id,
                "reportType": report.report_type,
                "processingStatus": "DONE",
                "reportDocumentId": report.report_document_id,
            }},
            "notificationMetadata": {
                "applicationId": "amzn1.sellerapps.app.dead-letter-test",
                "subscriptionId": "dead-letter-test",
                "publishTime": now,
                "notificationId": format!("dead-letter-{}", report.report_id),
            }
        })
        .to_string();
        for _ in 0..2 {
            sqs.send_message()
                .queue_url(&dlq_url)
                .message_body(&body)
                .send()
                .await?;
        }
        let shown = cli::dlq::show(&sqs, &names.dead_letter_queue).await?;
        ensure!(
            shown.len() == 2
                && shown.iter().all(|l| l.summary.contains(&report.report_id)
                    && l.summary.starts_with("REPORT_PROCESSING_FINISHED")),
            "dlq show: {shown:?}"
        );
        let replayed =
            cli::dlq::replay(&sqs, &names.dead_letter_queue, &names.notification_queue).await?;
        ensure!(replayed == 2, "{replayed} replayed");
        anyhow::Ok(report.report_id)
    };
    let ((outcome, states), report_id) = tokio::join!(w.run_states("orders", 12), inject);
    let (outcome, report_id) = (outcome?, report_id?);
    let result = w.assert_stored(&outcome).await?;
    ensure!(
        result.report_id.as_deref() == Some(report_id.as_str())
            && !states.iter().any(|s| s == "StartPolling"),
        "the replayed notification did not resume the wait: {states:?}"
    );
    ensure!(
        outcome.elapsed < Duration::from_secs(30),
        "the run waited out its 30 s notification timeout ({:?})",
        outcome.elapsed
    );
    ensure!(
        cli::dlq::replay(&sqs, &names.dead_letter_queue, &names.notification_queue).await? == 0
            && cli::dlq::show(&sqs, &names.dead_letter_queue)
                .await?
                .is_empty(),
        "the dead-letter queue is not empty after the replay"
    );
    Ok(())
}

/// Access tokens that live 2 s against reports that take 3 s: the sealed token has
/// expired when Store (or, without a notification, PollStatus) needs it; the state
/// machine authenticates again and runs the step again, and the report lands.
async fn expiring_tokens(w: &World) -> anyhow::Result<()> {
    let report = "orders-expiring";
    let slow = |lose_notification| {
        let mut scenario = fast(vec![ReportRule {
            in_queue_ms: Some(1500),
            in_progress_ms: Some(1500),
            lose_notification,
            ..rule(ORDERS)
        }]);
        scenario.token_ttl_secs = 2;
        scenario
    };
    let mut checked = Vec::new();
    for (day, lose, renewed_for) in [
        (55, false, "ReauthenticateForStore"),
        (56, true, "ReauthenticateForPollStatus"),
    ] {
        w.sim.set_scenario(slow(lose));
        let (outcome, states) = w.run_states(report, day).await;
        w.sim.set_scenario(fast(vec![]));
        let outcome = outcome?;
        w.assert_stored(&outcome).await?;
        checked.push((renewed_for, states.iter().any(|s| s == renewed_for)));
    }
    ensure!(
        checked.iter().all(|(_, renewed)| *renewed),
        "re-authentications seen: {checked:?}"
    );
    Ok(())
}

/// `sync_schedules` makes the stage's schedule group hold exactly one schedule per report,
/// stored as sent (a second sync finds nothing to change), and follows the config.
async fn schedules_follow_the_config(w: &World) -> anyhow::Result<()> {
    let stage = w.local.stage();
    let reports = w.config.reports.len();
    let first = stage.sync_schedules(&w.config).await?;
    ensure!(
        first.created.len() + first.unchanged.len() == reports && first.deleted.is_empty(),
        "first sync: {first:?}"
    );
    let again = stage.sync_schedules(&w.config).await?;
    ensure!(again.unchanged.len() == reports, "second sync: {again:?}");
    let mut changed = w.config.clone();
    changed.reports.remove("orders-impatient");
    if let Some(orders) = changed.reports.get_mut("orders") {
        orders.schedule = "cron(30 7 * * ? *)".into();
    }
    let third = stage.sync_schedules(&changed).await;
    let restored = stage.sync_schedules(&w.config).await;
    let third = third?;
    ensure!(
        third.updated == vec!["orders".to_owned()]
            && third.deleted == vec!["orders-impatient".to_owned()],
        "after the change: {third:?}"
    );
    let restored = restored?;
    ensure!(
        restored.created == vec!["orders-impatient".to_owned()]
            && restored.updated == vec!["orders".to_owned()],
        "restored: {restored:?}"
    );
    Ok(())
}

/// `StackOutputs::discover` reads the outputs of `sp-ingest-<stage>` (here a stack in
/// moto's CloudFormation with the template's output names) and says what to do when
/// there is no such stack.
async fn stage_found_by_name(w: &World) -> anyhow::Result<()> {
    let cloudformation = aws_sdk_cloudformation::Client::new(w.local.aws());
    let local = cli::stack::StackOutputs::local(w.local.resources());
    let outputs = [
        ("StateMachineArn", local.state_machine_arn.as_str()),
        (
            "NotificationQueueArn",
            local.notification_queue_arn.as_str(),
        ),
        ("ScheduleGroup", local.schedule_group.as_str()),
        ("SchedulerRoleArn", local.scheduler_role_arn.as_str()),
        ("RawBucket", local.raw_bucket.as_str()),
        ("MetadataTable", local.metadata_table.as_str()),
        ("CuratedBucket", local.curated_bucket.as_str()),
        ("GlueDatabase", local.glue_database.as_str()),
        ("AthenaWorkGroup", local.athena_workgroup.as_str()),
    ];
    let template = serde_json::json!({
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs
            .iter()
            .map(|(key, value)| (key.to_string(), serde_json::json!({"Value": value})))
            .collect::<serde_json::Map<_, _>>(),
    });
    cloudformation
        .create_stack()
        .stack_name(cli::stack::stack_name("deployed"))
        .template_body(template.to_string())
        .send()
        .await?;
    let found = cli::stack::StackOutputs::discover(&cloudformation, "deployed").await?;
    ensure!(
        found
            == cli::stack::StackOutputs {
                stage: "deployed".into(),
                ..local
            },
        "{found:?}"
    );
    let missing = cli::stack::StackOutputs::discover(&cloudformation, "nowhere")
        .await
        .err()
        .context("a stage without a stack was found")?
        .to_string();
    ensure!(
        missing.contains("sp-ingest-nowhere") && missing.contains("make deploy STAGE=nowhere"),
        "{missing}"
    );
    Ok(())
}

/// `sp-ingest notifications subscribe|status|unsubscribe` on one account, reading its
/// credentials from its secret as the deployed commands do; leaves it subscribed.
async fn notifications_commands(w: &World) -> anyhow::Result<()> {
    use cli::notifications::SubscriptionState::{Elsewhere, NotSubscribed, Subscribed};
    let accounts = w
        .local
        .stage()
        .notification_accounts(&w.config, &["demo-us".to_owned()])
        .await?;
    let [account] = &accounts[..] else {
        bail!("{} accounts for one name", accounts.len());
    };
    let queue = w.local.resources().names.queue_arn();
    let stage = &w.config.stage;
    let before = account.status(&queue).await?;
    ensure!(matches!(before, Subscribed { .. }), "at start: {before}");
    let was = account.unsubscribe(&queue).await?;
    ensure!(was == before, "unsubscribe found {was}");
    let again = account.unsubscribe(&queue).await?;
    ensure!(again == NotSubscribed, "second unsubscribe found {again}");
    ensure!(
        account.status(&queue).await? == NotSubscribed,
        "still subscribed"
    );
    // Another destination of the same app holds the subscription: not replaced, named.
    let other = format!("{queue}-other-stage");
    let elsewhere = account.subscribe(&other, "other").await?;
    let refused = account.subscribe(&queue, stage).await;
    ensure!(
        matches!(account.status(&queue).await?, Elsewhere { .. }),
        "the other stage's subscription is not seen as elsewhere"
    );
    account.unsubscribe(&other).await?;
    cli::notifications::delete_destinations(&accounts, &other).await?;
    let refused = refused
        .err()
        .context("a second subscription replaced the first")?;
    let Subscribed { destination_id, .. } = &elsewhere else {
        bail!("subscribing to the other queue: {elsewhere}");
    };
    ensure!(
        format!("{refused:#}").contains(destination_id.as_str())
            && format!("{refused:#}").contains("notifications unsubscribe"),
        "{refused:#}"
    );
    let first = account.subscribe(&queue, stage).await?;
    let second = account.subscribe(&queue, stage).await?;
    ensure!(
        matches!(first, Subscribed { .. }) && second == first,
        "subscribe twice: {first}, then {second}"
    );
    Ok(())
}

/// `sp-ingest run --window D` days after D, then `sp-ingest status` as of D's run.
async fn one_window_and_status(w: &World) -> anyhow::Result<()> {
    use cli::status::WindowState;
    w.sim.set_scenario(fast(vec![]));
    let orders = ["orders".to_owned()];
    let status = |day| cli::status::windows(&w.table, &w.config, run_at(day), &orders);
    let before = status(40).await?;
    let day = before.last().context("no window")?.data_date.parse()?;
    ensure!(
        before.iter().all(|s| s.state == WindowState::NotRequested),
        "{before:?}"
    );
    let request = RunRequest {
        reports: orders.to_vec(),
        run_at: run_at(45),
        attempt: None,
        refresh: false,
        window: Some(day),
        backfill: None,
        accounts: Vec::new(),
    };
    let outcome = w
        .local
        .stage()
        .run(&request, Duration::from_secs(300), |_, _| {})
        .await?;
    let stored = w.assert_stored(&outcome).await?;
    ensure!(
        stored.data_date == day.to_string(),
        "ran {}",
        stored.data_date
    );
    let after = status(40).await?;
    for window in &after {
        let landed = window.data_date == stored.data_date;
        match &window.state {
            WindowState::Ended {
                outcome: Outcome::Stored(object),
                ..
            } if landed => ensure!(object.object_key == stored_key(&stored)?, "{window:?}"),
            WindowState::NotRequested if !landed => {}
            _ => bail!("{window:?}"),
        }
    }
    // Not landed while a newer window is due: late (the newest here is the landed one).
    ensure!(
        after
            .iter()
            .all(|w| w.late == (w.data_date != stored.data_date)),
        "{after:?}"
    );
    let table = cli::status::table(&after, run_at(40));
    ensure!(
        table.contains(&format!(
            "1 of {} windows landed, {} late",
            after.len(),
            after.len() - 1
        )),
        "{table}"
    );
    let other_account = cli::status::Filter {
        reports: orders.to_vec(),
        accounts: vec!["demo-jp".into()],
        since: None,
    };
    ensure!(
        cli::status::windows_of(&w.table, &w.config, run_at(40), &other_account)
            .await?
            .is_empty(),
        "orders are demo-us's only"
    );
    Ok(())
}

fn stored_key(result: &contract::ItemResult) -> anyhow::Result<&str> {
    match &result.outcome {
        Outcome::Stored(object) => Ok(&object.object_key),
        other => bail!("not stored: {other:?}"),
    }
}

/// Curate on the real functions: Parquet in the curated bucket, the Glue partition, the
/// SNS message, then a restatement (`--refresh`) that swaps the partition's version.
async fn curated_partition(w: &World) -> anyhow::Result<()> {
    use aws_sdk_sqs::types::QueueAttributeName;
    w.sim.set_scenario(fast(vec![]));
    let names = &w.local.resources().names;
    let aws = w.local.aws();
    let glue = aws_sdk_glue::Client::new(aws);
    let sqs = aws_sdk_sqs::Client::new(aws);
    // A queue subscribed to the new-data topic, as a downstream consumer would be.
    let probe = sqs
        .create_queue()
        .queue_name("new-data-probe")
        .send()
        .await?;
    let probe_url = probe.queue_url().context("no queue url")?.to_owned();
    let probe_arn = sqs
        .get_queue_attributes()
        .queue_url(&probe_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .context("no queue arn")?;
    aws_sdk_sns::Client::new(aws)
        .subscribe()
        .topic_arn(names.new_data_topic_arn())
        .protocol("sqs")
        .endpoint(&probe_arn)
        .send()
        .await?;

    let first = w.assert_stored(&w.run("orders", 50, None).await?).await?;
    let [partition] = &first.curated[..] else {
        bail!("partitions: {:?}", first.curated);
    };
    let raw = w.raw_text(stored_key(&first)?).await?;
    check_partition(w, &glue, partition, &raw).await?;
    ensure!(
        partition.replaced.is_none(),
        "a new partition replaced {:?}",
        partition.replaced
    );
    let messages = sqs
        .receive_message()
        .queue_url(&probe_url)
        .max_number_of_messages(10)
        .send()
        .await?;
    let told = messages
        .messages()
        .iter()
        .filter_map(|m| m.body())
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|envelope| {
            serde_json::from_str::<serde_json::Value>(envelope["Message"].as_str()?).ok()
        })
        .filter(|m| m["location"] == partition.location.as_str())
        .count();
    ensure!(
        told == 1,
        "{told} new-data messages for {}",
        partition.location
    );

    // A restatement: a new report for the same window, its own version folder.
    let second = w
        .assert_stored(&w.run_with("orders", 50, Some("restated"), true).await?)
        .await?;
    let [restated] = &second.curated[..] else {
        bail!("partitions: {:?}", second.curated);
    };
    ensure!(
        restated.replaced.as_deref() == Some(partition.location.as_str())
            && restated.location != partition.location,
        "restated {restated:?} after {partition:?}"
    );
    let raw = w.raw_text(stored_key(&second)?).await?;
    check_partition(w, &glue, restated, &raw).await?;
    let s3 = &w.s3;
    let old_prefix = partition
        .location
        .strip_prefix(&format!("s3://{}/", names.curated_bucket))
        .context("old location outside the bucket")?;
    let old = s3
        .list_objects_v2()
        .bucket(&names.curated_bucket)
        .prefix(old_prefix)
        .send()
        .await?;
    ensure!(
        !old.contents().is_empty(),
        "the old version is gone at once"
    );
    for object in old.contents() {
        let tags = s3
            .get_object_tagging()
            .bucket(&names.curated_bucket)
            .key(object.key().unwrap_or_default())
            .send()
            .await?;
        ensure!(
            tags.tag_set()
                .iter()
                .any(|t| t.key() == transform::handler::SUPERSEDED_TAG),
            "{:?} is not marked for expiry",
            object.key()
        );
    }
    Ok(())
}

/// Columns Amazon adds or leaves out of a flat file, through Curate.
async fn views_created(w: &World) -> anyhow::Result<()> {
    let names = &w.local.resources().names;
    let athena = aws_sdk_athena::Client::new(w.local.aws());
    let glue = aws_sdk_glue::Client::new(w.local.aws());
    let before = athena
        .list_query_executions()
        .work_group(&names.athena_workgroup)
        .send()
        .await?
        .query_execution_ids()
        .len();
    for _ in 0..2 {
        let created = w.local.stage().create_views().await?;
        let expected: Vec<&str> = cli::views::VIEWS.iter().map(|v| v.name).collect();
        ensure!(created == expected, "created {created:?}");
    }
    let tables = glue
        .get_tables()
        .database_name(&names.glue_database)
        .send()
        .await?;
    let have: Vec<&str> = tables.table_list().iter().map(|t| t.name()).collect();
    for table in domain::curated::CuratedCatalog::builtin().tables() {
        ensure!(
            have.contains(&table.name.as_str()),
            "no table {} in {have:?}",
            table.name
        );
    }
    let ids = athena
        .list_query_executions()
        .work_group(&names.athena_workgroup)
        .send()
        .await?
        .query_execution_ids()
        .to_vec();
    ensure!(
        ids.len() == before + 2 * cli::views::VIEWS.len(),
        "{} queries in the workgroup, {before} before",
        ids.len()
    );
    let mut sent = Vec::new();
    for id in &ids {
        let execution = athena
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await?;
        let query = execution.query_execution().context("no execution")?;
        let database = query
            .query_execution_context()
            .and_then(|c| c.database())
            .unwrap_or_default();
        ensure!(
            database == names.glue_database,
            "query {id} ran in database `{database}`"
        );
        sent.push(query.query().unwrap_or_default().to_owned());
    }
    for view in cli::views::VIEWS {
        ensure!(
            sent.iter().filter(|q| *q == view.statement()).count() == 2,
            "{} was not sent twice as its statement",
            view.name
        );
    }
    Ok(())
}

async fn column_changes(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![ReportRule {
        added_columns: vec!["order-item-id".into()],
        ..rule(ORDERS)
    }]));
    let added = w.assert_stored(&w.run("orders", 53, None).await?).await?;
    let [partition] = &added.curated[..] else {
        bail!("partitions: {:?}", added.curated);
    };
    ensure!(
        partition.extra_fields == ["order-item-id"],
        "extra fields: {:?}",
        partition.extra_fields
    );

    w.sim.set_scenario(fast(vec![ReportRule {
        dropped_columns: vec!["sku".into()],
        ..rule(ORDERS)
    }]));
    let creates = w.sim.calls().calls("createReport");
    let refused = w.run("orders", 54, None).await?;
    let planned = w.planned("orders", 54)?;
    let record = w.table.request(&planned.key).await?.context("no record")?;
    ensure!(
        refused.error.as_deref() == Some("ReportsFailed")
            && matches!(&record.outcome, Some(Outcome::Failed { error, cause })
                if error == "SchemaMismatch" && cause.contains("column sku")),
        "{:?} / recorded {:?}",
        refused.error,
        record.outcome
    );
    ensure!(
        w.objects_under(&w.key_prefix(&planned)?).await?.len() == 1,
        "the raw object of the refused report is not kept"
    );
    // Not landed, so the next run tries again — with the same report, no new quota.
    let again = w.run("orders", 54, Some("again")).await?;
    let summary = again.summary.as_ref().context("no summary")?;
    ensure!(
        summary.failed == 1
            && summary.results[0].report_id == record.report_id
            && w.sim.calls().calls("createReport") == creates + 1,
        "again: {summary:?}, {} createReport calls for two runs",
        w.sim.calls().calls("createReport") - creates
    );
    Ok(())
}

/// The partition Glue holds is `partition`, and its files hold exactly the raw TSV's
/// rows: their count and the sum of `quantity`.
async fn check_partition(
    w: &World,
    glue: &aws_sdk_glue::Client,
    partition: &contract::CuratedPartition,
    raw: &str,
) -> anyhow::Result<()> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let names = &w.local.resources().names;
    let held = glue
        .get_partition()
        .database_name(&names.glue_database)
        .table_name(&partition.table)
        .set_partition_values(Some(partition.values.clone()))
        .send()
        .await?;
    let location = held
        .partition()
        .and_then(|p| p.storage_descriptor())
        .and_then(|sd| sd.location())
        .context("the partition has no location")?;
    ensure!(
        location == partition.location,
        "Glue points at {location}, not {}",
        partition.location
    );
    let mut lines = raw.lines();
    let header: Vec<&str> = lines
        .next()
        .context("empty raw object")?
        .split('\t')
        .collect();
    let at = header
        .iter()
        .position(|h| *h == "quantity")
        .context("no quantity column")?;
    let (mut raw_rows, mut raw_quantity) = (0u64, 0i64);
    for line in lines.filter(|l| !l.is_empty()) {
        raw_rows += 1;
        raw_quantity += line.split('\t').nth(at).unwrap_or("0").parse::<i64>()?;
    }
    let prefix = location
        .strip_prefix(&format!("s3://{}/", names.curated_bucket))
        .context("location outside the curated bucket")?;
    let listed =
        w.s3.list_objects_v2()
            .bucket(&names.curated_bucket)
            .prefix(prefix)
            .send()
            .await?;
    let (mut rows, mut quantity) = (0u64, 0i64);
    for object in listed.contents() {
        let body =
            w.s3.get_object()
                .bucket(&names.curated_bucket)
                .key(object.key().unwrap_or_default())
                .send()
                .await?
                .body
                .collect()
                .await?
                .into_bytes();
        let reader = SerializedFileReader::new(body)?;
        for row in reader.get_row_iter(None)? {
            let row = row?;
            rows += 1;
            if let Some((_, parquet::record::Field::Long(v))) =
                row.get_column_iter().find(|(name, _)| *name == "quantity")
            {
                quantity += v;
            }
        }
    }
    ensure!(
        rows == raw_rows && rows == partition.rows && quantity == raw_quantity,
        "Parquet {rows} rows / quantity {quantity}, raw {raw_rows} / {raw_quantity}, said {}",
        partition.rows
    );
    Ok(())
}

/// A new config pushed between two runs, on functions kept warm by the runs before: the
/// second run calls the new endpoints (another Amazon), for a new account and report,
/// without waiting for any container to recycle.
async fn config_pushed_between_runs(w: &World) -> anyhow::Result<()> {
    w.sim.set_scenario(fast(vec![]));
    w.assert_stored(&w.run("orders", 11, None).await?).await?;
    let elsewhere = simulator::start(simulator::SimConfig {
        scenario: fast(vec![]),
        ..simulator::SimConfig::default()
    })
    .await?;
    let mut moved = w.file.clone();
    for endpoints in moved.regions.values_mut() {
        endpoints.spapi_endpoint = elsewhere.base_url();
        endpoints.lwa_endpoint = elsewhere.lwa_token_url();
    }
    let mut later = moved.accounts["demo-us"].clone();
    later.selling_partner_id = "A2LATERSELLER".into();
    moved.accounts.insert("later".into(), later);
    moved.reports.insert(
        "orders-later".into(),
        ReportConfig {
            accounts: vec!["later".into()],
            // Not subscribed at the new endpoints: poll soon.
            await_timeout_secs: 2,
            ..w.file.reports["orders"].clone()
        },
    );
    let pushed = w.local.stage().push(&moved).await?;
    let first_creates = w.sim.calls().calls("createReport");
    let outcome = w.run("orders-later", 11, None).await;
    let checked = match &outcome {
        Ok(outcome) => w.assert_stored_from(outcome, &elsewhere).await.map(Some),
        Err(_) => Ok(None),
    };
    let elsewhere_creates = elsewhere.calls().calls("createReport");
    // The original config back for the scenarios after this one, whatever happened.
    let restored = w.local.stage().push(&w.file).await;
    elsewhere.shutdown().await;
    outcome?;
    restored?;
    let result = checked?.context("no result")?;
    ensure!(
        elsewhere_creates == 1 && w.sim.calls().calls("createReport") == first_creates,
        "createReport at the new endpoints: {elsewhere_creates}, at the old: {}",
        w.sim.calls().calls("createReport") - first_creates
    );
    let record = w.table.request(&result.key).await?.context("no record")?;
    ensure!(
        result.account == "later" && record.selling_partner_id == "A2LATERSELLER",
        "the run used the old accounts: {result:?} {record:?}"
    );
    ensure!(
        pushed.version() != w.config.version(),
        "the pushed config has the old version"
    );
    Ok(())
}

/// Nothing secret anywhere the pipeline writes: every execution's history (inputs,
/// outputs, causes), every metadata item, the dead-letter queue and the functions' log.
async fn no_secret_anywhere(w: &World) -> anyhow::Result<()> {
    let secrets = [
        simulator::DEFAULT_CLIENT_SECRET,
        simulator::DEFAULT_REFRESH_TOKEN,
        "revoked-by-the-seller",
        "Atza|",
        "Atzr|",
        "X-Amz-Signature",
    ];
    let mut texts: Vec<(String, String)> = Vec::new();

    let sfn = aws_sdk_sfn::Client::new(w.local.aws());
    let executions = sfn
        .list_executions()
        .state_machine_arn(w.local.resources().names.state_machine_arn())
        .max_results(1000)
        .send()
        .await?;
    ensure!(
        executions.executions().len() >= 10,
        "only {} executions to scan",
        executions.executions().len()
    );
    for execution in executions.executions() {
        let arn = execution.execution_arn();
        let mut next_token = None;
        loop {
            let page = sfn
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .set_next_token(next_token)
                .send()
                .await?;
            for event in page.events() {
                let place = format!("{arn} event {}", event.id());
                for text in event_texts(event) {
                    texts.push((place.clone(), text));
                }
            }
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
    }
    let history_texts = texts.len();
    ensure!(
        history_texts > 100,
        "only {history_texts} history texts to scan"
    );

    let dynamodb = aws_sdk_dynamodb::Client::new(w.local.aws());
    let items = dynamodb
        .scan()
        .table_name(&w.local.resources().names.metadata_table)
        .send()
        .await?;
    for item in items.items() {
        let pk = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        for value in item.values() {
            if let Ok(text) = value.as_s() {
                texts.push((format!("metadata item {pk}"), text.clone()));
            }
        }
    }

    let sqs = aws_sdk_sqs::Client::new(w.local.aws());
    let dlq = sqs
        .get_queue_url()
        .queue_name(&w.local.resources().names.dead_letter_queue)
        .send()
        .await?;
    let letters = sqs
        .receive_message()
        .queue_url(dlq.queue_url().unwrap_or_default())
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await?;
    for message in letters.messages() {
        texts.push((
            "the dead-letter queue".into(),
            message.body().unwrap_or_default().to_owned(),
        ));
    }

    // The functions' own output: `cargo lambda watch` writes it to its log.
    let logs = std::env::temp_dir().join("sp-ingest-local-stack");
    for entry in std::fs::read_dir(&logs)?.flatten() {
        let path = entry.path();
        if path.to_string_lossy().contains("cargo-lambda-watch")
            && path.extension().is_some_and(|e| e == "log")
        {
            texts.push((path.display().to_string(), std::fs::read_to_string(&path)?));
        }
    }
    ensure!(
        texts
            .iter()
            .any(|(place, text)| place.contains("cargo-lambda-watch")
                && text.contains("outcome recorded")),
        "the functions' log was not found under {}",
        logs.display()
    );

    for (place, text) in &texts {
        for secret in secrets {
            ensure!(!text.contains(secret), "`{secret}` found in {place}");
        }
    }
    Ok(())
}

/// Every input, output, parameter and cause an event carries (the SDK's Debug output
/// redacts them, so each is taken out by name).
fn event_texts(event: &aws_sdk_sfn::types::HistoryEvent) -> Vec<String> {
    let mut out: Vec<Option<&str>> = Vec::new();
    if let Some(d) = event.execution_started_event_details() {
        out.push(d.input());
    }
    if let Some(d) = event.execution_succeeded_event_details() {
        out.push(d.output());
    }
    if let Some(d) = event.execution_failed_event_details() {
        out.push(d.cause());
    }
    if let Some(d) = event.state_entered_event_details() {
        out.push(d.input());
    }
    if let Some(d) = event.state_exited_event_details() {
        out.push(d.output());
    }
    if let Some(d) = event.task_scheduled_event_details() {
        out.push(Some(d.parameters()));
    }
    if let Some(d) = event.task_succeeded_event_details() {
        out.push(d.output());
    }
    if let Some(d) = event.task_failed_event_details() {
        out.push(d.cause());
    }
    if let Some(d) = event.lambda_function_scheduled_event_details() {
        out.push(d.input());
    }
    if let Some(d) = event.lambda_function_succeeded_event_details() {
        out.push(d.output());
    }
    if let Some(d) = event.lambda_function_failed_event_details() {
        out.push(d.cause());
    }
    out.into_iter().flatten().map(str::to_owned).collect()
}
