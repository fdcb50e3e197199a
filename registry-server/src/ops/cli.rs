//! `registry-server trace list` and `registry-server trace tree`: what DB-GPT's `dbgpt trace
//! list` and `dbgpt trace tree` print, over JSON-lines span files (this server's and DB-GPT's).
//!
//! By default each prints DB-GPT's output for the same files and flags, from the raw records
//! (`span_storage::query::render_record_list`, `render_record_tree`). This server's own views,
//! one row per span with start and end merged, durations and waterfalls, are behind `list
//! --merged` and `tree --durations`.
//!
//! Options take DB-GPT's spellings too (`--trace_id` as well as `--trace-id`). With no files
//! named, every `*.jsonl` file in the folder of the configured span file is read.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use clap::{Args, Subcommand};
use span_storage::query::{
    ChatQuery, DEFAULT_LIST_LIMIT, JsonPathQuery, OutputFormat, RecordFilter, SpanFilter,
    TableFormat, TraceTree, empty_message, load_records, load_spans, render_chat, render_json_path,
    render_list, render_record_list, render_record_tree,
};
use span_storage::{SpanStorageError, SpanType, parse_span_time};
use thiserror::Error;

/// `registry-server trace …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum TraceCommand {
    /// List span records as `dbgpt trace list` does (`--merged`: one row per span).
    List(ListArgs),
    /// Show one trace as `dbgpt trace tree` does (`--durations`: merged, with durations).
    Tree(TreeArgs),
    /// Show the services' run parameters and one chat's details as `dbgpt trace chat` does.
    Chat(ChatArgs),
}

/// The options of `trace chat`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ChatArgs {
    /// The chat's trace; default: the latest chat.
    #[arg(long, alias = "trace_id", value_name = "ID")]
    pub trace_id: Option<String>,
    /// Print the chat's spans as a tree too.
    #[arg(long)]
    pub tree: bool,
    /// Leave out the chat's details.
    #[arg(long, alias = "hide_conv")]
    pub hide_conv: bool,
    /// Leave out the services' run parameters.
    #[arg(long, alias = "hide_run_params")]
    pub hide_run_params: bool,
    /// text, html, csv, latex or json.
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = parse_table_format)]
    pub output: TableFormat,
    /// Span files, folders or patterns, as for `trace list`.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// The options of `trace list`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ListArgs {
    /// Only records of this trace.
    #[arg(long, alias = "trace_id", value_name = "ID")]
    pub trace_id: Option<String>,
    /// Only records of the span with this id.
    #[arg(long, alias = "span_id", value_name = "ID")]
    pub span_id: Option<String>,
    /// Only records of this span type (base, run, chat or agent).
    #[arg(long, alias = "span_type", value_name = "TYPE")]
    pub span_type: Option<String>,
    /// Only records of direct children of this span.
    #[arg(long, alias = "parent_span_id", value_name = "ID")]
    pub parent_span_id: Option<String>,
    /// Only records whose ids, operation name or metadata keys or values contain this text, as
    /// Python prints them (`True`, `None`, `{'k': 'v'}`).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only records that started at or after this time (`2024-01-01 12:00:00[.mmm]`).
    #[arg(long, alias = "start_time", value_name = "TIME", value_parser = parse_time)]
    pub start_time: Option<NaiveDateTime>,
    /// Only records that started at or before this time.
    #[arg(long, alias = "end_time", value_name = "TIME", value_parser = parse_time)]
    pub end_time: Option<NaiveDateTime>,
    /// At most this many (after sorting).
    #[arg(short = 'l', long, default_value_t = DEFAULT_LIST_LIMIT, value_name = "N")]
    pub limit: usize,
    /// Newest first.
    #[arg(long)]
    pub desc: bool,
    /// text, html, csv, latex or json (with `--merged`: text, json or csv).
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = parse_table_format)]
    pub output: TableFormat,
    /// Print the values this JSONPath picks out of each record (`$.` is added when it does not
    /// start with `$`), such as `metadata.messages[0].content`.
    #[arg(short = 'j', long, alias = "json_path", value_name = "PATH")]
    pub json_path: Option<String>,
    /// `-sj`: with `-jm`, keep only records where this JSONPath finds the `-jm` text.
    #[arg(long, alias = "search_json_path", value_name = "PATH")]
    pub search_json_path: Option<String>,
    /// `-jm`: the text `-sj` must find.
    #[arg(long, alias = "json_path_match", value_name = "TEXT")]
    pub json_path_match: Option<String>,
    /// With `--json_path`: only the values, without trace and span ids.
    #[arg(long)]
    pub value: bool,
    /// One row per span, start and end records merged, with its type, times and duration.
    #[arg(long)]
    pub merged: bool,
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
    /// One line per span with its duration, orphans shown at the root.
    #[arg(long)]
    pub durations: bool,
    /// With `--durations`: text (an indented tree), json (the tree) or csv (waterfall rows).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, requires = "durations")]
    pub output: Option<OutputFormat>,
    /// Span files, folders or patterns, as for `trace list`.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// DB-GPT's `dbgpt trace list` takes two options clap cannot spell as short options, `-sj`
