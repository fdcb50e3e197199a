//! The model registry: DB-GPT's `ModelRegistry` interface and a registry over any storage.

mod change_feed;
mod checker;
mod coalesce;
mod config;
mod history;
mod selection;
mod storage_registry;

pub use change_feed::{ChangeFeed, FeedSnapshot, Polling};
pub use checker::CheckerHandle;
pub use config::{BlockingCalls, RegistryConfig};
pub use history::{HealthHistory, HistoryConfig, Transition, TransitionFilter, TransitionKind};
pub use selection::pick_weighted;
pub use storage_registry::{RegistryStats, StorageModelRegistry, SweepOutcome};

use async_trait::async_trait;
use thiserror::Error;

use crate::identifier::{ModelInstanceIdentifier, ValidationError};
use crate::instance::{ModelInstance, ValidInstance};
use crate::storage::{InstanceSettings, StorageError};

/// Why a registry call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The instance is invalid; nothing was stored.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The blocking task that ran a storage call panicked or was cancelled.
    #[error("storage task failed: {0}")]
    Task(String),
}

impl RegistryError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Storage(error) if error.is_retryable())
    }
}

/// The operations of DB-GPT's model registry.
///
/// The write calls take a [`ValidInstance`], so an instance is validated once, where it is
/// built, and an invalid one never reaches a registry. They take it by value: a storage on
/// another thread gets the instance itself, not a copy.
#[async_trait]
pub trait ModelRegistry: Send + Sync {
    /// Registers an instance, healthy, with `last_heartbeat = now`. Registering a known instance
    /// updates its `weight` and `prompt_template`. Returns `true`.
    async fn register_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError>;

    /// Marks an instance unhealthy, or removes it when `remove_from_registry` is set. A missing
    /// instance is not an error. Returns `true`.
    async fn deregister_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError>;

    /// Records a heartbeat: the instance is healthy as of now. An unknown instance is registered,
    /// which is how a restarted registry refills itself within one heartbeat interval.
    async fn send_heartbeat(&self, instance: ValidInstance) -> Result<bool, RegistryError>;

    /// The instances of one model, optionally only the healthy ones.
    async fn get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError>;

    /// The instances of every model, optionally only the healthy ones.
    async fn get_all_model_instances(
        &self,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError>;

    /// One healthy, enabled instance of the model, chosen with probability proportional to its
    /// `weight`; instances of weight 0 or less are never chosen. `None` if there is none.
    async fn select_one_health_instance(
        &self,
        model_name: &str,
    ) -> Result<Option<ModelInstance>, RegistryError>;

    /// The blocking twin of [`get_all_instances`](Self::get_all_instances), for callers outside
    /// an async runtime. Do not call it from async code.
    fn sync_get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError>;

    /// Applies an operator's change (enable or disable, weight) to one instance; returns
    /// whether it exists. Registries that cannot do this answer an error.
    async fn update_instance_settings(
        &self,
        id: &ModelInstanceIdentifier,
        settings: InstanceSettings,
    ) -> Result<bool, RegistryError> {
        let _ = (id, settings);
        Err(StorageError::Unsupported("update_instance_settings").into())
    }
}
