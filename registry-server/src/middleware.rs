//! What wraps every request: metrics, the request span and the bearer-token check.
//!
//! [`Observe`] is a tower layer of its own rather than `axum::middleware::from_fn`: it calls
//! the route it wraps directly, where `from_fn` would box that route a second time and box
//! each call's future through it, on every request.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service, ServiceExt as _};

use crate::AppState;
use crate::admission::{check_json_content_type, has_body};
use crate::endpoints::{Access, Matched};
use crate::error::AppError;
use crate::span_path;
use crate::spans::{REQUEST_OPERATION, RequestSpan, TRACE_HEADER};

/// Wraps each route (and the fallbacks) in [`Observe`].
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    state: AppState,
}

impl ObserveLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, route: S) -> Observe<S> {
        Observe {
            route,
            state: self.state.clone(),
        }
    }
}

/// A route with [`observe`] around it.
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    route: S,
    state: AppState,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.route.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = self.route.clone();
        let state = self.state.clone();
        Box::pin(async move { Ok(observe(&state, request, route).await) })
    }
}

/// Counts the request while in flight, counts and times it, admits it (declared body size,
/// token, browser origin, JSON content type, body read timeout) by the policy its endpoint
/// declares, and only then traces it if the endpoint is traced: a request refused before its
/// handler costs no span. A path the server does not serve is traced as DB-GPT traces it (an
/// `/api` path), but only when it carries the token if one is set, so unauthenticated traffic
/// cannot fill the span file.
async fn observe<S>(state: &AppState, request: Request, route: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let started = Instant::now();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let matched = Matched::find(request.method(), template);
    let metric = matched.route();
    let _in_flight = state.metrics().in_flight(metric);
    let response = match (admit(state, matched, request).await, matched) {
        // A storage that does not block (memory) answers within the poll that asks it, so
        // only a blocking one needs the deadline's timer.
        (Ok(request), Matched::Endpoint(endpoint))
            if endpoint.storage_bound && state.registry().storage().is_blocking() =>
        {
            // The storage has its own timeouts; this is the promise on top of them, that a
            // request is answered within the deadline whatever the driver does.
            let deadline = state.policy().storage_deadline;
            tokio::time::timeout(deadline, run_traced(state, endpoint.traced, request, route))
                .await
                .unwrap_or_else(|_| {
                    AppError::Unavailable("no answer within the storage deadline".into())
                        .into_response()
                })
        }
        (Ok(request), Matched::Endpoint(endpoint)) => {
            run_traced(state, endpoint.traced, request, route).await
        }
        // Nothing serves it: the fallback answers 404 or 405.
        (Ok(request), _) => {
            let traced = span_path::is_traced(&span_path::recorded_path(request.uri().path()))
                && state.auth().check(request.headers(), true).is_ok();
            run_traced(state, traced, request, route).await
        }
        (Err(error), _) => error.into_response(),
    };
    state
        .metrics()
        .record(metric, response.status(), started.elapsed());
    response
}

/// The route's answer.
async fn call<S>(route: S, request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let Ok(response) = route.oneshot(request).await;
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
    if !has_body(request.method()) {
        return Ok(request);
    }
    // Read (within its bounds) before the media type is judged: FastAPI quotes a body it
    // refuses, and so does this.
    let (parts, bytes) = policy.read_body(request).await?;
    if endpoint.json_body {
        check_json_content_type(&parts.headers, &bytes)?;
    }
    let mut request = Request::from_parts(parts, axum::body::Body::empty());
    request
        .extensions_mut()
        .insert(crate::admission::AdmittedBody(bytes));
    Ok(request)
}

async fn run_traced<S>(state: &AppState, traced: bool, mut request: Request, route: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if !traced {
        return call(route, request).await;
    }
    // Starlette reads header values as Latin-1; so does DB-GPT's header parsing.
    let parent: Option<String> = request
        .headers()
        .get(TRACE_HEADER)
        .map(|value| value.as_bytes().iter().map(|&b| char::from(b)).collect());
    // DB-GPT's request span records the path only; span-storage bounds its length.
    let metadata = || serde_json::json!({ "path": span_path::recorded_path(request.uri().path()) });
    let span = state
        .tracer()
        .open(REQUEST_OPERATION, parent.as_deref(), metadata);
    if span.is_some() {
        request
            .extensions_mut()
            .insert(RequestSpan::new(span.clone()));
    }
    let response = call(route, request).await;
    if let Some(span) = span {
        state.tracer().close(span);
    }
    response
}
