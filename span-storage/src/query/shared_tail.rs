//! A [`SpanTail`] shared by concurrent callers (the requests of a traces API): one refresh
//! reads at a time, and callers that waited for it share its result instead of reading again.

use super::tail::{SpanTail, TailRefresh};
use super::window::WindowLimits;
use crate::{Span, SpanStorageError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The spans of a window at one moment, oldest first, shared with the window (a pointer a
/// span): what [`SharedSpanTail::refresh`] returns.
pub type SpanSnapshot = Arc<[Arc<Span>]>;

struct State {
    tail: SpanTail,
    /// The spans as of the last refresh that read something; rebuilt only when one did.
    snapshot: SpanSnapshot,
}

/// A [`SpanTail`] behind a lock, for callers on many threads.
///
/// [`refresh`](Self::refresh) runs the file reading on the calling thread (from async code,
/// call it on a blocking thread, e.g. `tokio::task::spawn_blocking`). One refresh reads at a
/// time; a caller that finds a refresh running waits for it and then returns its result
/// without reading again, so N concurrent callers cost one read of the appended bytes. The
/// spans come as a [`SpanSnapshot`], rebuilt (a pointer a span; spans are shared with the
/// window, which copies one only to merge a record into it while a snapshot holds it) only
/// after a refresh that read records.
pub struct SharedSpanTail {
    state: Mutex<State>,
    /// Refreshes completed; a caller that sees it move while waiting shares that refresh.
    completed: AtomicU64,
    /// Callers waiting for the lock (for tests to know when everyone is queued).
    waiting: AtomicUsize,
}

impl std::fmt::Debug for SharedSpanTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSpanTail")
            .field("refreshes", &self.completed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SharedSpanTail {
    /// A shared tail of `source` (a folder, a pattern or a file, as [`SpanTail::new`]).
    pub fn new(source: impl Into<PathBuf>, limits: WindowLimits) -> Self {
        Self {
            state: Mutex::new(State {
                tail: SpanTail::new(source, limits),
                snapshot: Arc::new([]),
            }),
            completed: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Reads what was appended since the last refresh (or shares a refresh that was running
    /// when this call began) and returns the window's spans.
    pub fn refresh(&self) -> Result<SpanSnapshot, SpanStorageError> {
        self.refresh_with(SpanTail::refresh)
    }

    fn refresh_with(
        &self,
        read: impl FnOnce(&mut SpanTail) -> Result<TailRefresh, SpanStorageError>,
    ) -> Result<SpanSnapshot, SpanStorageError> {
        let before = self.completed.load(Ordering::Acquire);
        self.waiting.fetch_add(1, Ordering::AcqRel);
        // A panic while reading leaves a consistent window (cursors move only past lines that
        // were inserted): keep going.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if self.completed.load(Ordering::Acquire) != before {
            return Ok(Arc::clone(&state.snapshot));
        }
        let read = read(&mut state.tail);
        self.completed.fetch_add(1, Ordering::AcqRel);
        if read?.records > 0 {
            state.snapshot = state.tail.shared_spans().into();
        }
        Ok(Arc::clone(&state.snapshot))
    }

    /// How many refreshes have read the files (shared ones count once).
    pub fn refreshes(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::SharedSpanTail;
    use crate::query::WindowLimits;
    use crate::{Span, SpanType};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn callers_waiting_for_a_refresh_share_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = Span::new_root(SpanType::Base, "op").to_json_line() + "\n";
        std::fs::write(dir.path().join("spans.jsonl"), line).expect("write");
        let shared = Arc::new(SharedSpanTail::new(dir.path(), WindowLimits::default()));
        let reads = Arc::new(AtomicUsize::new(0));
        let (inside, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let refresh = |shared: Arc<SharedSpanTail>,
                       reads: Arc<AtomicUsize>,
                       gate: Option<(Arc<Barrier>, Arc<Barrier>)>| {
            std::thread::spawn(move || {
                shared.refresh_with(|tail| {
                    if let Some((inside, release)) = gate {
                        inside.wait();
                        release.wait();
                    }
                    reads.fetch_add(1, Ordering::SeqCst);
                    tail.refresh()
                })
            })
        };
        let first = refresh(
            shared.clone(),
            reads.clone(),
            Some((inside.clone(), release.clone())),
        );
        inside.wait(); // the first refresh holds the lock
        let waiters: Vec<_> = (0..5)
            .map(|_| refresh(shared.clone(), reads.clone(), None))
            .collect();
        // Poll for a state the waiters must reach: all five queued on the lock.
        while shared.waiting.load(Ordering::SeqCst) < 5 {
            std::thread::yield_now();
        }
        release.wait();
        let spans = first.join().expect("first").expect("refresh");
        assert_eq!(spans.len(), 1);
        for waiter in waiters {
            let shared_spans = waiter.join().expect("waiter").expect("refresh");
            assert!(Arc::ptr_eq(&spans, &shared_spans), "the same snapshot");
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for six callers");
        assert_eq!(shared.refreshes(), 1);
        // A later caller reads again.
        shared.refresh().expect("refresh");
        assert_eq!(shared.refreshes(), 2);
    }
}
