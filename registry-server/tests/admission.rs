//! What a request must pass before it costs a handler or a span: a declared body within the
//! limit, the token (Bearer or Basic), a browser write from its own origin, a JSON content
//! type, and clean text.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use common::{call, instance_body, registry};
use registry_server::{AppState, Auth, RequestPolicy, Tracer, app};
use span_storage::{ContainerConfig, MemorySpanStorage, SpanStorage, SpanStorageContainer};
use tower::ServiceExt as _;

const TOKEN: &str = "s3cret";

struct Traced {
    router: axum::Router,
    container: Arc<SpanStorageContainer>,
    memory: Arc<MemorySpanStorage>,
}

fn traced(token: Option<&str>) -> Traced {
    let memory = Arc::new(MemorySpanStorage::new());
    let storages: Vec<Arc<dyn SpanStorage>> = vec![memory.clone()];
    let container =
        Arc::new(SpanStorageContainer::new(ContainerConfig::default(), storages).unwrap());
    let state = AppState::with_policy(
        registry(),
        Auth::new(token.map(str::to_owned), false),
        Tracer::new(Arc::clone(&container)),
        RequestPolicy::default(),
    );
    Traced {
        router: app(state),
        container,
        memory,
    }
}

impl Traced {
    fn spans_written(&self) -> usize {
        self.container.flush().unwrap();
        self.memory.spans().len()
    }
}

