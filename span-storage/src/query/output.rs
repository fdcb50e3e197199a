//! [`render_list`]: a list of spans as a text table, JSON or CSV.

use super::csv::csv_field;
use super::tree::duration_ms;
use crate::{Span, format_span_time};
use std::fmt;
use std::str::FromStr;

/// How [`render_list`] writes spans: `dbgpt trace list --output text|json|csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputFormat {
    /// A table with aligned columns, for people.
    #[default]
    Text,
    /// A JSON array of span objects, keys in DB-GPT's order.
    Json,
    /// CSV with a header row.
    Csv,
}

/// An output format name that is not `text`, `json` or `csv`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {0:?}: expected text, json or csv")]
pub struct UnknownOutputFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownOutputFormat;

    /// Parses `text`, `json` or `csv` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            _ => Err(UnknownOutputFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Csv => "csv",
        })
    }
}

/// The columns of the text table.
const TEXT_HEADER: [&str; 7] = [
    "Trace ID",
    "Span ID",
    "Operation Name",
    "Span Type",
    "Start Time",
    "End Time",
    "Duration (ms)",
];

/// The columns of the CSV: the span's fields in DB-GPT's order, then the duration.
const CSV_HEADER: [&str; 9] = [
    "span_type",
    "trace_id",
    "span_id",
    "parent_span_id",
    "operation_name",
    "start_time",
    "end_time",
    "metadata",
    "duration_ms",
];

/// Writes `spans`, in the order given, in `format`; the text always ends with a newline.
///
/// - [`OutputFormat::Text`]: a bordered table with the columns Trace ID, Span ID, Operation
///   Name, Span Type, Start Time, End Time and Duration (ms), left-aligned; an open span has
///   empty End Time and Duration cells; control characters in a cell are shown as spaces.
/// - [`OutputFormat::Json`]: a JSON array (two-space indent) of span objects with the keys of
///   a span line, in DB-GPT's order; non-ASCII text is written as it is.
/// - [`OutputFormat::Csv`]: the header `span_type,trace_id,span_id,parent_span_id,
///   operation_name,start_time,end_time,metadata,duration_ms`, then one row per span; a
///   missing value is an empty field, metadata is its JSON text; fields holding a comma, a
///   quote, or a line break are quoted (RFC 4180); lines end with `\n`.
pub fn render_list(spans: &[Span], format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => render_text(spans),
        OutputFormat::Json => {
            let mut out = serde_json::to_string_pretty(spans).unwrap_or_else(|_| "[]".into());
            out.push('\n');
            out
        }
        OutputFormat::Csv => render_csv(spans),
    }
}

fn duration_text(span: &Span) -> String {
    duration_ms(span)
        .map(|ms| ms.to_string())
        .unwrap_or_default()
}

fn render_text(spans: &[Span]) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut rows: Vec<Vec<String>> = vec![TEXT_HEADER.iter().map(|h| h.to_string()).collect()];
    rows.extend(spans.iter().map(|s| {
        vec![
            clean(&s.trace_id),
            clean(&s.span_id),
            clean(&s.operation_name),
            s.span_type.to_string(),
            format_span_time(&s.start_time),
            s.end_time
                .as_ref()
                .map(format_span_time)
                .unwrap_or_default(),
            duration_text(s),
        ]
    }));
    let mut widths = [0usize; TEXT_HEADER.len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let border: String = widths.iter().fold(String::from("+"), |mut b, w| {
        b.push_str(&"-".repeat(w + 2));
        b.push('+');
        b
    });
    let line = |row: &[String]| -> String {
        let mut l = String::from("|");
        for (cell, w) in row.iter().zip(widths) {
            let pad = w - cell.chars().count();
            l.push(' ');
            l.push_str(cell);
            l.push_str(&" ".repeat(pad + 1));
            l.push('|');
        }
        l
    };
    let mut out = format!("{border}\n{}\n{border}\n", line(&rows[0]));
    for row in &rows[1..] {
        out.push_str(&line(row));
        out.push('\n');
    }
    if rows.len() > 1 {
        out.push_str(&border);
        out.push('\n');
    }
    out
}

fn render_csv(spans: &[Span]) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push('\n');
    for span in spans {
        let metadata = span
            .metadata
            .as_ref()
            .filter(|m| !m.is_empty())
            .and_then(|m| serde_json::to_string(m).ok())
            .unwrap_or_default();
        let fields = [
            span.span_type.to_string(),
            span.trace_id.clone(),
            span.span_id.clone(),
            span.parent_span_id.clone().unwrap_or_default(),
            span.operation_name.clone(),
            format_span_time(&span.start_time),
            span.end_time
                .as_ref()
                .map(format_span_time)
                .unwrap_or_default(),
            metadata,
            duration_text(span),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, field);
        }
        out.push('\n');
    }
    out
}
