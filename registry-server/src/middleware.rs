//! What wraps every request: metrics, the request span and the bearer-token check.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::admission::{check_json_content_type, has_body};
use crate::error::AppError;
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

/// Longest request path recorded in a span; longer paths are cut (at a character boundary).
const MAX_TRACED_PATH: usize = 256;

/// Counts the request while in flight, counts and times it, admits it (declared body size,
/// token, browser origin, JSON content type, body read timeout), and only then traces it,
/// unless it is a heartbeat, a health check, a page or a path the server does not serve: a
/// request refused before its handler costs no span, so unauthenticated traffic cannot fill
/// the span file.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = Route::of(request.method(), request.uri().path());
    let _in_flight = state.metrics().in_flight(route);
    let response = match admit(&state, route, request).await {
        Ok(request) if waits_on_storage(route) => {
            // The storage has its own timeouts; this is the promise on top of them, that a
            // request is answered within the deadline whatever the driver does.
            let deadline = state.policy().storage_deadline;
            tokio::time::timeout(deadline, run_traced(&state, route, request, next))
                .await
                .unwrap_or_else(|_| {
                    AppError::Unavailable("no answer within the storage deadline".into())
                        .into_response()
                })
        }
        Ok(request) => run_traced(&state, route, request, next).await,
        Err(error) => error.into_response(),
    };
    state
        .metrics()
        .record(route, response.status(), started.elapsed());
    response
}

/// Routes whose answer waits on the storage. `/metrics` and `/api/ready` bound their own
/// storage calls so that they can still answer (with the storage marked down).
fn waits_on_storage(route: Route) -> bool {
    matches!(
        route,
        Route::Register
            | Route::Deregister
            | Route::List
            | Route::Heartbeat
            | Route::Models
            | Route::Settings
    )
}

async fn admit(state: &AppState, route: Route, request: Request) -> Result<Request, AppError> {
    let policy = state.policy();
    policy.check_declared_length(request.headers())?;
    let path = request.uri().path();
    let write = matches!(
        route,
        Route::Register | Route::Deregister | Route::Heartbeat | Route::Settings
    );
    if !crate::ops::is_page(path) && !matches!(route, Route::Health | Route::Ready) {
        state.auth().check(request.headers(), write)?;
    }
    if write {
        policy.check_origin(request.headers())?;
    }
    if matches!(route, Route::Register | Route::Heartbeat | Route::Settings) {
        check_json_content_type(request.headers())?;
    }
    if has_body(request.method()) {
        return policy.read_body(request).await;
    }
    Ok(request)
}

async fn run_traced(state: &AppState, route: Route, mut request: Request, next: Next) -> Response {
    // Pages hold no data, a watch is a poll like a heartbeat, and a path the server does not
    // serve is not work: none of them is traced.
    let quiet = crate::ops::is_page(request.uri().path())
        || matches!(
            route,
            Route::Watch | Route::Heartbeat | Route::Health | Route::Ready | Route::Other
        );
    if quiet {
        return next.run(request).await;
    }
    let parent = request
        .headers()
        .get(TRACE_HEADER)
        .and_then(|value| value.to_str().ok());
    let metadata = || {
        serde_json::json!({
            "path": truncate(request.uri().path(), MAX_TRACED_PATH),
            "method": request.method().as_str(),
        })
    };
    let span = state.tracer().open(REQUEST_OPERATION, parent, metadata);
    if span.is_some() {
        request.extensions_mut().insert(RequestSpan(span.clone()));
    }
    let response = next.run(request).await;
    if let Some(span) = span {
        state.tracer().close(span);
    }
    response
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
