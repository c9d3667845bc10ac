//! What Data Kiosk does with a query text before accepting it: read the GraphQL
//! document and check it against the dataset's schema (the root field is a known
//! dataset, the query field exists, its arguments have the declared types, every
//! selected field exists and objects have sub-selections). A failure is what Amazon's
//! `details` carries with "The provided query is invalid." (model example:
//! "Query 'invalidSampleQuery' is not supported.").
//!
//! This reads the query independently of how sp-ingest builds it; only the schema
//! files are shared.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::data_kiosk::sdl::{InputValue, Sdl, TypeDef, TypeRef};

/// A value written in the query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum GqlValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<GqlValue>),
    Object(Vec<(String, GqlValue)>),
}

impl GqlValue {
    /// The strings of a string or a list of strings.
    pub(crate) fn strings(&self) -> Vec<&str> {
        match self {
            GqlValue::Str(text) => vec![text],
            GqlValue::List(items) => items.iter().flat_map(GqlValue::strings).collect(),
            _ => Vec::new(),
        }
    }
}

/// One selected field, as the document will carry it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Selected {
    /// The key in each JSON line: the alias, else the field name.
    pub key: String,
    /// The field name in the schema.
    pub name: String,
    /// Whether the field is a list.
    pub list: bool,
    pub shape: Shape,
}

/// What a selected field holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Shape {
    /// A scalar of this type (`String`, `Date`, `Float`, `Long`, …).
    Scalar(String),
    /// One of these enum values.
    Enum(Vec<String>),
    /// An object with these fields.
    Object(Vec<Selected>),
}

/// A query Data Kiosk accepts: its dataset, query field, arguments and selection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CheckedQuery {
    pub dataset: String,
    pub query: String,
    pub arguments: BTreeMap<String, GqlValue>,
    /// The fields of each result record (one JSON line each).
    pub selection: Vec<Selected>,
}

impl CheckedQuery {
    /// A date argument (`startDate`, `endDate`).
    pub(crate) fn date(&self, name: &str) -> Option<NaiveDate> {
        match self.arguments.get(name)? {
            GqlValue::Str(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
            _ => None,
        }
    }

    /// A date argument's midnight, UTC (the epoch when absent).
    pub(crate) fn midnight(&self, name: &str) -> chrono::DateTime<chrono::Utc> {
        self.date(name)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|time| time.and_utc())
            .unwrap_or_default()
    }

