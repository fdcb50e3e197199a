//! Request tracing into span storage, as DB-GPT's controller traces its requests.
//!
//! Every request but heartbeats and health checks opens a span named
//! [`REQUEST_OPERATION`], child of the span named by the `DB-GPT-Trace-Span-Id` header when
//! there is one; register and deregister open a child span with DB-GPT's operation names.
//! Each span is written twice, a start record when it opens and an end record when it closes,
//! as DB-GPT writes them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use span_storage::query::{SharedSpanTail, WindowLimits};
use span_storage::{
    ContainerConfig, FileSpanStorage, FullPolicy, Span, SpanStorage, SpanStorageContainer,
    SpanStorageError, SpanType,
};

pub use span_storage::TRACE_HEADER;

/// The operation name of the span around each traced request (DB-GPT's controller's).
pub const REQUEST_OPERATION: &str = "DB-GPT-ModelController";
/// The operation name of a registration span.
pub const REGISTER_OPERATION: &str = "dbgpt.model.controller.register_instance";
/// The operation name of a deregistration span.
pub const DEREGISTER_OPERATION: &str = "dbgpt.model.controller.deregister_instance";

/// How long shutdown waits for the last spans to be written.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where spans go; [`Tracer::disabled`] drops them.
#[derive(Clone, Default)]
pub struct Tracer {
    container: Option<Arc<SpanStorageContainer>>,
    file: Option<PathBuf>,
    /// The recent spans of the span file's folder, read incrementally for the traces API.
    recent: Option<Arc<SharedSpanTail>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("container", &self.container)
            .finish()
    }
}

/// A span that has been opened and not yet closed.
#[derive(Debug, Clone)]
pub(crate) struct OpenSpan {
    span: Span,
}

impl OpenSpan {
    /// The span's id, the parent of the spans opened inside it.
    pub(crate) fn id(&self) -> &str {
        &self.span.span_id
    }
}

impl Tracer {
    /// A tracer that records nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A tracer appending to `container`.
    pub fn new(container: Arc<SpanStorageContainer>) -> Self {
        Self {
            container: Some(container),
            file: None,
            recent: None,
        }
    }

    /// A tracer writing JSON lines to `path` (its folders created), through a bounded queue
    /// that drops (and counts) spans rather than make requests wait when it is full.
    pub fn to_file(
        path: &Path,
        batch_size: usize,
        flush_interval: Duration,
        capacity: usize,
    ) -> Result<Self, SpanStorageError> {
        let file: Arc<dyn SpanStorage> = Arc::new(FileSpanStorage::open(path)?);
        let config = ContainerConfig::default()
            .with_batch_size(batch_size)
            .with_flush_interval(flush_interval)
            .with_capacity(capacity)
            .with_full_policy(FullPolicy::Drop);
        let mut tracer = Self::new(Arc::new(SpanStorageContainer::new(config, vec![file])?));
        tracer.file = Some(path.to_path_buf());
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        tracer.recent = Some(Arc::new(SharedSpanTail::new(
            folder,
            WindowLimits::default(),
        )));
        Ok(tracer)
    }

    /// The recent spans of every span file in the folder of [`Tracer::span_file`] (its rolled
    /// files included), read incrementally into a bounded window: what the traces API serves.
    /// `None` when this tracer writes no file.
    pub fn recent_spans(&self) -> Option<&Arc<SharedSpanTail>> {
        self.recent.as_ref()
    }

    /// The span file this tracer writes, if it writes one; its daily rolled files are beside it.
    pub fn span_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Opens a span, child of the span id `parent` when it is a valid one, and queues its
    /// start record; `None` when tracing is off, in which case `metadata` is never built.
    pub(crate) fn open(
        &self,
        operation: &str,
        parent: Option<&str>,
        metadata: impl FnOnce() -> Value,
    ) -> Option<OpenSpan> {
        let container = self.container.as_ref()?;
        let span = Span::from_header(parent, SpanType::Base, operation).with_metadata(metadata());
        container.append(span.clone());
        Some(OpenSpan { span })
    }

    /// Closes a span: queues its end record.
    pub(crate) fn close(&self, open: OpenSpan) {
        if let Some(container) = &self.container {
            container.append(open.span.end_record());
        }
    }

    /// Spans every storage took so far and spans dropped because the queue was full (see
    /// [`Tracer::failed`] for the spans a storage failed to take).
    pub(crate) fn counts(&self) -> (u64, u64) {
        self.container
            .as_ref()
            .map_or((0, 0), |c| (c.written_count(), c.dropped_count()))
    }

    /// Spans the span file failed to take (a full disk, say): counted neither as written nor
    /// as dropped, and logged at most once a minute.
    pub fn failed(&self) -> u64 {
        self.container.as_ref().map_or(0, |c| c.failed_count())
    }

    /// Writes every queued span and stops the writer; spans opened later are dropped. Blocks
    /// until the spans are written (at most 10 s).
    pub fn shutdown(&self) -> Result<(), SpanStorageError> {
        match &self.container {
            Some(container) => container.shutdown(SHUTDOWN_TIMEOUT),
            None => Ok(()),
        }
    }
}

/// The span around the current request, for handlers to open child spans in; the middleware
/// puts it in the request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpan(Option<OpenSpan>);

impl RequestSpan {
    pub(crate) fn new(span: Option<OpenSpan>) -> Self {
        Self(span)
    }

    /// The request span's id, if the request is traced.
    pub(crate) fn id(&self) -> Option<&str> {
        self.0.as_ref().map(OpenSpan::id)
    }
}
