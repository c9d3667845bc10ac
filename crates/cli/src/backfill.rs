//! `sp-ingest backfill`: a range of days of one report, as ordinary requests.
//!
//! The windows are the fewest each report type allows ([`domain::backfill`]: its longest
//! window or its period, aligned, within its lookback), oldest first; landed ones are
//! skipped. They run as **child executions of the ingest state machine**, each a run of
//! consecutive windows (at most [`REQUESTS_PER_RUN`] requests), a few at a time. Why not
//! a Distributed Map: every window is already an ordinary request of the ingest machine
//! (claims, retries, shared rate limits, curated tables), a run of 60 requests stays far
//! inside Step Functions' 256 KB payload and 25,000-event history, thousands of windows
//! are only more runs, and the pace is Amazon's quota anyway (createReport ≈ 1/min per
//! seller) — while Distributed Map is not something the local emulator runs, so it could
//! not be tested here.
//!
//! Resuming: a run's execution name is its report, days and accounts (no clock), so a
//! backfill started again finds the runs it started: one still running is followed, not
//! started twice; windows that landed are skipped; a window whose run ended without it
//! gets a new attempt. Underneath, each request is claimed in the metadata table before
//! createReport, so even a run started twice asks Amazon once per window.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, NaiveDate, Utc};
use contract::DayRange;
use domain::{Config, Ended, RequestKey, Span};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::MetadataTable;

use crate::run::{self, RunRequest};

/// Requests per child execution: well inside Step Functions' payload and history limits.
pub const REQUESTS_PER_RUN: usize = 60;

/// What to backfill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    /// The report (config name).
    pub report: String,
    /// The days.
    pub days: DayRange,
    /// Only these accounts; empty = every account of the report.
    pub accounts: Vec<String>,
    /// Child executions at once.
    pub parallel: usize,
    /// Requests per child execution.
    pub per_run: usize,
}

/// One child execution's share: consecutive windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// From its first window's start to its last window's end.
    pub days: DayRange,
    /// Its requests.
    pub keys: Vec<RequestKey>,
}

/// How a backfill stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Windows landed (stored, or no data).
    pub landed: usize,
    /// Windows whose last request failed or ended FATAL.
    pub failed: usize,
    /// Windows beyond the type's lookback.
    pub expired: usize,
    /// Every window.
    pub total: usize,
}

impl Tally {
    /// Windows not landed, failed or expired.
    pub fn remaining(&self) -> usize {
        self.total - self.landed - self.failed - self.expired
    }
}

impl Backfill {
    /// The run of `part`, as a [`RunRequest`] (attempt 1 has no suffix).
    fn request(&self, part: &Part, run_at: DateTime<Utc>, attempt: u32) -> RunRequest {
        RunRequest {
            reports: vec![self.report.clone()],
            run_at,
            attempt: (attempt > 1).then(|| format!("r{attempt}")),
            refresh: false,
            window: None,
            backfill: Some(part.days),
            accounts: self.accounts.clone(),
        }
    }

    /// The windows of the backfill at `now`, cut into parts of at most `per_run` requests
    /// (a window's requests for every account and marketplace stay in one part), oldest
    /// first.
    pub fn parts(&self, config: &Config, now: DateTime<Utc>) -> anyhow::Result<Vec<Part>> {
        anyhow::ensure!(
            config.reports.contains_key(&self.report),
            "no report `{}` in the pushed config; configured: {}",
            self.report,
            config.report_names()
        );
        anyhow::ensure!(
            self.days.from < self.days.to,
            "--from {} is not before --to {}",
            self.days.from,
            self.days.to
        );
        let span = Span::Backfill {
            from: self.days.from,
            to: self.days.to,
        };
        let mut by_window: BTreeMap<(NaiveDate, NaiveDate), Vec<RequestKey>> = BTreeMap::new();
        for candidate in config.plan_window(now, std::slice::from_ref(&self.report), span) {
            let request = &candidate.planned.request;
            if !self.accounts.is_empty() && !self.accounts.contains(&request.account) {
                continue;
            }
            let window = (
                request.window.start.date_naive(),
                request.window.end.date_naive(),
            );
            by_window
                .entry(window)
                .or_default()
                .push(candidate.planned.key);
        }
        let mut parts: Vec<Part> = Vec::new();
        for ((start, end), keys) in by_window {
            match parts.last_mut() {
                Some(part) if part.keys.len() + keys.len() <= self.per_run.max(1) => {
                    part.days.to = end;
                    part.keys.extend(keys);
                }
                _ => parts.push(Part {
                    days: DayRange {
                        from: start,
                        to: end,
                    },
                    keys,
                }),
            }
        }
        Ok(parts)
    }
}

/// How each of the windows `keys` stands in the metadata table.
async fn tally(table: &MetadataTable, keys: &[RequestKey]) -> anyhow::Result<Tally> {
    Ok(count(keys, &table.previous(keys).await?))
}

fn count(keys: &[RequestKey], previous: &HashMap<RequestKey, domain::Previous>) -> Tally {
    let mut tally = Tally {
        total: keys.len(),
        ..Tally::default()
    };
    for ended in keys.iter().filter_map(|k| previous.get(k)?.ended.as_ref()) {
        match ended {
            Ended::Landed => tally.landed += 1,
            Ended::Fatal | Ended::Failed(_) => tally.failed += 1,
            Ended::Expired => tally.expired += 1,
        }
    }
    tally
}

