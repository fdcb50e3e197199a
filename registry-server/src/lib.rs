//! An HTTP model registry server: a drop-in replacement for DB-GPT's model controller.
//!
//! It serves DB-GPT's five controller routes with their exact paths, inputs and answers, plus
//! `GET /v1/models` (OpenAI's list format) and `GET /metrics` (Prometheus text). The registry's
//! rules live in `registry-core`; this crate only wires them to HTTP, storage and span storage,
//! owns the wire format and reads the configuration.
//!
//! ```
//! use std::sync::Arc;
//! use registry_server::{AppState, app, memory_registry};
//!
//! let registry = Arc::new(memory_registry());
//! let router: axum::Router = app(AppState::new(registry));
//! # drop(router);
//! ```

mod admission;
mod auth;
/// The Rust client: the `registry-client` package, re-exported.
#[cfg(feature = "client")]
pub use registry_client as client;
pub mod config;
mod endpoints;
mod error;
mod health;
mod listing;
mod metrics;
mod middleware;
mod openai;
mod openapi;
pub mod ops;
mod route_policy;
mod routes;
pub mod server;
mod shutdown;
mod span_path;
mod spans;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use registry_core::{InMemoryStorage, InstanceStorage, ModelInstance, StorageModelRegistry};
use registry_diesel::WallClockZone;

pub use admission::RequestPolicy;
pub use auth::Auth;
pub use error::AppError;
pub use metrics::Metrics;
pub use spans::{
    DEREGISTER_OPERATION, REGISTER_OPERATION, REQUEST_OPERATION, TRACE_HEADER, Tracer,
};

/// The registry the server serves, over whichever storage was configured: the storage is
/// chosen at run time, so the registry holds it as `dyn InstanceStorage`.
pub type Registry = StorageModelRegistry<dyn InstanceStorage>;

/// A registry over an empty in-memory storage, with the default timing.
pub fn memory_registry() -> Registry {
    StorageModelRegistry::new(Arc::new(InMemoryStorage::<ModelInstance>::new()))
}

/// The default limit on request bodies, in bytes. A worker's register body is about 250 bytes.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Arc<Registry>,
    metrics: Metrics,
    auth: Auth,
    tracer: Tracer,
    policy: RequestPolicy,
    listings: listing::Listings,
    /// The zone of the listing's naive wall-clock times.
    time_zone: WallClockZone,
    connections: Arc<server::ConnectionCounters>,
    ops: ops::Ops,
    /// `true` once shutdown has begun.
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// `config` (or the defaults) with the registry's heartbeat timeout as the expiry rule.
fn history_config(
    registry: &Registry,
    config: Option<registry_core::HistoryConfig>,
) -> registry_core::HistoryConfig {
    let timeout = registry.config().heartbeat_timeout;
    registry_core::HistoryConfig {
        heartbeat_timeout: chrono::Duration::from_std(timeout)
            .unwrap_or(chrono::Duration::seconds(60)),
        ..config.unwrap_or_default()
    }
}

impl AppState {
    /// State over `registry`, with no token, no tracing and the default body limit.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self::with_options(
            registry,
            Auth::open(),
            Tracer::disabled(),
            DEFAULT_BODY_LIMIT,
        )
    }

    /// State with a token, a tracer and a body limit; the other request rules at their
    /// defaults.
    pub fn with_options(
        registry: Arc<Registry>,
        auth: Auth,
        tracer: Tracer,
        body_limit: usize,
    ) -> Self {
        let policy = RequestPolicy {
            body_limit,
            ..RequestPolicy::default()
        };
        Self::with_policy(registry, auth, tracer, policy)
    }

    /// State with every option given.
    pub fn with_policy(
        registry: Arc<Registry>,
        auth: Auth,
        tracer: Tracer,
        policy: RequestPolicy,
    ) -> Self {
        let history = history_config(&registry, None);
        Self {
            inner: Arc::new(Inner {
                registry,
                metrics: Metrics::default(),
                auth,
                tracer,
                policy,
                listings: listing::Listings::default(),
                time_zone: WallClockZone::Utc,
                connections: Arc::default(),
                ops: ops::Ops::new(history),
                shutdown: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    /// The state with the listing's times on `zone`'s wall clock (UTC's until this is called).
    /// Call it on a new state: a state already cloned (shared) keeps its zone.
    #[must_use]
    pub fn with_time_zone(mut self, zone: WallClockZone) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.time_zone = zone,
            None => tracing::warn!(%zone, "the state is shared; its time zone stays"),
        }
        self
    }

    /// The state with the history's bounds and flapping rule (`capacity`, `flap_threshold`,
    /// `flap_window`; the expiry rule follows the registry's heartbeat timeout). Call it on a
    /// new state, as [`with_time_zone`](Self::with_time_zone).
    #[must_use]
    pub fn with_history(mut self, config: registry_core::HistoryConfig) -> Self {
        let config = history_config(&self.inner.registry, Some(config));
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.ops = ops::Ops::new(config),
            None => tracing::warn!("the state is shared; its history settings stay"),
        }
        self
    }

    /// The zone of the listing's naive wall-clock times.
    pub fn time_zone(&self) -> WallClockZone {
        self.inner.time_zone
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The span tracer.
    pub fn tracer(&self) -> &Tracer {
        &self.inner.tracer
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.inner.policy.body_limit
    }

    pub(crate) fn listings(&self) -> &listing::Listings {
        &self.inner.listings
    }

    pub(crate) fn policy(&self) -> &RequestPolicy {
        &self.inner.policy
    }

    /// What the connection layer counts, for `/metrics`.
    pub fn connection_counters(&self) -> &Arc<server::ConnectionCounters> {
        &self.inner.connections
    }

    pub(crate) fn ops(&self) -> &ops::Ops {
        &self.inner.ops
    }

    /// Tells the handlers that the server is shutting down: long polls on the change feed
    /// answer at once with the current state instead of waiting out their timeout, so that
    /// a graceful shutdown only waits for requests that are short anyway. Call it when the
    /// future given to `with_graceful_shutdown` completes.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub(crate) async fn shutdown_started(&self) {
        let mut started = self.inner.shutdown.subscribe();
        // The sender lives as long as `self`, so this only ends when shutdown begins.
        let _ = started.wait_for(|started| *started).await;
    }
}

/// The server's routes over `state`, without a socket: tests drive it with
/// `tower::ServiceExt::oneshot`, the binary serves it with `axum::serve`.
pub fn app(state: AppState) -> Router {
    endpoints::router()
        .fallback(
            |uri: axum::http::Uri, headers: axum::http::HeaderMap| async move {
                routes::not_found(&uri, &headers, endpoints::serves_path)
            },
        )
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.body_limit()))
        .layer(middleware::ObserveLayer::new(state.clone()))
        .with_state(state)
}

/// The README's examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "client"))]
pub struct ReadmeDoctests;
