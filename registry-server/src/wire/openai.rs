//! `GET /v1/models`: the served models in OpenAI's list format.

use std::collections::BTreeMap;

use registry_core::ModelInstance;
use serde::Serialize;

/// OpenAI's `{"object": "list", "data": [...]}`.
#[derive(Debug, Serialize)]
pub(crate) struct ModelList {
    object: &'static str,
    data: Vec<ModelCard>,
}

/// One model; `created` is when the registry first heard of any of its instances that are
/// up now (Unix seconds). `instances` counts them; OpenAI clients ignore the extra field.
#[derive(Debug, Serialize)]
struct ModelCard {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
    instances: usize,
}

/// The models that have at least one healthy, enabled instance, sorted by name.
pub(crate) fn model_list(instances: &[ModelInstance]) -> ModelList {
    let mut models: BTreeMap<&str, (i64, usize)> = BTreeMap::new();
    for instance in instances.iter().filter(|i| i.healthy && i.enabled) {
        let seen = instance.last_heartbeat.map_or(0, |t| t.timestamp());
        let entry = models
            .entry(instance.model_name.as_str())
            .or_insert((seen, 0));
        entry.0 = entry.0.min(seen);
        entry.1 += 1;
    }
    ModelList {
        object: "list",
        data: models
            .into_iter()
            .map(|(id, (created, instances))| ModelCard {
                id: id.to_owned(),
                object: "model",
                created,
                owned_by: "dbgpt",
                instances,
            })
            .collect(),
    }
}
