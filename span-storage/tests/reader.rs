//! Reading span files: DB-GPT's and ours, bad lines, torn last lines.

use span_storage::{
    ContainerConfig, FileSpanStorage, Span, SpanFileReader, SpanStorageContainer, SpanStorageError,
    SpanType, read_span_file,
};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

const GOOD: &str = r#"{"span_type": "chat", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "parent_span_id": null, "operation_name": "get_chat_instance", "start_time": "2024-01-01 12:00:00.123", "end_time": null, "metadata": {"chat_mode": "chat_normal"}}"#;
/// DB-GPT before its OpenTelemetry ids: hyphenated UUIDs.
const LEGACY: &str = r#"{"span_type": "base", "trace_id": "1c4c2b36-7bb5-4a3a-9a3d-6a1f2f0b8e11", "span_id": "1c4c2b36-7bb5-4a3a-9a3d-6a1f2f0b8e11:2b8f6e0a-3c1d-4e5f-8a9b-0c1d2e3f4a5b", "parent_span_id": null, "operation_name": "DefaultModelWorker_call.generate_stream_func", "start_time": "2023-11-02 10:11:12.345", "end_time": "2023-11-02 10:11:13.001", "metadata": {"llm_adapter": "OldHFAdapter", "params": {"temperature": 0.6}}}"#;

#[test]
fn reads_dbgpt_lines_reports_bad_lines_and_skips_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dbgpt_webserver_tracer.jsonl");
    let torn = &GOOD[..GOOD.len() / 2];
    let text = format!("{GOOD}\n\n{{not json\n{LEGACY}\n{{\"span_type\": \"chat\"}}\n{torn}");
    std::fs::write(&path, text).expect("write");

    let contents = read_span_file(&path).expect("read");
    assert_eq!(contents.spans.len(), 2);
    assert_eq!(contents.spans[0].to_json_line(), GOOD);
    assert_eq!(contents.spans[1].to_json_line(), LEGACY);
    assert!(contents.torn_last_line);
    let bad: Vec<usize> = contents.bad_lines.iter().map(|b| b.line).collect();
    assert_eq!(bad, [3, 5]);
    let shown = contents.bad_lines[0].to_string();
    assert!(
        shown.starts_with(&format!("{}:3: ", path.display())),
        "{shown}"
    );
}

#[test]
fn a_complete_last_line_without_newline_is_kept() {
    let reader = SpanFileReader::new(Cursor::new(GOOD.as_bytes()), "memory");
    let spans: Vec<_> = reader.collect();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].is_ok());
}

#[test]
fn reads_what_the_container_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let file = Arc::new(FileSpanStorage::open(&path).expect("open"));
    let container =
        SpanStorageContainer::new(ContainerConfig::default(), vec![file]).expect("container");
    let root = Span::new_root(SpanType::Agent, "agent.plan")
        .with_metadata(serde_json::json!({"step": 1, "tool": "sql"}));
    let written = vec![
        root.clone(),
        Span::child_of(&root, SpanType::Run, "llm").end_record(),
        root.end_record(),
    ];
    for span in &written {
        container.append(span.clone());
    }
    container
        .shutdown(Duration::from_secs(60))
        .expect("shutdown");
    let contents = read_span_file(&path).expect("read");
    assert_eq!(contents.spans, written);
    assert!(contents.bad_lines.is_empty());
    assert!(!contents.torn_last_line);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = read_span_file("/nonexistent/spans.jsonl").expect_err("missing");
    assert!(matches!(err, SpanStorageError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/spans.jsonl"));
}
