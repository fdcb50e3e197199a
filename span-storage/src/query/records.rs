//! `dbgpt trace list` and `dbgpt trace tree` exactly as DB-GPT 0.8.2 prints them: over the raw
//! records of span files (a span's start and end records apart, as DB-GPT reads them), with
//! DB-GPT's filters, its search, its table and its tree.
//!
//! The merged view of this crate ([`super::SpanFilter`], [`super::TraceTree`]) stays for
//! callers that want one span per span id, durations and waterfalls.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::load::expand;
use super::table::{PrettyTable, TableFormat, python_str};
use crate::{BadLine, SpanStorageError, parse_span_time};

/// One line of a span file, as DB-GPT's `json.loads` reads it.
pub type SpanRecord = Map<String, Value>;

/// The records of span files, in the order read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRecords {
    /// Every record, file by file, line by line.
    pub records: Vec<SpanRecord>,
    /// Lines that are not JSON objects (DB-GPT stops at the first; these are skipped).
    pub bad_lines: Vec<BadLine>,
    /// Files whose last line was cut off mid-write (skipped).
    pub torn_files: Vec<PathBuf>,
}

/// Reads the records of files, folders and patterns (see [`super::load_spans`] for what each
/// path may be).
pub fn load_records(paths: &[PathBuf]) -> Result<SpanRecords, SpanStorageError> {
    let mut files = Vec::new();
    for path in paths {
        expand(path, &mut files)?;
    }
    let mut seen = std::collections::HashSet::new();
    let mut loaded = SpanRecords::default();
    for file in files {
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if seen.insert(key) {
            read_records(&file, &mut loaded)?;
        }
    }
    Ok(loaded)
}

fn read_records(path: &Path, into: &mut SpanRecords) -> Result<(), SpanStorageError> {
    let file =
        std::fs::File::open(path).map_err(|error| SpanStorageError::io("opening", path, error))?;
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|error| SpanStorageError::io("reading", path, error))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(record)) => into.records.push(record),
            // A last line with no newline that does not parse is a write cut off.
            Err(_) if !line.ends_with('\n') => into.torn_files.push(path.to_path_buf()),
            Ok(_) => into
                .bad_lines
                .push(bad_line(path, number, "not a JSON object")),
            Err(error) => into
                .bad_lines
                .push(bad_line(path, number, &error.to_string())),
        }
    }
}

fn bad_line(path: &Path, line: usize, message: &str) -> BadLine {
    BadLine {
        path: path.to_path_buf(),
        line,
        message: message.to_owned(),
    }
}

/// A field as DB-GPT reads it with `span[key]` or `span.get(key)`: `null` when absent.
pub(super) fn field<'a>(record: &'a SpanRecord, key: &str) -> &'a Value {
    record.get(key).unwrap_or(&Value::Null)
}

/// Python's truthiness, which DB-GPT's search applies before matching.
pub(super) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// The start time as DB-GPT sorts and filters by it; a record without a readable one sorts
/// first (DB-GPT stops with an error there).
pub(super) fn start_time(record: &SpanRecord) -> Option<NaiveDateTime> {
    field(record, "start_time")
        .as_str()
        .and_then(parse_span_time)
}

/// The filters of `dbgpt trace list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordFilter {
    /// `--trace_id`.
    pub trace_id: Option<String>,
    /// `--span_id`.
    pub span_id: Option<String>,
    /// `--span_type`, compared as text.
    pub span_type: Option<String>,
    /// `--parent_span_id`.
    pub parent_span_id: Option<String>,
    /// `--search`: a substring of Python's `str()` of an id, the operation name, or a metadata
    /// key or value that Python counts as true (so `True` finds `true`, and `false` is never
    /// searched).
    pub search: Option<String>,
    /// `--start_time`: records that started at or after it.
    pub start_time: Option<NaiveDateTime>,
    /// `--end_time`: records that started at or before it.
    pub end_time: Option<NaiveDateTime>,
    /// `--desc`: newest first.
    pub descending: bool,
    /// `-l`/`--limit` (DB-GPT's default is 20).
    pub limit: usize,
}

impl RecordFilter {
    /// No filter, oldest first, DB-GPT's limit of 20.
    pub fn new() -> Self {
        Self {
            limit: 20,
            ..Self::default()
        }
    }

    fn keeps(&self, record: &SpanRecord) -> bool {
        let equals = |key: &str, wanted: &Option<String>| {
            wanted
                .as_deref()
                .is_none_or(|wanted| field(record, key).as_str() == Some(wanted))
        };
        equals("trace_id", &self.trace_id)
            && equals("span_id", &self.span_id)
            && equals("span_type", &self.span_type)
            && equals("parent_span_id", &self.parent_span_id)
            && self
                .start_time
                .is_none_or(|after| start_time(record).is_some_and(|t| t >= after))
            && self
                .end_time
                .is_none_or(|before| start_time(record).is_some_and(|t| t <= before))
            && self
                .search
                .as_deref()
                .is_none_or(|text| matches_search(record, text))
    }

