//! The container: a bounded queue in front of one dedicated flush thread that hands batches
//! to every attached storage.
//!
//! Design (after opentelemetry's `BatchSpanProcessor` and tracing-appender's worker): spans
//! travel on a bounded data channel; flush and shutdown requests travel on a separate control
//! channel and carry a reply channel, so the caller learns when its spans are in every storage.
//! A counter of appends in progress, with a "closed" bit, makes shutdown lossless: after the
//! bit is set no new append starts, and the flush thread drains until every append that did
//! start has landed in the channel.

mod worker;

use worker::Worker;

use crate::{Span, SpanStorage, SpanStorageError};
use crossbeam_channel::{RecvTimeoutError, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// What [`SpanStorageContainer::append`] does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Wait for room: nothing is ever dropped, but a stalled storage stalls the callers
    /// (the default, as DB-GPT never drops a span).
    #[default]
    Block,
    /// Drop the span and count it ([`SpanStorageContainer::dropped_count`]): callers never wait.
    Drop,
}

/// The configuration of a [`SpanStorageContainer`]: start from `Default` and change what you
/// need with the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerConfig {
    /// Write as soon as this many spans are pending (default 10, as DB-GPT). Under load the
    /// flush thread also takes whatever else is already queued, so batches grow by themselves
    /// and a small value costs no throughput; a small value bounds what a crash can lose.
    pub batch_size: usize,
    /// Write pending spans at the latest this long after the first of them arrived
    /// (default 10 s, as DB-GPT).
    pub flush_interval: Duration,
    /// How many spans the queue holds (default 16,384). The queue is allocated up front
    /// (about 170 bytes a span), and at the flush thread's pace this absorbs a stall of the
    /// storages of tens of milliseconds at full load.
    pub capacity: usize,
    /// What to do when the queue is full (default [`FullPolicy::Block`]).
    pub full_policy: FullPolicy,
    /// How long dropping the container waits for the final flush (default 10 s).
    pub drop_timeout: Duration,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            flush_interval: Duration::from_secs(10),
            capacity: 16_384,
            full_policy: FullPolicy::Block,
            drop_timeout: Duration::from_secs(10),
        }
    }
}

impl ContainerConfig {
    /// Sets `batch_size`.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets `flush_interval`.
    pub fn with_flush_interval(mut self, flush_interval: Duration) -> Self {
        self.flush_interval = flush_interval;
        self
    }

    /// Sets `capacity`.
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets `full_policy`.
    pub fn with_full_policy(mut self, full_policy: FullPolicy) -> Self {
        self.full_policy = full_policy;
        self
    }

    /// Sets `drop_timeout`.
    pub fn with_drop_timeout(mut self, drop_timeout: Duration) -> Self {
        self.drop_timeout = drop_timeout;
        self
    }
}

/// The most spans handed to the storages in one call, however small `batch_size` is.
pub(crate) const MAX_DRAIN: usize = 4096;
/// The "closed" bit of [`Shared::state`]; the other bits count appends in progress.
pub(crate) const CLOSED: usize = 1 << (usize::BITS - 1);
/// The name of the flush thread.
const THREAD_NAME: &str = "span-storage-flush";

pub(crate) enum Control {
    /// Write everything queued, then answer.
    Flush(Sender<()>),
    /// Write everything queued and every append in progress, answer, and end the thread.
    Shutdown(Sender<()>),
}

/// What the container and its flush thread share.
#[derive(Default)]
pub(crate) struct Shared {
    /// The [`CLOSED`] bit and the number of appends in progress.
    pub(crate) state: AtomicUsize,
    pub(crate) dropped: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) failed: AtomicU64,
}

/// A bounded, batched span queue in front of one or more [`SpanStorage`]s.
///
/// [`append`](Self::append) costs a channel send; one dedicated thread named
/// `span-storage-flush` writes batches to every storage. A storage that fails (or panics) is
/// logged and counted, and the others still get the batch. [`flush`](Self::flush) and
/// [`shutdown`](Self::shutdown) return once everything queued before them is in every storage;
/// dropping the container shuts it down. Nothing queued is ever lost on shutdown.
pub struct SpanStorageContainer {
    data: Sender<Span>,
    control: Sender<Control>,
    shared: Arc<Shared>,
    policy: FullPolicy,
    drop_timeout: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SpanStorageContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanStorageContainer")
            .field("queued", &self.data.len())
            .field("written", &self.written_count())
            .field("dropped", &self.dropped_count())
            .finish_non_exhaustive()
    }
}

