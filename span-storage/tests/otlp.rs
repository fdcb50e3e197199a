//! The OTLP/HTTP JSON exporter against a real HTTP receiver on a local port.
#![cfg(feature = "otlp")]

use serde_json::{Value, json};
use span_storage::{
    ContainerConfig, OtlpConfig, OtlpSpanStorage, Span, SpanStorage, SpanStorageContainer,
    SpanStorageError, SpanType,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;

struct Request {
    method: String,
    path: String,
    content_type: String,
    body: Value,
}

/// A minimal OTLP/HTTP receiver: answers each request with `status` and passes it on.
fn receiver(status: u16) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("request line");
            let mut parts = request_line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            );
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    match name.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().expect("length"),
                        "content-type" => content_type = value.trim().to_owned(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            let body = serde_json::from_slice(&body).expect("JSON body");
            // Passed on before answering, so the client never sees its answer before the test
            // can see its request.
            if tx
                .send(Request {
                    method,
                    path,
                    content_type,
                    body,
                })
                .is_err()
            {
                return;
            }
            let answer = if status == 200 {
                "{}"
            } else {
                "{\"message\":\"nope\"}"
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.flush();
        }
    });
    (format!("http://{addr}"), rx)
}

#[test]
fn exports_finished_spans_as_otlp_json() {
    let (endpoint, requests) = receiver(200);
    let storage = OtlpSpanStorage::new(OtlpConfig::new(endpoint).service_name("model-controller"));
    let root = Span::new_root(SpanType::Chat, "get_chat_instance").with_metadata(
        json!({"model": "glm-4", "tokens": 42, "ratio": 0.25, "stream": true, "tags": ["a"]}),
    );
    let child = Span::child_of(&root, SpanType::Run, "generate");
    let spans = vec![root.clone(), child.end_record(), root.end_record()];
    storage.append_spans(&spans).expect("export");

    let request = requests.recv().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/traces");
    assert!(request.content_type.starts_with("application/json"));
    let rs = &request.body["resourceSpans"][0];
    assert_eq!(
        rs["resource"]["attributes"][0],
        json!({"key": "service.name", "value": {"stringValue": "model-controller"}})
    );
    let exported = rs["scopeSpans"][0]["spans"].as_array().expect("spans");
    assert_eq!(exported.len(), 2, "start records are not exported");
    let (c, r) = (&exported[0], &exported[1]);
    assert_eq!(r["traceId"], root.trace_id.as_str());
    assert_eq!(r["spanId"], root.span_id.split_once(':').expect("id").1);
    assert!(r.get("parentSpanId").is_none());
    assert_eq!(r["name"], "get_chat_instance");
    assert_eq!(r["kind"], 1);
    assert_eq!(c["traceId"], root.trace_id.as_str());
    assert_eq!(c["parentSpanId"], r["spanId"]);
    let start: u64 = r["startTimeUnixNano"]
        .as_str()
        .expect("string")
        .parse()
        .expect("u64");
    let end: u64 = r["endTimeUnixNano"]
        .as_str()
        .expect("string")
        .parse()
        .expect("u64");
    assert!(start > 1_600_000_000_000_000_000 && end >= start);
    let attrs = r["attributes"].as_array().expect("attributes");
    let attr = |k: &str| {
        attrs
            .iter()
            .find(|a| a["key"] == k)
            .map(|a| a["value"].clone())
    };
    assert_eq!(
        attr("dbgpt.span_type"),
        Some(json!({"stringValue": "chat"}))
    );
    assert_eq!(attr("model"), Some(json!({"stringValue": "glm-4"})));
    assert_eq!(attr("tokens"), Some(json!({"intValue": "42"})));
    assert_eq!(attr("ratio"), Some(json!({"doubleValue": 0.25})));
    assert_eq!(attr("stream"), Some(json!({"boolValue": true})));
    assert_eq!(
        attr("tags"),
        Some(json!({"arrayValue": {"values": [{"stringValue": "a"}]}}))
    );
}

#[test]
fn a_collector_error_is_an_export_error_and_start_records_send_nothing() {
    let (endpoint, requests) = receiver(500);
    let storage = OtlpSpanStorage::new(OtlpConfig::new(format!("{endpoint}/v1/traces")));
    let start = Span::new_root(SpanType::Base, "op");
    storage.append_span(&start).expect("nothing to send");
    let err = storage
        .append_span(&start.end_record())
        .expect_err("HTTP 500");
    assert!(matches!(err, SpanStorageError::Export(_)), "{err}");
    assert!(err.to_string().contains("500"));
    assert_eq!(requests.recv().expect("request").path, "/v1/traces");
}

#[test]
fn works_behind_the_container() {
    let (endpoint, requests) = receiver(200);
    let otlp = Arc::new(OtlpSpanStorage::new(OtlpConfig::new(endpoint)));
    let container =
        SpanStorageContainer::new(ContainerConfig::default(), vec![otlp]).expect("container");
    let spans: Vec<Span> = (0..25)
        .map(|i| Span::new_root(SpanType::Base, format!("op{i}")).end_record())
        .collect();
    for span in &spans {
        container.append(span.clone());
    }
    container.flush().expect("flush");
    drop(container);
    let mut names = Vec::new();
    while let Ok(request) = requests.try_recv() {
        for span in request.body["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .expect("spans")
        {
            names.push(span["name"].as_str().expect("name").to_owned());
        }
    }
    let expected: Vec<String> = spans.iter().map(|s| s.operation_name.clone()).collect();
    assert_eq!(names, expected);
}

/// A collector that accepts connections and never answers.
fn hanging_collector() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_hanging_collector_behind_detached_never_holds_up_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spans.jsonl");
    let file: Arc<dyn SpanStorage> =
        Arc::new(span_storage::FileSpanStorage::open(&path).expect("open"));
    // A tiny export timeout keeps the test short; the file must not wait for it at all.
    let config = OtlpConfig::new(hanging_collector()).timeout(std::time::Duration::from_millis(50));
    let otlp = Arc::new(OtlpSpanStorage::detached(config).expect("detached"));
    let container = SpanStorageContainer::new(
        ContainerConfig::default().with_batch_size(5),
        vec![otlp.clone(), file],
    )
    .expect("container");
    for i in 0..25 {
        container.append(Span::new_root(SpanType::Base, format!("op{i}")).end_record());
    }
    container.flush().expect("the file took everything");
    assert_eq!(
        span_storage::read_span_file(&path)
            .expect("read")
            .spans
            .len(),
        25
    );
    let err = otlp
        .flush(std::time::Duration::from_secs(3600))
        .expect_err("the collector never answered");
    assert!(matches!(err, SpanStorageError::NotStored { .. }), "{err}");
    assert_eq!(otlp.written_count(), 0);
    assert_eq!(otlp.failed_count() + otlp.dropped_count(), 25);
}
