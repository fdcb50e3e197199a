//! The traces API, over the span files in the folder of this server's span file:
//! `GET /api/traces[?limit=N][&model_name=…&host=…&port=…]` (recent traces, newest first; with
//! an instance, only traces with a span about it: its registers and deregisters) and
//! `GET /api/traces/{trace_id}`
//! (one trace as a waterfall, with its text tree). Both answer from the tracer's window of
//! recent spans ([`crate::Tracer::recent_spans`]), which reads only what was appended to the
//! files since the last call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
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
    model_name: Option<String>,
    host: Option<String>,
    port: Option<String>,
}

/// The instance a trace list is narrowed to: every part given must match a span's metadata.
#[derive(Debug, Default)]
struct AboutInstance {
    model_name: Option<String>,
    host: Option<String>,
    port: Option<u16>,
}

impl AboutInstance {
    fn parse(query: &mut TracesQuery) -> Result<Option<Self>, AppError> {
        let text =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let port = match text(query.port.take()) {
            None => None,
            Some(port) => Some(port.parse::<u16>().map_err(|_| {
                AppError::query_field("port", format!("port must be 0 to 65535, not {port:?}"))
            })?),
        };
        let about = Self {
            model_name: text(query.model_name.take()),
            host: text(query.host.take()),
            port,
        };
        let any = about.model_name.is_some() || about.host.is_some() || about.port.is_some();
        Ok(any.then_some(about))
    }

    fn matches(&self, metadata: &serde_json::Map<String, serde_json::Value>) -> bool {
        let text = |key: &str, want: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| metadata.get(key).and_then(|v| v.as_str()) == Some(w))
        };
        let port = self.port.is_none_or(|want| {
            metadata
                .get("port")
                .and_then(serde_json::Value::as_u64)
                .is_some_and(|p| p == u64::from(want))
        });
        text("model_name", &self.model_name) && text("host", &self.host) && port
    }

    /// The spans of the traces that have a span about this instance.
    fn traces_of(&self, spans: &SpanSnapshot) -> Vec<Arc<span_storage::Span>> {
        let ids: std::collections::HashSet<&str> = spans
            .iter()
            .filter(|span| span.metadata.as_ref().is_some_and(|m| self.matches(m)))
            .map(|span| span.trace_id.as_str())
            .collect();
        spans
            .iter()
            .filter(|span| ids.contains(span.trace_id.as_str()))
            .cloned()
            .collect()
    }
}

/// How long a read of the span files, and the trace list made from it, answer later calls.
/// Spans reach the files only when the span writer flushes (every `span_flush_interval`), so
/// reading more often finds nothing new; reading less often keeps operators' polling of the
/// traces API from costing the heartbeat path CPU.
const REUSE_READ_FOR: Duration = Duration::from_millis(500);

/// The last read of the span files and the last trace list made from it.
#[derive(Debug, Default)]
pub(crate) struct TracesCache {
    read: Mutex<Option<LastRead>>,
}

#[derive(Debug)]
struct LastRead {
    at: tokio::time::Instant,
    spans: SpanSnapshot,
    /// The last list answered from `spans`: its limit and JSON.
    list: Option<(usize, Bytes)>,
}

impl TracesCache {
    fn fresh(&self) -> Option<SpanSnapshot> {
        let read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        read.as_ref()
            .filter(|last| last.at.elapsed() < REUSE_READ_FOR)
            .map(|last| Arc::clone(&last.spans))
    }

    fn store(&self, spans: &SpanSnapshot) {
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        *read = Some(LastRead {
            at: tokio::time::Instant::now(),
            spans: Arc::clone(spans),
            list: None,
        });
    }

    fn list(&self, spans: &SpanSnapshot, limit: usize) -> Option<Bytes> {
        let read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        let last = read
            .as_ref()
            .filter(|last| Arc::ptr_eq(&last.spans, spans))?;
        last.list
            .as_ref()
            .filter(|(cached, _)| *cached == limit)
            .map(|(_, json)| json.clone())
    }

    fn store_list(&self, spans: &SpanSnapshot, limit: usize, json: &Bytes) {
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(last) = read.as_mut().filter(|last| Arc::ptr_eq(&last.spans, spans)) {
            last.list = Some((limit, json.clone()));
        }
    }
}

/// The recent spans of the span folder (a bounded window, read incrementally); none when
/// tracing is off or nothing was written yet. The files are read on a blocking thread,
/// concurrent calls share one read, and a read answers the calls of the next
/// [`REUSE_READ_FOR`].
async fn spans(state: &AppState) -> Result<SpanSnapshot, AppError> {
    let Some(recent) = state.tracer().recent_spans().cloned() else {
        return Ok(Arc::new([]));
    };
    let cache = &state.ops().traces;
    if let Some(spans) = cache.fresh() {
        return Ok(spans);
    }
    let spans = tokio::task::spawn_blocking(move || recent.refresh())
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?
        .map_err(|error| AppError::Internal(format!("cannot read span files: {error}")))?;
    cache.store(&spans);
    Ok(spans)
}

/// `GET /api/traces[?limit=N]`: trace summaries, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<TracesQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(mut query) = query?;
    let about = AboutInstance::parse(&mut query)?;
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_TRACE_LIMIT,
        Some(text) => text.parse().map_err(|_| {
            AppError::query_field(
                "limit",
                format!("limit must be a whole number, not {text:?}"),
            )
        })?,
    };
    let spans = spans(&state).await?;
    if let Some(about) = about {
        let mut summaries = trace_summaries(&about.traces_of(&spans));
        summaries.truncate(limit);
        return Ok(Json(summaries).into_response());
    }
    let cache = &state.ops().traces;
    let json = match cache.list(&spans, limit) {
        Some(json) => json,
        None => {
            let mut summaries = trace_summaries(&spans);
            summaries.truncate(limit);
            let json = Bytes::from(
                serde_json::to_vec(&summaries)
                    .map_err(|error| AppError::Internal(error.to_string()))?,
            );
            cache.store_list(&spans, limit, &json);
            json
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
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
