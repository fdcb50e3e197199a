//! The dashboard page and its assets, and the operator write route
//! `POST /api/controller/models/settings` (memory through the router, SQLite on the binary).

mod common;

use common::server::start;
use common::{call, instance_body, registry, router};

const SETTINGS: &str = "/api/controller/models/settings";

#[tokio::test]
async fn pages_and_assets_are_served_without_a_token_even_when_reads_need_one() {
    let registry = registry();
    let auth = registry_server::Auth::new(Some("t".into()), true);
    let state = registry_server::AppState::with_options(
        registry,
        auth,
        registry_server::Tracer::disabled(),
        65536,
    );
    let router = registry_server::app(state);
    let page = call(&router, "GET", "/", None, &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for id in [
        "id=\"models\"",
        "id=\"token-input\"",
        "id=\"status\"",
        "/assets/dashboard.js",
    ] {
        assert!(page.text.contains(id), "{id} missing from the page");
    }
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "no CDN"
    );
    let traces = call(&router, "GET", "/traces", None, &[]).await;
    assert_eq!(traces.status, 200);
    assert!(traces.text.contains("id=\"waterfall\""));
    assert!(traces.text.contains("id=\"trace-search\""));
    // The API description and its page are open too, and fetch nothing from the network.
    let docs = call(&router, "GET", "/docs", None, &[]).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("/assets/docs.js"));
    assert!(!docs.text.contains("http://") && !docs.text.contains("https://"));
    let openapi = call(&router, "GET", "/openapi.json", None, &[]).await;
    assert_eq!(openapi.status, 200);
    let openapi: serde_json::Value = serde_json::from_str(&openapi.text).unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/api/controller/heartbeat"]["post"].is_object());
    for (asset, kind) in [
        ("/assets/dashboard.js", "text/javascript"),
        ("/assets/traces.js", "text/javascript"),
        ("/assets/docs.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
    ] {
        let answer = call(&router, "GET", asset, None, &[]).await;
        assert_eq!(answer.status, 200, "{asset}");
        assert!(
            answer.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    assert_eq!(
        call(&router, "GET", "/assets/nope.js", None, &[])
            .await
            .status,
        404
    );
    // The data behind the page still needs the token.
    let watch = call(&router, "GET", "/api/controller/watch", None, &[]).await;
    assert_eq!(watch.status, 401);
}

#[tokio::test]
async fn settings_disable_enable_and_weigh_an_instance() {
    let registry = registry();
    let router = router(&registry, Some("s3cret"), 65536);
    let auth = [("authorization", "Bearer s3cret")];
    let body = instance_body("m", "h", 1);
    call(
        &router,
        "POST",
        "/api/controller/models",
        Some(&body),
        &auth,
    )
    .await;

    let change = br#"{"model_name":"m","host":"h","port":"1","enabled":false,"weight":2.5}"#;
    let refused = call(&router, "POST", SETTINGS, Some(change), &[]).await;
    assert_eq!(refused.status, 401);
    let answer = call(&router, "POST", SETTINGS, Some(change), &auth).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["enabled"], false);
    assert_eq!(answer.json["weight"], 2.5);
    let listed = call(&router, "GET", "/api/controller/models", None, &[]).await;
    assert_eq!(listed.json[0]["enabled"], false);
    assert_eq!(listed.json[0]["weight"], 2.5);

    let enable = br#"{"model_name":"m","host":"h","port":1,"enabled":true}"#;
    let answer = call(&router, "POST", SETTINGS, Some(enable), &auth).await;
    assert_eq!(answer.json["enabled"], true);
    assert_eq!(answer.json["weight"], 2.5, "weight left alone");
}

#[tokio::test]
async fn settings_errors_are_json() {
    let registry = registry();
    let router = router(&registry, None, 65536);
    call(
        &router,
        "POST",
        "/api/controller/models",
        Some(&instance_body("m", "h", 1)),
        &[],
    )
    .await;
    let cases: [(&[u8], u16, Option<&str>); 6] = [
        (
            br#"{"model_name":"m","host":"h","port":2,"enabled":false}"#,
            404,
            None,
        ),
        (
            br#"{"model_name":"m","host":"h","port":1}"#,
            422,
            Some("enabled"),
        ),
        (
            br#"{"model_name":"m","host":"h","port":1,"weight":-1}"#,
            422,
            Some("weight"),
        ),
        (
            br#"{"model_name":"m","host":"h","port":1,"enabled":"maybe"}"#,
            422,
            Some("enabled"),
        ),
        (
            br#"{"host":"h","port":1,"enabled":true}"#,
            422,
            Some("model_name"),
        ),
        (b"{not json", 422, None),
    ];
    for (body, status, field) in cases {
        let answer = call(&router, "POST", SETTINGS, Some(body), &[]).await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(answer.status.as_u16(), status, "{shown}: {}", answer.text);
        assert!(
            common::error_text(&answer.json).is_some(),
            "{shown}: {}",
            answer.text
        );
        assert_eq!(common::error_field(&answer.json), field, "{shown}");
    }
}

/// On SQL storage the route applies the settings, or, where the storage cannot, answers a
/// clear 501 JSON error.
#[test]
fn settings_on_sqlite_apply_or_answer_501() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("registry.db").display());
    let server = start(&["--storage-url", &url, "--span-file", "off"], &[]);
    let body = String::from_utf8(instance_body("m", "h", 1)).unwrap();
    assert_eq!(
        server
            .request("POST", "/api/controller/models", Some(&body))
            .0,
        200
    );
    let change = r#"{"model_name":"m","host":"h","port":1,"enabled":false,"weight":3}"#;
    let (status, answer) = server.request("POST", SETTINGS, Some(change));
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    match status {
        200 => {
            assert_eq!(answer["enabled"], false);
            let (_, listed) = server.request("GET", "/api/controller/models", None);
            let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
            assert_eq!(listed[0]["enabled"], false);
            assert_eq!(listed[0]["weight"], 3.0);
        }
        501 => assert!(
            common::error_text(&answer)
                .unwrap()
                .contains("not supported")
        ),
        other => panic!("unexpected status {other}: {answer}"),
    }
    let missing = r#"{"model_name":"m","host":"h","port":9,"enabled":false}"#;
    assert!(matches!(
        server.request("POST", SETTINGS, Some(missing)).0,
        404 | 501
    ));
}

#[test]
fn a_storage_that_cannot_apply_settings_is_a_501() {
    let error =
        registry_server::AppError::from(registry_core::StorageError::Unsupported("apply_settings"));
    assert_eq!(error.status().as_u16(), 501);
    assert!(error.to_string().contains("apply_settings"));
}