    /// The `marketplaceIds` argument (empty when absent).
    pub(crate) fn marketplace_ids(&self) -> Vec<String> {
        self.arguments
            .get("marketplaceIds")
            .map(|ids| ids.strings().into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// Characters the query has once unnecessary whitespace is removed (what the 8,000
/// limit counts): whitespace and commas outside strings do not count.
pub(crate) fn significant_chars(text: &str) -> usize {
    let mut count = 0;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            count += 1;
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            count += 1;
        } else if !c.is_whitespace() && c != ',' {
            count += 1;
        }
    }
    count
}

/// Reads and checks a query; the error is the `details` Amazon answers with.
pub(crate) fn check(text: &str) -> Result<CheckedQuery, String> {
    let document = parse(text)?;
    let [root] = document.as_slice() else {
        return Err(format!(
            "A query must select exactly one dataset; it selects {}.",
            document.len()
        ));
    };
    let Some(schema) = domain::data_kiosk::schema(&root.name) else {
        return Err(format!("Query '{}' is not supported.", root.name));
    };
    if !root.arguments.is_empty() {
        return Err(format!("Field '{}' takes no arguments.", root.name));
    }
    let dataset_type = object_fields(schema, &schema.query_type)
        .and_then(|fields| fields.iter().find(|f| f.name == root.name))
        .map(|f| f.ty.name().to_owned())
        .ok_or_else(|| format!("Query '{}' is not supported.", root.name))?;
    let [operation] = root.selections.as_slice() else {
        return Err(format!(
            "Select exactly one query of '{}'; {} selected.",
            root.name,
            root.selections.len()
        ));
    };
    let field = object_fields(schema, &dataset_type)
        .and_then(|fields| fields.iter().find(|f| f.name == operation.name))
        .ok_or_else(|| format!("Query '{}' is not supported.", operation.name))?;
    let mut arguments = BTreeMap::new();
    for (name, value) in &operation.arguments {
        let declared = field
            .arguments
            .iter()
            .find(|argument| &argument.name == name)
            .ok_or_else(|| {
                format!(
                    "Unknown argument '{name}' on field '{}'; it takes {}.",
                    operation.name,
                    field
                        .arguments
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        check_value(schema, &declared.ty, value, name)?;
        arguments.insert(name.clone(), value.clone());
    }
    missing_required(&field.arguments, |name| arguments.contains_key(name)).map_err(|missing| {
        format!(
            "Field '{}' argument '{missing}' is required, but it was not provided.",
            operation.name
        )
    })?;
    if operation.selections.is_empty() {
        return Err(format!(
            "Field '{}' must have a selection of subfields.",
            operation.name
        ));
    }
    let selection = select(schema, field.ty.name(), &operation.selections)?;
    Ok(CheckedQuery {
        dataset: root.name.clone(),
        query: operation.name.clone(),
        arguments,
        selection,
    })
}

fn object_fields<'s>(sdl: &'s Sdl, ty: &str) -> Option<&'s [domain::data_kiosk::sdl::Field]> {
    match sdl.types.get(ty) {
        Some(TypeDef::Object(fields)) => Some(fields),
        _ => None,
    }
}

/// The first non-null input without a default that is not given.
fn missing_required(declared: &[InputValue], given: impl Fn(&str) -> bool) -> Result<(), &str> {
    match declared.iter().find(|input| {
        matches!(input.ty, TypeRef::NonNull(_)) && !input.has_default && !given(&input.name)
    }) {
        Some(input) => Err(&input.name),
        None => Ok(()),
    }
}

fn check_value(sdl: &Sdl, ty: &TypeRef, value: &GqlValue, at: &str) -> Result<(), String> {
    let wrong = |expected: &dyn std::fmt::Display| {
        Err(format!(
            "Argument '{at}' has an invalid value {}; expected type '{expected}'.",
            show(value)
        ))
    };
    match (ty, value) {
        (TypeRef::NonNull(_), GqlValue::Null) => wrong(ty),
        (TypeRef::NonNull(inner), _) => check_value(sdl, inner, value, at),
        (_, GqlValue::Null) => Ok(()),
        (TypeRef::List(inner), GqlValue::List(items)) => items
            .iter()
            .try_for_each(|item| check_value(sdl, inner, item, at)),
        // Input coercion: a single value stands for a list of one.
        (TypeRef::List(inner), _) => check_value(sdl, inner, value, at),
        (TypeRef::Named(name), _) => match (sdl.types.get(name), value) {
            (Some(TypeDef::Enum(values)), GqlValue::Enum(given)) if values.contains(given) => {
                Ok(())
            }
            (Some(TypeDef::Enum(values)), _) => Err(format!(
                "Argument '{at}' has an invalid value {}; expected one of {}.",
                show(value),
                values.join(", ")
            )),
            (Some(TypeDef::Input(fields)), GqlValue::Object(given)) => {
                for (key, item) in given {
                    let field = fields.iter().find(|f| &f.name == key).ok_or_else(|| {
                        format!("Argument '{at}' has an unknown field '{key}' for type '{name}'.")
                    })?;
                    check_value(sdl, &field.ty, item, &format!("{at}.{key}"))?;
                }
                missing_required(fields, |key| given.iter().any(|(k, _)| k == key)).map_err(
                    |missing| format!("Argument '{at}' is missing the required field '{missing}'."),
                )
            }
            _ => match (name.as_str(), value) {
                ("Date", GqlValue::Str(text))
                    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() && text.len() == 10 =>
                {
                    Ok(())
                }
                ("String" | "ID", GqlValue::Str(_))
                | ("Int" | "Long", GqlValue::Int(_))
                | ("Float", GqlValue::Int(_) | GqlValue::Float(_))
                | ("Boolean", GqlValue::Bool(_)) => Ok(()),
                _ => wrong(name),
            },
        },
    }
}

fn show(value: &GqlValue) -> String {
    match value {
        GqlValue::Str(text) => format!("{text:?}"),
        GqlValue::Int(n) => n.to_string(),
        GqlValue::Float(n) => n.to_string(),
        GqlValue::Bool(b) => b.to_string(),
        GqlValue::Null => "null".to_owned(),
        GqlValue::Enum(name) => name.clone(),
        GqlValue::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        GqlValue::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn select(sdl: &Sdl, ty: &str, nodes: &[FieldNode]) -> Result<Vec<Selected>, String> {
    let fields = object_fields(sdl, ty).ok_or_else(|| format!("Type '{ty}' has no fields."))?;
    nodes
        .iter()
        .map(|node| {
            let field = fields
                .iter()
                .find(|f| f.name == node.name)
                .ok_or_else(|| format!("Field '{}' in type '{ty}' is undefined.", node.name))?;
            if !node.arguments.is_empty() && field.arguments.is_empty() {
                return Err(format!("Field '{}' takes no arguments.", node.name));
            }
            let named = field.ty.name();
            let shape = match sdl.types.get(named) {
                Some(TypeDef::Object(_)) => {
                    if node.selections.is_empty() {
                        return Err(format!(
                            "Field '{}' of type '{}' must have a selection of subfields.",
                            node.name, field.ty
                        ));
                    }
                    Shape::Object(select(sdl, named, &node.selections)?)
                }
                Some(TypeDef::Enum(values)) => Shape::Enum(values.clone()),
                _ => Shape::Scalar(named.to_owned()),
            };
            if !matches!(shape, Shape::Object(_)) && !node.selections.is_empty() {
                return Err(format!(
                    "Field '{}' must not have a selection since type '{}' has no subfields.",
                    node.name, field.ty
                ));
            }
            Ok(Selected {
                key: node.alias.clone().unwrap_or_else(|| node.name.clone()),
                name: node.name.clone(),
                list: is_list(&field.ty),
                shape,
            })
        })
        .collect()
}

fn is_list(ty: &TypeRef) -> bool {
    match ty {
        TypeRef::List(_) => true,
        TypeRef::NonNull(inner) => is_list(inner),
        TypeRef::Named(_) => false,
    }
}

/// A field in the query text.
#[derive(Clone, Debug, PartialEq)]
struct FieldNode {
    alias: Option<String>,
    name: String,
    arguments: Vec<(String, GqlValue)>,
    selections: Vec<FieldNode>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Punct(char),
    Str(String),
    Int(i64),
    Float(f64),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => {}
            '#' => while chars.next_if(|(_, c)| *c != '\n').is_some() {},
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("Syntax error: unterminated string at {at}.")),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, 't')) => value.push('\t'),
                            Some((_, 'u')) => {
                                let hex: String = (0..4)
                                    .filter_map(|_| chars.next())
                                    .map(|(_, c)| c)
                                    .collect();
                                let code = u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .ok_or_else(|| format!("Syntax error: bad escape \\u{hex}."))?;
                                value.push(code);
                            }
                            Some((_, other)) => value.push(other),
                            None => return Err("Syntax error: unterminated string.".into()),
                        },
                        Some((_, other)) => value.push(other),
                    }
                }
                out.push(Token::Str(value));
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | '!' | '$' | '=' | '@' | '.' => {
                out.push(Token::Punct(c));
            }
            '-' | '0'..='9' => {
                let mut number = String::from(c);
                while let Some((_, d)) = chars.next_if(|(_, d)| {
                    d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-')
                }) {
                    number.push(d);
                }
                out.push(match number.parse::<i64>() {
                    Ok(n) => Token::Int(n),
                    Err(_) => Token::Float(
                        number
                            .parse()
                            .map_err(|_| format!("Syntax error: bad number {number}."))?,
                    ),
                });
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let mut name = String::from(c);
                while let Some((_, d)) =
                    chars.next_if(|(_, d)| *d == '_' || d.is_ascii_alphanumeric())
                {
                    name.push(d);
                }
                out.push(Token::Name(name));
            }
            other => {
                return Err(format!(
                    "Syntax error: unexpected character '{other}' at {at}."
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("Syntax error: unexpected end of query.")?;
        self.at += 1;
        Ok(token)
    }

    fn eat(&mut self, punct: char) -> bool {
        if self.peek() == Some(&Token::Punct(punct)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: char) -> Result<(), String> {
        match self.next()? {
            Token::Punct(found) if found == punct => Ok(()),
            other => Err(format!(
                "Syntax error: expected '{punct}', found {other:?}."
            )),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Name(name) => Ok(name),
            other => Err(format!("Syntax error: expected a name, found {other:?}.")),
        }
    }

    fn selection_set(&mut self) -> Result<Vec<FieldNode>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Token::Punct('.')) {
                return Err("Fragments are not supported.".into());
            }
            let first = self.name()?;
            let (alias, name) = if self.eat(':') {
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let mut arguments = Vec::new();
            if self.eat('(') {
                while !self.eat(')') {
                    let argument = self.name()?;
                    self.expect(':')?;
                    arguments.push((argument, self.value()?));
                }
            }
            if self.peek() == Some(&Token::Punct('@')) {
                return Err("Directives are not supported in queries.".into());
            }
            let selections = if self.peek() == Some(&Token::Punct('{')) {
                self.selection_set()?
            } else {
                Vec::new()
            };
            fields.push(FieldNode {
                alias,
                name,
                arguments,
                selections,
            });
        }
        Ok(fields)
    }

    fn value(&mut self) -> Result<GqlValue, String> {
        Ok(match self.next()? {
            Token::Str(text) => GqlValue::Str(text),
            Token::Int(n) => GqlValue::Int(n),
            Token::Float(n) => GqlValue::Float(n),
            Token::Name(name) => match name.as_str() {
                "true" => GqlValue::Bool(true),
                "false" => GqlValue::Bool(false),
                "null" => GqlValue::Null,
                _ => GqlValue::Enum(name),
            },
            Token::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value()?);
                }
                GqlValue::List(items)
            }
            Token::Punct('{') => {
                let mut fields = Vec::new();
                while !self.eat('}') {
                    let key = self.name()?;
                    self.expect(':')?;
                    fields.push((key, self.value()?));
                }
                GqlValue::Object(fields)
            }
            Token::Punct('$') => {
                return Err("Variables are not supported; write the values in the query.".into());
            }
            other => return Err(format!("Syntax error: unexpected {other:?} in a value.")),
        })
    }
}

