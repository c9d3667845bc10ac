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

use chrono::TimeDelta;
use chrono::{DateTime, NaiveDate, Utc};
use contract::{
    CreateReportInput, CreateReportOutput, PlanInput, PlanOutput, ReportCreatorInput,
    ReportCreatorOutput, SealedToken,
};
use domain::ads::AdsReportSpec;
use domain::amc::Capacity;
use domain::{Decision, ErrorName, PlannedRequest};
use lambda_runtime::LambdaEvent;
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
            ReportCreatorInput::Plan(PlanInput { run }) => self
                .plan(&run.reports, run.run_at, run.window, run.refresh)
                .await
                .map(ReportCreatorOutput::Plan),
            ReportCreatorInput::CreateReport(input) => {
                let CreateReportInput { item, token } = *input;
                self.create(&item, &token)
                    .await
                    .map(ReportCreatorOutput::CreateReport)
            }
        }
    }

    async fn plan(
        &self,
        reports: &[String],
        run_at: DateTime<Utc>,
        window: Option<NaiveDate>,
        refresh: bool,
    ) -> Result<PlanOutput, Failure> {
        let config = self.config.config().await?;
        let unknown: Vec<&String> = reports
            .iter()
            .filter(|r| !config.reports.contains_key(*r))
            .collect();
        if !unknown.is_empty() {
            return Err(Failure::config(format!(
                "unknown report(s) {unknown:?} in the execution input; configured: {}",
                config
                    .reports
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let candidates = config.plan_window(run_at, reports, window);
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
                }
            }
        }
        tracing::info!(
            requests = requests.len(),
            skipped,
            expired,
            %run_at,
            ?window,
            refresh,
            config_version = %config.version(),
            "planned"
        );
        Ok(PlanOutput { requests })
    }

    async fn create(
        &self,
        item: &PlannedRequest,
        token: &SealedToken,
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
        let created_id = match (&request.query, &request.ads) {
            _ if request.amc.is_some() => match self.amc_place(item).await? {
                Some(wait_seconds) => {
                    return Ok(CreateReportOutput {
                        report_id: String::new(),
                        reused: false,
                        wait_seconds,
                    });
                }
                None => {
                    let client = self.spapi.amc_client_for(item, token).await?;
                    let created = create_amc_execution(&client, item).await;
                    if created.is_err() {
                        // Nothing runs: the place goes back at once, not when its lease ends.
                        self.release_amc_place(item).await;
                    }
                    created?
                }
            },
            (_, Some(ads)) => {
                let client = self.spapi.ads_client_for(item, token).await?;
                create_ads_report(&client, item, ads).await?
            }
            (Some(query), None) => {
                let client = self.spapi.client_for(item, token).await?;
                create_query(&client, item, query).await?
            }
            (None, None) => {
                let client = self.spapi.client_for(item, token).await?;
                let mut spec = CreateReportSpecification::new(
                    &request.report_type,
                    request.sorted_marketplaces(),
                )
                .with_data_window(request.window.start, request.window.amazon_end());
                for (name, value) in &request.options {
                    spec = spec.with_option(name, value);
                }
                client.create_report(&spec).await?.report_id
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
        Ok(CreateReportOutput {
            reused: standing != created_id,
            report_id: standing,
            wait_seconds: 0,
        })
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
