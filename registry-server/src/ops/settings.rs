//! `POST /api/controller/models/settings`: an operator enables or disables an instance, or
//! changes its weight. Body `{"model_name", "host", "port", "enabled"?, "weight"?}`; answers
//! the instance as listed, 404 when there is no such instance, 501 when the storage cannot
//! apply settings. A write: it needs the token when one is configured.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use registry_core::{InstanceSettings, ModelInstanceIdentifier, ModelRegistry};
use serde::Deserialize;

use crate::AppState;
use crate::admission::AdmittedBody;
use crate::error::AppError;
use registry_wire::{InstanceOut, Loose, parse_json};

#[derive(Debug, Default, Deserialize)]
struct SettingsBody {
    model_name: Option<Loose>,
    host: Option<Loose>,
    port: Option<Loose>,
    enabled: Option<Loose>,
    weight: Option<Loose>,
}

fn required(value: Option<Loose>, field: &'static str) -> Result<Loose, AppError> {
    value
        .filter(|v| *v != Loose::Null)
        .ok_or_else(|| AppError::field(field, format!("{field} is required")))
}

impl SettingsBody {
    fn parse(bytes: &[u8]) -> Result<(ModelInstanceIdentifier, InstanceSettings), AppError> {
        let body: Self = parse_json(bytes, "dict_type", "Input should be a valid dictionary")?;
        let model_name = required(body.model_name, "model_name")?.into_string("model_name")?;
        let host = required(body.host, "host")?.into_string("host")?;
        let port = required(body.port, "port")?.into_int("port")?;
        let id = ModelInstanceIdentifier::new(&model_name, &host, port)?;
        let mut settings = InstanceSettings::new();
        if let Some(enabled) = body.enabled.filter(|v| *v != Loose::Null) {
            settings = settings.enabled(enabled.into_bool("enabled")?);
        }
        if let Some(weight) = body.weight.filter(|v| *v != Loose::Null) {
            settings = settings.weight(weight.into_float("weight")?);
        }
        if settings == InstanceSettings::new() {
            return Err(AppError::field("enabled", "give enabled, weight or both"));
        }
        settings.validate()?;
        Ok((id, settings))
    }
}

/// Applies the settings and answers the instance as it now is.
pub(crate) async fn update(
    State(state): State<AppState>,
    body: AdmittedBody,
) -> Result<Response, AppError> {
    let (id, settings) = SettingsBody::parse(&body.0)?;
    let registry = state.registry();
    let found = registry.update_instance_settings(&id, settings).await?;
    if !found {
        return Err(AppError::NoSuchInstance(id.str_identifier()));
    }
    state.registry_changed();
    let instances = registry.get_all_instances(id.model_name(), false).await?;
    let instance = instances
        .iter()
        .find(|i| i.host == id.host() && i.port == id.port());
    Ok(match instance {
        Some(instance) => Json(InstanceOut::from(instance)).into_response(),
        // Removed between the two calls: the change was applied all the same.
        None => Json(serde_json::json!({"applied": true})).into_response(),
    })
}