/// A request that declares a body larger than the limit and sends none.
async fn declared_too_large(router: &axum::Router, method: &str, uri: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-length", "100000000")
        .header("content-type", "application/json")
        .body(Body::empty())
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_on_every_route() {
    let traced = traced(None);
    for (method, uri) in [
        ("POST", "/api/controller/models"),
        ("POST", "/api/controller/heartbeat"),
        ("POST", "/api/controller/models/settings"),
        (
            "DELETE",
            "/api/controller/models?model_name=m&host=h&port=1",
        ),
        ("GET", "/api/controller/models"),
        ("GET", "/api/health"),
        ("GET", "/metrics"),
        ("POST", "/no/such/route"),
    ] {
        assert_eq!(
            declared_too_large(&traced.router, method, uri).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {uri}"
        );
    }
    assert_eq!(traced.spans_written(), 0, "a refused request costs no span");
}

#[tokio::test]
async fn requests_refused_before_a_handler_cost_no_span() {
    let traced = traced(Some(TOKEN));
    let body = instance_body("m", "h", 1);
    let long_path = format!("/{}", "a".repeat(60_000));
    let unauthorized = call(
        &traced.router,
        "POST",
        "/api/controller/models",
        Some(&body),
        &[],
    );
    assert_eq!(unauthorized.await.status, 401);
    assert_eq!(
        call(&traced.router, "GET", &long_path, None, &[])
            .await
            .status,
        404
    );
    let wrong_method = call(&traced.router, "PUT", "/api/controller/models", None, &[]);
    assert_eq!(wrong_method.await.status, 405);
    assert_eq!(traced.spans_written(), 0);
}

#[tokio::test]
async fn an_unserved_api_path_is_traced_as_dbgpt_traces_it_when_it_carries_the_token() {
    let traced = traced(Some(TOKEN));
    let bearer = format!("Bearer {TOKEN}");
    let token = [("authorization", bearer.as_str())];
    let unknown = call(&traced.router, "GET", "/api/unknown", None, &token);
    assert_eq!(unknown.await.status, 404);
    // Outside `/api` DB-GPT traces nothing, token or not.
    let outside = call(&traced.router, "GET", "/unknown", None, &token);
    assert_eq!(outside.await.status, 404);
    assert_eq!(traced.spans_written(), 2, "a start and an end record");
}

#[tokio::test]
async fn a_traced_path_is_cut_to_a_bounded_length() {
    let traced = traced(None);
    // DB-GPT traces an `/api` path it does not serve; the path is recorded whole up to the
    // metadata bound of 1 KiB a string, then cut and marked.
    let uri = format!("/api/controller/{}", "a".repeat(5_000));
    call(&traced.router, "GET", &uri, None, &[]).await;
    traced.container.flush().unwrap();
    let spans = traced.memory.spans();
    assert!(!spans.is_empty(), "an /api path is traced");
    for span in spans {
        let path = span.metadata.as_ref().unwrap()["path"].as_str().unwrap();
        assert!(path.starts_with(&uri[..1_024]), "{path}");
        assert!(path.ends_with("[truncated 3992 bytes]"), "{path}");
        let metadata = serde_json::to_string(&span.metadata).unwrap();
        assert!(metadata.len() < 1_100, "{} bytes", metadata.len());
    }
}

#[tokio::test]
async fn the_token_is_accepted_as_bearer_or_as_a_basic_password() {
    let traced = traced(Some(TOKEN));
    let body = instance_body("m", "h", 1);
    let bearer = format!("Bearer {TOKEN}");
    for (authorization, status) in [
        (bearer.as_str(), 200),
        (&basic("registry", TOKEN), 200),
        (&basic("anyone", TOKEN), 200),
        (&basic("registry", "wrong"), 401),
        (&format!("Bearer {TOKEN} "), 401),
    ] {
        let answer = call(
            &traced.router,
            "POST",
            "/api/controller/models",
            Some(&body),
            &[("authorization", authorization)],
        )
        .await;
        assert_eq!(answer.status, status, "{authorization}");
    }
}

#[tokio::test]
async fn browser_writes_from_another_origin_are_refused() {
    let traced = traced(None);
    let body = instance_body("m", "h", 1);
    let cross_site = call(
        &traced.router,
        "POST",
        "/api/controller/models",
        Some(&body),
        &[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8000"),
        ],
    );
    assert_eq!(cross_site.await.status, 403);
    let same_site = call(
        &traced.router,
        "POST",
        "/api/controller/models",
        Some(&body),
        &[
            ("origin", "http://127.0.0.1:8000"),
            ("host", "127.0.0.1:8000"),
        ],
    );
    assert_eq!(same_site.await.status, 200);
}

#[tokio::test]
async fn writes_take_only_a_json_content_type_as_db_gpt_does() {
    let traced = traced(None);
    let body = instance_body("m", "h", 1);
    for (content_type, status) in [
        ("text/plain", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "application/x-www-form-urlencoded",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("application/json; charset=utf-8", StatusCode::OK),
    ] {
        let request = Request::builder()
            .method("POST")
            .uri("/api/controller/models")
            .header("content-type", content_type)
            .body(Body::from(body.clone()))
            .unwrap();
        let answer = traced.router.clone().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), status, "{content_type}");
    }
    let untyped = Request::builder()
        .method("POST")
        .uri("/api/controller/heartbeat")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(
        traced
            .router
            .clone()
            .oneshot(untyped)
            .await
            .unwrap()
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn control_characters_and_negative_weights_are_422_naming_the_field() {
    let traced = traced(None);
    let valid = serde_json::from_slice::<serde_json::Value>(&instance_body("m", "h", 1)).unwrap();
    for (field, value) in [
        ("model_name", serde_json::json!("m\u{0}")),
        ("host", serde_json::json!("h\u{1f}")),
        ("prompt_template", serde_json::json!("t\u{7f}")),
        ("weight", serde_json::json!(-5.0)),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        let answer = call(
            &traced.router,
            "POST",
            "/api/controller/models",
            Some(body.to_string().as_bytes()),
            &[],
        )
        .await;
        assert_eq!(answer.status, 422, "{field}");
        assert_eq!(common::error_field(&answer.json), Some(field));
    }
    let listing = call(
        &traced.router,
        "GET",
        "/api/controller/models?model_name=a%00b",
        None,
        &[],
    )
    .await;
    assert_eq!(listing.status, 422);
    assert_eq!(common::error_field(&listing.json), Some("model_name"));
}
