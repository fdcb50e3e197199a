//! Request counters, requests in flight and latency histograms, and their Prometheus text
//! exposition.
//!
//! Routes are a fixed set, so every counter is a plain atomic in a fixed array: recording a
//! request takes no lock and allocates nothing.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use registry_core::RegistryStats;

/// The routes the server answers, as metric labels.
///
/// The discriminant of each route is its index in [`Route::ALL`] and in the metrics' arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Health,
    /// `GET /api/ready`.
    Ready,
    Register,
    Deregister,
    List,
    Heartbeat,
    Models,
    Metrics,
    /// `GET /`.
    Dashboard,
    /// `GET /traces`.
    TracesPage,
    /// `GET /assets/{name}`.
    Asset,
    /// `GET /api/controller/watch`.
    Watch,
    /// `POST /api/controller/models/settings`.
    Settings,
    /// `GET /api/traces`.
    TraceList,
    /// `GET /api/traces/{trace_id}`.
    TraceTree,
    /// `GET /openapi.json`.
    OpenApi,
    /// `GET /docs`.
    Docs,
    /// `GET /api/controller/dashboard`.
    DashboardFeed,
    /// `GET /api/controller/history`.
    History,
    Other,
}

impl Route {
    const ALL: [Route; 20] = [
        Route::Health,
        Route::Ready,
        Route::Register,
        Route::Deregister,
        Route::List,
        Route::Heartbeat,
        Route::Models,
        Route::Metrics,
        Route::Dashboard,
        Route::TracesPage,
        Route::Asset,
        Route::Watch,
        Route::Settings,
        Route::TraceList,
        Route::TraceTree,
        Route::OpenApi,
        Route::Docs,
        Route::DashboardFeed,
        Route::History,
        Route::Other,
    ];

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Ready => "ready",
            Self::Register => "register",
            Self::Deregister => "deregister",
            Self::List => "list",
            Self::Heartbeat => "heartbeat",
            Self::Models => "models",
            Self::Metrics => "metrics",
            Self::Dashboard => "dashboard",
            Self::TracesPage => "traces_page",
            Self::Asset => "asset",
            Self::Watch => "watch",
            Self::Settings => "settings",
            Self::TraceList => "trace_list",
            Self::TraceTree => "trace_tree",
            Self::OpenApi => "openapi",
            Self::Docs => "docs",
            Self::DashboardFeed => "dashboard_feed",
            Self::History => "history",
            Self::Other => "other",
        }
    }
}

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Status codes counted on their own; the rest are counted as `other`.
const STATUSES: [u16; 12] = [200, 400, 401, 403, 404, 405, 408, 413, 415, 422, 500, 503];

#[derive(Debug, Default)]
struct RouteMetrics {
    /// One slot per entry of [`STATUSES`], then `other`.
    by_status: [AtomicU64; STATUSES.len() + 1],
    /// One slot per bucket, then `+Inf`; not cumulative.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    /// Requests being answered now.
    in_flight: AtomicU64,
}

/// Counts one request as in flight on its route until dropped (also when the request is
/// cancelled because its client went away).
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts of requests and their latencies, per route.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: [RouteMetrics; Route::ALL.len()],
}

/// Figures read at scrape time from the registry and the span container.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gauges {
    pub(crate) stats: RegistryStats,
    pub(crate) storage_up: bool,
    pub(crate) healthy: u64,
    pub(crate) unhealthy: u64,
    pub(crate) spans_written: u64,
    pub(crate) spans_dropped: u64,
    pub(crate) spans_failed: u64,
    pub(crate) rows_skipped: u64,
    /// Per-model counts, when the storage could be counted.
    pub(crate) models: Option<registry_core::ModelCountsPage>,
    /// Transitions the change feed saw, by kind.
    pub(crate) transitions: Vec<(registry_core::TransitionKind, u64)>,
}

