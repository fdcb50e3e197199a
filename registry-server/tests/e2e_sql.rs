//! End-to-end over SQL storage: the real binary on SQLite, and on PostgreSQL and MariaDB when
//! the backend's feature is on, each test on a fresh database of its own (the test kit's,
//! found through `REGISTRY_TEST_POSTGRES_URL` / `REGISTRY_TEST_MYSQL_URL`), so no server's
//! checker sweeps another test's rows. An unreachable database is skipped with a note, except
//! when `CI=true` or its variable is set, where it fails.
//! Waiting at start for a database that is not up (`--storage-wait`) is tested against a port
//! where nothing listens, with the PostgreSQL feature on.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::server::{Server, Starting, eventually, spawn, start};
use registry_testkit::database::{self, Backend};
use registry_testkit::fresh::FreshDatabase;
use registry_testkit::proxy::Proxy;
use serde_json::Value;

fn body(model: &str, port: u16) -> String {
    format!(
        r#"{{"model_name":"{model}","host":"10.1.2.3","port":{port},"weight":1.0,"check_healthy":true,"healthy":false,"enabled":true,"prompt_template":null,"last_heartbeat":null,"remove_from_registry":false}}"#
    )
}

fn listing(server: &Server, query: &str) -> Vec<Value> {
    let (status, text) = server.request("GET", &format!("/api/controller/models?{query}"), None);
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A model name no other test or run uses.
fn unique_model() -> String {
    format!("e2e-{}-{}@llm", std::process::id(), fastrand::u64(..))
}

/// Register, heartbeat, list, deregister, restart on the same database, remove.
fn scenario(url: &str) {
    let model = unique_model();
    let server = start(&["--storage-url", url, "--span-file", "off"], &[]);
    for port in [8001, 8002] {
        assert_eq!(
            server.request("POST", "/api/controller/models", Some(&body(&model, port))),
            (200, "true".into())
        );
    }
    assert_eq!(
        server.request(
            "POST",
            "/api/controller/heartbeat",
            Some(&body(&model, 8003))
        ),
        (200, "true".into())
    );
    // Re-registering makes no duplicate row.
    server.request("POST", "/api/controller/models", Some(&body(&model, 8001)));
    assert_eq!(listing(&server, &format!("model_name={model}")).len(), 3);
    let delete = format!("/api/controller/models?model_name={model}&host=10.1.2.3&port=8002");
    assert_eq!(server.request("DELETE", &delete, None).0, 200);
    assert_eq!(
        listing(&server, &format!("model_name={model}&healthy_only=true")).len(),
        2
    );
    assert_eq!(server.terminate().code(), Some(0));

    let server = start(&["--storage-url", url, "--span-file", "off"], &[]);
    let kept = listing(&server, &format!("model_name={model}"));
    assert_eq!(kept.len(), 3, "instances survive a restart");
    assert!(
        kept.iter()
            .any(|i| i["port"] == 8002 && i["healthy"] == false)
    );
    for port in [8001, 8002, 8003] {
        let remove = format!(
            "/api/controller/models?model_name={model}&host=10.1.2.3&port={port}&remove_from_registry=true"
        );
        assert_eq!(server.request("DELETE", &remove, None).0, 200);
    }
    assert!(listing(&server, &format!("model_name={model}")).is_empty());
    assert_eq!(server.terminate().code(), Some(0));
}

fn run(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_registry-server"))
        .args(args)
        .current_dir(dir)
        .env_remove("REGISTRY_STORAGE_URL")
        .env_remove("REGISTRY_CONFIG")
        .output()
        .unwrap()
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_serves_persists_and_creates_its_folders() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/registry.db").display()
    );
    scenario(&url);
}

#[cfg(feature = "sqlite")]
#[test]
fn the_default_storage_is_a_sqlite_file_under_data_and_migrate_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(&["migrate"], dir.path());
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    assert!(dir.path().join("data/registry.db").exists());
    let second = run(&["migrate"], dir.path());
    assert!(String::from_utf8_lossy(&second.stdout).contains("no pending migrations"));
}

