//! Instances as DB-GPT's controller API carries them: register and heartbeat bodies, the
//! deregister and listing queries, and listings.

use registry_core::{ModelInstance, validate_port};
use serde::{Deserialize, Serialize};

use crate::WireError;
use crate::loose::{Loose, parse_bool, parse_int};
use crate::timestamp::format_timestamp;

/// An instance as a register or heartbeat body carries it. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct InstanceBody {
    model_name: Option<Loose>,
    host: Option<Loose>,
    port: Option<Loose>,
    weight: Option<Loose>,
    check_healthy: Option<Loose>,
    healthy: Option<Loose>,
    enabled: Option<Loose>,
    prompt_template: Option<Loose>,
    last_heartbeat: Option<Loose>,
    remove_from_registry: Option<Loose>,
}

fn required(value: Option<Loose>, field: &'static str) -> Result<Loose, WireError> {
    value.ok_or_else(|| WireError::field(field, format!("{field} is required")))
}

fn port(value: i64) -> Result<u16, WireError> {
    Ok(validate_port(value)?)
}

impl InstanceBody {
    /// Parses a JSON body.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        serde_json::from_slice(bytes).map_err(|error| {
            if error.is_data() {
                WireError::BadInput {
                    message: format!("the body must be a JSON object of an instance: {error}"),
                    field: None,
                }
            } else {
                WireError::MalformedJson(error.to_string())
            }
        })
    }

    /// Converts into a validated instance; the registry sets `healthy` and `last_heartbeat`
    /// itself, so those are checked for type and otherwise ignored.
    pub fn into_instance(self) -> Result<ModelInstance, WireError> {
        let instance = self.into_unvalidated()?;
        instance.validate()?;
        Ok(instance)
    }

    fn into_unvalidated(self) -> Result<ModelInstance, WireError> {
        let model_name = required(self.model_name, "model_name")?.into_string("model_name")?;
        let host = required(self.host, "host")?.into_string("host")?;
        let port = port(required(self.port, "port")?.into_int("port")?)?;
        let mut instance = ModelInstance::new(model_name, host, port);
        if let Some(weight) = self.weight.filter(|w| *w != Loose::Null) {
            instance.weight = weight.into_float("weight")?;
        }
        if let Some(value) = self.check_healthy.filter(|v| *v != Loose::Null) {
            instance.check_healthy = value.into_bool("check_healthy")?;
        }
        if let Some(value) = self.healthy.filter(|v| *v != Loose::Null) {
            instance.healthy = value.into_bool("healthy")?;
        }
        if let Some(value) = self.enabled.filter(|v| *v != Loose::Null) {
            instance.enabled = value.into_bool("enabled")?;
        }
        if let Some(value) = self.prompt_template {
            instance.prompt_template = value.into_opt_string("prompt_template")?;
        }
        if let Some(value) = &self.last_heartbeat {
            value.check_timestamp("last_heartbeat")?;
        }
        if let Some(value) = self.remove_from_registry.filter(|v| *v != Loose::Null) {
            instance.remove_from_registry = value.into_bool("remove_from_registry")?;
        }
        Ok(instance)
    }

    /// Converts an instance of a listing: as [`into_instance`](Self::into_instance), but
    /// `last_heartbeat` is read (an ISO-8601 time or a Unix timestamp) and the instance is not
    /// validated again.
    fn into_listed_instance(mut self) -> Result<ModelInstance, WireError> {
        let last_heartbeat = match self.last_heartbeat.take() {
            Some(value) => value.into_timestamp("last_heartbeat")?,
            None => None,
        };
        let mut instance = self.into_unvalidated()?;
        instance.last_heartbeat = last_heartbeat;
        Ok(instance)
    }
}

/// The query of `DELETE /api/controller/models`. Other instance fields may be present and are
/// ignored, as DB-GPT ignores them.
#[derive(Debug, Default, Deserialize)]
pub struct DeregisterQuery {
    model_name: Option<String>,
    host: Option<String>,
    port: Option<String>,
    remove_from_registry: Option<String>,
}

