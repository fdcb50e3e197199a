//! Start-up and shut-down: storage from its URL, the registry and its checker, span storage,
//! the listener, and the order in which they stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use registry_core::{RegistryConfig, StorageModelRegistry};
use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{Settings, redact_url};
use crate::{AnyStorage, AppState, Auth, Tracer, app, shutdown};

/// Why the server could not start or stopped with an error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The storage URL names a backend this build does not have, or is malformed.
    #[error("unsupported storage URL {url}: {reason}")]
    UnsupportedStorage {
        /// The URL, password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// The storage could not be opened or migrated.
    #[error("cannot open storage {url}: {message}")]
    Storage {
        /// The URL, password masked.
        url: String,
        /// Why.
        message: String,
    },
    /// The span file could not be opened.
    #[error("cannot open the span file {path}: {message}")]
    Spans {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// The kinds of storage a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// `memory`.
    Memory,
    /// `sqlite://PATH` (also `sqlite:PATH`).
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
    /// `mysql://…` or `mariadb://…`.
    Mysql,
}

impl StorageKind {
    /// The kind of storage `url` names.
    pub fn of(url: &str) -> Result<Self, ServerError> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "memory" | "mem" => Ok(Self::Memory),
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::Mysql),
            _ => Err(ServerError::UnsupportedStorage {
                url: redact_url(url),
                reason: "use memory, sqlite://PATH, postgres://… or mysql://…".to_owned(),
            }),
        }
    }
}

/// The file path of a `sqlite://PATH` or `sqlite:PATH` URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Opens (and migrates) the storage the settings name. A SQLite file's folders are created.
pub fn open_storage(settings: &Settings) -> Result<AnyStorage, ServerError> {
    let url = settings.storage_url.as_str();
    let kind = StorageKind::of(url)?;
    if kind == StorageKind::Memory {
        return Ok(AnyStorage::memory());
    }
    if kind == StorageKind::Sqlite {
        create_parent(Path::new(sqlite_path(url))).map_err(|error| ServerError::Storage {
            url: redact_url(url),
            message: error.to_string(),
        })?;
    }
    Err(ServerError::UnsupportedStorage {
        url: redact_url(url),
        reason: "this build has no SQL storage".to_owned(),
    })
}

/// Applies the storage's migrations; memory storage has none.
pub fn migrate(settings: &Settings) -> Result<(), ServerError> {
    open_storage(settings).map(drop)
}

fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && path.to_str() != Some(":memory:") => {
            std::fs::create_dir_all(parent)
        }
        _ => Ok(()),
    }
}

/// Opens span storage; tracing is off when no span file is configured.
pub fn open_tracer(settings: &Settings) -> Result<Tracer, ServerError> {
    let Some(path) = &settings.span_file else {
        return Ok(Tracer::disabled());
    };
    Tracer::to_file(
        path,
        settings.span_batch_size,
        settings.span_flush_interval,
        settings.span_queue_capacity,
    )
    .map_err(|error| ServerError::Spans {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}

/// The registry's timing, from the settings.
pub fn registry_config(settings: &Settings) -> RegistryConfig {
    RegistryConfig::default()
        .with_heartbeat_interval(settings.heartbeat_interval)
        .with_heartbeat_timeout(settings.heartbeat_timeout)
        .with_removal_timeout(settings.removal_timeout)
}

/// Serves until SIGINT or SIGTERM, then stops in order: stop accepting, finish requests in
/// flight, stop the heartbeat checker, write every queued span. `ready` is called with the
/// bound address once the server accepts connections.
pub async fn serve(settings: &Settings, ready: impl FnOnce(SocketAddr)) -> Result<(), ServerError> {
    let storage = open_storage(settings)?;
    tracing::info!(storage = storage.kind(), url = %redact_url(&settings.storage_url), "storage open");
    let registry = Arc::new(StorageModelRegistry::with_config(
        Arc::new(storage),
        registry_config(settings),
    ));
    let tracer = open_tracer(settings)?;
    let auth = Auth::new(settings.token.clone(), settings.auth_reads);
    let state = AppState::with_options(
        Arc::clone(&registry),
        auth,
        tracer.clone(),
        settings.max_body_bytes,
    );
    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: settings.listen,
                source,
            })?;
    let addr = listener.local_addr()?;
    let checker = registry.start_checker();
    ready(addr);
    tracing::info!(%addr, "listening");
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown::signal())
        .await;
    checker.shutdown().await;
    let flushed = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
    match flushed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "spans could not all be written"),
        Err(error) => tracing::error!(%error, "the span writer failed"),
    }
    tracing::info!("stopped");
    result.map_err(ServerError::from)
}
