//! Every route and every error through the router, without a socket.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{call, instance_body, registry, router};
use registry_core::{ModelRegistry, StorageModelRegistry};
use registry_server::{AnyStorage, AppState, DEFAULT_BODY_LIMIT, app};
use serde_json::{Value, json};

const MODELS: &str = "/api/controller/models";

#[tokio::test]
async fn health_answers_ok() {
    let app = router(&registry(), None, DEFAULT_BODY_LIMIT);
    let answer = call(&app, "GET", "/api/health", None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json, json!({"status": "ok"}));
}

#[tokio::test]
async fn register_then_list_shows_a_healthy_instance_with_all_ten_fields() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    let answer = call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("glm@llm", "10.0.0.1", 8001)),
        &[],
    )
    .await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "true")
    );
    let list = call(
        &app,
        "GET",
        "/api/controller/models?model_name=glm@llm",
        None,
        &[],
    )
    .await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.json.as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = items[0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "check_healthy",
            "enabled",
            "healthy",
            "host",
            "last_heartbeat",
            "model_name",
            "port",
            "prompt_template",
            "remove_from_registry",
            "weight"
        ]
    );
    assert_eq!(item["healthy"], true);
    assert_eq!(item["port"], 8001);
    assert!(item["last_heartbeat"].as_str().unwrap().starts_with("20"));
}

#[tokio::test]
async fn registering_again_updates_without_a_duplicate_and_names_are_trimmed() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("m@llm", "h", 1)),
        &[],
    )
    .await;
    let body = br#"{"model_name":"  m@llm ","host":" h","port":1,"weight":3.0}"#;
    assert_eq!(
        call(&app, "POST", MODELS, Some(body), &[]).await.status,
        StatusCode::OK
    );
    let all = registry.get_all_model_instances(false).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].weight, 3.0);
}

#[tokio::test]
async fn heartbeat_registers_an_unknown_instance_and_revives_a_known_one() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    let body = instance_body("m@llm", "h", 1);
    let answer = call(&app, "POST", "/api/controller/heartbeat", Some(&body), &[]).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "true")
    );
    assert_eq!(
        registry
            .get_all_instances("m@llm", true)
            .await
            .unwrap()
            .len(),
        1
    );
    call(
        &app,
        "DELETE",
        "/api/controller/models?model_name=m@llm&host=h&port=1",
        None,
        &[],
    )
    .await;
    assert!(
        registry
            .get_all_instances("m@llm", true)
            .await
            .unwrap()
            .is_empty()
    );
    call(&app, "POST", "/api/controller/heartbeat", Some(&body), &[]).await;
    assert_eq!(
        registry
            .get_all_instances("m@llm", true)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn listing_filters_by_model_and_health() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    for (model, port) in [("a@llm", 1), ("a@llm", 2), ("b@llm", 3)] {
        call(
            &app,
            "POST",
            MODELS,
            Some(&instance_body(model, "h", port)),
            &[],
        )
        .await;
    }
    call(
        &app,
        "DELETE",
        "/api/controller/models?model_name=a@llm&host=h&port=2",
        None,
        &[],
    )
    .await;
    let count = |answer: common::Answer| answer.json.as_array().map(Vec::len);
    assert_eq!(count(call(&app, "GET", MODELS, None, &[]).await), Some(3));
    // DB-GPT's client sends an empty model_name for "every model".
    assert_eq!(
        count(
            call(
                &app,
                "GET",
                "/api/controller/models?model_name=&healthy_only=true",
                None,
                &[]
            )
            .await
        ),
        Some(2)
    );
    assert_eq!(
        count(
            call(
                &app,
                "GET",
                "/api/controller/models?model_name=a@llm",
                None,
                &[]
            )
            .await
        ),
        Some(2)
    );
    assert_eq!(
        count(
            call(
                &app,
                "GET",
                "/api/controller/models?model_name=a@llm&healthy_only=true",
                None,
                &[]
            )
            .await
        ),
        Some(1)
    );
    assert_eq!(
        count(
            call(
                &app,
                "GET",
                "/api/controller/models?model_name=zzz",
                None,
                &[]
            )
            .await
        ),
        Some(0)
    );
}

