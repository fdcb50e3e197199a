//! SQL storage for the model registry on SQLite, PostgreSQL and MySQL/MariaDB, through
//! diesel.
//!
//! [`DieselStorage`] implements registry-core's [`Storage`](registry_core::Storage) and
//! [`InstanceStorage`](registry_core::InstanceStorage) over DB-GPT's own table,
//! `dbgpt_cluster_registry_instance`, so a DB-GPT controller can share the database. Unlike
//! DB-GPT, it never reads a row to decide how to write it: register and heartbeat are one
//! upsert each, the expiry sweep one conditional `UPDATE`, removal one conditional `DELETE`,
//! and a unique key on `(model_name, host, port)` makes duplicates impossible. On PostgreSQL
//! and MySQL, upserts that arrive together share one multi-row statement and one commit.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use registry_core::{InstanceStorage, ModelInstance, Storage, ValidInstance};
//! use registry_diesel::{DieselStorage, PoolConfig};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}", dir.path().join("registry.db").display());
//! let storage = DieselStorage::connect(&url, PoolConfig::default()).unwrap();
//! let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.1", 8001)).unwrap();
//! storage.heartbeat(&instance, chrono::Utc::now()).unwrap();
//! let stored = storage.load(&instance.identifier()).unwrap().unwrap();
//! assert!(stored.healthy);
//! # }
//! ```
//!
//! The backend is chosen at run time from the URL; each is compiled in by a cargo feature
//! (`sqlite`, the default, `postgres`, `mysql`). [`StorageUrl`] holds the rules of a storage
//! URL, the in-memory storage's included, and opens the storage it names, so that a server
//! never looks at a URL's scheme. This crate knows nothing of HTTP.

mod backend;
mod batch;
#[cfg(feature = "sqlite")]
mod checkpoint;
mod config;
#[cfg(feature = "sqlite")]
mod database_files;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod deadline;
mod entity;
mod error;
mod instance_storage;
mod item_storage;
mod legacy_times;
mod migrations;
mod padded_names;
mod pool;
mod query;
pub mod schema;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod session;
mod skipped_rows;
mod statements;
mod storage;
mod storage_url;
mod time;
mod upsert;
mod zone;

pub use backend::{Backend, UnsupportedUrl, redact_url};
pub use batch::MAX_QUEUED as MAX_QUEUED_WRITES;
pub use config::{PoolConfig, TimeSource};
pub use entity::{IdentifierQuery, InstanceAdapter, InstanceEntity, InstanceRecord};
pub use error::DieselError;
pub use migrations::{revert_last_migration, run_migrations, run_migrations_in};
pub use skipped_rows::rows_skipped_total;
pub use storage::DieselStorage;
pub use storage_url::{StorageUrl, auto_pool_size};
pub use zone::{UnknownZone, WallClockZone};

/// The README's example, compiled and run as a doc test so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
