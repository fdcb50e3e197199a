//! A model instance: one serving process of one model, as DB-GPT describes it.

use chrono::{DateTime, Utc};

use crate::identifier::{
    ModelInstanceIdentifier, ValidationError, check_length, check_no_control, validate_key_part,
    validate_port,
};

/// One serving process of one model, with DB-GPT's ten fields and their defaults.
///
/// It is a domain type, not a JSON schema: DB-GPT's JSON lives in `registry-wire`.
///
/// ```
/// use registry_core::ModelInstance;
///
/// let instance = ModelInstance::new("glm-4-9b-chat@llm", "172.17.0.2", 8001);
/// assert_eq!(instance.weight, 1.0);
/// assert!(instance.enabled && instance.check_healthy && !instance.healthy);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInstance {
    /// The worker key, such as `glm-4-9b-chat@llm`.
    pub model_name: String,
    /// The address the worker is reachable on.
    pub host: String,
    /// The worker's port.
    pub port: u16,
    /// The instance's share of traffic in [`select_one_health_instance`](crate::ModelRegistry::select_one_health_instance).
    pub weight: f64,
    /// Whether the heartbeat checker may mark this instance unhealthy.
    pub check_healthy: bool,
    /// Set by register and heartbeat; cleared by deregister and by the checker.
    pub healthy: bool,
    /// An operator's switch: disabled instances are never selected.
    pub enabled: bool,
    /// The prompt template the model uses, if any.
    pub prompt_template: Option<String>,
    /// When the registry last heard from the instance. Set by the registry, never by the client.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Only meaningful on deregister: delete the instance instead of marking it unhealthy.
    pub remove_from_registry: bool,
}

/// DB-GPT's default weight.
const DEFAULT_WEIGHT: f64 = 1.0;

impl ModelInstance {
    /// An instance with the given key and every other field at its default.
    pub fn new(model_name: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        Self {
            model_name: model_name.into(),
            host: host.into(),
            port,
            weight: DEFAULT_WEIGHT,
            check_healthy: true,
            healthy: false,
            enabled: true,
            prompt_template: None,
            last_heartbeat: None,
            remove_from_registry: false,
        }
    }

    /// The instance's validated identifier (key parts trimmed).
    pub fn identifier(&self) -> Result<ModelInstanceIdentifier, ValidationError> {
        ModelInstanceIdentifier::new(&self.model_name, &self.host, i64::from(self.port))
    }

    /// Checks every field; key parts are checked as they will be once trimmed.
    fn validate(&self) -> Result<(), ValidationError> {
        validate_key_part("model_name", &self.model_name)?;
        validate_key_part("host", &self.host)?;
        validate_port(i64::from(self.port))?;
        // A negative weight is never chosen by selection, and the settings route refuses it;
        // a worker must not be able to store one either.
        if !self.weight.is_finite() || self.weight < 0.0 {
            return Err(ValidationError::NotFinite { field: "weight" });
        }
        if let Some(template) = &self.prompt_template {
            check_length("prompt_template", template)?;
            check_no_control("prompt_template", template)?;
        }
        Ok(())
    }

    /// Checks every field and trims `model_name` and `host` in place: the one validation,
    /// which only [`ValidInstance::new`] runs.
    fn normalize(&mut self) -> Result<(), ValidationError> {
        self.validate()?;
        trim_in_place(&mut self.model_name);
        trim_in_place(&mut self.host);
        Ok(())
    }

    /// Whether selection may pick this instance: healthy, enabled and with a positive, finite
    /// weight. The one eligibility rule, for selection and for anything that lists what can
    /// serve (such as `/v1/models`).
    pub fn is_selectable(&self) -> bool {
        self.healthy && self.enabled && self.weight.is_finite() && self.weight > 0.0
    }

    /// The identifier's parts, borrowed (trimmed once the instance is a [`ValidInstance`]).
    pub fn key(&self) -> InstanceKey<'_> {
        InstanceKey {
            model_name: &self.model_name,
            host: &self.host,
            port: self.port,
        }
    }
}

/// A [`ModelInstance`] that passed validation, with `model_name` and `host` trimmed.
///
/// [`ValidInstance::new`] is the only way to build one, so a function that takes a
/// `ValidInstance` never validates again: the registry's write calls and the storages take
/// this type, and `registry-wire` builds it from a request. It derefs to the instance.
///
/// ```
/// use registry_core::{ModelInstance, ValidInstance};
///
/// let valid = ValidInstance::new(ModelInstance::new(" glm-4@llm ", "10.0.0.1", 8001)).unwrap();
/// assert_eq!(valid.model_name, "glm-4@llm");
/// assert_eq!(valid.identifier().port(), 8001);
///
/// let invalid = ValidInstance::new(ModelInstance::new("glm-4@llm", " ", 8001));
/// assert_eq!(invalid.unwrap_err().field(), "host");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ValidInstance(ModelInstance);

impl ValidInstance {
    /// Checks every field of `instance` and trims its key parts in place (allocating only when
    /// there was white space to trim).
    pub fn new(mut instance: ModelInstance) -> Result<Self, ValidationError> {
        instance.normalize()?;
        Ok(Self(instance))
    }

    /// The instance's identifier; infallible, since the parts are valid.
    pub fn identifier(&self) -> ModelInstanceIdentifier {
        ModelInstanceIdentifier::from_valid_parts(&self.0.model_name, &self.0.host, self.0.port)
    }

    /// The same instance with `remove_from_registry` set, which no rule constrains: how a
    /// deregistration asks for deletion.
    pub fn with_remove_from_registry(mut self, remove: bool) -> Self {
        self.0.remove_from_registry = remove;
        self
    }

    /// The instance itself.
    pub fn into_inner(self) -> ModelInstance {
        self.0
    }
}

impl std::ops::Deref for ValidInstance {
    type Target = ModelInstance;

    fn deref(&self) -> &ModelInstance {
        &self.0
    }
}

impl AsRef<ModelInstance> for ValidInstance {
    fn as_ref(&self) -> &ModelInstance {
        &self.0
    }
}

impl From<ValidInstance> for ModelInstance {
    fn from(valid: ValidInstance) -> Self {
        valid.0
    }
}

/// Trims a key part in place, allocating only when there was white space to trim.
fn trim_in_place(value: &mut String) {
    let trimmed = value.trim();
    if trimmed.len() != value.len() {
        *value = trimmed.to_owned();
    }
}

/// A borrowed `(model_name, host, port)`: looks an instance up without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceKey<'a> {
    /// The worker key.
    pub model_name: &'a str,
    /// The host.
    pub host: &'a str,
    /// The port.
    pub port: u16,
}

impl InstanceKey<'_> {
    /// Orders keys by model name, then host, then port.
    pub fn cmp_key(&self, other: &InstanceKey<'_>) -> std::cmp::Ordering {
        (self.model_name, self.host, self.port).cmp(&(other.model_name, other.host, other.port))
    }
}

impl<'a> From<&'a ModelInstanceIdentifier> for InstanceKey<'a> {
    fn from(id: &'a ModelInstanceIdentifier) -> Self {
        Self {
            model_name: id.model_name(),
            host: id.host(),
            port: id.port(),
        }
    }
}

impl std::hash::Hash for InstanceKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        crate::identifier::hash_key(
            self.model_name.as_bytes(),
            self.host.as_bytes(),
            self.port,
            state,
        );
    }
}
