//! Storage faults: a full disk, a storage that fails then recovers, a slow storage detached
//! from the others, and the byte bounds of the queue.
//!
//! The full disk is real: `/dev/full` answers every write with `ENOSPC`. Nothing here waits
//! out a timeout or asserts on timing; the gates and `flush()` are the synchronisation points.

mod common;

use common::Gate;

use serde_json::json;
use span_storage::{
    ContainerConfig, DetachedConfig, DetachedSpanStorage, FileSpanStorage, FullPolicy,
    MemorySpanStorage, MetadataLimits, Span, SpanStorage, SpanStorageContainer, SpanStorageError,
    SpanType, TRUNCATION_MARKER, read_span_file,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

fn span(i: usize) -> Span {
    Span::new_root(SpanType::Base, format!("op{i}"))
}

fn config(batch_size: usize) -> ContainerConfig {
    ContainerConfig::default()
        .with_batch_size(batch_size)
        .with_flush_interval(LONG)
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_counts_spans_as_failed_and_flush_reports_it() {
    let full: Arc<dyn SpanStorage> = Arc::new(FileSpanStorage::open("/dev/full").expect("open"));
    let memory = Arc::new(MemorySpanStorage::new());
    let container =
        SpanStorageContainer::new(config(100), vec![full, memory.clone()]).expect("container");
    for i in 0..7 {
        container.append(span(i));
    }
    let err = container.flush().expect_err("the disk is full");
    match &err {
        SpanStorageError::NotStored { spans, last_error } => {
            assert_eq!(*spans, 7);
            assert!(last_error.contains("/dev/full"), "{last_error}");
        }
        other => panic!("unexpected error: {other}"),
    }
    // The failure is reported once; the next flush has nothing new to report.
    container.flush().expect("nothing failed since");
    let counts = container.counts();
    assert_eq!((counts.written, counts.failed, counts.dropped), (0, 7, 0));
    // The other storage still got everything.
    assert_eq!(memory.len(), 7);
}

/// A storage that fails while `failing` is set.
#[derive(Default)]
struct Flaky {
    failing: AtomicBool,
    memory: MemorySpanStorage,
}

impl SpanStorage for Flaky {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        self.append_spans(std::slice::from_ref(span))
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(SpanStorageError::Export("no space".into()));
        }
        self.memory.append_spans(spans)
    }
}

#[test]
fn spans_count_as_written_only_once_every_storage_took_them() {
    let flaky = Arc::new(Flaky::default());
    let container = SpanStorageContainer::new(config(5), vec![flaky.clone()]).expect("container");
    for i in 0..10 {
        container.append(span(i));
    }
    container.flush().expect("healthy");
    flaky.failing.store(true, Ordering::SeqCst);
    for i in 10..13 {
        container.append(span(i));
    }
    assert!(matches!(
        container.flush(),
        Err(SpanStorageError::NotStored { spans: 3, .. })
    ));
    flaky.failing.store(false, Ordering::SeqCst);
    for i in 13..15 {
        container.append(span(i));
    }
    container.shutdown(LONG).expect("healthy again");
    let counts = container.counts();
    assert_eq!((counts.written, counts.failed, counts.dropped), (12, 3, 0));
    assert_eq!(flaky.memory.len(), 12);
}

#[test]
fn a_stalled_detached_storage_never_holds_up_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let file: Arc<dyn SpanStorage> = Arc::new(FileSpanStorage::open(&path).expect("open"));
    let gate = Arc::new(Gate::default());
    let slow = Arc::new(
        DetachedSpanStorage::new(gate.clone(), DetachedConfig::default().with_capacity(4))
            .expect("detached"),
    );
    let container =
        SpanStorageContainer::new(config(2), vec![slow.clone(), file]).expect("container");
    container.append(span(0));
    container.append(span(1));
    gate.wait_entered(); // the slow storage is stuck on the first batch
    for i in 2..20 {
        container.append(span(i));
    }
    // The container's flush does not wait for the stalled storage...
    container.flush().expect("flush");
    // ... and the file has every span.
    assert_eq!(read_span_file(&path).expect("read").spans.len(), 20);
    // The stalled storage holds at most 4 spans (the batch it is stuck on included); the
    // rest were dropped and counted.
    assert!(slow.queued() <= 4);
    assert!(slow.dropped_count() >= 16, "{}", slow.dropped_count());
    gate.open();
    slow.flush(LONG).expect("the slow storage caught up");
    assert_eq!(slow.written_count() + slow.dropped_count(), 20);
    assert_eq!(gate.seen.load(Ordering::SeqCst), slow.written_count());
    assert_eq!(container.counts().written, 20);
}

