//! Plan and CreateReport: what to request this run, and requesting it exactly once.
//!
//! `plan` expands the configuration, as it is in Parameter Store now, into one candidate
//! per report × account × marketplace × trailing catch-up window
//! ([`domain::Config::plan`]) and asks the metadata table what earlier runs left for
//! each: landed windows are skipped, windows beyond the type's lookback are recorded
//! expired, the rest are requested ([`domain::Candidate::decide`]). `create` calls
//! createReport at most once per request key and report: the request is claimed in the
//! metadata table first (a conditional write), so a retried task or a rerun of the same
//! window reuses the report Amazon already made instead of spending createReport quota
//! (≈1/min) on a duplicate — unless the plan said that report cannot give data any more.

use std::time::Duration;

use chrono::TimeDelta;
use chrono::{DateTime, Utc};
use contract::{
    CreateReportInput, CreateReportOutput, PlanInput, PlanOutput, ReportCreatorInput,
    ReportCreatorOutput, RunInput, SealedToken,
};
use domain::ads::AdsReportSpec;
use domain::amc::Capacity;
use domain::rate_limit::{Admission, Bucket};
use domain::{Catalog, Decision, ErrorName, PlannedRequest};
use lambda_runtime::LambdaEvent;
use pipeline::metadata::BucketName;
use pipeline::metrics::{self, Metric};
use pipeline::spapi_access::application_of;
use pipeline::{Claim, ConfigStore, Failure, MetadataTable, SpApiAccess};
use spapi::CreateReportSpecification;
use spapi::ads::{AdsClient, Created};
use spapi::amc::AmcClient;
use spapi::data_kiosk::CreateQuerySpecification;

/// The function and the clients it keeps between invocations.
pub struct ReportCreator {
    config: ConfigStore,
    spapi: SpApiAccess,
    table: MetadataTable,
    capacity_wait_seconds: u64,
}

impl ReportCreator {
    /// The function with its clients; a request for which an AMC instance has no room
    /// waits `capacity_wait_seconds` before asking again.
    pub fn new(
        config: ConfigStore,
        spapi: SpApiAccess,
        table: MetadataTable,
        capacity_wait_seconds: u64,
    ) -> Self {
        ReportCreator {
            config,
            spapi,
            table,
            capacity_wait_seconds,
        }
    }

    /// Runs one invocation.
    pub async fn handle(
        &self,
        event: LambdaEvent<ReportCreatorInput>,
    ) -> Result<ReportCreatorOutput, Failure> {
        match event.payload {
            ReportCreatorInput::Plan(PlanInput { run }) => {
                self.plan(&run).await.map(ReportCreatorOutput::Plan)
            }
            ReportCreatorInput::CreateReport(input) => {
                let CreateReportInput {
                    item,
                    token,
                    run_started_at,
                } = *input;
                self.create(&item, &token, run_started_at)
                    .await
                    .map(ReportCreatorOutput::CreateReport)
            }
        }
    }

    async fn plan(&self, run: &RunInput) -> Result<PlanOutput, Failure> {
        let RunInput {
            reports,
            run_at,
            refresh,
            accounts,
            ..
        } = run;
        let (run_at, refresh) = (*run_at, *refresh);
        let config = self.config.config().await?;
        let unknown: Vec<&String> = reports
            .iter()
            .filter(|r| !config.reports.contains_key(*r))
            .collect();
        if !unknown.is_empty() {
            return Err(Failure::config(format!(
                "unknown report(s) {unknown:?} in the execution input; configured: {}",
                config.report_names()
            )));
        }
        let unknown: Vec<&String> = accounts
            .iter()
            .filter(|a| {
                !config.accounts.contains_key(*a)
                    && !config.ads_accounts.contains_key(*a)
                    && !config.amc_instances.contains_key(*a)
            })
            .collect();
        if !unknown.is_empty() {
            return Err(Failure::config(format!(
                "unknown account(s) {unknown:?} in the execution input; name accounts, Ads accounts or AMC instances of the config"
            )));
        }
        let mut candidates = config.plan_window(run_at, reports, run.span());
        candidates.retain(|c| accounts.is_empty() || accounts.contains(&c.planned.request.account));
        let keys: Vec<_> = candidates.iter().map(|c| c.planned.key.clone()).collect();
        let previous = self.table.previous(&keys).await?;
        let now = Utc::now();
        let (mut requests, mut skipped, mut expired) = (Vec::new(), 0, 0);
        for candidate in candidates {
            let before = previous.get(&candidate.planned.key);
            match candidate.decide(before, now, refresh) {
                Decision::Request(planned) => requests.push(*planned),
                Decision::Skip => skipped += 1,
                Decision::Expire(planned) => {
                    expired += 1;
                    let reason = format!(
                        "{} starts before how far back {} can be requested; it is not requested again",
                        planned.request.window.data_date(),
                        planned.request.report_type
                    );
                    self.table.record_expired(&planned, &reason, now).await?;
                    metrics::emit(
                        &[Metric::count("ReportsExpired")],
                        &[("Source", planned.request.source.as_str())],
                    );
                }
            }
        }
        tracing::info!(
            requests = requests.len(),
            skipped,
            expired,
            %run_at,
            span = ?run.span(),
            refresh,
            config_version = %config.version(),
            "planned"
        );
        Ok(PlanOutput::by_account(requests))
    }

