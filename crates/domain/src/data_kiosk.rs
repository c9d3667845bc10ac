//! Data Kiosk queries from configuration: a dataset, one of its queries, its arguments
//! and the fields wanted, built into GraphQL text and checked against Amazon's schema
//! files (committed in `schemas/data-kiosk/`) before anything is pushed — an unknown
//! field, a value of the wrong type, a granularity the query does not take or a query
//! over Data Kiosk's 8,000 characters is an error naming the config field and what is
//! allowed. <https://developer-docs.amazon.com/sp-api/docs/data-kiosk-faq>

pub mod sdl;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::sdl::{Field, InputValue, Sdl, TypeDef, TypeRef};

/// The longest query Data Kiosk takes, in characters after whitespace removal (the
/// model's `createQuery` request).
pub const MAX_QUERY_CHARS: usize = 8_000;

/// The datasets (schema versions) sp-ingest knows, with their schema files.
const SCHEMAS: [(&str, &str); 3] = [
    (
        "analytics_salesAndTraffic_2024_04_24",
        include_str!("../schemas/data-kiosk/analytics_salesAndTraffic_2024_04_24.graphql"),
    ),
    (
        "analytics_economics_2024_03_15",
        include_str!("../schemas/data-kiosk/analytics_economics_2024_03_15.graphql"),
    ),
    (
        "analytics_vendorAnalytics_2024_09_30",
        include_str!("../schemas/data-kiosk/analytics_vendorAnalytics_2024_09_30.graphql"),
    ),
];

/// The arguments a query takes from the request (its window and marketplaces), not
/// from the config.
const REQUEST_ARGUMENTS: [&str; 3] = ["startDate", "endDate", "marketplaceIds"];

/// What a report's config asks of Data Kiosk; the dataset is the report's `report_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// One of the dataset's queries, e.g. `salesAndTrafficByAsin`.
    pub query: String,
    /// Its arguments, as JSON (enum values as strings); `startDate`, `endDate` and
    /// `marketplaceIds` come from the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arguments: BTreeMap<String, Value>,
    /// The fields wanted, as dotted paths to single values (`sales.orderedProductSales.amount`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// A named set of fields, added to `fields`: `all` is every single-valued field of the
    /// query's records (what its curated table holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

/// The presets of fields a query config may name.
pub const PRESETS: [&str; 1] = ["all"];

/// A config field that is wrong, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProblem {
    /// The field of the report's `data_kiosk` config, e.g. `arguments.aggregateBy`.
    pub field: String,
    /// What is wrong and what would be right.
    pub problem: String,
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data_kiosk.{}: {}", self.field, self.problem)
    }
}

/// A query ready for `createQuery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltQuery {
    /// The GraphQL text.
    pub text: String,
    /// How long Data Kiosk keeps the query and its documents: the shortest
    /// `@resultRetention` of the fields selected (ISO 8601, e.g. `P30D`).
    pub retention: Option<String>,
    /// Every distinct retention among the fields, when they differ (the shortest applies).
    pub retentions: Vec<String>,
}

struct Dataset {
    sdl: Sdl,
    /// The dataset's object type (the root query field's type).
    root: String,
}

fn datasets() -> &'static BTreeMap<&'static str, Result<Dataset, String>> {
    static DATASETS: OnceLock<BTreeMap<&'static str, Result<Dataset, String>>> = OnceLock::new();
    DATASETS.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|(name, text)| {
                let dataset = sdl::parse(text).and_then(|sdl| {
                    let root = object_fields(&sdl, &sdl.query_type)
                        .and_then(|fields| fields.iter().find(|f| f.name == *name))
                        .map(|f| f.ty.name().to_owned())
                        .ok_or_else(|| format!("the schema has no query field {name}"))?;
                    Ok(Dataset { sdl, root })
                });
                (*name, dataset)
            })
            .collect()
    })
}

