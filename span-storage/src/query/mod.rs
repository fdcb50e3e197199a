//! Querying span files: the library behind `trace list` and `trace tree` commands and a
//! traces web view, with the semantics of DB-GPT's `dbgpt trace list` / `dbgpt trace tree`.
//!
//! - [`load_spans`] reads files, folders and `*` patterns, merging the start and end records
//!   of each span ([`merge_records`]) and collecting bad lines.
//! - [`SpanFilter`] filters, sorts and limits spans as `dbgpt trace list` does.
//! - [`render_list`] writes spans as a text table, JSON or CSV ([`OutputFormat`]).
//! - [`load_records`], [`RecordFilter`], [`render_record_list`] and [`render_record_tree`]
//!   print what DB-GPT's `dbgpt trace list` and `dbgpt trace tree` print, from the raw
//!   records, with [`PrettyTable`] for DB-GPT's tables.
//! - [`TraceTree`] is one trace as a tree ([`TraceTree::render_text`]) or a waterfall
//!   ([`TraceTree::waterfall`]).
//! - [`trace_summaries`] lists traces, newest first.
//! - [`SpanTail`] (and [`SharedSpanTail`], for concurrent callers) reads span files
//!   incrementally into a bounded window of recent spans, for a view that is asked again and
//!   again.
//!
//! ```
//! use span_storage::query::{OutputFormat, SpanFilter, TraceTree, load_spans, render_list};
//! use span_storage::{Span, SpanType};
//!
//! let dir = tempfile::tempdir()?;
//! let root = Span::new_root(SpanType::Chat, "get_chat_instance");
//! let child = Span::child_of(&root, SpanType::Run, "run_model");
//! let lines: Vec<String> = [root.clone(), child.clone(), child.end_record(), root.end_record()]
//!     .iter()
//!     .map(Span::to_json_line)
//!     .collect();
//! std::fs::write(dir.path().join("dbgpt_webserver_tracer.jsonl"), lines.join("\n") + "\n")?;
//!
//! let loaded = load_spans(&[dir.path().to_path_buf()])?;
//! assert_eq!(loaded.spans.len(), 2); // start and end records merged
//! let listed = SpanFilter::for_list().span_type(SpanType::Run).apply(loaded.spans.clone());
//! assert!(render_list(&listed, OutputFormat::Csv).contains("run_model"));
//! let tree = TraceTree::build(&root.trace_id, &loaded.spans).expect("the trace is there");
//! assert_eq!(tree.roots[0].children[0].span.span_id, child.span_id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod csv;
mod filter;
mod load;
mod output;
mod records;
mod shared_tail;
mod summary;
pub(crate) mod table;
mod tail;
mod tree;
mod window;

pub use filter::{DEFAULT_LIST_LIMIT, SpanFilter};
pub use load::{LoadedSpans, load_spans, merge_records};
pub use output::{OutputFormat, UnknownOutputFormat, render_list};
pub use records::{
    ChatQuery, JsonPathQuery, RecordFilter, SpanRecord, SpanRecords, empty_message, load_records,
    render_chat, render_json_path, render_record_list, render_record_tree,
};
pub use shared_tail::{SharedSpanTail, SpanSnapshot};
pub use summary::{TraceSummary, trace_summaries};
pub use table::{
    PrettyTable, TableError, TableFormat, UnknownTableFormat, display_width, python_str,
};
pub use tail::{SpanTail, TailRefresh};
pub use tree::{TraceNode, TraceTree, WaterfallRow};
pub use window::WindowLimits;
