//! Amazon Ads report files: a gzip JSON array of row objects holding exactly the
//! requested columns, typed as Amazon documents each column (integers, decimals,
//! strings; `date`, `startDate`, `endDate` as `YYYY-MM-DD`). A DAILY report has rows
//! for each day of its window; a SUMMARY one, rows for the whole window.
//! <https://advertising.amazon.com/API/docs/en-us/guides/reporting/v3/get-started>

use chrono::{Duration, NaiveDate};
use serde_json::{Map, Value, json};

use super::{ContentChunks, SplitMix64};

/// What an Ads report file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AdsRows {
    /// The requested columns, in order.
    pub columns: Vec<String>,
    /// A row per day (DAILY) or for the whole window (SUMMARY).
    pub daily: bool,
    /// The window's first and last day.
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The rows one per line instead of as the array Amazon serves: what a client keeps
    /// as JSON Lines, for checking it.
    pub as_lines: bool,
}

impl ContentChunks {
    /// Row `row` of an Ads report file.
    pub(super) fn ads_row(&self, ads: &AdsRows, row: u64, rng: &mut SplitMix64) -> String {
        let days = u64::try_from((ads.end - ads.start).num_days()).unwrap_or(0) + 1;
        let day = ads.start + Duration::days(i64::try_from(row % days).unwrap_or(0));
        // Entities repeat across days, as a campaign appears on each day it ran.
        let entity = row / days.max(1);
        let object: Map<String, Value> = ads
            .columns
            .iter()
            .map(|column| {
                let value = match column.as_str() {
                    "date" => json!(day.to_string()),
                    "startDate" => json!(ads.start.to_string()),
                    "endDate" => json!(ads.end.to_string()),
                    // Ids are numbers where Amazon documents them as integers.
                    name if name.ends_with("Id") => {
                        let id = (1000 + name.len() as u64) * 1_000_000 + entity;
                        match domain::ads::column_type(name) {
                            Some("integer") => json!(id),
                            _ => json!(id.to_string()),
                        }
                    }
                    name if name.ends_with("CurrencyCode") => json!(self.market.currency),
                    name => match domain::ads::column_type(name) {
                        Some("integer") => json!(rng.below(5_000)),
                        Some("decimal") => json!(rng.below(1_000_000) as f64 / 100.0),
                        _ => json!(format!("{name} {entity}")),
                    },
                };
                (column.clone(), value)
            })
            .collect();
        Value::Object(object).to_string()
    }
}