/// and `-jm`; they are read as `--search-json-path` and `--json-path-match`.
pub fn dbgpt_spellings(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .map(|arg| match arg.to_str() {
            Some("-sj") => "--search-json-path".into(),
            Some("-jm") => "--json-path-match".into(),
            _ => arg,
        })
        .collect()
}

fn parse_table_format(text: &str) -> Result<TableFormat, String> {
    match text {
        "text" => Ok(TableFormat::Text),
        "html" => Ok(TableFormat::Html),
        "csv" => Ok(TableFormat::Csv),
        "latex" => Ok(TableFormat::Latex),
        "json" => Ok(TableFormat::Json),
        other => Err(format!(
            "{other:?} is not an output format: use text, html, csv, latex or json"
        )),
    }
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
    /// Options that do not go together.
    #[error("{0}")]
    Usage(String),
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
    let named = match command {
        TraceCommand::List(args) => &args.files,
        TraceCommand::Tree(args) => &args.files,
        TraceCommand::Chat(args) => &args.files,
    };
    let files = if named.is_empty() {
        let file = span_file.ok_or(TraceCliError::NoFiles)?;
        vec![match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }]
    } else {
        named.clone()
    };
    match command {
        TraceCommand::List(args) if args.merged => run_merged_list(args, &files),
        TraceCommand::Tree(args) if args.durations => run_durations_tree(args, &files),
        TraceCommand::List(args) => {
            let loaded = load_records(&files)?;
            let notes = file_notes(&loaded.bad_lines, &loaded.torn_files);
            let filter = record_filter(args);
            let text = match &args.json_path {
                Some(path) => {
                    let mut query = JsonPathQuery::new(path.as_str());
                    query.search_path.clone_from(&args.search_json_path);
                    query.search_match.clone_from(&args.json_path_match);
                    query.values_only = args.value;
                    let json = args.output == TableFormat::Json;
                    render_json_path(&filter.select(&loaded.records), &query, args.limit, json)
                }
                None => render_record_list(&filter.apply(&loaded.records), args.output),
            };
            Ok(TraceOutput { text, notes })
        }
        TraceCommand::Chat(args) => {
            let loaded = load_records(&files)?;
            let notes = file_notes(&loaded.bad_lines, &loaded.torn_files);
            let mut query = ChatQuery::default();
            query.trace_id.clone_from(&args.trace_id);
            query.tree = args.tree;
            query.hide_conv = args.hide_conv;
            query.hide_run_params = args.hide_run_params;
            query.format = args.output;
            query.wrap = wrap_width();
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let text = render_chat(&loaded.records, &query, &names);
            Ok(TraceOutput { text, notes })
        }
        TraceCommand::Tree(args) => {
            let loaded = load_records(&files)?;
            let notes = file_notes(&loaded.bad_lines, &loaded.torn_files);
            let text = render_record_tree(&args.trace_id, &loaded.records).unwrap_or_else(|| {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                empty_message(&names)
            });
            Ok(TraceOutput { text, notes })
        }
    }
}

