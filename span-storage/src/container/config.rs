//! The container's configuration.

use crate::MetadataLimits;
use std::time::Duration;

/// What [`SpanStorageContainer::append`](crate::SpanStorageContainer::append) does when the
/// queue is full (of spans or of bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Wait for room: nothing is ever dropped, but a stalled storage stalls the callers
    /// (the default, as DB-GPT never drops a span).
    #[default]
    Block,
    /// Drop the span and count it
    /// ([`SpanStorageContainer::dropped_count`](crate::SpanStorageContainer::dropped_count)):
    /// callers never wait.
    Drop,
}

/// The configuration of a [`SpanStorageContainer`](crate::SpanStorageContainer): start from
/// `Default` and change what you need with the `with_*` methods.
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
    /// (about 180 bytes a span), and at the flush thread's pace this absorbs a stall of the
    /// storages of tens of milliseconds at full load.
    pub capacity: usize,
    /// How many bytes the spans queued and being written may take together (default 16 MiB),
    /// counted as [`MetadataLimits::apply`] sizes them. A span that does not fit is handled
    /// by `full_policy`, as when the queue is full; one bigger than the whole budget is always
    /// dropped.
    pub max_queued_bytes: usize,
    /// The bounds every span's metadata is cut to before it is queued (default: strings 1 KiB,
    /// the whole metadata 16 KiB).
    pub metadata_limits: MetadataLimits,
    /// What to do when the queue is full (default [`FullPolicy::Block`]).
    pub full_policy: FullPolicy,
    /// How long dropping the container waits for the final flush (default 10 s).
    pub drop_timeout: Duration,
    /// After the first warning about a failing storage, at most one more per this interval,
    /// with the number held back (default 60 s).
    pub warning_interval: Duration,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            flush_interval: Duration::from_secs(10),
            capacity: 16_384,
            max_queued_bytes: 16 << 20,
            metadata_limits: MetadataLimits::default(),
            full_policy: FullPolicy::Block,
            drop_timeout: Duration::from_secs(10),
            warning_interval: Duration::from_secs(60),
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

    /// Sets `max_queued_bytes`.
    pub fn with_max_queued_bytes(mut self, max_queued_bytes: usize) -> Self {
        self.max_queued_bytes = max_queued_bytes;
        self
    }

    /// Sets `metadata_limits`.
    pub fn with_metadata_limits(mut self, metadata_limits: MetadataLimits) -> Self {
        self.metadata_limits = metadata_limits;
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

    /// Sets `warning_interval`.
    pub fn with_warning_interval(mut self, warning_interval: Duration) -> Self {
        self.warning_interval = warning_interval;
        self
    }
}