impl Metrics {
    /// Counts a request on `route` as in flight until the returned guard drops.
    pub(crate) fn in_flight(&self, route: Route) -> InFlight<'_> {
        let gauge = &self.routes[route as usize].in_flight;
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight(gauge)
    }

    /// Records one answered request.
    pub(crate) fn record(&self, route: Route, status: StatusCode, elapsed: Duration) {
        let slot = &self.routes[route as usize];
        let status_index = STATUSES
            .iter()
            .position(|s| *s == status.as_u16())
            .unwrap_or(STATUSES.len());
        slot.by_status[status_index].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        slot.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        slot.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of these metrics and of `gauges`.
    pub(crate) fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.render_requests(&mut out);
        self.render_in_flight(&mut out);
        self.render_latencies(&mut out);
        render_registry(&mut out, gauges);
        render_transitions(&mut out, &gauges.transitions);
        out
    }

    fn render_requests(&self, out: &mut String) {
        header(
            out,
            "registry_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
        );
        for route in Route::ALL {
            let slot = &self.routes[route as usize];
            for (index, count) in slot.by_status.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let status = STATUSES
                    .get(index)
                    .map_or_else(|| "other".to_owned(), u16::to_string);
                let _ = writeln!(
                    out,
                    "registry_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                    route.label()
                );
            }
        }
    }

    fn render_in_flight(&self, out: &mut String) {
        let name = "registry_http_requests_in_flight";
        header(
            out,
            name,
            "gauge",
            "HTTP requests being answered, by route.",
        );
        for route in Route::ALL {
            let count = self.routes[route as usize]
                .in_flight
                .load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{route=\"{}\"}} {count}", route.label());
        }
    }

    fn render_latencies(&self, out: &mut String) {
        let name = "registry_http_request_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Time to answer an HTTP request, by route.",
        );
        for route in Route::ALL {
            let slot = &self.routes[route as usize];
            let label = route.label();
            let mut cumulative = 0;
            for (index, count) in slot.buckets.iter().enumerate() {
                cumulative += count.load(Ordering::Relaxed);
                let bound = BUCKETS
                    .get(index)
                    .map_or_else(|| "+Inf".to_owned(), f64::to_string);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = slot.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{route=\"{label}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{route=\"{label}\"}} {cumulative}");
        }
    }
}

/// The connection layer's gauge and counters.
fn render_transitions(out: &mut String, transitions: &[(registry_core::TransitionKind, u64)]) {
    header(
        out,
        "registry_transitions_total",
        "counter",
        "Instance transitions this server's change feed saw (of every server, on a shared database), by kind.",
    );
    for (kind, count) in transitions {
        let _ = writeln!(
            out,
            "registry_transitions_total{{kind=\"{}\"}} {count}",
            kind.as_str()
        );
    }
}

