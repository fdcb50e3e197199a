//! One endpoint's policy: who may call it, whether it is traced, whether it reads JSON and
//! whether it waits on the storage. The route table ([`crate::endpoints`]) is made of these;
//! the middleware and the API description ([`crate::openapi`]) read them.

use axum::http::Method;
use axum::routing::MethodRouter;

use crate::AppState;
use crate::metrics::Route;

/// Who may call an endpoint when a token is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Never needs the token: liveness, readiness, and pages and assets, which hold no data.
    Open,
    /// Needs the token only with `auth_reads`.
    Read,
    /// Always needs the token; a browser may only call it from its own origin.
    Write,
}

/// One endpoint and its policy.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) route: Route,
    pub(crate) access: Access,
    /// Whether a request span is written. DB-GPT traces neither heartbeats nor health
    /// checks; pages hold no data, and a watch is a poll like a heartbeat. Endpoints DB-GPT's
    /// controller lacks (`/v1/models`, `/metrics`, the traces API, readiness) are not traced
    /// either, so the span file holds what DB-GPT's would for the same requests (the settings
    /// write stays traced: DB-GPT traces every other `/api` path, even one it does not serve).
    pub(crate) traced: bool,
    /// Whether the body must be JSON.
    pub(crate) json_body: bool,
    /// Whether the answer waits on the storage, and so is bounded by the storage deadline.
    /// `/metrics` and `/api/ready` bound their own storage calls, so that they still answer.
    pub(crate) storage_bound: bool,
    pub(crate) handler: fn() -> MethodRouter<AppState>,
}

pub(crate) const fn endpoint(
    method: Method,
    path: &'static str,
    route: Route,
    access: Access,
    handler: fn() -> MethodRouter<AppState>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        route,
        access,
        traced: true,
        json_body: false,
        storage_bound: false,
        handler,
    }
}

impl Endpoint {
    pub(crate) const fn untraced(mut self) -> Self {
        self.traced = false;
        self
    }

    pub(crate) const fn json(mut self) -> Self {
        self.json_body = true;
        self
    }

    pub(crate) const fn storage(mut self) -> Self {
        self.storage_bound = true;
        self
    }
}
