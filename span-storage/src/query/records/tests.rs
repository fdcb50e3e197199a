use serde_json::{Value, json};

use super::*;

fn record(value: Value) -> SpanRecord {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a test record is an object"),
    }
}

fn start(span: &str, parent: Option<&str>, op: &str, at: &str) -> SpanRecord {
    record(json!({
        "trace_id": "t", "span_id": span, "parent_span_id": parent, "operation_name": op,
        "start_time": at, "end_time": null, "span_type": "base", "metadata": {}
    }))
}

fn end(span: &str, parent: Option<&str>, op: &str, at: &str, ended: &str) -> SpanRecord {
    let mut record = start(span, parent, op, at);
    record.insert("end_time".into(), json!(ended));
    record
}

#[test]
fn the_tree_prints_start_children_end_as_dbgpt_does() {
    let records = vec![
        start("t:1", None, "root", "2024-01-01 00:00:00.000001"),
        start("t:2", Some("t:1"), "child", "2024-01-01 00:00:00.000002"),
        end(
            "t:2",
            Some("t:1"),
            "child",
            "2024-01-01 00:00:00.000002",
            "2024-01-01 00:00:00.5",
        ),
        // An orphan: its parent's start record is not in the files. DB-GPT leaves it out.
        start("t:9", Some("t:8"), "orphan", "2024-01-01 00:00:01.000000"),
        end(
            "t:1",
            None,
            "root",
            "2024-01-01 00:00:00.000001",
            "2024-01-01 00:00:01.000000",
        ),
    ];
    let text = render_record_tree("t", &records).unwrap();
    assert_eq!(
        text,
        "Operation: root (Start: 2024-01-01 00:00:00.000001, End: None)\n\
         \x20 Operation: child (Start: 2024-01-01 00:00:00.000002, End: None)\n\
         \x20 Operation: child (Start: 2024-01-01 00:00:00.000002, End: 2024-01-01 00:00:00.5)\n\
         Operation: root (Start: 2024-01-01 00:00:00.000001, End: 2024-01-01 00:00:01.000000)\n"
    );
    assert!(render_record_tree("other", &records).is_none());
}

#[test]
fn reused_span_ids_that_nest_do_not_recurse_forever() {
    let records = vec![
        start("1", None, "a", "2024-01-01 00:00:00.000001"),
        start("2", Some("1"), "b", "2024-01-01 00:00:00.000002"),
        start("1", Some("2"), "c", "2024-01-01 00:00:00.000003"),
    ];
    let text = render_record_tree("t", &records).unwrap();
    assert!(text.lines().count() <= 3 * (records.len() + 2));
}

#[test]
fn search_reads_values_as_python_prints_them_and_skips_false_ones() {
    let mut yes = start("s1", None, "op", "2024-01-01 00:00:00.000001");
    yes.insert(
        "metadata".into(),
        json!({"stream": true, "n": 0, "d": {"k": "v"}}),
    );
    let mut no = start("s2", None, "op", "2024-01-01 00:00:00.000002");
    no.insert("metadata".into(), json!({"stream": false}));
    let records = vec![yes, no];
    let found = |text: &str| {
        let filter = RecordFilter {
            search: Some(text.into()),
            ..RecordFilter::new()
        };
        filter
            .apply(&records)
            .iter()
            .map(|r| r["span_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(found("True"), ["s1"]);
    assert!(found("true").is_empty(), "Python prints True");
    assert!(found("False").is_empty(), "a false value is not searched");
    assert!(found("0").is_empty(), "a zero value is not searched");
    assert_eq!(found("{'k': 'v'}"), ["s1"]);
    assert_eq!(found("stream"), ["s1", "s2"], "keys are searched");
}

#[test]
fn records_sort_stably_by_start_time_both_ways_and_are_limited() {
    let records = vec![
        start("b", None, "op", "2024-01-01 00:00:02.000000"),
        start("a1", None, "op", "2024-01-01 00:00:01.000000"),
        start("a2", None, "op", "2024-01-01 00:00:01.000000"),
    ];
    let ids = |filter: &RecordFilter| {
        filter
            .apply(&records)
            .iter()
            .map(|r| r["span_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&RecordFilter::new()), ["a1", "a2", "b"]);
    let newest_first = RecordFilter {
        descending: true,
        ..RecordFilter::new()
    };
    assert_eq!(ids(&newest_first), ["b", "a1", "a2"]);
    let two = RecordFilter {
        limit: 2,
        ..RecordFilter::new()
    };
    assert_eq!(ids(&two), ["a1", "a2"]);
}

#[test]
fn the_empty_message_names_the_files_as_given() {
    assert_eq!(
        empty_message(&["a.jsonl".into(), "logs/dbgpt*.jsonl".into()]),
        "No trace span records found in your tracer files: a.jsonl,logs/dbgpt*.jsonl\n"
    );
}

#[test]
fn chat_without_run_spans_prints_none_tables_then_the_chat() {
    let mut root = start(
        "t:1",
        None,
        "get_chat_instance",
        "2024-01-01 00:00:00.000001",
    );
    root.insert("span_type".into(), json!("chat"));
    root.insert(
        "metadata".into(),
        json!({"conv_uid": "c1", "user_input": "hi"}),
    );
    let records = vec![root];
    let text = render_chat(&records, &ChatQuery::default(), &[]);
    assert!(text.starts_with("None\nNone\n"), "{text}");
    assert!(text.contains("Chat Trace Details"), "{text}");
    assert!(
        text.contains(" conv_uid ") && text.contains(" c1 "),
        "{text}"
    );
    let missing = ChatQuery {
        trace_id: Some("nope".into()),
        hide_run_params: true,
        ..ChatQuery::default()
    };
    assert_eq!(
        render_chat(&records, &missing, &[]),
        "Can't found conversation with trace_id: nope\n"
    );
    assert!(render_chat(&[], &ChatQuery::default(), &["f".into()]).starts_with("No trace span"));
}