/// Whether every window of `part` has landed or expired (nothing left to run).
fn done(part: &Part, previous: &HashMap<RequestKey, domain::Previous>) -> bool {
    part.keys.iter().all(|k| {
        matches!(
            previous.get(k).and_then(|p| p.ended.as_ref()),
            Some(Ended::Landed | Ended::Expired)
        )
    })
}

/// The ARN of the execution named `name` of the state machine `state_machine_arn`.
fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Runs the backfill's parts not landed yet, `parallel` at a time, updating `bar`
/// (landed of total, failed and remaining in its message) until every part's run ended.
pub async fn run(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    table: &MetadataTable,
    backfill: &Backfill,
    parts: Vec<Part>,
    bar: &ProgressBar,
) -> anyhow::Result<Tally> {
    let keys: Vec<RequestKey> = parts.iter().flat_map(|p| p.keys.clone()).collect();
    let previous = table.previous(&keys).await?;
    bar.set_length(keys.len() as u64);
    show(bar, count(&keys, &previous));
    let to_run: Vec<Part> = parts
        .iter()
        .filter(|part| !done(part, &previous))
        .cloned()
        .collect();
    let run_at = Utc::now();
    let mut running = tokio::task::JoinSet::new();
    let mut waiting = to_run.into_iter();
    let mut failures = Vec::new();
    loop {
        while running.len() < backfill.parallel.max(1) {
            let Some(part) = waiting.next() else { break };
            let (sfn, state_machine_arn, backfill) =
                (sfn.clone(), state_machine_arn.to_owned(), backfill.clone());
            running.spawn(async move {
                run_part(&sfn, &state_machine_arn, &backfill, &part, run_at).await
            });
        }
        if running.is_empty() {
            break;
        }
        // Redraw every few seconds while runs go on; collect each run that ends.
        tokio::select! {
            ended = running.join_next() => {
                match ended {
                    Some(Ok(Err(error))) => failures.push(format!("{error:#}")),
                    Some(Err(panic)) => failures.push(panic.to_string()),
                    _ => {}
                }
            }
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        show(bar, tally(table, &keys).await?);
    }
    let tally = tally(table, &keys).await?;
    show(bar, tally);
    anyhow::ensure!(
        failures.is_empty(),
        "{} run(s) could not be followed: {}",
        failures.len(),
        failures.join("; ")
    );
    Ok(tally)
}

fn show(bar: &ProgressBar, tally: Tally) {
    bar.set_position((tally.landed + tally.expired) as u64);
    bar.set_message(format!(
        "landed {} · failed {} · expired {} · remaining {}",
        tally.landed,
        tally.failed,
        tally.expired,
        tally.remaining()
    ));
}

/// A progress bar for `backfill` at a terminal.
pub fn bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} windows · {msg} · ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// Runs one part: follows its run if one is still going, else starts the next attempt.
async fn run_part(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    backfill: &Backfill,
    part: &Part,
    run_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let follow = |arn: String| async move {
        run::follow(
            sfn,
            &arn,
            Instant::now(),
            Duration::from_secs(7 * 24 * 3600),
            |_, _| {},
        )
        .await
        .map(drop)
    };
    for attempt in 1..=1000 {
        let request = backfill.request(part, run_at, attempt);
        let arn = execution_arn(state_machine_arn, &request.execution_name());
        match sfn.describe_execution().execution_arn(&arn).send().await {
            Ok(described) if described.status() == &ExecutionStatus::Running => {
                tracing::info!(execution = %arn, "a run of this part is still going; following it");
                return follow(arn).await;
            }
            // Ended before: a new attempt covers what it did not land.
            Ok(_) => continue,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                let arn = run::start(sfn, state_machine_arn, &request).await?;
                return follow(arn).await;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("looking for execution {arn}"));
            }
        }
    }
    anyhow::bail!(
        "part {}..{} has had 1000 runs; start the backfill with other days",
        part.days.from,
        part.days.to
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> RequestKey {
        RequestKey::parse(&format!("{n:032x}")).unwrap()
    }

    #[test]
    fn executions_are_named_after_their_state_machine() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:sp-ingest-prod-ingest",
                "backfill-orders-2025-01-01-2025-02-01"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:sp-ingest-prod-ingest:backfill-orders-2025-01-01-2025-02-01"
        );
    }

    #[test]
    fn a_tally_counts_each_window_by_how_its_request_ended() {
        let ended = |e: Ended| domain::Previous {
            report_id: None,
            requested_at: None,
            status: None,
            ended: Some(e),
        };
        let previous = HashMap::from([
            (key(1), ended(Ended::Landed)),
            (key(2), ended(Ended::Failed("Throttled".into()))),
            (key(3), ended(Ended::Expired)),
        ]);
        let keys = [key(1), key(2), key(3), key(4)];
        let tally = count(&keys, &previous);
        assert_eq!(
            (tally.landed, tally.failed, tally.expired, tally.remaining()),
            (1, 1, 1, 1)
        );
        let part = Part {
            days: DayRange {
                from: "2025-01-01".parse().unwrap(),
                to: "2025-01-03".parse().unwrap(),
            },
            keys: vec![key(1), key(3)],
        };
        assert!(done(&part, &previous));
        assert!(!done(
            &Part {
                keys: vec![key(1), key(2)],
                ..part
            },
            &previous
        ));
    }
}
