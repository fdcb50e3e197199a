//! A slow storage behind its own bounded queue and thread, so that it never holds up the
//! container's flush thread (and with it the file writes).

use crate::container::store;
use crate::throttle::WarningThrottle;
use crate::{Span, SpanStorage, SpanStorageError};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The configuration of a [`DetachedSpanStorage`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DetachedConfig {
    /// The name of its thread (default `span-storage-detached`).
    pub thread_name: String,
    /// How many spans may wait for the slow storage, the batch it is being handed included
    /// (default 8,192); batches that do not fit are dropped and counted.
    pub capacity: usize,
    /// How long dropping it waits for the queue to empty (default 5 s).
    pub drop_timeout: Duration,
    /// After the first warning about the storage failing, at most one more per this interval
    /// (default 60 s).
    pub warning_interval: Duration,
}

impl Default for DetachedConfig {
    fn default() -> Self {
        Self {
            thread_name: "span-storage-detached".to_owned(),
            capacity: 8192,
            drop_timeout: Duration::from_secs(5),
            warning_interval: Duration::from_secs(60),
        }
    }
}

impl DetachedConfig {
    /// Sets the thread's name.
    pub fn with_thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Sets `capacity`.
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets `drop_timeout`.
    pub fn with_drop_timeout(mut self, drop_timeout: Duration) -> Self {
        self.drop_timeout = drop_timeout;
        self
    }

    /// Sets `warning_interval`.
    pub fn with_warning_interval(mut self, warning_interval: Duration) -> Self {
        self.warning_interval = warning_interval;
        self
    }
}

enum Message {
    Batch(Vec<Span>),
    Flush(Sender<Result<(), SpanStorageError>>),
}

#[derive(Default)]
struct Counters {
    queued: AtomicUsize,
    written: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// Puts any slow storage (an exporter to a collector that may hang until its timeout) behind
/// its own bounded queue and thread.
///
/// Its `append_spans` only queues a copy of the batch and returns `Ok` at once; when the queue
/// is full the batch is dropped and counted ([`dropped_count`](Self::dropped_count)) rather
/// than waited for. So behind a [`SpanStorageContainer`](crate::SpanStorageContainer) the
/// container's flush, and the other storages' writes, never wait for this one: for it, "in the
/// storage" means "in its queue". Its own [`flush`](Self::flush) waits for its queue and
/// reports its failures; dropping it (or [`shutdown`](Self::shutdown)) hands over what is
/// queued, waiting at most `drop_timeout`.
pub struct DetachedSpanStorage {
    messages: Mutex<Option<Sender<Message>>>,
    counters: Arc<Counters>,
    capacity: usize,
    drop_timeout: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for DetachedSpanStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedSpanStorage")
            .field("queued", &self.queued())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl DetachedSpanStorage {
    /// Starts the thread that feeds `inner`. Fails only if the thread cannot be spawned.
    pub fn new(
        inner: Arc<dyn SpanStorage>,
        config: DetachedConfig,
    ) -> Result<Self, SpanStorageError> {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let throttle = WarningThrottle::new(config.warning_interval);
        let thread = std::thread::Builder::new()
            .name(config.thread_name.clone())
            .spawn(move || feed(inner.as_ref(), &receiver, &thread_counters, throttle))
            .map_err(|e| SpanStorageError::io("spawning thread", &config.thread_name, e))?;
        Ok(Self {
            messages: Mutex::new(Some(sender)),
            counters,
            capacity: config.capacity.max(1),
            drop_timeout: config.drop_timeout,
            thread: Mutex::new(Some(thread)),
        })
    }

    fn sender(&self) -> Option<Sender<Message>> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (at most `timeout`) until every batch queued before this call has been handed to
    /// the slow storage; fails with [`SpanStorageError::NotStored`] if it failed to take spans
    /// since the previous flush. `Ok` at once after shutdown.
    pub fn flush(&self, timeout: Duration) -> Result<(), SpanStorageError> {
        let Some(sender) = self.sender() else {
            return Ok(());
        };
        let (reply, done) = crossbeam_channel::bounded(1);
        if sender.send(Message::Flush(reply)).is_err() {
            return Ok(());
        }
        match done.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Disconnected) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(SpanStorageError::Timeout(timeout)),
        }
    }

    /// Hands over what is queued (waiting at most `timeout`), then stops the thread; later
    /// batches are dropped and counted. Calling it again is harmless.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), SpanStorageError> {
        let flushed = self.flush(timeout);
        // Closing the channel ends the thread once it has handed over the last batch.
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if flushed.is_ok() {
            let handle = self
                .thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(handle) = handle {
                handle.join().map_err(|_| {
                    SpanStorageError::Panicked("a detached span storage's thread".to_owned())
                })?;
            }
        }
        flushed
    }

    /// Spans the slow storage took.
    pub fn written_count(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Spans the slow storage failed (or panicked) to take.
    pub fn failed_count(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Spans dropped because the queue was full or the storage was shut down.
    pub fn dropped_count(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Spans waiting in the queue.
    pub fn queued(&self) -> usize {
        self.counters.queued.load(Ordering::Relaxed)
    }
}

impl SpanStorage for DetachedSpanStorage {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        self.append_spans(std::slice::from_ref(span))
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        let n = spans.len();
        if n == 0 {
            return Ok(());
        }
        let counters = &self.counters;
        let before = counters.queued.fetch_add(n, Ordering::AcqRel);
        let sent = before + n <= self.capacity
            && self
                .sender()
                .is_some_and(|s| s.send(Message::Batch(spans.to_vec())).is_ok());
        if !sent {
            counters.queued.fetch_sub(n, Ordering::AcqRel);
            counters.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Drop for DetachedSpanStorage {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(self.drop_timeout) {
            tracing::warn!(error = %e, "detached span storage: final hand-over failed");
        }
    }
}

/// The thread: hands each batch to the slow storage, answering flushes in order.
fn feed(
    inner: &dyn SpanStorage,
    messages: &Receiver<Message>,
    counters: &Counters,
    mut throttle: WarningThrottle,
) {
    let mut unreported: Option<(u64, String)> = None;
    for message in messages {
        match message {
            Message::Batch(spans) => {
                let n = spans.len();
                let result = store(inner, &spans);
                counters.queued.fetch_sub(n, Ordering::AcqRel);
                match result {
                    Ok(()) => {
                        counters.written.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(error) => {
                        counters.failed.fetch_add(n as u64, Ordering::Relaxed);
                        if let Some(suppressed) = throttle.admit(Instant::now()) {
                            tracing::warn!(error = %error, spans = n, suppressed_warnings = suppressed, "a detached span storage failed");
                        }
                        let entry = unreported.get_or_insert((0, String::new()));
                        entry.0 += n as u64;
                        entry.1 = error.to_string();
                    }
                }
            }
            Message::Flush(reply) => {
                let result = match unreported.take() {
                    None => Ok(()),
                    Some((spans, last_error)) => {
                        Err(SpanStorageError::NotStored { spans, last_error })
                    }
                };
                let _ = reply.send(result);
            }
        }
    }
}
