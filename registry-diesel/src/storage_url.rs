//! A storage URL parsed once, and the rules that follow from it: which storage it names (the
//! in-memory one or a SQL database), its name for logs, the pool size "auto" means, whether a
//! failure to open it is worth waiting out, and opening or migrating it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use registry_core::{InMemoryStorage, InstanceStorage, ModelInstance};

use crate::backend::{Backend, UnsupportedUrl, redact_url, sqlite_file};
use crate::config::PoolConfig;
use crate::error::DieselError;
use crate::migrations::run_migrations_in;
use crate::storage::DieselStorage;
use crate::zone::WallClockZone;

/// What a storage URL names.
///
/// ```
/// use registry_diesel::{Backend, StorageUrl};
///
/// assert_eq!(StorageUrl::parse("memory").unwrap(), StorageUrl::Memory);
/// let sqlite = StorageUrl::parse("sqlite://./data/registry.db").unwrap();
/// assert_eq!((sqlite.backend(), sqlite.name()), (Some(Backend::Sqlite), "sqlite"));
/// assert_eq!(sqlite.auto_pool_size(), 1);
/// assert_eq!(StorageUrl::parse("postgres://db/registry").unwrap().auto_pool_size(), 8);
/// assert!(StorageUrl::parse("redis://localhost").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageUrl {
    /// registry-core's in-memory storage: `memory`, `mem` or `memory://`, in any case.
    Memory,
    /// A SQL database: `sqlite://PATH` or a plain file path, `postgres://…`,
    /// `postgresql://…` or `mysql://…`.
    Sql {
        /// The backend the URL's scheme names (whether or not this build includes it).
        backend: Backend,
        /// The URL as given.
        url: String,
    },
}

impl StorageUrl {
    /// What `url` names; an unknown scheme (or an empty URL) is an error.
    pub fn parse(url: &str) -> Result<Self, UnsupportedUrl> {
        let lower = url.trim().to_ascii_lowercase();
        if matches!(lower.as_str(), "memory" | "mem" | "memory://") {
            return Ok(Self::Memory);
        }
        Ok(Self::Sql {
            backend: Backend::from_url(url)?,
            url: url.to_owned(),
        })
    }

    /// The SQL backend, or `None` for the in-memory storage.
    pub fn backend(&self) -> Option<Backend> {
        match self {
            Self::Memory => None,
            Self::Sql { backend, .. } => Some(*backend),
        }
    }

    /// Its short name for logs and metrics: `memory`, or the backend's
    /// ([`Backend::name`]).
    pub fn name(&self) -> &'static str {
        self.backend().map_or("memory", Backend::name)
    }

    /// The file of a SQLite database; `None` for an in-memory one (`:memory:`), a `file:`
    /// URI, and every other storage.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Self::Sql {
                backend: Backend::Sqlite,
                url,
            } => sqlite_file(url),
            _ => None,
        }
    }

    /// The pool size "auto" means: 1 on SQLite, where writers take turns on one lock and more
    /// connections only add lock contention, and for the in-memory storage, which has no
    /// connections; [`PoolConfig::default`]'s 8 on PostgreSQL and MySQL.
    pub fn auto_pool_size(&self) -> u32 {
        match self.backend() {
            None | Some(Backend::Sqlite) => 1,
            Some(_) => PoolConfig::default().max_size,
        }
    }

    /// Whether a failure to open may go away by waiting: the database is down, starting,
    /// unreachable or its name does not resolve yet (not a malformed URL or a refusal, which
    /// are [`DieselError::Rejected`]). Only PostgreSQL and MySQL are worth waiting for: a
    /// SQLite file that cannot be opened will not open later.
    pub fn is_worth_waiting(&self, error: &DieselError) -> bool {
        matches!(self.backend(), Some(Backend::Postgres | Backend::Mysql)) && error.is_retryable()
    }

    /// Opens the storage: a new, empty in-memory storage, or a [`DieselStorage`] connected
    /// with `config` (see [`DieselStorage::connect`]: pending migrations are applied). A SQLite
    /// file's folders are created first.
    pub fn open(&self, config: PoolConfig) -> Result<Arc<dyn InstanceStorage>, DieselError> {
        match self {
            Self::Memory => Ok(Arc::new(InMemoryStorage::<ModelInstance>::new())),
            Self::Sql { url, .. } => {
                self.create_folders()?;
                Ok(Arc::new(DieselStorage::connect(url, config)?))
            }
        }
    }

    /// Applies pending migrations (see [`run_migrations_in`](crate::run_migrations_in)) and returns their versions; the
    /// in-memory storage has none. A SQLite file's folders are created first.
    /// Rows an earlier version stamped in UTC are moved onto `zone`'s wall clock.
    pub fn migrate(&self, zone: WallClockZone) -> Result<Vec<String>, DieselError> {
        match self {
            Self::Memory => Ok(Vec::new()),
            Self::Sql { url, .. } => {
                self.create_folders()?;
                run_migrations_in(url, zone)
            }
        }
    }

    /// Creates the folders of a SQLite file, when this build can open it.
    fn create_folders(&self) -> Result<(), DieselError> {
        let Some(folder) = self.sqlite_file().and_then(Path::parent) else {
            return Ok(());
        };
        if folder.as_os_str().is_empty() || !Backend::Sqlite.is_compiled() {
            return Ok(());
        }
        std::fs::create_dir_all(folder).map_err(|source| DieselError::CreateFolder {
            folder: folder.to_path_buf(),
            source,
        })
    }
}