impl SpanStorageContainer {
    /// Starts the flush thread. Fails only if the thread cannot be spawned.
    pub fn new(
        config: ContainerConfig,
        storages: Vec<Arc<dyn SpanStorage>>,
    ) -> Result<Self, SpanStorageError> {
        let (data, data_rx) = crossbeam_channel::bounded(config.capacity.max(1));
        let (control, control_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            data: data_rx,
            control: control_rx,
            storages,
            shared: Arc::clone(&shared),
            batch_size: config.batch_size.max(1),
            max_batch: config.batch_size.max(MAX_DRAIN),
            flush_interval: config.flush_interval,
            batch: Vec::with_capacity(config.batch_size.max(1)),
        };
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || worker.run())
            .map_err(|e| SpanStorageError::io("spawning thread", THREAD_NAME, e))?;
        Ok(Self {
            data,
            control,
            shared,
            policy: config.full_policy,
            drop_timeout: config.drop_timeout,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a span. Returns `false` if it was dropped: the queue was full under
    /// [`FullPolicy::Drop`], or the container is shut down. Dropped spans are counted.
    pub fn append(&self, span: Span) -> bool {
        let prev = self.shared.state.fetch_add(1, Ordering::AcqRel);
        let queued = if prev & CLOSED != 0 {
            false
        } else {
            match self.policy {
                // A storage that appends spans (say, it is traced itself) runs on the flush thread,
                // which is the only one emptying the queue: it must never wait for room.
                FullPolicy::Block if !worker::ON_FLUSH_THREAD.with(|f| f.get()) => {
                    self.data.send(span).is_ok()
                }
                FullPolicy::Block => self.data.try_send(span).is_ok(),
                FullPolicy::Drop => match self.data.try_send(span) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                },
            }
        };
        self.shared.state.fetch_sub(1, Ordering::AcqRel);
        if !queued {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    /// Returns once every span queued before this call is in every storage.
    /// After shutdown there is nothing left to flush and this returns `Ok` at once.
    pub fn flush(&self) -> Result<(), SpanStorageError> {
        self.request_flush(None)
    }

    /// Like [`flush`](Self::flush), giving up after `timeout` (the flush still completes later).
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), SpanStorageError> {
        self.request_flush(Some(timeout))
    }

    fn request_flush(&self, timeout: Option<Duration>) -> Result<(), SpanStorageError> {
        let (reply, done) = crossbeam_channel::bounded(1);
        if self.control.send(Control::Flush(reply)).is_err() {
            // The thread has ended, which it does only after writing everything.
            return Ok(());
        }
        // A disconnected reply means the thread shut down, after writing everything.
        match timeout {
            None => {
                let _ = done.recv();
                Ok(())
            }
            Some(t) => match done.recv_timeout(t) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => Ok(()),
                Err(RecvTimeoutError::Timeout) => Err(SpanStorageError::Timeout(t)),
            },
        }
    }

    /// Stops accepting spans, writes everything queued to every storage and joins the flush
    /// thread, waiting at most `timeout` for that. Calling it again is harmless.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), SpanStorageError> {
        self.shared.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(handle) = thread.take() else {
            return Ok(());
        };
        let (reply, done) = crossbeam_channel::bounded(1);
        let answered = if self.control.send(Control::Shutdown(reply)).is_ok() {
            done.recv_timeout(timeout)
        } else {
            Err(RecvTimeoutError::Disconnected)
        };
        match answered {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => handle.join().map_err(|_| {
                SpanStorageError::Panicked(format!("the {THREAD_NAME} thread panicked"))
            }),
            Err(RecvTimeoutError::Timeout) => {
                // Keep the handle: a later shutdown call can still wait for it.
                *thread = Some(handle);
                Err(SpanStorageError::Timeout(timeout))
            }
        }
    }

    /// How many spans were dropped: refused by a full queue under [`FullPolicy::Drop`], or
    /// appended after shutdown.
    pub fn dropped_count(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How many spans the flush thread has handed to the storages (each span counted once,
    /// however many storages there are).
    pub fn written_count(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// How many times a storage failed (or panicked) on a batch.
    pub fn failed_writes(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// How many spans are waiting in the queue right now.
    pub fn queued(&self) -> usize {
        self.data.len()
    }
}

impl SpanStorage for SpanStorageContainer {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        if self.append(span.clone()) || self.shared.state.load(Ordering::Acquire) & CLOSED == 0 {
            Ok(())
        } else {
            Err(SpanStorageError::Closed)
        }
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        spans.iter().try_for_each(|span| self.append_span(span))
    }
}

impl Drop for SpanStorageContainer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(self.drop_timeout) {
            tracing::warn!(error = %e, "span container: final flush on drop failed");
        }
    }
}
