//! `sp-ingest status`: each report's catch-up windows as of now, and how each stands in
//! the metadata table — the windows the next run would look at, read by key (no scan).

use chrono::{DateTime, Utc};
use contract::Outcome;
use domain::{Config, ProcessingStatus, RequestKey};
use pipeline::MetadataTable;
use serde::Serialize;

/// One window of one report, account and marketplaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowStatus {
    /// The report's config name.
    pub report: String,
    /// The account.
    pub account: String,
    /// Marketplaces.
    pub marketplace_ids: Vec<String>,
    /// The window's first day.
    pub data_date: String,
    /// The request key (the raw object's name).
    pub key: RequestKey,
    /// How it stands.
    pub state: WindowState,
    /// Not landed although a newer window of the report is due: a run should have
    /// landed it (or it keeps failing).
    pub late: bool,
}

/// Which windows `status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these reports (config names); all when empty.
    pub reports: Vec<String>,
    /// Only these accounts (config names); all when empty.
    pub accounts: Vec<String>,
    /// Only windows starting at most this long before now.
    pub since: Option<chrono::TimeDelta>,
}

/// `7d`, `36h`, `90m` as a duration.
pub fn parse_since(text: &str) -> anyhow::Result<chrono::TimeDelta> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("--since `{text}` is not like 7d, 36h or 90m"))?;
    match unit {
        "d" => Ok(chrono::TimeDelta::days(n)),
        "h" => Ok(chrono::TimeDelta::hours(n)),
        "m" => Ok(chrono::TimeDelta::minutes(n)),
        _ => anyhow::bail!("--since `{text}` is not like 7d, 36h or 90m"),
    }
}

/// How a window stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WindowState {
    /// No run asked for it yet.
    NotRequested,
    /// Requested and not ended: Amazon is still making the report, or the run is on it.
    #[serde(rename_all = "camelCase")]
    Waiting {
        /// Amazon's report id, once created.
        report_id: Option<String>,
        /// Its last known status.
        status: Option<ProcessingStatus>,
        /// When the report was requested.
        since: Option<DateTime<Utc>>,
    },
    /// Ended: stored, no data, FATAL, failed or expired.
    Ended {
        /// Amazon's report id, if one was created.
        report_id: Option<String>,
        /// How.
        #[serde(flatten)]
        outcome: Outcome,
    },
}

impl WindowState {
    /// Whether the window needs nothing more (stored or no data).
    pub fn landed(&self) -> bool {
        matches!(
            self,
            WindowState::Ended {
                outcome: Outcome::Stored(_) | Outcome::StoredPages { .. } | Outcome::NoData,
                ..
            }
        )
    }
}

/// The windows a run at `now` of `reports` (all when empty) would cover, each with what
/// `table` holds for it.
pub async fn windows(
    table: &MetadataTable,
    config: &Config,
    now: DateTime<Utc>,
    reports: &[String],
) -> anyhow::Result<Vec<WindowStatus>> {
    let filter = Filter {
        reports: reports.to_vec(),
        ..Filter::default()
    };
    windows_of(table, config, now, &filter).await
}

