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

#[test]
fn start_and_end_records_merge_into_one_span() {
    let spans = fixture();
    assert_eq!(
        ids(&spans),
        [
            "get_chat_instance",
            "BaseChat.stream_call",
            "model.generate",
            "agent.act"
        ]
    );
    let child = &spans[1];
    assert_eq!(child.start_time, t("2024-01-01 12:00:00.100"));
    assert_eq!(child.end_time, Some(t("2024-01-01 12:00:01.100")));
    let metadata = child.metadata.as_ref().expect("metadata");
    assert_eq!(metadata["temperature"], 0.6);
    assert_eq!(metadata["output"], "hello, \"world\"");
    assert_eq!(
        spans[2].end_time, None,
        "a span with only its start record stays open"
    );
    assert_eq!(
        merge_records(spans.clone()),
        spans,
        "merging again changes nothing"
    );

    // The end record read before the start record (e.g. from an earlier-named file).
    let mut reversed: Vec<Span> = LINES[..5]
        .iter()
        .map(|l| Span::from_json_line(l).expect("line"))
        .collect();
    reversed.reverse();
    let merged = merge_records(reversed);
    assert_eq!(merged.len(), 3);
    let root = merged
        .iter()
        .find(|s| s.operation_name == "get_chat_instance")
        .expect("root");
    assert_eq!(root.start_time, t("2024-01-01 12:00:00.000"));
    assert_eq!(root.end_time, Some(t("2024-01-01 12:00:01.500")));
}

#[test]
fn load_reads_folders_rolled_files_and_patterns_and_reports_bad_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let current = dir.path().join("dbgpt_webserver_tracer.jsonl");
    let rolled = dir.path().join("dbgpt_webserver_tracer_2024-01-01.jsonl");
    write(&rolled, &[LINES[0], LINES[1], "{not json", LINES[2]]);
    write(
        &current,
        &[LINES[3], LINES[4], "", r#"{"span_type": "chat"}"#, LINES[5]],
    );
    write(&dir.path().join("notes.txt"), &["not spans"]);
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    write(&dir.path().join("sub/other.jsonl"), &[LINES[5]]);

    let loaded = load_spans(&[dir.path().to_path_buf()]).expect("load");
    assert_eq!(
        loaded.files,
        [current.clone(), rolled.clone()],
        "by name, no subfolder, no .txt"
    );
    assert_eq!(loaded.records, 6);
    assert_eq!(loaded.spans.len(), 4);
    let bad: Vec<String> = loaded
        .bad_lines
        .iter()
        .map(|b| format!("{}:{}", b.path.display(), b.line))
        .collect();
    assert_eq!(
        bad,
        [
            format!("{}:4", current.display()),
            format!("{}:3", rolled.display())
        ]
    );
    let mut expected = fixture();
    expected.sort_by_key(|s| s.start_time);
    let mut got = loaded.spans.clone();
    got.sort_by_key(|s| s.start_time);
    assert_eq!(got, expected);

    // DB-GPT's default pattern, and a file named twice is read once.
    let pattern = dir.path().join("dbgpt*.jsonl");
    let again = load_spans(&[pattern, current.clone()]).expect("load");
    assert_eq!(again.files, [current, rolled]);
    assert_eq!(again.records, 6);
    let nothing = load_spans(&[dir.path().join("none*.jsonl")]).expect("no match is no file");
    assert!(nothing.files.is_empty() && nothing.spans.is_empty());
}

