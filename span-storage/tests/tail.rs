//! Incremental reading of span files into a bounded window: only appended bytes are read,
//! across rollover, truncation, partial lines and new files, and queries over the window
//! answer as they do over the files read whole.

use span_storage::query::{SpanTail, TraceTree, WindowLimits, load_spans, trace_summaries};
use span_storage::{Span, SpanType};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

/// A trace of a root and a child, both ended: four records.
fn trace_lines(name: &str) -> (Span, String) {
    let root = Span::new_root(SpanType::Chat, name);
    let child = Span::child_of(&root, SpanType::Run, format!("{name}-child"));
    let lines: String = [
        root.clone(),
        child.clone(),
        child.end_record(),
        root.end_record(),
    ]
    .iter()
    .map(|s| s.to_json_line() + "\n")
    .collect();
    (root, lines)
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    file.write_all(text.as_bytes()).expect("write");
}

#[test]
fn only_appended_bytes_are_read_and_partial_lines_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let (_, first) = trace_lines("first");
    append(&path, &first);
    let mut tail = SpanTail::new(dir.path(), WindowLimits::default());
    let stats = tail.refresh().expect("refresh");
    assert_eq!(
        (stats.files, stats.bytes_read, stats.records),
        (1, first.len() as u64, 4)
    );
    assert_eq!(tail.len(), 2);

    let nothing = tail.refresh().expect("refresh");
    assert_eq!(nothing.bytes_read, 0);

    let (second_root, second) = trace_lines("second");
    let (whole, torn) = second.split_at(second.len() - 20);
    append(&path, whole);
    let stats = tail.refresh().expect("refresh");
    let whole_lines = whole.rfind('\n').expect("a newline") + 1;
    assert_eq!(stats.bytes_read, whole_lines as u64);
    assert_eq!(stats.bad_lines, 0, "the partial line is not read yet");
    append(&path, torn);
    let stats = tail.refresh().expect("refresh");
    assert_eq!(stats.bytes_read, (second.len() - whole_lines) as u64);
    assert_eq!(tail.len(), 4);
    let ended = tail
        .spans()
        .into_iter()
        .find(|s| s.span_id == second_root.span_id)
        .expect("the second root");
    assert!(ended.end_time.is_some(), "start and end records merged");
}

#[test]
fn rollover_truncation_and_new_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let (_, day_one) = trace_lines("day-one");
    append(&path, &day_one);
    let mut tail = SpanTail::new(dir.path(), WindowLimits::default());
    tail.refresh().expect("refresh");

    // The daily rollover renames the file and starts a new one: the renamed file is not read
    // again, the new one is.
    fs::rename(&path, dir.path().join("spans_2024-01-01.jsonl")).expect("rename");
    let (_, day_two) = trace_lines("day-two");
    append(&path, &day_two);
    let stats = tail.refresh().expect("refresh");
    assert_eq!((stats.files, stats.bytes_read), (2, day_two.len() as u64));
    assert_eq!(tail.len(), 4);

    // Truncated and rewritten: read again from the start.
    let (_, rewritten) = trace_lines("rewritten");
    fs::write(&path, &rewritten).expect("rewrite");
    let stats = tail.refresh().expect("refresh");
    assert_eq!(stats.bytes_read, rewritten.len() as u64);

    // Rewritten to something longer than what was read: noticed too.
    let (_, longer) = trace_lines("a-longer-operation-name-than-before");
    fs::write(&path, format!("{longer}{longer}")).expect("rewrite");
    let stats = tail.refresh().expect("refresh");
    assert_eq!(stats.bytes_read, 2 * longer.len() as u64);

    // A file removed is forgotten; its spans stay in the window.
    fs::remove_file(dir.path().join("spans_2024-01-01.jsonl")).expect("remove");
    let stats = tail.refresh().expect("refresh");
    assert_eq!((stats.files, stats.bytes_read), (1, 0));
    let names: Vec<String> = tail.spans().into_iter().map(|s| s.operation_name).collect();
    assert!(names.contains(&"day-one".to_owned()));
}

