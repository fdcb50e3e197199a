//! Socket pressure: connections that never finish their header, idle keep-alive connections
//! past the server's file-descriptor limit, and clients that never read a large listing.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Suite;
use super::fixture::{Storage, Store, check_fresh_health, get, timed};
use super::report::Report;
use crate::harness::http::Connection;
use crate::harness::load::register_fleet;
use crate::harness::raise_open_files_limit;

const FRESH_CLIENT_BOUND: Duration = Duration::from_secs(1);
/// The longest a scenario spends opening its connections.
const OPENING_LIMIT: Duration = Duration::from_secs(60);

/// 1. 3,000 connections that send part of a request header and stop.
pub(crate) fn slowloris(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    const SLOW: usize = 3_000;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
    const SLACK: Duration = Duration::from_secs(3);
    raise_open_files_limit()?;
    let store = Store::new(storage, "slowloris")?;
    let server = store.start(suite, &["--header-read-timeout", "2s"])?;
    let prober = Prober::start(server.address);
    let opened = open_many(
        server.address,
        SLOW,
        b"GET /api/health HTTP/1.1\r\nHost: slow\r\nX-Slow: ",
    );
    let (probes, slowest_probe) = prober.stop();
    let opened = opened?;
    let slow = opened.streams;
    let all_open = Instant::now();
    report.note(&format!(
        "{SLOW} connections, opened in {} ms (slowest connect {} ms), hold a partial request header",
        opened.took.as_millis(),
        opened.slowest_connect.as_millis()
    ));
    // For the record: a burst of connections beyond the listen backlog delays everyone's
    // connect by the kernel's SYN retry (1 s); the bound below is for a client after it.
    report.note(&format!(
        "while they were being opened, {probes} new clients' /api/health: slowest {} ms",
        slowest_probe.as_millis()
    ));
    check_fresh_health(report, server.address, FRESH_CLIENT_BOUND);
    let check_at = all_open + HEADER_TIMEOUT + SLACK;
    std::thread::sleep(check_at.saturating_duration_since(Instant::now()));
    let still_open = slow.iter().filter(|stream| is_open(stream)).count();
    report.at_most(
        &format!(
            "slow connections still open {} s after the last was opened:",
            (HEADER_TIMEOUT + SLACK).as_secs()
        ),
        still_open as f64,
        0.0,
        "",
    );
    Ok(())
}

