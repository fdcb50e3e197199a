//! Heartbeat coalescing: remembers when this registry last wrote each instance's heartbeat, so
//! that a heartbeat arriving again within the window can skip the storage write.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::HashMap;

use crate::identifier::ModelInstanceIdentifier;
use crate::instance::{InstanceKey, ModelInstance};

/// Shards keep concurrent heartbeats of different instances off one lock.
const SHARDS: usize = 16;

#[derive(Debug)]
pub(crate) struct Coalescer {
    window: chrono::Duration,
    shards: Vec<Mutex<HashMap<ModelInstanceIdentifier, DateTime<Utc>>>>,
}

impl Coalescer {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(
        &self,
        key: &InstanceKey<'_>,
    ) -> &Mutex<HashMap<ModelInstanceIdentifier, DateTime<Utc>>> {
        let index = key.port as usize % SHARDS;
        &self.shards[index]
    }

    /// Whether this heartbeat may skip the write: this registry wrote one for the same instance
    /// less than the window ago.
    pub(crate) fn may_skip(&self, instance: &ModelInstance, now: DateTime<Utc>) -> bool {
        let key = instance.key();
        let written = self
            .shard(&key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        written.is_some_and(|written| now >= written && now - written < self.window)
    }

    /// Records that a heartbeat for `instance` was written at `now`.
    pub(crate) fn written(&self, instance: &ModelInstance, now: DateTime<Utc>) {
        let key = instance.key();
        let mut shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match shard.get_mut(&key) {
            Some(written) => *written = now,
            None => {
                let id =
                    ModelInstanceIdentifier::from_valid_parts(key.model_name, key.host, key.port);
                shard.insert(id, now);
            }
        }
    }

    /// Forgets an instance, so its next heartbeat is written (after a deregistration, which
    /// marks it unhealthy in storage).
    pub(crate) fn forget(&self, id: &ModelInstanceIdentifier) {
        let key = InstanceKey::from(id);
        self.shard(&key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Drops entries older than the window, keeping memory bounded by the live instances.
    pub(crate) fn prune(&self, now: DateTime<Utc>) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, written| now - *written < self.window);
        }
    }
}
