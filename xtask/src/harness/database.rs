//! The shared-database backends (PostgreSQL, MariaDB) and a database of its own per scenario,
//! dropped afterwards; the database servers can be stopped and started for outage scenarios.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

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

    fn port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            Self::Mysql => 3306,
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
        let name = format!("registry_xtask_{scenario}_{}", std::process::id());
        let drop_sql = format!("DROP DATABASE IF EXISTS {name}");
        let _ = backend.admin(&drop_sql).stdout(Stdio::null()).status();
        cmd::run(backend.admin(&format!("CREATE DATABASE {name}")))?;
        Ok(Self { backend, name })
    }

    pub(crate) fn url(&self) -> String {
        self.backend.url(&self.name)
    }

    /// The URL of this database reached through `port` on loopback instead of the database
    /// server's own port (a proxy in front of it).
    pub(crate) fn url_via(&self, port: u16) -> String {
        let url = self.url();
        let own = format!(":{}/", self.backend.port());
        url.replacen(&own, &format!(":{port}/"), 1)
    }

    /// The database server's own loopback address.
    pub(crate) fn server_address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.backend.port()))
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
