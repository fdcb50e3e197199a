//! The tracing layer and header propagation.

use span_storage::{
    ContainerConfig, MemorySpanStorage, Span, SpanLayer, SpanStorageContainer, SpanType,
    TRACE_HEADER, current_span_id, parse_trace_header,
};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;

fn setup() -> (Arc<MemorySpanStorage>, Arc<SpanStorageContainer>) {
    let memory = Arc::new(MemorySpanStorage::new());
    let container = Arc::new(
        SpanStorageContainer::new(ContainerConfig::default(), vec![memory.clone()])
            .expect("container"),
    );
    (memory, container)
}

fn traced<R>(container: &Arc<SpanStorageContainer>, f: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(SpanLayer::new(container.clone()));
    tracing::subscriber::with_default(subscriber, f)
}

fn find<'a>(spans: &'a [Span], name: &str, ended: bool) -> &'a Span {
    spans
        .iter()
        .find(|s| s.operation_name == name && s.end_time.is_some() == ended)
        .unwrap_or_else(|| panic!("no {name} record (ended: {ended})"))
}

#[test]
fn nested_spans_become_start_and_end_records_with_parent_links() {
    let (memory, container) = setup();
    traced(&container, || {
        let outer = tracing::info_span!(
            "dbgpt.model.controller.register_instance",
            model_name = "glm-4@llm",
            port = 8001_u64
        );
        let _o = outer.enter();
        let inner = tracing::info_span!("storage.upsert", ok = true, ratio = 0.5, signed = -3_i64);
        let _i = inner.enter();
    });
    container.flush().expect("flush");
    let spans = memory.spans();
    assert_eq!(spans.len(), 4);
    let outer_start = find(&spans, "dbgpt.model.controller.register_instance", false);
    let outer_end = find(&spans, "dbgpt.model.controller.register_instance", true);
    let inner_start = find(&spans, "storage.upsert", false);
    let inner_end = find(&spans, "storage.upsert", true);
    assert_eq!(outer_start.span_id, outer_end.span_id);
    assert!(outer_start.parent_span_id.is_none());
    assert_eq!(
        inner_start.parent_span_id.as_deref(),
        Some(outer_start.span_id.as_str())
    );
    assert_eq!(inner_start.trace_id, outer_start.trace_id);
    assert_eq!(inner_end.span_id, inner_start.span_id);
    let meta = outer_start.metadata.as_ref().expect("metadata");
    assert_eq!(meta["model_name"], "glm-4@llm");
    assert_eq!(meta["port"], 8001);
    let meta = inner_start.metadata.as_ref().expect("metadata");
    assert_eq!(meta["ok"], true);
    assert_eq!(meta["ratio"], 0.5);
    assert_eq!(meta["signed"], -3);
    // The start record is written when the span opens, the end record when it closes.
    let pos = |s: &Span| spans.iter().position(|x| x == s).expect("present");
    assert!(pos(outer_start) < pos(inner_start) && pos(inner_end) < pos(outer_end));
}

#[test]
fn recorded_fields_and_special_fields() {
    let (memory, container) = setup();
    traced(&container, || {
        let span = tracing::info_span!(
            "handler",
            span_type = "chat",
            operation_name = "get_chat_instance",
            status = tracing::field::Empty
        );
        span.record("status", 200_u64);
    });
    container.flush().expect("flush");
    let spans = memory.spans();
    let start = find(&spans, "get_chat_instance", false);
    let end = find(&spans, "get_chat_instance", true);
    assert_eq!(start.span_type, SpanType::Chat);
    assert!(
        start.metadata.is_none(),
        "special fields are not metadata: {:?}",
        start.metadata
    );
    assert_eq!(end.metadata.as_ref().expect("metadata")["status"], 200);
}

#[test]
fn a_remote_parent_from_the_header_continues_the_callers_trace() {
    let (memory, container) = setup();
    let caller = Span::new_root(SpanType::Base, "caller");
    let header = caller.span_id.clone();
    traced(&container, || {
        let parent = parse_trace_header(&header);
        let span = tracing::info_span!("request", parent_span_id = parent);
        let _e = span.enter();
        // The id to send on as the header of an outgoing call.
        let current = current_span_id().expect("current span id");
        assert!(parse_trace_header(&current).is_some());
        assert!(current.starts_with(&caller.trace_id));
        let bad = tracing::info_span!(parent: None, "other", parent_span_id = "not-an-id");
        drop(bad);
    });
    container.flush().expect("flush");
    let spans = memory.spans();
    let request = find(&spans, "request", false);
    assert_eq!(request.trace_id, caller.trace_id);
    assert_eq!(request.parent_span_id.as_deref(), Some(header.as_str()));
    let other = find(&spans, "other", false);
    assert!(other.parent_span_id.is_none());
    assert_ne!(other.trace_id, caller.trace_id);
    assert_eq!(TRACE_HEADER, "DB-GPT-Trace-Span-Id");
}

#[test]
fn current_span_id_is_none_outside_spans() {
    let (_memory, container) = setup();
    traced(&container, || assert!(current_span_id().is_none()));
}

#[test]
fn start_records_can_be_turned_off() {
    let (memory, container) = setup();
    let subscriber = tracing_subscriber::registry()
        .with(SpanLayer::new(container.clone()).with_start_records(false));
    tracing::subscriber::with_default(subscriber, || {
        let _s = tracing::info_span!("only.end").entered();
    });
    container.flush().expect("flush");
    let spans = memory.spans();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].end_time.is_some());
}

#[test]
fn a_per_layer_filter_keeps_only_the_wanted_spans() {
    use tracing_subscriber::Layer;
    let (memory, container) = setup();
    let layer =
        SpanLayer::new(container.clone()).with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.name().starts_with("wanted")
        }));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _a = tracing::info_span!("wanted.outer").entered();
        let _b = tracing::info_span!("library.internal").entered();
        let _c = tracing::info_span!("wanted.inner").entered();
    });
    container.flush().expect("flush");
    let spans = memory.spans();
    assert_eq!(spans.len(), 4);
    let outer = find(&spans, "wanted.outer", false);
    let inner = find(&spans, "wanted.inner", false);
    // The filtered-out span in between is skipped: the inner span hangs off the outer one.
    assert_eq!(
        inner.parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
}
