//! The operators' read routes beyond the change feed: the dashboard's long poll and the
//! transitions, with their answer schemas.

use serde_json::{Value, json};

use super::{Doc, json_answer, query, reference};

fn text(name: &str, description: &str) -> Value {
    query(name, false, json!({"type": "string"}), description)
}

fn count(name: &str, max: Option<usize>, description: &str) -> Value {
    let schema = match max {
        Some(max) => json!({"type": "integer", "minimum": 1, "maximum": max, "default": 100}),
        None => json!({"type": "integer", "minimum": 0, "default": 0}),
    };
    query(name, false, schema, description)
}

pub(super) fn dashboard() -> Doc {
    let rows = crate::ops::MAX_INSTANCE_ROWS;
    let models = crate::ops::MAX_MODEL_ROWS;
    Doc {
        tag: "registry",
        summary: "The dashboard's long poll: fleet totals, one page of models and one page of \
                  instances, answered once the registry changes after `index` (at once without it).",
        parameters: vec![
            count(
                "index",
                None,
                "The index of the last answer; as for the change feed.",
            ),
            text(
                "timeout",
                "How long to wait, such as `30s` (at most 300 s).",
            ),
            text(
                "model_search",
                "Only models whose name holds this (any case).",
            ),
            count("model_offset", None, "Models to skip."),
            count("model_limit", Some(models), "Models to answer."),
            text("model", "Only this model's instances."),
            text(
                "host",
                "Only instances whose `host` (or `host:port`) holds this.",
            ),
            query(
                "health",
                false,
                json!({"enum": ["any", "healthy", "unhealthy"]}),
                "Health.",
            ),
            query(
                "enabled",
                false,
                json!({"enum": ["any", "true", "false"]}),
                "Enablement.",
            ),
            query(
                "flapping",
                false,
                json!({"enum": ["any", "true", "false"]}),
                "Only flapping instances.",
            ),
            count("offset", None, "Instances to skip."),
            count("limit", Some(rows), "Instances to answer."),
        ],
        body: None,
        ok: json_answer("The view.", reference("DashboardAnswer")),
        other: Vec::new(),
    }
}

pub(super) fn history() -> Doc {
    Doc {
        tag: "registry",
        summary: "Health transitions of the whole fleet as this server saw them, newest first.",
        parameters: vec![
            text("model_name", "Only this model's."),
            text("host", "Only this host's."),
            query(
                "port",
                false,
                json!({"type": "integer", "minimum": 0, "maximum": 65535}),
                "Only this port's.",
            ),
            count(
                "limit",
                Some(crate::ops::MAX_TRANSITIONS),
                "Transitions to answer.",
            ),
        ],
        body: None,
        ok: json_answer("The transitions.", reference("HistoryAnswer")),
        other: Vec::new(),
    }
}

fn rows(item: Value) -> Value {
    json!({
        "type": "object",
        "required": ["offset", "limit", "matched", "rows"],
        "properties": {
            "offset": {"type": "integer"}, "limit": {"type": "integer"},
            "matched": {"type": "integer", "description": "Rows that pass the filters."},
            "rows": {"type": "array", "items": item}
        }
    })
}

/// The schemas of the answers above.
pub(super) fn schemas() -> Value {
    let number = json!({"type": "integer", "minimum": 0});
    json!({
        "DashboardAnswer": {
            "type": "object",
            "required": ["index", "totals", "models", "instances"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "totals": {"type": "object", "properties": {
                    "models": number, "instances": number, "healthy": number,
                    "enabled": number, "flapping": number}},
                "models": rows(json!({"type": "object", "properties": {
                    "model_name": {"type": "string"}, "instances": number, "healthy": number,
                    "enabled": number, "flapping": number,
                    "serving_weight": {"type": "number", "description": "Weight selection may pick."},
                    "total_weight": {"type": "number"},
                    "healthy_history": {"type": "array", "items": {"type": ["integer", "null"]},
                        "description": "Lowest healthy count of each minute of the last hour, oldest first."}
                }})),
                "instances": rows(json!({"allOf": [
                    {"$ref": "#/components/schemas/Instance"},
                    {"type": "object", "properties": {
                        "share": {"type": "number", "description": "Chance selection picks it."},
                        "flapping": {"type": "integer", "description": "Health transitions in the flap window, 0 unless flapping."}
                    }}
                ]}))
            }
        },
        "HistoryAnswer": {
            "type": "object",
            "required": ["retention_secs", "capacity", "transitions"],
            "properties": {
                "retention_secs": number, "capacity": number,
                "transitions": {"type": "array", "items": {"type": "object",
                    "required": ["at", "kind", "model_name", "host", "port", "weight"],
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "kind": {"enum": ["registered", "deregistered", "expired", "recovered",
                            "enabled", "disabled", "weight_changed"]},
                        "model_name": {"type": "string"}, "host": {"type": "string"},
                        "port": {"type": "integer"}, "weight": {"type": "number"}
                    }}}
            }
        }
    })
}
