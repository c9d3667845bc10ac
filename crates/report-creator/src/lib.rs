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

use chrono::{DateTime, NaiveDate, Utc};
use contract::{
    CreateReportInput, CreateReportOutput, PlanInput, PlanOutput, ReportCreatorInput,
    ReportCreatorOutput, SealedToken,
};
use domain::{Decision, PlannedRequest};
use lambda_runtime::LambdaEvent;
use pipeline::{Claim, ConfigStore, Failure, MetadataTable, SpApiAccess};
use spapi::CreateReportSpecification;
use spapi::data_kiosk::CreateQuerySpecification;

/// The function and the clients it keeps between invocations.
pub struct ReportCreator {
    config: ConfigStore,
    spapi: SpApiAccess,
    table: MetadataTable,
}

impl ReportCreator {
    /// The function with its clients.
    pub fn new(config: ConfigStore, spapi: SpApiAccess, table: MetadataTable) -> Self {
        ReportCreator {
            config,
            spapi,
            table,
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
            });
        }
        let client = self.spapi.client_for(item, token).await?;
        let request = &item.request;
        let created_id = match &request.query {
            Some(query) => create_query(&client, item, query).await?,
            None => {
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
        })
    }
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
