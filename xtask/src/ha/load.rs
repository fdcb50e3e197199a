//! The load generator: simulated workers heartbeating through any of several servers, as
//! DB-GPT's workers do when given every controller URL: a failed call moves on to the next
//! server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::http::{Connection, instance_body};
pub(crate) use crate::harness::load::LoadReport;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Shared state of a running fleet: which instances still beat, and when each last got a
/// heartbeat accepted.
pub(crate) struct Fleet {
    pub(crate) stopped: Vec<AtomicBool>,
    /// Milliseconds since `started` of each instance's last accepted heartbeat (0: none yet).
    pub(crate) last_accepted_ms: Vec<AtomicU64>,
    pub(crate) started: Instant,
    /// Heartbeats accepted so far, by any server.
    pub(crate) accepted: AtomicU64,
    finish: AtomicBool,
}

impl Fleet {
    pub(crate) fn new(instances: usize) -> Arc<Self> {
        Arc::new(Self {
            stopped: (0..instances).map(|_| AtomicBool::new(false)).collect(),
            last_accepted_ms: (0..instances).map(|_| AtomicU64::new(0)).collect(),
            started: Instant::now(),
            accepted: AtomicU64::new(0),
            finish: AtomicBool::new(false),
        })
    }

    pub(crate) fn stop_instance(&self, i: usize) {
        self.stopped[i].store(true, Ordering::SeqCst);
    }

    pub(crate) fn finish(&self) {
        self.finish.store(true, Ordering::SeqCst);
    }
}

/// Beats every instance once per `period` until the fleet is finished, from `threads` threads;
/// thread `t` owns instances `t, t + threads, ...` and starts at server `t % servers`.
pub(crate) fn run(
    fleet: &Arc<Fleet>,
    servers: &[SocketAddr],
    period: Duration,
    threads: usize,
) -> Vec<std::thread::JoinHandle<LoadReport>> {
    (0..threads)
        .map(|t| {
            let fleet = Arc::clone(fleet);
            let servers = servers.to_vec();
            std::thread::spawn(move || worker(&fleet, &servers, period, t, threads))
        })
        .collect()
}

fn worker(
    fleet: &Fleet,
    servers: &[SocketAddr],
    period: Duration,
    t: usize,
    threads: usize,
) -> LoadReport {
    let mine: Vec<(usize, String)> = (t..fleet.stopped.len())
        .step_by(threads)
        .map(|i| (i, instance_body(i)))
        .collect();
    let mut report = LoadReport::default();
    let mut client = FailoverClient::new(servers.to_vec(), t);
    // Spread the threads' rounds over the period so the load is even.
    let offset = period.mul_f64(t as f64 / threads as f64);
    std::thread::sleep(offset);
    let mut next_round = Instant::now();
    while !fleet.finish.load(Ordering::SeqCst) {
        for (i, body) in &mine {
            if fleet.stopped[*i].load(Ordering::SeqCst) || fleet.finish.load(Ordering::SeqCst) {
                continue;
            }
            let begun = Instant::now();
            match client.post("/api/controller/heartbeat", body, &mut report) {
                true => {
                    let took = begun.elapsed().as_micros();
                    report
                        .latencies_us
                        .push(u32::try_from(took).unwrap_or(u32::MAX));
                    report.sent += 1;
                    fleet.accepted.fetch_add(1, Ordering::Relaxed);
                    let at = fleet.started.elapsed().as_millis().max(1);
                    fleet.last_accepted_ms[*i]
                        .store(u64::try_from(at).unwrap_or(u64::MAX), Ordering::SeqCst);
                }
                false => report.lost += 1,
            }
        }
        next_round += period;
        let now = Instant::now();
        if next_round > now {
            std::thread::sleep(next_round - now);
        } else {
            next_round = now;
        }
    }
    report
}

/// Sends each call to its current server; on failure, moves on to the next one and retries,
/// once per server.
pub(crate) struct FailoverClient {
    servers: Vec<SocketAddr>,
    current: usize,
    connection: Option<Connection>,
}

impl FailoverClient {
    pub(crate) fn new(servers: Vec<SocketAddr>, start: usize) -> Self {
        let current = start % servers.len().max(1);
        Self {
            servers,
            current,
            connection: None,
        }
    }

    /// Whether some server answered 200.
    pub(crate) fn post(&mut self, path: &str, body: &str, report: &mut LoadReport) -> bool {
        for _ in 0..self.servers.len() {
            let address = self.servers[self.current];
            let answer = match self.connection.as_mut() {
                Some(connection) if connection.address() == address => {
                    connection.post_json(path, body)
                }
                _ => Connection::open(address, REQUEST_TIMEOUT).and_then(|mut connection| {
                    let answer = connection.post_json(path, body);
                    self.connection = Some(connection);
                    answer
                }),
            };
            match answer {
                Ok(response) if response.status == 200 => return true,
                Ok(_) => {}
                Err(_) => self.connection = None,
            }
            report.failed_attempts += 1;
            self.current = (self.current + 1) % self.servers.len();
            self.connection = None;
        }
        false
    }
}
