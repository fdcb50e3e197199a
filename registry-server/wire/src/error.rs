//! Why DB-GPT's JSON could not be read, in the shape DB-GPT's FastAPI reports it.
//!
//! FastAPI answers a request it cannot read with 422 and
//! `{"detail":[{"type","loc","msg","input"},…]}`: one entry per problem, each with pydantic's
//! error type, where it was found (`["body","port"]`, `["query","healthy_only"]`), pydantic's
//! message and the offending input. [`WireError`] carries exactly that, so a server can answer
//! as DB-GPT does.

use registry_core::ValidationError;
use serde_json::Value;
use thiserror::Error;

/// Where a request's input was read from: the first part of a problem's `loc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The JSON body.
    Body,
    /// The query string.
    Query,
}

impl Place {
    /// As FastAPI spells it in `loc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Body => "body",
            Self::Query => "query",
        }
    }
}

/// One problem with a request's input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Problem {
    /// Pydantic's error type, such as `missing`, `int_parsing` or `string_type`; `value_error`
    /// for a rule of this registry's own.
    pub kind: &'static str,
    /// Where the input was read from.
    pub place: Place,
    /// The field, as spelled on the wire; `None` for the body or query as a whole.
    pub field: Option<&'static str>,
    /// What is wrong, in pydantic's words where pydantic has them.
    pub message: String,
    /// The offending input; `None` when the reader did not keep it (a server fills it from
    /// the body with [`WireError::with_body`]).
    pub input: Option<Value>,
    /// Pydantic's context for the error, where it gives one.
    pub ctx: Option<Value>,
    /// A last `loc` part after the field: the character position of a JSON syntax error.
    pub position: Option<usize>,
}

impl Problem {
    /// A problem of the given pydantic type with one field.
    pub fn new(
        kind: &'static str,
        place: Place,
        field: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            place,
            field,
            message: message.into(),
            input: None,
            ctx: None,
            position: None,
        }
    }

    /// The same problem with its input.
    pub fn with_input(mut self, input: Value) -> Self {
        self.input = Some(input);
        self
    }

    /// The same problem with pydantic's context.
    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// A field that is absent: pydantic's `missing`.
    pub fn missing(place: Place, field: &'static str) -> Self {
        Self::new("missing", place, Some(field), "Field required")
    }

    /// A rule of this registry's own, broken by a value DB-GPT's types accept.
    pub fn rule(place: Place, error: &ValidationError) -> Self {
        Self::new(
            "value_error",
            place,
            Some(error.field()),
            format!("Value error, {error}"),
        )
    }
}

/// Why a body or query could not be read into an instance: one or more [`Problem`]s.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{}", summary(.problems))]
pub struct WireError {
    problems: Vec<Problem>,
}