/// DB-GPT's width for long texts in `trace chat`: 80% of the terminal's columns, or 100 when
/// the output is not a terminal.
fn wrap_width() -> usize {
    let columns = std::io::stdout()
        .is_terminal()
        .then(terminal_size::terminal_size)
        .flatten()
        .map(|(width, _)| usize::from(width.0));
    columns.map_or(100, |columns| columns * 4 / 5)
}

/// Warnings about the files read, for stderr.
fn file_notes(bad_lines: &[span_storage::BadLine], torn_files: &[PathBuf]) -> Vec<String> {
    let bad = bad_lines
        .iter()
        .map(|bad| format!("skipped a line that is not a span: {bad}"));
    let torn = torn_files
        .iter()
        .map(|file| format!("{}: skipped a partial last line", file.display()));
    bad.chain(torn).collect()
}

fn record_filter(args: &ListArgs) -> RecordFilter {
    let mut filter = RecordFilter::new();
    filter.trace_id.clone_from(&args.trace_id);
    filter.span_id.clone_from(&args.span_id);
    filter.span_type.clone_from(&args.span_type);
    filter.parent_span_id.clone_from(&args.parent_span_id);
    filter.search.clone_from(&args.search);
    filter.start_time = args.start_time;
    filter.end_time = args.end_time;
    filter.descending = args.desc;
    filter.limit = args.limit;
    filter
}

fn run_merged_list(args: &ListArgs, files: &[PathBuf]) -> Result<TraceOutput, TraceCliError> {
    let format = match args.output {
        TableFormat::Text => OutputFormat::Text,
        TableFormat::Json => OutputFormat::Json,
        TableFormat::Csv => OutputFormat::Csv,
        _ => {
            return Err(TraceCliError::Usage(
                "--merged writes text, json or csv".into(),
            ));
        }
    };
    let loaded = load_spans(files)?;
    let notes = file_notes(&loaded.bad_lines, &loaded.torn_files);
    let filter = list_filter(args)?;
    Ok(TraceOutput {
        text: render_list(&filter.apply(loaded.spans), format),
        notes,
    })
}

fn run_durations_tree(args: &TreeArgs, files: &[PathBuf]) -> Result<TraceOutput, TraceCliError> {
    let loaded = load_spans(files)?;
    let notes = file_notes(&loaded.bad_lines, &loaded.torn_files);
    let tree = TraceTree::build(&args.trace_id, &loaded.spans)
        .ok_or_else(|| TraceCliError::NoSuchTrace(args.trace_id.clone()))?;
    Ok(TraceOutput {
        text: render_tree(&tree, args.output.unwrap_or(OutputFormat::Text)),
        notes,
    })
}

fn list_filter(args: &ListArgs) -> Result<SpanFilter, TraceCliError> {
    let mut filter = SpanFilter::default()
        .limit(Some(args.limit))
        .descending(args.desc);
    if let Some(id) = &args.trace_id {
        filter = filter.trace_id(id.as_str());
    }
    if let Some(id) = &args.span_id {
        filter = filter.span_id(id.as_str());
    }
    if let Some(text) = &args.span_type {
        let span_type = SpanType::parse(text).ok_or_else(|| {
            TraceCliError::Usage(format!("{text:?} is not base, run, chat or agent"))
        })?;
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
    Ok(filter)
}

fn render_tree(tree: &TraceTree, format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => tree.render_text(),
        OutputFormat::Json => serde_json::to_string_pretty(tree).unwrap_or_default() + "\n",
        OutputFormat::Csv => tree.render_csv(),
    }
}
