//! The storage chosen at run time from one URL, behind one type the registry is generic over.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use registry_core::{
    HealthCounts, InMemoryStorage, InstanceSettings, InstanceStorage, ModelInstance,
    ModelInstanceIdentifier, QuerySpec, Storage, StorageError,
};

/// Whichever storage the configuration names: in memory or a SQL database.
///
/// The registry is generic over its storage; this wrapper lets one binary pick the storage at
/// start-up. It only forwards calls.
#[derive(Clone)]
pub struct AnyStorage {
    inner: Arc<dyn InstanceStorage>,
    kind: &'static str,
}

impl std::fmt::Debug for AnyStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyStorage")
            .field("kind", &self.kind)
            .finish()
    }
}

impl AnyStorage {
    /// An empty in-memory storage.
    pub fn memory() -> Self {
        Self::new(Arc::new(InMemoryStorage::<ModelInstance>::new()), "memory")
    }

    /// Wraps any instance storage; `kind` names it in logs (`memory`, `sqlite`, …).
    pub fn new(inner: Arc<dyn InstanceStorage>, kind: &'static str) -> Self {
        Self { inner, kind }
    }

    /// The kind of storage, such as `memory` or `sqlite`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl Storage<ModelInstance> for AnyStorage {
    fn save(&self, item: &ModelInstance) -> Result<(), StorageError> {
        self.inner.save(item)
    }

    fn update(&self, item: &ModelInstance) -> Result<(), StorageError> {
        self.inner.update(item)
    }

    fn save_or_update(&self, item: &ModelInstance) -> Result<(), StorageError> {
        self.inner.save_or_update(item)
    }

    fn load(&self, id: &ModelInstanceIdentifier) -> Result<Option<ModelInstance>, StorageError> {
        self.inner.load(id)
    }

    fn delete(&self, id: &ModelInstanceIdentifier) -> Result<(), StorageError> {
        self.inner.delete(id)
    }

    fn query(&self, spec: &QuerySpec) -> Result<Vec<ModelInstance>, StorageError> {
        self.inner.query(spec)
    }

    fn count(&self, spec: &QuerySpec) -> Result<u64, StorageError> {
        self.inner.count(spec)
    }

    fn is_blocking(&self) -> bool {
        self.inner.is_blocking()
    }
}

impl InstanceStorage for AnyStorage {
    fn register(&self, instance: &ModelInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.inner.register(instance, now)
    }

    fn heartbeat(&self, instance: &ModelInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.inner.heartbeat(instance, now)
    }

    fn deregister(&self, id: &ModelInstanceIdentifier, remove: bool) -> Result<(), StorageError> {
        self.inner.deregister(id, remove)
    }

    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.expire_stale(timeout, now)
    }

    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.remove_stale(timeout, now)
    }

    fn apply_settings(
        &self,
        id: &ModelInstanceIdentifier,
        settings: &InstanceSettings,
    ) -> Result<bool, StorageError> {
        self.inner.apply_settings(id, settings)
    }

    fn count_by_health(&self) -> Result<HealthCounts, StorageError> {
        self.inner.count_by_health()
    }

    fn check_ready(&self) -> Result<(), StorageError> {
        self.inner.check_ready()
    }

    fn instances(
        &self,
        model_name: Option<&str>,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, StorageError> {
        self.inner.instances(model_name, healthy_only)
    }
}
