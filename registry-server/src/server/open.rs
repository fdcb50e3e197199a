//! Opening the storage a URL names, and waiting for a database that is not up yet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::InstanceStorage;
use registry_diesel::{PoolConfig, StorageUrl};

use super::ServerError;
use crate::config::{Settings, format_duration, redact_url};
use crate::shutdown;

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

/// Opens the storage the settings name (registry-diesel's [`StorageUrl`] knows which, creates
/// a SQLite file's folders and applies pending migrations). Waits at most the pool timeout
/// for the database: one that may yet come up is [`ServerError::StorageUnavailable`] (see
/// [`serve`](super::serve), which retries it).
pub fn open_storage(settings: &Settings) -> Result<OpenStorage, ServerError> {
    let url = settings.storage_url.as_str();
    let storage_url = StorageUrl::parse(url).map_err(|error| ServerError::UnsupportedStorage {
        url: redact_url(url),
        reason: error.to_string(),
    })?;
    let config = PoolConfig::default()
        .with_max_size(settings.effective_pool_size())
        .with_connection_timeout(settings.pool_timeout)
        .with_statement_timeout(settings.statement_timeout)
        .with_time_zone(settings.time_zone);
    let storage = storage_url.open(config).map_err(|error| {
        if storage_url.is_worth_waiting(&error) {
            ServerError::StorageUnavailable {
                url: redact_url(url),
                message: error.to_string(),
                waited: Duration::ZERO,
            }
        } else {
            storage_error(url, error)
        }
    })?;
    Ok(OpenStorage {
        storage,
        kind: storage_url.name(),
    })
}

/// Applies pending migrations to the configured database and returns their versions; memory
/// storage has none.
pub fn migrate(settings: &Settings) -> Result<Vec<String>, ServerError> {
    let url = settings.storage_url.as_str();
    StorageUrl::parse(url)
        .map_err(|error| storage_error(url, error))?
        .migrate(settings.time_zone)
        .map_err(|error| storage_error(url, error))
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
