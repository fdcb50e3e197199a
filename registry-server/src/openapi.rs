//! `GET /openapi.json`: an OpenAPI 3.1 description of every endpoint, built from the route
//! table ([`crate::endpoints::ENDPOINTS`], which hands itself over) so that it cannot leave a
//! route out; `GET /docs` renders it with an
//! embedded page (no asset from the network).
//!
//! Each route's words come from one exhaustive `match` on its [`Route`], so a new route does
//! not compile until it is described. The error answers an endpoint can give follow from its
//! policy in the table: who may call it, whether it reads JSON, whether it waits on storage.

mod operators;
mod schemas;

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::metrics::Route;
use crate::route_policy::{Access, Endpoint};

/// `GET /openapi.json`: the description of `endpoints` (the route table, which passes itself),
/// built once.
pub(crate) fn answer(endpoints: &[Endpoint]) -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let bytes = DOCUMENT.get_or_init(|| {
        Bytes::from(serde_json::to_vec(&document(endpoints)).unwrap_or_else(|_| b"{}".to_vec()))
    });
    ([(header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response()
}

/// The whole document for `endpoints`.
pub(crate) fn document(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for endpoint in endpoints {
        let methods = paths
            .entry(endpoint.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = methods {
            methods.insert(
                endpoint.method.as_str().to_ascii_lowercase(),
                operation(endpoint),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Model registry",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A drop-in for DB-GPT's model controller: DB-GPT's five controller routes with its answers, plus readiness, metrics, an OpenAI model list, operator settings, a change feed and the traces API. With a token configured, writes need it (as a Bearer token or as the password of Basic credentials, which DB-GPT's workers send from `http://user:TOKEN@host:port`); with auth_reads, reads need it too."
        },
        "tags": [
            {"name": "DB-GPT controller", "description": "The routes DB-GPT's workers, CLI and API server call."},
            {"name": "registry", "description": "What this server adds for operators."},
            {"name": "pages", "description": "Embedded pages and their assets."}
        ],
        "paths": paths,
        "components": {
            "schemas": schemas::components(),
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic",
                    "description": "Any user name; the password is the token."}
            }
        }
    })
}

/// What a route does, in words and shapes.
struct Doc {
    tag: &'static str,
    summary: &'static str,
    parameters: Vec<Value>,
    body: Option<&'static str>,
    ok: Value,
    /// Answers beyond those the route's policy implies.
    other: Vec<(&'static str, Value)>,
}

fn json_answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn query(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema,
        "description": description})
}

fn boolean_answer() -> Value {
    json_answer(
        "`true` (DB-GPT's answer to a write).",
        json!({"type": "boolean"}),
    )
}

fn text_answer(description: &str, media_type: &str) -> Value {
    json!({"description": description, "content": {media_type: {"schema": {"type": "string"}}}})
}

