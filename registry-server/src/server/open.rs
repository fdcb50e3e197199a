//! Opening the storage a URL names, and waiting for a database that is not up yet.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::{InMemoryStorage, InstanceStorage, ModelInstance};
use registry_diesel::{Backend, DieselStorage, PoolConfig, run_migrations};

use super::ServerError;
use crate::config::{Settings, format_duration, redact_url};
use crate::shutdown;

/// Whether a storage URL names the in-memory storage.
pub fn is_memory(url: &str) -> bool {
    matches!(
        url.trim().to_ascii_lowercase().as_str(),
        "memory" | "mem" | "memory://"
    )
}

/// The file path of a `sqlite://PATH` URL or a plain path; `None` for other databases.
fn sqlite_file(url: &str) -> Option<&Path> {
    match Backend::from_url(url) {
        Ok(Backend::Sqlite) => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            (path != ":memory:").then(|| Path::new(path))
        }
        _ => None,
    }
}

/// Whether a failure to connect may go away by waiting: the database is down, starting,
/// unreachable or its name does not resolve yet (not a malformed URL or a refusal, which
/// registry-diesel reports as `Rejected`). Only PostgreSQL and MySQL are waited for: a SQLite
/// file that cannot be opened will not open later.
fn worth_waiting(backend: Backend, error: &registry_diesel::DieselError) -> bool {
    backend != Backend::Sqlite && error.is_retryable()
}

fn storage_error(url: &str, error: impl std::fmt::Display) -> ServerError {
    ServerError::Storage {
        url: redact_url(url),
        message: error.to_string(),
    }
}

/// An open storage, and what kind it is (`memory`, `sqlite`, `postgres`, `mysql`) for logs.
#[derive(Clone)]
pub struct OpenStorage {
    /// The storage the registry runs over.
    pub storage: Arc<dyn InstanceStorage>,
    /// Its kind, for logs.
    pub kind: &'static str,
}

impl std::fmt::Debug for OpenStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStorage")
            .field("kind", &self.kind)
            .finish()
    }
}

/// Opens the storage the settings name and applies pending migrations. A SQLite file's
/// folders are created. Waits at most the pool timeout for the database: a PostgreSQL or MySQL
/// database that cannot be reached is [`ServerError::StorageUnavailable`] (see
/// [`serve`](super::serve), which retries it).
pub fn open_storage(settings: &Settings) -> Result<OpenStorage, ServerError> {
    let url = settings.storage_url.as_str();
    if is_memory(url) {
        return Ok(OpenStorage {
            storage: Arc::new(InMemoryStorage::<ModelInstance>::new()),
            kind: "memory",
        });
    }
    let backend = Backend::from_url(url).map_err(|error| ServerError::UnsupportedStorage {
        url: redact_url(url),
        reason: error.to_string(),
    })?;
    if let Some(path) = sqlite_file(url) {
        create_parent(path).map_err(|error| storage_error(url, error))?;
    }
    let config = PoolConfig::default()
        .with_max_size(settings.effective_pool_size())
        .with_connection_timeout(settings.pool_timeout)
        .with_statement_timeout(settings.statement_timeout);
    let storage = DieselStorage::connect(url, config).map_err(|error| {
        if worth_waiting(backend, &error) {
            ServerError::StorageUnavailable {
                url: redact_url(url),
                message: error.to_string(),
                waited: Duration::ZERO,
            }
        } else {
            storage_error(url, error)
        }
    })?;
    let kind = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::Mysql => "mysql",
        _ => "sql",
    };
    Ok(OpenStorage {
        storage: Arc::new(storage),
        kind,
    })
}

/// Applies pending migrations to the configured database and returns their versions; memory
/// storage has none.
pub fn migrate(settings: &Settings) -> Result<Vec<String>, ServerError> {
    let url = settings.storage_url.as_str();
    if is_memory(url) {
        return Ok(Vec::new());
    }
    if let Some(path) = sqlite_file(url) {
        create_parent(path).map_err(|error| storage_error(url, error))?;
    }
    run_migrations(url).map_err(|error| storage_error(url, error))
}

fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// The first pause between attempts to open an unreachable database; it doubles up to
/// [`STORAGE_RETRY_MAX`].
pub const STORAGE_RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest pause between attempts to open an unreachable database.
pub const STORAGE_RETRY_MAX: Duration = Duration::from_secs(5);

/// Opens the storage on a thread of its own, so that a signal need not wait for a connection
/// attempt: the thread is left to finish, or to end with the process.
async fn open_storage_apart(settings: &Settings) -> Result<OpenStorage, ServerError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let owned = settings.clone();
    std::thread::Builder::new()
        .name("storage-open".to_owned())
        .spawn(move || {
            let _ = sender.send(open_storage(&owned));
        })
        .map_err(|error| storage_error(&settings.storage_url, error))?;
    receiver.await.unwrap_or_else(|_| {
        Err(storage_error(
            &settings.storage_url,
            "the storage could not be opened (its thread panicked)",
        ))
    })
}

/// Opens the storage, retrying while the database cannot be reached, with pauses from
/// [`STORAGE_RETRY_FIRST`] doubling to [`STORAGE_RETRY_MAX`], until `storage_wait` has passed.
/// `None` when SIGINT or SIGTERM arrived first. Other failures end it at once.
pub(super) async fn wait_for_storage(
    settings: &Settings,
    signals: &mut shutdown::Signals,
) -> Result<Option<OpenStorage>, ServerError> {
    let url = redact_url(&settings.storage_url);
    let started = Instant::now();
    let mut pause = STORAGE_RETRY_FIRST;
    loop {
        let attempt = tokio::select! {
            attempt = open_storage_apart(settings) => attempt,
            name = signals.recv() => {
                tracing::info!(%url, "{name} received while waiting for the storage, stopping");
                return Ok(None);
            }
        };
        let message = match attempt {
            Ok(storage) => return Ok(Some(storage)),
            Err(ServerError::StorageUnavailable { message, .. }) => message,
            Err(error) => return Err(error),
        };
        let left = settings.storage_wait.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(ServerError::StorageUnavailable {
                url,
                message,
                waited: settings.storage_wait,
            });
        }
        let pause_now = pause.min(left);
        tracing::warn!(
            %url,
            error = %message,
            retry_in = %format_duration(pause_now),
            "storage unavailable, retrying"
        );
        tokio::select! {
            () = tokio::time::sleep(pause_now) => {}
            name = signals.recv() => {
                tracing::info!(%url, "{name} received while waiting for the storage, stopping");
                return Ok(None);
            }
        }
        pause = (pause * 2).min(STORAGE_RETRY_MAX);
    }
}
