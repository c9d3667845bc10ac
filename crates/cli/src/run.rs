//! Running the ingest state machine once and following it to the end.
//!
//! The execution name is deterministic (report set + run time), so the same run started
//! twice is refused by Step Functions itself (design.md "Idempotency"); progress is read
//! from the execution history, and the run's summary from the output of `Summarize`,
//! which exists whether the run then succeeded or failed with `ReportFatal`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use chrono::{DateTime, NaiveDate, Utc};
use contract::{DayRange, RunInput, RunSummary};

/// One run to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// Reports to run (config names); empty = all.
    pub reports: Vec<String>,
    /// The run's time: windows end relative to it.
    pub run_at: DateTime<Utc>,
    /// Appended to the execution name, for deliberate reruns of the same window.
    pub attempt: Option<String>,
    /// Request new reports even for windows that landed, replacing their objects.
    pub refresh: bool,
    /// Only the window starting on this day, instead of the catch-up windows.
    pub window: Option<NaiveDate>,
    /// A backfill of these days instead of the catch-up windows.
    pub backfill: Option<DayRange>,
    /// Only these accounts; empty = all.
    pub accounts: Vec<String>,
}

impl RunRequest {
    /// The execution name: `<run time>-<reports>[-refresh][-window-<day>][-<accounts>]
    /// [-<attempt>]`, or for a backfill `backfill-<reports>-<from>-<to>[-<accounts>]
    /// [-<attempt>]` (no run time: a backfill started again is the same run), within Step
    /// Functions' 80 characters of `[A-Za-z0-9-_]`.
    pub fn execution_name(&self) -> String {
        let reports = if self.reports.is_empty() {
            "all".to_owned()
        } else {
            self.reports.join("+")
        };
        let mut name = match self.backfill {
            Some(DayRange { from, to }) => format!("backfill-{reports}-{from}-{to}"),
            None => format!("{}-{}", self.run_at.format("%Y%m%dT%H%M%SZ"), reports),
        };
        // A refresh of a run that already happened is a new run, not its duplicate.
        if self.refresh {
            name.push_str("-refresh");
        }
        if let Some(window) = self.window {
            name.push_str(&format!("-window-{window}"));
        }
        if !self.accounts.is_empty() {
            name.push('-');
            name.push_str(&self.accounts.join("+"));
        }
        if let Some(attempt) = &self.attempt {
            name.push('-');
            name.push_str(attempt);
        }
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        name.chars().take(80).collect()
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The execution's ARN.
    pub execution_arn: String,
    /// SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    /// The error name when it failed.
    pub error: Option<String>,
    /// The error's cause when it failed.
    pub cause: Option<String>,
    /// The summary, when the run got as far as `Summarize`.
    pub summary: Option<RunSummary>,
    /// From StartExecution to the end.
    pub elapsed: Duration,
    /// What the run used, from its history.
    pub usage: Usage,
}

/// What a run used, counted from its execution history: what Step Functions and Lambda
/// bill, for the cost estimate (README "Deploy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// States entered (Standard workflows bill per state transition).
    pub transitions: usize,
    /// Lambda invocations.
    pub invocations: usize,
    /// Milliseconds from each invocation's start to its answer, summed, for the
    /// invocations the history times (not `.waitForTaskToken` ones, whose answer is the
    /// task token's).
    pub invocation_ms: u64,
}

impl Usage {
    /// Counts `history`.
    pub fn of(history: &[aws_sdk_sfn::types::HistoryEvent]) -> Usage {
        let by_id: std::collections::HashMap<i64, &aws_sdk_sfn::types::HistoryEvent> =
            history.iter().map(|e| (e.id(), e)).collect();
        let mut usage = Usage::default();
        for event in history {
            let kind = event.r#type().as_str();
            if kind.ends_with("StateEntered") {
                usage.transitions += 1;
            }
            if event.r#type() == &HistoryEventType::TaskScheduled {
                usage.invocations += 1;
            }
            if !matches!(kind, "TaskSucceeded" | "TaskFailed" | "TaskTimedOut") {
                continue;
            }
            let started = by_id.get(&event.previous_event_id());
            let scheduled = started.and_then(|s| by_id.get(&s.previous_event_id()));
            let waits_for_token = scheduled
                .and_then(|s| s.task_scheduled_event_details())
                .is_some_and(|d| d.resource().ends_with("waitForTaskToken"));
            if let (Some(started), false) = (started, waits_for_token)
                && started.r#type() == &HistoryEventType::TaskStarted
            {
                let ms = event.timestamp().to_millis().unwrap_or(0)
                    - started.timestamp().to_millis().unwrap_or(0);
                usage.invocation_ms += u64::try_from(ms).unwrap_or(0);
            }
        }
        usage
    }
}

