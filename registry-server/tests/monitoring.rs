//! The shipped Prometheus rules and Grafana dashboard (`monitoring/`) against a real server's
//! `/metrics`: every metric they name is one the server exports, and `promtool` (Debian's
//! `prometheus` package) accepts the rules and parses the metrics. Without `promtool` the
//! promtool half is skipped with a note, unless `CI=true`, where it is required.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use registry_testkit::server::ServerProcess;

fn monitoring(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("monitoring")
        .join(file)
}

/// The `registry_…` metric names a text mentions, histogram series folded into their family.
fn named_metrics(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("registry_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.insert(family.to_owned());
        rest = &tail[end..];
    }
    names
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is required in CI (Debian package prometheus)"
        );
        println!("SKIPPED: promtool checks (install Debian's prometheus package)");
    }
    found
}

#[test]
fn shipped_rules_and_dashboard_name_only_exported_metrics_and_promtool_accepts_them() {
    let server = ServerProcess::start(
        env!("CARGO_BIN_EXE_registry-server"),
        &["--storage-url", "memory", "--span-file", "off"],
        &[],
    );
    let body = r#"{"model_name":"glm@llm","host":"10.0.0.1","port":8001}"#;
    let (status, _) = server.request("POST", "/api/controller/heartbeat", Some(body));
    assert_eq!(status, 200);
    let (status, metrics) = server.request("GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("registry_model_instances{model=\"glm@llm\",state=\"healthy\"} 1\n"),
        "{metrics}"
    );
    let exported: BTreeSet<String> = metrics
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line[..line.find(['{', ' ']).unwrap_or(line.len())].to_owned())
        .flat_map(|name| named_metrics(&name))
        .collect();

    let rules = std::fs::read_to_string(monitoring("alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(monitoring("grafana-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    for (file, text) in [
        ("alerts.yml", &rules),
        ("grafana-dashboard.json", &dashboard),
    ] {
        let named = named_metrics(text);
        assert!(!named.is_empty(), "{file} names no metric");
        let unknown: Vec<&String> = named.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the server does not export: {unknown:?}"
        );
    }

    let Some(promtool) = promtool() else {
        return;
    };
    let checked = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(monitoring("alerts.yml"))
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let parsed = child.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "promtool check metrics: {parsed:?}"
    );
}