pub(crate) fn render_connections(out: &mut String, counters: &crate::server::ConnectionCounters) {
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    header(
        out,
        "registry_connections_open",
        "gauge",
        "Client connections open now.",
    );
    let _ = writeln!(out, "registry_connections_open {}", load(&counters.open));
    header(
        out,
        "registry_connections_closed_total",
        "counter",
        "Client connections the server closed, by reason.",
    );
    for (reason, counter) in [
        ("header_read_timeout", &counters.closed_header_timeout),
        ("idle_timeout", &counters.closed_idle_timeout),
        ("write_timeout", &counters.closed_write_timeout),
        ("connection_cap", &counters.closed_at_cap),
        ("drain_timeout", &counters.closed_at_drain),
    ] {
        let _ = writeln!(
            out,
            "registry_connections_closed_total{{reason=\"{reason}\"}} {}",
            load(counter)
        );
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render_registry(out: &mut String, gauges: &Gauges) {
    header(
        out,
        "registry_storage_up",
        "gauge",
        "Whether the storage could be reached and written at this scrape.",
    );
    let _ = writeln!(out, "registry_storage_up {}", u8::from(gauges.storage_up));
    header(
        out,
        "registry_instances",
        "gauge",
        "Registered instances, by health.",
    );
    let _ = writeln!(
        out,
        "registry_instances{{state=\"healthy\"}} {}",
        gauges.healthy
    );
    let _ = writeln!(
        out,
        "registry_instances{{state=\"unhealthy\"}} {}",
        gauges.unhealthy
    );
    models::render_models(out, gauges.models.as_ref());
    let stats = &gauges.stats;
    let counters = [
        (
            "registry_registrations_total",
            "Successful registrations.",
            stats.registrations,
        ),
        (
            "registry_heartbeats_total",
            "Successful heartbeats.",
            stats.heartbeats,
        ),
        (
            "registry_deregistrations_total",
            "Successful deregistrations.",
            stats.deregistrations,
        ),
        (
            "registry_heartbeats_coalesced_total",
            "Heartbeats answered without a storage write (coalesced).",
            stats.heartbeats_coalesced,
        ),
        (
            "registry_expired_total",
            "Instances the checker marked unhealthy.",
            stats.expired,
        ),
        (
            "registry_removed_total",
            "Instances the checker removed.",
            stats.removed,
        ),
        (
            "registry_sweep_failures_total",
            "Heartbeat sweeps that failed.",
            stats.sweep_failures,
        ),
        (
            "registry_spans_written_total",
            "Trace spans written to span storage.",
            gauges.spans_written,
        ),
        (
            "registry_spans_dropped_total",
            "Trace spans dropped because the queue was full.",
            gauges.spans_dropped,
        ),
        (
            "registry_spans_failed_total",
            "Trace spans a span storage failed to write (a full disk, a failing exporter).",
            gauges.spans_failed,
        ),
        (
            "registry_rows_skipped_total",
            "Stored rows left out of listings because no instance can hold them (a port \
             outside 0..=65535, a weight that is not a number).",
            gauges.rows_skipped,
        ),
    ];
    for (name, help, value) in counters {
        header(out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
}

mod models;

pub(crate) use models::MAX_MODELS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_request_shows_in_counter_and_histogram() {
        let metrics = Metrics::default();
        metrics.record(Route::Heartbeat, StatusCode::OK, Duration::from_micros(700));
        metrics.record(
            Route::Heartbeat,
            StatusCode::IM_A_TEAPOT,
            Duration::from_secs(9),
        );
        let text = metrics.render(&Gauges::default());
        assert!(
            text.contains("registry_http_requests_total{route=\"heartbeat\",status=\"200\"} 1")
        );
        assert!(
            text.contains("registry_http_requests_total{route=\"heartbeat\",status=\"other\"} 1")
        );
        assert!(text.contains(
            "registry_http_request_duration_seconds_bucket{route=\"heartbeat\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "registry_http_request_duration_seconds_bucket{route=\"heartbeat\",le=\"+Inf\"} 2"
        ));
        assert!(
            text.contains("registry_http_request_duration_seconds_count{route=\"heartbeat\"} 2")
        );
    }

    #[test]
    fn skipped_rows_are_a_counter() {
        let gauges = Gauges {
            rows_skipped: 3,
            ..Gauges::default()
        };
        let text = Metrics::default().render(&gauges);
        assert!(
            text.contains("# TYPE registry_rows_skipped_total counter"),
            "{text}"
        );
        assert!(text.contains("\nregistry_rows_skipped_total 3\n"), "{text}");
    }

    #[test]
    fn a_request_is_in_flight_until_its_guard_drops() {
        let metrics = Metrics::default();
        let line = |text: &str, route: &str| {
            let prefix = format!("registry_http_requests_in_flight{{route=\"{route}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_owned))
        };
        let first = metrics.in_flight(Route::Watch);
        let second = metrics.in_flight(Route::Watch);
        let text = metrics.render(&Gauges::default());
        assert_eq!(line(&text, "watch").as_deref(), Some("2"), "{text}");
        assert_eq!(line(&text, "heartbeat").as_deref(), Some("0"), "{text}");
        drop(first);
        drop(second);
        let text = metrics.render(&Gauges::default());
        assert_eq!(line(&text, "watch").as_deref(), Some("0"), "{text}");
    }

    #[test]
    fn each_route_indexes_its_own_slot_and_label() {
        let mut labels = Vec::new();
        for (index, route) in Route::ALL.iter().enumerate() {
            assert_eq!(*route as usize, index, "{route:?}");
            assert!(!labels.contains(&route.label()), "{route:?}");
            labels.push(route.label());
        }
        assert_eq!(Route::ALL.last(), Some(&Route::Other));
    }

    #[test]
    fn operator_routes_are_rendered_under_their_labels() {
        let metrics = Metrics::default();
        metrics.record(Route::Watch, StatusCode::OK, Duration::from_secs(2));
        metrics.record(Route::Settings, StatusCode::NOT_FOUND, Duration::ZERO);
        let text = metrics.render(&Gauges::default());
        assert!(text.contains("registry_http_requests_total{route=\"watch\",status=\"200\"} 1"));
        assert!(text.contains("registry_http_requests_total{route=\"settings\",status=\"404\"} 1"));
        assert!(
            text.contains(
                "registry_http_request_duration_seconds_bucket{route=\"watch\",le=\"1\"} 0"
            )
        );
        assert!(text.contains("registry_http_request_duration_seconds_count{route=\"watch\"} 1"));
        assert!(!text.contains("route=\"other\",status"), "{text}");
        for route in Route::ALL {
            let line = format!(
                "registry_http_request_duration_seconds_count{{route=\"{}\"}}",
                route.label()
            );
            assert!(text.contains(&line), "{line}");
        }
    }
}
