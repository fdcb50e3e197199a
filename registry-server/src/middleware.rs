//! What wraps every request: metrics, the request span and the bearer-token check.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::admission::{check_json_content_type, has_body};
use crate::endpoints::{Access, Endpoint, Matched};
use crate::error::AppError;
use crate::spans::{REQUEST_OPERATION, RequestSpan, TRACE_HEADER};

/// Longest request path recorded in a span; longer paths are cut (at a character boundary).
const MAX_TRACED_PATH: usize = 256;

/// Counts the request while in flight, counts and times it, admits it (declared body size,
/// token, browser origin, JSON content type, body read timeout) by the policy its endpoint
/// declares, and only then traces it if the endpoint is traced: a request refused before its
/// handler, or to a path the server does not serve, costs no span, so unauthenticated traffic
/// cannot fill the span file.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let matched = Matched::find(request.method(), template);
    let route = matched.route();
    let _in_flight = state.metrics().in_flight(route);
    let response = match (admit(&state, matched, request).await, matched) {
        (Ok(request), Matched::Endpoint(endpoint)) if endpoint.storage_bound => {
            // The storage has its own timeouts; this is the promise on top of them, that a
            // request is answered within the deadline whatever the driver does.
            let deadline = state.policy().storage_deadline;
            tokio::time::timeout(deadline, run_traced(&state, endpoint, request, next))
                .await
                .unwrap_or_else(|_| {
                    AppError::Unavailable("no answer within the storage deadline".into())
                        .into_response()
                })
        }
        (Ok(request), Matched::Endpoint(endpoint)) => {
            run_traced(&state, endpoint, request, next).await
        }
        // Nothing serves it: the fallback answers 404 or 405.
        (Ok(request), _) => next.run(request).await,
        (Err(error), _) => error.into_response(),
    };
    state
        .metrics()
        .record(route, response.status(), started.elapsed());
    response
}

async fn admit(state: &AppState, matched: Matched, request: Request) -> Result<Request, AppError> {
    let policy = state.policy();
    policy.check_declared_length(request.headers())?;
    let Matched::Endpoint(endpoint) = matched else {
        return Ok(request);
    };
    match endpoint.access {
        Access::Open => {}
        Access::Read => state.auth().check(request.headers(), false)?,
        Access::Write => {
            state.auth().check(request.headers(), true)?;
            policy.check_origin(request.headers())?;
        }
    }
    if endpoint.json_body {
        check_json_content_type(request.headers())?;
    }
    if has_body(request.method()) {
        return policy.read_body(request).await;
    }
    Ok(request)
}

async fn run_traced(
    state: &AppState,
    endpoint: &Endpoint,
    mut request: Request,
    next: Next,
) -> Response {
    if !endpoint.traced {
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
        request
            .extensions_mut()
            .insert(RequestSpan::new(span.clone()));
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
