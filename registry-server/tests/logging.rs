//! `--log-format json`: one JSON object per log line, on the real binary.

use std::time::Duration;

use registry_testkit::server::Starting;

#[test]
fn json_logs_are_one_object_per_line() {
    // Not the kit's `serve_command`, which logs at `warn`: this test reads the `info` lines.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_registry-server"));
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--storage-url",
        "memory",
        "--span-file",
        "off",
        "--log-level",
        "info",
        "--log-format",
        "json",
    ]);
    let server = Starting::spawn(command)
        .expect("start registry-server")
        .listening(Duration::from_secs(30));
    server.signal("TERM");
    let (status, stderr) = server.exit(Duration::from_secs(30));
    assert!(status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["message"].as_str())
        .collect();
    for wanted in ["storage open", "listening", "stopped"] {
        assert!(
            messages.contains(&wanted),
            "{wanted} missing from {messages:?}"
        );
    }
    let listening = lines
        .iter()
        .find(|line| line["fields"]["message"] == "listening")
        .unwrap();
    assert_eq!(listening["level"], "INFO");
    assert!(listening["timestamp"].is_string());
    assert!(listening["fields"]["addr"].is_string(), "{listening}");
}

#[test]
fn an_unknown_log_format_is_refused_by_name() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(["check-config", "--log-format", "xml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("log format") && stderr.contains("xml"),
        "{stderr}"
    );
}
