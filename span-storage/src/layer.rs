//! A `tracing-subscriber` layer that records `tracing` spans as our spans.

use crate::{Metadata, Span, SpanStorageContainer, SpanType, parse_trace_header};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// A span field naming a remote parent span, e.g. the value of an incoming
/// [`TRACE_HEADER`](crate::TRACE_HEADER). Invalid values are ignored.
pub const PARENT_SPAN_ID_FIELD: &str = "parent_span_id";
/// A span field giving the [`SpanType`] (`"base"`, `"run"`, `"chat"`, `"agent"`).
pub const SPAN_TYPE_FIELD: &str = "span_type";
/// A span field overriding the operation name (which is otherwise the `tracing` span's name).
pub const OPERATION_NAME_FIELD: &str = "operation_name";

/// Turns every `tracing` span into a start record when it is created and an end record when it
/// closes, appended to a [`SpanStorageContainer`].
///
/// - The parent is the enclosing `tracing` span, or the span named by a
///   [`PARENT_SPAN_ID_FIELD`] field (which wins), so a request handler can continue the trace
///   of its caller; without either the span starts a new trace.
/// - The span's other fields become its metadata; fields recorded later
///   (`Span::record`) appear in the end record.
/// - Events are ignored.
/// - Every span the layer sees is recorded, libraries' too; a per-layer filter
///   (`tracing_subscriber::Layer::with_filter`) keeps only the ones wanted.
///
/// ```
/// use span_storage::{ContainerConfig, MemorySpanStorage, SpanLayer, SpanStorageContainer};
/// use std::sync::Arc;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let memory = Arc::new(MemorySpanStorage::new());
/// let container = Arc::new(SpanStorageContainer::new(ContainerConfig::default(), vec![memory.clone()])?);
/// let subscriber = tracing_subscriber::registry().with(SpanLayer::new(container.clone()));
/// tracing::subscriber::with_default(subscriber, || {
///     let _outer = tracing::info_span!("dbgpt.model.controller.register_instance", model = "glm-4@llm").entered();
/// });
/// container.flush()?;
/// assert_eq!(memory.len(), 2); // a start record and an end record
/// # Ok::<(), span_storage::SpanStorageError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpanLayer {
    container: Arc<SpanStorageContainer>,
    start_records: bool,
}

impl SpanLayer {
    /// A layer appending into `container`.
    pub fn new(container: Arc<SpanStorageContainer>) -> Self {
        Self {
            container,
            start_records: true,
        }
    }

    /// Whether to write a start record when a span opens (default `true`, as DB-GPT, whose
    /// `dbgpt trace tree` relies on them). Without them only end records are written.
    pub fn with_start_records(mut self, start_records: bool) -> Self {
        self.start_records = start_records;
        self
    }
}

/// Our span, kept in the `tracing` span's extensions while it is open.
struct Recorded(Span);

impl<S> Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let parent = fields.parent_span_id.take().or_else(|| {
            span.parent().and_then(|p| {
                p.extensions()
                    .get::<Recorded>()
                    .map(|r| r.0.span_id.clone())
            })
        });
        let span_type = fields.span_type.unwrap_or_default();
        let name = fields
            .operation_name
            .take()
            .unwrap_or_else(|| attrs.metadata().name().to_owned());
        // A header-given parent passed DB-GPT's rule already; a recorded one is ours.
        let mut record = Span::from_header(parent.as_deref(), span_type, name);
        if !fields.metadata.is_empty() {
            record.metadata = Some(fields.metadata);
        }
        if self.start_records {
            self.container.append(record.clone());
        }
        span.extensions_mut().insert(Recorded(record));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(Recorded(record)) = extensions.get_mut::<Recorded>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(t) = fields.span_type {
            record.span_type = t;
        }
        if let Some(name) = fields.operation_name {
            record.operation_name = name;
        }
        if !fields.metadata.is_empty() {
            record
                .metadata
                .get_or_insert_with(Metadata::new)
                .extend(fields.metadata);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(Recorded(mut record)) = span.extensions_mut().remove::<Recorded>() else {
            return;
        };
        record.end();
        self.container.append(record);
    }
}

/// The span id of the current `tracing` span as recorded by a [`SpanLayer`], to send as the
/// [`TRACE_HEADER`](crate::TRACE_HEADER) of an outgoing request. `None` outside any span, or
/// when the current subscriber is not built on `tracing_subscriber::Registry`.
pub fn current_span_id() -> Option<String> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let span = registry.span(id)?;
            let extensions = span.extensions();
            extensions.get::<Recorded>().map(|r| r.0.span_id.clone())
        })
        .flatten()
}

/// Collects a span's fields: the special ones apart, the rest as JSON metadata.
#[derive(Default)]
struct Fields {
    parent_span_id: Option<String>,
    span_type: Option<SpanType>,
    operation_name: Option<String>,
    metadata: Metadata,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        self.metadata.insert(field.name().to_owned(), value);
    }

    fn special(&mut self, field: &Field, value: &str) -> bool {
        match field.name() {
            PARENT_SPAN_ID_FIELD => {
                self.parent_span_id = parse_trace_header(value).map(str::to_owned);
                true
            }
            SPAN_TYPE_FIELD => match SpanType::parse(value) {
                Some(t) => {
                    self.span_type = Some(t);
                    true
                }
                None => false,
            },
            OPERATION_NAME_FIELD => {
                self.operation_name = Some(value.to_owned());
                true
            }
            _ => false,
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.special(field, value) {
            self.put(field, Value::from(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if !self.special(field, &text) {
            self.put(field, Value::from(text));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
}
