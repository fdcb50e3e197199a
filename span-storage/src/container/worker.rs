//! The flush thread: takes spans off the queue and hands batches to the storages.

use super::{CLOSED, Control, Shared};
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
    pub(super) data: Receiver<Span>,
    pub(super) control: Receiver<Control>,
    pub(super) storages: Vec<Arc<dyn SpanStorage>>,
    pub(super) shared: Arc<Shared>,
    pub(super) batch_size: usize,
    pub(super) max_batch: usize,
    pub(super) flush_interval: Duration,
    pub(super) batch: Vec<Span>,
}

impl Worker {
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
                        let _ = reply.send(());
                    }
                    Ok(Control::Shutdown(reply)) => {
                        self.drain_for_shutdown();
                        let _ = reply.send(());
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
                Some(Ok(span)) => {
                    if self.batch.is_empty() {
                        deadline = Some(Instant::now() + self.flush_interval);
                    }
                    self.batch.push(span);
                    // Take what is already queued without going back to `select!`.
                    while self.batch.len() < self.batch_size {
                        match self.data.try_recv() {
                            Ok(span) => self.batch.push(span),
                            Err(_) => break,
                        }
                    }
                    if self.batch.len() >= self.batch_size {
                        while self.batch.len() < self.max_batch {
                            match self.data.try_recv() {
                                Ok(span) => self.batch.push(span),
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

    fn push(&mut self, span: Span) {
        self.batch.push(span);
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
            // An append that passed the closed check is about to send (or is blocked on a full
            // queue, which the loop above empties).
            std::thread::yield_now();
        }
        self.write();
    }

    /// Hands the batch to every storage; a failure of one is logged and counted.
    fn write(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        for storage in &self.storages {
            let result = catch_unwind(AssertUnwindSafe(|| storage.append_spans(&self.batch)));
            let error = match result {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(panic) => SpanStorageError::Panicked(panic_message(&panic)),
            };
            self.shared.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %error, spans = self.batch.len(), "a span storage failed; the other storages still got the batch");
        }
        self.shared
            .written
            .fetch_add(self.batch.len() as u64, Ordering::Relaxed);
        self.batch.clear();
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
