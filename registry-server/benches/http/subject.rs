//! One server under measurement: how to start it, and the figures taken from it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wrk;
use registry_testkit::http::Client;

/// How many instances the "full" memory figure holds.
const INSTANCES: usize = 10_000;
/// How long a server may take to start before the run gives up on it.
const START_LIMIT: Duration = Duration::from_secs(120);

/// A server to measure.
pub(crate) struct Subject {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    /// Whether the port goes last, as a positional argument (DB-GPT's script), or after
    /// `--listen 127.0.0.1:` (ours).
    positional_port: bool,
}

/// What was measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) rps: Option<f64>,
    /// The bare reference server's heartbeats/s, in runs interleaved with this server's.
    pub(crate) bare_rps: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) errors: u64,
    pub(crate) rss_idle_mb: f64,
    pub(crate) rss_full_mb: f64,
    pub(crate) start_ms: f64,
}

impl Figures {
    pub(crate) fn row(&self, name: &str) -> String {
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
        };
        let errors = if self.errors > 0 {
            format!("  ({} errors)", self.errors)
        } else {
            String::new()
        };
        format!(
            "{name:<26} {:>12} {:>9} {:>11.1} {:>14.1} {:>11.1}{errors}",
            opt(self.rps, 0),
            opt(self.p99_ms, 2),
            self.rss_idle_mb,
            self.rss_full_mb,
            self.start_ms
        )
    }
}

impl Subject {
    /// registry-server on `storage`, tracing into a span file in `dir` as deployed.
    pub(crate) fn ours(
        name: &str,
        binary: &Path,
        storage: &str,
        dir: &Path,
        extra: &[&str],
    ) -> Self {
        let spans = dir.join(format!("{}.jsonl", name.replace(' ', "_")));
        Self {
            name: name.to_owned(),
            program: binary.to_owned(),
            args: vec![
                "serve".into(),
                "--storage-url".into(),
                storage.into(),
                "--span-file".into(),
                spans.display().to_string(),
                "--log-level".into(),
                "warn".into(),
            ]
            .into_iter()
            .chain(extra.iter().map(|a| (*a).to_owned()))
            .collect(),
            positional_port: false,
        }
    }

    /// DB-GPT's controller through `script` on `storage` (`memory` or a SQLite file path).
    pub(crate) fn peer(name: &str, python: &Path, script: &Path, storage: &str) -> Self {
        Self {
            name: name.to_owned(),
            program: python.to_owned(),
            args: vec![
                script.display().to_string(),
                "{port}".into(),
                storage.into(),
            ],
            positional_port: true,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn spawn(&self, port: u16) -> std::io::Result<Child> {
        let mut command = Command::new(&self.program);
        for (key, _) in std::env::vars() {
            if key.starts_with("REGISTRY_") {
                command.env_remove(key);
            }
        }
        if self.positional_port {
            command.args(
                self.args
                    .iter()
                    .map(|a| a.replace("{port}", &port.to_string())),
            );
        } else {
            command
                .args(&self.args)
                .args(["--listen", &format!("127.0.0.1:{port}")]);
        }
        command.stdout(Stdio::null()).stderr(Stdio::null()).spawn()
    }

    /// Starts the server, measures it (its wrk runs interleaved with runs on `reference`, the
    /// bare server) and stops it.
    pub(crate) fn measure(
        &self,
        script: &Path,
        seconds: u64,
        runs: u32,
        reference: Option<SocketAddr>,
    ) -> Result<Figures, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        let mut child = self.spawn(port).map_err(|e| format!("cannot start: {e}"))?;
        let guard = Stop(&mut child);
        let client = Client::new(addr);
        while client.get("/api/health").ok().map(|answer| answer.status) != Some(200) {
            if started.elapsed() > START_LIMIT {
                return Err("did not answer in time".to_owned());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let start_ms = started.elapsed().as_secs_f64() * 1000.0;
        let pid = guard.0.id();
        std::thread::sleep(Duration::from_millis(300));
        let rss_idle_mb = rss_mb(pid)?;
        let (rps, p99_ms, errors, bare_rps) = if wrk::available() {
            let (best, bare) = wrk::best(addr, reference, script, seconds, runs)?;
            let bare_rps = bare.map(|bare| bare.rps);
            (Some(best.rps), Some(best.p99_ms), best.errors, bare_rps)
        } else {
            (None, None, 0, None)
        };
        fill(&client)?;
        let rss_full_mb = rss_mb(pid)?;
        drop(guard);
        Ok(Figures {
            rps,
            bare_rps,
            p99_ms,
            errors,
            rss_idle_mb,
            rss_full_mb,
            start_ms,
        })
    }
}

/// Registers [`INSTANCES`] instances over one keep-alive connection.
fn fill(client: &Client) -> Result<(), String> {
    for i in 0..INSTANCES {
        let body = format!(
            r#"{{"model_name":"fill-model-{}@llm","host":"10.{}.{}.1","port":{}}}"#,
            i % 50,
            i / 250,
            i % 250,
            8000 + i % 1000
        );
        let status = client
            .post_json("/api/controller/models", &body)
            .map_err(|e| format!("filling: {e}"))?
            .status;
        if status != 200 {
            return Err(format!("filling: register answered {status}"));
        }
    }
    Ok(())
}

/// Stops the child on drop: SIGTERM, then a kill if it lingers.
struct Stop<'a>(&'a mut Child);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The process's resident set size, from `/proc/PID/status`.
fn rss_mb(pid: u32) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| "no VmRSS".to_owned())
}
