//! The query module: loading and merging span files, DB-GPT's list filters, trees and
//! waterfalls, the three list formats, trace summaries.

use chrono::NaiveDateTime;
use span_storage::query::{
    DEFAULT_LIST_LIMIT, OutputFormat, SpanFilter, TraceTree, WaterfallRow, load_spans,
    merge_records, render_list, trace_summaries,
};
use span_storage::{Span, SpanStorageError, SpanType, parse_span_time};
use std::path::{Path, PathBuf};

const A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const B: &str = "0af7651916cd43dd8448eb211c80319c";

/// Lines as DB-GPT writes them: a chat trace with start and end records (one child still
/// open), and a second trace of which only an end record was written.
const LINES: &[&str] = &[
    r#"{"span_type": "chat", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "parent_span_id": null, "operation_name": "get_chat_instance", "start_time": "2024-01-01 12:00:00.000", "end_time": null, "metadata": {"chat_mode": "chat_normal", "conv_uid": "c-1"}}"#,
    r#"{"span_type": "run", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:b7ad6b7169203331", "parent_span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "operation_name": "BaseChat.stream_call", "start_time": "2024-01-01 12:00:00.100", "end_time": null, "metadata": {"temperature": 0.6}}"#,
    r#"{"span_type": "base", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:e457b5a2e4d86bd1", "parent_span_id": "4bf92f3577b34da6a3ce929d0e0e4736:b7ad6b7169203331", "operation_name": "model.generate", "start_time": "2024-01-01 12:00:00.200", "end_time": null, "metadata": null}"#,
    r#"{"span_type": "run", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:b7ad6b7169203331", "parent_span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "operation_name": "BaseChat.stream_call", "start_time": "2024-01-01 12:00:00.100", "end_time": "2024-01-01 12:00:01.100", "metadata": {"output": "hello, \"world\""}}"#,
    r#"{"span_type": "chat", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "parent_span_id": null, "operation_name": "get_chat_instance", "start_time": "2024-01-01 12:00:00.000", "end_time": "2024-01-01 12:00:01.500", "metadata": {"chat_mode": "chat_normal", "conv_uid": "c-1"}}"#,
    r#"{"span_type": "agent", "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1", "parent_span_id": null, "operation_name": "agent.act", "start_time": "2024-01-02 08:00:00.000", "end_time": "2024-01-02 08:00:00.250", "metadata": null}"#,
];

fn t(s: &str) -> NaiveDateTime {
    parse_span_time(s).expect("time")
}

fn sid(trace: &str, n: u64) -> String {
    format!("{trace}:{n:016x}")
}

/// A span with fixed times: `start`/`end` are milliseconds after 2024-01-01 12:00:00.
fn span(n: u64, parent: Option<u64>, op: &str, start: i64, end: Option<i64>) -> Span {
    let base = t("2024-01-01 12:00:00.000");
    Span {
        span_type: SpanType::Base,
        trace_id: A.to_owned(),
        span_id: sid(A, n),
        parent_span_id: parent.map(|p| sid(A, p)),
        operation_name: op.to_owned(),
        start_time: base + chrono::Duration::milliseconds(start),
        end_time: end.map(|e| base + chrono::Duration::milliseconds(e)),
        metadata: None,
    }
}

fn fixture() -> Vec<Span> {
    merge_records(LINES.iter().map(|l| Span::from_json_line(l).expect("line")))
}

fn write(path: &Path, lines: &[&str]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write");
}

fn ids(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.operation_name.as_str()).collect()
}

mod filter;
mod load;
mod output;
mod tree;