/// A dataset's schema as read from its committed file (`None` for an unknown dataset).
pub fn schema(dataset: &str) -> Option<&'static Sdl> {
    match datasets().get(dataset)? {
        Ok(dataset) => Some(&dataset.sdl),
        Err(_) => None,
    }
}

/// The names of the datasets sp-ingest can query.
pub fn dataset_names() -> Vec<&'static str> {
    SCHEMAS.iter().map(|(name, _)| *name).collect()
}

fn object_fields<'s>(sdl: &'s Sdl, ty: &str) -> Option<&'s [Field]> {
    match sdl.types.get(ty) {
        Some(TypeDef::Object(fields)) => Some(fields),
        _ => None,
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(", ")
}

fn problem(field: impl Into<String>, problem: impl Into<String>) -> QueryProblem {
    QueryProblem {
        field: field.into(),
        problem: problem.into(),
    }
}

impl QuerySpec {
    /// The query of `dataset` for the days `start..=end` in `marketplaces`, checked
    /// against the dataset's schema; every problem at once.
    pub fn build(
        &self,
        dataset_name: &str,
        (start, end): (NaiveDate, NaiveDate),
        marketplaces: &[String],
    ) -> Result<BuiltQuery, Vec<QueryProblem>> {
        let dataset = match datasets().get(dataset_name) {
            Some(Ok(dataset)) => dataset,
            Some(Err(broken)) => {
                return Err(vec![problem(
                    "dataset",
                    format!("its schema does not read: {broken}"),
                )]);
            }
            None => {
                return Err(vec![problem(
                    "dataset",
                    format!(
                        "`{dataset_name}` is not a dataset sp-ingest knows; use one of {}",
                        dataset_names().join(", ")
                    ),
                )]);
            }
        };
        let sdl = &dataset.sdl;
        let operations = object_fields(sdl, &dataset.root).unwrap_or_default();
        let Some(operation) = operations.iter().find(|f| f.name == self.query) else {
            return Err(vec![problem(
                "query",
                format!(
                    "`{}` is not a query of {dataset_name}; use one of {}",
                    self.query,
                    names(operations, |f| &f.name)
                ),
            )]);
        };
        let mut problems = Vec::new();
        let request = Request {
            start,
            end,
            marketplaces,
        };
        let arguments = self.arguments_text(sdl, operation, &request, &mut problems);
        let mut retentions = Vec::new();
        let selection = self.selection(sdl, operation, &mut retentions, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        let text = format!(
            "query{{{dataset_name}{{{}{}{{{}}}}}}}",
            self.query, arguments, selection
        );
        let length = text.chars().filter(|c| !c.is_whitespace()).count();
        if length > MAX_QUERY_CHARS {
            return Err(vec![problem(
                "fields",
                format!(
                    "the query is {length} characters; Data Kiosk takes at most {MAX_QUERY_CHARS}: split the fields across two reports"
                ),
            )]);
        }
        retentions.sort_by_key(|r| days(r));
        retentions.dedup();
        let retention = retentions.first().cloned();
        Ok(BuiltQuery {
            text,
            retention,
            retentions: if retentions.len() > 1 {
                retentions
            } else {
                Vec::new()
            },
        })
    }

    fn arguments_text(
        &self,
        sdl: &Sdl,
        operation: &Field,
        request: &Request<'_>,
        problems: &mut Vec<QueryProblem>,
    ) -> String {
        let mut parts = Vec::new();
        for name in self.arguments.keys() {
            let field = format!("arguments.{name}");
            if REQUEST_ARGUMENTS.contains(&name.as_str()) {
                problems.push(problem(
                    field,
                    "is set from the report's window and marketplaces; remove it",
                ));
            } else if !operation.arguments.iter().any(|a| a.name == *name) {
                problems.push(problem(
                    field,
                    format!(
                        "{} takes no argument `{name}`; it takes {}",
                        operation.name,
                        names(&operation.arguments, |a| &a.name)
                    ),
                ));
            }
        }
        for argument in &operation.arguments {
            let field = format!("arguments.{}", argument.name);
            let value = if let Some(value) = request.argument(&argument.name) {
                value
            } else {
                match self.arguments.get(&argument.name) {
                    Some(value) => value.clone(),
                    None if REQUEST_ARGUMENTS.contains(&argument.name.as_str()) => {
                        problems.push(problem(
                            field,
                            "comes from the report's marketplaces, and none are set: set `marketplaces` on the report or on its accounts",
                        ));
                        continue;
                    }
                    None if required(argument) => {
                        problems.push(problem(field, format!("is required ({})", argument.ty)));
                        continue;
                    }
                    None => continue,
                }
            };
            match render(sdl, &argument.ty, &value, &field) {
                Ok(text) => parts.push(format!("{}:{text}", argument.name)),
                Err(p) => problems.push(p),
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("({})", parts.join(" "))
        }
    }

    fn selection(
        &self,
        sdl: &Sdl,
        operation: &Field,
        retentions: &mut Vec<String>,
        problems: &mut Vec<QueryProblem>,
    ) -> String {
        let mut fields = self.fields.clone();
        match self.preset.as_deref() {
            None if fields.is_empty() => problems.push(problem(
                "fields",
                format!(
                    "name at least one field, or a preset ({})",
                    PRESETS.join(", ")
                ),
            )),
            None => {}
            Some("all") => {
                let mut leaves = Vec::new();
                single_values(sdl, operation.ty.name(), "", &mut leaves);
                fields.extend(leaves.into_iter().filter(|l| !self.fields.contains(l)));
            }
            Some(other) => problems.push(problem(
                "preset",
                format!(
                    "`{other}` is not a preset; use one of {}",
                    PRESETS.join(", ")
                ),
            )),
        }
        let mut tree = Tree::default();
        for (i, path) in fields.iter().enumerate() {
            let field = format!("fields[{i}]");
            let mut ty = operation.ty.name();
            let mut node = &mut tree;
            let steps: Vec<&str> = path.split('.').collect();
            for (depth, step) in steps.iter().enumerate() {
                let Some(fields) = object_fields(sdl, ty) else {
                    problems.push(problem(
                        &field,
                        format!(
                            "`{}` is a single value; it has no field `{step}`",
                            steps[..depth].join(".")
                        ),
                    ));
                    break;
                };
                let Some(found) = fields.iter().find(|f| f.name == *step) else {
                    problems.push(problem(
                        &field,
                        format!(
                            "{ty} has no field `{step}` (in `{path}`); it has {}",
                            names(fields, |f| &f.name)
                        ),
                    ));
                    break;
                };
                if found.arguments.iter().any(required) {
                    problems.push(problem(
                        &field,
                        format!("`{step}` needs arguments, which fields cannot give"),
                    ));
                    break;
                }
                if let Some(retention) = &found.retention {
                    retentions.push(retention.clone());
                }
                ty = found.ty.name();
                node = node.children.entry(step.to_string()).or_default();
                let last = depth + 1 == steps.len();
                if let (true, Some(fields)) = (last, object_fields(sdl, ty)) {
                    problems.push(problem(
                        &field,
                        format!(
                            "`{path}` is an object; name one of its fields: {}",
                            names(fields, |f| &f.name)
                        ),
                    ));
                }
            }
        }
        tree.text()
    }
}

/// What a query takes from the request rather than the config.
struct Request<'a> {
    start: NaiveDate,
    end: NaiveDate,
    marketplaces: &'a [String],
}

impl Request<'_> {
    fn argument(&self, name: &str) -> Option<Value> {
        let day = |day: NaiveDate| Value::String(day.format("%Y-%m-%d").to_string());
        match name {
            "startDate" => Some(day(self.start)),
            "endDate" => Some(day(self.end)),
            "marketplaceIds" if !self.marketplaces.is_empty() => Some(
                self.marketplaces
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The dotted paths of every single value under object type `ty`, lists left out
/// (a list cannot be one column of a row).
fn single_values(sdl: &Sdl, ty: &str, prefix: &str, out: &mut Vec<String>) {
    for field in object_fields(sdl, ty).unwrap_or_default() {
        let is_list = match &field.ty {
            TypeRef::List(_) => true,
            TypeRef::NonNull(inner) => matches!(**inner, TypeRef::List(_)),
            TypeRef::Named(_) => false,
        };
        if is_list || field.arguments.iter().any(required) {
            continue;
        }
        let path = format!("{prefix}{}", field.name);
        match object_fields(sdl, field.ty.name()) {
            Some(_) => single_values(sdl, field.ty.name(), &format!("{path}."), out),
            None => out.push(path),
        }
    }
}

fn required(value: &InputValue) -> bool {
    matches!(value.ty, TypeRef::NonNull(_)) && !value.has_default
}

/// Days of an ISO 8601 `PnD` duration, for ordering retentions (others sort last).
fn days(duration: &str) -> u32 {
    duration
        .strip_prefix('P')
        .and_then(|d| d.strip_suffix('D'))
        .and_then(|d| d.parse().ok())
        .unwrap_or(u32::MAX)
}

/// The selected fields as a tree, so shared prefixes are written once.
#[derive(Default)]
struct Tree {
    children: BTreeMap<String, Tree>,
}

impl Tree {
    fn text(&self) -> String {
        let mut out = String::new();
        for (name, child) in &self.children {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(name);
            if !child.children.is_empty() {
                let _ = write!(out, "{{{}}}", child.text());
            }
        }
        out
    }
}

/// A JSON value as a GraphQL literal of type `ty`, or the problem with it.
fn render(sdl: &Sdl, ty: &TypeRef, value: &Value, field: &str) -> Result<String, QueryProblem> {
    match (ty, value) {
        (TypeRef::NonNull(_), Value::Null) => {
            Err(problem(field, format!("must not be null ({ty})")))
        }
        (TypeRef::NonNull(inner), _) => render(sdl, inner, value, field),
        (_, Value::Null) => Ok("null".into()),
        (TypeRef::List(inner), Value::Array(items)) => {
            let items = items
                .iter()
                .enumerate()
                .map(|(i, item)| render(sdl, inner, item, &format!("{field}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("[{}]", items.join(" ")))
        }
        (TypeRef::List(_), _) => Err(problem(field, format!("must be a list ({ty})"))),
        (TypeRef::Named(name), _) => match sdl.types.get(name) {
            Some(TypeDef::Enum(values)) => match value.as_str() {
                Some(v) if values.iter().any(|allowed| allowed == v) => Ok(v.to_owned()),
                _ => Err(problem(
                    field,
                    format!(
                        "{value} is not a value of {name}; use one of {}",
                        values.join(", ")
                    ),
                )),
            },
            Some(TypeDef::Input(fields)) => {
                let Value::Object(given) = value else {
                    return Err(problem(
                        field,
                        format!("must be an object ({name}: {})", names(fields, |f| &f.name)),
                    ));
                };
                if let Some(unknown) = given.keys().find(|k| !fields.iter().any(|f| f.name == **k))
                {
                    return Err(problem(
                        format!("{field}.{unknown}"),
                        format!(
                            "{name} has no field `{unknown}`; it has {}",
                            names(fields, |f| &f.name)
                        ),
                    ));
                }
                let mut parts = Vec::new();
                for f in fields {
                    let at = format!("{field}.{}", f.name);
                    match given.get(&f.name) {
                        Some(v) => {
                            parts.push(format!("{}:{}", f.name, render(sdl, &f.ty, v, &at)?))
                        }
                        None if required(f) => {
                            return Err(problem(at, format!("is required ({})", f.ty)));
                        }
                        None => {}
                    }
                }
                Ok(format!("{{{}}}", parts.join(" ")))
            }
            _ => scalar(name, value, field),
        },
    }
}

fn scalar(name: &str, value: &Value, field: &str) -> Result<String, QueryProblem> {
    let wrong = || problem(field, format!("{value} is not a {name}"));
    match name {
        "Date" => match value.as_str() {
            Some(day) if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() => {
                Ok(Value::from(day).to_string())
            }
            _ => Err(problem(
                field,
                format!("{value} is not a date (YYYY-MM-DD)"),
            )),
        },
        "String" | "ID" => value
            .as_str()
            .map(|s| Value::from(s).to_string())
            .ok_or_else(wrong),
        "Boolean" => value.as_bool().map(|b| b.to_string()).ok_or_else(wrong),
        "Int" | "Long" => value.as_i64().map(|n| n.to_string()).ok_or_else(wrong),
        "Float" | "Decimal" => value.as_f64().map(|_| value.to_string()).ok_or_else(wrong),
        // A custom scalar: a string or a number, as given.
        _ => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
            _ => Err(wrong()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn spec(value: Value) -> QuerySpec {
        serde_json::from_value(value).unwrap()
    }

    const SNT: &str = "analytics_salesAndTraffic_2024_04_24";

    fn us() -> Vec<String> {
        vec!["ATVPDKIKX0DER".to_owned()]
    }

    fn by_asin() -> QuerySpec {
        spec(serde_json::json!({
            "query": "salesAndTrafficByAsin",
            "arguments": {"aggregateBy": "CHILD"},
            "fields": [
                "startDate", "endDate", "marketplaceId", "parentAsin", "childAsin",
                "sales.unitsOrdered", "sales.orderedProductSales.amount",
                "sales.orderedProductSales.currencyCode", "traffic.pageViews", "traffic.sessions"
            ]
        }))
    }

    #[test]
    fn every_schema_reads_and_each_dataset_has_its_queries() {
        for (name, dataset) in datasets() {
            let dataset = dataset.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
            let operations: Vec<&str> = object_fields(&dataset.sdl, &dataset.root)
                .unwrap()
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            let expected: &[&str] = match *name {
                "analytics_salesAndTraffic_2024_04_24" => &[
                    "salesAndTrafficByAsin",
                    "salesAndTrafficByDate",
                    "salesAndTrafficTrends",
                ],
                "analytics_economics_2024_03_15" => {
                    &["economics", "economicsPreview", "economicsSimulation"]
                }
                _ => &["manufacturingView", "sourcingView"],
            };
            for operation in expected {
                assert!(operations.contains(operation), "{name}: {operations:?}");
            }
        }
    }

    #[test]
    fn a_query_is_built_with_the_window_and_shared_prefixes_once() {
        let built = by_asin()
            .build(SNT, (day("2026-11-01"), day("2026-11-27")), &us())
            .unwrap();
        assert_eq!(
            built.text,
            "query{analytics_salesAndTraffic_2024_04_24{salesAndTrafficByAsin(aggregateBy:CHILD endDate:\"2026-11-27\" marketplaceIds:[\"ATVPDKIKX0DER\"] startDate:\"2026-11-01\"){childAsin endDate marketplaceId parentAsin sales{orderedProductSales{amount currencyCode} unitsOrdered} startDate traffic{pageViews sessions}}}}"
        );
        assert_eq!(built.retention.as_deref(), Some("P30D"));
        assert!(built.retentions.is_empty());
    }

    #[test]
    fn input_objects_and_enum_lists_are_checked_and_written() {
        let economics = spec(serde_json::json!({
            "query": "economics",
            "arguments": {
                "aggregateBy": {"date": "DAY", "productId": "MSKU"},
                "includeComponentsForFeeTypes": ["FBA_FULFILLMENT_FEE"]
            },
            "fields": ["msku", "sales.netProductSales.amount", "fees.feeTypeName"]
        }));
        let built = economics
            .build(
                "analytics_economics_2024_03_15",
                (day("2026-11-01"), day("2026-11-01")),
                &us(),
            )
            .unwrap();
        assert!(
            built.text.contains("aggregateBy:{date:DAY productId:MSKU}")
                && built
                    .text
                    .contains("includeComponentsForFeeTypes:[FBA_FULFILLMENT_FEE]"),
            "{}",
            built.text
        );
    }

    #[test]
    fn each_wrong_config_field_is_named_with_what_is_allowed() {
        let mut wrong = by_asin();
        wrong.arguments.insert("aggregateBy".into(), "DAY".into());
        wrong
            .arguments
            .insert("startDate".into(), "2026-01-01".into());
        wrong.arguments.insert("marketplaceId".into(), "X".into());
        wrong.fields.push("sales.unitsOrderd".into());
        wrong.fields.push("sales.orderedProductSales".into());
        let problems = wrong
            .build(SNT, (day("2026-11-01"), day("2026-11-02")), &us())
            .unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let has = |field: &str, words: &str| {
            assert!(
                text.iter()
                    .any(|t| t.starts_with(&format!("data_kiosk.{field}:")) && t.contains(words)),
                "{field} / {words}: {text:#?}"
            )
        };
        has(
            "arguments.aggregateBy",
            "\"DAY\" is not a value of AsinGranularity; use one of CHILD, PARENT, SKU",
        );
        has("arguments.startDate", "is set from the report's window");
        let mut chosen = by_asin();
        chosen.arguments.insert(
            "marketplaceIds".into(),
            serde_json::json!(["A1F83G8C2ARO7P"]),
        );
        let problems = chosen
            .build(SNT, (day("2026-11-01"), day("2026-11-02")), &us())
            .unwrap_err();
        assert_eq!(problems[0].field, "arguments.marketplaceIds");
        has(
            "arguments.marketplaceId",
            "takes no argument `marketplaceId`",
        );
        has("fields[10]", "has no field `unitsOrderd`");
        has(
            "fields[11]",
            "is an object; name one of its fields: amount, currencyCode",
        );

        let problems = by_asin()
            .build(SNT, (day("2026-11-01"), day("2026-11-02")), &[])
            .unwrap_err();
        assert_eq!(problems[0].field, "arguments.marketplaceIds");
        assert!(problems[0].problem.contains("none are set"), "{problems:?}");

        let problems = by_asin()
            .build(
                "analytics_salesAndTraffic_2023",
                (day("2026-11-01"), day("2026-11-02")),
                &us(),
            )
            .unwrap_err();
        assert!(
            problems[0]
                .problem
                .contains("analytics_economics_2024_03_15"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_all_preset_selects_every_single_value_and_an_unknown_one_is_named() {
        let all = spec(serde_json::json!({
            "query": "salesAndTrafficByDate", "arguments": {"aggregateBy": "DAY"}, "preset": "all"
        }));
        let built = all
            .build(SNT, (day("2026-11-01"), day("2026-11-01")), &us())
            .unwrap();
        for field in [
            "startDate",
            "traffic{",
            "pageViewsB2B",
            "orderedProductSales{amount currencyCode}",
        ] {
            assert!(built.text.contains(field), "{field}: {}", built.text);
        }
        let wrong = QuerySpec {
            preset: Some("everything".into()),
            ..all
        };
        let problems = wrong
            .build(SNT, (day("2026-11-01"), day("2026-11-01")), &us())
            .unwrap_err();
        assert_eq!(problems[0].field, "preset");
        assert!(
            problems[0].problem.contains("use one of all"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_query_over_8000_characters_is_refused() {
        let markets: Vec<String> = (0..800).map(|i| format!("MARKET{i:04}")).collect();
        let problems = by_asin()
            .build(SNT, (day("2026-11-01"), day("2026-11-02")), &markets)
            .unwrap_err();
        assert_eq!(problems[0].field, "fields");
        assert!(problems[0].problem.contains("at most 8000"), "{problems:?}");
    }
}
