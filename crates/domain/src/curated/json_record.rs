//! A JSON record read straight into a table's cells: a serde visitor walks the record
//! along the table's paths (a tree built once per table), so no `Value` is built per
//! record and text borrows from the input where it can. Fields no column names are
//! flattened into `extra_fields`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Cell, Kind, SchemaMismatch, Source, TableSchema, extras_cell, parse};

/// One step of the record paths: a key, the column it ends at, or the steps below it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct PathTree {
    children: Vec<(String, PathTree)>,
    column: Option<usize>,
}

impl PathTree {
    /// The tree of `table`'s record paths (`Source::Path` columns, by column index).
    pub(super) fn of(columns: &[super::Column]) -> PathTree {
        let mut root = PathTree::default();
        for (index, column) in columns.iter().enumerate() {
            if let Source::Path(path) = &column.source {
                let mut node = &mut root;
                for key in path {
                    let at = match node.children.iter().position(|(k, _)| k == key) {
                        Some(at) => at,
                        None => {
                            node.children.push((key.clone(), PathTree::default()));
                            node.children.len() - 1
                        }
                    };
                    node = &mut node.children[at].1;
                }
                node.column = Some(index);
            }
        }
        root
    }

    fn child(&self, key: &str) -> Option<&PathTree> {
        self.children
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, node)| node)
    }
}

/// What one record gave: its cells in table order and the paths of its extra fields.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRow<'de> {
    /// Cells in table order, `extra_fields` last.
    pub cells: Vec<Cell<'de>>,
    /// Dotted paths of fields no column names.
    pub extra_fields: Vec<String>,
}

/// Reads a table's JSON records, with the document's `reportSpecification` values
/// worked out once.
#[derive(Debug, Clone)]
pub struct JsonRecords<'t> {
    table: &'t TableSchema,
    /// Per column: its value from the report specification, for `from` columns.
    spec_cells: Vec<Option<Cell<'static>>>,
}

impl TableSchema {
    /// A reader of this table's records from a document whose `reportSpecification` is `spec`.
    pub fn json_records(&self, spec: &Value) -> Result<JsonRecords<'_>, SchemaMismatch> {
        let spec_cells = self
            .columns
            .iter()
            .map(|column| {
                let Source::Spec(path) = &column.source else {
                    return Ok(None);
                };
                match path.iter().try_fold(spec, |v, key| v.get(key)) {
                    None | Some(Value::Null) if column.required => Err(self.mismatch(
                        &column.name,
                        format!("the reportSpecification has no {}", path.join(".")),
                    )),
                    None | Some(Value::Null) => Ok(None),
                    Some(value) => leaf_of_value(column.kind, value)
                        .map(|cell| Some(cell.into_owned()))
                        .map_err(|problem| self.mismatch(&column.name, problem)),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(JsonRecords {
            table: self,
            spec_cells,
        })
    }
}

fn leaf_of_value(kind: Kind, value: &Value) -> Result<Cell<'_>, String> {
    match value {
        Value::String(text) => parse(kind, text),
        Value::Number(number) => super::number_cell(kind, number),
        Value::Bool(flag) => parse(kind, if *flag { "true" } else { "false" }),
        Value::Null => Ok(Cell::Null),
        other => Err(format!(
            "is not a single value: {}",
            super::shorten(&other.to_string())
        )),
    }
}

/// Reads one record: `Ok(Err(_))` when it does not fit the table (the input is then
/// left inside the record), `Err(_)` when the input is not JSON.
impl<'de> DeserializeSeed<'de> for &JsonRecords<'_> {
    type Value = Result<JsonRow<'de>, SchemaMismatch>;

    fn deserialize<D: Deserializer<'de>>(self, input: D) -> Result<Self::Value, D::Error> {
        let table = self.table;
        let mut state = State {
            table,
            cells: vec![None; table.columns.len()],
            extras: BTreeMap::new(),
            failure: None,
        };
        let walked = Object {
            node: &table.record_tree,
            path: String::new(),
            state: &mut state,
        }
        .deserialize(input);
        if let Some(failure) = state.failure {
            return Ok(Err(failure));
        }
        walked?;
        Ok(self.finish(state))
    }
}

impl JsonRecords<'_> {
    fn finish<'de>(&self, state: State<'de, '_>) -> Result<JsonRow<'de>, SchemaMismatch> {
        let table = self.table;
        let mut cells = Vec::with_capacity(table.columns.len());
        let columns = table.columns.iter().zip(state.cells).zip(&self.spec_cells);
        for ((column, cell), spec) in columns {
            let cell = match (&column.source, cell) {
                (Source::Path(_), Some(cell)) => cell,
                (Source::Path(path), None) if column.required => {
                    return Err(
                        table.mismatch(&column.name, format!("a record has no {}", path.join(".")))
                    );
                }
                (Source::Spec(_), _) => spec.clone().unwrap_or(Cell::Null),
                (Source::Extras, _) => {
                    let extras: BTreeMap<&str, &str> = state
                        .extras
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    extras_cell(&extras)
                }
                _ => Cell::Null,
            };
            cells.push(cell);
        }
        Ok(JsonRow {
            cells,
            extra_fields: state.extras.into_keys().collect(),
        })
    }
}

