//! Every error through the router, without a socket: status, JSON body, field, and storage
//! left unchanged.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{call, error_field, error_text, instance_body, register, registry, router};
use registry_core::{InstanceStorage, ModelRegistry, StorageModelRegistry};
use registry_server::{AppState, DEFAULT_BODY_LIMIT, app};
use tower::ServiceExt as _;

const MODELS: &str = "/api/controller/models";

/// Sends `body` to both instance routes and checks a 4xx JSON error naming `field`, with
/// storage unchanged.
async fn rejects(body: &[u8], status: StatusCode, field: Option<&str>) {
    let registry = registry();
    let app = router(&registry, None, 1024);
    register(&app, "keep@llm", "h", 1).await;
    let before = registry.get_all_model_instances(false).await.unwrap();
    for path in [MODELS, "/api/controller/heartbeat"] {
        let answer = call(&app, "POST", path, Some(body), &[]).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        assert_eq!(answer.status, status, "{path} {shown}: {}", answer.text);
        assert!(error_text(&answer.json).is_some(), "{}", answer.text);
        assert_eq!(error_field(&answer.json), field, "{shown}");
        assert_eq!(answer.headers["content-type"], "application/json");
    }
    let mut after = registry.get_all_model_instances(false).await.unwrap();
    after
        .iter_mut()
        .zip(&before)
        .for_each(|(a, b)| a.last_heartbeat = b.last_heartbeat);
    assert_eq!(after, before, "storage changed");
}