#[test]
fn a_missing_path_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing: PathBuf = dir.path().join("missing.jsonl");
    let err = load_spans(&[missing]).expect_err("missing");
    assert!(matches!(err, SpanStorageError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
}

#[test]
fn each_filter() {
    let all = fixture();
    let run = |f: SpanFilter| ids(&f.apply(all.clone())).join(" ");
    assert_eq!(
        run(SpanFilter::default()),
        "get_chat_instance BaseChat.stream_call model.generate agent.act"
    );
    assert_eq!(run(SpanFilter::default().trace_id(B)), "agent.act");
    assert_eq!(
        run(SpanFilter::default().trace_id(&A[..8])),
        "",
        "ids match exactly"
    );
    assert_eq!(
        run(SpanFilter::default().span_id(sid(A, 0xb7ad6b7169203331))),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().span_type(SpanType::Run)),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().parent_span_id(sid(A, 0x00f067aa0ba902b7))),
        "BaseChat.stream_call"
    );
    let empty = SpanFilter::default()
        .trace_id("")
        .span_id("")
        .parent_span_id("")
        .search("");
    assert_eq!(empty, SpanFilter::default(), "an empty option is no filter");
    // Search: operation name, an id, a metadata key, a string value, another value's JSON text.
    assert_eq!(
        run(SpanFilter::default().search("stream")),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().search("e457b5a2")),
        "model.generate"
    );
    assert_eq!(
        run(SpanFilter::default().search("conv_uid")),
        "get_chat_instance"
    );
    assert_eq!(
        run(SpanFilter::default().search("\"world")),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().search("0.6")),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().search("00f067aa")),
        "get_chat_instance BaseChat.stream_call",
        "parent id too"
    );
    assert_eq!(
        run(SpanFilter::default().search("CHAT_NORMAL")),
        "",
        "case-sensitive"
    );
    // The window applies to the start time and includes both ends.
    let window = SpanFilter::default()
        .start_time(t("2024-01-01 12:00:00.100"))
        .end_time(t("2024-01-01 12:00:00.200"));
    assert_eq!(run(window), "BaseChat.stream_call model.generate");
    assert_eq!(
        run(SpanFilter::default().start_time(t("2024-01-02 00:00:00"))),
        "agent.act"
    );
    assert_eq!(
        run(SpanFilter::default().end_time(t("2024-01-01 12:00:00"))),
        "get_chat_instance"
    );
    // Filters combine.
    let both = SpanFilter::default().trace_id(A).search("c-1");
    assert!(both.matches(&all[0]) && !both.matches(&all[3]));
}

#[test]
fn order_and_limit() {
    let spans: Vec<Span> = (0..25)
        .map(|i| span(i + 1, None, &format!("op{i}"), i as i64 * 10, None))
        .collect();
    let mut shuffled = spans.clone();
    shuffled.reverse();
    assert_eq!(SpanFilter::for_list().limit, Some(DEFAULT_LIST_LIMIT));
    let listed = SpanFilter::for_list().apply(shuffled.clone());
    assert_eq!(
        listed,
        spans[..20],
        "ascending keeps the oldest, as DB-GPT does"
    );
    let newest = SpanFilter::default()
        .descending(true)
        .limit(Some(3))
        .apply(shuffled.clone());
    assert_eq!(ids(&newest), ["op24", "op23", "op22"]);
    assert!(
        SpanFilter::default()
            .limit(Some(0))
            .apply(spans.clone())
            .is_empty()
    );
    assert_eq!(SpanFilter::default().apply(shuffled).len(), 25);
    // Equal start times keep their input order, either way.
    let same = vec![
        span(1, None, "first", 0, None),
        span(2, None, "second", 0, None),
    ];
    assert_eq!(
        ids(&SpanFilter::default().apply(same.clone())),
        ["first", "second"]
    );
    assert_eq!(
        ids(&SpanFilter::default().descending(true).apply(same)),
        ["first", "second"]
    );
}

