//! The one route table: every endpoint's method, path template, metrics label and policy
//! (who may call it, whether it is traced, whether it takes a JSON body, whether it waits on
//! the storage). [`crate::app`] builds the router from this table, and the middleware looks
//! the policy up by the template the router matched, so no second classification of paths
//! exists to drift from the router.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};

use crate::metrics::Route;
use crate::{AppState, health, openapi, ops, routes};

use crate::route_policy::endpoint;
pub(crate) use crate::route_policy::{Access, Endpoint};

use Access::{Open, Read, Write};

/// Every endpoint the server serves.
pub(crate) static ENDPOINTS: [Endpoint; 19] = [
    endpoint(Method::GET, "/api/health", Route::Health, Open, || {
        get(routes::health)
    })
    .untraced(),
    endpoint(Method::GET, "/api/ready", Route::Ready, Open, || {
        get(health::ready)
    })
    .untraced(),
    endpoint(
        Method::POST,
        "/api/controller/models",
        Route::Register,
        Write,
        || post(routes::register),
    )
    .json()
    .storage(),
    endpoint(
        Method::DELETE,
        "/api/controller/models",
        Route::Deregister,
        Write,
        || delete(routes::deregister),
    )
    .storage(),
    endpoint(
        Method::GET,
        "/api/controller/models",
        Route::List,
        Read,
        || get(routes::list),
    )
    .storage(),
    endpoint(
        Method::POST,
        "/api/controller/heartbeat",
        Route::Heartbeat,
        Write,
        || post(routes::heartbeat),
    )
    .untraced()
    .json()
    .storage(),
    endpoint(Method::GET, "/v1/models", Route::Models, Read, || {
        get(routes::openai_models)
    })
    .untraced()
    .storage(),
    endpoint(Method::GET, "/metrics", Route::Metrics, Read, || {
        get(routes::metrics)
    })
    .untraced(),
    endpoint(Method::GET, "/", Route::Dashboard, Open, || {
        get(ops::pages::dashboard)
    })
    .untraced(),
    endpoint(Method::GET, "/traces", Route::TracesPage, Open, || {
        get(ops::pages::traces)
    })
    .untraced(),
    endpoint(Method::GET, "/assets/{name}", Route::Asset, Open, || {
        get(ops::pages::asset)
    })
    .untraced(),
    endpoint(Method::GET, ops::WATCH_PATH, Route::Watch, Read, || {
        get(ops::watch::watch)
    })
    .untraced(),
    endpoint(
        Method::GET,
        ops::DASHBOARD_PATH,
        Route::DashboardFeed,
        Read,
        || get(ops::dashboard::dashboard),
    )
    .untraced(),
    endpoint(Method::GET, ops::HISTORY_PATH, Route::History, Read, || {
        get(ops::history::history)
    })
    .untraced(),
    endpoint(
        Method::POST,
        ops::SETTINGS_PATH,
        Route::Settings,
        Write,
        || post(ops::settings::update),
    )
    .json()
    .storage(),
    endpoint(Method::GET, "/api/traces", Route::TraceList, Read, || {
        get(ops::traces::list)
    })
    .untraced(),
    endpoint(
        Method::GET,
        "/api/traces/{trace_id}",
        Route::TraceTree,
        Read,
        || get(ops::traces::tree),
    )
    .untraced(),
    endpoint(Method::GET, "/openapi.json", Route::OpenApi, Open, || {
        get(|| async { openapi::answer(&ENDPOINTS) })
    })
    .untraced(),
    endpoint(Method::GET, "/docs", Route::Docs, Open, || {
        get(ops::pages::docs)
    })
    .untraced(),
];

/// The router over every endpoint of [`ENDPOINTS`], one route per path template.
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for (index, first) in ENDPOINTS.iter().enumerate() {
        if ENDPOINTS[..index].iter().any(|e| e.path == first.path) {
            continue;
        }
        let methods = ENDPOINTS
            .iter()
            .filter(|e| e.path == first.path)
            .fold(MethodRouter::new(), |methods, e| {
                methods.merge((e.handler)())
            });
        router = router.route(first.path, methods);
    }
    router
}

