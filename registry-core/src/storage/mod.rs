//! Storage: DB-GPT's generic storage interface, and the atomic operations a model registry
//! needs from it.
//!
//! [`Storage`] is the generic, item-agnostic part (save, update, load, delete, query, count,
//! paginate). [`InstanceStorage`] adds the registry's hot paths (register, heartbeat, the expiry
//! sweep), each of which a backend must perform as one atomic operation: the in-memory storage
//! under one lock, a SQL storage as one statement. That is what keeps a heartbeat from ever being
//! overwritten by a sweep, and two concurrent first heartbeats from making two rows.

mod error;
mod memory;
mod query;
mod queued;
mod record;

pub use error::StorageError;
pub use memory::{InMemoryStorage, MemorySlot};
pub use query::{FieldValue, Page, QuerySpec};
pub use queued::{QueuedWrite, WriteReply, queued_write};
pub use record::InstanceRecord;

use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::identifier::{ModelInstanceIdentifier, ValidationError};
use crate::instance::{ModelInstance, ValidInstance};

/// The identity of a stored item. Equality and hashing follow [`str_identifier`](Self::str_identifier).
pub trait ResourceIdentifier: Clone + Eq + Hash + Debug + Send + Sync + 'static {
    /// A string form unique to the item.
    fn str_identifier(&self) -> String;
}

/// An item a [`Storage`] can hold.
pub trait StorageItem: Clone + Debug + Send + Sync + 'static {
    /// The item's identity.
    type Identifier: ResourceIdentifier;

    /// The item's identity; an item with an invalid key has none.
    fn identifier(&self) -> Result<Self::Identifier, ValidationError>;

    /// Copies `other`'s stored fields into `self`.
    fn merge(&mut self, other: &Self);

    /// The value of a named field, for [`QuerySpec`] conditions; `None` if there is no such field.
    fn field(&self, name: &str) -> Option<FieldValue>;
}

/// DB-GPT's storage interface: a keyed collection of items.
///
/// Methods are blocking; a storage whose methods do I/O says so with
/// [`is_blocking`](Self::is_blocking), and async callers then run them off the executor.
pub trait Storage<T: StorageItem>: Send + Sync {
    /// Inserts `item`; fails with [`StorageError::Duplicate`] if its identifier already exists.
    fn save(&self, item: &T) -> Result<(), StorageError>;

    /// Replaces the stored item with `item`'s identifier; fails with
    /// [`StorageError::NotFound`] if there is none.
    fn update(&self, item: &T) -> Result<(), StorageError>;

    /// Inserts `item`, or replaces the item with its identifier.
    fn save_or_update(&self, item: &T) -> Result<(), StorageError>;

    /// The item with this identifier, if any.
    fn load(&self, id: &T::Identifier) -> Result<Option<T>, StorageError>;

    /// Deletes the item with this identifier; a missing item is not an error.
    fn delete(&self, id: &T::Identifier) -> Result<(), StorageError>;

    /// The items matching every condition of `spec`, honouring its limit and offset.
    fn query(&self, spec: &QuerySpec) -> Result<Vec<T>, StorageError>;

    /// How many items match `spec`'s conditions; limit and offset are ignored.
    fn count(&self, spec: &QuerySpec) -> Result<u64, StorageError>;

    /// One page (numbered from 1) of the items matching `spec`'s conditions.
    fn paginate_query(
        &self,
        page: u64,
        page_size: u64,
        spec: &QuerySpec,
    ) -> Result<Page<T>, StorageError> {
        if page == 0 || page_size == 0 {
            return Err(StorageError::InvalidArgument(
                "page and page_size start at 1".to_owned(),
            ));
        }
        let total_count = self.count(spec)?;
        let items = self.query(&spec.clone().limit(page_size).offset((page - 1) * page_size))?;
        Ok(Page {
            items,
            total_count,
            total_pages: total_count.div_ceil(page_size),
            page,
            page_size,
        })
    }

    /// Whether calls may block on I/O. The registry runs blocking storages on a blocking thread
    /// pool, and calls the others inline.
    fn is_blocking(&self) -> bool {
        true
    }
}

