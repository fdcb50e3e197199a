//! The JSON Schemas of the bodies the routes read and answer, as OpenAPI 3.1 components.
//!
//! Written by hand rather than derived: the wire types parse leniently, as DB-GPT's pydantic
//! models do (a port may come as `"8001"`, a flag as `"true"`), and a derived schema would
//! describe the Rust types instead of what the server accepts.

use serde_json::{Value, json};

/// `components.schemas`.
pub(super) fn components() -> Value {
    let mut all = core_components();
    if let (Some(all), Value::Object(more)) = (all.as_object_mut(), super::operators::schemas()) {
        all.extend(more);
    }
    all
}

fn core_components() -> Value {
    json!({
        "InstanceBody": instance_body(),
        "Instance": instance(),
        "SettingsBody": settings_body(),
        "WatchAnswer": {
            "type": "object",
            "required": ["index", "instances"],
            "properties": {
                "index": {"type": "integer", "minimum": 0,
                    "description": "Pass it back as `index` to wait for the next change."},
                "instances": {"type": "array", "items": {"$ref": "#/components/schemas/Instance"}}
            }
        },
        "ModelList": model_list(),
        "TraceSummary": {
            "type": "object",
            "required": ["trace_id", "root_operation", "start_time", "duration_ms", "span_count"],
            "properties": {
                "trace_id": {"type": "string"},
                "root_operation": {"type": "string"},
                "start_time": {"type": "string", "description": "Naive local time, as the span files hold it."},
                "duration_ms": {"type": ["number", "null"], "description": "null while the root span is open."},
                "span_count": {"type": "integer", "minimum": 0}
            }
        },
        "TraceTree": {
            "type": "object",
            "required": ["trace_id", "rows", "text"],
            "properties": {
                "trace_id": {"type": "string"},
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/WaterfallRow"}},
                "text": {"type": "string", "description": "The tree as indented text."}
            }
        },
        "WaterfallRow": {
            "type": "object",
            "required": ["depth", "span_id", "operation_name", "offset_ms", "duration_ms", "span_type"],
            "properties": {
                "depth": {"type": "integer", "minimum": 0},
                "span_id": {"type": "string"},
                "operation_name": {"type": "string"},
                "offset_ms": {"type": "number"},
                "duration_ms": {"type": ["number", "null"]},
                "span_type": {"type": "string"}
            }
        },
        "Status": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string"},
                "reason": {"type": "string"}
            }
        },
        "ValidationError": validation_error(),
        "Error": {
            "type": "object",
            "required": ["detail"],
            "properties": {"detail": {"type": "string"}},
            "description": "FastAPI's body for an error that is not about one input, such as `{\"detail\":\"Not Found\"}`."
        }
    })
}

fn flag(description: &str) -> Value {
    json!({"type": ["boolean", "string", "integer", "null"], "description": description})
}

/// A register or heartbeat body: DB-GPT's `ModelInstance`.
fn instance_body() -> Value {
    json!({
        "type": "object",
        "description": "DB-GPT's ModelInstance. Unknown fields are ignored; values are read as pydantic reads them (\"8001\" is a port, \"true\" a flag).",
        "required": ["model_name", "host", "port"],
        "properties": {
            "model_name": {"type": "string", "minLength": 1, "maxLength": 128,
                "description": "Not empty, no control characters, not DB-GPT's identifier separator `___$$$$___`."},
            "host": {"type": "string", "minLength": 1, "maxLength": 128},
            "port": {"type": ["integer", "string"], "minimum": 1, "maximum": 65535},
            "weight": {"type": ["number", "string", "null"], "minimum": 0, "default": 1.0},
            "check_healthy": flag("Whether the checker expires it; default true."),
            "healthy": flag("Default false; a heartbeat makes it true."),
            "enabled": flag("Default true; an operator's setting wins."),
            "prompt_template": {"type": ["string", "null"], "maxLength": 128},
            "last_heartbeat": {"type": ["string", "number", "null"],
                "description": "Ignored: the server stamps each heartbeat with its storage's clock."},
            "remove_from_registry": flag("On deregister: delete the row instead of marking it unhealthy.")
        }
    })
}

/// An instance as listings answer it.
fn instance() -> Value {
    json!({
        "type": "object",
        "required": ["model_name", "host", "port", "weight", "check_healthy", "healthy",
            "enabled", "prompt_template", "last_heartbeat", "remove_from_registry"],
        "properties": {
            "model_name": {"type": "string"},
            "host": {"type": "string"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "weight": {"type": "number", "minimum": 0},
            "check_healthy": {"type": "boolean"},
            "healthy": {"type": "boolean"},
            "enabled": {"type": "boolean"},
            "prompt_template": {"type": ["string", "null"]},
            "last_heartbeat": {"type": ["string", "null"],
                "description": "Python's isoformat() of a naive wall-clock time in the server's zone, as DB-GPT lists it."},
            "remove_from_registry": {"type": "boolean"}
        }
    })
}

fn settings_body() -> Value {
    json!({
        "type": "object",
        "description": "An operator's settings for one instance; give enabled, weight or both.",
        "required": ["model_name", "host", "port"],
        "properties": {
            "model_name": {"type": "string"},
            "host": {"type": "string"},
            "port": {"type": ["integer", "string"], "minimum": 1, "maximum": 65535},
            "enabled": {"type": ["boolean", "null"]},
            "weight": {"type": ["number", "null"], "minimum": 0}
        }
    })
}

/// OpenAI's model list, as DB-GPT's API server answers `/api/v1/models`.
fn model_list() -> Value {
    json!({
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "object", "created", "owned_by", "root", "parent", "permission"],
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                        "root": {"type": "string"},
                        "parent": {"type": ["string", "null"]},
                        "permission": {"type": "array", "items": {"type": "object"}}
                    }
                }
            }
        }
    })
}

/// FastAPI's 422 body: one entry per problem, as pydantic reports them.
fn validation_error() -> Value {
    json!({
        "type": "object",
        "required": ["detail"],
        "properties": {
            "detail": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "loc", "msg"],
                    "properties": {
                        "type": {"type": "string", "description": "pydantic's error type, such as missing or int_parsing; value_error for a rule of this registry's own."},
                        "loc": {"type": "array", "items": {"type": ["string", "integer"]},
                            "description": "Where: `body` or `query`, then the field."},
                        "msg": {"type": "string"},
                        "input": {},
                        "ctx": {"type": "object"}
                    }
                }
            }
        }
    })
}
