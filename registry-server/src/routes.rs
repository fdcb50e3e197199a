//! The route handlers: DB-GPT's five controller routes, `/v1/models` and `/metrics`.
//!
//! Handlers only translate: wire input to a domain call, its result to a wire answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::{ModelInstance, ModelRegistry, ValidInstance};

use crate::AppState;
use crate::admission::AdmittedBody;
use crate::error::AppError;
use crate::metrics::Gauges;
use crate::spans::{DEREGISTER_OPERATION, REGISTER_OPERATION, RequestSpan};
use registry_wire::{DeregisterQuery, InstanceBody, InstanceOut, ListQuery, listing};

/// `GET /api/health`.
pub(crate) async fn health() -> Response {
    json_text(r#"{"status":"ok"}"#)
}

/// A JSON answer whose text is known in advance; saves serializing it on every request.
fn json_text(text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// DB-GPT's answer to a successful write.
fn json_bool(value: bool) -> Response {
    json_text(if value { "true" } else { "false" })
}

/// `POST /api/controller/models`.
pub(crate) async fn register(
    State(state): State<AppState>,
    span: Option<axum::Extension<RequestSpan>>,
    body: AdmittedBody,
) -> Result<Response, AppError> {
    let instance = instance_from_body(&body)?;
    let child = state.tracer().open(
        REGISTER_OPERATION,
        span.as_ref().and_then(|s| s.0.id()),
        || instance_metadata(&instance),
    );
    let result = state.registry().register_instance(instance).await;
    if let Some(child) = child {
        state.tracer().close(child);
    }
    state.registry_changed();
    Ok(json_bool(result?))
}

/// `DELETE /api/controller/models?model_name=…&host=…&port=…[&remove_from_registry=…]`.
pub(crate) async fn deregister(
    State(state): State<AppState>,
    span: Option<axum::Extension<RequestSpan>>,
    query: Result<Query<DeregisterQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query?;
    let instance = query.into_instance()?;
    let child = state.tracer().open(
        DEREGISTER_OPERATION,
        span.as_ref().and_then(|s| s.0.id()),
        || instance_metadata(&instance),
    );
    let result = state.registry().deregister_instance(instance).await;
    if let Some(child) = child {
        state.tracer().close(child);
    }
    state.registry_changed();
    Ok(json_bool(result?))
}

/// `GET /api/controller/models[?model_name=…][&healthy_only=…]`.
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query?;
    let (model_name, healthy_only) = query.into_parts()?;
    let key = (model_name.clone(), healthy_only);
    let bytes = state
        .listings()
        .get_or_build(key, || async {
            let registry = state.registry();
            let instances = match model_name {
                Some(name) => registry.get_all_instances(&name, healthy_only).await?,
                None => registry.get_all_model_instances(healthy_only).await?,
            };
            let zone = state.time_zone();
            let json = serde_json::to_vec(&listing(&instances, |time| zone.to_wall(time)))
                .map_err(|error| AppError::Internal(error.to_string()))?;
            Ok::<_, AppError>(Bytes::from(json))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// `POST /api/controller/heartbeat`.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    body: AdmittedBody,
) -> Result<Response, AppError> {
    let instance = instance_from_body(&body)?;
    // Asked before the instance moves into the registry (which takes it without a copy).
    let news_for_watchers = state.ops().is_news(&instance);
    let result = state.registry().send_heartbeat(instance).await?;
    if news_for_watchers {
        state.ops().nudge();
    }
    Ok(json_bool(result))
}

/// `GET /v1/models`: healthy, enabled models in OpenAI's list format, as DB-GPT's API server
/// lists them.
pub(crate) async fn openai_models(State(state): State<AppState>) -> Result<Response, AppError> {
    let instances = state.registry().get_all_model_instances(true).await?;
    let mut list = crate::openai::model_list(&instances);
    let created = state.listings().created_times(list.seen());
    list.set_created(|model| created.get(model).copied());
    Ok(Json(list).into_response())
}

/// `GET /metrics`: Prometheus text. Still answers when the storage is down, unreachable or
/// read-only (within the storage deadline), with `registry_storage_up 0` and no instance
/// counts.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let registry = state.registry();
    let (spans_written, spans_dropped) = state.tracer().counts();
    let mut gauges = Gauges {
        stats: registry.stats(),
        spans_written,
        spans_dropped,
        spans_failed: state.tracer().failed(),
        rows_skipped: registry_diesel::rows_skipped_total(),
        transitions: state.ops().history().totals().to_vec(),
        ..Gauges::default()
    };
    if let Some((counts, models)) = crate::health::storage_counts(&state).await {
        gauges.storage_up = true;
        gauges.healthy = counts.healthy;
        gauges.unhealthy = counts.unhealthy;
        gauges.models = Some(models);
    }
    let mut body = state.metrics().render(&gauges);
    crate::metrics::render_connections(&mut body, state.connection_counters());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Any path the server does not serve. A path with a trailing slash that `served` (the route
/// table's own test) knows without it is redirected (307) there, on the same host, as DB-GPT's
/// Starlette does.
pub(crate) fn not_found(
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    served: fn(&str) -> bool,
) -> Response {
    let path = uri.path();
    let unslashed = path.strip_suffix('/').filter(|rest| !rest.is_empty());
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty() && !host.contains(['/', '\\', ' ']));
    if let (Some(target), Some(host)) = (unslashed, host) {
        if served(target) {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let location = format!("http://{host}{target}{query}");
            if let Ok(location) = axum::http::HeaderValue::from_str(&location) {
                return (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response();
            }
        }
    }
    AppError::NotFound(path.to_owned()).into_response()
}

/// A served path with a method it does not take.
pub(crate) async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

fn instance_from_body(body: &AdmittedBody) -> Result<ValidInstance, AppError> {
    let body = &body.0;
    InstanceBody::parse(body)
        .and_then(InstanceBody::into_instance)
        .map_err(|error| error.with_body(body).into())
}

/// DB-GPT records the instance's fields as the span's metadata, in their order; its
/// `last_heartbeat` is a datetime there, which its span writer cannot serialise and leaves out.
fn instance_metadata(instance: &ModelInstance) -> serde_json::Value {
    let mut metadata = serde_json::to_value(InstanceOut::from(instance)).unwrap_or_default();
    if let Some(last_heartbeat) = metadata.get_mut("last_heartbeat") {
        // Null keeps the key's place and is left out when the span is written.
        *last_heartbeat = serde_json::Value::Null;
    }
    metadata
}
