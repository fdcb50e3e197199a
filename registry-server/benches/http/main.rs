//! Heartbeats over HTTP: registry-server on memory and SQLite (and PostgreSQL or MariaDB when
//! `REGISTRY_TEST_POSTGRES_URL` / `REGISTRY_TEST_MYSQL_URL` are set and the feature is on),
//! side by side with a bare reference server (the same axum, hyper and tokio answering `true`
//! after parsing the body, see `bare.rs`) and DB-GPT's own controller, all in the same run.
//! Each figure is printed beside the bare server's, as a ratio with its goal; the bare server is
//! measured just before each of a server's runs, so that both see the same load.
//!
//! For each server: time from process start to the first answered request, resident memory
//! idle, heartbeat requests/s and p99 latency under `wrk -t2 -c16 --latency` with
//! `benches/heartbeat.lua`, and resident memory holding 10,000 instances.
//!
//! Run: `cargo bench -p registry-server --bench http` (or `cargo xtask bench`). Needs `wrk` on
//! the PATH. Settings: `REGISTRY_BENCH_SECONDS` (wrk duration, default 10),
//! `REGISTRY_BENCH_RUNS` (wrk runs per server, the best one reported, default 3) and
//! `REGISTRY_BENCH_PEER_PYTHON` (a Python with `dbgpt==0.8.2`, fastapi and uvicorn; default
//! `target/peer-venv/bin/python` when it exists; DB-GPT's figures are skipped without one, or
//! with `REGISTRY_BENCH_PEER=off`).

mod bare;
mod report;
mod subject;
mod wrk;

use std::path::{Path, PathBuf};

use subject::Subject;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once as a smoke
    // test, which only needs one short run of each server.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let seconds: u64 = std::env::var("REGISTRY_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if measuring { 10 } else { 1 });
    let runs: u32 = std::env::var("REGISTRY_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if measuring { 3 } else { 1 });
    let dir = tempfile::tempdir().expect("temporary directory");
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_registry-server"));
    let sqlite = |file: &str| format!("sqlite://{}", dir.path().join(file).display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/heartbeat.lua");
    if !wrk::available() {
        println!(
            "note: wrk is not installed (Debian: apt-get install wrk); throughput is not measured"
        );
    }

    let mut subjects = vec![
        Subject::ours("registry-server memory", &binary, "memory", dir.path(), &[]),
        Subject::ours(
            "registry-server sqlite",
            &binary,
            &sqlite("registry.db"),
            dir.path(),
            &[],
        ),
        Subject::ours(
            "registry-server sqlite+c5s",
            &binary,
            &sqlite("coalesced.db"),
            dir.path(),
            &["--heartbeat-coalesce", "5s"],
        ),
    ];
    for (name, var, compiled) in [
        (
            "registry-server postgres",
            "REGISTRY_TEST_POSTGRES_URL",
            cfg!(feature = "postgres"),
        ),
        (
            "registry-server mysql",
            "REGISTRY_TEST_MYSQL_URL",
            cfg!(feature = "mysql"),
        ),
    ] {
        if let (Ok(url), true) = (std::env::var(var), compiled) {
            subjects.push(Subject::ours(name, &binary, &url, dir.path(), &[]));
        }
    }
    match peer_python() {
        Some(python) => {
            let server =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/dbgpt_controller_server.py");
            subjects.push(Subject::peer(
                "DB-GPT 0.8.2 memory",
                &python,
                &server,
                "memory",
            ));
            let db = dir.path().join("dbgpt-registry.db");
            subjects.push(Subject::peer(
                "DB-GPT 0.8.2 sqlite",
                &python,
                &server,
                db.to_str().unwrap_or("registry.db"),
            ));
        }
        None if std::env::var("REGISTRY_BENCH_PEER").is_ok_and(|v| v == "off") => {
            println!("note: REGISTRY_BENCH_PEER=off; DB-GPT's figures are skipped")
        }
        None => println!(
            "note: no Python with dbgpt==0.8.2 (set REGISTRY_BENCH_PEER_PYTHON or run `cargo xtask bench`); DB-GPT's figures are skipped"
        ),
    }

    println!("(sqlite+c5s: SQLite with --heartbeat-coalesce 5s)");
    println!(
        "\nheartbeats over HTTP: wrk -t2 -c16 -d{seconds}s --latency, best of {runs}, 100 instances; 2-core machine, load generator included; before each run, one on the bare server\n"
    );
    println!(
        "{:<26} {:>12} {:>9} {:>11} {:>14} {:>11}",
        "server", "req/s", "p99 ms", "RSS idle MB", "RSS 10k inst MB", "start ms"
    );
    let bare = start_bare();
    let mut results = Vec::new();
    for subject in &subjects {
        match subject.measure(&script, seconds, runs, bare.as_ref().map(|b| b.addr())) {
            Ok(figures) => {
                println!("{}", figures.row(subject.name()));
                results.push((subject.name().to_owned(), figures));
            }
            Err(error) => println!("{:<26} failed: {error}", subject.name()),
        }
    }
    report::print_bare(&results);
    report::print_targets(&results);
    report::print_ratios(&results);
}

/// The bare reference server, when wrk can measure it.
fn start_bare() -> Option<bare::BareServer> {
    if !wrk::available() {
        return None;
    }
    match bare::BareServer::start() {
        Ok(server) => Some(server),
        Err(error) => {
            println!("note: the bare reference server cannot start: {error}; no ratios");
            None
        }
    }
}

fn peer_python() -> Option<PathBuf> {
    if std::env::var("REGISTRY_BENCH_PEER").is_ok_and(|v| v == "off") {
        return None;
    }
    if let Ok(python) = std::env::var("REGISTRY_BENCH_PEER_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peer-venv/bin/python");
    venv.exists().then_some(venv)
}