/// The top-level selection of the document's one query operation.
fn parse(text: &str) -> Result<Vec<FieldNode>, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    match parser.peek() {
        Some(Token::Name(keyword)) if keyword == "query" => {
            parser.at += 1;
            if let Some(Token::Name(_)) = parser.peek() {
                parser.at += 1;
            }
            if parser.peek() == Some(&Token::Punct('(')) {
                return Err("Variables are not supported; write the values in the query.".into());
            }
        }
        Some(Token::Name(keyword)) => {
            return Err(format!(
                "Only query operations are supported, not '{keyword}'."
            ));
        }
        _ => {}
    }
    let selection = parser.selection_set()?;
    if parser.peek().is_some() {
        return Err("A request may hold one query operation only.".into());
    }
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BY_ASIN: &str = r#"query SnT { analytics_salesAndTraffic_2024_04_24 {
      salesAndTrafficByAsin(startDate:"2024-05-01" endDate:"2024-05-31" aggregateBy:CHILD marketplaceIds:["ATVPDKIKX0DER"]) {
        startDate endDate marketplaceId parentAsin childAsin
        sales { unitsOrdered orderedProductSales { amount currencyCode } totalOrderItems }
        traffic { pageViews sessions buyBoxPercentage unitSessionPercentage } } } }"#;

    #[test]
    fn api_facts_example_queries_are_accepted() {
        let checked = check(BY_ASIN).unwrap();
        assert_eq!(checked.dataset, "analytics_salesAndTraffic_2024_04_24");
        assert_eq!(checked.query, "salesAndTrafficByAsin");
        assert_eq!(
            checked.date("endDate"),
            NaiveDate::from_ymd_opt(2024, 5, 31)
        );
        assert_eq!(
            checked.arguments["marketplaceIds"].strings(),
            ["ATVPDKIKX0DER"]
        );
        let keys: Vec<&str> = checked.selection.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys[..3], ["startDate", "endDate", "marketplaceId"]);
        let economics = r#"query Econ { analytics_economics_2024_03_15 {
          economics(startDate:"2024-05-01" endDate:"2024-05-31" marketplaceIds:["ATVPDKIKX0DER"]
                    aggregateBy:{date:DAY productId:MSKU} includeComponentsForFeeTypes:[FBA_FULFILLMENT_FEE]) {
            startDate msku fees { feeTypeName charges { aggregatedDetail { totalAmount { amount currencyCode } } } } } } }"#;
        check(economics).unwrap();
        let vendor = r#"query Vendor { analytics_vendorAnalytics_2024_09_30 {
          manufacturingView(startDate:"2024-05-05" endDate:"2024-05-11" aggregateBy:WEEK currencyCode:"USD") {
            startDate totals { traffic { glanceViews } }
            metrics { groupByKey { asin } metrics { shippedOrders { shippedUnitsWithRevenue { units } } } } } } }"#;
        check(vendor).unwrap();
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let refused = |text: &str| check(text).unwrap_err();
        assert_eq!(
            refused(r#"query {invalidSampleQuery(startDate:"2023-03-01"){sales{date}}}"#),
            "Query 'invalidSampleQuery' is not supported."
        );
        assert!(
            refused(&BY_ASIN.replace("CHILD", "WEEK"))
                .contains("expected one of CHILD, PARENT, SKU")
        );
        assert!(
            refused(&BY_ASIN.replace("\"2024-05-31\"", "\"31/05/2024\"")).contains("'endDate'")
        );
        assert!(refused(&BY_ASIN.replace("pageViews", "pageVisits")).contains("'pageVisits'"));
        assert!(
            refused(&BY_ASIN.replace("startDate:\"2024-05-01\" ", ""))
                .contains("'startDate' is required")
        );
        assert!(refused(&BY_ASIN.replace("sales { unitsOrdered orderedProductSales { amount currencyCode } totalOrderItems }", "sales")).contains("selection of subfields"));
        assert!(
            refused(&BY_ASIN.replace("{ amount currencyCode }", ""))
                .contains("orderedProductSales")
        );
        assert!(refused("mutation { x }").contains("mutation"));
        assert!(refused("query ($d: Date) { x }").contains("Variables"));
        assert!(refused("{ analytics_salesAndTraffic_2024_04_24 ").contains("Syntax error"));
    }

    #[test]
    fn whitespace_and_commas_outside_strings_do_not_count() {
        assert_eq!(
            significant_chars("query { a(b: \"x y\", c: 1) }"),
            "query{a(b:\"x y\"c:1)}".len()
        );
    }
}
