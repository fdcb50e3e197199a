//! The container: batching, flush, shutdown, full-queue policies, failing storages.
//!
//! No test here asserts on timing or waits out a real timeout: `flush()` and the container's
//! counters are the synchronisation points, and `wait_until` only polls for a state the
//! container must reach.

mod common;

use common::Gate;

use span_storage::{
    ContainerConfig, FileSpanStorage, FullPolicy, MemorySpanStorage, Span, SpanStorage,
    SpanStorageContainer, SpanStorageError, SpanType, read_span_file,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// Polls until `done` holds. A generous bound turns a bug into a failure, not a hang.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..600_000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    panic!("never happened: {what}");
}

#[test]
fn four_spans_with_batch_size_five_wait_and_the_fifth_writes_all() {
    let memory = Arc::new(MemorySpanStorage::new());
    let container = SpanStorageContainer::new(config(5), vec![memory.clone()]).expect("container");
    for i in 0..4 {
        assert!(container.append(span(i)));
    }
    // The flush thread has taken all four off the queue and holds them.
    wait_until("queue drained", || container.queued() == 0);
    assert_eq!(memory.len(), 0);
    assert_eq!(container.written_count(), 0);
    container.append(span(4));
    wait_until("batch written", || container.written_count() == 5);
    assert_eq!(memory.len(), 5);
    let names: Vec<String> = memory
        .spans()
        .into_iter()
        .map(|s| s.operation_name)
        .collect();
    assert_eq!(names, ["op0", "op1", "op2", "op3", "op4"]);
}

#[test]
fn flush_interval_writes_a_partial_batch() {
    let memory = Arc::new(MemorySpanStorage::new());
    let cfg = ContainerConfig::default()
        .with_batch_size(1000)
        .with_flush_interval(Duration::ZERO);
    let container = SpanStorageContainer::new(cfg, vec![memory.clone()]).expect("container");
    for i in 0..3 {
        container.append(span(i));
    }
    // No flush call: the elapsed interval alone must get them written.
    wait_until("interval flush", || memory.len() == 3);
}

#[test]
fn flush_returns_once_everything_is_in_every_storage() {
    let a = Arc::new(MemorySpanStorage::new());
    let b = Arc::new(MemorySpanStorage::new());
    let container =
        SpanStorageContainer::new(config(1000), vec![a.clone(), b.clone()]).expect("container");
    for i in 0..123 {
        container.append(span(i));
    }
    container.flush().expect("flush");
    assert_eq!(a.len(), 123);
    assert_eq!(b.len(), 123);
    assert_eq!(container.written_count(), 123);
    assert_eq!(a.spans(), b.spans());
    container
        .flush_timeout(LONG)
        .expect("flush with nothing pending");
}

fn count_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).expect("read").lines().count()
}

#[test]
fn flush_loses_nothing_while_eight_producers_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let file = Arc::new(FileSpanStorage::open(&path).expect("open"));
    // A small queue so that producers block and the flush thread is always busy.
    let cfg = config(10).with_capacity(64);
    let container = SpanStorageContainer::new(cfg, vec![file]).expect("container");
    std::thread::scope(|scope| {
        for t in 0..8 {
            let container = &container;
            scope.spawn(move || {
                for i in 0..5_000 {
                    assert!(container.append(span(t * 10_000 + i)));
                    if i % 1_000 == 999 {
                        container.flush().expect("flush");
                    }
                }
            });
        }
    });
    container.flush().expect("flush");
    assert_eq!(count_lines(&path), 40_000);
    assert_eq!(container.dropped_count(), 0);
    let contents = read_span_file(&path).expect("read");
    assert_eq!(contents.spans.len(), 40_000);
    assert!(contents.bad_lines.is_empty() && !contents.torn_last_line);
}