#[tokio::test]
async fn bad_bodies_get_a_4xx_naming_the_field_and_change_nothing() {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    // Not JSON, or no body: 422, as DB-GPT's FastAPI answers.
    rejects(b"{\"model_name\": ", unprocessable, None).await;
    rejects(b"not json", unprocessable, None).await;
    rejects(b"", unprocessable, None).await;
    rejects(b"[]", unprocessable, None).await;
    rejects(
        br#"{"host":"h","port":1}"#,
        unprocessable,
        Some("model_name"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","port":1}"#,
        unprocessable,
        Some("host"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h"}"#,
        unprocessable,
        Some("port"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h","port":"eighty"}"#,
        unprocessable,
        Some("port"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h","port":65536}"#,
        unprocessable,
        Some("port"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h","port":-1}"#,
        unprocessable,
        Some("port"),
    )
    .await;
    rejects(
        br#"{"model_name":["m"],"host":"h","port":1}"#,
        unprocessable,
        Some("model_name"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h","port":1,"weight":"heavy"}"#,
        unprocessable,
        Some("weight"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h","port":1,"healthy":{}}"#,
        unprocessable,
        Some("healthy"),
    )
    .await;
    rejects(
        br#"{"model_name":"m","host":"h___$$$$___x","port":1}"#,
        unprocessable,
        Some("host"),
    )
    .await;
    let long = format!(
        r#"{{"model_name":"{}","host":"h","port":1}}"#,
        "m".repeat(129)
    );
    rejects(long.as_bytes(), unprocessable, Some("model_name")).await;
    let template = format!(
        r#"{{"model_name":"m","host":"h","port":1,"prompt_template":"{}"}}"#,
        "t".repeat(129)
    );
    rejects(template.as_bytes(), unprocessable, Some("prompt_template")).await;
    let huge = format!(
        r#"{{"model_name":"m","host":"h","port":1,"pad":"{}"}}"#,
        "x".repeat(2048)
    );
    rejects(huge.as_bytes(), StatusCode::PAYLOAD_TOO_LARGE, None).await;
}

#[tokio::test]
async fn bad_queries_get_a_4xx_naming_the_field() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    register(&app, "m@llm", "h", 1).await;
    for (uri, field) in [
        ("/api/controller/models?host=h&port=1", Some("model_name")),
        (
            "/api/controller/models?model_name=m@llm&port=1",
            Some("host"),
        ),
        (
            "/api/controller/models?model_name=m@llm&host=h",
            Some("port"),
        ),
        (
            "/api/controller/models?model_name=m@llm&host=h&port=x",
            Some("port"),
        ),
        (
            "/api/controller/models?model_name=m@llm&host=h&port=99999",
            Some("port"),
        ),
        (
            "/api/controller/models?model_name=m@llm&host=h&port=1&remove_from_registry=perhaps",
            Some("remove_from_registry"),
        ),
        (
            "/api/controller/models?model_name=m@llm&model_name=n&host=h&port=1",
            None,
        ),
    ] {
        let answer = call(&app, "DELETE", uri, None, &[]).await;
        assert!(answer.status.is_client_error(), "{uri}: {}", answer.status);
        assert_eq!(error_field(&answer.json), field, "{uri}");
    }
    let answer = call(
        &app,
        "GET",
        "/api/controller/models?healthy_only=sometimes",
        None,
        &[],
    )
    .await;
    assert_eq!(error_field(&answer.json), Some("healthy_only"));
    assert!(
        registry
            .get_all_instances("m@llm", true)
            .await
            .unwrap()
            .len()
            == 1
    );
}

#[tokio::test]
async fn writes_need_the_token_when_one_is_set_and_reads_do_not() {
    let registry = registry();
    let app = router(&registry, Some("s3cret"), DEFAULT_BODY_LIMIT);
    let body = instance_body("m@llm", "h", 1);
    for (method, uri, body) in [
        ("POST", MODELS, Some(body.as_slice())),
        ("POST", "/api/controller/heartbeat", Some(body.as_slice())),
        (
            "DELETE",
            "/api/controller/models?model_name=m@llm&host=h&port=1",
            None,
        ),
    ] {
        let answer = call(&app, method, uri, body, &[]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert!(answer.json["detail"].is_string());
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
        let wrong = call(&app, method, uri, body, &[("authorization", "Bearer nope")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    assert!(
        registry
            .get_all_model_instances(false)
            .await
            .unwrap()
            .is_empty()
    );
    let ok = call(
        &app,
        "POST",
        MODELS,
        Some(&body),
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    for uri in ["/api/health", MODELS, "/v1/models", "/metrics"] {
        assert_eq!(
            call(&app, "GET", uri, None, &[]).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let app = router(&registry(), None, DEFAULT_BODY_LIMIT);
    let answer = call(&app, "GET", "/api/nothing", None, &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json, serde_json::json!({"detail": "Not Found"}));
    let answer = call(&app, "PUT", MODELS, None, &[]).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        answer.json,
        serde_json::json!({"detail": "Method Not Allowed"})
    );
    // A served path with a trailing slash is redirected to the path without it, as DB-GPT's
    // Starlette does; an unserved one is still 404.
    let request = Request::builder()
        .method("GET")
        .uri("/api/controller/models/?model_name=m")
        .header("host", "registry.example:8000")
        .body(Body::empty())
        .unwrap();
    let answer = app.clone().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        answer.headers()["location"],
        "http://registry.example:8000/api/controller/models?model_name=m"
    );
    let answer = call(&app, "GET", "/api/nothing/", None, &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_storage_that_is_down_gives_503_json_and_health_and_metrics_still_answer() {
    let storage: Arc<dyn InstanceStorage> = Arc::new(down::Down);
    let registry = Arc::new(StorageModelRegistry::new(storage));
    let app = app(AppState::new(registry));
    let body = instance_body("m@llm", "h", 1);
    for (method, uri, body) in [
        ("POST", MODELS, Some(body.as_slice())),
        ("POST", "/api/controller/heartbeat", Some(body.as_slice())),
        (
            "DELETE",
            "/api/controller/models?model_name=m@llm&host=h&port=1",
            None,
        ),
        ("GET", MODELS, None),
        ("GET", "/v1/models", None),
    ] {
        let answer = call(&app, method, uri, body, &[]).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {uri}"
        );
        assert!(error_text(&answer.json).unwrap().contains("unavailable"));
        assert_eq!(answer.headers["retry-after"], "1");
    }
    assert_eq!(
        call(&app, "GET", "/api/health", None, &[]).await.status,
        StatusCode::OK
    );
    let metrics = call(&app, "GET", "/metrics", None, &[]).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.text.contains("registry_storage_up 0"));
}

mod down {
    //! A storage whose database is unreachable.

    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use registry_core::{
        InstanceStorage, ModelInstance, ModelInstanceIdentifier, QuerySpec, Storage, StorageError,
    };

    pub(super) struct Down;

    fn down<T>() -> Result<T, StorageError> {
        Err(StorageError::Unavailable("connection refused".to_owned()))
    }

    impl Storage<ModelInstance> for Down {
        fn save(&self, _: &ModelInstance) -> Result<(), StorageError> {
            down()
        }
        fn update(&self, _: &ModelInstance) -> Result<(), StorageError> {
            down()
        }
        fn save_or_update(&self, _: &ModelInstance) -> Result<(), StorageError> {
            down()
        }
        fn load(&self, _: &ModelInstanceIdentifier) -> Result<Option<ModelInstance>, StorageError> {
            down()
        }
        fn delete(&self, _: &ModelInstanceIdentifier) -> Result<(), StorageError> {
            down()
        }
        fn query(&self, _: &QuerySpec) -> Result<Vec<ModelInstance>, StorageError> {
            down()
        }
        fn count(&self, _: &QuerySpec) -> Result<u64, StorageError> {
            down()
        }
    }

    impl InstanceStorage for Down {
        fn register(
            &self,
            _: &registry_core::ValidInstance,
            _: DateTime<Utc>,
        ) -> Result<(), StorageError> {
            down()
        }
        fn heartbeat(
            &self,
            _: &registry_core::ValidInstance,
            _: DateTime<Utc>,
        ) -> Result<(), StorageError> {
            down()
        }
        fn deregister(&self, _: &ModelInstanceIdentifier, _: bool) -> Result<(), StorageError> {
            down()
        }
        fn expire_stale(&self, _: Duration, _: DateTime<Utc>) -> Result<u64, StorageError> {
            down()
        }
        fn remove_stale(&self, _: Duration, _: DateTime<Utc>) -> Result<u64, StorageError> {
            down()
        }
    }
}