/// The URL's password is redacted.
impl fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Sql { backend, url } => f
                .debug_struct("Sql")
                .field("backend", backend)
                .field("url", &redact_url(url))
                .finish(),
        }
    }
}

/// The pool size "auto" means for a storage URL (see [`StorageUrl::auto_pool_size`]); for a
/// URL that names no storage, [`PoolConfig::default`]'s, as opening it fails anyway.
///
/// ```
/// assert_eq!(registry_diesel::auto_pool_size("sqlite://./data/registry.db"), 1);
/// assert_eq!(registry_diesel::auto_pool_size("mysql://root@db/registry"), 8);
/// ```
pub fn auto_pool_size(url: &str) -> u32 {
    StorageUrl::parse(url).map_or(PoolConfig::default().max_size, |url| url.auto_pool_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_has_three_names_in_any_case() {
        for url in ["memory", "MEM", " memory:// "] {
            assert_eq!(StorageUrl::parse(url).unwrap(), StorageUrl::Memory, "{url}");
        }
        let memory = StorageUrl::Memory;
        assert_eq!((memory.backend(), memory.name()), (None, "memory"));
        assert_eq!((memory.sqlite_file(), memory.auto_pool_size()), (None, 1));
    }

    #[test]
    fn sql_urls_keep_their_backend_and_file() {
        let file = StorageUrl::parse("sqlite://./data/registry.db").unwrap();
        assert_eq!(file.sqlite_file(), Some(Path::new("./data/registry.db")));
        assert_eq!(StorageUrl::parse(":memory:").unwrap().sqlite_file(), None);
        let server = StorageUrl::parse("postgresql://app:s3cret@db/registry").unwrap();
        assert_eq!(
            (server.backend(), server.name()),
            (Some(Backend::Postgres), "postgres")
        );
        assert_eq!((server.sqlite_file(), server.auto_pool_size()), (None, 8));
        let printed = format!("{server:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert_eq!(StorageUrl::parse("mysql://db").unwrap().name(), "mysql");
    }

    #[test]
    fn only_unreachable_servers_are_worth_waiting_for() {
        let unreachable = || DieselError::Unavailable {
            url: String::new(),
            reason: "connection refused".to_owned(),
        };
        let rejected = DieselError::Rejected {
            url: String::new(),
            reason: "password authentication failed".to_owned(),
        };
        let server = StorageUrl::parse("mysql://db").unwrap();
        assert!(server.is_worth_waiting(&unreachable()));
        assert!(!server.is_worth_waiting(&rejected));
        let file = StorageUrl::parse("registry.db").unwrap();
        assert!(!file.is_worth_waiting(&unreachable()));
        assert!(!StorageUrl::Memory.is_worth_waiting(&unreachable()));
    }

    #[test]
    fn unknown_urls_get_the_default_pool_size() {
        assert_eq!(auto_pool_size("redis://localhost"), 8);
        assert_eq!(auto_pool_size("memory"), 1);
    }

    #[test]
    fn memory_opens_empty_and_has_no_migrations() {
        let storage = StorageUrl::Memory.open(PoolConfig::default()).unwrap();
        let counts = storage.count_by_health().unwrap();
        assert_eq!(counts.healthy + counts.unhealthy, 0);
        assert!(
            StorageUrl::Memory
                .migrate(WallClockZone::Local)
                .unwrap()
                .is_empty()
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_files_get_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/registry.db");
        let url = StorageUrl::parse(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(url.migrate(WallClockZone::Utc).unwrap().len(), 5);
        assert!(url.open(PoolConfig::default()).is_ok());
        let other = StorageUrl::parse(dir.path().join("c/registry.db").to_str().unwrap()).unwrap();
        assert!(other.open(PoolConfig::default()).is_ok());
        assert!(dir.path().join("c/registry.db").exists());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_folder_that_cannot_be_made_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let url = StorageUrl::parse(blocker.join("registry.db").to_str().unwrap()).unwrap();
        let error = url.open(PoolConfig::default()).err().unwrap();
        assert!(matches!(error, DieselError::CreateFolder { .. }), "{error}");
        assert!(!url.is_worth_waiting(&error));
    }
}