fn summary(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| match problem.field {
            Some(field) => format!("{field}: {}", problem.message),
            None => problem.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl WireError {
    /// An error of these problems (at least one).
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        Self { problems }
    }

    /// A body that is not JSON at all: pydantic's `json_invalid`, at the byte where the JSON
    /// parser stopped.
    pub fn malformed_json(body: &[u8], error: &serde_json::Error) -> Self {
        let mut problem = Problem::new("json_invalid", Place::Body, None, "JSON decode error")
            .with_input(Value::Object(Default::default()))
            .with_ctx(serde_json::json!({ "error": python_json_message(error) }));
        // Python points past the end when the text ends early; serde_json at the last byte.
        problem.position = Some(if error.is_eof() {
            String::from_utf8_lossy(body).chars().count()
        } else {
            char_position(body, error.line(), error.column())
        });
        Self::new(vec![problem])
    }

    /// A problem with one body field that is a rule of this registry's own (`value_error`).
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(vec![Problem::new(
            "value_error",
            Place::Body,
            Some(field),
            message,
        )])
    }

    /// A problem with one query parameter (`value_error`).
    pub fn query_field(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(vec![Problem::new(
            "value_error",
            Place::Query,
            Some(field),
            message,
        )])
    }

    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Whether the body was not JSON at all.
    pub fn is_malformed_json(&self) -> bool {
        self.problems.iter().any(|p| p.kind == "json_invalid")
    }

    /// The wire field the first problem is about, if any.
    pub fn field_name(&self) -> Option<&'static str> {
        self.problems.first().and_then(|problem| problem.field)
    }

    /// FastAPI's `detail`: one object per problem, `{"type","loc","msg","input"}` and `ctx`
    /// where pydantic gives one.
    pub fn detail(&self) -> Value {
        Value::Array(
            self.problems
                .iter()
                .map(|problem| {
                    let mut loc = vec![Value::from(problem.place.as_str())];
                    loc.extend(problem.field.map(Value::from));
                    loc.extend(problem.position.map(Value::from));
                    let mut entry = serde_json::Map::new();
                    entry.insert("type".into(), problem.kind.into());
                    entry.insert("loc".into(), Value::Array(loc));
                    entry.insert("msg".into(), problem.message.clone().into());
                    entry.insert("input".into(), problem.input.clone().unwrap_or(Value::Null));
                    if let Some(ctx) = &problem.ctx {
                        entry.insert("ctx".into(), ctx.clone());
                    }
                    Value::Object(entry)
                })
                .collect(),
        )
    }

    /// Fills each body problem's missing input from the body, as FastAPI reports it: the
    /// field's value, or the whole body for a missing field or a body of the wrong shape.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        for problem in &mut self.problems {
            if problem.input.is_some() || problem.place != Place::Body {
                continue;
            }
            let whole = || parsed.clone().unwrap_or(Value::Null);
            problem.input = Some(match (problem.kind, problem.field) {
                ("missing", _) | (_, None) => whole(),
                (_, Some(field)) => parsed
                    .as_ref()
                    .and_then(|value| value.get(field))
                    .cloned()
                    .unwrap_or(Value::Null),
            });
        }
        self
    }
}

impl From<ValidationError> for WireError {
    fn from(error: ValidationError) -> Self {
        Self::new(vec![Problem::rule(Place::Body, &error)])
    }
}

impl From<Problem> for WireError {
    fn from(problem: Problem) -> Self {
        Self::new(vec![problem])
    }
}

/// Reads a JSON body into `T`: text that is not JSON is `json_invalid`; JSON of the wrong
/// shape is a problem with the body as a whole of the given pydantic type and message (such
/// as `dataclass_type`, "Input should be a dictionary or an instance of ModelInstance").
pub fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    kind: &'static str,
    expected: &str,
) -> Result<T, WireError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // FastAPI reads an empty body as no body at all.
        return Err(Problem::new("missing", Place::Body, None, "Field required")
            .with_input(Value::Null)
            .into());
    }
    serde_json::from_slice(bytes).map_err(|error| {
        if error.is_data() {
            Problem::new(kind, Place::Body, None, expected).into()
        } else {
            WireError::malformed_json(bytes, &error)
        }
    })
}

/// Python's `json` module's words for the commonest syntax errors, which FastAPI passes on;
/// serde_json's own words otherwise.
fn python_json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let phrase = text.split(" at line ").next().unwrap_or(&text);
    match phrase {
        "expected value" | "expected ident" | "EOF while parsing a value" => {
            "Expecting value".to_owned()
        }
        "key must be a string" => "Expecting property name enclosed in double quotes".to_owned(),
        "expected `,` or `}`" => "Expecting ',' delimiter".to_owned(),
        "trailing characters" => "Extra data".to_owned(),
        _ => phrase.to_owned(),
    }
}

/// The character offset of serde_json's 1-based line and column, as Python counts `pos`:
/// Python points at the start of a bad word (`nope`), serde_json after its last letter read.
fn char_position(body: &[u8], line: usize, column: usize) -> usize {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.split_inclusive('\n');
    let before: usize = lines
        .by_ref()
        .take(line.saturating_sub(1))
        .map(|line| line.chars().count())
        .sum();
    let current: Vec<char> = lines.next().unwrap_or_default().chars().collect();
    let mut at = column.saturating_sub(1).min(current.len());
    while at > 0 && current[at - 1].is_ascii_alphabetic() {
        at -= 1;
    }
    before + at
}
