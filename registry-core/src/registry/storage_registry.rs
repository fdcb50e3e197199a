//! A registry over any [`InstanceStorage`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::runtime::RuntimeFlavor;

use super::coalesce::Coalescer;
use super::selection::pick_weighted;
use super::{BlockingCalls, ModelRegistry, RegistryConfig, RegistryError};
use crate::clock::{Clock, SystemClock};
use crate::identifier::ModelInstanceIdentifier;
use crate::instance::{ModelInstance, ValidInstance};
use crate::storage::{InstanceSettings, InstanceStorage, StorageError};

/// DB-GPT's `StorageModelRegistry`: the registry's rules over a storage.
///
/// Storages that block (SQL) are called on tokio's blocking pool, so the executor never waits
/// on I/O; the in-memory storage is called inline, without a thread hop.
///
/// ```
/// use std::sync::Arc;
/// use registry_core::{
///     InMemoryStorage, ModelInstance, ModelRegistry, StorageModelRegistry, ValidInstance,
/// };
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let registry = StorageModelRegistry::new(Arc::new(InMemoryStorage::new()));
/// let instance = ValidInstance::new(ModelInstance::new("glm-4@llm", "10.0.0.1", 8001)).unwrap();
/// registry.register_instance(instance).await.unwrap();
/// let chosen = registry.select_one_health_instance("glm-4@llm").await.unwrap();
/// assert_eq!(chosen.unwrap().port, 8001);
/// # });
/// ```
pub struct StorageModelRegistry<S: ?Sized> {
    storage: Arc<S>,
    config: RegistryConfig,
    clock: Arc<dyn Clock>,
    rng: Mutex<fastrand::Rng>,
    stats: Counters,
    coalescer: Option<Coalescer>,
}

// Not derived: the storage may be a `dyn InstanceStorage`, which is not `Debug`.
impl<S: ?Sized> std::fmt::Debug for StorageModelRegistry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageModelRegistry")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Counters {
    registrations: AtomicU64,
    heartbeats: AtomicU64,
    deregistrations: AtomicU64,
    expired: AtomicU64,
    removed: AtomicU64,
    sweep_failures: AtomicU64,
    coalesced: AtomicU64,
}

/// Totals since the registry was created, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Successful registrations.
    pub registrations: u64,
    /// Successful heartbeats.
    pub heartbeats: u64,
    /// Successful deregistrations.
    pub deregistrations: u64,
    /// Instances the checker marked unhealthy.
    pub expired: u64,
    /// Instances the checker removed.
    pub removed: u64,
    /// Sweeps that failed.
    pub sweep_failures: u64,
    /// Heartbeats answered without a storage write (coalesced).
    pub heartbeats_coalesced: u64,
}

/// What one sweep of the heartbeat checker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SweepOutcome {
    /// Instances marked unhealthy.
    pub expired: u64,
    /// Instances deleted after the removal timeout.
    pub removed: u64,
}