    async fn create(
        &self,
        item: &PlannedRequest,
        token: &SealedToken,
        run_started_at: Option<DateTime<Utc>>,
    ) -> Result<CreateReportOutput, Failure> {
        if let Claim::Existing {
            report_id: Some(report_id),
        } = self.table.claim(item, Utc::now()).await?
        {
            tracing::info!(key = %item.key, %report_id, "request already has a report; reusing it");
            return Ok(CreateReportOutput {
                report_id,
                reused: true,
                wait_seconds: 0,
            });
        }
        let request = &item.request;
        let created_id = match self.create_at_amazon(item, token).await? {
            Creation::Created(id) => id,
            Creation::Wait(wait_seconds) => {
                give_up_waiting_past_patience(item, run_started_at, wait_seconds)?;
                return Ok(CreateReportOutput {
                    report_id: String::new(),
                    reused: false,
                    wait_seconds,
                });
            }
        };
        let standing = self
            .table
            .record_report_id(
                &item.key,
                &request.selling_partner_id,
                &created_id,
                Utc::now(),
            )
            .await?;
        tracing::info!(key = %item.key, report_id = %standing, report_type = %request.report_type, page = item.page_number(), "report created");
        if standing == created_id {
            metrics::emit(
                &[Metric::count("ReportsRequested")],
                &[("Source", request.source.as_str())],
            );
        }
        Ok(CreateReportOutput {
            reused: standing != created_id,
            report_id: standing,
            wait_seconds: 0,
        })
    }