/// Whether the server still holds `stream` open: a read that would block. End of stream or a
/// reset means it was closed; a 408 or other answer is read past first.
fn is_open(mut stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(error) if error.kind() == ErrorKind::WouldBlock => return true,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

/// 2. The server limited to 1,024 open files; 1,100 idle keep-alive connections.
pub(crate) fn idle_fd(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    const IDLE: usize = 1_100;
    raise_open_files_limit()?;
    let store = Store::new(storage, "idle-fd")?;
    let server = store.start_wrapped(suite, &["prlimit", "--nofile=1024:1024", "--"], &[])?;
    let request = format!(
        "GET /api/health HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.address
    );
    let mut idle = open_many(server.address, IDLE, request.as_bytes())?.streams;
    let (answered, closed) = await_answers(&mut idle, Duration::from_secs(5));
    report.note(&format!(
        "{IDLE} keep-alive connections sent one request each: {answered} answered, {closed} closed by the server, {} unanswered; all left open and idle",
        IDLE - answered - closed
    ));
    check_fresh_health(report, server.address, FRESH_CLIENT_BOUND);
    Ok(())
}

/// Reads every stream's first answer for up to `limit`: `(answered, closed)`. Non-blocking, so
/// that one unanswered connection does not hold up the others.
fn await_answers(streams: &mut [TcpStream], limit: Duration) -> (usize, usize) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Waiting,
        Answered,
        Closed,
    }
    let mut states = vec![State::Waiting; streams.len()];
    let deadline = Instant::now() + limit;
    let mut buffer = [0_u8; 4096];
    while Instant::now() < deadline && states.contains(&State::Waiting) {
        for (stream, state) in streams.iter_mut().zip(states.iter_mut()) {
            if *state != State::Waiting {
                continue;
            }
            let _ = stream.set_nonblocking(true);
            *state = match stream.read(&mut buffer) {
                Ok(0) => State::Closed,
                // The whole answer to /api/health fits in one read on loopback.
                Ok(_) => State::Answered,
                Err(error) if error.kind() == ErrorKind::WouldBlock => State::Waiting,
                Err(_) => State::Closed,
            };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let count = |wanted| states.iter().filter(|s| **s == wanted).count();
    (count(State::Answered), count(State::Closed))
}

/// 6. 50,000 instances; 30 clients ask for the whole listing and never read it.
pub(crate) fn non_reading_listing(
    suite: &Suite,
    storage: Storage,
    report: &mut Report,
) -> Result<()> {
    const INSTANCES: usize = 50_000;
    const CLIENTS: usize = 30;
    const WATCHED: Duration = Duration::from_secs(3);
    const BOUND_MIB: f64 = 100.0;
    let store = Store::new(storage, "non-reading")?;
    let server = store.start(suite, &["--heartbeat-timeout", "600s"])?;
    register_fleet(server.address, INSTANCES)?;
    // One whole listing read first: the allocator keeps what one answer needs, and the bound
    // is about clients that do not read, not about the first answer.
    let mut reader = Connection::open(server.address, Duration::from_secs(30))?;
    let listing = reader.get("/api/controller/models")?;
    let listed = serde_json::from_str::<Vec<serde_json::Value>>(&listing.body)
        .map(|list| list.len())
        .unwrap_or(0);
    if listing.status != 200 || listed != INSTANCES {
        bail!(
            "the listing answered {} with {listed} instances; expected {INSTANCES}",
            listing.status
        );
    }
    report.note(&format!(
        "{INSTANCES} instances listed in {} MB",
        listing.body.len() / 1_000_000
    ));
    drop(reader);
    let before = server.rss_kib()?;
    let request = format!(
        "GET /api/controller/models HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.address
    );
    let stalled = open_many(server.address, CLIENTS, request.as_bytes())?.streams;
    let mut peak = before;
    let until = Instant::now() + WATCHED;
    while Instant::now() < until {
        peak = peak.max(server.rss_kib()?);
        std::thread::sleep(Duration::from_millis(100));
    }
    report.at_most(
        &format!(
            "RSS growth with {CLIENTS} listings unread for {} s (from {} MiB):",
            WATCHED.as_secs(),
            before / 1024
        ),
        (peak.saturating_sub(before)) as f64 / 1024.0,
        BOUND_MIB,
        "MiB",
    );
    drop(stalled);
    Ok(())
}

/// Connections opened one after another, each having sent its first bytes.
struct Opened {
    streams: Vec<TcpStream>,
    took: Duration,
    slowest_connect: Duration,
}

/// Opens `count` connections and writes `first_bytes` on each (best effort: a server that
/// already closed one has done its job). Gives up after [`OPENING_LIMIT`], so that a server
/// that stops accepting fails the scenario instead of stalling the suite.
fn open_many(address: SocketAddr, count: usize, first_bytes: &[u8]) -> Result<Opened> {
    let started = Instant::now();
    let mut streams = Vec::with_capacity(count);
    let mut slowest_connect = Duration::ZERO;
    for opened in 0..count {
        if started.elapsed() > OPENING_LIMIT {
            bail!(
                "only {opened} of {count} connections opened in {} s",
                OPENING_LIMIT.as_secs()
            );
        }
        let connecting = Instant::now();
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .with_context(|| format!("opening connection {} of {count}", opened + 1))?;
        slowest_connect = slowest_connect.max(connecting.elapsed());
        let _ = stream.write_all(first_bytes);
        streams.push(stream);
    }
    Ok(Opened {
        streams,
        took: started.elapsed(),
        slowest_connect,
    })
}

/// New clients' `GET /api/health`, one every 50 ms, in a thread, until stopped.
struct Prober {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Duration)>,
}

impl Prober {
    fn start(address: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let (mut count, mut slowest) = (0, Duration::ZERO);
                while !stop.load(Ordering::Relaxed) {
                    let (took, _) = timed(address, &get("/api/health"), Duration::from_secs(5));
                    count += 1;
                    slowest = slowest.max(took);
                    std::thread::sleep(Duration::from_millis(50));
                }
                (count, slowest)
            })
        };
        Self { stop, thread }
    }

    /// How many probes were made, and the slowest.
    fn stop(self) -> (usize, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}
