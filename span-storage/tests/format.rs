//! The JSON-lines format: DB-GPT sample lines round-trip byte for byte; ids and headers.

use chrono::NaiveDate;
use serde_json::json;
use span_storage::{
    Span, SpanType, TRACE_HEADER, format_span_time, is_valid_span_id, parse_span_time,
    parse_trace_header,
};

/// Lines as DB-GPT 0.8.2 writes them (`json.dumps(span.to_dict(), ensure_ascii=False)`).
const DBGPT_LINES: &[&str] = &[
    r#"{"span_type": "chat", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "parent_span_id": null, "operation_name": "get_chat_instance", "start_time": "2024-01-01 12:00:00.123", "end_time": null, "metadata": {"chat_mode": "chat_normal", "model_name": "glm-4-9b-chat"}}"#,
    r#"{"span_type": "run", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "4bf92f3577b34da6a3ce929d0e0e4736:b7ad6b7169203331", "parent_span_id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", "operation_name": "dbgpt.model.controller.register_instance", "start_time": "2024-01-01 12:00:00.200", "end_time": "2024-01-01 12:00:01.005", "metadata": null}"#,
    r#"{"span_type": "base", "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1", "parent_span_id": null, "operation_name": "模型推理", "start_time": "2023-12-31 23:59:59.999", "end_time": "2024-01-01 00:00:00.000", "metadata": {"args": [1, 2.5, true], "nested": {"k": "v \"quoted\""}, "unicode": "héllo"}}"#,
    r#"{"span_type": "agent", "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "0af7651916cd43dd8448eb211c80319c:e457b5a2e4d86bd1", "parent_span_id": "0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1", "operation_name": "agent.act", "start_time": "2024-02-29 08:30:15.042", "end_time": null, "metadata": null}"#,
];

#[test]
fn dbgpt_sample_lines_round_trip_byte_for_byte() {
    for line in DBGPT_LINES {
        let span = Span::from_json_line(line).expect("parse");
        assert_eq!(span.to_json_line(), *line);
    }
}

#[test]
fn parsed_fields_are_right() {
    let span = Span::from_json_line(DBGPT_LINES[1]).expect("parse");
    assert_eq!(span.span_type, SpanType::Run);
    assert_eq!(span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        span.parent_span_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7")
    );
    assert_eq!(
        span.operation_name,
        "dbgpt.model.controller.register_instance"
    );
    let start =
        NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.and_hms_milli_opt(12, 0, 0, 200));
    assert_eq!(Some(span.start_time), start);
    assert!(span.end_time.is_some());
    assert!(span.metadata.is_none());
}