#[test]
fn the_window_keeps_the_newest_spans_within_its_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let mut tail = SpanTail::new(dir.path(), WindowLimits::default().with_max_spans(10));
    for i in 0..15 {
        append(&path, &trace_lines(&format!("t{i}")).1);
        tail.refresh().expect("refresh");
    }
    assert_eq!(tail.len(), 10);
    assert_eq!(tail.evicted(), 20);
    let names: Vec<String> = tail.spans().into_iter().map(|s| s.operation_name).collect();
    assert_eq!(names[0], "t10");
    assert_eq!(names[9], "t14-child");

    let by_bytes_limit = 3000;
    let mut small = SpanTail::new(
        dir.path(),
        WindowLimits::default().with_max_bytes(by_bytes_limit),
    );
    small.refresh().expect("refresh");
    assert!(small.window_bytes() <= by_bytes_limit);
    assert!(!small.is_empty() && small.len() < 30);
    // Started near the end of the file: the newest spans are the ones kept.
    let newest = small.spans().pop().expect("a span").operation_name;
    assert_eq!(newest, "t14-child");
}

#[test]
fn answers_over_the_window_match_answers_over_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut roots = Vec::new();
    let mut tail = SpanTail::new(dir.path(), WindowLimits::default());
    for (i, file) in ["a.jsonl", "b.jsonl", "a.jsonl", "c.jsonl", "b.jsonl"]
        .iter()
        .enumerate()
    {
        let (root, lines) = trace_lines(&format!("op{i}"));
        // A start record alone: an open span.
        let open = Span::new_root(SpanType::Base, format!("open{i}")).to_json_line() + "\n";
        append(&dir.path().join(file), &(lines + &open));
        roots.push(root);
        tail.refresh().expect("refresh");
    }
    let whole = load_spans(&[dir.path().to_path_buf()]).expect("load").spans;
    let window = tail.spans();
    assert_eq!(window.len(), whole.len());
    assert_eq!(trace_summaries(&window), trace_summaries(&whole));
    for root in &roots {
        let over_window = TraceTree::build(&root.trace_id, &window).expect("tree");
        let over_files = TraceTree::build(&root.trace_id, &whole).expect("tree");
        assert_eq!(over_window.waterfall(), over_files.waterfall());
        assert_eq!(over_window.render_text(), over_files.render_text());
    }
}

#[test]
fn a_missing_folder_has_no_spans_until_it_appears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("later");
    let mut tail = SpanTail::new(&folder, WindowLimits::default());
    assert_eq!(tail.refresh().expect("refresh").files, 0);
    fs::create_dir(&folder).expect("mkdir");
    append(&folder.join("spans.jsonl"), &trace_lines("late").1);
    assert_eq!(tail.refresh().expect("refresh").records, 4);
}

#[test]
fn the_first_refresh_reads_the_newest_files_for_max_bytes_in_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("spans_2024-01-01.jsonl");
    let new = dir.path().join("spans.jsonl");
    let mut old_text = String::new();
    let mut new_text = String::new();
    for i in 0..20 {
        old_text.push_str(&trace_lines(&format!("old{i}")).1);
        new_text.push_str(&trace_lines(&format!("new{i}")).1);
    }
    append(&old, &old_text);
    append(&new, &new_text);
    let day = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_704_067_200);
    let file = OpenOptions::new().append(true).open(&old).expect("open");
    file.set_modified(day).expect("the old file is a day old");
    let budget = new_text.len() / 2;
    let mut tail = SpanTail::new(dir.path(), WindowLimits::default().with_max_bytes(budget));
    let stats = tail.refresh().expect("refresh");
    assert!(stats.bytes_read <= budget as u64, "{}", stats.bytes_read);
    assert!(
        tail.spans()
            .iter()
            .all(|s| s.operation_name.starts_with("new"))
    );
    assert!(!tail.is_empty());
    // Lines appended to the old file later are read all the same.
    append(&old, &trace_lines("old-late").1);
    tail.refresh().expect("refresh");
    assert!(tail.spans().iter().any(|s| s.operation_name == "old-late"));
}
