//! Heartbeats beside readers: how much the operators' reads (`GET /api/traces` on SQLite, a
//! long poll on `GET /api/controller/watch` over 50,000 instances) cost the heartbeat path,
//! each measured against the same server without them, in the same run, with the xtask load
//! generator (closed loop on keep-alive connections).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use crate::harness::http::{Connection, instance_body};
use crate::harness::load::{heartbeat_loop, register_fleet};
use crate::harness::server::{Server, build_server, free_address, serve_command};
use crate::harness::tempdir::TempDir;

const MEASURED: Duration = Duration::from_secs(5);
const CONNECTIONS: usize = 4;
const TRACE_READERS: usize = 4;
const WATCHED_INSTANCES: usize = 50_000;
/// Heartbeat p99 beside the trace readers, as a multiple of p99 alone: at most this.
const TRACES_P99_BOUND: f64 = 3.0;
/// Heartbeat throughput beside a watcher, as a share of throughput alone: at least this.
const WATCH_RPS_BOUND: f64 = 0.8;

pub(crate) fn run() -> Result<()> {
    let binary = build_server()?;
    println!(
        "heartbeats beside readers: {CONNECTIONS} keep-alive connections, closed loop, {} s each, same run",
        MEASURED.as_secs()
    );
    traces_beside_heartbeats(&binary)?;
    watch_beside_heartbeats(&binary)?;
    Ok(())
}

fn start(binary: &std::path::Path, storage: &str, dir: TempDir) -> Result<Server> {
    let address = free_address()?;
    let mut command = serve_command(binary, &[], address);
    command
        .args(["--storage-url", storage, "--span-flush-interval", "1s"])
        .arg("--span-file")
        .arg(dir.path().join("spans.jsonl"));
    Server::spawn(command, address, Some(dir))
}

/// (a) SQLite heartbeat p99 with 4 `GET /api/traces` loops against without.
fn traces_beside_heartbeats(binary: &std::path::Path) -> Result<()> {
    let dir = TempDir::new()?;
    let storage = format!("sqlite://{}", dir.path().join("registry.db").display());
    let server = start(binary, &storage, dir)?;
    let bodies = Arc::new((0..100).map(instance_body).collect::<Vec<_>>());
    // Registers the instances and fills the span file the readers will read.
    heartbeat_loop(server.address, &bodies, CONNECTIONS, Duration::from_secs(2))?;
    let alone = heartbeat_loop(server.address, &bodies, CONNECTIONS, MEASURED)?;
    let readers = Readers::start(server.address, TRACE_READERS, |_| "/api/traces".to_owned());
    let beside = heartbeat_loop(server.address, &bodies, CONNECTIONS, MEASURED)?;
    let reads = readers.stop();
    let (p99_alone, p99_beside) = (alone.percentile_ms(0.99), beside.percentile_ms(0.99));
    let ratio = p99_beside / p99_alone.max(0.001);
    println!(
        "sqlite heartbeat p99: {p99_alone:.2} ms alone, {p99_beside:.2} ms beside {TRACE_READERS} GET /api/traces loops ({reads} reads): {ratio:.2}x (bound <= {TRACES_P99_BOUND}x) {}",
        verdict(ratio <= TRACES_P99_BOUND)
    );
    Ok(())
}

/// (b) Memory heartbeat throughput over 50,000 instances with one long-poll watcher against
/// without.
fn watch_beside_heartbeats(binary: &std::path::Path) -> Result<()> {
    let server = start(binary, "memory", TempDir::new()?)?;
    register_fleet(server.address, WATCHED_INSTANCES)?;
    let bodies = Arc::new(
        (0..WATCHED_INSTANCES)
            .map(instance_body)
            .collect::<Vec<_>>(),
    );
    let alone = heartbeat_loop(server.address, &bodies, CONNECTIONS, MEASURED)?;
    let index = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watcher = Readers::start(server.address, 1, move |last_index| {
        if let Some(seen) = last_index {
            index.store(seen, Ordering::Relaxed);
        }
        format!(
            "/api/controller/watch?index={}&timeout=5s",
            index.load(Ordering::Relaxed)
        )
    });
    let beside = heartbeat_loop(server.address, &bodies, CONNECTIONS, MEASURED)?;
    let answers = watcher.stop();
    let rate =
        |report: &crate::harness::load::LoadReport| report.sent as f64 / MEASURED.as_secs_f64();
    let (rps_alone, rps_beside) = (rate(&alone), rate(&beside));
    let share = rps_beside / rps_alone.max(1.0);
    println!(
        "memory heartbeats over {WATCHED_INSTANCES} instances: {rps_alone:.0}/s alone, {rps_beside:.0}/s beside a watcher on /api/controller/watch ({answers} answers): {share:.2} (bound >= {WATCH_RPS_BOUND}) {}",
        verdict(share >= WATCH_RPS_BOUND)
    );
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Threads that GET a path in a loop until stopped; the path may depend on the last answer's
/// `X-Registry-Index`.
struct Readers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<u64>>,
}

impl Readers {
    fn start<F>(address: SocketAddr, count: usize, path: F) -> Self
    where
        F: Fn(Option<u64>) -> String + Send + Sync + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let path = Arc::new(path);
        let threads = (0..count)
            .map(|_| {
                let (stop, path) = (Arc::clone(&stop), Arc::clone(&path));
                std::thread::spawn(move || {
                    let mut reads = 0;
                    let mut last_index = None;
                    let mut connection = None;
                    while !stop.load(Ordering::Relaxed) {
                        let open = match connection.take() {
                            Some(open) => Ok(open),
                            None => Connection::open(address, Duration::from_secs(30)),
                        };
                        let Ok(mut open) = open else {
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        };
                        if let Ok(answer) = open.get(&path(last_index)) {
                            reads += 1;
                            last_index = answer
                                .header("x-registry-index")
                                .and_then(|index| index.parse().ok());
                            connection = Some(open);
                        }
                    }
                    reads
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops the loops (a long poll ends by its own timeout) and counts the answers.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|thread| thread.join().unwrap_or(0))
            .sum()
    }
}
