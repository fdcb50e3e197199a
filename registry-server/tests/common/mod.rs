//! Helpers shared by the router tests: a state over memory storage and a one-call client;
//! and the real binary through the test kit.
#![allow(dead_code, unreachable_pub)]

pub mod server;
pub mod webdriver;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use registry_core::{
    InMemoryStorage, InstanceStorage, ModelInstance, RegistryConfig, StorageModelRegistry,
};
use registry_server::{AppState, Auth, Registry, Tracer, app};
use serde_json::Value;
use tower::ServiceExt as _;

/// A registry over fresh in-memory storage.
pub fn registry() -> Arc<Registry> {
    let storage: Arc<dyn InstanceStorage> = Arc::new(InMemoryStorage::<ModelInstance>::new());
    Arc::new(StorageModelRegistry::with_config(
        storage,
        RegistryConfig::default(),
    ))
}

/// The router over `registry` with the given token (writes only) and body limit.
pub fn router(registry: &Arc<Registry>, token: Option<&str>, body_limit: usize) -> Router {
    let auth = Auth::new(token.map(str::to_owned), false);
    app(AppState::with_options(
        Arc::clone(registry),
        auth,
        Tracer::disabled(),
        body_limit,
    ))
}

/// An answer: status, headers and the body parsed as JSON (`Value::Null` if it is not JSON,
/// with the raw text kept).
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub text: String,
}

/// Sends one request through the router without a socket.
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_vec())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

/// Registers one instance through the router, as a worker's register call does.
pub async fn register(router: &Router, model: &str, host: &str, port: u16) -> Answer {
    let body = instance_body(model, host, port);
    call(router, "POST", "/api/controller/models", Some(&body), &[]).await
}

/// A worker's register body.
pub fn instance_body(model: &str, host: &str, port: u16) -> Vec<u8> {
    serde_json::json!({
        "model_name": model, "host": host, "port": port, "weight": 1.0,
        "check_healthy": true, "healthy": false, "enabled": true,
        "prompt_template": null, "last_heartbeat": null, "remove_from_registry": false,
    })
    .to_string()
    .into_bytes()
}

/// The field the first problem of a FastAPI-shaped error names (`detail[0].loc[1]`).
pub fn error_field(json: &Value) -> Option<&str> {
    json["detail"][0]["loc"][1].as_str()
}

/// What a FastAPI-shaped error says: its sentence, or its first problem's message; `None`
/// if the body is not such an error.
pub fn error_text(json: &Value) -> Option<&str> {
    json["detail"]
        .as_str()
        .or_else(|| json["detail"][0]["msg"].as_str())
}

/// A root and its child, each started and ended, as span-file lines.
pub fn trace_lines(root: &span_storage::Span, child: &span_storage::Span) -> Vec<String> {
    [
        root.clone(),
        child.clone(),
        child.end_record(),
        root.end_record(),
    ]
    .iter()
    .map(span_storage::Span::to_json_line)
    .collect()
}