/// The registry's operations on stored instances, each one atomic.
///
/// Writes take a [`ValidInstance`], so a storage never sees an unchecked or untrimmed one. Every
/// operation gets the caller's `now`; a backend may instead take the time from a clock shared by
/// all registry servers (a database's), as long as it uses one clock for both writing
/// `last_heartbeat` and computing expiry cutoffs.
pub trait InstanceStorage: Storage<ModelInstance> {
    /// Inserts the instance healthy with `last_heartbeat = now`; if it exists, updates its
    /// `prompt_template`, marks it healthy and sets `last_heartbeat = now`, and takes its
    /// `weight` unless an operator set one (see [`apply_settings`](Self::apply_settings)).
    /// `enabled` of an existing instance is never changed: it is the operator's. A null
    /// `prompt_template` clears the stored one in memory and keeps it in a SQL storage, as
    /// DB-GPT's memory and database registries do.
    fn register(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError>;

    /// Marks the instance healthy with `last_heartbeat = now`; inserts it as
    /// [`register`](Self::register) does if it is unknown.
    fn heartbeat(&self, instance: &ValidInstance, now: DateTime<Utc>) -> Result<(), StorageError>;

    /// Whether [`queue_heartbeat`](Self::queue_heartbeat) hands heartbeats to a writer thread
    /// of the storage's own. The registry then awaits them instead of calling
    /// [`heartbeat`](Self::heartbeat) on a blocking thread.
    fn queues_heartbeats(&self) -> bool {
        false
    }

    /// [`heartbeat`](Self::heartbeat), handed to the storage's writer thread; the instance
    /// comes back once written. The default writes it at once, on the calling thread.
    fn queue_heartbeat(&self, instance: ValidInstance, now: DateTime<Utc>) -> QueuedWrite {
        QueuedWrite::done(self.heartbeat(&instance, now).map(|()| instance))
    }

    /// Marks the instance unhealthy, or deletes it when `remove` is set. A missing instance is
    /// not an error.
    fn deregister(&self, id: &ModelInstanceIdentifier, remove: bool) -> Result<(), StorageError>;

    /// Marks unhealthy every healthy instance with `check_healthy` whose `last_heartbeat` is
    /// older than `now - timeout` (or absent). Returns how many it marked.
    fn expire_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError>;

    /// Deletes every instance with `check_healthy` whose `last_heartbeat` is older than
    /// `now - timeout`. Returns how many it deleted.
    fn remove_stale(&self, timeout: Duration, now: DateTime<Utc>) -> Result<u64, StorageError>;

    /// Applies an operator's change (enable or disable, set the weight) to one instance,
    /// touching only those fields, so a concurrent heartbeat is never overwritten. Returns
    /// whether the instance exists.
    ///
    /// Operator settings win over the worker's: a weight set here is pinned, and the worker's
    /// later registers and heartbeats keep it (and `enabled`) until an operator sets another,
    /// releases it ([`InstanceSettings::release_weight`]), or the instance is deleted. A weight
    /// of 0 therefore drains an instance until an operator says otherwise.
    ///
    /// The default answers [`StorageError::Unsupported`]; every storage in this workspace
    /// implements it as one atomic operation.
    fn apply_settings(
        &self,
        id: &ModelInstanceIdentifier,
        settings: &InstanceSettings,
    ) -> Result<bool, StorageError> {
        let _ = (id, settings);
        Err(StorageError::Unsupported("apply_settings"))
    }

    /// How many instances are healthy and how many are not, for metrics: one cheap count, not
    /// a listing. The default counts through [`count`](Storage::count) (two calls, not one
    /// snapshot); storages that can do it in one pass override it.
    fn count_by_health(&self) -> Result<HealthCounts, StorageError> {
        let total = self.count(&QuerySpec::new())?;
        let healthy = self.count(&QuerySpec::new().eq("healthy", true))?;
        Ok(HealthCounts {
            healthy,
            unhealthy: total.saturating_sub(healthy),
        })
    }

    /// Instances of each model by state, for per-model metrics: the first `max_models`
    /// models by name, and whether there are more. One grouped count where the storage can;
    /// the default reads every instance.
    fn count_by_model(&self, max_models: usize) -> Result<ModelCountsPage, StorageError> {
        let mut page = ModelCountsPage::default();
        for instance in self.query(&QuerySpec::new())? {
            page.add(&instance.model_name, instance.healthy, instance.enabled, 1);
        }
        page.finish(max_models);
        Ok(page)
    }

    /// Whether the storage can be reached and written now: a readiness probe.
    ///
    /// It answers [`StorageError::Unavailable`] when writes would fail or be lost (the
    /// database is unreachable or read-only, a database file was deleted or replaced). The
    /// default, for storages that cannot fail that way (in memory), is `Ok`.
    fn check_ready(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// The instances of one model (or of every model), optionally only the healthy ones.
    fn instances(
        &self,
        model_name: Option<&str>,
        healthy_only: bool,
    ) -> Result<Vec<ModelInstance>, StorageError> {
        let mut spec = QuerySpec::new();
        if let Some(model_name) = model_name {
            spec = spec.eq("model_name", model_name);
        }
        if healthy_only {
            spec = spec.eq("healthy", true);
        }
        self.query(&spec)
    }
}

/// How many stored instances are healthy and how many are not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounts {
    /// Instances marked healthy.
    pub healthy: u64,
    /// Instances marked unhealthy (or with no health recorded).
    pub unhealthy: u64,
}

/// The instances of one model by state: healthy and enabled, unhealthy and enabled, and
/// disabled (whatever their health; a disabled instance is never selected).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelCounts {
    /// The model (the worker key, such as `glm-4@llm`).
    pub model_name: String,
    /// Healthy and enabled.
    pub healthy: u64,
    /// Enabled but not healthy.
    pub unhealthy: u64,
    /// Disabled by an operator.
    pub disabled: u64,
}