#[test]
fn an_unreachable_database_fails_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    for url in [
        "postgres://u:secret@127.0.0.1:9/registry",
        "mysql://u:secret@127.0.0.1:9/registry",
        "redis://127.0.0.1",
    ] {
        let output = run(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--storage-url",
                url,
                "--pool-timeout",
                "1s",
                "--storage-wait",
                "0s",
            ],
            dir.path(),
        );
        assert!(!output.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
        assert!(stderr.contains("storage"), "{stderr}");
    }
}

/// A fresh database on an external server, or `None`, with a note, when this build lacks the
/// backend (the features choose the backends a run covers) or the test kit's policy skips it.

#[test]
fn postgres_serves_and_persists() {
    if let Some(db) = FreshDatabase::if_compiled(Backend::Postgres, cfg!(feature = "postgres")) {
        scenario(db.url());
    }
}

#[test]
fn mariadb_serves_and_persists() {
    if let Some(db) = FreshDatabase::if_compiled(Backend::Mysql, cfg!(feature = "mysql")) {
        scenario(db.url());
    }
}

/// The database goes away mid-run: writes and reads answer 503 JSON (within the pool timeout,
/// not hanging), health stays up, and service comes back by itself with the database.
fn outage(url: &str) {
    let proxy = Proxy::for_url(url);
    let proxied = proxy.url(url);
    let model = unique_model();
    let server = start(
        &[
            "--storage-url",
            &proxied,
            "--span-file",
            "off",
            "--pool-timeout",
            "1s",
            "--pool-size",
            "2",
        ],
        &[],
    );
    assert_eq!(
        server
            .request("POST", "/api/controller/heartbeat", Some(&body(&model, 1)))
            .0,
        200
    );

    proxy.cut();
    let (status, text) =
        server.request("POST", "/api/controller/heartbeat", Some(&body(&model, 1)));
    assert_eq!(status, 503, "{text}");
    assert!(serde_json::from_str::<Value>(&text).unwrap()["detail"].is_string());
    assert_eq!(
        server
            .request(
                "GET",
                &format!("/api/controller/models?model_name={model}"),
                None
            )
            .0,
        503
    );
    assert_eq!(server.request("GET", "/api/health", None).0, 200);

    proxy.restore();
    eventually(Duration::from_secs(60), || {
        server
            .request("POST", "/api/controller/heartbeat", Some(&body(&model, 1)))
            .0
            == 200
    });
    let remove = format!(
        "/api/controller/models?model_name={model}&host=10.1.2.3&port=1&remove_from_registry=true"
    );
    assert_eq!(server.request("DELETE", &remove, None).0, 200);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn postgres_outage_answers_503_and_recovers() {
    if let Some(db) = FreshDatabase::if_compiled(Backend::Postgres, cfg!(feature = "postgres")) {
        outage(db.url());
    }
}

#[test]
fn mariadb_outage_answers_503_and_recovers() {
    if let Some(db) = FreshDatabase::if_compiled(Backend::Mysql, cfg!(feature = "mysql")) {
        outage(db.url());
    }
}

/// Whether this build has the PostgreSQL backend; a note when it does not.
fn postgres_compiled() -> bool {
    if !cfg!(feature = "postgres") {
        eprintln!("note: skipping: this build lacks the postgres feature");
    }
    cfg!(feature = "postgres")
}

/// A local port where nothing listens: a connection to it is refused at once.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the server logs for each failed attempt while it waits for its database.
const RETRYING: &str = "storage unavailable, retrying";

/// Starts the server on the database at `url`, waiting at most `storage_wait` for it.
fn start_waiting(url: &str, storage_wait: &str) -> Starting {
    spawn(
        &[
            "--storage-url",
            url,
            "--pool-timeout",
            "1s",
            "--storage-wait",
            storage_wait,
        ],
        &[],
    )
}

#[test]
fn an_unreachable_database_with_no_storage_wait_fails_at_once() {
    if !postgres_compiled() {
        return;
    }
    let port = free_port();
    let url = format!("postgres://u:secret@127.0.0.1:{port}/registry");
    let server = start_waiting(&url, "0s");
    let (status, stderr) = server.exit(Duration::from_secs(60));
    assert!(!status.success(), "{stderr}");
    let named = format!("cannot open storage postgres://u:***@127.0.0.1:{port}/registry");
    assert!(stderr.contains(&named), "{stderr}");
    assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
    assert!(!stderr.contains(RETRYING), "{stderr}");
}

#[test]
fn an_unreachable_database_is_retried_until_the_storage_wait_has_passed() {
    if !postgres_compiled() {
        return;
    }
    let port = free_port();
    let url = format!("postgres://u:secret@127.0.0.1:{port}/registry");
    let server = start_waiting(&url, "3s");
    let (status, stderr) = server.exit(Duration::from_secs(60));
    assert!(!status.success(), "{stderr}");
    let retry = stderr
        .lines()
        .find(|line| line.contains(RETRYING))
        .unwrap_or_else(|| panic!("no retry logged: {stderr}"));
    assert!(retry.contains("WARN"), "{retry}");
    assert!(
        retry.contains(&format!("postgres://u:***@127.0.0.1:{port}/registry")),
        "{retry}"
    );
    assert!(
        stderr.contains("still unavailable after waiting 3s (storage_wait)"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
}

#[test]
fn a_malformed_database_url_is_not_waited_for() {
    if !postgres_compiled() {
        return;
    }
    let server = start_waiting("postgres://u@127.0.0.1:notaport/registry", "10m");
    // Ten minutes of waiting would outlast the limit: exiting shows it did not wait.
    let (status, stderr) = server.exit(Duration::from_secs(60));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("cannot open storage"), "{stderr}");
    assert!(!stderr.contains(RETRYING), "{stderr}");
}

#[test]
fn sigterm_while_waiting_for_the_database_exits_0() {
    if !postgres_compiled() {
        return;
    }
    let url = format!("postgres://u@127.0.0.1:{}/registry", free_port());
    let mut server = start_waiting(&url, "10m");
    server.wait_for_log(RETRYING, Duration::from_secs(60));
    server.signal("TERM");
    // Ten minutes of waiting would outlast the limit: exiting shows the signal ended it.
    let (status, stderr) = server.exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// The database comes up while the server waits for it: a forwarder to the real database
/// starts listening on the port the server was refused on.
#[test]
fn a_database_that_comes_up_during_the_storage_wait_is_used() {
    let Some(db) = FreshDatabase::if_compiled(Backend::Postgres, cfg!(feature = "postgres")) else {
        return;
    };
    let port = free_port();
    let forwarded = database::with_address(db.url(), ([127, 0, 0, 1], port).into());
    // One connection: the pool then never opens one in the background. A PostgreSQL
    // connection still being opened (TLS) when the process exits can crash in OpenSSL's exit
    // handler, which this test is not about.
    let mut starting = spawn(
        &[
            "--storage-url",
            &forwarded,
            "--span-file",
            "off",
            "--pool-timeout",
            "1s",
            "--pool-size",
            "1",
            "--storage-wait",
            "10m",
        ],
        &[],
    );
    starting.wait_for_log(RETRYING, Duration::from_secs(60));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port was taken meanwhile");
    let database = database::server_address(db.url()).expect("the database's address");
    let _proxy = Proxy::listen(listener, database);
    let server = starting.listening(Duration::from_secs(60));
    let model = unique_model();
    assert_eq!(
        server.request("POST", "/api/controller/heartbeat", Some(&body(&model, 1))),
        (200, "true".into())
    );
    assert_eq!(listing(&server, &format!("model_name={model}")).len(), 1);
    let remove = format!(
        "/api/controller/models?model_name={model}&host=10.1.2.3&port=1&remove_from_registry=true"
    );
    let (status, text) = server.request("DELETE", &remove, None);
    assert_eq!(status, 200, "{text}");
    let exit = server.terminate();
    assert_eq!(exit.code(), Some(0), "{exit}");
}
