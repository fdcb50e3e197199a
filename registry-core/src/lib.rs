//! The domain of an LLM model registry, compatible with DB-GPT's model controller.
//!
//! Model workers register their instances and send heartbeats; the registry keeps them, marks
//! silent ones unhealthy, and answers which healthy instance serves a model. This crate holds
//! the rules and nothing else: it does no SQL, no HTTP and no file I/O. Storages plug in through
//! [`InstanceStorage`]; [`InMemoryStorage`] is included.
//!
//! ```
//! use std::sync::Arc;
//! use registry_core::{
//!     InMemoryStorage, ModelInstance, ModelRegistry, StorageModelRegistry, ValidInstance,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let registry = Arc::new(StorageModelRegistry::new(Arc::new(InMemoryStorage::new())));
//! let checker = registry.start_checker();
//! let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.1", 8001)).unwrap();
//! registry.send_heartbeat(instance).await.unwrap();
//! assert_eq!(registry.get_all_instances("glm-4@llm", true).await.unwrap().len(), 1);
//! checker.shutdown().await;
//! # });
//! ```
//!
//! Errors: every fallible call returns this crate's own [`thiserror`] enums
//! ([`ValidationError`], [`StorageError`], [`RegistryError`]); nothing here panics on input.

mod clock;
mod compact_text;
mod identifier;
mod instance;
mod registry;
mod storage;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use identifier::{
    IDENTIFIER_SEPARATOR, MAX_FIELD_CHARS, ModelInstanceIdentifier, ValidationError, check_length,
    check_no_control, validate_key_part, validate_port,
};
pub use instance::{InstanceKey, ModelInstance, ValidInstance};
pub use registry::{
    BlockingCalls, ChangeFeed, CheckerHandle, FeedSnapshot, HealthHistory, HistoryConfig,
    ModelRegistry, Polling, RegistryConfig, RegistryError, RegistryStats, StorageModelRegistry,
    SweepOutcome, Transition, TransitionFilter, TransitionKind, pick_weighted,
};
pub use storage::{
    FieldValue, HealthCounts, InMemoryStorage, InstanceRecord, InstanceSettings, InstanceStorage,
    MemorySlot, ModelCounts, ModelCountsPage, Page, QuerySpec, QueuedWrite, ResourceIdentifier,
    Storage, StorageError, StorageItem, WriteReply, queued_write,
};

/// The README's example, compiled and run as a doc test so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