#[tokio::test]
async fn deregister_marks_unhealthy_or_removes_and_ignores_missing_instances() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("m@llm", "h", 1)),
        &[],
    )
    .await;
    let uri = "/api/controller/models?model_name=m@llm&host=h&port=1&weight=1.0&prompt_template=&last_heartbeat=&healthy=true";
    let answer = call(&app, "DELETE", uri, None, &[]).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "true")
    );
    let all = registry.get_all_model_instances(false).await.unwrap();
    assert_eq!((all.len(), all[0].healthy), (1, false));
    let remove = "/api/controller/models?model_name=m@llm&host=h&port=1&remove_from_registry=true";
    assert_eq!(
        call(&app, "DELETE", remove, None, &[]).await.status,
        StatusCode::OK
    );
    assert!(
        registry
            .get_all_model_instances(false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(call(&app, "DELETE", remove, None, &[]).await.text, "true");
}

#[tokio::test]
async fn openai_models_lists_healthy_enabled_models_once() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("a@llm", "h", 1)),
        &[],
    )
    .await;
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("a@llm", "h", 2)),
        &[],
    )
    .await;
    let disabled = br#"{"model_name":"off@llm","host":"h","port":3,"enabled":false}"#;
    call(&app, "POST", MODELS, Some(disabled), &[]).await;
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("gone@llm", "h", 4)),
        &[],
    )
    .await;
    call(
        &app,
        "DELETE",
        "/api/controller/models?model_name=gone@llm&host=h&port=4",
        None,
        &[],
    )
    .await;
    let answer = call(&app, "GET", "/v1/models", None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["object"], "list");
    let data = answer.json["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], "a@llm");
    assert_eq!(data[0]["object"], "model");
    assert_eq!(data[0]["instances"], 2);
}

#[tokio::test]
async fn metrics_count_requests_instances_and_heartbeats() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    call(
        &app,
        "POST",
        "/api/controller/heartbeat",
        Some(&instance_body("m@llm", "h", 1)),
        &[],
    )
    .await;
    call(&app, "POST", "/api/controller/heartbeat", Some(b"{"), &[]).await;
    let answer = call(&app, "GET", "/metrics", None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for line in [
        "registry_http_requests_total{route=\"heartbeat\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"heartbeat\",status=\"400\"} 1",
        "registry_http_request_duration_seconds_count{route=\"heartbeat\"} 2",
        "registry_instances{state=\"healthy\"} 1",
        "registry_instances{state=\"unhealthy\"} 0",
        "registry_heartbeats_total 1",
        "registry_expired_total 0",
        "registry_spans_written_total 0",
        "registry_spans_dropped_total 0",
        "registry_storage_up 1",
    ] {
        assert!(
            answer.text.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            answer.text
        );
    }
}

/// Sends `body` to both instance routes and checks a 4xx JSON error naming `field`, with
/// storage unchanged.
async fn rejects(body: &[u8], status: StatusCode, field: Option<&str>) {
    let registry = registry();
    let app = router(&registry, None, 1024);
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("keep@llm", "h", 1)),
        &[],
    )
    .await;
    let before = registry.get_all_model_instances(false).await.unwrap();
    for path in [MODELS, "/api/controller/heartbeat"] {
        let answer = call(&app, "POST", path, Some(body), &[]).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        assert_eq!(answer.status, status, "{path} {shown}: {}", answer.text);
        assert!(answer.json["error"].is_string(), "{}", answer.text);
        assert_eq!(
            answer.json.get("field").and_then(Value::as_str),
            field,
            "{shown}"
        );
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
    rejects(b"{\"model_name\": ", StatusCode::BAD_REQUEST, None).await;
    rejects(b"not json", StatusCode::BAD_REQUEST, None).await;
    rejects(b"", StatusCode::BAD_REQUEST, None).await;
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
    call(
        &app,
        "POST",
        MODELS,
        Some(&instance_body("m@llm", "h", 1)),
        &[],
    )
    .await;
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
        assert_eq!(
            answer.json.get("field").and_then(Value::as_str),
            field,
            "{uri}"
        );
    }
    let answer = call(
        &app,
        "GET",
        "/api/controller/models?healthy_only=sometimes",
        None,
        &[],
    )
    .await;
    assert_eq!(answer.json["field"], "healthy_only");
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
        assert!(answer.json["error"].is_string());
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
    assert!(answer.json["error"].is_string());
    let answer = call(&app, "PUT", MODELS, None, &[]).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.json["error"].is_string());
}

#[tokio::test]
async fn a_storage_that_is_down_gives_503_json_and_health_and_metrics_still_answer() {
    let registry = Arc::new(StorageModelRegistry::new(Arc::new(AnyStorage::new(
        Arc::new(down::Down),
        "down",
    ))));
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
        assert!(
            answer.json["error"]
                .as_str()
                .unwrap()
                .contains("unavailable")
        );
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
        fn register(&self, _: &ModelInstance, _: DateTime<Utc>) -> Result<(), StorageError> {
            down()
        }
        fn heartbeat(&self, _: &ModelInstance, _: DateTime<Utc>) -> Result<(), StorageError> {
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
