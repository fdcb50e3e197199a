//! Scenario 5: the database hangs (a frozen proxy keeps its sockets open and forwards
//! nothing); every route still answers within the pool and statement timeouts, and the server
//! recovers by itself when the database comes back.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Suite;
use super::fixture::{Storage, Store, get, post_json, timed};
use super::report::Report;
use crate::harness::http::{Request, Response, instance_body};
use registry_testkit::proxy::Proxy;

/// registry-server's default `--pool-timeout`.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// registry-server's default `--statement-timeout`.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// A client waits this long before it calls a request unanswered: past the bound, so that a
/// late answer is told from none, and short, so that a hanging server fails the run quickly.
const CLIENT_PATIENCE: Duration = Duration::from_secs(8);

/// What each route must answer while the database is frozen, and whether with Retry-After.
const PROBES: [(&str, &str, u16, bool); 4] = [
    ("POST", "/api/controller/heartbeat", 503, true),
    ("GET", "/api/controller/models", 503, true),
    ("GET", "/metrics", 200, false),
    ("GET", "/api/ready", 503, true),
];

pub(crate) fn frozen_database(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    let store = Store::new(storage, "frozen")?;
    let database = store.database().context("a shared database")?;
    let proxy = Proxy::start(database.server_address()?);
    // The defaults are what is promised: no timeout is set here.
    let server = store.start_url(suite, &[], &database.url_via(proxy.address().port()), &[])?;
    let heartbeat = instance_body(0);
    let (_, first) = timed(
        server.address,
        &post_json("/api/controller/heartbeat", &heartbeat),
        CLIENT_PATIENCE,
    );
    let first = first?;
    report.holds(
        "a heartbeat before the freeze",
        &format!("answered {}", first.status),
        "200",
        first.status == 200,
    );

    proxy.freeze();
    let bound = POOL_TIMEOUT + STATEMENT_TIMEOUT;
    let mut worst = Duration::ZERO;
    // Two rounds: the first finds the pool's connections stuck in the frozen database, the
    // second finds them all taken.
    for round in 1..=2 {
        for (took, (method, path, expected, retry_after), answer) in
            probe_all(server.address, &heartbeat)
        {
            worst = worst.max(took);
            let what = format!("frozen, round {round}: {method} {path}");
            match answer {
                Ok(response) => {
                    let has_retry = response.header("retry-after").is_some();
                    let ok = response.status == expected && (!retry_after || has_retry);
                    let observed = format!(
                        "answered {} {} Retry-After",
                        response.status,
                        if has_retry { "with" } else { "without" }
                    );
                    let wanted = if retry_after {
                        format!("{expected} with Retry-After")
                    } else {
                        expected.to_string()
                    };
                    report.holds(&what, &observed, &wanted, ok);
                }
                Err(error) => report.holds(
                    &what,
                    &format!("no answer after {} ms ({error})", took.as_millis()),
                    "an answer",
                    false,
                ),
            }
        }
    }
    report.within(
        "slowest answer while frozen (pool timeout + statement timeout)",
        worst,
        bound,
    );

    proxy.thaw();
    let thawed = Instant::now();
    let recovered = loop {
        let (_, answer) = timed(
            server.address,
            &post_json("/api/controller/heartbeat", &heartbeat),
            CLIENT_PATIENCE,
        );
        if answer.is_ok_and(|r| r.status == 200) {
            break Some(thawed.elapsed());
        }
        if thawed.elapsed() > RECOVERY_BOUND + Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    match recovered {
        Some(took) => report.within(
            "a heartbeat succeeded again after the thaw in",
            took,
            RECOVERY_BOUND,
        ),
        None => report.holds(
            "after the thaw, heartbeats",
            "still failed 15 s later",
            "200 within 10 s",
            false,
        ),
    }
    Ok(())
}

type Probe = (&'static str, &'static str, u16, bool);

/// Every probe at once, each on a new connection: `(time taken, probe, answer)`.
fn probe_all(address: SocketAddr, heartbeat: &str) -> Vec<(Duration, Probe, Result<Response>)> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = PROBES
            .iter()
            .map(|&probe| {
                scope.spawn(move || {
                    let (method, path, _, _) = probe;
                    let request = if method == "POST" {
                        post_json(path, heartbeat)
                    } else {
                        get(path)
                    };
                    let (took, answer) =
                        timed(address, &Request { method, ..request }, CLIENT_PATIENCE);
                    (took, probe, answer)
                })
            })
            .collect();
        threads
            .into_iter()
            .filter_map(|thread| thread.join().ok())
            .collect()
    })
}
