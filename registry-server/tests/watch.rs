//! The change feed's long poll, `GET /api/controller/watch`: through the router, and on the
//! real binary, where a client waiting on the feed sees a registration promptly.

mod common;

use std::time::{Duration, Instant};

use common::server::start;
use common::{call, instance_body, registry, router};
use registry_server::{AppState, app};
use registry_testkit::http::Client;

#[tokio::test]
async fn first_watch_answers_at_once_with_index_and_header() {
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
    let answer = call(&router, "GET", "/api/controller/watch", None, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let index = answer.json["index"].as_u64().unwrap();
    assert!(index >= 1);
    assert_eq!(
        answer.headers["x-registry-index"],
        index.to_string().as_str()
    );
    assert_eq!(answer.json["instances"][0]["model_name"], "m");
    // An index from before (or from another server) answers at once with the current state.
    let stale = call(
        &router,
        "GET",
        "/api/controller/watch?index=999999",
        None,
        &[],
    )
    .await;
    assert_eq!(stale.json["instances"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unchanged_registry_answers_the_same_index_after_the_timeout() {
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
    // Wait until the feed has read the registration (the index moves past 1).
    let mut index = 1;
    while index == 1 {
        let uri = "/api/controller/watch?index=1&timeout=5s";
        index = call(&router, "GET", uri, None, &[]).await.json["index"]
            .as_u64()
            .unwrap();
    }
    let uri = format!("/api/controller/watch?index={index}&timeout=20ms");
    let answer = call(&router, "GET", &uri, None, &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["index"].as_u64(), Some(index));
    assert_eq!(answer.json["instances"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_index_or_timeout_is_422() {
    let registry = registry();
    let router = router(&registry, None, 65536);
    for (uri, field) in [
        ("/api/controller/watch?index=abc", "index"),
        ("/api/controller/watch?index=-1", "index"),
        ("/api/controller/watch?index=1&timeout=soon", "timeout"),
    ] {
        let answer = call(&router, "GET", uri, None, &[]).await;
        assert_eq!(answer.status, 422, "{uri}: {}", answer.text);
        assert_eq!(common::error_field(&answer.json), Some(field), "{uri}");
    }
}

#[tokio::test]
async fn a_waiting_watch_wakes_on_a_write() {
    let registry = registry();
    let router = router(&registry, None, 65536);
    let first = call(&router, "GET", "/api/controller/watch", None, &[]).await;
    let index = first.json["index"].as_u64().unwrap();
    let waiting = {
        let router = router.clone();
        tokio::spawn(async move {
            let uri = format!("/api/controller/watch?index={index}&timeout=60s");
            let answer = call(&router, "GET", &uri, None, &[]).await;
            (answer, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let written = Instant::now();
    call(
        &router,
        "POST",
        "/api/controller/models",
        Some(&instance_body("m", "h", 1)),
        &[],
    )
    .await;
    let (answer, seen) = waiting.await.unwrap();
    assert_ne!(answer.json["index"].as_u64(), Some(index));
    assert_eq!(answer.json["instances"][0]["host"], "h");
    println!("router: watch woke {:?} after the write", seen - written);
}

/// The check: a client long-polling the real server sees a registration promptly.
/// The watch names a 20 s timeout; answering with a new index shows it did not wait it out.
#[test]
fn a_client_of_the_real_server_sees_a_registration_without_waiting_out_the_poll() {
    let server = start(&["--storage-url", "memory", "--span-file", "off"], &[]);
    let (status, body) = server.request("GET", "/api/controller/watch", None);
    assert_eq!(status, 200, "{body}");
    let index = serde_json::from_str::<serde_json::Value>(&body).unwrap()["index"]
        .as_u64()
        .unwrap();
    let client = Client::new(server.addr);
    let watcher = std::thread::spawn(move || {
        let path = format!("/api/controller/watch?index={index}&timeout=20s");
        let answer = client.request("GET", &path, None);
        (answer, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(200));
    let written = Instant::now();
    let body = String::from_utf8(instance_body("glm", "10.0.0.1", 8001)).unwrap();
    assert_eq!(
        server.request("POST", "/api/controller/models", Some(&body)),
        (200, "true".to_owned())
    );
    let ((status, answer), seen) = watcher.join().unwrap();
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert!(answer["index"].as_u64().unwrap() > index, "{answer}");
    assert_eq!(answer["instances"][0]["model_name"], "glm");
    println!(
        "long poll: the watching client saw the registration {:?} after it was sent",
        seen.saturating_duration_since(written)
    );
}

#[tokio::test]
async fn a_waiting_watch_answers_at_once_when_shutdown_begins() {
    let state = AppState::new(registry());
    let router = app(state.clone());
    let first = call(&router, "GET", "/api/controller/watch", None, &[]).await;
    let index = first.json["index"].as_u64().unwrap();
    let waiting = {
        let router = router.clone();
        tokio::spawn(async move {
            let uri = format!("/api/controller/watch?index={index}&timeout=5m");
            call(&router, "GET", &uri, None, &[]).await
        })
    };
    // Nothing changes the registry: only shutdown can end the poll before its five minutes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    assert!(!state.is_shutting_down());
    state.begin_shutdown();
    assert!(state.is_shutting_down());
    let answer = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the poll outlived the shutdown")
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["index"].as_u64(), Some(index));
    // A poll that arrives once shutdown has begun does not wait either.
    let uri = format!("/api/controller/watch?index={index}&timeout=5m");
    let late = tokio::time::timeout(
        Duration::from_secs(30),
        call(&router, "GET", &uri, None, &[]),
    )
    .await
    .expect("a poll after shutdown began waited");
    assert_eq!(late.json["index"].as_u64(), Some(index));
}
