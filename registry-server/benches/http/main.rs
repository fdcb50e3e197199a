//! Heartbeats over HTTP: registry-server on memory and SQLite (and PostgreSQL or MariaDB when
//! `REGISTRY_TEST_POSTGRES_URL` / `REGISTRY_TEST_MYSQL_URL` are set and the feature is on),
//! side by side with DB-GPT's own controller in the same run.
//!
//! For each server: time from process start to the first answered request, resident memory
//! idle, heartbeat requests/s and p99 latency under `wrk -t2 -c16 --latency` with
//! `benches/heartbeat.lua`, and resident memory holding 10,000 instances.
//!
//! Run: `cargo bench -p registry-server --bench http` (or `cargo xtask bench`). Needs `wrk` on
//! the PATH. Settings: `REGISTRY_BENCH_SECONDS` (wrk duration, default 10),
//! `REGISTRY_BENCH_RUNS` (wrk runs per server, the best one reported, default 3) and
//! `REGISTRY_BENCH_PEER_PYTHON` (a Python with `dbgpt==0.8.2`, fastapi and uvicorn; default
//! `target/peer-venv/bin/python` when it exists; DB-GPT's figures are skipped without one).

mod client;
mod subject;
mod wrk;

use std::path::{Path, PathBuf};

use subject::{Figures, Subject};

/// The targets for registry-server on this class of machine (2 cores).
const TARGET_MEMORY_RPS: f64 = 30_000.0;
const TARGET_SQLITE_RPS: f64 = 10_000.0;
const TARGET_P99_MS: f64 = 5.0;
const TARGET_IDLE_RSS_MB: f64 = 20.0;
const TARGET_FULL_RSS_MB: f64 = 60.0;
const TARGET_START_MS: f64 = 200.0;

fn main() {
    let seconds: u64 = std::env::var("REGISTRY_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let runs: u32 = std::env::var("REGISTRY_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
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
        None => println!(
            "note: no Python with dbgpt==0.8.2 (set REGISTRY_BENCH_PEER_PYTHON or run `cargo xtask bench`); DB-GPT's figures are skipped"
        ),
    }

    println!("(sqlite+c5s: SQLite with --heartbeat-coalesce 5s)");
    println!(
        "\nheartbeats over HTTP: wrk -t2 -c16 -d{seconds}s --latency, best of {runs}, 100 instances; 2-core machine, load generator included\n"
    );
    println!(
        "{:<26} {:>12} {:>9} {:>11} {:>14} {:>11}",
        "server", "req/s", "p99 ms", "RSS idle MB", "RSS 10k inst MB", "start ms"
    );
    let mut results = Vec::new();
    for subject in &subjects {
        match subject.measure(&script, seconds, runs) {
            Ok(figures) => {
                println!("{}", figures.row(subject.name()));
                results.push((subject.name().to_owned(), figures));
            }
            Err(error) => println!("{:<26} failed: {error}", subject.name()),
        }
    }
    print_targets(&results);
}

fn peer_python() -> Option<PathBuf> {
    if let Ok(python) = std::env::var("REGISTRY_BENCH_PEER_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peer-venv/bin/python");
    venv.exists().then_some(venv)
}

fn print_targets(results: &[(String, Figures)]) {
    println!("\ntargets (registry-server):");
    let find = |name: &str| results.iter().find(|(n, _)| n == name).map(|(_, f)| f);
    let check = |what: &str, value: Option<f64>, target: f64, at_least: bool| {
        let verdict = match value {
            Some(v) if (at_least && v >= target) || (!at_least && v <= target) => "met",
            Some(_) => "MISSED",
            None => "not measured",
        };
        let shown = value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        let op = if at_least { ">=" } else { "<=" };
        println!("  {what:<34} {shown:>10}  {op} {target:<8} {verdict}");
    };
    let memory = find("registry-server memory");
    let sqlite = find("registry-server sqlite");
    check(
        "memory heartbeats req/s",
        memory.and_then(|f| f.rps),
        TARGET_MEMORY_RPS,
        true,
    );
    check(
        "sqlite heartbeats req/s",
        sqlite.and_then(|f| f.rps),
        TARGET_SQLITE_RPS,
        true,
    );
    check(
        "memory p99 ms",
        memory.and_then(|f| f.p99_ms),
        TARGET_P99_MS,
        false,
    );
    check(
        "sqlite p99 ms",
        sqlite.and_then(|f| f.p99_ms),
        TARGET_P99_MS,
        false,
    );
    check(
        "memory RSS idle MB",
        memory.map(|f| f.rss_idle_mb),
        TARGET_IDLE_RSS_MB,
        false,
    );
    check(
        "memory RSS with 10,000 instances MB",
        memory.map(|f| f.rss_full_mb),
        TARGET_FULL_RSS_MB,
        false,
    );
    check(
        "sqlite RSS with 10,000 instances MB",
        sqlite.map(|f| f.rss_full_mb),
        TARGET_FULL_RSS_MB,
        false,
    );
    check(
        "memory start to first answer ms",
        memory.map(|f| f.start_ms),
        TARGET_START_MS,
        false,
    );
    check(
        "sqlite start to first answer ms",
        sqlite.map(|f| f.start_ms),
        TARGET_START_MS,
        false,
    );
}
