//! Instances as DB-GPT's controller API carries them: register and heartbeat bodies, the
//! deregister and listing queries, and listings.

use chrono::{DateTime, NaiveDateTime, Utc};
use registry_core::{ModelInstance, ValidInstance, validate_port};
use serde::{Deserialize, Serialize};

use crate::error::{Place, Problem};
use crate::loose::{Loose, parse_bool, parse_query_int};
use crate::timestamp::{format_timestamp, format_wall_clock};
use crate::{WireError, parse_json};

/// An instance as a register or heartbeat body carries it. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct InstanceBody {
    #[serde(default, deserialize_with = "present")]
    model_name: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    host: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    port: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    weight: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    check_healthy: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    healthy: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    enabled: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    prompt_template: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    last_heartbeat: Option<Loose>,
    #[serde(default, deserialize_with = "present")]
    remove_from_registry: Option<Loose>,
}

/// Pydantic's words for a body that is not an object.
const DATACLASS_TYPE: &str = "Input should be a dictionary or an instance of ModelInstance";

/// A field that is in the body, `null` included (`None` is only for an absent field, which
/// pydantic reports as `missing` where a `null` is a wrong type).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Loose>, D::Error> {
    Loose::deserialize(deserializer).map(Some)
}

/// Collects every field's problem, as pydantic reports them all at once, in field order.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    /// The value, or `None` after noting its problem.
    fn take<T>(&mut self, result: Result<T, WireError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.extend(error.problems().iter().cloned());
                None
            }
        }
    }

    /// A required body field: absent is pydantic's `missing`.
    fn required<T>(
        &mut self,
        value: Option<Loose>,
        field: &'static str,
        convert: impl FnOnce(Loose, &'static str) -> Result<T, WireError>,
    ) -> Option<T> {
        match value {
            Some(value) => self.take(convert(value, field)),
            None => {
                self.0.push(Problem::missing(Place::Body, field));
                None
            }
        }
    }

    /// An optional body field: absent or `null` keeps the default.
    fn optional<T>(
        &mut self,
        value: Option<Loose>,
        field: &'static str,
        convert: impl FnOnce(Loose, &'static str) -> Result<T, WireError>,
    ) -> Option<T> {
        let value = value.filter(|v| *v != Loose::Null)?;
        self.take(convert(value, field))
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, WireError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(WireError::new(self.0)),
        }
    }
}

fn port(value: i64) -> Result<u16, WireError> {
    Ok(validate_port(value)?)
}

