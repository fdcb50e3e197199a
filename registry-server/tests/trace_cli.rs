//! `registry-server trace list` and `trace tree` on the real binary.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use span_storage::{Span, SpanType};

fn trace_file(dir: &Path) -> (Span, Span) {
    let root = Span::new_root(SpanType::Chat, "get_chat_instance");
    let child = Span::child_of(&root, SpanType::Run, "run_model");
    let lines = common::trace_lines(&root, &child);
    std::fs::write(
        dir.join("dbgpt_webserver_tracer.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    (root, child)
}

fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-server"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REGISTRY_") {
            command.env_remove(key);
        }
    }
    command
        .args(["--log-level", "off"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn list_filters_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (root, child) = trace_file(dir.path());
    let file = dir.path().join("dbgpt_webserver_tracer.jsonl");
    let file = file.to_str().unwrap();

    let all = stdout(&run(&[
        "trace", "list", "--merged", "--output", "json", file,
    ]));
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);

    let runs = stdout(&run(&[
        "trace",
        "list",
        "--merged",
        "--span-type",
        "run",
        "--output",
        "csv",
        file,
    ]));
    assert!(runs.starts_with("span_type,"), "{runs}");
    assert!(
        runs.contains("run_model") && !runs.contains("get_chat_instance"),
        "{runs}"
    );

    // DB-GPT's spellings work too.
    let by_parent = stdout(&run(&[
        "trace",
        "list",
        "--merged",
        "--parent_span_id",
        &root.span_id,
        "--output",
        "json",
        file,
    ]));
    assert!(by_parent.contains(&child.span_id) && !by_parent.contains("get_chat_instance"));

    let newest = stdout(&run(&[
        "trace", "list", "--merged", "--desc", "--limit", "1", file,
    ]));
    assert!(newest.contains("Operation Name"), "a text table: {newest}");
    assert_eq!(
        newest.matches(&root.trace_id).count(),
        2,
        "one row: trace id and span id"
    );

    let searched = stdout(&run(&[
        "trace", "list", "--merged", "--search", "run_mo", "--output", "json", file,
    ]));
    assert!(searched.contains("run_model") && !searched.contains("get_chat_instance"));

    let later = stdout(&run(&[
        "trace",
        "list",
        "--merged",
        "--start-time",
        "2999-01-01 00:00:00",
        "--output",
        "json",
        file,
    ]));
    assert_eq!(later.trim(), "[]");
}

#[test]
fn tree_shows_one_trace_and_defaults_to_the_span_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = trace_file(dir.path());
    let span_file = dir.path().join("registry_tracer.jsonl");
    let span_file = span_file.to_str().unwrap();
    let text = stdout(&run(&[
        "trace",
        "tree",
        "--durations",
        "--span-file",
        span_file,
        "--trace-id",
        &root.trace_id,
    ]));
    assert!(text.starts_with("Operation: get_chat_instance"), "{text}");
    assert!(text.contains("\n  Operation: run_model"), "{text}");

    let csv = stdout(&run(&[
        "trace",
        "tree",
        "--span-file",
        span_file,
        "--trace_id",
        &root.trace_id,
        "--durations",
        "--output",
        "csv",
    ]));
    assert!(csv.starts_with("depth,span_id"), "{csv}");
    assert_eq!(csv.lines().count(), 3);

    let missing = run(&[
        "trace",
        "tree",
        "--durations",
        "--span-file",
        span_file,
        "--trace-id",
        "nope",
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no span of trace nope"));

    let bad = run(&["trace", "list", "--output", "xml", span_file]);
    assert!(!bad.status.success());
}
