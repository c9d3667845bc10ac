//! Data Kiosk data documents: JSON Lines, one result record per line, holding exactly
//! the fields the query selected, typed by the schema (`Date` as `YYYY-MM-DD`, `Float`
//! and `Long` as numbers, enums as one of their values). A query's pages continue one
//! another: page `p` holds records `p × rows … (p + 1) × rows − 1`.
//! <https://developer-docs.amazon.com/sp-api/docs/data-kiosk-api-v2023-11-15-use-case-guide>

use chrono::{Duration, NaiveDate};
use serde_json::{Map, Value, json};

use super::{ContentChunks, SplitMix64};
use crate::data_kiosk::graphql::{CheckedQuery, GqlValue, Selected, Shape};

/// Which page of a query a document is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QueryPage {
    pub query: std::sync::Arc<CheckedQuery>,
    /// 0 for the first page.
    pub page: u32,
}

/// Records of a query aggregated by day: one per day of its range; `None` for other
/// queries (their count is up to the scenario).
pub(crate) fn days_per_record(query: &CheckedQuery) -> Option<u64> {
    if !per_day(query) {
        return None;
    }
    let start = query.date("startDate")?;
    let end = query.date("endDate").unwrap_or(start);
    u64::try_from((end - start).num_days() + 1).ok()
}

/// What a record's dates are: a day per record, or the whole range on every record.
fn per_day(query: &CheckedQuery) -> bool {
    match query.arguments.get("aggregateBy") {
        Some(GqlValue::Enum(grain)) => grain == "DAY",
        Some(GqlValue::Object(fields)) => fields
            .iter()
            .any(|(key, value)| key == "date" && *value == GqlValue::Enum("DAY".to_owned())),
        _ => false,
    }
}

impl ContentChunks {
    /// The JSON line of record `row` of this page.
    pub(super) fn query_record(&self, page: &QueryPage, row: u64, rng: &mut SplitMix64) -> String {
        let query = &page.query;
        let record = u64::from(page.page) * self.spec.rows + row;
        let start = query.date("startDate").unwrap_or_default();
        let end = query.date("endDate").unwrap_or(start);
        let days = u64::try_from((end - start).num_days()).unwrap_or(0) + 1;
        let (first, last) = if per_day(query) {
            let day = start + Duration::days(i64::try_from(record % days).unwrap_or(0));
            (day, day)
        } else {
            (start, end)
        };
        let context = RecordContext {
            first,
            last,
            marketplace: query
                .marketplace_ids()
                .into_iter()
                .next()
                .unwrap_or_else(|| self.market.id.to_owned()),
            currency: query
                .arguments
                .get("currencyCode")
                .and_then(|code| code.strings().first().map(|c| (*c).to_owned()))
                .unwrap_or_else(|| self.market.currency.to_owned()),
            product: self.product(record % self.catalog.len() as u64),
        };
        Value::Object(context.object(&query.selection, rng)).to_string()
    }
}

struct RecordContext<'a> {
    first: NaiveDate,
    last: NaiveDate,
    marketplace: String,
    currency: String,
    product: &'a super::catalog::Product,
}

impl RecordContext<'_> {
    fn object(&self, selection: &[Selected], rng: &mut SplitMix64) -> Map<String, Value> {
        selection
            .iter()
            .map(|field| {
                let value = if field.list {
                    let items = 1 + rng.below(2);
                    Value::Array((0..items).map(|_| self.value(field, rng)).collect())
                } else {
                    self.value(field, rng)
                };
                (field.key.clone(), value)
            })
            .collect()
    }

    fn value(&self, field: &Selected, rng: &mut SplitMix64) -> Value {
        let name = field.name.to_ascii_lowercase();
        match &field.shape {
            Shape::Object(children) => Value::Object(self.object(children, rng)),
            Shape::Enum(values) => json!(rng.pick(values)),
            Shape::Scalar(ty) => match ty.as_str() {
                "Date" if name.starts_with("end") => json!(self.last.to_string()),
                "Date" => json!(self.first.to_string()),
                "Float" if name.contains("percent") || name.contains("rate") => {
                    json!(rng.below(10_000) as f64 / 100.0)
                }
                "Float" => json!(rng.below(5_000_000) as f64 / 100.0),
                "Long" | "Int" => json!(rng.below(1_000)),
                "Boolean" => json!(rng.chance(50)),
                _ if name == "marketplaceid" => json!(self.marketplace),
                _ if name == "currencycode" => json!(self.currency),
                _ if name.contains("parentasin") => json!(self.product.parent_asin),
                _ if name.contains("asin") => json!(self.product.asin),
                _ if name.contains("sku") => json!(self.product.sku),
                _ => json!(format!("{}-{}", field.name, rng.below(100))),
            },
        }
    }
}
