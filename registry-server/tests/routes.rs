//! Every route through the router, without a socket: what each answers.

mod common;

use axum::http::StatusCode;
use common::{call, instance_body, register, registry, router};
use registry_core::ModelRegistry;
use registry_server::DEFAULT_BODY_LIMIT;
use serde_json::json;

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
    let answer = register(&app, "glm@llm", "10.0.0.1", 8001).await;
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
    register(&app, "m@llm", "h", 1).await;
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
        register(&app, model, "h", port).await;
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
    register(&app, "m@llm", "h", 1).await;
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
async fn openai_models_lists_models_with_a_selectable_instance_once() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    register(&app, "a@llm", "h", 1).await;
    register(&app, "a@llm", "h", 2).await;
    let disabled = br#"{"model_name":"off@llm","host":"h","port":3,"enabled":false}"#;
    call(&app, "POST", MODELS, Some(disabled), &[]).await;
    register(&app, "gone@llm", "h", 4).await;
    call(
        &app,
        "DELETE",
        "/api/controller/models?model_name=gone@llm&host=h&port=4",
        None,
        &[],
    )
    .await;
    // Drained by an operator: selection never picks it, so it serves nothing.
    register(&app, "drained@llm", "h", 5).await;
    let drain = br#"{"model_name":"drained@llm","host":"h","port":5,"weight":0}"#;
    let drained = call(
        &app,
        "POST",
        "/api/controller/models/settings",
        Some(drain),
        &[],
    );
    assert_eq!(drained.await.status, StatusCode::OK);
    // As DB-GPT's API server: the `@type` is stripped, a model served as several types is
    // listed once, and only llm, text2vec and reranker workers are models.
    register(&app, "a@text2vec", "h", 6).await;
    register(&app, "bge@reranker", "h", 7).await;
    register(&app, "WorkerManager@service", "h", 8).await;
    register(&app, "odd@llm@llm", "h", 9).await;
    let answer = call(&app, "GET", "/v1/models", None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["object"], "list");
    let data = answer.json["data"].as_array().unwrap();
    let ids: Vec<&str> = data
        .iter()
        .map(|card| card["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "bge"], "{data:?}");
    let card = &data[0];
    assert_eq!(card["object"], "model");
    assert_eq!(card["owned_by"], "DB-GPT");
    assert_eq!(card["root"], "a");
    assert!(card["parent"].is_null());
    let permission = &card["permission"].as_array().unwrap()[..];
    assert_eq!(permission.len(), 1);
    assert_eq!(permission[0]["object"], "model_permission");
    assert_eq!(permission[0]["created"], card["created"]);
    assert_eq!(permission[0]["allow_sampling"], true);
    assert_eq!(permission[0]["allow_fine_tuning"], false);
    assert_eq!(permission[0]["organization"], "*");
    // DB-GPT's field order, card and permission.
    let order = |from: &str, keys: &[&str]| {
        let text = &answer.text[answer.text.find(from).unwrap()..];
        let at: Vec<usize> = keys
            .iter()
            .map(|key| text.find(&format!("\"{key}\":")).unwrap())
            .collect();
        assert!(
            at.windows(2).all(|pair| pair[0] < pair[1]),
            "{keys:?} in {}",
            answer.text
        );
    };
    let card_keys = ["id", "object", "created", "owned_by", "root", "parent"];
    order("\"data\":", &[&card_keys[..], &["permission"]].concat());
    let permission_keys = [
        "allow_create_engine",
        "allow_sampling",
        "allow_logprobs",
        "allow_search_indices",
        "allow_view",
        "allow_fine_tuning",
        "organization",
        "group",
        "is_blocking",
    ];
    order("\"permission\":", &permission_keys);
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
        "registry_http_requests_total{route=\"heartbeat\",status=\"422\"} 1",
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

#[tokio::test]
async fn metrics_label_every_operator_route() {
    let registry = registry();
    let app = router(&registry, None, DEFAULT_BODY_LIMIT);
    register(&app, "m@llm", "h", 1).await;
    let settings = json!({"model_name": "m@llm", "host": "h", "port": 1, "weight": 2.0});
    let settings = settings.to_string();
    for (method, uri, body, status) in [
        ("GET", "/", None, StatusCode::OK),
        ("GET", "/traces", None, StatusCode::OK),
        ("GET", "/assets/dashboard.js", None, StatusCode::OK),
        ("GET", "/assets/nothing.js", None, StatusCode::NOT_FOUND),
        ("GET", "/api/controller/watch", None, StatusCode::OK),
        (
            "POST",
            "/api/controller/models/settings",
            Some(settings.as_bytes()),
            StatusCode::OK,
        ),
        ("GET", "/api/traces", None, StatusCode::OK),
        ("GET", "/api/traces/0123abcd", None, StatusCode::NOT_FOUND),
        ("GET", "/api/traces/a/b", None, StatusCode::NOT_FOUND),
        ("GET", "/api/traces/", None, StatusCode::NOT_FOUND),
        // Paths no route matches stay `other`, even under a route's prefix.
        ("GET", "/assets/", None, StatusCode::NOT_FOUND),
        ("GET", "/assets/a/b", None, StatusCode::NOT_FOUND),
        ("GET", "/traces/", None, StatusCode::NOT_FOUND),
        ("GET", "/nope", None, StatusCode::NOT_FOUND),
        // `/api/controller/models` is told apart by method; a method it does not take is
        // `other`.
        ("GET", "/api/controller/models", None, StatusCode::OK),
        (
            "DELETE",
            "/api/controller/models?model_name=x&host=h&port=9",
            None,
            StatusCode::OK,
        ),
        (
            "PUT",
            "/api/controller/models",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let answer = call(&app, method, uri, body, &[]).await;
        assert_eq!(answer.status, status, "{method} {uri}: {}", answer.text);
    }
    let answer = call(&app, "GET", "/metrics", None, &[]).await;
    for line in [
        "registry_http_requests_total{route=\"register\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"dashboard\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"traces_page\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"asset\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"asset\",status=\"404\"} 1",
        "registry_http_requests_total{route=\"watch\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"settings\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"trace_list\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"trace_tree\",status=\"404\"} 1",
        "registry_http_requests_total{route=\"other\",status=\"404\"} 6",
        "registry_http_requests_total{route=\"other\",status=\"405\"} 1",
        "registry_http_requests_total{route=\"list\",status=\"200\"} 1",
        "registry_http_requests_total{route=\"deregister\",status=\"200\"} 1",
        "registry_http_request_duration_seconds_count{route=\"watch\"} 1",
        "registry_http_request_duration_seconds_count{route=\"asset\"} 2",
        // The scrape itself is in flight; the finished watch is not.
        "registry_http_requests_in_flight{route=\"metrics\"} 1",
        "registry_http_requests_in_flight{route=\"watch\"} 0",
    ] {
        assert!(
            answer.text.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            answer.text
        );
    }
}
