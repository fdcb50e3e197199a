//! The file storage, with DB-GPT's span-storage tests ported (REFERENCE §7).

use chrono::{DateTime, TimeZone, Utc};
use span_storage::{
    DayBoundary, FileSpanStorage, FileStorageConfig, ManualClock, Span, SpanStorage, SpanType,
    read_span_file,
};
use std::fs;
use std::path::Path;
use std::sync::Arc;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn span(name: &str) -> Span {
    Span::new_root(SpanType::Base, name)
}

#[test]
fn write_span_gives_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let storage = FileSpanStorage::open(&path).expect("open");
    let s = span("op1");
    storage.append_span(&s).expect("append");
    let got = lines(&path);
    assert_eq!(got, vec![s.to_json_line()]);
}

#[test]
fn two_appends_give_two_lines_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let storage = FileSpanStorage::open(&path).expect("open");
    let (a, b) = (span("a"), span("b"));
    storage.append_span(&a).expect("append");
    storage.append_span(&b).expect("append");
    assert_eq!(lines(&path), vec![a.to_json_line(), b.to_json_line()]);
}

#[test]
fn batch_append_writes_every_span() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let storage = FileSpanStorage::open(&path).expect("open");
    let spans: Vec<Span> = (0..100).map(|i| span(&format!("op{i}"))).collect();
    storage.append_spans(&spans).expect("append");
    assert_eq!(read_span_file(&path).expect("read").spans, spans);
}

#[test]
fn appends_from_several_threads_and_async_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let storage = Arc::new(FileSpanStorage::open(&path).expect("open"));
    std::thread::scope(|scope| {
        for t in 0..4 {
            let storage = &storage;
            scope.spawn(move || {
                for i in 0..50 {
                    storage
                        .append_span(&span(&format!("sync{t}.{i}")))
                        .expect("append");
                }
            });
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let storage = Arc::clone(&storage);
                tokio::spawn(async move {
                    for i in 0..50 {
                        storage
                            .append_span(&span(&format!("async{t}.{i}")))
                            .expect("append");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    let contents = read_span_file(&path).expect("read");
    assert_eq!(contents.spans.len(), 400);
    assert!(contents.bad_lines.is_empty());
}

#[test]
fn missing_file_and_folders_are_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/c/spans.jsonl");
    let storage = FileSpanStorage::open(&path).expect("open");
    assert!(path.exists(), "created on open, as DB-GPT does");
    storage.append_span(&span("op")).expect("append");
    assert_eq!(lines(&path).len(), 1);
}

fn rolling(path: &Path, clock: &Arc<ManualClock>) -> FileSpanStorage {
    let config = FileStorageConfig::new(path)
        .day_boundary(DayBoundary::Utc)
        .clock(clock.clone());
    FileSpanStorage::new(config).expect("open")
}

#[test]
fn day_rollover_at_midnight_moves_the_old_days_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let clock = Arc::new(ManualClock::new(utc(2024, 1, 1, 23, 59)));
    let storage = rolling(&path, &clock);
    let old = span("before midnight");
    storage.append_span(&old).expect("append");

    clock.set(utc(2024, 1, 2, 0, 0));
    let new = span("after midnight");
    storage.append_span(&new).expect("append");

    let dated = dir.path().join("spans_2024-01-01.jsonl");
    assert_eq!(
        storage.dated_path(chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("day")),
        dated
    );
    assert_eq!(lines(&dated), vec![old.to_json_line()]);
    assert_eq!(lines(&path), vec![new.to_json_line()]);
}

#[test]
fn rollover_without_extension_uses_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans");
    let clock = Arc::new(ManualClock::new(utc(2024, 3, 9, 23, 59)));
    let storage = rolling(&path, &clock);
    storage.append_span(&span("a")).expect("append");
    clock.set(utc(2024, 3, 10, 0, 1));
    storage.append_span(&span("b")).expect("append");
    assert_eq!(lines(&dir.path().join("spans_2024-03-09.log")).len(), 1);
    assert_eq!(lines(&path).len(), 1);
}

#[test]
fn rollover_never_replaces_an_existing_dated_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let dated = dir.path().join("spans_2024-01-01.jsonl");
    let earlier = span("already rolled");
    fs::write(&dated, format!("{}\n", earlier.to_json_line())).expect("write");
    let clock = Arc::new(ManualClock::new(utc(2024, 1, 1, 23, 59)));
    let storage = rolling(&path, &clock);
    let late = span("late");
    storage.append_span(&late).expect("append");
    clock.set(utc(2024, 1, 2, 0, 0));
    storage.append_span(&span("next day")).expect("append");
    assert_eq!(
        lines(&dated),
        vec![earlier.to_json_line(), late.to_json_line()]
    );
}

#[test]
fn retention_keeps_the_newest_rolled_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let clock = Arc::new(ManualClock::new(utc(2024, 1, 1, 12, 0)));
    let config = FileStorageConfig::new(&path)
        .day_boundary(DayBoundary::Utc)
        .retention(2)
        .clock(clock.clone());
    let storage = FileSpanStorage::new(config).expect("open");
    for day in 1..=5 {
        clock.set(utc(2024, 1, day, 12, 0));
        storage.append_span(&span("op")).expect("append");
    }
    let rolled: Vec<String> = storage
        .rolled_files()
        .into_iter()
        .map(|(_, p)| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        rolled,
        vec!["spans_2024-01-03.jsonl", "spans_2024-01-04.jsonl"]
    );
    assert_eq!(lines(&path).len(), 1);
}

#[test]
fn local_day_boundary_is_the_default_and_uses_local_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let start = utc(2024, 6, 1, 12, 0);
    let clock = Arc::new(ManualClock::new(start));
    let config = FileStorageConfig::new(&path).clock(clock.clone());
    assert_eq!(config.day_boundary, DayBoundary::Local);
    let storage = FileSpanStorage::new(config).expect("open");
    storage.append_span(&span("a")).expect("append");
    clock.set(start + chrono::Duration::days(1));
    storage.append_span(&span("b")).expect("append");
    let local_day = DayBoundary::Local.day_of(start);
    assert_eq!(lines(&storage.dated_path(local_day)).len(), 1);
}

#[test]
fn a_file_left_from_an_earlier_day_is_rolled_on_first_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let old = span("written before a restart");
    fs::write(&path, format!("{}\n", old.to_json_line())).expect("write");
    let modified = utc(2024, 1, 1, 18, 0);
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified.into()))
        .expect("set mtime");
    let clock = Arc::new(ManualClock::new(utc(2024, 1, 3, 9, 0)));
    let storage = rolling(&path, &clock);
    let new = span("after the restart");
    storage.append_span(&new).expect("append");
    assert_eq!(
        lines(&dir.path().join("spans_2024-01-01.jsonl")),
        vec![old.to_json_line()]
    );
    assert_eq!(lines(&path), vec![new.to_json_line()]);
}

#[test]
fn a_failed_rollover_loses_no_span() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let clock = Arc::new(ManualClock::new(utc(2024, 1, 1, 23, 59)));
    let storage = rolling(&path, &clock);
    storage.append_span(&span("a")).expect("append");
    // A folder where the dated file should go makes the rollover fail.
    fs::create_dir(dir.path().join("spans_2024-01-01.jsonl")).expect("mkdir");
    clock.set(utc(2024, 1, 2, 0, 0));
    storage
        .append_span(&span("b"))
        .expect("append despite the failed rollover");
    assert_eq!(lines(&path).len(), 2);
}
