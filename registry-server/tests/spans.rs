//! Requests become spans as DB-GPT's controller makes them.

mod common;

use std::sync::Arc;

use common::{call, instance_body, registry};
use registry_server::{AppState, Auth, DEFAULT_BODY_LIMIT, Tracer, app};
use span_storage::{ContainerConfig, MemorySpanStorage, Span, SpanStorage, SpanStorageContainer};

const PARENT: &str = "0123456789abcdef0123456789abcdef:0123456789abcdef";

fn traced() -> (
    axum::Router,
    Arc<SpanStorageContainer>,
    Arc<MemorySpanStorage>,
) {
    let memory = Arc::new(MemorySpanStorage::new());
    let storages: Vec<Arc<dyn SpanStorage>> = vec![memory.clone()];
    let container =
        Arc::new(SpanStorageContainer::new(ContainerConfig::default(), storages).unwrap());
    let state = AppState::with_options(
        registry(),
        Auth::open(),
        Tracer::new(Arc::clone(&container)),
        DEFAULT_BODY_LIMIT,
    );
    (app(state), container, memory)
}

fn ended(spans: &[Span], operation: &str) -> Vec<Span> {
    spans
        .iter()
        .filter(|s| s.operation_name == operation && s.end_time.is_some())
        .cloned()
        .collect()
}

#[tokio::test]
async fn register_is_a_child_span_of_the_request_span_whose_parent_is_the_header() {
    let (app, container, memory) = traced();
    let body = instance_body("m@llm", "h", 1);
    call(
        &app,
        "POST",
        "/api/controller/models",
        Some(&body),
        &[("DB-GPT-Trace-Span-Id", PARENT)],
    )
    .await;
    container.flush().unwrap();
    let spans = memory.spans();
    assert_eq!(
        spans.len(),
        4,
        "a start and an end record for each of two spans: {spans:?}"
    );
    let request = ended(&spans, "DB-GPT-ModelController");
    let register = ended(&spans, "dbgpt.model.controller.register_instance");
    assert_eq!((request.len(), register.len()), (1, 1));
    assert_eq!(request[0].parent_span_id.as_deref(), Some(PARENT));
    assert_eq!(request[0].trace_id, PARENT.split(':').next().unwrap());
    assert_eq!(
        register[0].parent_span_id.as_deref(),
        Some(request[0].span_id.as_str())
    );
    let metadata = register[0].metadata.as_ref().unwrap();
    assert_eq!(metadata["model_name"], "m@llm");
    assert_eq!(metadata["port"], 1);
    assert_eq!(
        request[0].metadata.as_ref().unwrap()["path"],
        "/api/controller/models"
    );
}

#[tokio::test]
async fn deregister_uses_dbgpts_operation_name_and_a_request_without_header_starts_a_trace() {
    let (app, container, memory) = traced();
    call(
        &app,
        "DELETE",
        "/api/controller/models?model_name=m&host=h&port=1",
        None,
        &[],
    )
    .await;
    container.flush().unwrap();
    let spans = memory.spans();
    let request = ended(&spans, "DB-GPT-ModelController");
    let deregister = ended(&spans, "dbgpt.model.controller.deregister_instance");
    assert_eq!((request.len(), deregister.len()), (1, 1));
    assert_eq!(request[0].parent_span_id, None);
    assert_eq!(
        deregister[0].metadata.as_ref().unwrap()["remove_from_registry"],
        false
    );
}

