//! A reader of GraphQL schema definitions (SDL), enough for Amazon's Data Kiosk schema
//! files: object, input, enum and scalar types, field arguments, list and non-null
//! types, directives with arguments, descriptions. The queries sp-ingest builds are
//! checked against what it reads, before they are pushed.

use std::collections::BTreeMap;

/// A type as a field or argument declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// A named type.
    Named(String),
    /// A list of the inner type.
    List(Box<TypeRef>),
    /// The inner type, never null.
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The named type under lists and non-null marks.
    pub fn name(&self) -> &str {
        match self {
            TypeRef::Named(name) => name,
            TypeRef::List(inner) | TypeRef::NonNull(inner) => inner.name(),
        }
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeRef::Named(name) => f.write_str(name),
            TypeRef::List(inner) => write!(f, "[{inner}]"),
            TypeRef::NonNull(inner) => write!(f, "{inner}!"),
        }
    }
}

/// An argument of a field, or a field of an input type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputValue {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// Whether it has a default (then it may be left out even when non-null).
    pub has_default: bool,
}

/// A field of an object type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its arguments.
    pub arguments: Vec<InputValue>,
    /// Its type.
    pub ty: TypeRef,
    /// `@resultRetention(duration:)`, e.g. `P30D`.
    pub retention: Option<String>,
}

/// A type definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeDef {
    /// An object type and its fields.
    Object(Vec<Field>),
    /// An input type and its fields.
    Input(Vec<InputValue>),
    /// An enum and its values.
    Enum(Vec<String>),
    /// A scalar.
    Scalar,
}

/// The types of one schema file, and its query root type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdl {
    /// The root query type's name.
    pub query_type: String,
    /// Every type by name.
    pub types: BTreeMap<String, TypeDef>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Punct(char),
    /// A string: its text, or None for a block string (descriptions).
    Str(Option<String>),
    Number,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if text[i..].starts_with("\"\"\"") => {
                let end = text[i + 3..]
                    .find("\"\"\"")
                    .ok_or("a block string never ends")?;
                i += 3 + end + 3;
                out.push(Token::Str(None));
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    return Err("a string never ends".into());
                }
                out.push(Token::Str(Some(text[start..i].to_owned())));
                i += 1;
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'!' | b'=' | b'@' | b'|' | b'&' => {
                out.push(Token::Punct(b as char));
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                out.push(Token::Number);
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push(Token::Name(text[start..i].to_owned()));
            }
            other => {
                return Err(format!("unexpected `{}` at byte {i}", other as char));
            }
        }
    }
    Ok(out)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = self.peek().cloned().ok_or("the schema ends early")?;
        self.at += 1;
        Ok(token)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}`, found {:?}", self.peek()))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Name(name) => Ok(name),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn description(&mut self) {
        while matches!(self.peek(), Some(Token::Str(_))) {
            self.at += 1;
        }
    }

    fn type_ref(&mut self) -> Result<TypeRef, String> {
        let inner = if self.eat('[') {
            let inner = self.type_ref()?;
            self.expect(']')?;
            TypeRef::List(Box::new(inner))
        } else {
            TypeRef::Named(self.name()?)
        };
        Ok(if self.eat('!') {
            TypeRef::NonNull(Box::new(inner))
        } else {
            inner
        })
    }

    /// Steps over a value (defaults, directive arguments); returns its text when it is
    /// a string.
    fn value(&mut self) -> Result<Option<String>, String> {
        match self.next()? {
            Token::Str(text) => Ok(text),
            Token::Name(_) | Token::Number => Ok(None),
            Token::Punct('[') => {
                while !self.eat(']') {
                    self.value()?;
                }
                Ok(None)
            }
            Token::Punct('{') => {
                while !self.eat('}') {
                    self.name()?;
                    self.expect(':')?;
                    self.value()?;
                }
                Ok(None)
            }
            other => Err(format!("expected a value, found {other:?}")),
        }
    }

    /// Directives after a definition; returns `@resultRetention`'s duration.
    fn directives(&mut self) -> Result<Option<String>, String> {
        let mut retention = None;
        while self.eat('@') {
            let name = self.name()?;
            if self.eat('(') {
                while !self.eat(')') {
                    let argument = self.name()?;
                    self.expect(':')?;
                    let string = self.value()?;
                    if name == "resultRetention" && argument == "duration" {
                        retention = string;
                    }
                }
            }
        }
        Ok(retention)
    }

    fn input_values(&mut self, close: char) -> Result<Vec<InputValue>, String> {
        let mut values = Vec::new();
        loop {
            self.description();
            if self.eat(close) {
                return Ok(values);
            }
            let name = self.name()?;
            self.expect(':')?;
            let ty = self.type_ref()?;
            let has_default = self.eat('=');
            if has_default {
                self.value()?;
            }
            self.directives()?;
            values.push(InputValue {
                name,
                ty,
                has_default,
            });
        }
    }

    fn fields(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        loop {
            self.description();
            if self.eat('}') {
                return Ok(fields);
            }
            let name = self.name()?;
            let arguments = if self.eat('(') {
                self.input_values(')')?
            } else {
                Vec::new()
            };
            self.expect(':')?;
            let ty = self.type_ref()?;
            let retention = self.directives()?;
            fields.push(Field {
                name,
                arguments,
                ty,
                retention,
            });
        }
    }
}

/// Reads one schema file.
pub fn parse(text: &str) -> Result<Sdl, String> {
    let tokens = tokens(text)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
    };
    let mut sdl = Sdl {
        query_type: "Query".into(),
        types: BTreeMap::new(),
    };
    while p.peek().is_some() {
        p.description();
        let keyword = p.name()?;
        match keyword.as_str() {
            "schema" => {
                p.expect('{')?;
                while !p.eat('}') {
                    let operation = p.name()?;
                    p.expect(':')?;
                    let ty = p.name()?;
                    if operation == "query" {
                        sdl.query_type = ty;
                    }
                }
            }
            "directive" => {
                p.expect('@')?;
                p.name()?;
                if p.eat('(') {
                    p.input_values(')')?;
                }
                // `on A | B`: locations up to the next definition.
                if p.peek() == Some(&Token::Name("repeatable".into())) {
                    p.at += 1;
                }
                p.name()?;
                p.eat('|');
                p.name()?;
                while p.eat('|') {
                    p.name()?;
                }
            }
            "type" => {
                let name = p.name()?;
                p.directives()?;
                let fields = p.fields()?;
                sdl.types.insert(name, TypeDef::Object(fields));
            }
            "input" => {
                let name = p.name()?;
                p.directives()?;
                p.expect('{')?;
                let fields = p.input_values('}')?;
                sdl.types.insert(name, TypeDef::Input(fields));
            }
            "enum" => {
                let name = p.name()?;
                p.directives()?;
                p.expect('{')?;
                let mut values = Vec::new();
                loop {
                    p.description();
                    if p.eat('}') {
                        break;
                    }
                    values.push(p.name()?);
                    p.directives()?;
                }
                sdl.types.insert(name, TypeDef::Enum(values));
            }
            "scalar" => {
                let name = p.name()?;
                p.directives()?;
                sdl.types.insert(name, TypeDef::Scalar);
            }
            other => return Err(format!("`{other}` definitions are not read")),
        }
    }
    for builtin in ["String", "Int", "Float", "Boolean", "ID"] {
        sdl.types.entry(builtin.into()).or_insert(TypeDef::Scalar);
    }
    Ok(sdl)
}
