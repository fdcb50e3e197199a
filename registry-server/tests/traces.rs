//! The traces API and page, over the span files beside the server's span file.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{call, registry, trace_lines};
use registry_server::{AppState, Auth, Tracer, app};
use span_storage::{Span, SpanType};

/// A DB-GPT trace (root and child, both ended) written as the JSONL file `name` in `dir`.
fn write_trace(dir: &Path, name: &str) -> (Span, Span) {
    let root = Span::new_root(SpanType::Chat, "get_chat_instance");
    let child = Span::child_of(&root, SpanType::Run, "run_model");
    let lines = trace_lines(&root, &child);
    std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
    (root, child)
}

fn router_over(dir: &Path) -> axum::Router {
    let tracer = Tracer::to_file(
        &dir.join("registry_tracer.jsonl"),
        10,
        Duration::from_secs(10),
        100,
    )
    .unwrap();
    app(AppState::with_options(
        registry(),
        Auth::open(),
        tracer,
        65536,
    ))
}

#[tokio::test]
async fn recent_traces_and_one_trace_as_a_waterfall() {
    let dir = tempfile::tempdir().unwrap();
    let (root, child) = write_trace(dir.path(), "dbgpt_webserver_tracer.jsonl");
    let router = router_over(dir.path());

    let list = call(&router, "GET", "/api/traces?limit=10", None, &[]).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let found = list.json.as_array().unwrap();
    let summary = found
        .iter()
        .find(|t| t["trace_id"] == root.trace_id.as_str())
        .unwrap();
    assert_eq!(summary["root_operation"], "get_chat_instance");
    assert_eq!(summary["span_count"], 2);

    let uri = format!("/api/traces/{}", root.trace_id);
    let trace = call(&router, "GET", &uri, None, &[]).await;
    assert_eq!(trace.status, 200, "{}", trace.text);
    let rows = trace.json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["depth"], 0);
    assert_eq!(rows[1]["span_id"], child.span_id.as_str());
    assert_eq!(rows[1]["depth"], 1);
    assert!(rows[1]["duration_ms"].is_number());
    assert!(trace.json["text"].as_str().unwrap().contains("run_model"));
}

#[tokio::test]
async fn limits_unknown_traces_and_no_tracing() {
    let dir = tempfile::tempdir().unwrap();
    write_trace(dir.path(), "dbgpt_webserver_tracer.jsonl");
    // A second file in the folder: both are read.
    write_trace(dir.path(), "more.jsonl");
    let router = router_over(dir.path());
    let all = call(&router, "GET", "/api/traces", None, &[]).await;
    assert_eq!(all.json.as_array().unwrap().len(), 2);
    let one = call(&router, "GET", "/api/traces?limit=1", None, &[]).await;
    assert_eq!(one.json.as_array().unwrap().len(), 1);
    let bad = call(&router, "GET", "/api/traces?limit=many", None, &[]).await;
    assert_eq!(bad.status, 422);
    assert_eq!(common::error_field(&bad.json), Some("limit"));
    let missing = call(&router, "GET", "/api/traces/no-such-trace", None, &[]).await;
    assert_eq!(missing.status, 404);
    assert!(
        common::error_text(&missing.json)
            .unwrap()
            .contains("no-such-trace")
    );

    // Tracing off: no span files, an empty list.
    let untraced = app(AppState::new(registry()));
    let empty = call(&untraced, "GET", "/api/traces", None, &[]).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json, serde_json::json!([]));
}

// On tokio's paused clock, so that the next read of the files is due without waiting.
#[tokio::test(start_paused = true)]
async fn appended_traces_show_up_and_concurrent_calls_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = write_trace(dir.path(), "dbgpt_webserver_tracer.jsonl");
    let router = router_over(dir.path());
    let list = call(&router, "GET", "/api/traces", None, &[]).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);

    // More lines appended to the same file after the first call: read on the next one.
    let root = Span::new_root(SpanType::Chat, "later_chat");
    let path = dir.path().join("dbgpt_webserver_tracer.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&(root.to_json_line() + "\n"));
    text.push_str(&(root.end_record().to_json_line() + "\n"));
    std::fs::write(&path, text).unwrap();
    // A read answers the calls of the next half second; the appended lines show after it.
    tokio::time::advance(std::time::Duration::from_secs(1)).await;

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let router = router.clone();
            tokio::spawn(async move { call(&router, "GET", "/api/traces", None, &[]).await })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in calls {
        let answer = handle.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text);
        // The calls are traced themselves, into the same folder, as they land: leave those out.
        let written: Vec<serde_json::Value> = answer
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["root_operation"] != "DB-GPT-ModelController")
            .cloned()
            .collect();
        answers.push(written);
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    let ids: Vec<&str> = answers[0]
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.trace_id.as_str()));
    assert!(ids.contains(&root.trace_id.as_str()));
    let uri = format!("/api/traces/{}", root.trace_id);
    let trace = call(&router, "GET", &uri, None, &[]).await;
    assert_eq!(trace.json["rows"][0]["operation_name"], "later_chat");
}

/// A register trace whose child span is about `port`, as the server writes one.
fn register_trace(port: u16) -> Vec<String> {
    let mut root = Span::new_root(SpanType::Base, "DB-GPT-Web-Entry");
    root.metadata = Some(serde_json::from_str(r#"{"path":"/api/controller/models"}"#).unwrap());
    let mut child = Span::child_of(&root, SpanType::Base, "register_instance");
    let about = format!(r#"{{"model_name":"m@llm","host":"10.0.0.1","port":{port}}}"#);
    child.metadata = Some(serde_json::from_str(&about).unwrap());
    trace_lines(&root, &child)
}

#[tokio::test]
async fn traces_narrow_to_one_instances_registers_and_deregisters() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = register_trace(8001);
    lines.extend(register_trace(8002));
    lines.extend(register_trace(8001));
    std::fs::write(
        dir.path().join("dbgpt_model_controller_tracer.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let router = router_over(dir.path());
    let about = "/api/traces?model_name=m@llm&host=10.0.0.1&port=8001";
    let list = call(&router, "GET", about, None, &[]).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json.as_array().unwrap().len(), 2, "{}", list.text);
    assert_eq!(list.json[0]["span_count"], 2);
    let all = call(&router, "GET", "/api/traces", None, &[]).await;
    assert_eq!(all.json.as_array().unwrap().len(), 3);
    let other = call(&router, "GET", "/api/traces?port=9", None, &[]).await;
    assert_eq!(other.json.as_array().unwrap().len(), 0);
    let bad = call(&router, "GET", "/api/traces?port=x", None, &[]).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("port"));
}