fn describe(route: Route) -> Doc {
    let controller = "DB-GPT controller";
    let doc = |tag, summary, ok| Doc {
        tag,
        summary,
        parameters: Vec::new(),
        body: None,
        ok,
        other: Vec::new(),
    };
    match route {
        Route::Health => doc(
            controller,
            "Liveness: always answers, as DB-GPT's controller does.",
            json_answer("The server is up.", reference("Status")),
        ),
        Route::Ready => Doc {
            other: vec![(
                "503",
                json_answer(
                    "The storage cannot be reached or written; retry after `Retry-After`.",
                    reference("Status"),
                ),
            )],
            ..doc(
                "registry",
                "Readiness: whether the storage can be reached and written.",
                json_answer("Ready.", reference("Status")),
            )
        },
        Route::Register => Doc {
            body: Some("InstanceBody"),
            ..doc(
                controller,
                "Register an instance, or update it; it is healthy from now.",
                boolean_answer(),
            )
        },
        Route::Deregister => Doc {
            parameters: vec![
                query("model_name", true, json!({"type": "string"}), "The model."),
                query(
                    "host",
                    true,
                    json!({"type": "string"}),
                    "The instance's host.",
                ),
                query(
                    "port",
                    true,
                    json!({"type": "integer"}),
                    "The instance's port.",
                ),
                query(
                    "remove_from_registry",
                    false,
                    json!({"type": "boolean", "default": false}),
                    "Delete the row instead of marking the instance unhealthy.",
                ),
            ],
            ..doc(
                controller,
                "Deregister an instance: mark it unhealthy, or remove it.",
                boolean_answer(),
            )
        },
        Route::List => Doc {
            parameters: vec![
                query(
                    "model_name",
                    false,
                    json!({"type": "string"}),
                    "Only this model.",
                ),
                query(
                    "healthy_only",
                    false,
                    json!({"type": "boolean", "default": false}),
                    "Only healthy instances.",
                ),
            ],
            ..doc(
                controller,
                "List instances, in registration order.",
                json_answer(
                    "The instances.",
                    json!({"type": "array", "items": reference("Instance")}),
                ),
            )
        },
        Route::Heartbeat => Doc {
            body: Some("InstanceBody"),
            ..doc(
                controller,
                "A worker's heartbeat: registers the instance if the registry does not know it.",
                boolean_answer(),
            )
        },
        Route::Models => doc(
            "registry",
            "Healthy, enabled models in OpenAI's list format, as DB-GPT's API server lists them.",
            json_answer("The models.", reference("ModelList")),
        ),
        Route::Metrics => doc(
            "registry",
            "Prometheus metrics; answers also while the storage is down.",
            text_answer("Prometheus text format 0.0.4.", "text/plain; version=0.0.4"),
        ),
        Route::Dashboard => doc("pages", "The dashboard.", text_answer("HTML.", "text/html")),
        Route::TracesPage => doc(
            "pages",
            "The traces view.",
            text_answer("HTML.", "text/html"),
        ),
        Route::Docs => doc(
            "pages",
            "This document, rendered.",
            text_answer("HTML.", "text/html"),
        ),
        Route::OpenApi => doc(
            "pages",
            "This document.",
            json_answer("OpenAPI 3.1.", json!({"type": "object"})),
        ),
        Route::Asset => Doc {
            parameters: vec![json!({"name": "name", "in": "path", "required": true,
                "schema": {"type": "string"}, "description": "A script or style sheet."})],
            other: vec![("404", json_answer("No such asset.", reference("Error")))],
            ..doc(
                "pages",
                "A script or style sheet of the pages.",
                text_answer("JavaScript or CSS.", "text/javascript"),
            )
        },
        Route::Watch => Doc {
            parameters: vec![
                query(
                    "index",
                    false,
                    json!({"type": "integer", "minimum": 0, "default": 0}),
                    "The index of the last answer; the call waits until the registry changes after it.",
                ),
                query(
                    "timeout",
                    false,
                    json!({"type": "string", "default": "60s"}),
                    "How long to wait, such as `30s` (at most 300 s); then the same index is answered.",
                ),
            ],
            ..doc(
                "registry",
                "The change feed: a long poll that answers the registry once it changes.",
                json_answer("The registry and its index.", reference("WatchAnswer")),
            )
        },
        Route::Settings => Doc {
            body: Some("SettingsBody"),
            other: vec![
                ("404", json_answer("No such instance.", reference("Error"))),
                (
                    "501",
                    json_answer("The storage cannot apply settings.", reference("Error")),
                ),
            ],
            ..doc(
                "registry",
                "An operator's settings for one instance: enabled, weight, or both. They survive the worker's re-registration.",
                json_answer("The instance as it now is.", reference("Instance")),
            )
        },
        Route::TraceList => Doc {
            parameters: vec![
                query(
                    "limit",
                    false,
                    json!({"type": "integer", "minimum": 1, "default": 50}),
                    "How many traces, newest first.",
                ),
                query(
                    "model_name",
                    false,
                    json!({"type": "string"}),
                    "With `host` and `port`: only traces with a span about this instance (its registers and deregisters).",
                ),
                query(
                    "host",
                    false,
                    json!({"type": "string"}),
                    "See `model_name`.",
                ),
                query(
                    "port",
                    false,
                    json!({"type": "integer", "minimum": 0, "maximum": 65535}),
                    "See `model_name`.",
                ),
            ],
            ..doc(
                "registry",
                "Recent traces from the server's span files.",
                json_answer(
                    "The traces.",
                    json!({"type": "array", "items": reference("TraceSummary")}),
                ),
            )
        },
        Route::TraceTree => Doc {
            parameters: vec![json!({"name": "trace_id", "in": "path", "required": true,
                "schema": {"type": "string"}})],
            other: vec![("404", json_answer("No such trace.", reference("Error")))],
            ..doc(
                "registry",
                "One trace as a waterfall and as a tree.",
                json_answer("The trace.", reference("TraceTree")),
            )
        },
        Route::DashboardFeed => operators::dashboard(),
        Route::History => operators::history(),
        Route::Other => doc("registry", "", json!({"description": ""})),
    }
}

/// One operation: its words, then the answers its policy implies.
fn operation(endpoint: &Endpoint) -> Value {
    let doc = describe(endpoint.route);
    let mut responses = Map::new();
    responses.insert("200".into(), doc.ok);
    let takes_input = doc.body.is_some() || !doc.parameters.is_empty();
    if takes_input {
        responses.insert(
            "422".into(),
            json_answer(
                "The input cannot be read; each problem names its field, as FastAPI answers.",
                reference("ValidationError"),
            ),
        );
    }
    if endpoint.json_body {
        responses.insert(
            "413".into(),
            json_answer("The body is over the size limit.", reference("Error")),
        );
    }
    match endpoint.access {
        Access::Open => {}
        Access::Read => {
            responses.insert(
                "401".into(),
                json_answer(
                    "Only with auth_reads: no token, or a wrong one.",
                    reference("Error"),
                ),
            );
        }
        Access::Write => {
            responses.insert(
                "401".into(),
                json_answer(
                    "A token is configured and the request has none, or a wrong one.",
                    reference("Error"),
                ),
            );
            responses.insert(
                "403".into(),
                json_answer(
                    "A browser's cross-site write (its Origin is not this server).",
                    reference("Error"),
                ),
            );
        }
    }
    if endpoint.storage_bound {
        responses.insert(
            "503".into(),
            json_answer(
                "The storage did not answer within its deadline; retry after `Retry-After`.",
                reference("Error"),
            ),
        );
    }
    for (status, answer) in doc.other {
        responses.insert(status.into(), answer);
    }
    let mut operation = json!({
        "operationId": endpoint.route.label(),
        "tags": [doc.tag],
        "summary": doc.summary,
        "responses": responses,
    });
    if !doc.parameters.is_empty() {
        operation["parameters"] = Value::Array(doc.parameters);
    }
    if let Some(schema) = doc.body {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": reference(schema)}}
        });
    }
    match endpoint.access {
        Access::Open => operation["security"] = json!([]),
        Access::Read => operation["security"] = json!([{}, {"token": []}, {"basic": []}]),
        // Without a token configured, writes are open too.
        Access::Write => operation["security"] = json!([{"token": []}, {"basic": []}, {}]),
    }
    operation
}
