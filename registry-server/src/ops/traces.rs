//! The traces API, over the span files in the folder of this server's span file:
//! `GET /api/traces[?limit=N]` (recent traces, newest first) and `GET /api/traces/{trace_id}`
//! (one trace as a waterfall, with its text tree). Both answer from the tracer's window of
//! recent spans ([`crate::Tracer::recent_spans`]), which reads only what was appended to the
//! files since the last call.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use span_storage::query::{SpanSnapshot, TraceTree, trace_summaries};

use crate::AppState;
use crate::error::AppError;

/// How many traces `GET /api/traces` lists when the query names no limit.
pub const DEFAULT_TRACE_LIMIT: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TracesQuery {
    limit: Option<String>,
}

/// The recent spans of the span folder (a bounded window, read incrementally); none when
/// tracing is off or nothing was written yet. The files are read on a blocking thread, and
/// concurrent calls share one read.
async fn spans(state: &AppState) -> Result<SpanSnapshot, AppError> {
    let Some(recent) = state.tracer().recent_spans().cloned() else {
        return Ok(Arc::new([]));
    };
    tokio::task::spawn_blocking(move || recent.refresh())
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?
        .map_err(|error| AppError::Internal(format!("cannot read span files: {error}")))
}

/// `GET /api/traces[?limit=N]`: trace summaries, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<TracesQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|rejection| AppError::BadInput {
        message: format!("invalid query: {}", rejection.body_text()),
        field: None,
    })?;
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_TRACE_LIMIT,
        Some(text) => text.parse().map_err(|_| {
            AppError::field(
                "limit",
                format!("limit must be a whole number, not {text:?}"),
            )
        })?,
    };
    let mut summaries = trace_summaries(&spans(&state).await?);
    summaries.truncate(limit);
    Ok(Json(summaries).into_response())
}

/// `GET /api/traces/{trace_id}`: `{"trace_id", "rows": [waterfall rows], "text": tree}`.
pub(crate) async fn tree(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> Result<Response, AppError> {
    let spans = spans(&state).await?;
    let tree = TraceTree::build(&trace_id, &spans).ok_or(AppError::NoSuchTrace(trace_id))?;
    Ok(Json(serde_json::json!({
        "trace_id": tree.trace_id,
        "rows": tree.waterfall(),
        "text": tree.render_text(),
    }))
    .into_response())
}
