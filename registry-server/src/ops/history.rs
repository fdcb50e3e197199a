//! `GET /api/controller/history[?model_name=…][&host=…][&port=…][&limit=N]`: the health
//! transitions this server's change feed saw (of the whole fleet, on a shared database), newest
//! first: `{"retention_secs", "capacity", "transitions": [{"at", "kind", "model_name", "host",
//! "port", "weight"}]}`, `at` in RFC 3339 UTC. At most [`MAX_TRANSITIONS`] per answer.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use registry_core::TransitionFilter;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::AppError;

/// The most transitions one answer holds.
pub const MAX_TRANSITIONS: usize = 1000;
const DEFAULT_TRANSITIONS: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HistoryQuery {
    model_name: Option<String>,
    host: Option<String>,
    port: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
struct TransitionOut {
    at: String,
    kind: &'static str,
    model_name: String,
    host: String,
    port: u16,
    weight: f64,
}

#[derive(Serialize)]
struct HistoryAnswer {
    retention_secs: i64,
    capacity: usize,
    transitions: Vec<TransitionOut>,
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The transitions.
pub(crate) async fn history(
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query?;
    let port = match blank_to_none(query.port) {
        None => None,
        Some(text) => Some(text.trim().parse::<u16>().map_err(|_| {
            AppError::query_field("port", format!("port must be 0 to 65535, not {text:?}"))
        })?),
    };
    let limit = match blank_to_none(query.limit) {
        None => DEFAULT_TRANSITIONS,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TRANSITIONS).contains(n))
            .ok_or_else(|| {
                AppError::query_field(
                    "limit",
                    format!("limit must be between 1 and {MAX_TRANSITIONS}, not {text:?}"),
                )
            })?,
    };
    let (model_name, host) = (blank_to_none(query.model_name), blank_to_none(query.host));
    let filter = TransitionFilter {
        model_name: model_name.as_deref().map(str::trim),
        host: host.as_deref().map(str::trim),
        port,
    };
    let history = state.ops().history();
    let transitions = history
        .transitions(&filter, limit)
        .into_iter()
        .map(|t| TransitionOut {
            at: t.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            kind: t.kind.as_str(),
            model_name: t.model_name,
            host: t.host,
            port: t.port,
            weight: t.weight,
        })
        .collect();
    Ok(Json(HistoryAnswer {
        retention_secs: history.config().retention.num_seconds(),
        capacity: history.config().capacity,
        transitions,
    })
    .into_response())
}
