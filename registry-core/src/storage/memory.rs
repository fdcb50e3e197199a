//! An in-memory storage: a hash map under one lock.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::{Equivalent, HashMap};

use super::{
    HealthCounts, InstanceRecord, InstanceSettings, InstanceStorage, QuerySpec, ResourceIdentifier,
    Storage, StorageError, StorageItem,
};
use crate::identifier::ModelInstanceIdentifier;
use crate::instance::{InstanceKey, ModelInstance};

/// Each item's identifier and record.
type Table<T> = HashMap<<T as StorageItem>::Identifier, <T as StorageItem>::Record>;

/// A storage that keeps its items in a hash map under one lock, each as its identifier and its
/// [record](StorageItem::Record).
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
    items: RwLock<Table<T>>,
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
    fn read(&self) -> RwLockReadGuard<'_, Table<T>> {
        self.items.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table<T>> {
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
        items.insert(id, item.to_record());
        Ok(())
    }

    fn update(&self, item: &T) -> Result<(), StorageError> {
        let id = item.identifier()?;
        match self.write().get_mut(&id) {
            Some(stored) => {
                let mut merged = T::from_record(&id, stored);
                merged.merge(item);
                *stored = merged.to_record();
                Ok(())
            }
            None => Err(StorageError::NotFound(id.str_identifier())),
        }
    }

    fn save_or_update(&self, item: &T) -> Result<(), StorageError> {
        let id = item.identifier()?;
        self.write().insert(id, item.to_record());
        Ok(())
    }

    fn load(&self, id: &T::Identifier) -> Result<Option<T>, StorageError> {
        Ok(self.read().get(id).map(|record| T::from_record(id, record)))
    }

    fn delete(&self, id: &T::Identifier) -> Result<(), StorageError> {
        self.write().remove(id);
        Ok(())
    }

    fn query(&self, spec: &QuerySpec) -> Result<Vec<T>, StorageError> {
        let items = self.read();
        // Sorted by identifier so that pages are stable from one call to the next.
        let mut matching: Vec<(&T::Identifier, T)> = items
            .iter()
            .map(|(id, record)| (id, T::from_record(id, record)))
            .filter(|(_, item)| matches(item, spec))
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
            .map(|(_, item)| item)
            .collect())
    }

    fn count(&self, spec: &QuerySpec) -> Result<u64, StorageError> {
        let count = self
            .read()
            .iter()
            .filter(|(id, record)| matches(&T::from_record(id, record), spec))
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

impl InstanceStorage for InMemoryStorage<ModelInstance> {
    fn register(&self, instance: &ModelInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        let mut items = self.write();
        if let Some(stored) = items.get_mut(&instance.key()) {
            if !stored.weight_pinned() {
                stored.weight = instance.weight;
            }
            if stored.prompt_template.as_deref() != instance.prompt_template.as_deref() {
                stored.prompt_template = instance.prompt_template.as_deref().map(Box::from);
            }
            stored.set_healthy(true);
            stored.last_heartbeat = Some(now);
            return Ok(());
        }
        insert_new(&mut items, instance, now);
        Ok(())
    }

    fn heartbeat(&self, instance: &ModelInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
        let mut items = self.write();
        if let Some(stored) = items.get_mut(&instance.key()) {
            stored.set_healthy(true);
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
            stored.set_healthy(false);
        }
        Ok(())
    }

    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = cutoff(now, timeout);
        let mut expired = 0;
        for record in self.write().values_mut() {
            if record.healthy() && record.is_stale(cutoff) {
                record.set_healthy(false);
                expired += 1;
            }
        }
        Ok(expired)
    }

    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let cutoff = cutoff(now, timeout);
        let mut items = self.write();
        let before = items.len();
        items.retain(|_, record| !record.is_stale(cutoff));
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
            stored.set_enabled(enabled);
        }
        if let Some(weight) = settings.weight {
            stored.pin_weight(weight);
        }
        if settings.release_weight {
            stored.release_weight();
        }
        Ok(true)
    }

    fn count_by_health(&self) -> Result<HealthCounts, StorageError> {
        let items = self.read();
        let healthy = items.values().filter(|record| record.healthy()).count() as u64;
        Ok(HealthCounts {
            healthy,
            unhealthy: items.len() as u64 - healthy,
        })
    }

    fn instances(
        &self,
        model_name: Option<&str>,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, StorageError> {
        let items = self.read();
        // Filtered and sorted by reference (identifiers compare as bytes), then built.
        let mut selected: Vec<(&ModelInstanceIdentifier, &InstanceRecord)> = items
            .iter()
            .filter(|(id, _)| model_name.is_none_or(|name| id.key_bytes().0 == name.as_bytes()))
            .filter(|(_, record)| !healthy_only || record.healthy())
            .collect();
        selected.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Ok(selected
            .into_iter()
            .map(|(id, record)| record.to_instance(id))
            .collect())
    }
}

fn insert_new(items: &mut Table<ModelInstance>, instance: &ModelInstance, now: DateTime<Utc>) {
    let id = ModelInstanceIdentifier::from_valid_parts(
        &instance.model_name,
        &instance.host,
        instance.port,
    );
    let mut stored = InstanceRecord::from(instance);
    stored.set_healthy(true);
    stored.last_heartbeat = Some(now);
    stored.set_remove_from_registry(false);
    items.insert(id, stored);
}