#[test]
fn a_detached_storage_reports_its_failures_on_flush_and_drops_after_shutdown() {
    let flaky = Arc::new(Flaky::default());
    flaky.failing.store(true, Ordering::SeqCst);
    let detached =
        DetachedSpanStorage::new(flaky.clone(), DetachedConfig::default()).expect("detached");
    detached.append_spans(&[span(0), span(1)]).expect("queued");
    assert!(matches!(
        detached.flush(LONG),
        Err(SpanStorageError::NotStored { spans: 2, .. })
    ));
    flaky.failing.store(false, Ordering::SeqCst);
    detached.append_span(&span(2)).expect("queued");
    detached.shutdown(LONG).expect("shutdown");
    detached
        .append_span(&span(3))
        .expect("dropped, not an error");
    assert_eq!(
        (
            detached.written_count(),
            detached.failed_count(),
            detached.dropped_count()
        ),
        (1, 2, 1)
    );
}

#[test]
fn the_byte_budget_drops_and_counts_under_the_drop_policy() {
    let gate = Arc::new(Gate::default());
    let mut probe = span(0);
    let one = MetadataLimits::default().apply(&mut probe);
    let cfg = config(1)
        .with_full_policy(FullPolicy::Drop)
        .with_max_queued_bytes(3 * one);
    let container = SpanStorageContainer::new(cfg, vec![gate.clone()]).expect("container");
    assert!(container.append(span(0)));
    gate.wait_entered(); // span 0 holds its bytes until written
    assert!(container.append(span(1)));
    assert!(container.append(span(2)));
    for i in 3..8 {
        assert!(!container.append(span(i)), "over the byte budget");
    }
    assert!(container.queued_bytes() <= 3 * one);
    // A span bigger than the whole budget never fits.
    let huge = span(9).with_metadata(json!({"a": "x".repeat(1000), "b": "y".repeat(1000)}));
    assert!(!container.append(huge));
    gate.open();
    container.flush().expect("flush");
    assert_eq!(container.queued_bytes(), 0);
    let counts = container.counts();
    assert_eq!((counts.written, counts.dropped), (3, 6));
}

#[test]
fn the_byte_budget_makes_the_block_policy_wait_and_drops_nothing() {
    let gate = Arc::new(Gate::default());
    let mut probe = span(0);
    let one = MetadataLimits::default().apply(&mut probe);
    let cfg = config(1).with_max_queued_bytes(2 * one);
    let container = SpanStorageContainer::new(cfg, vec![gate.clone()]).expect("container");
    assert!(container.append(span(0)));
    gate.wait_entered();
    assert!(container.append(span(1)));
    std::thread::scope(|scope| {
        let blocked = scope.spawn(|| (2..6).all(|i| container.append(span(i))));
        gate.open();
        assert!(blocked.join().expect("producer"));
    });
    container.shutdown(LONG).expect("shutdown");
    assert_eq!(gate.seen.load(Ordering::SeqCst), 6);
    assert_eq!(container.dropped_count(), 0);
}

#[test]
fn metadata_is_bounded_before_it_is_queued() {
    let memory = Arc::new(MemorySpanStorage::new());
    let container = SpanStorageContainer::new(config(1), vec![memory.clone()]).expect("container");
    let body = "é".repeat(5000); // 10,000 bytes
    container.append(span(0).with_metadata(json!({"body": body, "model": "glm-4"})));
    container.flush().expect("flush");
    let stored = memory.spans().remove(0).metadata.expect("metadata");
    let cut = stored["body"].as_str().expect("string");
    assert!(
        cut.starts_with("éé") && cut.contains(TRUNCATION_MARKER),
        "{cut}"
    );
    assert!(cut.len() < 1100, "{}", cut.len());
    assert_eq!(stored["model"], "glm-4");
}
