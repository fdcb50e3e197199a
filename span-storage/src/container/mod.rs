//! The container: a bounded queue in front of one dedicated flush thread that hands batches
//! to every attached storage.
//!
//! Design (after opentelemetry's `BatchSpanProcessor` and tracing-appender's worker): spans
//! travel on a bounded data channel; flush and shutdown requests travel on a separate control
//! channel and carry a reply channel, so the caller learns when its spans are in every storage
//! (or that a storage failed to take them). A counter of appends in progress, with a "closed"
//! bit, makes shutdown lossless: after the bit is set no new append starts, and the flush
//! thread drains until every append that did start has landed in the channel.

mod budget;
mod config;
mod worker;

pub use config::{ContainerConfig, FullPolicy};

use budget::ByteBudget;
use worker::Worker;
pub(crate) use worker::store;

use crate::{MetadataLimits, Span, SpanStorage, SpanStorageError};
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most spans handed to the storages in one call, however small `batch_size` is.
pub(crate) const MAX_DRAIN: usize = 4096;
/// The "closed" bit of [`Shared::state`]; the other bits count appends in progress.
pub(crate) const CLOSED: usize = 1 << (usize::BITS - 1);
/// The name of the flush thread.
const THREAD_NAME: &str = "span-storage-flush";

/// What a flush or shutdown request is answered with: whether every storage took everything.
pub(crate) type Reply = Sender<Result<(), SpanStorageError>>;

pub(crate) enum Control {
    /// Write everything queued, then answer.
    Flush(Reply),
    /// Write everything queued and every append in progress, answer, and end the thread.
    Shutdown(Reply),
}

/// A span on the queue, with the bytes it holds of the budget.
pub(crate) struct Queued {
    pub(crate) span: Span,
    pub(crate) bytes: usize,
}

/// What the container and its flush thread share.
pub(crate) struct Shared {
    /// The [`CLOSED`] bit and the number of appends in progress.
    pub(crate) state: AtomicUsize,
    pub(crate) dropped: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) failed_spans: AtomicU64,
    pub(crate) failed_writes: AtomicU64,
    pub(crate) bytes: ByteBudget,
}

/// The container's counters at one moment: every span appended is, once the queue is empty,
/// in exactly one of `written`, `failed` and `dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SpanCounts {
    /// Spans every storage took.
    pub written: u64,
    /// Spans at least one storage failed to take (a full disk, an unreachable collector).
    pub failed: u64,
    /// Spans never handed to the storages: the queue was full (of spans or bytes) under
    /// [`FullPolicy::Drop`], the span was bigger than the byte budget, or the container was
    /// shut down.
    pub dropped: u64,
}

