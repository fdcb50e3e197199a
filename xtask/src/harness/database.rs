//! The shared-database backends (PostgreSQL, MariaDB), found where the test kit finds them
//! (`REGISTRY_TEST_POSTGRES_URL`, `REGISTRY_TEST_MYSQL_URL`, else the local defaults), and a
//! database of its own per scenario, dropped afterwards. xtask reaches the servers through their
//! command-line clients (`psql`, `mysql`), so that it builds without a database client library;
//! the local servers can be stopped and started for outage scenarios.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use registry_testkit::database::{self as kit, Backend as KitBackend};

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

    /// The server's URL, as the test kit finds it.
    fn server_url(self) -> String {
        let backend = match self {
            Self::Postgres => KitBackend::Postgres,
            Self::Mysql => KitBackend::Mysql,
        };
        kit::server_url(backend).0
    }

    /// The server's command-line client running `sql` on `database`; more options may follow.
    pub(crate) fn sql_command(self, database: &str, sql: &str) -> Command {
        let url = kit::with_database(&self.server_url(), database);
        match self {
            Self::Postgres => {
                let mut command = Command::new("psql");
                command.env("PGOPTIONS", "-c client_min_messages=warning");
                command.args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", sql]);
                command
            }
            Self::Mysql => {
                let (user_info, host_port) = kit::split_authority(&url);
                let user_info = user_info.trim_end_matches('@');
                let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
                let (host, port) = host_port.rsplit_once(':').unwrap_or((&host_port, "3306"));
                let mut command = Command::new("mysql");
                command.args(["--protocol=tcp", "-h", host, "-P", port]);
                if !user.is_empty() {
                    command.arg(format!("-u{user}"));
                }
                if !password.is_empty() {
                    command.env("MYSQL_PWD", password);
                }
                command.args([database, "-e", sql]);
                command
            }
        }
    }

    /// `sql` on the server's maintenance database.
    fn admin(self, sql: &str) -> Command {
        let maintenance = match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        };
        self.sql_command(maintenance, sql)
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
        kit::with_database(&self.backend.server_url(), &self.name)
    }

    /// The database's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The URL of this database reached through `port` on loopback instead of the database
    /// server's own address (a proxy in front of it).
    pub(crate) fn url_via(&self, port: u16) -> String {
        kit::with_address(&self.url(), SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The database server's own address.
    pub(crate) fn server_address(&self) -> Result<SocketAddr> {
        kit::server_address(&self.url()).context("resolving the database server")
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