/// Per-model counts of the first models by name, and whether more models exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelCountsPage {
    /// The models, by name.
    pub models: Vec<ModelCounts>,
    /// Whether models beyond these exist.
    pub more: bool,
}

impl ModelCountsPage {
    /// Counts `rows` instances of `model_name` in one state. Rows may come in any order.
    pub fn add(&mut self, model_name: &str, healthy: bool, enabled: bool, rows: u64) {
        let index = match self
            .models
            .binary_search_by(|counts| counts.model_name.as_str().cmp(model_name))
        {
            Ok(index) => index,
            Err(index) => {
                let counts = ModelCounts {
                    model_name: model_name.to_owned(),
                    ..ModelCounts::default()
                };
                self.models.insert(index, counts);
                index
            }
        };
        let counts = &mut self.models[index];
        match (enabled, healthy) {
            (false, _) => counts.disabled += rows,
            (true, true) => counts.healthy += rows,
            (true, false) => counts.unhealthy += rows,
        }
    }

    /// Keeps the first `max_models` models, noting whether there were more.
    pub fn finish(&mut self, max_models: usize) {
        if self.models.len() > max_models {
            self.models.truncate(max_models);
            self.more = true;
        }
    }
}

/// An operator's change to an instance: each `Some` field is set, each `None` left alone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct InstanceSettings {
    /// Enables (`true`) or disables (`false`) the instance for selection.
    pub enabled: Option<bool>,
    /// The instance's new share of traffic; pinned against the worker's re-registrations.
    pub weight: Option<f64>,
    /// Gives the weight back to the worker: its next register sets it again. Applied after
    /// `weight`, so a weight given in the same change is set now and not pinned.
    pub release_weight: bool,
}

impl InstanceSettings {
    /// A change that sets nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `enabled`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Sets `weight`.
    pub fn weight(mut self, weight: f64) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Releases the weight (see [`release_weight`](Self::release_weight)).
    pub fn release_weight(mut self) -> Self {
        self.release_weight = true;
        self
    }

    /// Checks the values: a weight must be finite and not negative.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self.weight {
            Some(weight) if !weight.is_finite() || weight < 0.0 => {
                Err(ValidationError::NotFinite { field: "weight" })
            }
            _ => Ok(()),
        }
    }
}

impl ResourceIdentifier for ModelInstanceIdentifier {
    fn str_identifier(&self) -> String {
        ModelInstanceIdentifier::str_identifier(self)
    }
}

impl StorageItem for ModelInstance {
    type Identifier = ModelInstanceIdentifier;

    fn identifier(&self) -> Result<ModelInstanceIdentifier, ValidationError> {
        ModelInstance::identifier(self)
    }

    fn merge(&mut self, other: &Self) {
        self.clone_from(other);
    }

    fn field(&self, name: &str) -> Option<FieldValue> {
        Some(match name {
            "model_name" => self.model_name.as_str().into(),
            "host" => self.host.as_str().into(),
            "port" => i64::from(self.port).into(),
            "weight" => self.weight.into(),
            "check_healthy" => self.check_healthy.into(),
            "healthy" => self.healthy.into(),
            "enabled" => self.enabled.into(),
            "prompt_template" => self.prompt_template.as_deref().into(),
            "last_heartbeat" => self.last_heartbeat.into(),
            _ => return None,
        })
    }
}
