//! The fault scenarios, each with exact counts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use super::cluster::{self, Backend, Database, Server, ServerOptions};
use super::http::{Connection, instance_body};
use super::load::{self, FailoverClient, Fleet, LoadReport};
use super::probe;
use super::timing::Timings;

pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) postgres_only: bool,
    pub(crate) run: fn(&Path, Backend, &mut Timings) -> Result<String>,
}

pub(crate) const ALL: [Scenario; 6] = [
    Scenario {
        name: "first-heartbeats",
        postgres_only: false,
        run: first_heartbeats,
    },
    Scenario {
        name: "heartbeats-vs-sweeps",
        postgres_only: false,
        run: heartbeats_versus_sweeps,
    },
    Scenario {
        name: "clock-skew",
        postgres_only: false,
        run: clock_skew,
    },
    Scenario {
        name: "database-outage",
        postgres_only: false,
        run: database_outage,
    },
    Scenario {
        name: "kill-one-server",
        postgres_only: false,
        run: kill_one_server,
    },
    Scenario {
        name: "sustained-load",
        postgres_only: true,
        run: sustained_load,
    },
];

fn options(interval: &'static str, timeout: &'static str) -> ServerOptions {
    ServerOptions {
        heartbeat_interval: interval,
        heartbeat_timeout: timeout,
        extra: Vec::new(),
    }
}

fn start_servers(
    binary: &Path,
    database: &Database,
    count: usize,
    options: &ServerOptions,
) -> Result<Vec<Server>> {
    (0..count)
        .map(|_| cluster::start_server(binary, &database.url(), options, &[]))
        .collect()
}

fn addresses(servers: &[Server]) -> Vec<SocketAddr> {
    servers.iter().map(|server| server.address).collect()
}

fn total_metric(servers: &[SocketAddr], name: &str) -> Result<f64> {
    servers
        .iter()
        .map(|&server| probe::metric(server, name))
        .sum()
}

