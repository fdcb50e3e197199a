//! `GET /v1/models`: the served models in OpenAI's list format (the server's own answer, not
//! DB-GPT's controller JSON, which `registry-wire` owns).

use std::collections::BTreeMap;

use registry_core::ModelInstance;
use serde::Serialize;

/// OpenAI's `{"object": "list", "data": [...]}`.
#[derive(Debug, Serialize)]
pub(crate) struct ModelList {
    object: &'static str,
    data: Vec<ModelCard>,
}

/// One model; `created` is when this server first listed it (Unix seconds; see
/// [`ModelList::set_created`]). `instances` counts them; OpenAI clients ignore the extra field.
#[derive(Debug, Serialize)]
struct ModelCard {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
    instances: usize,
}

/// The models that have at least one instance selection can pick (healthy, enabled, weight
/// above 0), sorted by name: an instance an operator drained to weight 0 serves nothing.
pub(crate) fn model_list(instances: &[ModelInstance]) -> ModelList {
    let mut models: BTreeMap<&str, (i64, usize)> = BTreeMap::new();
    for instance in instances.iter().filter(|i| i.is_selectable()) {
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

impl ModelList {
    /// Each model with the earliest `last_heartbeat` of its listed instances.
    pub(crate) fn seen(&self) -> impl Iterator<Item = (&str, i64)> {
        self.data
            .iter()
            .map(|card| (card.id.as_str(), card.created))
    }

    /// Sets each model's `created` to `created(model)` where that is known.
    pub(crate) fn set_created(&mut self, created: impl Fn(&str) -> Option<i64>) {
        for card in &mut self.data {
            if let Some(time) = created(&card.id) {
                card.created = time;
            }
        }
    }
}
