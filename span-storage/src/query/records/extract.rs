//! `dbgpt trace list --json_path` (`-j`) with `-sj`, `-jm` and `--value`: values picked out of
//! each record by a JSONPath, printed as DB-GPT prints them.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Value, json};
use serde_json_path::JsonPath;

use super::{SpanRecord, field};
use crate::format::python_float_repr;
use crate::query::python_str;

/// What to pick out of each record, and how to print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonPathQuery {
    /// `-j`/`--json_path`; `$.` is put in front when it does not start with `$`.
    pub path: String,
    /// `-sj`: a second path, read only to decide whether a record is kept.
    pub search_path: Option<String>,
    /// `-jm`/`--json_path_match`: with `-sj`, keep a record only when one of the second
    /// path's values is this text.
    pub search_match: Option<String>,
    /// `--value`: print only the values, without the ids.
    pub values_only: bool,
}

impl JsonPathQuery {
    /// A query of `path` alone.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

fn rooted(path: &str) -> String {
    if path.starts_with('$') {
        path.to_owned()
    } else {
        format!("$.{path}")
    }
}

/// The values `query` picks out of `records` (already filtered and sorted), of the first
/// `limit` records that have any, printed as DB-GPT prints them: JSON with `json_output`,
/// else one block per value, each followed by a line of 80 `=`. A path that does not parse
/// prints DB-GPT's error line.
pub fn render_json_path(
    records: &[&SpanRecord],
    query: &JsonPathQuery,
    limit: usize,
    json_output: bool,
) -> String {
    let parsed = JsonPath::parse(&rooted(&query.path)).and_then(|path| {
        // DB-GPT filters only when both are given and not empty (Python's truthiness).
        let search = match (&query.search_path, &query.search_match) {
            (Some(search), Some(wanted)) if !search.is_empty() && !wanted.is_empty() => {
                Some((JsonPath::parse(&rooted(search))?, wanted))
            }
            _ => None,
        };
        Ok((path, search))
    });
    let (path, search) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return format!("Error while processing JSONPath: {error}\n"),
    };
    let mut found: Vec<(&Value, &Value, Vec<Value>)> = Vec::new();
    for record in records {
        if found.len() == limit {
            break;
        }
        let span = Value::Object((*record).clone());
        let mut values: Vec<Value> = path.query(&span).all().into_iter().cloned().collect();
        if let Some((search, wanted)) = &search {
            let wanted = Value::String((*wanted).clone());
            if !values.is_empty() && !search.query(&span).all().contains(&&wanted) {
                values.clear();
            }
        }
        if !values.is_empty() {
            found.push((field(record, "trace_id"), field(record, "span_id"), values));
        }
    }
    let mut out = String::new();
    if found.is_empty() {
        return out;
    }
    let rule = "=".repeat(80);
    if json_output {
        let printed: Vec<Value> = if query.values_only {
            found
                .into_iter()
                .map(|(_, _, values)| Value::Array(values))
                .collect()
        } else {
            found
                .into_iter()
                .map(|(trace, span, values)| {
                    json!({"trace_id": trace, "span_id": span, "extracted_values": values})
                })
                .collect()
        };
        out.push_str(&python_json(&Value::Array(printed)));
        out.push('\n');
        return out;
    }
    for (trace, span, values) in found {
        for value in values {
            if query.values_only {
                match value {
                    Value::Object(_) => out.push_str(&python_json(&value)),
                    other => out.push_str(&python_str(&other)),
                }
                out.push('\n');
            } else {
                out.push_str(&format!(
                    "Trace ID: {}, Span ID: {}, \nValue: {}\n",
                    python_str(trace),
                    python_str(span),
                    python_json(&value)
                ));
            }
            out.push_str(&rule);
            out.push('\n');
        }
    }
    out
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=2)`.
fn python_json(value: &Value) -> String {
    let mut out = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, PythonPretty(PrettyFormatter::new()));
    // Writing a `Value` into a `Vec` cannot fail.
    if value.serialize(&mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's two-space layout, which is Python's `indent=2`, with Python's floats.
struct PythonPretty<'a>(PrettyFormatter<'a>);

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(w $(, $arg)*)
        })*
    };
}

impl Formatter for PythonPretty<'_> {
    forward!(
        begin_array(),
        end_array(),
        begin_array_value(first: bool),
        end_array_value(),
        begin_object(),
        end_object(),
        begin_object_key(first: bool),
        begin_object_value(),
        end_object_value(),
    );

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }
}