struct State<'de, 't> {
    table: &'t TableSchema,
    cells: Vec<Option<Cell<'de>>>,
    extras: BTreeMap<String, String>,
    failure: Option<SchemaMismatch>,
}

impl State<'_, '_> {
    fn fail<E: serde::de::Error>(&mut self, column: usize, problem: String) -> E {
        let name = &self.table.columns[column].name;
        let mismatch = self.table.mismatch(name, problem);
        let message = mismatch.to_string();
        self.failure = Some(mismatch);
        E::custom(message)
    }
}

/// A JSON float as serde_json prints it: the shortest text that reads back as `v` (JSON
/// carries no NaN or infinity, which fall back to Rust's own text).
fn float_text(v: f64) -> String {
    serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// An object on the record paths: each field goes to its column, deeper along the tree,
/// or into the extras.
struct Object<'s, 'de, 't> {
    node: &'s PathTree,
    path: String,
    state: &'s mut State<'de, 't>,
}

impl<'de> DeserializeSeed<'de> for Object<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Object<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.node.child(&key) {
                Some(PathTree {
                    column: Some(column),
                    ..
                }) => {
                    let column = *column;
                    let kind = self.state.table.columns[column].kind;
                    match map.next_value_seed(Leaf { kind })? {
                        Ok(cell) => self.state.cells[column] = Some(cell),
                        Err(problem) => {
                            let at = join(&self.path, &key);
                            return Err(self.state.fail(column, format!("{at} {problem}")));
                        }
                    }
                }
                Some(node) => map.next_value_seed(Object {
                    node,
                    path: join(&self.path, &key),
                    state: &mut *self.state,
                })?,
                None => map.next_value_seed(Extras {
                    path: join(&self.path, &key),
                    out: &mut self.state.extras,
                })?,
            }
        }
        Ok(())
    }

    // Where the tree expects an object, null is absent data; anything else there is
    // kept as an extra rather than dropped.
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.into_extras().visit_str(v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.into_extras().visit_i64(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.into_extras().visit_u64(v)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.into_extras().visit_f64(v)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.into_extras().visit_bool(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.into_extras().visit_seq(seq)
    }
}

impl<'s> Object<'s, '_, '_> {
    fn into_extras(self) -> Extras<'s> {
        Extras {
            path: self.path,
            out: &mut self.state.extras,
        }
    }
}

/// A column's value: the cell, or what is wrong with it.
struct Leaf {
    kind: Kind,
}

impl<'de> DeserializeSeed<'de> for Leaf {
    type Value = Result<Cell<'de>, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Leaf {
    type Value = Result<Cell<'de>, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a single value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(parse(self.kind, v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(parse(self.kind, v).map(Cell::into_owned))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(match self.kind {
            Kind::Int64 => Ok(Cell::Int(v)),
            Kind::Float64 => Ok(Cell::Float(v as f64)),
            kind => parse(kind, &v.to_string()).map(Cell::into_owned),
        })
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Ok(parse(self.kind, &v.to_string()).map(Cell::into_owned)),
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(match self.kind {
            Kind::Float64 => Ok(Cell::Float(v)),
            // The shortest text that reads back as `v`, as serde_json prints it: money
            // is scaled from those digits, not from the float's binary value.
            kind => parse(kind, &float_text(v)).map(Cell::into_owned),
        })
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(parse(self.kind, if v { "true" } else { "false" }).map(Cell::into_owned))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Cell::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err("is not a single value but an object".into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("is not a single value but a list".into()))
    }
}

/// A field no column names, flattened to dotted paths of text.
struct Extras<'s> {
    path: String,
    out: &'s mut BTreeMap<String, String>,
}

impl<'de> DeserializeSeed<'de> for Extras<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Extras<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.out.insert(self.path, v.to_owned());
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.out.insert(self.path, v.to_string());
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.out.insert(self.path, v.to_string());
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.out.insert(self.path, float_text(v));
        Ok(())
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.out.insert(self.path, v.to_string());
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            map.next_value_seed(Extras {
                path: join(&self.path, &key),
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A list is kept whole, as its JSON text.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        let text = Value::Array(items).to_string();
        self.out.insert(self.path, text);
        Ok(())
    }
}