impl DeregisterQuery {
    /// Converts into a validated instance key with its `remove_from_registry` flag.
    pub fn into_instance(self) -> Result<ModelInstance, WireError> {
        let missing = |field: &'static str| WireError::field(field, format!("{field} is required"));
        let model_name = self.model_name.ok_or_else(|| missing("model_name"))?;
        let host = self.host.ok_or_else(|| missing("host"))?;
        let port_text = self.port.ok_or_else(|| missing("port"))?;
        let port_number = parse_int(&port_text).ok_or_else(|| {
            WireError::field(
                "port",
                format!("port must be an integer, not {port_text:?}"),
            )
        })?;
        let mut instance = ModelInstance::new(model_name, host, port(port_number)?);
        if let Some(flag) = self.remove_from_registry {
            instance.remove_from_registry = parse_bool("remove_from_registry", &flag)?;
        }
        instance.validate()?;
        Ok(instance)
    }
}

/// The query of `GET /api/controller/models`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    model_name: Option<String>,
    healthy_only: Option<String>,
}

impl ListQuery {
    /// The model asked for (`None`: every model) and whether only healthy instances are wanted.
    pub fn into_parts(self) -> Result<(Option<String>, bool), WireError> {
        let healthy_only = match self.healthy_only {
            Some(text) => parse_bool("healthy_only", &text)?,
            None => false,
        };
        let model_name = self.model_name.filter(|name| !name.trim().is_empty());
        if let Some(name) = &model_name {
            registry_core::check_no_control("model_name", name)?;
        }
        Ok((model_name, healthy_only))
    }
}

/// An instance as a listing answers it: DB-GPT's ten fields.
#[derive(Debug, Serialize)]
pub struct InstanceOut<'a> {
    model_name: &'a str,
    host: &'a str,
    port: u16,
    weight: f64,
    check_healthy: bool,
    healthy: bool,
    enabled: bool,
    prompt_template: Option<&'a str>,
    last_heartbeat: Option<String>,
    remove_from_registry: bool,
}

impl<'a> From<&'a ModelInstance> for InstanceOut<'a> {
    fn from(instance: &'a ModelInstance) -> Self {
        Self {
            model_name: &instance.model_name,
            host: &instance.host,
            port: instance.port,
            weight: instance.weight,
            check_healthy: instance.check_healthy,
            healthy: instance.healthy,
            enabled: instance.enabled,
            prompt_template: instance.prompt_template.as_deref(),
            last_heartbeat: instance.last_heartbeat.map(format_timestamp),
            remove_from_registry: instance.remove_from_registry,
        }
    }
}

/// Serializes a listing.
pub fn instance_list(instances: &[ModelInstance]) -> Vec<InstanceOut<'_>> {
    instances.iter().map(InstanceOut::from).collect()
}

/// One instance as a client sends it in a register, heartbeat or deregister call: DB-GPT's
/// ten fields.
pub fn encode_instance(instance: &ModelInstance) -> Vec<u8> {
    // Serializing plain fields into a Vec cannot fail.
    serde_json::to_vec(&InstanceOut::from(instance)).unwrap_or_default()
}

/// A listing as a server (this one or DB-GPT's controller) answers it, into instances as
/// listed: `healthy` and `last_heartbeat` are kept, and nothing is validated beyond the
/// types, since the server already holds these rows.
pub fn parse_listing(bytes: &[u8]) -> Result<Vec<ModelInstance>, WireError> {
    let bodies: Vec<InstanceBody> = serde_json::from_slice(bytes).map_err(|error| {
        if error.is_data() {
            WireError::BadInput {
                message: format!("a listing must be a JSON array of instances: {error}"),
                field: None,
            }
        } else {
            WireError::MalformedJson(error.to_string())
        }
    })?;
    bodies
        .into_iter()
        .map(InstanceBody::into_listed_instance)
        .collect()
}

#[cfg(test)]
mod tests;
