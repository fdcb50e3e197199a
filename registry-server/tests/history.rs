//! Health history on every backend: the real binary, two servers on one database (SQLite
//! file, and PostgreSQL and MariaDB when reachable, each test on a fresh database of its own).
//! Each server's `/api/controller/history` holds the transitions made through the other, its
//! dashboard marks a flapping instance, and `/metrics` counts transitions by kind.

mod common;

use std::time::Duration;

use common::server::{Server, eventually, start};
use registry_testkit::database::Backend;
use registry_testkit::fresh::FreshDatabase;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn body(model: &str) -> String {
    format!(r#"{{"model_name":"{model}","host":"10.9.8.7","port":8100}}"#)
}

fn json(server: &Server, path: &str) -> Value {
    let (status, text) = server.request("GET", path, None);
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The kinds of the model's transitions a server holds, oldest first.
fn kinds(server: &Server, model: &str) -> Vec<String> {
    let answer = json(
        server,
        &format!("/api/controller/history?model_name={model}&limit=1000"),
    );
    let mut kinds: Vec<String> = answer["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

/// Waits until both servers' histories of `model` end with `kind`.
fn both_saw(servers: &[&Server], model: &str, count: usize, kind: &str) {
    for server in servers {
        let mut last = Vec::new();
        let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(WAIT, || {
                last = kinds(server, model);
                last.len() == count && last.last().is_some_and(|k| k == kind)
            })
        }));
        assert!(
            seen.is_ok(),
            "wanted {count} transitions ending {kind}; saw {last:?}"
        );
    }
}

fn scenario(url: &str) {
    let args = [
        "--storage-url",
        url,
        "--span-file",
        "off",
        "--heartbeat-interval",
        "200ms",
    ];
    let first = start(&args, &[]);
    let second = start(&args, &[]);
    let servers = [&first, &second];
    // Each server's first reading is its baseline; a change after it is a transition.
    let warm_up = format!("warm-up-{}@llm", fastrand::u64(..));
    first.request("POST", "/api/controller/models", Some(&body(&warm_up)));
    for server in servers {
        eventually(WAIT, || {
            json(server, "/api/controller/dashboard?limit=1")["index"]
                .as_u64()
                .is_some_and(|index| index >= 2)
        });
    }

    let model = format!("history-{}@llm", fastrand::u64(..));
    let at = "host=10.9.8.7&port=8100";
    let post = |path: &str, body: &str| {
        let (status, text) = first.request("POST", path, Some(body));
        assert_eq!(status, 200, "{path}: {text}");
    };
    post("/api/controller/models", &body(&model));
    both_saw(&servers, &model, 1, "registered");
    let mark_down = format!("/api/controller/models?model_name={model}&{at}");
    assert_eq!(first.request("DELETE", &mark_down, None).0, 200);
    both_saw(&servers, &model, 2, "deregistered");
    post("/api/controller/heartbeat", &body(&model));
    both_saw(&servers, &model, 3, "recovered");

    // Three health transitions within the window: flapping, on both servers' dashboards.
    for server in servers {
        let view = json(
            server,
            &format!("/api/controller/dashboard?flapping=true&model={model}"),
        );
        assert_eq!(view["instances"]["matched"], 1, "{view}");
        assert_eq!(view["instances"]["rows"][0]["flapping"], 3);
    }

    let settings = |extra: &str| {
        format!(r#"{{"model_name":"{model}","host":"10.9.8.7","port":8100,{extra}}}"#)
    };
    post(
        "/api/controller/models/settings",
        &settings(r#""enabled":false"#),
    );
    both_saw(&servers, &model, 4, "disabled");
    post(
        "/api/controller/models/settings",
        &settings(r#""weight":3.0"#),
    );
    both_saw(&servers, &model, 5, "weight_changed");
    let remove = format!("{mark_down}&remove_from_registry=true");
    assert_eq!(first.request("DELETE", &remove, None).0, 200);
    both_saw(&servers, &model, 6, "deregistered");
    assert_eq!(
        kinds(&second, &model),
        [
            "registered",
            "deregistered",
            "recovered",
            "disabled",
            "weight_changed",
            "deregistered"
        ]
    );
    for server in servers {
        let recovered = server
            .metric("registry_transitions_total{kind=\"recovered\"}")
            .unwrap();
        assert!(recovered >= 1.0, "{recovered}");
    }
    // Bad parameters are a 422 naming the field.
    let (status, text) = first.request("GET", "/api/controller/history?limit=0", None);
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("limit"), "{text}");
}

#[test]
fn sqlite_servers_sharing_a_file_each_see_every_transition() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!(
        "sqlite://{}",
        dir.path().join("registry.db").display()
    ));
}

#[test]
fn postgres_servers_each_see_every_transition() {
    if let Some(db) = FreshDatabase::if_compiled(Backend::Postgres, cfg!(feature = "postgres")) {
        scenario(db.url());
    }
}

#[test]
fn mariadb_servers_each_see_every_transition() {
    if let Some(db) = FreshDatabase::if_compiled(Backend::Mysql, cfg!(feature = "mysql")) {
        scenario(db.url());
    }
}