#[test]
fn tree_of_a_trace_with_durations() {
    let tree = TraceTree::build(A, &fixture()).expect("trace A");
    assert_eq!(tree.trace_id, A);
    assert_eq!(tree.len(), 3);
    assert_eq!(tree.roots[0].duration_ms, Some(1500.0));
    assert_eq!(
        tree.render_text(),
        "Operation: get_chat_instance (Start: 2024-01-01 12:00:00.000, End: 2024-01-01 12:00:01.500, Duration: 1500 ms)\n\
         \x20 Operation: BaseChat.stream_call (Start: 2024-01-01 12:00:00.100, End: 2024-01-01 12:00:01.100, Duration: 1000 ms)\n\
         \x20   Operation: model.generate (Start: 2024-01-01 12:00:00.200, End: None)\n"
    );
    let row = |depth, n: u64, op: &str, offset_ms, duration_ms, span_type| WaterfallRow {
        depth,
        span_id: sid(A, n),
        operation_name: op.to_owned(),
        offset_ms,
        duration_ms,
        span_type,
    };
    assert_eq!(
        tree.waterfall(),
        [
            row(
                0,
                0x00f067aa0ba902b7,
                "get_chat_instance",
                0.0,
                Some(1500.0),
                SpanType::Chat
            ),
            row(
                1,
                0xb7ad6b7169203331,
                "BaseChat.stream_call",
                100.0,
                Some(1000.0),
                SpanType::Run
            ),
            row(
                2,
                0xe457b5a2e4d86bd1,
                "model.generate",
                200.0,
                None,
                SpanType::Base
            ),
        ]
    );
    let json = serde_json::to_string(&tree.waterfall()[2]).expect("json");
    assert_eq!(
        json,
        format!(
            r#"{{"depth":2,"span_id":"{A}:e457b5a2e4d86bd1","operation_name":"model.generate","offset_ms":200.0,"duration_ms":null,"span_type":"base"}}"#
        )
    );
    assert!(TraceTree::build("no-such-trace", &fixture()).is_none());
    // Unmerged records build the same tree.
    let records: Vec<Span> = LINES
        .iter()
        .map(|l| Span::from_json_line(l).expect("line"))
        .collect();
    assert_eq!(TraceTree::build(A, &records), Some(tree));
}

#[test]
fn orphans_go_to_the_root_level_and_cycles_are_cut() {
    let spans = vec![
        span(1, None, "root", 0, Some(100)),
        span(2, Some(1), "child", 10, Some(20)),
        span(3, Some(99), "orphan", 5, None), // its parent was never written
        span(4, Some(6), "cycle-a", 30, Some(40)), // 4 -> 6 -> 5 -> 4
        span(5, Some(4), "cycle-b", 31, None),
        span(6, Some(5), "cycle-c", 32, None),
        span(7, Some(7), "own-parent", 50, None),
        span(8, Some(5), "under-cycle", 33, None),
    ];
    let tree = TraceTree::build(A, &spans).expect("tree");
    assert_eq!(tree.len(), spans.len(), "every span exactly once");
    let shape: Vec<String> = tree
        .waterfall()
        .iter()
        .map(|r| format!("{}{}", "-".repeat(r.depth), r.operation_name))
        .collect();
    assert_eq!(
        shape,
        [
            "root",
            "-child",
            "orphan",
            "cycle-a",
            "-cycle-b",
            "--cycle-c",
            "--under-cycle",
            "own-parent"
        ]
    );
    let offsets: Vec<f64> = tree.waterfall().iter().map(|r| r.offset_ms).collect();
    assert_eq!(offsets, [0.0, 10.0, 5.0, 30.0, 31.0, 32.0, 33.0, 50.0]);
    // A trace made only of a cycle still has roots.
    let ring = vec![
        span(1, Some(2), "x", 1, None),
        span(2, Some(1), "y", 0, None),
    ];
    let ring = TraceTree::build(A, &ring).expect("tree");
    assert_eq!(
        ring.render_text(),
        "Operation: y (Start: 2024-01-01 12:00:00.000, End: None)\n  Operation: x (Start: 2024-01-01 12:00:00.001, End: None)\n"
    );
}