#[test]
fn shutdown_while_eight_producers_append_loses_nothing_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let file = Arc::new(FileSpanStorage::open(&path).expect("open"));
    let cfg = config(10).with_capacity(256);
    let container = SpanStorageContainer::new(cfg, vec![file]).expect("container");
    let accepted = AtomicU64::new(0);
    let started = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (container, accepted, started) = (&container, &accepted, &started);
            scope.spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let mut i = 0;
                // Append until the container refuses: every accepted span must reach the file.
                while container.append(span(t * 1_000_000 + i)) {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        wait_until("producers running", || {
            started.load(Ordering::SeqCst) == 8 && accepted.load(Ordering::Relaxed) > 20_000
        });
        container.shutdown(LONG).expect("shutdown");
    });
    let accepted = accepted.load(Ordering::Relaxed);
    assert_eq!(count_lines(&path) as u64, accepted);
    assert_eq!(container.written_count(), accepted);
    // Each producer's refused append is counted as dropped.
    assert_eq!(container.dropped_count(), 8);
}

#[test]
fn dropping_the_container_writes_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    {
        let file = Arc::new(FileSpanStorage::open(&path).expect("open"));
        let container = SpanStorageContainer::new(config(1000), vec![file]).expect("container");
        for i in 0..999 {
            container.append(span(i));
        }
    }
    assert_eq!(count_lines(&path), 999);
}

#[test]
fn shutdown_twice_is_harmless_and_later_appends_are_counted_as_dropped() {
    let memory = Arc::new(MemorySpanStorage::new());
    let container = SpanStorageContainer::new(config(10), vec![memory.clone()]).expect("container");
    container.append(span(0));
    container.shutdown(LONG).expect("shutdown");
    container.shutdown(LONG).expect("second shutdown");
    assert_eq!(memory.len(), 1);
    assert!(!container.append(span(1)));
    assert_eq!(container.dropped_count(), 1);
    container
        .flush()
        .expect("flush after shutdown has nothing to do");
    assert!(matches!(
        container.append_span(&span(2)),
        Err(SpanStorageError::Closed)
    ));
}

fn gated(
    policy: FullPolicy,
    capacity: usize,
) -> (Arc<Gate>, Arc<MemorySpanStorage>, SpanStorageContainer) {
    let gate = Arc::new(Gate::default());
    let memory = Arc::new(MemorySpanStorage::new());
    let cfg = config(1).with_capacity(capacity).with_full_policy(policy);
    let container =
        SpanStorageContainer::new(cfg, vec![gate.clone(), memory.clone()]).expect("container");
    (gate, memory, container)
}

#[test]
fn drop_policy_drops_and_counts_when_full() {
    let (gate, memory, container) = gated(FullPolicy::Drop, 2);
    assert!(container.append(span(0)));
    gate.wait_entered(); // the flush thread is stuck writing span 0
    assert!(container.append(span(1)));
    assert!(container.append(span(2)));
    // The queue (capacity 2) is full: these are dropped at once, never waited for.
    for i in 3..6 {
        assert!(!container.append(span(i)));
    }
    assert_eq!(container.dropped_count(), 3);
    gate.open();
    container.flush().expect("flush");
    let names: Vec<String> = memory
        .spans()
        .into_iter()
        .map(|s| s.operation_name)
        .collect();
    assert_eq!(names, ["op0", "op1", "op2"]);
    assert_eq!(container.dropped_count(), 3);
}

#[test]
fn block_policy_waits_for_room_and_drops_nothing() {
    let (gate, memory, container) = gated(FullPolicy::Block, 1);
    assert!(container.append(span(0)));
    gate.wait_entered();
    assert!(container.append(span(1))); // fills the queue
    std::thread::scope(|scope| {
        let blocked = scope.spawn(|| {
            // The queue is full: these wait until the gate opens.
            (2..5).all(|i| container.append(span(i)))
        });
        assert_eq!(container.queued(), 1);
        gate.open();
        assert!(blocked.join().expect("producer"));
    });
    container.flush().expect("flush");
    assert_eq!(memory.len(), 5);
    assert_eq!(container.dropped_count(), 0);
    assert_eq!(gate.seen.load(Ordering::SeqCst), 5);
}

