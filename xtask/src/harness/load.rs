//! Closed-loop load on keep-alive connections, and what it measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::http::{Connection, instance_body};

/// What one worker thread saw.
#[derive(Default)]
pub(crate) struct LoadReport {
    pub(crate) sent: u64,
    pub(crate) failed_attempts: u64,
    pub(crate) lost: u64,
    pub(crate) latencies_us: Vec<u32>,
}

impl LoadReport {
    pub(crate) fn merge(reports: Vec<LoadReport>) -> LoadReport {
        let mut all = LoadReport::default();
        for report in reports {
            all.sent += report.sent;
            all.failed_attempts += report.failed_attempts;
            all.lost += report.lost;
            all.latencies_us.extend(report.latencies_us);
        }
        all.latencies_us.sort_unstable();
        all
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[rank]) / 1000.0
    }
}

/// Sends the heartbeats in `bodies` round robin from `threads` keep-alive connections, each as
/// soon as the previous one is answered, for `duration`; thread `t` sends bodies `t`,
/// `t + threads`, …
pub(crate) fn heartbeat_loop(
    address: SocketAddr,
    bodies: &Arc<Vec<String>>,
    threads: usize,
    duration: Duration,
) -> Result<LoadReport> {
    let until = Instant::now() + duration;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let bodies = Arc::clone(bodies);
            std::thread::spawn(move || -> Result<LoadReport> {
                let mut report = LoadReport::default();
                let mut connection = Connection::open(address, Duration::from_secs(10))?;
                let mine: Vec<&String> = bodies.iter().skip(t).step_by(threads).collect();
                for body in mine.iter().cycle() {
                    if Instant::now() >= until {
                        break;
                    }
                    let begun = Instant::now();
                    let answer = connection.post_json("/api/controller/heartbeat", body)?;
                    if answer.status == 200 {
                        report.sent += 1;
                        let took = u32::try_from(begun.elapsed().as_micros()).unwrap_or(u32::MAX);
                        report.latencies_us.push(took);
                    } else {
                        report.lost += 1;
                    }
                }
                Ok(report)
            })
        })
        .collect();
    let mut reports = Vec::new();
    for worker in workers {
        reports.push(
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a load thread panicked"))??,
        );
    }
    Ok(LoadReport::merge(reports))
}

/// Registers instances `0..count` of [`instance_body`] by heartbeat from 8 keep-alive
/// connections.
pub(crate) fn register_fleet(address: SocketAddr, count: usize) -> Result<()> {
    const THREADS: usize = 8;
    let failures = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || -> Result<()> {
                let mut connection = Connection::open(address, Duration::from_secs(10))?;
                for i in (t..count).step_by(THREADS) {
                    let answer =
                        connection.post_json("/api/controller/heartbeat", &instance_body(i))?;
                    if answer.status != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a registering thread panicked"))??;
    }
    let failures = failures.load(Ordering::Relaxed);
    if failures > 0 {
        bail!("{failures} of {count} registering heartbeats were refused");
    }
    Ok(())
}