#[test]
fn list_as_text_json_and_csv() {
    let spans = SpanFilter::default()
        .trace_id(A)
        .span_type(SpanType::Run)
        .apply(fixture());
    let spans = [spans, SpanFilter::default().trace_id(B).apply(fixture())].concat();
    assert_eq!(
        render_list(&spans, OutputFormat::Text),
        "\
+----------------------------------+---------------------------------------------------+----------------------+-----------+-------------------------+-------------------------+---------------+
| Trace ID                         | Span ID                                           | Operation Name       | Span Type | Start Time              | End Time                | Duration (ms) |
+----------------------------------+---------------------------------------------------+----------------------+-----------+-------------------------+-------------------------+---------------+
| 4bf92f3577b34da6a3ce929d0e0e4736 | 4bf92f3577b34da6a3ce929d0e0e4736:b7ad6b7169203331 | BaseChat.stream_call | run       | 2024-01-01 12:00:00.100 | 2024-01-01 12:00:01.100 | 1000          |
| 0af7651916cd43dd8448eb211c80319c | 0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1 | agent.act            | agent     | 2024-01-02 08:00:00.000 | 2024-01-02 08:00:00.250 | 250           |
+----------------------------------+---------------------------------------------------+----------------------+-----------+-------------------------+-------------------------+---------------+
"
    );
    assert_eq!(
        render_list(&spans[1..], OutputFormat::Json),
        format!(
            "[\n  {{\n    \"span_type\": \"agent\",\n    \"trace_id\": \"{B}\",\n    \"span_id\": \"{B}:b9c7c989f97918e1\",\n    \"parent_span_id\": null,\n    \"operation_name\": \"agent.act\",\n    \"start_time\": \"2024-01-02 08:00:00.000\",\n    \"end_time\": \"2024-01-02 08:00:00.250\",\n    \"metadata\": null\n  }}\n]\n"
        )
    );
    let parsed: Vec<Span> =
        serde_json::from_str(&render_list(&spans, OutputFormat::Json)).expect("json");
    assert_eq!(parsed, spans);
    assert_eq!(
        render_list(&spans, OutputFormat::Csv),
        format!(
            "span_type,trace_id,span_id,parent_span_id,operation_name,start_time,end_time,metadata,duration_ms\n\
             run,{A},{A}:b7ad6b7169203331,{A}:00f067aa0ba902b7,BaseChat.stream_call,2024-01-01 12:00:00.100,2024-01-01 12:00:01.100,\"{{\"\"output\"\":\"\"hello, \\\"\"world\\\"\"\"\",\"\"temperature\"\":0.6}}\",1000\n\
             agent,{B},{B}:b9c7c989f97918e1,,agent.act,2024-01-02 08:00:00.000,2024-01-02 08:00:00.250,,250\n"
        )
    );
    let mut odd = span(1, None, "a,b \"c\"\nd", 0, None);
    odd.span_type = SpanType::Chat;
    let csv = render_list(&[odd.clone()], OutputFormat::Csv);
    assert!(
        csv.ends_with(",\"a,b \"\"c\"\"\nd\",2024-01-01 12:00:00.000,,,\n"),
        "{csv}"
    );
    let text = render_list(&[odd], OutputFormat::Text);
    assert!(
        text.contains("| a,b \"c\" d      |") && text.lines().count() == 5,
        "control characters become spaces: {text}"
    );
    assert_eq!("CSV".parse::<OutputFormat>(), Ok(OutputFormat::Csv));
    assert!("html".parse::<OutputFormat>().is_err());
}

#[test]
fn recent_traces_newest_first() {
    let records: Vec<Span> = LINES
        .iter()
        .map(|l| Span::from_json_line(l).expect("line"))
        .collect();
    let summaries = trace_summaries(&records);
    let shown: Vec<(&str, &str, Option<f64>, usize)> = summaries
        .iter()
        .map(|s| {
            (
                s.trace_id.as_str(),
                s.root_operation.as_str(),
                s.duration_ms,
                s.span_count,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (B, "agent.act", Some(250.0), 1),
            (A, "get_chat_instance", Some(1500.0), 3)
        ]
    );
    let json = serde_json::to_string(&summaries[0]).expect("json");
    assert_eq!(
        json,
        format!(
            r#"{{"trace_id":"{B}","root_operation":"agent.act","start_time":"2024-01-02 08:00:00.000","duration_ms":250.0,"span_count":1}}"#
        )
    );
    // An open root: no duration yet; no root read: the earliest span stands in.
    let open = trace_summaries(&[
        span(1, None, "root", 0, None),
        span(2, Some(1), "c", 5, Some(9)),
    ]);
    assert_eq!(
        (open[0].root_operation.as_str(), open[0].duration_ms),
        ("root", None)
    );
    let headless = trace_summaries(&[
        span(2, Some(1), "late", 5, Some(9)),
        span(3, Some(1), "early", 1, Some(3)),
    ]);
    assert_eq!(
        (headless[0].root_operation.as_str(), headless[0].span_count),
        ("early", 2)
    );
}
