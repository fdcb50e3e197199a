//! An in-memory storage: a hash map under one lock.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::{Equivalent, HashMap};

use super::{
    InstanceSettings, InstanceStorage, QuerySpec, ResourceIdentifier, Storage, StorageError,
    StorageItem,
};
use crate::identifier::ModelInstanceIdentifier;
use crate::instance::{InstanceKey, ModelInstance};

/// A storage that keeps its items in a hash map under one lock.
///
/// Every [`InstanceStorage`] operation takes the lock once, so each is atomic. A heartbeat for a
/// known instance is one hash lookup and allocates nothing, whatever the number of instances.
///
/// ```
/// use registry_core::{InMemoryStorage, ModelInstance, QuerySpec, Storage};
///
/// let storage = InMemoryStorage::new();
/// storage.save(&ModelInstance::new("glm-4@llm", "10.0.0.1", 8001)).unwrap();
/// assert!(storage.save(&ModelInstance::new("glm-4@llm", "10.0.0.1", 8001)).is_err());
/// assert_eq!(storage.count(&QuerySpec::new().eq("model_name", "glm-4@llm")).unwrap(), 1);
/// ```
#[derive(Debug)]
pub struct InMemoryStorage<T: StorageItem> {
    items: RwLock<HashMap<T::Identifier, T>>,
}

impl<T: StorageItem> Default for InMemoryStorage<T> {
    fn default() -> Self {
        Self {
            items: RwLock::new(HashMap::new()),
        }
    }
}

impl<T: StorageItem> InMemoryStorage<T> {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave a half-written item (every write is one map
    // operation), so a poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<T::Identifier, T>> {
        self.items.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<T::Identifier, T>> {
        self.items.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn matches<T: StorageItem>(item: &T, spec: &QuerySpec) -> bool {
    spec.conditions()
        .iter()
        .all(|(field, value)| item.field(field).as_ref() == Some(value))
}

impl<T: StorageItem> Storage<T> for InMemoryStorage<T>
where
    T::Identifier: Ord,
{
    fn save(&self, item: &T) -> Result<(), StorageError> {
        let id = item.identifier()?;
        let mut items = self.write();
        if items.contains_key(&id) {
            return Err(StorageError::Duplicate(id.str_identifier()));
        }
        items.insert(id, item.clone());
        Ok(())
    }

    fn update(&self, item: &T) -> Result<(), StorageError> {
        let id = item.identifier()?;
        match self.write().get_mut(&id) {
            Some(stored) => {
                stored.merge(item);
                Ok(())
            }
            None => Err(StorageError::NotFound(id.str_identifier())),
        }
    }

    fn save_or_update(&self, item: &T) -> Result<(), StorageError> {
        let id = item.identifier()?;
        self.write().insert(id, item.clone());
        Ok(())
    }

    fn load(&self, id: &T::Identifier) -> Result<Option<T>, StorageError> {
        Ok(self.read().get(id).cloned())
    }

    fn delete(&self, id: &T::Identifier) -> Result<(), StorageError> {
        self.write().remove(id);
        Ok(())
    }

    fn query(&self, spec: &QuerySpec) -> Result<Vec<T>, StorageError> {
        let items = self.read();
        // Sorted by identifier so that pages are stable from one call to the next.
        let mut matching: Vec<(&T::Identifier, &T)> = items
            .iter()
            .filter(|(_, item)| matches(*item, spec))
            .collect();
        matching.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let offset = usize::try_from(spec.offset_value()).unwrap_or(usize::MAX);
        let limit = spec.limit_value().map_or(usize::MAX, |limit| {
            usize::try_from(limit).unwrap_or(usize::MAX)
        });
        Ok(matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(_, item)| item.clone())
            .collect())
    }

    fn count(&self, spec: &QuerySpec) -> Result<u64, StorageError> {
        let count = self
            .read()
            .values()
            .filter(|item| matches(*item, spec))
            .count();
        Ok(count as u64)
    }

    fn is_blocking(&self) -> bool {
        false
    }
}

impl Equivalent<ModelInstanceIdentifier> for InstanceKey<'_> {
    fn equivalent(&self, key: &ModelInstanceIdentifier) -> bool {
        let (model_name, host, port) = key.key_bytes();
        self.port == port
            && self.host.as_bytes() == host
            && self.model_name.as_bytes() == model_name
    }
}

fn cutoff(now: DateTime<Utc>, timeout: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX)
}

fn is_stale(instance: &ModelInstance, cutoff: DateTime<Utc>) -> bool {
    instance.check_healthy && instance.last_heartbeat.is_none_or(|beat| beat < cutoff)
}

impl InstanceStorage for InMemoryStorage<ModelInstance> {
    fn register(&self, instance: &ModelInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        let mut items = self.write();
        if let Some(stored) = items.get_mut(&instance.key()) {
            stored.weight = instance.weight;
            stored.prompt_template.clone_from(&instance.prompt_template);
            stored.healthy = true;
            stored.last_heartbeat = Some(now);
            return Ok(());
        }
        insert_new(&mut items, instance, now);
        Ok(())
    }

    fn heartbeat(&self, instance: &ModelInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        let mut items = self.write();
        if let Some(stored) = items.get_mut(&instance.key()) {
            stored.healthy = true;
            stored.last_heartbeat = Some(now);
            return Ok(());
        }
        insert_new(&mut items, instance, now);
        Ok(())
    }

    fn deregister(&self, id: &ModelInstanceIdentifier, remove: bool) -> Result<(), StorageError> {
        let mut items = self.write();
        if remove {
            items.remove(id);
        } else if let Some(stored) = items.get_mut(id) {
            stored.healthy = false;
        }
        Ok(())
    }

    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = cutoff(now, timeout);
        let mut expired = 0;
        for instance in self.write().values_mut() {
            if instance.healthy && is_stale(instance, cutoff) {
                instance.healthy = false;
                expired += 1;
            }
        }
        Ok(expired)
    }

    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = cutoff(now, timeout);
        let mut items = self.write();
        let before = items.len();
        items.retain(|_, instance| !is_stale(instance, cutoff));
        Ok((before - items.len()) as u64)
    }

    fn apply_settings(
        &self,
        id: &ModelInstanceIdentifier,
        settings: &InstanceSettings,
    ) -> Result<bool, StorageError> {
        settings.validate()?;
        let mut items = self.write();
        let Some(stored) = items.get_mut(id) else {
            return Ok(false);
        };
        if let Some(enabled) = settings.enabled {
            stored.enabled = enabled;
        }
        if let Some(weight) = settings.weight {
            stored.weight = weight;
        }
        Ok(true)
    }

    fn instances(
        &self,
        model_name: Option<&str>,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, StorageError> {
        let items = self.read();
        let mut selected: Vec<ModelInstance> = items
            .values()
            .filter(|i| model_name.is_none_or(|name| i.model_name == name))
            .filter(|i| !healthy_only || i.healthy)
            .cloned()
            .collect();
        selected.sort_unstable_by(|a, b| a.key().cmp_key(&b.key()));
        Ok(selected)
    }
}

fn insert_new(
    items: &mut HashMap<ModelInstanceIdentifier, ModelInstance>,
    instance: &ModelInstance,
    now: DateTime<Utc>,
) {
    let id = ModelInstanceIdentifier::from_valid_parts(
        &instance.model_name,
        &instance.host,
        instance.port,
    );
    let mut stored = instance.clone();
    stored.healthy = true;
    stored.last_heartbeat = Some(now);
    stored.remove_from_registry = false;
    items.insert(id, stored);
}
