//! The storage trait and the in-memory storage.

use crate::{Span, SpanStorageError};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Somewhere spans can be put: a file, memory, a collector.
///
/// Implementations are called from the container's flush thread, one batch at a time, and
/// must be safe to share between threads.
pub trait SpanStorage: Send + Sync {
    /// Stores one span.
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError>;

    /// Stores a batch of spans, in order. The default stores them one by one; storages that
    /// can do better (one write for the whole batch) override it.
    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        spans.iter().try_for_each(|span| self.append_span(span))
    }
}

/// Spans kept in a list in memory; for tests and for small tools.
#[derive(Debug, Default)]
pub struct MemorySpanStorage {
    spans: Mutex<Vec<Span>>,
}

impl MemorySpanStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Span>> {
        // A panic while holding the lock cannot leave a Vec half-pushed; keep going.
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of every span stored so far, in order.
    pub fn spans(&self) -> Vec<Span> {
        self.lock().clone()
    }

    /// How many spans are stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Takes every stored span out, leaving the storage empty.
    pub fn take(&self) -> Vec<Span> {
        std::mem::take(&mut *self.lock())
    }
}

impl SpanStorage for MemorySpanStorage {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        self.lock().push(span.clone());
        Ok(())
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        self.lock().extend_from_slice(spans);
        Ok(())
    }
}