/// [`windows`] narrowed by `filter`, each marked late when it should have landed.
pub async fn windows_of(
    table: &MetadataTable,
    config: &Config,
    now: DateTime<Utc>,
    filter: &Filter,
) -> anyhow::Result<Vec<WindowStatus>> {
    let reports = &filter.reports;
    if let Some(unknown) = reports.iter().find(|r| !config.reports.contains_key(*r)) {
        anyhow::bail!(
            "stage `{}` has no report `{unknown}`; its reports: {:?}",
            config.stage,
            config.reports.keys().collect::<Vec<_>>()
        );
    }
    let candidates: Vec<_> = config
        .plan(now, reports)
        .into_iter()
        .filter(|c| {
            filter.accounts.is_empty() || filter.accounts.contains(&c.planned.request.account)
        })
        .filter(|c| {
            filter
                .since
                .is_none_or(|since| c.planned.request.window.start >= now - since)
        })
        .collect();
    // The newest window of each report: the one the next run is about to land.
    let mut newest: std::collections::BTreeMap<&str, DateTime<Utc>> = Default::default();
    for c in &candidates {
        let end = c.planned.request.window.end;
        let slot = newest.entry(c.planned.report.as_str()).or_insert(end);
        *slot = (*slot).max(end);
    }
    let newest: std::collections::BTreeMap<String, DateTime<Utc>> =
        newest.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let keys: Vec<RequestKey> = candidates.iter().map(|c| c.planned.key.clone()).collect();
    let records = table
        .records(&keys)
        .await
        .map_err(|failure| anyhow::anyhow!(failure.describe()))?;
    Ok(candidates
        .into_iter()
        .map(|candidate| {
            let planned = candidate.planned;
            let state = match records.get(&planned.key) {
                None => WindowState::NotRequested,
                Some(record) => match &record.outcome {
                    Some(outcome) => WindowState::Ended {
                        report_id: record.report_id.clone(),
                        outcome: outcome.clone(),
                    },
                    None => WindowState::Waiting {
                        report_id: record.report_id.clone(),
                        status: record.status,
                        since: record.report_requested_at,
                    },
                },
            };
            let late = !state.landed()
                && newest
                    .get(&planned.report)
                    .is_some_and(|end| planned.request.window.end < *end);
            WindowStatus {
                late,
                report: planned.report,
                account: planned.request.account,
                marketplace_ids: planned.request.marketplace_ids,
                data_date: planned.request.window.start.date_naive().to_string(),
                key: planned.key,
                state,
            }
        })
        .collect())
}

/// The windows as a table for a terminal, one line each, with a count at the end.
pub fn table(windows: &[WindowStatus], now: DateTime<Utc>) -> String {
    let mut out = format!(
        "{:<22} {:<14} {:<16} {:<10} {}\n",
        "report", "account", "marketplace", "data date", "state"
    );
    for w in windows {
        let state = match &w.state {
            WindowState::NotRequested => "not requested yet".to_owned(),
            WindowState::Waiting {
                report_id,
                status,
                since,
            } => {
                let waited = since.map_or_else(String::new, |since| {
                    let minutes = (now - since).num_minutes();
                    format!(" for {}h{:02}m", minutes / 60, minutes % 60)
                });
                let status = status.map_or("not created".to_owned(), |s| s.to_string());
                let report = report_id.as_deref().unwrap_or("-");
                format!("waiting{waited}: report {report} {status}")
            }
            WindowState::Ended { outcome, .. } => match outcome {
                Outcome::Stored(object) => format!(
                    "stored: {} rows, {} bytes in {}",
                    object.rows, object.bytes, object.object_key
                ),
                Outcome::StoredPages { pages } => format!(
                    "stored: {} rows, {} bytes in {} page(s) from {}",
                    pages.iter().map(|p| p.rows).sum::<u64>(),
                    pages.iter().map(|p| p.bytes).sum::<u64>(),
                    pages.len(),
                    pages.first().map_or("-", |p| p.object_key.as_str())
                ),
                Outcome::NoData => "no data (Amazon cancelled the report)".to_owned(),
                Outcome::Fatal { reason } => format!("FATAL: {reason}"),
                Outcome::Failed { error, cause } => format!("failed, {error}: {cause}"),
                Outcome::Expired { reason } => format!("expired: {reason}"),
            },
        };
        let state = if w.late {
            format!("LATE {state}")
        } else {
            state
        };
        out.push_str(&format!(
            "{:<22} {:<14} {:<16} {:<10} {state}\n",
            w.report,
            w.account,
            w.marketplace_ids.join(","),
            w.data_date
        ));
    }
    let landed = windows.iter().filter(|w| w.state.landed()).count();
    let late = windows.iter().filter(|w| w.late).count();
    out.push_str(&format!(
        "\n{landed} of {} windows landed, {late} late; the next run requests the others that can still land\n",
        windows.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_days_hours_and_minutes() {
        assert_eq!(parse_since("7d").unwrap(), chrono::TimeDelta::days(7));
        assert_eq!(parse_since("36h").unwrap(), chrono::TimeDelta::hours(36));
        assert_eq!(parse_since("90m").unwrap(), chrono::TimeDelta::minutes(90));
        assert!(
            parse_since("a week")
                .unwrap_err()
                .to_string()
                .contains("like 7d")
        );
        assert!(parse_since("7").is_err());
    }
}