/// Whether some endpoint's template matches `path`, with any method (`{name}` matches one
/// non-empty segment). The fallback uses it to redirect a trailing slash as Starlette does.
pub(crate) fn serves_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    ENDPOINTS.iter().any(|endpoint| {
        let template: Vec<&str> = endpoint.path.split('/').collect();
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(part, segment)| {
                part == segment || (part.starts_with('{') && !segment.is_empty())
            })
    })
}

/// What the middleware knows of a request before its handler runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Matched {
    /// An endpoint serves the request.
    Endpoint(&'static Endpoint),
    /// The path is served, but not for this method (answered 405); labelled as the path's
    /// endpoint when it has only one.
    OtherMethod(Route),
    /// No path matched (answered 404).
    Nothing,
}

impl Matched {
    /// The endpoint for a request whose path matched `template` (axum's `MatchedPath`).
    pub(crate) fn find(method: &Method, template: Option<&str>) -> Self {
        let Some(template) = template else {
            return Self::Nothing;
        };
        // axum answers HEAD with the GET handler.
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let mut on_path = ENDPOINTS.iter().filter(|e| e.path == template);
        if let Some(endpoint) = on_path.clone().find(|e| e.method == *method) {
            return Self::Endpoint(endpoint);
        }
        match (on_path.next(), on_path.next()) {
            (Some(only), None) => Self::OtherMethod(only.route),
            _ => Self::OtherMethod(Route::Other),
        }
    }

    /// The metrics label.
    pub(crate) fn route(self) -> Route {
        match self {
            Self::Endpoint(endpoint) => endpoint.route,
            Self::OtherMethod(route) => route,
            Self::Nothing => Route::Other,
        }
    }
}

#[cfg(test)]
mod openapi_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_and_path_is_declared_once() {
        for (index, endpoint) in ENDPOINTS.iter().enumerate() {
            assert!(
                !ENDPOINTS[..index]
                    .iter()
                    .any(|e| e.path == endpoint.path && e.method == endpoint.method),
                "{} {} twice",
                endpoint.method,
                endpoint.path
            );
        }
    }

    #[test]
    fn requests_find_their_endpoint_by_the_matched_template() {
        let found = Matched::find(&Method::POST, Some("/api/controller/models"));
        assert!(matches!(found, Matched::Endpoint(e) if e.route == Route::Register));
        let head = Matched::find(&Method::HEAD, Some("/api/health"));
        assert!(matches!(head, Matched::Endpoint(e) if e.route == Route::Health));
        let tree = Matched::find(&Method::GET, Some("/api/traces/{trace_id}"));
        assert_eq!(tree.route(), Route::TraceTree);
        // Another method on a one-endpoint path counts under that endpoint; on a path with
        // several endpoints it is `other`.
        assert_eq!(
            Matched::find(&Method::PUT, Some("/metrics")).route(),
            Route::Metrics
        );
        assert_eq!(
            Matched::find(&Method::PUT, Some("/api/controller/models")).route(),
            Route::Other
        );
        assert_eq!(Matched::find(&Method::GET, None).route(), Route::Other);
    }

    #[test]
    fn served_paths_match_templates_segment_by_segment() {
        assert!(serves_path("/api/controller/models"));
        assert!(serves_path("/api/traces/abc"));
        assert!(!serves_path("/api/traces/"));
        assert!(!serves_path("/api/controller/models/"));
        assert!(!serves_path("/api/nothing"));
    }

    #[test]
    fn writes_need_the_token_and_only_polls_and_pages_go_untraced() {
        for endpoint in &ENDPOINTS {
            let writes = endpoint.method == Method::POST || endpoint.method == Method::DELETE;
            assert_eq!(endpoint.access == Write, writes, "{}", endpoint.path);
            if endpoint.json_body {
                assert_eq!(endpoint.method, Method::POST, "{}", endpoint.path);
            }
        }
    }
}
