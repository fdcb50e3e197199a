//! A bounded window of recent spans: records merged into spans as [`merge_records`] does, the
//! oldest evicted first once the window holds too many spans or too many bytes.
//!
//! [`merge_records`]: super::merge_records

use super::load::merge_record;
use crate::{MetadataLimits, Span};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// The bounds of the window of recent spans a [`SpanTail`](super::SpanTail) keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowLimits {
    /// The most spans kept (default 100,000); a span's start and end records count once.
    pub max_spans: usize,
    /// The most bytes kept, each span counted at about the size of its JSON line (default
    /// 32 MiB; the heap the spans take is up to about twice that). It is also how many bytes
    /// of files seen for the first time are read, from their ends, newest file first.
    pub max_bytes: usize,
    /// The bounds each span's metadata is cut to when it is read (default: those of
    /// [`MetadataLimits::default`]), so one huge span cannot fill the window.
    pub metadata: MetadataLimits,
}

impl Default for WindowLimits {
    fn default() -> Self {
        Self {
            max_spans: 100_000,
            max_bytes: 32 << 20,
            metadata: MetadataLimits::default(),
        }
    }
}

impl WindowLimits {
    /// Sets `max_spans`.
    pub fn with_max_spans(mut self, max_spans: usize) -> Self {
        self.max_spans = max_spans;
        self
    }

    /// Sets `max_bytes`.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets `metadata`.
    pub fn with_metadata(mut self, metadata: MetadataLimits) -> Self {
        self.metadata = metadata;
        self
    }
}

struct Slot {
    /// Shared with the snapshots handed out; a merge copies it only while one holds it.
    span: Arc<Span>,
    has_start: bool,
    bytes: usize,
}

/// Spans in the order their first record was read, with an index by (trace id, span id).
pub(crate) struct SpanWindow {
    limits: WindowLimits,
    slots: VecDeque<Slot>,
    /// The sequence number of each span in the window; `slots[seq - first_seq]` is the span.
    index: HashMap<(String, String), u64>,
    first_seq: u64,
    bytes: usize,
    evicted: u64,
}

impl SpanWindow {
    pub(crate) fn new(limits: WindowLimits) -> Self {
        Self {
            limits,
            slots: VecDeque::new(),
            index: HashMap::new(),
            first_seq: 0,
            bytes: 0,
            evicted: 0,
        }
    }

    pub(crate) fn limits(&self) -> WindowLimits {
        self.limits
    }

    /// Adds one record: merged into its span if the span is in the window, a new span at the
    /// end otherwise; then evicts the oldest spans beyond the bounds.
    pub(crate) fn insert(&mut self, mut record: Span) {
        let key = (record.trace_id.clone(), record.span_id.clone());
        if let Some(&seq) = self.index.get(&key) {
            let slot = &mut self.slots[(seq - self.first_seq) as usize];
            let span = Arc::make_mut(&mut slot.span);
            merge_record(span, &mut slot.has_start, record);
            // The merged metadata may exceed the bounds again; cutting is idempotent.
            let bytes = self.limits.metadata.apply(span) + key_bytes(&key);
            self.bytes = self.bytes - slot.bytes + bytes;
            slot.bytes = bytes;
        } else {
            let bytes = self.limits.metadata.apply(&mut record) + key_bytes(&key);
            let has_start = record.is_start_record();
            self.index
                .insert(key, self.first_seq + self.slots.len() as u64);
            self.slots.push_back(Slot {
                span: Arc::new(record),
                has_start,
                bytes,
            });
            self.bytes += bytes;
        }
        self.evict();
    }

    fn evict(&mut self) {
        while self.slots.len() > self.limits.max_spans
            || (self.bytes > self.limits.max_bytes && !self.slots.is_empty())
        {
            let Some(oldest) = self.slots.pop_front() else {
                break;
            };
            let key = (oldest.span.trace_id.clone(), oldest.span.span_id.clone());
            self.index.remove(&key);
            self.first_seq += 1;
            self.bytes -= oldest.bytes;
            self.evicted += 1;
        }
    }

    /// The spans, oldest first, shared with the window.
    pub(crate) fn shared(&self) -> Vec<Arc<Span>> {
        self.slots
            .iter()
            .map(|slot| Arc::clone(&slot.span))
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// The index's copy of the ids.
fn key_bytes(key: &(String, String)) -> usize {
    key.0.len() + key.1.len()
}