    /// The records kept, sorted by start time (stable, as Python's `sorted`), limited.
    pub fn apply<'a>(&self, records: &'a [SpanRecord]) -> Vec<&'a SpanRecord> {
        let mut kept = self.select(records);
        kept.truncate(self.limit);
        kept
    }

    /// The records kept, sorted, not limited (`--json_path` limits the records that have a
    /// value, after extraction).
    pub fn select<'a>(&self, records: &'a [SpanRecord]) -> Vec<&'a SpanRecord> {
        let mut kept: Vec<&SpanRecord> = records.iter().filter(|r| self.keeps(r)).collect();
        if self.descending {
            kept.sort_by_key(|record| std::cmp::Reverse(start_time(record)));
        } else {
            kept.sort_by_key(|record| start_time(record));
        }
        kept
    }
}

fn matches_search(record: &SpanRecord, text: &str) -> bool {
    let mut items: Vec<&Value> = ["trace_id", "span_id", "parent_span_id"]
        .iter()
        .map(|key| field(record, key))
        .collect();
    if let Some(name) = record.get("operation_name") {
        items.push(name);
    }
    let keys: Vec<Value>;
    if let Some(Value::Object(metadata)) = record.get("metadata") {
        keys = metadata.keys().cloned().map(Value::String).collect();
        for (key, value) in keys.iter().zip(metadata.values()) {
            items.push(key);
            items.push(value);
        }
    }
    items
        .into_iter()
        .filter(|item| truthy(item))
        .any(|item| python_str(item).contains(text))
}

/// `dbgpt trace list`'s table: trace id, span id, operation name and the metadata's
/// `conv_uid`, in `format`, with the newline `print` adds.
pub fn render_record_list(records: &[&SpanRecord], format: TableFormat) -> String {
    let fields = ["Trace ID", "Span ID", "Operation Name", "Conversation UID"];
    // Four distinct field names and rows of four cells: the table cannot refuse them.
    let Ok(mut table) = PrettyTable::new(fields.map(String::from).to_vec(), None) else {
        return String::new();
    };
    for record in records {
        let conversation = match record.get("metadata") {
            Some(Value::Object(metadata)) => metadata.get("conv_uid").cloned(),
            _ => None,
        };
        let row = vec![
            field(record, "trace_id").clone(),
            field(record, "span_id").clone(),
            field(record, "operation_name").clone(),
            conversation.unwrap_or(Value::Null),
        ];
        if table.add_row(row).is_err() {
            return String::new();
        }
    }
    table.render(format) + "\n"
}

/// `dbgpt trace tree`: each span's start record, then its children, then its end record, one
/// `Operation: NAME (Start: …, End: …)` line each, indented two spaces a level. Only spans whose
/// start record is in `records` appear, from the root (no parent) down, as DB-GPT shows them;
/// `None` when the trace has no record at all.
pub fn render_record_tree(trace_id: &str, records: &[SpanRecord]) -> Option<String> {
    let trace: Vec<&SpanRecord> = records
        .iter()
        .filter(|record| field(record, "trace_id").as_str() == Some(trace_id))
        .collect();
    if trace.is_empty() {
        return None;
    }
    Some(tree_text(&walk_trace(&trace)))
}

/// The records of one trace in DB-GPT's tree order (a start record, its children's, then its
/// end record), each with its depth.
pub(super) fn walk_trace<'a>(trace: &[&'a SpanRecord]) -> Vec<(usize, &'a SpanRecord)> {
    let mut walked = Vec::new();
    walk_level(trace, &Value::Null, 0, &mut walked);
    walked
}

fn walk_level<'a>(
    trace: &[&'a SpanRecord],
    parent: &Value,
    depth: usize,
    walked: &mut Vec<(usize, &'a SpanRecord)>,
) {
    // DB-GPT recurses without a limit, and records that reuse a span id can nest forever
    // (1 → 2 → 1 → …). No honest tree is deeper than the trace has records.
    if depth > trace.len() {
        return;
    }
    let starts = trace
        .iter()
        .filter(|r| field(r, "parent_span_id") == parent && field(r, "end_time").is_null());
    for &start in starts {
        walked.push((depth, start));
        let span_id = field(start, "span_id");
        walk_level(trace, span_id, depth + 1, walked);
        let end = trace
            .iter()
            .find(|r| field(r, "span_id") == span_id && !field(r, "end_time").is_null());
        if let Some(&end) = end {
            walked.push((depth, end));
        }
    }
}

/// DB-GPT's `_print_trace_hierarchy` lines.
pub(super) fn tree_text(walked: &[(usize, &SpanRecord)]) -> String {
    let mut out = String::new();
    for (depth, record) in walked {
        out.push_str(&"  ".repeat(*depth));
        out.push_str(&format!(
            "Operation: {} (Start: {}, End: {})\n",
            python_str(field(record, "operation_name")),
            python_str(field(record, "start_time")),
            python_str(field(record, "end_time")),
        ));
    }
    out
}

/// What DB-GPT prints when the files hold no record of what was asked for.
pub fn empty_message(files: &[String]) -> String {
    format!(
        "No trace span records found in your tracer files: {}\n",
        files.join(",")
    )
}

mod chat;
mod extract;

pub use chat::{ChatQuery, render_chat};
pub use extract::{JsonPathQuery, render_json_path};

#[cfg(test)]
mod tests;
