//! What wraps every request: metrics, the request span and the bearer-token check.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::metrics::Route;
use crate::spans::{OpenSpan, REQUEST_OPERATION, TRACE_HEADER};

/// The span around the current request, for handlers to open child spans in.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpan(Option<OpenSpan>);

impl RequestSpan {
    /// The request span's id, if the request is traced.
    pub(crate) fn id(&self) -> Option<&str> {
        self.0.as_ref().map(OpenSpan::id)
    }
}

/// Counts the request while in flight, counts and times it, traces it (unless it is a heartbeat
/// or a health check, as DB-GPT does) and checks the bearer token of routes that need one.
pub(crate) async fn observe(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = Route::of(request.method(), request.uri().path());
    let _in_flight = state.metrics().in_flight(route);
    // Pages hold no data, and a watch is a poll like a heartbeat: neither is traced.
    let page = crate::ops::is_page(request.uri().path());
    let quiet = page || matches!(route, Route::Watch | Route::Heartbeat | Route::Health);
    let span = if quiet {
        None
    } else {
        let parent = request
            .headers()
            .get(TRACE_HEADER)
            .and_then(|value| value.to_str().ok());
        let metadata = || {
            serde_json::json!({
                "path": request.uri().path(),
                "method": request.method().as_str(),
            })
        };
        state.tracer().open(REQUEST_OPERATION, parent, metadata)
    };
    let write = matches!(
        route,
        Route::Register | Route::Deregister | Route::Heartbeat | Route::Settings
    );
    let checked = if page {
        Ok(())
    } else {
        state.auth().check(request.headers(), write)
    };
    let response = match (route, checked) {
        (Route::Health, _) | (_, Ok(())) => {
            // Untraced requests (every heartbeat) skip the extension map's allocation.
            if span.is_some() {
                request.extensions_mut().insert(RequestSpan(span.clone()));
            }
            next.run(request).await
        }
        (_, Err(error)) => error.into_response(),
    };
    if let Some(span) = span {
        state.tracer().close(span);
    }
    state
        .metrics()
        .record(route, response.status(), started.elapsed());
    response
}
