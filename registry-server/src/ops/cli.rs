//! `registry-server trace list` and `registry-server trace tree`: DB-GPT's `dbgpt trace list`
//! and `dbgpt trace tree` over JSON-lines span files (this server's and DB-GPT's).
//!
//! Options take DB-GPT's spellings too (`--trace_id` as well as `--trace-id`). With no files
//! named, every `*.jsonl` file in the folder of the configured span file is read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use clap::{Args, Subcommand};
use span_storage::query::{
    DEFAULT_LIST_LIMIT, OutputFormat, SpanFilter, TraceTree, load_spans, render_list,
};
use span_storage::{SpanStorageError, SpanType, parse_span_time};
use thiserror::Error;

/// `registry-server trace …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum TraceCommand {
    /// List spans, filtered, as a table, JSON or CSV.
    List(ListArgs),
    /// Show one trace as a tree, with durations.
    Tree(TreeArgs),
}

/// The options of `trace list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListArgs {
    /// Only spans of this trace.
    #[arg(long, alias = "trace_id", value_name = "ID")]
    pub trace_id: Option<String>,
    /// Only the span with this id.
    #[arg(long, alias = "span_id", value_name = "ID")]
    pub span_id: Option<String>,
    /// Only spans of this type: base, run, chat or agent.
    #[arg(long, alias = "span_type", value_name = "TYPE", value_parser = parse_span_type)]
    pub span_type: Option<SpanType>,
    /// Only direct children of this span.
    #[arg(long, alias = "parent_span_id", value_name = "ID")]
    pub parent_span_id: Option<String>,
    /// Only spans whose ids, operation name or metadata contain this text.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only spans that started at or after this time (`2024-01-01 12:00:00`).
    #[arg(long, alias = "start_time", value_name = "TIME", value_parser = parse_time)]
    pub start_time: Option<NaiveDateTime>,
    /// Only spans that started at or before this time.
    #[arg(long, alias = "end_time", value_name = "TIME", value_parser = parse_time)]
    pub end_time: Option<NaiveDateTime>,
    /// At most this many spans (after sorting).
    #[arg(long, default_value_t = DEFAULT_LIST_LIMIT, value_name = "N")]
    pub limit: usize,
    /// Newest first.
    #[arg(long)]
    pub desc: bool,
    /// text, json or csv.
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = parse_format)]
    pub output: OutputFormat,
    /// Span files, folders (their `*.jsonl` files) or `*` patterns; default: the folder of the
    /// configured span file.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// The options of `trace tree`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TreeArgs {
    /// The trace to show.
    #[arg(long, alias = "trace_id", value_name = "ID")]
    pub trace_id: String,
    /// text (an indented tree), json (the tree) or csv (waterfall rows).
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = parse_format)]
    pub output: OutputFormat,
    /// Span files, folders or patterns, as for `trace list`.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

fn parse_span_type(text: &str) -> Result<SpanType, String> {
    SpanType::parse(text).ok_or_else(|| format!("{text:?} is not base, run, chat or agent"))
}

fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    parse_span_time(text).ok_or_else(|| format!("{text:?} is not a time like 2024-01-01 12:00:00"))
}

fn parse_format(text: &str) -> Result<OutputFormat, String> {
    text.parse()
        .map_err(|error: span_storage::query::UnknownOutputFormat| error.to_string())
}

/// Why a trace command failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TraceCliError {
    /// No files were named and tracing is off, so there is no default folder.
    #[error("no span files given, and no span file is configured")]
    NoFiles,
    /// A file could not be read.
    #[error("cannot read span files: {0}")]
    Load(#[from] SpanStorageError),
    /// The trace is in none of the files.
    #[error("no span of trace {0} in the files read")]
    NoSuchTrace(String),
}

/// What a trace command prints: `text` on stdout, `notes` (bad lines, torn files) on stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceOutput {
    /// The answer.
    pub text: String,
    /// Warnings about the files read.
    pub notes: Vec<String>,
}

/// Runs a trace command; `span_file` is the configured span file (its folder is the default).
pub fn run(command: &TraceCommand, span_file: Option<&Path>) -> Result<TraceOutput, TraceCliError> {
    let files = match command {
        TraceCommand::List(args) => &args.files,
        TraceCommand::Tree(args) => &args.files,
    };
    let files = if files.is_empty() {
        let file = span_file.ok_or(TraceCliError::NoFiles)?;
        vec![match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }]
    } else {
        files.clone()
    };
    let loaded = load_spans(&files)?;
    let mut notes: Vec<String> = loaded
        .bad_lines
        .iter()
        .map(|bad| format!("skipped a line that is not a span: {bad}"))
        .collect();
    notes.extend(
        loaded
            .torn_files
            .iter()
            .map(|file| format!("{}: skipped a partial last line", file.display())),
    );
    let text = match command {
        TraceCommand::List(args) => {
            render_list(&list_filter(args).apply(loaded.spans), args.output)
        }
        TraceCommand::Tree(args) => {
            let tree = TraceTree::build(&args.trace_id, &loaded.spans)
                .ok_or_else(|| TraceCliError::NoSuchTrace(args.trace_id.clone()))?;
            render_tree(&tree, args.output)
        }
    };
    Ok(TraceOutput { text, notes })
}

fn list_filter(args: &ListArgs) -> SpanFilter {
    let mut filter = SpanFilter::default()
        .limit(Some(args.limit))
        .descending(args.desc);
    if let Some(id) = &args.trace_id {
        filter = filter.trace_id(id.as_str());
    }
    if let Some(id) = &args.span_id {
        filter = filter.span_id(id.as_str());
    }
    if let Some(span_type) = args.span_type {
        filter = filter.span_type(span_type);
    }
    if let Some(id) = &args.parent_span_id {
        filter = filter.parent_span_id(id.as_str());
    }
    if let Some(text) = &args.search {
        filter = filter.search(text.as_str());
    }
    if let Some(time) = args.start_time {
        filter = filter.start_time(time);
    }
    if let Some(time) = args.end_time {
        filter = filter.end_time(time);
    }
    filter
}

fn render_tree(tree: &TraceTree, format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => tree.render_text(),
        OutputFormat::Json => serde_json::to_string_pretty(tree).unwrap_or_default() + "\n",
        OutputFormat::Csv => {
            let mut out =
                String::from("depth,span_id,operation_name,span_type,offset_ms,duration_ms\n");
            for row in tree.waterfall() {
                let name = row.operation_name.replace('"', "\"\"");
                let duration = row.duration_ms.map(|d| d.to_string()).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{},{},\"{name}\",{},{},{duration}",
                    row.depth, row.span_id, row.span_type, row.offset_ms
                );
            }
            out
        }
    }
}
