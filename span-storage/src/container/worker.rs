//! The flush thread: takes spans off the queue and hands batches to the storages.

use super::{CLOSED, ContainerConfig, Control, Queued, Reply, Shared};
use crate::throttle::WarningThrottle;
use crate::{Span, SpanStorage, SpanStorageError};
use crossbeam_channel::{Receiver, select};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

thread_local! {
    /// Set on the flush thread, where blocking on our own full queue would deadlock.
    pub(super) static ON_FLUSH_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The flush thread's state.
pub(super) struct Worker {
    data: Receiver<Queued>,
    control: Receiver<Control>,
    storages: Vec<Arc<dyn SpanStorage>>,
    shared: Arc<Shared>,
    batch_size: usize,
    max_batch: usize,
    flush_interval: Duration,
    batch: Vec<Span>,
    /// The bytes of the budget the spans in `batch` hold.
    batch_bytes: usize,
    throttle: WarningThrottle,
    /// Spans some storage failed to take since the last flush or shutdown answer, and the last
    /// error: what the next answer reports.
    unreported: Option<(u64, String)>,
}

impl Worker {
    pub(super) fn new(
        config: &ContainerConfig,
        data: Receiver<Queued>,
        control: Receiver<Control>,
        storages: Vec<Arc<dyn SpanStorage>>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            data,
            control,
            storages,
            shared,
            batch_size: config.batch_size.max(1),
            max_batch: config.batch_size.max(super::MAX_DRAIN),
            flush_interval: config.flush_interval,
            batch: Vec::with_capacity(config.batch_size.max(1)),
            batch_bytes: 0,
            throttle: WarningThrottle::new(config.warning_interval),
            unreported: None,
        }
    }

    pub(super) fn run(mut self) {
        ON_FLUSH_THREAD.with(|f| f.set(true));
        // When the pending spans must be written at the latest; `None` while nothing is pending.
        let mut deadline: Option<Instant> = None;
        loop {
            let (span, control, tick) = match deadline {
                Some(at) => select! {
                    recv(self.control) -> m => (None, Some(m), false),
                    recv(self.data) -> m => (Some(m), None, false),
                    default(at.saturating_duration_since(Instant::now())) => (None, None, true),
                },
                None => select! {
                    recv(self.control) -> m => (None, Some(m), false),
                    recv(self.data) -> m => (Some(m), None, false),
                },
            };
            if tick {
                self.write();
                deadline = None;
                continue;
            }
            if let Some(control) = control {
                match control {
                    Ok(Control::Flush(reply)) => {
                        // Everything appended before the request is in the channel now.
                        let queued = self.data.len();
                        for _ in 0..queued {
                            match self.data.try_recv() {
                                Ok(span) => self.push(span),
                                Err(_) => break,
                            }
                        }
                        self.write();
                        deadline = None;
                        self.answer(reply);
                    }
                    Ok(Control::Shutdown(reply)) => {
                        self.drain_for_shutdown();
                        self.answer(reply);
                        return;
                    }
                    Err(_) => {
                        // The container is gone without a shutdown request: nothing more can
                        // arrive once the appends in progress land.
                        self.drain_for_shutdown();
                        return;
                    }
                }
                continue;
            }
            match span {
                Some(Ok(queued)) => {
                    if self.batch.is_empty() {
                        deadline = Some(Instant::now() + self.flush_interval);
                    }
                    self.take(queued);
                    // Take what is already queued without going back to `select!`.
                    while self.batch.len() < self.batch_size {
                        match self.data.try_recv() {
                            Ok(queued) => self.take(queued),
                            Err(_) => break,
                        }
                    }
                    if self.batch.len() >= self.batch_size {
                        while self.batch.len() < self.max_batch {
                            match self.data.try_recv() {
                                Ok(queued) => self.take(queued),
                                Err(_) => break,
                            }
                        }
                        self.write();
                        deadline = None;
                    }
                }
                Some(Err(_)) | None => {
                    self.drain_for_shutdown();
                    return;
                }
            }
        }
    }

    fn take(&mut self, queued: Queued) {
        self.batch.push(queued.span);
        self.batch_bytes += queued.bytes;
    }

    fn push(&mut self, queued: Queued) {
        self.take(queued);
        if self.batch.len() >= self.max_batch {
            self.write();
        }
    }

    /// Takes everything, including spans from appends still in progress, then writes it.
    fn drain_for_shutdown(&mut self) {
        self.shared.state.fetch_or(CLOSED, Ordering::AcqRel);
        loop {
            while let Ok(span) = self.data.try_recv() {
                self.push(span);
            }
            if self.shared.state.load(Ordering::Acquire) & !CLOSED == 0 && self.data.is_empty() {
                break;
            }
            // An append may be waiting for bytes that only writing the batch gives back.
            self.write();
            // An append that passed the closed check is about to send (or is blocked on a full
            // queue, which the loop above empties).
            std::thread::yield_now();
        }
        self.write();
    }

    /// Hands the batch to every storage; a failure of one is logged (rate-limited) and
    /// counted, and the batch's spans are counted as failed rather than written.
    fn write(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let spans = self.batch.len() as u64;
        let mut failure = None;
        for storage in &self.storages {
            if let Err(error) = store(storage.as_ref(), &self.batch) {
                self.shared.failed_writes.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = self.throttle.admit(Instant::now()) {
                    tracing::warn!(error = %error, spans, suppressed_warnings = suppressed, "a span storage failed; the other storages still got the batch");
                }
                failure = Some(error.to_string());
            }
        }
        match failure {
            None => self.shared.written.fetch_add(spans, Ordering::Relaxed),
            Some(error) => {
                let unreported = self.unreported.get_or_insert((0, String::new()));
                unreported.0 += spans;
                unreported.1 = error;
                self.shared.failed_spans.fetch_add(spans, Ordering::Relaxed)
            }
        };
        self.batch.clear();
        self.shared
            .bytes
            .give_back(std::mem::take(&mut self.batch_bytes));
    }

    /// Answers a flush or shutdown: `Ok`, or the spans that failed since the last answer.
    fn answer(&mut self, reply: Reply) {
        let result = match self.unreported.take() {
            None => Ok(()),
            Some((spans, last_error)) => Err(SpanStorageError::NotStored { spans, last_error }),
        };
        let _ = reply.send(result);
    }
}

/// Hands `spans` to `storage`, turning a panic into an error.
pub(crate) fn store(storage: &dyn SpanStorage, spans: &[Span]) -> Result<(), SpanStorageError> {
    match catch_unwind(AssertUnwindSafe(|| storage.append_spans(spans))) {
        Ok(result) => result,
        Err(panic) => Err(SpanStorageError::Panicked(panic_message(&panic))),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