    /// Asks Amazon for the request's report (query, Ads report, AMC execution), or says
    /// how long to wait first: the AMC instance has no room, or the shared rate limit no
    /// token soon — the state machine waits instead of a sleeping Lambda.
    async fn create_at_amazon(
        &self,
        item: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<Creation, Failure> {
        let request = &item.request;
        if request.amc.is_some() {
            if let Some(wait_seconds) = self.amc_place(item).await? {
                return Ok(Creation::Wait(wait_seconds));
            }
            let client = self.spapi.amc_client_for(item, token).await?;
            let created = create_amc_execution(&client, item).await;
            if created.is_err() {
                // Nothing runs: the place goes back at once, not when its lease ends.
                self.release_amc_place(item).await;
            }
            return created.map(Creation::Created);
        }
        if let Some(ads) = &request.ads {
            let client = self.spapi.ads_client_for(item, token).await?;
            return create_ads_report(&client, item, ads)
                .await
                .map(Creation::Created);
        }
        let client = self.spapi.client_for(item, token).await?;
        let created = match &request.query {
            Some(query) => create_query(&client, item, query).await,
            None => self.create_sp_report(&client, item, token).await,
        };
        match created {
            Ok(id) => Ok(Creation::Created(id)),
            Err(failure) => match failure.rate_limit_wait() {
                Some(wait_seconds) => {
                    tracing::info!(key = %item.key, wait_seconds, "{}; waiting", failure.describe());
                    Ok(Creation::Wait(wait_seconds))
                }
                None => Err(failure),
            },
        }
    }

    /// createReport for an SP-API request, within its type's hidden per-application
    /// quota where Amazon has one (catalog `appQuota`, e.g. Sales and Traffic's one per
    /// 15 minutes across all sellers: api-facts.md pitfall 1).
    async fn create_sp_report(
        &self,
        client: &spapi::SpApiClient,
        item: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<String, Failure> {
        let request = &item.request;
        let quota = self.take_app_quota(item, token).await?;
        let mut spec =
            CreateReportSpecification::new(&request.report_type, request.sorted_marketplaces())
                .with_data_window(request.window.start, request.window.amazon_end());
        for (name, value) in &request.options {
            spec = spec.with_option(name, value);
        }
        let created = client.create_report(&spec).await;
        if let (Err(error), Some((name, taken))) = (&created, quota) {
            // Not sent: the token goes back. Refused 429: Amazon's quota is spent
            // whatever ours said. Anything else may have reached Amazon: it stays spent.
            let mended = match error {
                spapi::Error::RateLimited { .. } => self.table.give_back_token(&name, taken).await,
                spapi::Error::Throttled { .. } => self
                    .table
                    .drain_bucket(&name, taken, Utc::now().timestamp_millis())
                    .await
                    .map(drop),
                _ => Ok(()),
            };
            if let Err(failure) = mended {
                tracing::warn!(bucket = %name, error = %failure, "could not correct the application's quota after a createReport that failed");
            }
        }
        Ok(created?.report_id)
    }

    /// A token of the report type's hidden per-application quota, if it has one: the
    /// bucket and its state after this call (to give the token back if the call is not
    /// made); a quota spent for now fails `RateLimited` with the wait.
    async fn take_app_quota(
        &self,
        item: &PlannedRequest,
        token: &SealedToken,
    ) -> Result<Option<(BucketName, Bucket)>, Failure> {
        let request = &item.request;
        let Some(plan) = Catalog::builtin()
            .report_type(&request.source, &request.report_type)
            .and_then(|spec| spec.app_quota_plan())
        else {
            return Ok(None);
        };
        let name = BucketName::app_quota(application_of(token), item.region, &request.report_type);
        let taken = self
            .table
            .take_token(
                &name,
                None,
                (plan, None),
                Utc::now().timestamp_millis(),
                Duration::ZERO,
            )
            .await?;
        match taken.admission {
            Admission::Go { next, .. } => Ok(Some((name, next))),
            Admission::Later { wait } => Err(spapi::Error::RateLimited {
                operation: "createReport",
                wait_secs: wait.as_secs() + 1,
            }
            .into()),
        }
    }

    /// Takes a place on the request's AMC instance: `None` when it has one (go on),
    /// `Some(seconds)` to wait before asking again because the instance runs as many
    /// executions as it may; a day whose executions are spent fails `Throttled` (the
    /// next run's catch-up runs the window).
    async fn amc_place(&self, item: &PlannedRequest) -> Result<Option<u64>, Failure> {
        let (Some(amc), Some(limits)) = (&item.request.amc, item.amc_limits) else {
            return Ok(None);
        };
        let now = Utc::now();
        // The place lasts as long as the execution may: its patience, and a margin.
        let lease_until =
            now + TimeDelta::seconds(i64::from(item.patience_secs)) + TimeDelta::hours(1);
        let capacity = self
            .table
            .take_amc_place(
                &amc.instance_id,
                &item.key,
                (limits.parallel, limits.daily),
                now,
                lease_until,
            )
            .await?;
        match capacity {
            Capacity::Start(_) | Capacity::Held => Ok(None),
            Capacity::Full { running } => {
                tracing::info!(key = %item.key, instance = %amc.instance_id, running, wait_seconds = self.capacity_wait_seconds, "the AMC instance runs as many executions as it may; waiting");
                Ok(Some(self.capacity_wait_seconds))
            }
            Capacity::DayIsSpent { started } => Err(Failure::new(
                ErrorName::Throttled,
                format!(
                    "AMC instance {} started {started} ad-hoc executions today, its daily limit; the next run's catch-up runs this window",
                    amc.instance_id
                ),
            )),
        }
    }

    /// Gives the request's place on its AMC instance back; a failure to do so only
    /// delays the next execution until the lease ends, so it is logged, not raised.
    async fn release_amc_place(&self, item: &PlannedRequest) {
        if let Some(amc) = &item.request.amc
            && let Err(error) = self
                .table
                .release_amc_place(&amc.instance_id, &item.key)
                .await
        {
            tracing::warn!(key = %item.key, error = %error, "giving back the AMC place failed; it lapses with its lease");
        }
    }
}

/// A request may wait for Amazon's quota or its AMC instance's room within its source's
/// patience, counted from the run's start; past it, the run gives up on it (`ReportStuck`,
/// recorded FAILED) so a seller whose every createReport is refused neither keeps the
/// run going for ever nor is asked in a loop; the next run's catch-up asks again.
fn give_up_waiting_past_patience(
    item: &PlannedRequest,
    run_started_at: Option<DateTime<Utc>>,
    wait_seconds: u64,
) -> Result<(), Failure> {
    let Some(started) = run_started_at else {
        return Ok(());
    };
    let patience = TimeDelta::seconds(i64::from(item.patience_secs));
    let wait = TimeDelta::seconds(i64::try_from(wait_seconds).unwrap_or(i64::MAX / 2));
    if Utc::now() + wait - started <= patience {
        return Ok(());
    }
    Err(Failure::new(
        ErrorName::ReportStuck,
        format!(
            "{} for {} ({}) has waited since the run started at {started} for Amazon to take its createReport (quota spent, or the AMC instance full); the next chance, in {wait_seconds} s, is past the source's patience of {} s, so this run gives up on it and the next run's catch-up asks again. If it keeps happening, check the account's quotas with Amazon",
            item.report,
            item.request.account,
            item.request.window.data_date(),
            item.patience_secs
        ),
    ))
}

/// What asking Amazon came to.
enum Creation {
    /// Amazon's id of the report, query or execution.
    Created(String),
    /// Nothing asked yet: wait this many seconds, then ask again.
    Wait(u64),
}

/// createReport for an Amazon Ads request: the report's configuration for its window's
/// days, under the profile; answers the report id. A 425 names a report of the same
/// request still being generated (a retried create that had succeeded): that one is
/// waited on, once its days and configuration are checked to be this request's.
async fn create_ads_report(
    client: &AdsClient,
    item: &PlannedRequest,
    ads: &AdsReportSpec,
) -> Result<String, Failure> {
    let request = &item.request;
    let (Some(report_type), Some(profile)) = (
        domain::ads::report_type(&request.report_type),
        request.ads_profile(),
    ) else {
        return Err(Failure::config(format!(
            "report {}: `{}` for profile `{}` is not an Amazon Ads report type and profile id; fix the report's config and push it again",
            item.report, request.report_type, request.selling_partner_id
        )));
    };
    let (start, end) = (
        request.window.start.date_naive(),
        request.window.amazon_end().date_naive(),
    );
    // The name shows in Amazon's console; the key finds the request's metadata.
    let name = format!("sp-ingest {} {start}..{end} {}", item.report, item.key);
    let body = ads.request_body(report_type, &name, start, end);
    match client.create_report(profile, &body).await? {
        Created::New(id) => Ok(id),
        Created::Duplicate(id) => {
            let existing = client.get_report(profile, &id).await?;
            match domain::ads::duplicate_difference(
                &body,
                existing.start_date.as_deref(),
                existing.end_date.as_deref(),
                &existing.configuration,
            ) {
                None => Ok(id),
                Some(difference) => Err(Failure::new(
                    ErrorName::Throttled,
                    format!(
                        "Amazon Ads calls this request a duplicate of report {id}, which is another request ({difference}); it is requested again once that one is done"
                    ),
                )),
            }
        }
    }
}

/// createWorkflowExecution for an AMC request: the workflow (the report type) for the
/// window's days as an EXPLICIT window in the configured time zone; answers the
/// execution id.
async fn create_amc_execution(
    client: &AmcClient,
    item: &PlannedRequest,
) -> Result<String, Failure> {
    let request = &item.request;
    let amc = request
        .amc
        .as_ref()
        .ok_or_else(|| Failure::config("an AMC request without its instance"))?;
    let body = amc.request_body(
        &request.report_type,
        request.window.start.date_naive(),
        request.window.end.date_naive(),
    );
    let execution = client.create_execution(&amc.instance_id, &body).await?;
    Ok(execution.workflow_execution_id)
}

/// createQuery for a Data Kiosk request: the GraphQL text built from the request's query
/// for its window's days and marketplaces (with the previous page's token for a later
/// page); answers the query id.
async fn create_query(
    client: &spapi::SpApiClient,
    item: &PlannedRequest,
    query: &domain::data_kiosk::QuerySpec,
) -> Result<String, Failure> {
    let request = &item.request;
    let days = (
        request.window.start.date_naive(),
        request.window.amazon_end().date_naive(),
    );
    let marketplaces: Vec<String> = request
        .sorted_marketplaces()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let built = query
        .build(&request.report_type, days, &marketplaces)
        .map_err(|problems| {
            Failure::config(format!(
                "report {}: the Data Kiosk query does not build: {}; fix the report's config and push it again",
                item.report,
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
    let specification = CreateQuerySpecification {
        query: built.text,
        pagination_token: item.page.as_ref().map(|page| page.token.clone()),
    };
    Ok(client.create_query(&specification).await?.query_id)
}
