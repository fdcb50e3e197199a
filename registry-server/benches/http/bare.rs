//! The bare reference server: what the same axum, hyper and tokio cost for a heartbeat with
//! nothing of registry-server around them.
//!
//! One route, `POST /api/controller/heartbeat`, parses the body with registry-wire's own
//! `InstanceBody` (the type registry-server parses heartbeats with, so the parse costs the
//! same) and answers DB-GPT's `true`. No storage, middleware, connection layer or spans. It
//! runs in the bench's process on its own multi-threaded runtime with as many workers as
//! registry-server's (one per core), served by `axum::serve` with `TCP_NODELAY` as
//! registry-server sets it. It lives in the bench only, never in the shipped binary.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use registry_wire::InstanceBody;
use tokio::sync::oneshot;

/// The bare server, serving until dropped.
pub(crate) struct BareServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BareServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub(crate) fn start() -> std::io::Result<Self> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("bare-reference")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let app = Router::new()
            .route("/api/controller/heartbeat", post(heartbeat))
            .route("/api/health", get(health));
        let (stop, stopped) = oneshot::channel::<()>();
        runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            runtime: Some(runtime),
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

async fn heartbeat(body: Bytes) -> Response {
    match InstanceBody::parse(&body) {
        Ok(_) => ([(header::CONTENT_TYPE, "application/json")], "true").into_response(),
        Err(error) => (StatusCode::UNPROCESSABLE_ENTITY, error.to_string()).into_response(),
    }
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}
