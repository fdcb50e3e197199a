//! Real registry-server processes on one real database, started and cleaned up by the harness,
//! including after a failure (every handle kills or drops what it owns in `Drop`).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::http::Connection;
use crate::cmd;

/// The two shared-database backends the suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Postgres,
    Mysql,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mariadb",
        }
    }

    fn admin(self, sql: &str) -> Command {
        match self {
            Self::Postgres => {
                let mut command = Command::new("psql");
                command.env("PGOPTIONS", "-c client_min_messages=warning");
                command.args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ]);
                command
            }
            Self::Mysql => {
                let mut command = Command::new("mysql");
                command.args(["--protocol=tcp", "-h", "127.0.0.1", "-uroot", "-e", sql]);
                command
            }
        }
    }

    fn url(self, database: &str) -> String {
        match self {
            Self::Postgres => format!("postgres://postgres@127.0.0.1:5432/{database}"),
            Self::Mysql => format!("mysql://root@127.0.0.1:3306/{database}"),
        }
    }

    /// Stops the database server (for the outage scenario).
    pub(crate) fn stop_server(self) -> Result<()> {
        let mut command = match self {
            Self::Postgres => {
                let mut command = Command::new("pg_ctlcluster");
                command.args([
                    "--skip-systemctl-redirect",
                    &postgres_version()?,
                    "main",
                    "stop",
                    "-m",
                    "fast",
                ]);
                command
            }
            Self::Mysql => {
                let mut command = Command::new("mysqladmin");
                command.args(["--protocol=tcp", "-h", "127.0.0.1", "-uroot", "shutdown"]);
                command
            }
        };
        command.stdout(Stdio::null());
        cmd::run(command)?;
        // The stop command may return while the server still finishes its last transactions;
        // the outage begins once it refuses connections.
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let mut probe = self.admin("SELECT 1");
            probe.stdout(Stdio::null()).stderr(Stdio::null());
            if !probe.status().is_ok_and(|status| status.success()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("{} did not stop within 60 s", self.name())
    }

    /// Starts the database server again and waits until it answers.
    pub(crate) fn start_server(self) -> Result<()> {
        let mut command = match self {
            Self::Postgres => {
                let mut command = Command::new("pg_ctlcluster");
                command.args([
                    "--skip-systemctl-redirect",
                    &postgres_version()?,
                    "main",
                    "start",
                ]);
                command
            }
            Self::Mysql => {
                let mut command = Command::new("start-stop-daemon");
                command.args([
                    "--start",
                    "--oknodo",
                    "--background",
                    "--exec",
                    "/usr/sbin/mariadbd",
                ]);
                command
            }
        };
        command.stdout(Stdio::null());
        cmd::run(command)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let mut probe = self.admin("SELECT 1");
            probe.stdout(Stdio::null()).stderr(Stdio::null());
            if probe.status().is_ok_and(|status| status.success()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("{} did not come back within 60 s", self.name())
    }
}

fn postgres_version() -> Result<String> {
    let entries = std::fs::read_dir("/etc/postgresql").context("listing /etc/postgresql")?;
    entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .max()
        .context("no PostgreSQL cluster in /etc/postgresql")
}

/// A database of its own for one scenario, dropped afterwards.
pub(crate) struct Database {
    backend: Backend,
    name: String,
}

impl Database {
    pub(crate) fn create(backend: Backend, scenario: &str) -> Result<Self> {
        let name = format!("registry_ha_{scenario}_{}", std::process::id());
        let drop_sql = format!("DROP DATABASE IF EXISTS {name}");
        let _ = backend.admin(&drop_sql).stdout(Stdio::null()).status();
        cmd::run(backend.admin(&format!("CREATE DATABASE {name}")))?;
        Ok(Self { backend, name })
    }

    pub(crate) fn url(&self) -> String {
        self.backend.url(&self.name)
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let mut command = self
            .backend
            .admin(&format!("DROP DATABASE IF EXISTS {}", self.name));
        let _ = command.stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// How each server of a cluster is configured.
#[derive(Clone)]
pub(crate) struct ServerOptions {
    pub(crate) heartbeat_interval: &'static str,
    pub(crate) heartbeat_timeout: &'static str,
    pub(crate) extra: Vec<String>,
}

/// One registry-server process; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) address: SocketAddr,
    _spans: tempdir::TempDir,
}

impl Server {
    pub(crate) fn start(
        binary: &Path,
        url: &str,
        options: &ServerOptions,
        extra: &[String],
    ) -> Result<Self> {
        let address = free_address()?;
        let spans = tempdir::TempDir::new()?;
        let child = Command::new(binary)
            .arg("serve")
            .args(["--listen", &address.to_string(), "--storage-url", url])
            .args(["--heartbeat-interval", options.heartbeat_interval])
            .args(["--heartbeat-timeout", options.heartbeat_timeout])
            .arg("--span-file")
            .arg(spans.path().join("spans.jsonl"))
            .args(["--log-level", "warn"])
            .args(&options.extra)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Self {
            child,
            address,
            _spans: spans,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut connection) = Connection::open(self.address, Duration::from_secs(1)) {
                if connection.get("/api/health").is_ok_and(|r| r.status == 200) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("registry-server at {} did not become ready", self.address)
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_address() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// The release binary with both shared-database backends compiled in.
pub(crate) fn build_server() -> Result<PathBuf> {
    cmd::cargo(&[
        "build",
        "--release",
        "--package",
        "registry-server",
        "--features",
        "registry-diesel/postgres,registry-diesel/mysql",
    ])?;
    Ok(cmd::workspace_root().join("target/release/registry-server"))
}

/// A temporary directory removed on drop, without a dependency.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new() -> std::io::Result<Self> {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("registry-ha-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
