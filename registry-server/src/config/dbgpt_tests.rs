//! DB-GPT's controller files (`tests/fixtures/dbgpt/`) read through `--config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser as _;

use super::{Cli, IgnoredSetting, Settings};

fn fixture(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dbgpt");
    dir.join(name).display().to_string()
}

fn resolve(args: &[&str]) -> (Settings, Vec<IgnoredSetting>) {
    let cli = Cli::try_parse_from([&["registry-server"], args].concat()).unwrap();
    Settings::resolve_noting(&cli.settings).unwrap()
}

fn keys(ignored: &[IgnoredSetting], read_by_controller: bool) -> Vec<&str> {
    let wanted = ignored
        .iter()
        .filter(|setting| setting.read_by_dbgpt_controller == read_by_controller);
    wanted.map(|setting| setting.key.as_str()).collect()
}

#[test]
fn a_sqlite_registry_file_sets_address_heartbeats_storage_trace_and_log() {
    let (settings, ignored) = resolve(&["--config", &fixture("controller-sqlite.toml")]);
    assert_eq!(settings.listen, "127.0.0.1:8000".parse().unwrap());
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(20));
    assert_eq!(settings.heartbeat_timeout, Duration::from_secs(60));
    assert_eq!(
        settings.storage_url,
        "sqlite://pilot/meta_data/dbgpt_registry.db"
    );
    let span_file = PathBuf::from("logs/dbgpt_model_controller_tracer.jsonl");
    assert_eq!(settings.span_file, Some(span_file));
    // `${env:…:-WARNING}` with the variable unset is its default, Python's WARNING.
    assert_eq!(settings.log_level, "warn");
    assert_eq!(
        keys(&ignored, true),
        ["log.file", "trace.root_operation_name"]
    );
    let other_services = ["models", "service.model.api", "service.model.worker"];
    let sections = [&other_services[..], &["service.web", "system"]].concat();
    assert_eq!(keys(&ignored, false), sections);
}

#[test]
fn a_mysql_registry_file_encodes_the_password_and_warns_of_unknown_keys() {
    let (settings, ignored) = resolve(&["--config", &fixture("controller-mysql.toml")]);
    assert_eq!(settings.listen, "0.0.0.0:8010".parse().unwrap());
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(5));
    assert_eq!(settings.heartbeat_timeout, Duration::from_secs(15));
    let url = "mysql://dbgpt:p%40ss%3Aw%2Frd@db.internal:3306/dbgpt";
    assert_eq!(settings.storage_url, url);
    assert_eq!(settings.pool_size, 6);
    assert_eq!(settings.pool_timeout, Duration::from_secs(30));
    assert_eq!(settings.log_level, "debug");
    let span_file = PathBuf::from("/var/log/dbgpt/controller_tracer.jsonl");
    assert_eq!(settings.span_file, Some(span_file));
    let controller = "service.model.controller";
    let unsupported: Vec<String> = [
        "daemon",
        "registry.database.driver",
        "registry.database.max_overflow",
        "trace.exporter",
        "unknown_key",
    ]
    .iter()
    .map(|key| format!("{controller}.{key}"))
    .collect();
    assert_eq!(keys(&ignored, true), unsupported);
    assert_eq!(keys(&ignored, false), ["hooks"]);
    let warning = ignored
        .iter()
        .find(|s| s.key.ends_with("unknown_key"))
        .unwrap();
    assert!(
        warning
            .to_string()
            .contains("service.model.controller.unknown_key")
    );
}

#[test]
fn a_file_without_a_registry_is_the_embedded_in_memory_registry() {
    let (settings, ignored) = resolve(&["--config", &fixture("controller-embedded.toml")]);
    assert_eq!(settings.storage_url, "memory");
    assert_eq!(settings.listen, "0.0.0.0:8000".parse().unwrap());
    assert!(ignored.is_empty());
}

#[test]
fn a_registry_table_without_a_database_is_the_embedded_registry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dbgpt.toml");
    std::fs::write(&path, "[service.model.controller.registry]\nkind = \"x\"").unwrap();
    let (settings, ignored) = resolve(&["--config", path.to_str().unwrap()]);
    assert_eq!(settings.storage_url, "memory");
    assert_eq!(
        keys(&ignored, true),
        ["service.model.controller.registry.kind"]
    );
}

#[test]
fn flags_override_the_dbgpt_file() {
    let path = fixture("controller-mysql.toml");
    let args = ["--config", &path, "--heartbeat-timeout", "90s"];
    let (settings, _) = resolve(&[&args[..], &["--storage-url", "memory"]].concat());
    assert_eq!(settings.heartbeat_timeout, Duration::from_secs(90));
    assert_eq!(settings.storage_url, "memory");
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(5));
}

#[test]
fn wrong_values_in_a_dbgpt_file_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (text, named) in [
        ("[service.model.controller]\nport = 70000", "port"),
        (
            "[service.model.controller]\nheartbeat_timeout_secs = -1",
            "heartbeat_timeout_secs",
        ),
        (
            "[service.model.controller.log]\nlevel = \"LOUD\"",
            "log.level",
        ),
        (
            "[service.model.controller.registry.database]\ntype = \"sqlite\"",
            "path",
        ),
    ] {
        let path = dir.path().join("dbgpt.toml");
        std::fs::write(&path, text).unwrap();
        let cli = Cli::try_parse_from(["registry-server", "--config", path.to_str().unwrap()]);
        let error = Settings::resolve(&cli.unwrap().settings).unwrap_err();
        assert!(error.to_string().contains(named), "{error}");
    }
}