/// A bounded, batched span queue in front of one or more [`SpanStorage`]s.
///
/// [`append`](Self::append) costs a channel send; one dedicated thread named
/// `span-storage-flush` writes batches to every storage. A storage that fails (or panics) is
/// logged (rate-limited) and counted, and the others still get the batch.
/// [`flush`](Self::flush) and [`shutdown`](Self::shutdown) return once everything queued
/// before them is in every storage, and fail if a storage failed to take some of it; dropping
/// the container shuts it down. Nothing queued is ever lost on shutdown.
pub struct SpanStorageContainer {
    data: Sender<Queued>,
    control: Sender<Control>,
    shared: Arc<Shared>,
    policy: FullPolicy,
    limits: MetadataLimits,
    drop_timeout: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SpanStorageContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanStorageContainer")
            .field("queued", &self.data.len())
            .field("counts", &self.counts())
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
        let shared = Arc::new(Shared {
            state: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            failed_spans: AtomicU64::new(0),
            failed_writes: AtomicU64::new(0),
            bytes: ByteBudget::new(config.max_queued_bytes),
        });
        let worker = Worker::new(&config, data_rx, control_rx, storages, Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || worker.run())
            .map_err(|e| SpanStorageError::io("spawning thread", THREAD_NAME, e))?;
        Ok(Self {
            data,
            control,
            shared,
            policy: config.full_policy,
            limits: config.metadata_limits,
            drop_timeout: config.drop_timeout,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a span, its metadata first cut to the configured [`MetadataLimits`]. Returns
    /// `false` if it was dropped: the queue was full (of spans or of bytes) under
    /// [`FullPolicy::Drop`], the span alone is bigger than the byte budget, or the container
    /// is shut down. Dropped spans are counted.
    pub fn append(&self, mut span: Span) -> bool {
        let bytes = self.limits.apply(&mut span);
        let prev = self.shared.state.fetch_add(1, Ordering::AcqRel);
        let queued = prev & CLOSED == 0 && self.enqueue(Queued { span, bytes });
        self.shared.state.fetch_sub(1, Ordering::AcqRel);
        if !queued {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    fn enqueue(&self, queued: Queued) -> bool {
        let bytes = queued.bytes;
        // A storage that appends spans (say, it is traced itself) runs on the flush thread,
        // which is the only one emptying the queue: it must never wait for room.
        let may_wait =
            self.policy == FullPolicy::Block && !worker::ON_FLUSH_THREAD.with(|f| f.get());
        let reserved = if may_wait {
            self.shared.bytes.take_waiting(bytes)
        } else {
            self.shared.bytes.try_take(bytes)
        };
        if !reserved {
            return false;
        }
        let sent = if may_wait {
            self.data.send(queued).is_ok()
        } else {
            self.data.try_send(queued).is_ok()
        };
        if !sent {
            self.shared.bytes.give_back(bytes);
        }
        sent
    }

    /// Returns once every span queued before this call is in every storage. Fails with
    /// [`SpanStorageError::NotStored`] if a storage failed to take spans since the previous
    /// flush or shutdown (the failure is reported once). After shutdown there is nothing left
    /// to flush and this returns `Ok` at once.
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
            None => done.recv().unwrap_or(Ok(())),
            Some(t) => match done.recv_timeout(t) {
                Ok(result) => result,
                Err(RecvTimeoutError::Disconnected) => Ok(()),
                Err(RecvTimeoutError::Timeout) => Err(SpanStorageError::Timeout(t)),
            },
        }
    }

    /// Stops accepting spans, writes everything queued to every storage and joins the flush
    /// thread, waiting at most `timeout` for that. Fails with [`SpanStorageError::NotStored`]
    /// if a storage failed to take spans since the previous flush. Calling it again is
    /// harmless.
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
        let result = match answered {
            Ok(result) => result,
            Err(RecvTimeoutError::Disconnected) => Ok(()),
            Err(RecvTimeoutError::Timeout) => {
                // Keep the handle: a later shutdown call can still wait for it.
                *thread = Some(handle);
                return Err(SpanStorageError::Timeout(timeout));
            }
        };
        handle.join().map_err(|_| {
            SpanStorageError::Panicked(format!("the {THREAD_NAME} thread panicked"))
        })?;
        result
    }

    /// The written, failed and dropped counters together.
    pub fn counts(&self) -> SpanCounts {
        SpanCounts {
            written: self.written_count(),
            failed: self.failed_count(),
            dropped: self.dropped_count(),
        }
    }

    /// How many spans were dropped: refused by a full queue (spans or bytes) under
    /// [`FullPolicy::Drop`], bigger than the whole byte budget, or appended after shutdown.
    pub fn dropped_count(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How many spans every storage took (each span counted once, however many storages
    /// there are). A span some storage failed to take is counted in
    /// [`failed_count`](Self::failed_count) instead.
    pub fn written_count(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// How many spans at least one storage failed (or panicked) to take.
    pub fn failed_count(&self) -> u64 {
        self.shared.failed_spans.load(Ordering::Relaxed)
    }

    /// How many times a storage failed (or panicked) on a batch.
    pub fn failed_writes(&self) -> u64 {
        self.shared.failed_writes.load(Ordering::Relaxed)
    }

    /// How many spans are waiting in the queue right now.
    pub fn queued(&self) -> usize {
        self.data.len()
    }

    /// How many bytes of the budget the spans queued or being written hold right now.
    pub fn queued_bytes(&self) -> usize {
        self.shared.bytes.used()
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
