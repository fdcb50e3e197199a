//! Running wrk and reading its report.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

/// Whether `wrk` can be run.
pub(crate) fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: u64,
}

/// The best of `runs` runs on `addr` and, when given, the best of as many runs on `reference`,
/// each run on the reference just before one on `addr`: both are measured under the same
/// load, however the load of a shared machine drifts. Other work only ever slows a run, so
/// the best run is the least disturbed one.
pub(crate) fn best(
    addr: SocketAddr,
    reference: Option<SocketAddr>,
    script: &Path,
    seconds: u64,
    runs: u32,
) -> Result<(Report, Option<Report>), String> {
    let faster = |best: Option<Report>, report: Report| match best {
        Some(best) if best.rps >= report.rps => Some(best),
        _ => Some(report),
    };
    let (mut best_own, mut best_reference) = (None, None);
    for _ in 0..runs.max(1) {
        if let Some(reference) = reference {
            best_reference = faster(best_reference, run(reference, script, seconds)?);
        }
        best_own = faster(best_own, run(addr, script, seconds)?);
    }
    let own = best_own.ok_or_else(|| "no wrk run".to_owned())?;
    Ok((own, best_reference))
}

/// `wrk -t2 -c16 -dN --latency -s script http://addr`.
pub(crate) fn run(addr: SocketAddr, script: &Path, seconds: u64) -> Result<Report, String> {
    let output = Command::new("wrk")
        .args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(format!("http://{addr}"))
        .output()
        .map_err(|error| format!("cannot run wrk: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
}

fn parse(text: &str) -> Option<Report> {
    let mut rps = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            rps = value.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("99%") {
            p99 = millis(value.trim());
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += value.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("Socket errors:") {
            errors += value
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(Report {
        rps: rps?,
        p99_ms: p99?,
        errors,
    })
}

/// `812.00us`, `1.20ms`, `2.01s` in milliseconds.
fn millis(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        "m" => Some(number * 60_000.0),
        _ => None,
    }
}