/// Starts the run and waits for its end, calling `progress` with each state entered.
pub async fn run(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    request: &RunRequest,
    timeout: Duration,
    progress: impl FnMut(Duration, &str),
) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let execution_arn = start(sfn, state_machine_arn, request).await?;
    follow(sfn, &execution_arn, started, timeout, progress).await
}

/// Starts the run; answers its execution's ARN.
pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    request: &RunRequest,
) -> anyhow::Result<String> {
    let input = RunInput {
        reports: request.reports.clone(),
        run_at: request.run_at,
        refresh: request.refresh,
        window: request.window,
        backfill: request.backfill,
        accounts: request.accounts.clone(),
    };
    Ok(sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(request.execution_name())
        .input(serde_json::to_string(&input)?)
        .send()
        .await
        .with_context(|| format!("starting execution {}", request.execution_name()))?
        .execution_arn()
        .to_owned())
}

/// Follows an execution to its end, calling `progress` with each state entered.
pub async fn follow(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    started: Instant,
    timeout: Duration,
    mut progress: impl FnMut(Duration, &str),
) -> anyhow::Result<RunOutcome> {
    let execution_arn = execution_arn.to_owned();
    let mut last_seen = 0;
    loop {
        let new = events_after(sfn, &execution_arn, last_seen).await?;
        let entered = [
            HistoryEventType::TaskStateEntered,
            HistoryEventType::ChoiceStateEntered,
            HistoryEventType::WaitStateEntered,
        ];
        for event in &new {
            last_seen = last_seen.max(event.id());
            if entered.contains(event.r#type())
                && let Some(details) = event.state_entered_event_details()
            {
                progress(started.elapsed(), details.name());
            }
        }
        let described = sfn
            .describe_execution()
            .execution_arn(&execution_arn)
            .send()
            .await
            .context("describing the execution")?;
        let status = described.status().clone();
        if status != ExecutionStatus::Running && status != ExecutionStatus::PendingRedrive {
            // A successful run's output is the summary; a failed one's is in the history,
            // read again now: the read above may predate the run's last states.
            let history = events_after(sfn, &execution_arn, 0).await?;
            let from_output = described
                .output()
                .and_then(|o| serde_json::from_str::<RunSummary>(o).ok());
            let summary = from_output.or_else(|| {
                history.iter().rev().find_map(|event| {
                    let exited = event.state_exited_event_details()?;
                    (exited.name() == "Summarize")
                        .then(|| exited.output().and_then(|o| serde_json::from_str(o).ok()))
                        .flatten()
                })
            });
            if summary.is_none() {
                tracing::warn!(output = ?described.output(), "the run's summary could not be read");
            }
            return Ok(RunOutcome {
                execution_arn,
                status: status.as_str().to_owned(),
                error: described.error().map(str::to_owned),
                cause: described.cause().map(str::to_owned),
                summary,
                elapsed: started.elapsed(),
                usage: Usage::of(&history),
            });
        }
        if started.elapsed() > timeout {
            anyhow::bail!(
                "execution {execution_arn} still running after {} s; see its history",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// [`run`] at a terminal: prints the execution's name, each state entered and how the
/// run ended (error and cause when it failed).
pub async fn run_and_print(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    request: &RunRequest,
    timeout: Duration,
) -> anyhow::Result<RunOutcome> {
    println!("running {} …", request.execution_name());
    let outcome = run(
        sfn,
        state_machine_arn,
        request,
        timeout,
        |elapsed, state| println!("  {:>8.1} s  {state}", elapsed.as_secs_f64()),
    )
    .await?;
    let usage = outcome.usage;
    println!(
        "execution {} in {:.1} s: {} state transitions, {} Lambda invocations ({:.1} s timed)",
        outcome.status,
        outcome.elapsed.as_secs_f64(),
        usage.transitions,
        usage.invocations,
        usage.invocation_ms as f64 / 1000.0
    );
    if let Some(error) = &outcome.error {
        println!(
            "  error {error}: {}",
            outcome.cause.as_deref().unwrap_or("")
        );
    }
    Ok(outcome)
}

/// The events after event `after`, oldest first: read newest first and only as far back
/// as needed, so following a long run costs one small page per poll, not its whole
/// history. (moto ignores `reverseOrder`; then every page is read and filtered.)
async fn events_after(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    after: i64,
) -> anyhow::Result<Vec<aws_sdk_sfn::types::HistoryEvent>> {
    let mut events = Vec::new();
    let mut next_token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(100)
            .set_next_token(next_token)
            .send()
            .await
            .context("reading the execution history")?;
        let newest_first = match (page.events().first(), page.events().last()) {
            (Some(first), Some(last)) => first.id() >= last.id(),
            _ => true,
        };
        events.extend(page.events().iter().filter(|e| e.id() > after).cloned());
        let reached = newest_first && page.events().iter().any(|e| e.id() <= after);
        next_token = page.next_token().map(str::to_owned);
        if reached || next_token.is_none() {
            events.sort_by_key(|e| e.id());
            return Ok(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::primitives::DateTime as SfnTime;
    use aws_sdk_sfn::types::{HistoryEvent, TaskScheduledEventDetails};

    fn event(id: i64, previous: i64, kind: HistoryEventType, ms: i64) -> HistoryEvent {
        HistoryEvent::builder()
            .id(id)
            .previous_event_id(previous)
            .r#type(kind)
            .timestamp(SfnTime::from_millis(ms))
            .build()
            .unwrap()
    }

    fn scheduled(id: i64, resource: &str) -> HistoryEvent {
        let details = TaskScheduledEventDetails::builder()
            .resource_type("lambda")
            .resource(resource)
            .region("us-east-1")
            .parameters("{}")
            .build()
            .unwrap();
        HistoryEvent::builder()
            .id(id)
            .previous_event_id(id - 1)
            .r#type(HistoryEventType::TaskScheduled)
            .timestamp(SfnTime::from_millis(0))
            .task_scheduled_event_details(details)
            .build()
            .unwrap()
    }

    #[test]
    fn usage_counts_transitions_invocations_and_times_only_what_answers_itself() {
        use HistoryEventType::{TaskStarted, TaskStateEntered, TaskSucceeded};
        let history = vec![
            event(1, 0, TaskStateEntered, 0),
            scheduled(2, "invoke"),
            event(3, 2, TaskStarted, 1_000),
            event(4, 3, TaskSucceeded, 1_150),
            event(5, 4, TaskStateEntered, 1_200),
            scheduled(6, "invoke.waitForTaskToken"),
            event(7, 6, TaskStarted, 1_300),
            // The token came back an hour later: not the Lambda's time.
            event(8, 7, TaskSucceeded, 3_601_300),
            event(9, 8, HistoryEventType::ChoiceStateEntered, 3_601_400),
        ];
        assert_eq!(
            Usage::of(&history),
            Usage {
                transitions: 3,
                invocations: 2,
                invocation_ms: 150,
            }
        );
    }

    #[test]
    fn execution_name_is_deterministic_and_valid() {
        let request = RunRequest {
            reports: vec!["orders".into(), "jp orders".into()],
            run_at: "2026-11-25T06:00:00Z".parse().unwrap(),
            attempt: None,
            refresh: false,
            window: None,
            backfill: None,
            accounts: Vec::new(),
        };
        assert_eq!(
            request.execution_name(),
            "20261125T060000Z-orders+jp_orders".replace('+', "_")
        );
        let again = RunRequest {
            attempt: Some("2".into()),
            ..request.clone()
        };
        assert_eq!(
            again.execution_name(),
            "20261125T060000Z-orders_jp_orders-2"
        );
        let all = RunRequest {
            reports: vec![],
            ..request
        };
        assert_eq!(all.execution_name(), "20261125T060000Z-all");
        let refresh = RunRequest {
            refresh: true,
            ..all
        };
        assert_eq!(refresh.execution_name(), "20261125T060000Z-all-refresh");
        let window = RunRequest {
            window: "2026-11-01".parse().ok(),
            ..refresh
        };
        assert_eq!(
            window.execution_name(),
            "20261125T060000Z-all-refresh-window-2026-11-01"
        );
        // A backfill's name has no clock: started again, it is the same run.
        let backfill = RunRequest {
            reports: vec!["orders".into()],
            run_at: Utc::now(),
            attempt: Some("r2".into()),
            refresh: false,
            window: None,
            backfill: Some(DayRange {
                from: "2025-01-01".parse().unwrap(),
                to: "2025-03-02".parse().unwrap(),
            }),
            accounts: vec!["us".into()],
        };
        assert_eq!(
            backfill.execution_name(),
            "backfill-orders-2025-01-01-2025-03-02-us-r2"
        );
    }
}