#[test]
fn keys_are_written_in_dbgpt_order() {
    let span = Span::new_root(SpanType::Chat, "op").with_metadata(json!({"b": 1, "a": 2}));
    let line = span.to_json_line();
    let keys = [
        "span_type",
        "trace_id",
        "span_id",
        "parent_span_id",
        "operation_name",
        "start_time",
        "end_time",
        "metadata",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| line.find(&format!("\"{k}\": ")).expect("key present"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");
    assert!(line.starts_with(r#"{"span_type": "chat", "#));
    assert!(line.contains(r#""parent_span_id": null"#));
    assert!(line.contains(r#""end_time": null"#));
}

#[test]
fn empty_metadata_is_written_as_null() {
    let span = Span::new_root(SpanType::Base, "op").with_metadata(json!({}));
    assert!(span.to_json_line().ends_with(r#""metadata": null}"#));
    let mut span = Span::new_root(SpanType::Base, "op");
    span.metadata = Some(serde_json::Map::new());
    assert!(span.to_json_line().ends_with(r#""metadata": null}"#));
}

#[test]
fn span_types_serialise_as_dbgpt_names() {
    for (t, name) in [
        (SpanType::Base, "base"),
        (SpanType::Run, "run"),
        (SpanType::Chat, "chat"),
        (SpanType::Agent, "agent"),
    ] {
        assert_eq!(
            serde_json::to_string(&t).expect("ser"),
            format!("\"{name}\"")
        );
        assert_eq!(SpanType::parse(name), Some(t));
    }
}

#[test]
fn time_format_is_milliseconds_local_wall_clock() {
    let t = NaiveDate::from_ymd_opt(2024, 1, 2)
        .and_then(|d| d.and_hms_micro_opt(3, 4, 5, 6_789))
        .expect("time");
    assert_eq!(format_span_time(&t), "2024-01-02 03:04:05.006");
    assert_eq!(
        parse_span_time("2024-01-02 03:04:05.006")
            .map(|p| format_span_time(&p))
            .as_deref(),
        Some("2024-01-02 03:04:05.006")
    );
    // Tolerated on input: no fraction, microseconds.
    assert!(parse_span_time("2024-01-02 03:04:05").is_some());
    assert!(parse_span_time("2024-01-02 03:04:05.123456").is_some());
    assert!(parse_span_time("yesterday").is_none());
}

#[test]
fn ids_have_dbgpt_shape() {
    let root = Span::new_root(SpanType::Base, "root");
    assert_eq!(root.trace_id.len(), 32);
    assert!(root.trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let (trace, span) = root.span_id.split_once(':').expect("colon");
    assert_eq!(trace, root.trace_id);
    assert_eq!(span.len(), 16);
    assert!(is_valid_span_id(&root.span_id));
    assert!(root.parent_span_id.is_none());
}

#[test]
fn child_takes_the_trace_of_its_parent_id() {
    let root = Span::new_root(SpanType::Chat, "root");
    let child = Span::new_child(&root.span_id, SpanType::Run, "child");
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(child.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert_ne!(child.span_id, root.span_id);
    let same = Span::child_of(&root, SpanType::Run, "child");
    assert_eq!(same.trace_id, root.trace_id);
}

#[test]
fn invalid_parent_id_gives_a_new_root() {
    for bad in [
        "",
        "nonsense",
        "abc:def",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "4bf92f3577b34da6a3ce929d0e0e4736:xyz",
    ] {
        let span = Span::new_child(bad, SpanType::Base, "op");
        assert!(span.parent_span_id.is_none(), "{bad:?}");
        assert_eq!(span.trace_id.len(), 32);
    }
}

#[test]
fn header_values_are_read_by_dbgpts_rule() {
    assert_eq!(TRACE_HEADER, "DB-GPT-Trace-Span-Id");
    let id = "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7";
    // DB-GPT keeps the value as it came, white space included.
    let padded = format!("  {id} ");
    assert_eq!(parse_trace_header(&padded), Some(padded.as_str()));
    // Hyphenated UUIDs are not hex numbers to Python's int(x, 16): DB-GPT starts a new trace.
    let uuids = "1c4c2b36-7bb5-4a3a-9a3d-6a1f2f0b8e11:2b8f6e0a-3c1d-4e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(parse_trace_header(uuids), None);
    assert!(
        Span::from_header(Some(uuids), SpanType::Run, "handler")
            .parent_span_id
            .is_none()
    );
    // Short hex ids are numbers: DB-GPT attaches to them.
    let short = Span::from_header(Some("abc:def"), SpanType::Run, "handler");
    assert_eq!(short.parent_span_id.as_deref(), Some("abc:def"));
    assert_eq!(short.trace_id, "abc");
    assert!(short.span_id.starts_with("abc:"));
    assert_eq!(parse_trace_header("garbage"), None);
    assert_eq!(parse_trace_header("a:b:c"), None);
    assert_eq!(parse_trace_header("0:abc"), None, "a zero trace id");
    let child = Span::from_header(Some(id), SpanType::Run, "handler");
    assert_eq!(child.parent_span_id.as_deref(), Some(id));
    assert_eq!(child.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(
        Span::from_header(None, SpanType::Run, "handler")
            .parent_span_id
            .is_none()
    );
}

#[test]
fn metadata_is_written_in_insertion_order_without_nulls_and_with_python_floats() {
    let mut span = Span::new_root(SpanType::Base, "op").with_metadata(json!({
        "model_name": "m", "host": "h", "port": 1, "weight": 1.0, "prompt_template": null,
        "tiny": 1e-05, "huge": 1e16, "nested": {"b": null, "a": [null, 2.0]}
    }));
    span.insert_metadata("after", "last");
    assert!(
        span.to_json_line().ends_with(
            r#""metadata": {"model_name": "m", "host": "h", "port": 1, "weight": 1.0, "tiny": 1e-05, "huge": 1e+16, "nested": {"a": [2.0]}, "after": "last"}}"#
        ),
        "{}",
        span.to_json_line()
    );
    // Metadata whose every entry is null is written as DB-GPT writes it: an empty object.
    let nulls = Span::new_root(SpanType::Base, "op").with_metadata(json!({"x": null}));
    assert!(nulls.to_json_line().ends_with(r#""metadata": {}}"#));
}

#[test]
fn end_record_sets_end_time_and_keeps_the_rest() {
    let span = Span::new_root(SpanType::Chat, "op").with_metadata(json!({"k": 1}));
    let end = span.end_record();
    assert!(span.is_start_record());
    assert!(!end.is_start_record());
    assert_eq!(end.span_id, span.span_id);
    assert_eq!(end.metadata, span.metadata);
    assert!(end.end_time >= Some(span.start_time));
}

#[test]
fn the_fast_line_writer_matches_the_serde_form() {
    let mut span = Span::new_root(
        SpanType::Agent,
        "quote \" backslash \\ newline \n tab \t bell \u{7} é 模型",
    )
    .with_metadata(json!({"k": "v\n", "n": [1, {"x": null}], "f": 1.5}));
    span.parent_span_id = Some("odd\"parent".to_owned());
    span.end();
    let mut fast = Vec::new();
    span.write_json_line(&mut fast).expect("write");
    let line = String::from_utf8(fast).expect("utf8");
    assert!(line.ends_with('\n'));
    let line = line.trim_end_matches('\n');
    // Same value as serde's form, and the escapes are JSON's.
    let via_serde: serde_json::Value = serde_json::to_value(&span).expect("to_value");
    let parsed: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    assert_eq!(parsed, via_serde);
    assert!(
        line.contains(
            r#""operation_name": "quote \" backslash \\ newline \n tab \t bell \u0007 é 模型""#
        ),
        "{line}"
    );
    // What is read back is the span without its metadata's nulls, which are not written.
    let mut written = span.clone();
    written.metadata = span
        .clone()
        .with_metadata(json!({"k": "v\n", "n": [1, {}], "f": 1.5}))
        .metadata;
    assert_eq!(Span::from_json_line(line).expect("parse"), written);
}