/// 1. The same 1,000 instances' first heartbeats, sent through 3 servers at once.
fn first_heartbeats(binary: &Path, backend: Backend, _timings: &mut Timings) -> Result<String> {
    const INSTANCES: usize = 1_000;
    const THREADS_PER_SERVER: usize = 8;
    let database = Database::create(backend, "first")?;
    let servers = start_servers(binary, &database, 3, &options("5s", "60s"))?;
    let barrier = Arc::new(Barrier::new(servers.len() * THREADS_PER_SERVER));
    let mut threads = Vec::new();
    for server in addresses(&servers) {
        for t in 0..THREADS_PER_SERVER {
            let barrier = Arc::clone(&barrier);
            threads.push(std::thread::spawn(move || -> Result<u64> {
                let mut connection = Connection::open(server, Duration::from_secs(10))?;
                barrier.wait();
                let mut failures = 0;
                for i in (t..INSTANCES).step_by(THREADS_PER_SERVER) {
                    let answer =
                        connection.post_json("/api/controller/heartbeat", &instance_body(i))?;
                    if answer.status != 200 {
                        failures += 1;
                    }
                }
                Ok(failures)
            }));
        }
    }
    let mut failures = 0;
    for thread in threads {
        failures += thread
            .join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    let (rows, healthy) = probe::row_counts(&database)?;
    ensure!(failures == 0, "{failures} heartbeats were refused");
    ensure!(
        rows == INSTANCES as u64,
        "expected exactly {INSTANCES} rows, found {rows}"
    );
    ensure!(healthy == rows, "{} rows are not healthy", rows - healthy);
    Ok(format!(
        "3,000 concurrent first heartbeats -> {rows} rows, {healthy} healthy"
    ))
}

/// Runs a fleet against `servers` for `duration`, stopping `stop` instances at `stop_at`, then
/// checks that exactly those expire, and records how long after its last heartbeat the slowest
/// did (bound: `timeout + interval`, plus the listing's polling).
struct RaceCheck {
    instances: usize,
    period: Duration,
    duration: Duration,
    stop_at: Duration,
    stop_every: usize,
    expiry_bound: Duration,
}

fn race(servers: &[SocketAddr], check: &RaceCheck, timings: &mut Timings) -> Result<String> {
    let fleet = Fleet::new(check.instances);
    let workers = load::run(&fleet, servers, check.period, 8);
    std::thread::sleep(check.stop_at);
    let stopped: Vec<usize> = (0..check.instances).step_by(check.stop_every).collect();
    for &i in &stopped {
        fleet.stop_instance(i);
    }
    let mut expired_at: Vec<Option<u64>> = vec![None; stopped.len()];
    let watch_until = Instant::now() + (check.duration - check.stop_at);
    let mut false_expiries_seen = 0;
    while Instant::now() < watch_until {
        let listed = probe::instances(servers[0])?;
        let now_ms = u64::try_from(fleet.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let unhealthy: std::collections::HashSet<&str> = listed
            .iter()
            .filter(|(_, healthy)| !healthy)
            .map(|(key, _)| key.as_str())
            .collect();
        for (slot, &i) in stopped.iter().enumerate() {
            if expired_at[slot].is_none() && unhealthy.contains(probe::key_of(i).as_str()) {
                expired_at[slot] = Some(now_ms);
            }
        }
        false_expiries_seen +=
            unhealthy.len() - expired_at.iter().flatten().count().min(unhealthy.len());
        std::thread::sleep(Duration::from_millis(250));
    }
    fleet.finish();
    let report = LoadReport::merge(
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect(),
    );
    let expired_total = total_metric(servers, "registry_expired_total")?;
    let mut slowest_ms = 0;
    for (slot, &i) in stopped.iter().enumerate() {
        let last = fleet.last_accepted_ms[i].load(std::sync::atomic::Ordering::SeqCst);
        let at = expired_at[slot]
            .with_context(|| format!("instance {i} stopped beating but never turned unhealthy"))?;
        slowest_ms = slowest_ms.max(at.saturating_sub(last));
    }
    ensure!(
        report.lost == 0,
        "{} heartbeats were refused by every server",
        report.lost
    );
    ensure!(
        false_expiries_seen == 0,
        "{false_expiries_seen} beating instances were seen unhealthy"
    );
    ensure!(
        expired_total == stopped.len() as f64,
        "servers expired {expired_total} instances; exactly {} stopped beating",
        stopped.len()
    );
    // The listing is polled every 250 ms and answers within a few milliseconds, so an expiry
    // is seen up to 350 ms after it happens.
    let bound_ms = u64::try_from(check.expiry_bound.as_millis()).unwrap_or(u64::MAX) + 350;
    timings.at_most(
        "slowest expiry after the last heartbeat",
        slowest_ms as f64,
        bound_ms as f64,
        "ms",
    );
    let sweep_failures = total_metric(servers, "registry_sweep_failures_total")?;
    Ok(format!(
        "{} heartbeats, 0 false expiries, {} of {} stopped instances expired, p99 {:.1} ms, {sweep_failures} failed sweeps",
        report.sent,
        expired_at.iter().flatten().count(),
        stopped.len(),
        report.percentile_ms(0.99)
    ))
}

/// 2. Heartbeats racing the sweeps of three servers for two minutes, with a short timeout.
fn heartbeats_versus_sweeps(
    binary: &Path,
    backend: Backend,
    timings: &mut Timings,
) -> Result<String> {
    let database = Database::create(backend, "race")?;
    let servers = start_servers(binary, &database, 3, &options("1s", "4s"))?;
    race(
        &addresses(&servers),
        &RaceCheck {
            instances: 300,
            period: Duration::from_secs(1),
            duration: Duration::from_secs(125),
            stop_at: Duration::from_secs(110),
            stop_every: 10,
            expiry_bound: Duration::from_secs(5),
        },
        timings,
    )
}

/// 3. One server's clock 30 s ahead, another's 30 s behind: no expiry decision changes.
fn clock_skew(binary: &Path, backend: Backend, timings: &mut Timings) -> Result<String> {
    let database = Database::create(backend, "skew")?;
    let options = options("1s", "4s");
    let servers = vec![
        cluster::start_server(
            binary,
            &database.url(),
            &options,
            &["--clock-offset-ms=30000".to_owned()],
        )?,
        cluster::start_server(
            binary,
            &database.url(),
            &options,
            &["--clock-offset-ms=-30000".to_owned()],
        )?,
    ];
    race(
        &addresses(&servers),
        &RaceCheck {
            instances: 100,
            period: Duration::from_secs(1),
            duration: Duration::from_secs(40),
            stop_at: Duration::from_secs(25),
            stop_every: 5,
            expiry_bound: Duration::from_secs(5),
        },
        timings,
    )
}

/// 4. The database stops for 10 s in the middle of a run and comes back.
fn database_outage(binary: &Path, backend: Backend, _timings: &mut Timings) -> Result<String> {
    const INSTANCES: usize = 100;
    let database = Database::create(backend, "outage")?;
    let mut options = options("1s", "30s");
    options.extra = vec!["--pool-timeout".into(), "1s".into()];
    let servers = start_servers(binary, &database, 2, &options)?;
    let servers_at = addresses(&servers);
    let fleet = Fleet::new(INSTANCES);
    let workers = load::run(&fleet, &servers_at, Duration::from_secs(1), 4);
    std::thread::sleep(Duration::from_secs(5));

    let restart_guard = RestartOnDrop(backend);
    backend.stop_server()?;
    let down_since = Instant::now();
    let mut slowest_refusal = Duration::ZERO;
    let mut refusals = 0;
    while down_since.elapsed() < Duration::from_secs(10) {
        for &server in &servers_at {
            let begun = Instant::now();
            let mut connection = Connection::open(server, Duration::from_secs(10))?;
            let answer =
                connection.post_json("/api/controller/heartbeat", &instance_body(INSTANCES + 1))?;
            let took = begun.elapsed();
            ensure!(
                answer.status == 503,
                "while the database was down a server answered {}",
                answer.status
            );
            slowest_refusal = slowest_refusal.max(took);
            refusals += 1;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    backend.start_server()?;
    std::mem::forget(restart_guard);

    // Recovery: every server accepts heartbeats again, by itself.
    let recovered_by = Instant::now() + Duration::from_secs(30);
    for &server in &servers_at {
        loop {
            let mut client = FailoverClient::new(vec![server], 0);
            if client.post(
                "/api/controller/heartbeat",
                &instance_body(0),
                &mut LoadReport::default(),
            ) {
                break;
            }
            ensure!(
                Instant::now() < recovered_by,
                "server {server} did not recover within 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    // The checkers resumed: instances that stop now expire.
    let failures_before = total_metric(&servers_at, "registry_sweep_failures_total")?;
    let stopped: Vec<usize> = (0..INSTANCES).step_by(10).collect();
    for &i in &stopped {
        fleet.stop_instance(i);
    }
    std::thread::sleep(Duration::from_secs(34));
    fleet.finish();
    drop(workers);
    let (rows, healthy) = probe::row_counts(&database)?;
    // Every request during the outage was refused, so storage must hold exactly the fleet:
    // the refused probe instance must not appear later, nothing lost, nothing duplicated.
    let listed = probe::instances(servers_at[0])?;
    let refused_key = probe::key_of(INSTANCES + 1);
    ensure!(
        !listed.iter().any(|(key, _)| *key == refused_key),
        "an instance whose every heartbeat was refused with 503 appeared in storage"
    );
    ensure!(
        rows == INSTANCES as u64,
        "expected {INSTANCES} rows (no loss, no duplicates), found {rows}"
    );
    ensure!(
        healthy == rows - stopped.len() as u64,
        "expected {} healthy after the stopped ones expired, found {healthy}",
        rows - stopped.len() as u64
    );
    Ok(format!(
        "{refusals} requests during the outage all answered 503, slowest in {:.0} ms; recovered by themselves; {rows} rows after, {healthy} healthy; sweep failures during the outage: {failures_before}",
        slowest_refusal.as_secs_f64() * 1000.0
    ))
}

/// Starts the database again if a scenario fails while it is stopped.
struct RestartOnDrop(Backend);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        let _ = self.0.start_server();
    }
}

/// 5. `kill -9` of one server under load: the others serve, and clients carry on.
fn kill_one_server(binary: &Path, backend: Backend, _timings: &mut Timings) -> Result<String> {
    const INSTANCES: usize = 200;
    let database = Database::create(backend, "kill")?;
    let mut servers = start_servers(binary, &database, 3, &options("1s", "10s"))?;
    let servers_at = addresses(&servers);
    let fleet = Fleet::new(INSTANCES);
    let workers = load::run(&fleet, &servers_at, Duration::from_secs(1), 6);
    std::thread::sleep(Duration::from_secs(8));
    servers[0].kill();
    std::thread::sleep(Duration::from_secs(15));
    fleet.finish();
    let report = LoadReport::merge(
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect(),
    );
    let listed = probe::instances(servers_at[1])?;
    let healthy = listed.iter().filter(|(_, healthy)| *healthy).count();
    ensure!(report.lost == 0, "{} heartbeats were lost", report.lost);
    ensure!(
        listed.len() == INSTANCES && healthy == INSTANCES,
        "after the kill: {} listed, {healthy} healthy",
        listed.len()
    );
    let expired = total_metric(&servers_at[1..], "registry_expired_total")?;
    ensure!(expired == 0.0, "{expired} false expiries");
    Ok(format!(
        "{} heartbeats, 0 lost ({} retried on another server), all {INSTANCES} healthy on the survivors",
        report.sent, report.failed_attempts
    ))
}

/// 6. 50,000 instances heartbeating every 5 s across 2 servers on one PostgreSQL for 60 s.
///
/// The servers coalesce heartbeats within 10 s (a third of the 30 s timeout): a worker beating
/// every 5 s is written every other beat, halving the database's writes.
fn sustained_load(binary: &Path, backend: Backend, timings: &mut Timings) -> Result<String> {
    const INSTANCES: usize = 50_000;
    const PERIOD: Duration = Duration::from_secs(5);
    const MEASURED: Duration = Duration::from_secs(60);
    let database = Database::create(backend, "load")?;
    let mut options = options("5s", "30s");
    options.extra = vec![
        "--pool-size".into(),
        "16".into(),
        "--heartbeat-coalesce".into(),
        "10s".into(),
    ];
    let servers = start_servers(binary, &database, 2, &options)?;
    let servers_at = addresses(&servers);
    let fleet = Fleet::new(INSTANCES);
    let workers = load::run(&fleet, &servers_at, PERIOD, 128);
    // The first period registers the fleet (the threads start spread over it); measure after.
    std::thread::sleep(PERIOD);
    let accepted_before = fleet.accepted.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(MEASURED);
    let accepted = fleet.accepted.load(std::sync::atomic::Ordering::SeqCst) - accepted_before;
    fleet.finish();
    let report = LoadReport::merge(
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect(),
    );
    let expired = total_metric(&servers_at, "registry_expired_total")?;
    let coalesced =
        total_metric(&servers_at, "registry_heartbeats_coalesced_total").unwrap_or(f64::NAN);
    let (rows, healthy) = probe::row_counts(&database)?;
    let rate = accepted as f64 / MEASURED.as_secs_f64();
    let p99 = report.percentile_ms(0.99);
    let summary = format!(
        "{rate:.0} heartbeats/s over {} s (offered 10,000/s), p50 {:.1} ms, {expired} expiries, {coalesced} coalesced, {rows} rows, {healthy} healthy",
        MEASURED.as_secs(),
        report.percentile_ms(0.5)
    );
    ensure!(
        report.lost == 0,
        "{} heartbeats lost; {summary}",
        report.lost
    );
    ensure!(expired == 0.0, "false expiries; {summary}");
    ensure!(
        rows == INSTANCES as u64 && healthy == rows,
        "rows; {summary}"
    );
    timings.at_most("heartbeat p99", p99, 50.0, "ms");
    Ok(summary)
}