impl InstanceBody {
    /// Parses a JSON body.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        // serde would read a JSON array into the struct by position; pydantic wants an object.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            return Err(
                Problem::new("dataclass_type", Place::Body, None, DATACLASS_TYPE)
                    .with_ctx(serde_json::json!({ "class_name": "ModelInstance" }))
                    .into(),
            );
        }
        parse_json(bytes, "dataclass_type", DATACLASS_TYPE).map_err(|error| {
            match error.problems() {
                [problem] if problem.kind == "dataclass_type" => {
                    Problem::new(problem.kind, Place::Body, None, problem.message.clone())
                        .with_ctx(serde_json::json!({ "class_name": "ModelInstance" }))
                        .into()
                }
                _ => error,
            }
        })
    }

    /// Converts into a validated instance, the one validation it gets; the registry sets
    /// `healthy` and `last_heartbeat` itself, so those are checked for type and otherwise
    /// ignored.
    pub fn into_instance(self) -> Result<ValidInstance, WireError> {
        Ok(ValidInstance::new(self.into_unvalidated()?)?)
    }

    fn into_unvalidated(self) -> Result<ModelInstance, WireError> {
        let mut problems = Problems::default();
        let model_name = problems.required(self.model_name, "model_name", Loose::into_string);
        let host = problems.required(self.host, "host", Loose::into_string);
        let port_number = problems.required(self.port, "port", Loose::into_int);
        let weight = problems.optional(self.weight, "weight", Loose::into_float);
        let check_healthy =
            problems.optional(self.check_healthy, "check_healthy", Loose::into_bool);
        let healthy = problems.optional(self.healthy, "healthy", Loose::into_bool);
        let enabled = problems.optional(self.enabled, "enabled", Loose::into_bool);
        let prompt_template = match self.prompt_template {
            Some(value) => problems.take(value.into_opt_string("prompt_template")),
            None => Some(None),
        };
        if let Some(value) = &self.last_heartbeat {
            problems.take(value.check_timestamp("last_heartbeat"));
        }
        let remove = problems.optional(
            self.remove_from_registry,
            "remove_from_registry",
            Loose::into_bool,
        );
        // The port's range is this registry's own rule, checked once the types fit.
        let instance = match (model_name, host, port_number, prompt_template) {
            (Some(model_name), Some(host), Some(number), Some(prompt_template))
                if problems.0.is_empty() =>
            {
                let mut instance = ModelInstance::new(model_name, host, port(number)?);
                instance.weight = weight.unwrap_or(instance.weight);
                instance.check_healthy = check_healthy.unwrap_or(instance.check_healthy);
                instance.healthy = healthy.unwrap_or(instance.healthy);
                instance.enabled = enabled.unwrap_or(instance.enabled);
                instance.prompt_template = prompt_template;
                instance.remove_from_registry = remove.unwrap_or(false);
                Some(instance)
            }
            _ => None,
        };
        problems.finish(instance)
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
    pub fn into_instance(self) -> Result<ValidInstance, WireError> {
        let mut problems = Problems::default();
        let mut required = |value: Option<String>, field: &'static str| {
            if value.is_none() {
                problems.0.push(
                    Problem::missing(Place::Query, field).with_input(serde_json::Value::Null),
                );
            }
            value
        };
        let model_name = required(self.model_name, "model_name");
        let host = required(self.host, "host");
        let port_text = required(self.port, "port");
        let port_number = port_text.and_then(|text| problems.take(parse_query_int("port", &text)));
        let remove = match self.remove_from_registry {
            Some(flag) => problems.take(parse_bool("remove_from_registry", &flag)),
            None => Some(false),
        };
        let instance = match (model_name, host, port_number, remove) {
            (Some(model_name), Some(host), Some(number), Some(remove)) if problems.0.is_empty() => {
                let mut instance =
                    ModelInstance::new(model_name, host, port(number).map_err(in_query)?);
                instance.remove_from_registry = remove;
                Some(ValidInstance::new(instance).map_err(|error| in_query(error.into()))?)
            }
            _ => None,
        };
        problems.finish(instance)
    }
}

/// The same problems, found in the query string rather than the body.
fn in_query(error: WireError) -> WireError {
    let problems = error
        .problems()
        .iter()
        .cloned()
        .map(|mut problem| {
            problem.place = Place::Query;
            problem
        })
        .collect();
    WireError::new(problems)
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
            registry_core::check_no_control("model_name", name)
                .map_err(|error| in_query(error.into()))?;
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

impl<'a> InstanceOut<'a> {
    /// The instance as DB-GPT's listing shows it: `last_heartbeat` is the naive wall-clock
    /// time `wall_clock` gives for the instant (the server's zone), in Python's `isoformat()`.
    pub fn listed(
        instance: &'a ModelInstance,
        wall_clock: impl Fn(DateTime<Utc>) -> NaiveDateTime,
    ) -> Self {
        Self {
            last_heartbeat: instance
                .last_heartbeat
                .map(|time| format_wall_clock(wall_clock(time))),
            ..Self::from(instance)
        }
    }
}

/// Serializes a list of instances with RFC 3339 times in UTC (this server's own JSON).
pub fn instance_list(instances: &[ModelInstance]) -> Vec<InstanceOut<'_>> {
    instances.iter().map(InstanceOut::from).collect()
}

/// Serializes a listing as DB-GPT's controller answers it, times on `wall_clock` (see
/// [`InstanceOut::listed`]).
pub fn listing(
    instances: &[ModelInstance],
    wall_clock: impl Fn(DateTime<Utc>) -> NaiveDateTime,
) -> Vec<InstanceOut<'_>> {
    instances
        .iter()
        .map(|instance| InstanceOut::listed(instance, &wall_clock))
        .collect()
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
    let bodies: Vec<InstanceBody> = parse_json(
        bytes,
        "list_type",
        "a listing must be a JSON array of instances",
    )?;
    bodies
        .into_iter()
        .map(InstanceBody::into_listed_instance)
        .collect()
}

#[cfg(test)]
mod tests;
