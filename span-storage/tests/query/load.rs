//! Loading span files and merging start and end records.

use super::*;

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
