//! Lossless, bounded, batched span storage, in DB-GPT's JSON-lines format.
//!
//! A service records [`Span`]s (directly, or from `tracing` spans through [`SpanLayer`]) and
//! appends them to a [`SpanStorageContainer`]: a bounded queue in front of one dedicated flush
//! thread that writes batches to every attached [`SpanStorage`] — a [`FileSpanStorage`]
//! (JSON lines with a daily rollover, readable by DB-GPT's `dbgpt trace`), a
//! [`MemorySpanStorage`], or, with the `otlp` feature, an `OtlpSpanStorage` that sends spans
//! to an OpenTelemetry collector. [`read_span_file`] reads the files back.
//!
//! Guarantees: the queue is bounded in spans and in bytes, and each span's metadata is cut to
//! [`MetadataLimits`] ([`FullPolicy`] says whether a full queue blocks or drops, and dropped
//! spans are counted); [`SpanStorageContainer::flush`] returns once every span queued before
//! it is in every storage, and fails if a storage failed to take some; shutdown (explicit or
//! on drop) writes everything queued before it; a failing storage does not stop the others,
//! and its spans are counted as failed, not written; a slow storage can be put behind a
//! [`DetachedSpanStorage`] so that it delays no other.
//!
//! This crate knows nothing of any particular service: it is a tracing back end any Rust
//! program can use.
//!
//! ```
//! use span_storage::{
//!     ContainerConfig, FileSpanStorage, Span, SpanStorageContainer, SpanType, read_span_file,
//! };
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("traces/dbgpt_webserver_tracer.jsonl");
//! let file = Arc::new(FileSpanStorage::open(&path)?);
//! let container = SpanStorageContainer::new(ContainerConfig::default(), vec![file])?;
//!
//! let root = Span::new_root(SpanType::Chat, "get_chat_instance")
//!     .with_metadata(serde_json::json!({"model": "glm-4-9b-chat"}));
//! container.append(root.clone()); // the start record
//! let child = Span::child_of(&root, SpanType::Run, "run_model");
//! container.append(child.end_record());
//! container.append(root.end_record());
//!
//! container.shutdown(Duration::from_secs(5))?;
//! let contents = read_span_file(&path)?;
//! assert_eq!(contents.spans.len(), 3);
//! assert_eq!(contents.spans[1].parent_span_id.as_deref(), Some(root.span_id.as_str()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clean;
mod clock;
mod container;
mod detached;
mod error;
mod file;
mod format;
mod layer;
mod limits;
#[cfg(feature = "otlp")]
mod otlp;
mod propagation;
pub mod query;
mod reader;
mod span;
mod storage;
mod throttle;

pub use clock::{Clock, DayBoundary, ManualClock, SystemClock};
pub use container::{ContainerConfig, FullPolicy, SpanCounts, SpanStorageContainer};
pub use detached::{DetachedConfig, DetachedSpanStorage};
pub use error::SpanStorageError;
pub use file::{FileSpanStorage, FileStorageConfig};
pub use format::{TIME_FORMAT, format_span_time, parse_span_time};
pub use layer::{
    OPERATION_NAME_FIELD, PARENT_SPAN_ID_FIELD, SPAN_TYPE_FIELD, SpanLayer, current_span_id,
};
pub use limits::{METADATA_TRUNCATED_KEY, MetadataLimits, TRUNCATION_MARKER};
#[cfg(feature = "otlp")]
pub use otlp::{OtlpConfig, OtlpSpanStorage, to_otlp_json};
pub use propagation::{TRACE_HEADER, parse_trace_header};
pub use reader::{BadLine, SpanFileContents, SpanFileReader, read_span_file};
pub use span::{Metadata, Span, SpanType, is_valid_span_id, new_span_id, new_trace_id};
pub use storage::{MemorySpanStorage, SpanStorage};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