struct Failing;

impl SpanStorage for Failing {
    fn append_span(&self, _span: &Span) -> Result<(), SpanStorageError> {
        Err(SpanStorageError::Export("collector unreachable".into()))
    }
}

struct Panicking;

impl SpanStorage for Panicking {
    fn append_span(&self, _span: &Span) -> Result<(), SpanStorageError> {
        panic!("a buggy storage");
    }
}

#[test]
fn a_failing_or_panicking_storage_does_not_stop_the_others() {
    let before = Arc::new(MemorySpanStorage::new());
    let after = Arc::new(MemorySpanStorage::new());
    let storages: Vec<Arc<dyn SpanStorage>> = vec![
        before.clone(),
        Arc::new(Failing),
        Arc::new(Panicking),
        after.clone(),
    ];
    let container = SpanStorageContainer::new(config(5), storages).expect("container");
    for i in 0..20 {
        container.append(span(i));
    }
    let err = container.flush().expect_err("two storages failed");
    assert!(
        matches!(err, SpanStorageError::NotStored { spans: 20, .. }),
        "{err}"
    );
    // The flush thread survived the panic and keeps working.
    for i in 20..25 {
        container.append(span(i));
    }
    let err = container.shutdown(LONG).expect_err("still failing");
    assert!(
        matches!(err, SpanStorageError::NotStored { spans: 5, .. }),
        "{err}"
    );
    assert_eq!(before.len(), 25);
    assert_eq!(after.len(), 25);
    assert!(container.failed_writes() >= 2);
    // Some storage missed every span: none counts as written.
    assert_eq!(
        (container.written_count(), container.failed_count()),
        (0, 25)
    );
}

#[test]
fn appends_from_async_code() {
    let memory = Arc::new(MemorySpanStorage::new());
    let container =
        Arc::new(SpanStorageContainer::new(config(10), vec![memory.clone()]).expect("container"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let container = Arc::clone(&container);
                tokio::spawn(async move {
                    for i in 0..100 {
                        container.append(span(t * 100 + i));
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    container.flush().expect("flush");
    assert_eq!(memory.len(), 800);
}

#[test]
fn the_container_is_itself_a_storage() {
    let memory = Arc::new(MemorySpanStorage::new());
    let container = SpanStorageContainer::new(config(10), vec![memory.clone()]).expect("container");
    let spans: Vec<Span> = (0..7).map(span).collect();
    container.append_spans(&spans).expect("append");
    container.flush().expect("flush");
    assert_eq!(memory.spans(), spans);
}

/// A storage that appends to the container it is attached to, from the flush thread.
struct Reentrant {
    container: Mutex<std::sync::Weak<SpanStorageContainer>>,
    done: AtomicU64,
}

impl SpanStorage for Reentrant {
    fn append_span(&self, _span: &Span) -> Result<(), SpanStorageError> {
        if self.done.fetch_add(1, Ordering::SeqCst) == 0 {
            if let Some(container) = self.container.lock().expect("lock").upgrade() {
                // More than the queue holds: with a blocking append this would deadlock.
                for i in 0..3 {
                    container.append(span(100 + i));
                }
            }
        }
        Ok(())
    }
}

#[test]
fn appends_from_the_flush_thread_never_block_it() {
    let reentrant = Arc::new(Reentrant {
        container: Mutex::new(std::sync::Weak::new()),
        done: AtomicU64::new(0),
    });
    let cfg = config(1)
        .with_capacity(1)
        .with_full_policy(FullPolicy::Block);
    let container =
        Arc::new(SpanStorageContainer::new(cfg, vec![reentrant.clone()]).expect("container"));
    *reentrant.container.lock().expect("lock") = Arc::downgrade(&container);
    container.append(span(0));
    container.flush().expect("flush");
    container.flush().expect("flush");
    assert!(container.dropped_count() >= 1);
    *reentrant.container.lock().expect("lock") = std::sync::Weak::new();
}
