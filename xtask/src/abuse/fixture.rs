//! A fresh storage per scenario (an empty memory registry, a new SQLite file, or a database of
//! its own on PostgreSQL or MariaDB), the server on it, and the requests every scenario makes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Suite;
use super::report::Report;
use crate::harness::database::{Backend, Database};
use crate::harness::http::{Connection, Request, Response};
use crate::harness::server::{Server, free_address, serve_command};
use crate::harness::tempdir::TempDir;

/// The storages a scenario can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    Memory,
    Sqlite,
    Postgres,
    Mysql,
}

impl Storage {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mariadb",
        }
    }
}

/// A scenario's own storage and directory (span file, SQLite files), removed when dropped;
/// declare it before the server so that the server is stopped first.
pub(crate) struct Store {
    url: String,
    database: Option<Database>,
    dir: TempDir,
}

impl Store {
    pub(crate) fn new(storage: Storage, scenario: &str) -> Result<Self> {
        let dir = TempDir::new()?;
        let backend = match storage {
            Storage::Memory => None,
            Storage::Sqlite => None,
            Storage::Postgres => Some(Backend::Postgres),
            Storage::Mysql => Some(Backend::Mysql),
        };
        let database = backend
            .map(|backend| {
                Database::create(backend, &format!("abuse_{}", scenario.replace('-', "_")))
            })
            .transpose()?;
        let url = match (storage, &database) {
            (_, Some(database)) => database.url(),
            (Storage::Sqlite, None) => {
                format!("sqlite://{}", dir.path().join("registry.db").display())
            }
            _ => "memory".to_owned(),
        };
        Ok(Self { url, database, dir })
    }

    pub(crate) fn database(&self) -> Option<&Database> {
        self.database.as_ref()
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite database file and its `-wal` and `-shm` companions.
    pub(crate) fn sqlite_files(&self) -> Vec<PathBuf> {
        ["registry.db", "registry.db-wal", "registry.db-shm"]
            .iter()
            .map(|name| self.dir.path().join(name))
            .collect()
    }

    pub(crate) fn span_file(&self) -> PathBuf {
        self.dir.path().join("spans.jsonl")
    }

    /// The server on this storage, tracing into this directory, with `args` added.
    pub(crate) fn start(&self, suite: &Suite, args: &[&str]) -> Result<Server> {
        self.start_wrapped(suite, &[], args)
    }

    /// As [`start`](Self::start), run through `wrapper` (`prlimit …`, `setpriv …`).
    pub(crate) fn start_wrapped(
        &self,
        suite: &Suite,
        wrapper: &[&str],
        args: &[&str],
    ) -> Result<Server> {
        self.start_url(suite, wrapper, &self.url, args)
    }

    /// The server on `url` (this storage reached another way, such as through a proxy).
    pub(crate) fn start_url(
        &self,
        suite: &Suite,
        wrapper: &[&str],
        url: &str,
        args: &[&str],
    ) -> Result<Server> {
        let address = free_address()?;
        let mut command = serve_command(suite.binary(), wrapper, address);
        command.args(["--storage-url", url]).args(args);
        if !args.contains(&"--span-file") {
            command.arg("--span-file").arg(self.span_file());
        }
        Server::spawn(command, address, None)
    }
}

/// How long `request` took on a new connection, and the answer.
pub(crate) fn timed(
    address: SocketAddr,
    request: &Request<'_>,
    timeout: Duration,
) -> (Duration, Result<Response>) {
    let begun = Instant::now();
    let answer = Connection::open(address, timeout).and_then(|mut c| c.request(request));
    (begun.elapsed(), answer)
}

/// A GET on a new connection.
pub(crate) fn get(path: &str) -> Request<'_> {
    Request {
        method: "GET",
        path,
        headers: &[],
        body: None,
    }
}

/// A JSON POST.
pub(crate) fn post_json<'a>(path: &'a str, body: &'a str) -> Request<'a> {
    Request {
        method: "POST",
        path,
        headers: &[],
        body: Some(("application/json", body.as_bytes())),
    }
}

/// The slowest of `tries` new clients' `GET /api/health`, each of which must answer 200.
pub(crate) fn slowest_fresh_health(address: SocketAddr, tries: usize) -> Result<Duration> {
    let mut slowest = Duration::ZERO;
    for _ in 0..tries {
        let (took, answer) = timed(address, &get("/api/health"), Duration::from_secs(10));
        let answer = answer.with_context(|| format!("/api/health after {took:?}"))?;
        if answer.status != 200 {
            bail!("/api/health answered {}", answer.status);
        }
        slowest = slowest.max(took);
    }
    Ok(slowest)
}

/// Records how long the slowest of 5 new clients waited for `GET /api/health` against `bound`
/// (a client that got no 200 answer breaks it).
pub(crate) fn check_fresh_health(report: &mut Report, address: SocketAddr, bound: Duration) {
    let what = "/api/health (slowest of 5 new clients) answered in";
    match slowest_fresh_health(address, 5) {
        Ok(slowest) => report.within(what, slowest, bound),
        Err(error) => report.holds(
            "/api/health from a new client",
            &format!("failed: {error:#}"),
            &format!("200 within {} ms", bound.as_millis()),
            false,
        ),
    }
}

/// A register body for one instance.
pub(crate) fn register_body(model: &str, host: &str, port: u16) -> String {
    serde_json::json!({"model_name": model, "host": host, "port": port}).to_string()
}

/// The status of `POST /api/controller/models` with `body` on a new connection.
pub(crate) fn register(address: SocketAddr, body: &str) -> Result<Response> {
    let (_, answer) = timed(
        address,
        &post_json("/api/controller/models", body),
        Duration::from_secs(15),
    );
    answer
}
