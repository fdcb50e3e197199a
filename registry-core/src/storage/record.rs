//! The form an in-memory storage keeps a model instance in.

use chrono::{DateTime, Utc};

use crate::identifier::ModelInstanceIdentifier;
use crate::instance::ModelInstance;

/// A model instance without the fields its identifier holds: what an
/// [`InMemoryStorage`](super::InMemoryStorage) keeps beside each identifier.
///
/// The identifier already holds `model_name`, `host` and `port` inline, so keeping them again
/// (as heap strings) would only make each hash-table slot bigger. This record makes a slot 96
/// bytes instead of 160, so ten thousand instances fit a core's L2 cache: a heartbeat at that
/// size costs about what it costs with a hundred.
///
/// The flags share one byte: five `bool`s would push the record past 40 bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub(crate) last_heartbeat: Option<DateTime<Utc>>,
    pub(crate) weight: f64,
    pub(crate) prompt_template: Option<Box<str>>,
    flags: u8,
}

const CHECK_HEALTHY: u8 = 1;
const HEALTHY: u8 = 1 << 1;
const ENABLED: u8 = 1 << 2;
const REMOVE_FROM_REGISTRY: u8 = 1 << 3;
/// An operator set `weight`: the worker's registrations no longer change it.
const WEIGHT_PINNED: u8 = 1 << 4;

fn flag(set: bool, bit: u8) -> u8 {
    if set { bit } else { 0 }
}

impl From<&ModelInstance> for InstanceRecord {
    fn from(instance: &ModelInstance) -> Self {
        Self {
            last_heartbeat: instance.last_heartbeat,
            weight: instance.weight,
            prompt_template: instance.prompt_template.as_deref().map(Box::from),
            flags: flag(instance.check_healthy, CHECK_HEALTHY)
                | flag(instance.healthy, HEALTHY)
                | flag(instance.enabled, ENABLED)
                | flag(instance.remove_from_registry, REMOVE_FROM_REGISTRY),
        }
    }
}

impl InstanceRecord {
    fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    fn set(&mut self, bit: u8, value: bool) {
        self.flags = (self.flags & !bit) | flag(value, bit);
    }

    pub(crate) fn check_healthy(&self) -> bool {
        self.has(CHECK_HEALTHY)
    }

    pub(crate) fn healthy(&self) -> bool {
        self.has(HEALTHY)
    }

    pub(crate) fn set_healthy(&mut self, healthy: bool) {
        self.set(HEALTHY, healthy);
    }

    pub(crate) fn enabled(&self) -> bool {
        self.has(ENABLED)
    }

    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.set(ENABLED, enabled);
    }

    pub(crate) fn set_remove_from_registry(&mut self, remove: bool) {
        self.set(REMOVE_FROM_REGISTRY, remove);
    }

    /// Whether an operator set the weight, so that registrations keep it.
    pub(crate) fn weight_pinned(&self) -> bool {
        self.has(WEIGHT_PINNED)
    }

    /// Lets the worker's registrations set the weight again.
    pub(crate) fn release_weight(&mut self) {
        self.set(WEIGHT_PINNED, false);
    }

    /// Sets the weight as an operator does: pinned against the worker's registrations.
    pub(crate) fn pin_weight(&mut self, weight: f64) {
        self.weight = weight;
        self.set(WEIGHT_PINNED, true);
    }
}

impl InstanceRecord {
    /// The instance `id` and this record describe together.
    pub(crate) fn to_instance(&self, id: &ModelInstanceIdentifier) -> ModelInstance {
        ModelInstance {
            model_name: id.model_name().to_owned(),
            host: id.host().to_owned(),
            port: id.port(),
            weight: self.weight,
            check_healthy: self.check_healthy(),
            healthy: self.healthy(),
            enabled: self.enabled(),
            prompt_template: self.prompt_template.as_deref().map(String::from),
            last_heartbeat: self.last_heartbeat,
            remove_from_registry: self.has(REMOVE_FROM_REGISTRY),
        }
    }

    /// Whether the checker may expire it and it has not beaten since `cutoff`.
    pub(crate) fn is_stale(&self, cutoff: DateTime<Utc>) -> bool {
        self.check_healthy() && self.last_heartbeat.is_none_or(|beat| beat < cutoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_of_identifier_and_record_is_small() {
        assert!(
            std::mem::size_of::<(ModelInstanceIdentifier, InstanceRecord)>() <= 96,
            "{}",
            std::mem::size_of::<(ModelInstanceIdentifier, InstanceRecord)>()
        );
    }

    #[test]
    fn an_instance_survives_the_round_trip() {
        let mut instance = ModelInstance::new("glm-4@llm", "10.0.0.1", 8001);
        instance.weight = 2.5;
        instance.prompt_template = Some("chatml".to_owned());
        instance.last_heartbeat = Some(Utc::now());
        instance.remove_from_registry = true;
        instance.enabled = false;
        let id = instance.identifier().unwrap();
        assert_eq!(InstanceRecord::from(&instance).to_instance(&id), instance);
    }
}
