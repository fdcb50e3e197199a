//! End-to-end: the real binary on a free port.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::server::{Server, eventually, start};
use registry_testkit::http::Client;

const BODY: &str = r#"{"model_name":"glm-4-9b-chat@llm","host":"172.17.0.2","port":8001,"weight":1.0,"check_healthy":true,"healthy":false,"enabled":true,"prompt_template":null,"last_heartbeat":null,"remove_from_registry":false}"#;

fn instances(server: &Server, query: &str) -> Vec<serde_json::Value> {
    let (status, body) = server.request("GET", &format!("/api/controller/models{query}"), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn memory_server_serves_every_route_and_exits_0_on_sigterm() {
    let server = start(&["--storage-url", "memory", "--span-file", "off"], &[]);
    assert_eq!(
        server.request("GET", "/api/health", None),
        (200, r#"{"status":"ok"}"#.to_owned())
    );
    assert_eq!(
        server.request("POST", "/api/controller/models", Some(BODY)),
        (200, "true".to_owned())
    );
    assert_eq!(
        server.request("POST", "/api/controller/heartbeat", Some(BODY)),
        (200, "true".to_owned())
    );
    assert_eq!(instances(&server, "?healthy_only=true").len(), 1);
    let delete = "/api/controller/models?model_name=glm-4-9b-chat@llm&host=172.17.0.2&port=8001";
    assert_eq!(
        server.request("DELETE", delete, None),
        (200, "true".to_owned())
    );
    assert_eq!(instances(&server, "?healthy_only=true").len(), 0);
    let (status, metrics) = server.request("GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(metrics.contains("registry_heartbeats_total 1"));
    let (status, body) = server.request("POST", "/api/controller/heartbeat", Some("{"));
    assert_eq!(status, 422, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["detail"][0]["type"], "json_invalid", "{body}");
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_checker_marks_a_silent_instance_unhealthy() {
    let server = start(
        &[
            "--storage-url",
            "memory",
            "--span-file",
            "off",
            "--heartbeat-interval",
            "20ms",
            "--heartbeat-timeout",
            "50ms",
        ],
        &[],
    );
    server.request("POST", "/api/controller/models", Some(BODY));
    eventually(Duration::from_secs(30), || {
        instances(&server, "?healthy_only=true").is_empty()
    });
    assert_eq!(
        instances(&server, "").len(),
        1,
        "expired instances stay listed"
    );
    server.request("POST", "/api/controller/heartbeat", Some(BODY));
    let (_, metrics) = server.request("GET", "/metrics", None);
    assert!(!metrics.contains("registry_expired_total 0"), "{metrics}");
}

#[test]
fn token_guards_writes_of_the_real_server() {
    let server = start(
        &["--storage-url", "memory", "--span-file", "off"],
        &[("REGISTRY_TOKEN", "s3cret")],
    );
    let (status, body) = server.request("POST", "/api/controller/models", Some(BODY));
    assert_eq!(status, 401, "{body}");
    let headers = [("Authorization", "Bearer s3cret")];
    let (status, _) =
        server
            .client()
            .request_with("POST", "/api/controller/models", Some(BODY), &headers);
    assert_eq!(status, 200);
}

fn check_config(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-server"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REGISTRY_") {
            command.env_remove(key);
        }
    }
    let output = command
        .args(args)
        .arg("check-config")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn flags_beat_environment_which_beats_the_file_and_secrets_are_masked() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "pool_size = 2\nspan_batch_size = 3\nlog_level = \"debug\"\nstorage_url = \"postgres://reg:filepass@db/registry\"").unwrap();
    let path = file.path().to_str().unwrap();
    let env = [
        ("REGISTRY_POOL_SIZE", "5"),
        ("REGISTRY_SPAN_BATCH_SIZE", "6"),
        ("REGISTRY_TOKEN", "t0ken"),
        ("REGISTRY_STORAGE_WAIT", "2m"),
    ];
    let printed = check_config(&["--config", path, "--pool-size", "9"], &env);
    assert!(printed.contains("pool_size = 9\n"), "{printed}");
    assert!(printed.contains("span_batch_size = 6\n"), "{printed}");
    assert!(printed.contains("log_level = \"debug\"\n"), "{printed}");
    assert!(
        printed.contains("heartbeat_interval = \"20s\"\n"),
        "{printed}"
    );
    assert!(printed.contains("storage_wait = \"120s\"\n"), "{printed}");
    let defaults = check_config(&[], &[]);
    assert!(defaults.contains("storage_wait = \"30s\"\n"), "{defaults}");
    assert!(
        printed.contains("storage_url = \"postgres://reg:***@db/registry\""),
        "{printed}"
    );
    assert!(
        !printed.contains("t0ken") && !printed.contains("filepass"),
        "{printed}"
    );
}

#[test]
fn help_lists_every_setting_and_a_bad_setting_fails_to_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--heartbeat-interval",
        "--removal-timeout",
        "--storage-url",
        "--pool-size",
        "--pool-timeout",
        "--storage-wait",
        "--span-file",
        "--span-batch-size",
        "--token",
        "--log-level",
        "check-config",
        "migrate",
        "serve",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
    assert!(help.contains("REGISTRY_STORAGE_WAIT"), "{help}");
    assert!(help.contains("[default: 30s]"), "{help}");
    let output = Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args([
            "check-config",
            "--storage-url",
            "memory",
            "--log-level",
            "shouting",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("log_level"));
}

#[test]
fn sigterm_writes_every_queued_span_before_exiting_0() {
    let dir = tempfile::tempdir().unwrap();
    let span_file = dir.path().join("nested/folder/tracer.jsonl");
    let server = start(
        &[
            "--storage-url",
            "memory",
            "--span-file",
            span_file.to_str().unwrap(),
            "--span-batch-size",
            "1000",
            "--span-flush-interval",
            "1h",
        ],
        &[],
    );
    let parent = "0123456789abcdef0123456789abcdef:0123456789abcdef";
    let headers = [("DB-GPT-Trace-Span-Id", parent)];
    let (status, _) =
        server
            .client()
            .request_with("POST", "/api/controller/models", Some(BODY), &headers);
    assert_eq!(status, 200);
    server.request("POST", "/api/controller/heartbeat", Some(BODY));
    server.request(
        "DELETE",
        "/api/controller/models?model_name=glm-4-9b-chat@llm&host=172.17.0.2&port=8001",
        None,
    );
    server.request("GET", "/api/controller/models", None);
    assert_eq!(server.terminate().code(), Some(0));

    let contents = span_storage::read_span_file(&span_file).unwrap();
    assert!(contents.bad_lines.is_empty() && !contents.torn_last_line);
    // Register and deregister: a request span and an operation span each; the listing: one
    // request span; the heartbeat: none. Every span has a start and an end record.
    assert_eq!(contents.spans.len(), 10, "{:?}", contents.spans);
    let ends: Vec<_> = contents
        .spans
        .iter()
        .filter(|s| s.end_time.is_some())
        .collect();
    assert_eq!(ends.len(), 5);
    let operations: Vec<&str> = ends.iter().map(|s| s.operation_name.as_str()).collect();
    assert!(operations.contains(&"dbgpt.model.controller.register_instance"));
    assert!(operations.contains(&"dbgpt.model.controller.deregister_instance"));
    assert!(
        ends.iter()
            .any(|s| s.parent_span_id.as_deref() == Some(parent))
    );
}

/// Polls until the server has dropped its listener: a new connection is refused.
fn refuses_connections(server: &Server) {
    eventually(Duration::from_secs(30), || {
        TcpStream::connect(server.addr).is_err()
    });
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_exits_0() {
    let server = start(&["--storage-url", "memory", "--span-file", "off"], &[]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /api/controller/heartbeat HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        BODY.len()
    );
    let (first, rest) = BODY.split_at(BODY.len() / 2);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first.as_bytes()).unwrap();
    stream.flush().unwrap();
    // The handler is waiting for the rest of the body.
    let in_flight = "registry_http_requests_in_flight{route=\"heartbeat\"}";
    eventually(Duration::from_secs(30), || {
        server.metric(in_flight) == Some(1.0)
    });

    server.signal("TERM");
    refuses_connections(&server);
    stream.write_all(rest.as_bytes()).unwrap();
    // The server closes the connection after this answer: it is read to its end.
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(body, "true", "{answer}");
    assert_eq!(server.wait().code(), Some(0));
}

#[test]
fn sigterm_ends_a_long_poll_at_once_instead_of_waiting_out_its_timeout() {
    let server = start(&["--storage-url", "memory", "--span-file", "off"], &[]);
    assert_eq!(
        server.request("POST", "/api/controller/models", Some(BODY)),
        (200, "true".to_owned())
    );
    // Poll until the feed has read the registration: a short poll times out on its index.
    let watch = |index: u64, timeout: &str| {
        let path = format!("/api/controller/watch?index={index}&timeout={timeout}");
        let (status, body) = server.request("GET", &path, None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let mut first = watch(0, "0s");
    let mut index = first["index"].as_u64().unwrap();
    loop {
        first = watch(index, "100ms");
        match first["index"].as_u64().unwrap() {
            same if same == index => break,
            moved => index = moved,
        }
    }
    assert_eq!(first["instances"].as_array().unwrap().len(), 1, "{first}");
    // The poll would wait five minutes; the client gives up after 30 s (the test kit's
    // client timeout), so an answer shows the server ended it.
    let client = Client::new(server.addr);
    let watcher = std::thread::spawn(move || {
        let path = format!("/api/controller/watch?index={index}&timeout=5m");
        client.request("GET", &path, None)
    });
    let in_flight = "registry_http_requests_in_flight{route=\"watch\"}";
    eventually(Duration::from_secs(30), || {
        server.metric(in_flight) == Some(1.0)
    });

    let exit = server.terminate();
    let (status, body) = watcher.join().expect("the long poll got no answer");
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["index"].as_u64(), Some(index), "{answer}");
    assert_eq!(answer["instances"], first["instances"]);
    assert_eq!(exit.code(), Some(0));
}