impl<S: InstanceStorage + ?Sized + 'static> StorageModelRegistry<S> {
    /// A registry with the default configuration and the system clock.
    pub fn new(storage: Arc<S>) -> Self {
        Self::with_config(storage, RegistryConfig::default())
    }

    /// A registry with the given configuration and the system clock.
    pub fn with_config(storage: Arc<S>, config: RegistryConfig) -> Self {
        let coalescer = config.effective_coalesce_window().map(Coalescer::new);
        Self {
            coalescer,
            storage,
            config,
            clock: Arc::new(SystemClock),
            rng: Mutex::new(fastrand::Rng::new()),
            stats: Counters::default(),
        }
    }

    /// Replaces the clock (for tests and simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the random source of weighted selection, making it repeatable.
    pub fn with_seed(self, seed: u64) -> Self {
        *self.rng.lock().unwrap_or_else(PoisonError::into_inner) = fastrand::Rng::with_seed(seed);
        self
    }

    /// The storage underneath.
    pub fn storage(&self) -> &Arc<S> {
        &self.storage
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Totals since the registry was created.
    pub fn stats(&self) -> RegistryStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RegistryStats {
            registrations: load(&self.stats.registrations),
            heartbeats: load(&self.stats.heartbeats),
            deregistrations: load(&self.stats.deregistrations),
            expired: load(&self.stats.expired),
            removed: load(&self.stats.removed),
            sweep_failures: load(&self.stats.sweep_failures),
            heartbeats_coalesced: load(&self.stats.coalesced),
        }
    }

    /// Runs one sweep now: marks stale instances unhealthy, then removes those past the
    /// removal timeout if one is configured. The heartbeat checker calls this every interval.
    pub async fn sweep(&self) -> Result<SweepOutcome, RegistryError> {
        let now = self.clock.now();
        let timeout = self.config.heartbeat_timeout;
        let removal = self.config.removal_timeout;
        let result = self
            .call(move |storage| {
                let expired = storage.expire_stale(timeout, now)?;
                let removed = match removal {
                    Some(removal) => storage.remove_stale(removal, now)?,
                    None => 0,
                };
                Ok(SweepOutcome { expired, removed })
            })
            .await;
        if let Some(coalescer) = &self.coalescer {
            coalescer.prune(now);
        }
        match &result {
            Ok(outcome) => {
                self.stats
                    .expired
                    .fetch_add(outcome.expired, Ordering::Relaxed);
                self.stats
                    .removed
                    .fetch_add(outcome.removed, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.sweep_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// Runs `op` on the storage: inline for a non-blocking storage; for a blocking one as
    /// [`BlockingCalls`] says.
    async fn call<R, F>(&self, op: F) -> Result<R, RegistryError>
    where
        R: Send + 'static,
        F: FnOnce(&S) -> Result<R, StorageError> + Send + 'static,
    {
        if !self.storage.is_blocking() {
            return Ok(op(&self.storage)?);
        }
        if self.config.blocking_calls == BlockingCalls::InPlace {
            let multi_threaded = tokio::runtime::Handle::try_current()
                .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
            if multi_threaded {
                return Ok(tokio::task::block_in_place(|| op(&self.storage))?);
            }
        }
        let storage = Arc::clone(&self.storage);
        tokio::task::spawn_blocking(move || op(&storage))
            .await
            .map_err(|error| RegistryError::Task(error.to_string()))?
            .map_err(RegistryError::from)
    }

    /// Runs `op` on an instance: inline, borrowed, for a non-blocking storage; otherwise the
    /// instance moves to the blocking call and comes back with its result, never copied.
    async fn call_with_instance<F>(
        &self,
        instance: ValidInstance,
        op: F,
    ) -> Result<ValidInstance, RegistryError>
    where
        F: FnOnce(&S, &ValidInstance) -> Result<(), StorageError> + Send + 'static,
    {
        if !self.storage.is_blocking() {
            op(&self.storage, &instance)?;
            return Ok(instance);
        }
        self.call(move |storage| op(storage, &instance).map(|()| instance))
            .await
    }

    fn pick(&self, instances: &[ModelInstance]) -> Option<ModelInstance> {
        let draw = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .f64();
        pick_weighted(instances, draw).cloned()
    }
}

#[async_trait]
impl<S: InstanceStorage + ?Sized + 'static> ModelRegistry for StorageModelRegistry<S> {
    async fn register_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        let now = self.clock.now();
        self.call_with_instance(instance, move |storage, instance| {
            storage.register(instance, now)
        })
        .await?;
        self.stats.registrations.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    async fn deregister_instance(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        let id = instance.identifier();
        if let Some(coalescer) = &self.coalescer {
            coalescer.forget(&id);
        }
        let remove = instance.remove_from_registry;
        self.call(move |storage| storage.deregister(&id, remove))
            .await?;
        self.stats.deregistrations.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    async fn send_heartbeat(&self, instance: ValidInstance) -> Result<bool, RegistryError> {
        let now = self.clock.now();
        let coalescer = self.coalescer.as_ref();
        if coalescer.is_some_and(|coalescer| coalescer.may_skip(&instance, now)) {
            self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
        } else {
            let queue = self.storage.queues_heartbeats()
                && self.config.blocking_calls != BlockingCalls::InPlace;
            let written = if queue {
                self.storage
                    .queue_heartbeat(instance, now)
                    .written()
                    .await?
            } else {
                self.call_with_instance(instance, move |storage, instance| {
                    storage.heartbeat(instance, now)
                })
                .await?
            };
            if let Some(coalescer) = coalescer {
                coalescer.written(&written, now);
            }
        }
        self.stats.heartbeats.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    async fn get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        let model_name = model_name.trim().to_owned();
        self.call(move |storage| storage.instances(Some(&model_name), healthy_only))
            .await
    }

    async fn get_all_model_instances(
        &self,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        self.call(move |storage| storage.instances(None, healthy_only))
            .await
    }

    async fn select_one_health_instance(
        &self,
        model_name: &str,
    ) -> Result<Option<ModelInstance>, RegistryError> {
        let instances = self.get_all_instances(model_name, true).await?;
        Ok(self.pick(&instances))
    }

    async fn update_instance_settings(
        &self,
        id: &ModelInstanceIdentifier,
        settings: InstanceSettings,
    ) -> Result<bool, RegistryError> {
        settings.validate()?;
        let id = id.clone();
        self.call(move |storage| storage.apply_settings(&id, &settings))
            .await
    }

    fn sync_get_all_instances(
        &self,
        model_name: &str,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, RegistryError> {
        Ok(self
            .storage
            .instances(Some(model_name.trim()), healthy_only)?)
    }
}
