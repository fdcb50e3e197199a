//! An in-memory storage: a hash map under one lock.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::DefaultHashBuilder;
use indexmap::{Equivalent, IndexMap};

use super::{
    HealthCounts, InstanceRecord, InstanceSettings, InstanceStorage, ModelCountsPage, QuerySpec,
    ResourceIdentifier, Storage, StorageError, StorageItem,
};
use crate::identifier::ModelInstanceIdentifier;
use crate::instance::{InstanceKey, ModelInstance, ValidInstance};

/// Each item's identifier and record, in the order items were first stored (as DB-GPT's
/// in-memory registry lists them), hashed as hashbrown hashes.
type Table<T> =
    IndexMap<<T as StorageItem>::Identifier, <T as MemorySlot>::Record, DefaultHashBuilder>;

/// How an [`InMemoryStorage`] keeps an item beside its identifier: the item itself, or a
/// smaller record without the fields the identifier already holds. The slot layout belongs
/// to this storage alone, not to the generic [`Storage`] interface.
pub trait MemorySlot: StorageItem {
    /// The form kept beside the identifier.
    type Record: Clone + std::fmt::Debug + Send + Sync + 'static;

    /// The record kept for this item.
    fn to_record(&self) -> Self::Record;

    /// The item an identifier and its record describe.
    fn from_record(id: &Self::Identifier, record: &Self::Record) -> Self;
}

impl MemorySlot for ModelInstance {
    type Record = InstanceRecord;

    fn to_record(&self) -> InstanceRecord {
        InstanceRecord::from(self)
    }

    fn from_record(id: &ModelInstanceIdentifier, record: &InstanceRecord) -> Self {
        record.to_instance(id)
    }
}

/// A storage that keeps its items in a hash map under one lock, each as its identifier and its
/// [record](MemorySlot::Record).
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
pub struct InMemoryStorage<T: MemorySlot> {
    items: RwLock<Table<T>>,
}

impl<T: MemorySlot> Default for InMemoryStorage<T> {
    fn default() -> Self {
        Self {
            items: RwLock::new(IndexMap::default()),
        }
    }
}

impl<T: MemorySlot> InMemoryStorage<T> {
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

impl<T: MemorySlot> Storage<T> for InMemoryStorage<T>
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
        self.write().shift_remove(id);
        Ok(())
    }

    fn query(&self, spec: &QuerySpec) -> Result<Vec<T>, StorageError> {
        let items = self.read();
        // In the order items were first stored, so that pages are stable from one call to
        // the next.
        let matching: Vec<(&T::Identifier, T)> = items
            .iter()
            .map(|(id, record)| (id, T::from_record(id, record)))
            .filter(|(_, item)| matches(item, spec))
            .collect();
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
    fn register(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
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

    fn heartbeat(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError> {
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
            items.shift_remove(id);
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

    fn count_by_model(&self, max_models: usize) -> Result<ModelCountsPage, StorageError> {
        let items = self.read();
        let mut page = ModelCountsPage::default();
        for (id, record) in items.iter() {
            page.add(id.model_name(), record.healthy(), record.enabled(), 1);
        }
        page.finish(max_models);
        Ok(page)
    }

    fn instances(
        &self,
        model_name: Option<&str>,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, StorageError> {
        let items = self.read();
        // As DB-GPT's in-memory registry lists them: models in the order each was first seen,
        // each model's instances in the order they were stored. A stable sort by the index of
        // each model's first instance keeps that order within a model.
        let mut first_seen: hashbrown::HashMap<&[u8], usize> = hashbrown::HashMap::new();
        let mut selected: Vec<(usize, &ModelInstanceIdentifier, &InstanceRecord)> = items
            .iter()
            .enumerate()
            .filter(|(_, (id, _))| {
                model_name.is_none_or(|name| id.key_bytes().0 == name.as_bytes())
            })
            .map(|(index, (id, record))| {
                let model = *first_seen.entry(id.key_bytes().0).or_insert(index);
                (model, id, record)
            })
            .filter(|(_, _, record)| !healthy_only || record.healthy())
            .collect();
        selected.sort_by_key(|(model, _, _)| *model);
        Ok(selected
            .into_iter()
            .map(|(_, id, record)| record.to_instance(id))
            .collect())
    }
}

fn insert_new(items: &mut Table<ModelInstance>, instance: &ValidInstance, now: DateTime<Utc>) {
    let id = instance.identifier();
    let mut stored = InstanceRecord::from(&**instance);
    stored.set_healthy(true);
    stored.last_heartbeat = Some(now);
    stored.set_remove_from_registry(false);
    items.insert(id, stored);
}