#[tokio::test]
async fn only_api_paths_are_traced_and_not_heartbeats_health_or_our_own_endpoints() {
    let (app, container, memory) = traced();
    call(
        &app,
        "POST",
        "/api/controller/heartbeat",
        Some(&instance_body("m", "h", 1)),
        &[],
    )
    .await;
    for path in [
        "/api/health",
        "/v1/models",
        "/metrics",
        "/api/traces",
        "/nope",
    ] {
        call(&app, "GET", path, None, &[]).await;
    }
    container.flush().unwrap();
    assert!(memory.is_empty(), "{:?}", memory.spans());
    call(
        &app,
        "GET",
        "/api/controller/models",
        None,
        &[("DB-GPT-Trace-Span-Id", "garbage")],
    )
    .await;
    // DB-GPT traces an `/api` path it does not serve, its path percent-decoded.
    let unknown = call(&app, "GET", "/api/no%20such", None, &[]).await;
    assert_eq!(unknown.status, 404);
    container.flush().unwrap();
    let spans = memory.spans();
    let requests = ended(&spans, "DB-GPT-ModelController");
    assert_eq!(requests.len(), 2);
    assert!(
        spans.iter().all(|s| s.parent_span_id.is_none()),
        "an invalid header starts a new trace"
    );
    let paths: Vec<_> = requests
        .iter()
        .map(|s| serde_json::Value::Object(s.metadata.clone().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            serde_json::json!({"path": "/api/controller/models"}),
            serde_json::json!({"path": "/api/no such"})
        ],
        "the request span's metadata is the path alone"
    );
}

#[tokio::test]
async fn the_header_is_read_as_dbgpt_reads_it_short_hex_attaches_and_uuids_do_not() {
    let (app, container, memory) = traced();
    let uuids = "1c4c2b36-7bb5-4a3a-9a3d-6a1f2f0b8e11:2b8f6e0a-3c1d-4e5f-8a9b-0c1d2e3f4a5b";
    for header in ["abc:def", uuids] {
        call(
            &app,
            "GET",
            "/api/controller/models",
            None,
            &[("DB-GPT-Trace-Span-Id", header)],
        )
        .await;
    }
    container.flush().unwrap();
    let requests = ended(&memory.spans(), "DB-GPT-ModelController");
    assert_eq!(requests[0].parent_span_id.as_deref(), Some("abc:def"));
    assert_eq!(requests[0].trace_id, "abc");
    assert_eq!(requests[1].parent_span_id, None);
    assert_eq!(requests[1].trace_id.len(), 32);
}

#[tokio::test]
async fn register_metadata_keeps_dbgpts_field_order_and_leaves_out_last_heartbeat() {
    let (app, container, memory) = traced();
    let body = instance_body("m@llm", "h", 1);
    call(&app, "POST", "/api/controller/models", Some(&body), &[]).await;
    container.flush().unwrap();
    let register = ended(&memory.spans(), "dbgpt.model.controller.register_instance");
    let line = register[0].to_json_line();
    let metadata = &line[line.find(r#""metadata": "#).unwrap()..];
    assert_eq!(
        metadata,
        r#""metadata": {"model_name": "m@llm", "host": "h", "port": 1, "weight": 1.0, "check_healthy": true, "healthy": false, "enabled": true, "remove_from_registry": false}}"#
    );
}

#[tokio::test]
async fn metrics_report_spans_written() {
    let (app, container, _memory) = traced();
    call(&app, "GET", "/api/controller/models", None, &[]).await;
    container.flush().unwrap();
    let metrics = call(&app, "GET", "/metrics", None, &[]).await;
    assert!(
        metrics.text.contains("registry_spans_written_total 2"),
        "{}",
        metrics.text
    );
}

/// `/dev/full` answers every write with `ENOSPC`: a real full disk.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn spans_a_full_disk_refuses_are_counted_as_failed_and_reported_at_shutdown() {
    let tracer = Tracer::to_file(
        std::path::Path::new("/dev/full"),
        1,
        std::time::Duration::from_secs(3600),
        100,
    )
    .unwrap();
    let state =
        AppState::with_options(registry(), Auth::open(), tracer.clone(), DEFAULT_BODY_LIMIT);
    let app = app(state);
    call(&app, "GET", "/api/controller/models", None, &[]).await;
    let error = tracer.shutdown().expect_err("the disk is full");
    assert!(error.to_string().contains("/dev/full"), "{error}");
    // The request's start and end records, neither counted as written.
    assert_eq!(tracer.failed(), 2);
    let metrics = call(&app, "GET", "/metrics", None, &[]).await;
    assert!(
        metrics.text.contains("registry_spans_failed_total 2"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("registry_spans_written_total 0"));
}
