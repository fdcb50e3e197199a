//! `GET /v1/models`: the served models in OpenAI's list format, as DB-GPT's API server answers
//! `/api/v1/models` (`dbgpt/model/cluster/apiserver/api.py`, `get_available_models`): one
//! `ModelCard` per model name without its `@type`. This is the server's own answer, not
//! DB-GPT's controller JSON, which `registry-wire` owns.

use std::collections::BTreeMap;

use registry_core::ModelInstance;
use serde::Serialize;

/// OpenAI's `{"object": "list", "data": [...]}`, as DB-GPT's API server answers it.
#[derive(Debug, Serialize)]
pub(crate) struct ModelList {
    object: &'static str,
    data: Vec<ModelCard>,
}

/// One model, with DB-GPT's `ModelCard` fields in its order. `created` is when this server
/// first listed it (Unix seconds; see [`ModelList::set_created`]), where DB-GPT's is the time
/// of each answer.
#[derive(Debug, Serialize)]
struct ModelCard {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
    root: String,
    parent: Option<String>,
    permission: [ModelPermission; 1],
}

/// DB-GPT's default `ModelPermission`; its id is stable here (DB-GPT draws a new UUID for each
/// answer) and its `created` is the card's.
#[derive(Debug, Serialize)]
struct ModelPermission {
    id: String,
    object: &'static str,
    created: i64,
    allow_create_engine: bool,
    allow_sampling: bool,
    allow_logprobs: bool,
    allow_search_indices: bool,
    allow_view: bool,
    allow_fine_tuning: bool,
    organization: &'static str,
    group: Option<String>,
    is_blocking: bool,
}

impl ModelCard {
    fn new(id: &str, created: i64) -> Self {
        Self {
            id: id.to_owned(),
            object: "model",
            created,
            owned_by: "DB-GPT",
            root: id.to_owned(),
            parent: None,
            permission: [ModelPermission {
                id: format!("modelperm-{id}"),
                object: "model_permission",
                created,
                allow_create_engine: false,
                allow_sampling: true,
                allow_logprobs: true,
                allow_search_indices: true,
                allow_view: true,
                allow_fine_tuning: false,
                organization: "*",
                group: None,
                is_blocking: false,
            }],
        }
    }

    fn set_created(&mut self, created: i64) {
        self.created = created;
        self.permission[0].created = created;
    }
}

/// The worker types DB-GPT's API server lists.
const LISTED_TYPES: [&str; 3] = ["llm", "text2vec", "reranker"];

/// The model a worker key names, as DB-GPT's API server lists it: `name@type` with one `@`
/// and a listed type gives `name`. Other keys (`WorkerManager@service`) are not models; a key
/// with no `@` or several, on which DB-GPT's listing fails, is left out.
fn listed_model(worker_key: &str) -> Option<&str> {
    let (name, worker_type) = worker_key.split_once('@')?;
    (!worker_type.contains('@') && LISTED_TYPES.contains(&worker_type)).then_some(name)
}

/// The models that have at least one instance selection can pick (healthy, enabled, weight
/// above 0), each once, without its `@type`, sorted by name: an instance an operator drained
/// to weight 0 serves nothing.
pub(crate) fn model_list(instances: &[ModelInstance]) -> ModelList {
    let mut models: BTreeMap<&str, i64> = BTreeMap::new();
    for instance in instances.iter().filter(|i| i.is_selectable()) {
        let Some(model) = listed_model(&instance.model_name) else {
            continue;
        };
        let seen = instance.last_heartbeat.map_or(0, |t| t.timestamp());
        let first = models.entry(model).or_insert(seen);
        *first = (*first).min(seen);
    }
    ModelList {
        object: "list",
        data: models
            .into_iter()
            .map(|(id, created)| ModelCard::new(id, created))
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
                card.set_created(time);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_worker_types_with_one_at_sign_are_models() {
        assert_eq!(listed_model("glm-4@llm"), Some("glm-4"));
        assert_eq!(listed_model("bge@text2vec"), Some("bge"));
        assert_eq!(listed_model("bge-reranker@reranker"), Some("bge-reranker"));
        for key in ["WorkerManager@service", "no-type", "a@b@llm", "a@LLM", "a@"] {
            assert_eq!(listed_model(key), None, "{key}");
        }
    }
}
