//! Client connections: accepted under a cap, timed by one reaper task, drained at shutdown.
//!
//! hyper serves each connection; what hyper does not bound is bounded here, because a control
//! plane that is exposed must not let a client hold a socket, a task or a response for free:
//!
//! - **Header read timeout**: from the connection's start, or from the first byte of a later
//!   request, the headers must be complete within `header_read_timeout` (slowloris).
//! - **Idle timeout**: a keep-alive connection may wait `idle_timeout` for its next request.
//! - **Write timeout**: a response write that makes no progress for `write_timeout` (a client
//!   that does not read) closes the connection, freeing the response it held.
//! - **Cap**: at most `max_connections` at once. At the cap, the connection that has waited
//!   longest without a request in progress is closed to make room; only when every connection
//!   is busy does accepting pause (the kernel's backlog holds newcomers).
//! - **Drain**: at shutdown, connections finish the request in progress for at most
//!   `drain_timeout`, then are closed.
//!
//! A connection is only ever closed by the reaper or the cap while no request is in progress
//! (or while its answer cannot be written), so no acknowledged write is cut short.

mod watched;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
// tokio's clock, so that tests can pause and advance it.
use tokio::time::Instant;
use tower::ServiceExt as _;

use watched::Watched;

/// The bounds on client connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) drain_timeout: Duration,
}

/// What the connection layer did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    /// Connections open now.
    pub open: AtomicU64,
    /// Closed because the headers did not arrive in time.
    pub closed_header_timeout: AtomicU64,
    /// Closed after waiting idle too long.
    pub closed_idle_timeout: AtomicU64,
    /// Closed because the client did not read the answer.
    pub closed_write_timeout: AtomicU64,
    /// Closed to make room at the cap.
    pub closed_at_cap: AtomicU64,
    /// Closed when the drain timeout ran out at shutdown.
    pub closed_at_drain: AtomicU64,
}

/// A connection as the reaper sees it. Times are milliseconds since the server started,
/// plus one, so that 0 can mean "not set".
#[derive(Debug)]
struct Connection {
    /// Requests inside the service or answers still being written.
    active: AtomicU32,
    /// When the connection last became free of requests (its start at first).
    waiting_since: AtomicU64,
    /// When the first byte of the next request arrived; 0 when none has.
    first_byte_at: AtomicU64,
    /// Whether a request was answered on this connection.
    served_any: AtomicBool,
    /// Since when a write has been waiting for the client; 0 when none is.
    write_stalled_since: AtomicU64,
    close: Notify,
}

#[derive(Debug)]
struct Shared {
    started: Instant,
    limits: ConnectionLimits,
    table: Mutex<HashMap<u64, Arc<Connection>>>,
    counters: Arc<ConnectionCounters>,
    all_closed: Notify,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn connections(&self) -> Vec<(u64, Arc<Connection>)> {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.iter().map(|(id, c)| (*id, Arc::clone(c))).collect()
    }

    /// Why `connection` should be closed now, if it should.
    fn overdue(&self, connection: &Connection, now: u64) -> Option<Overdue> {
        let limits = &self.limits;
        let past = |since: u64, limit: Duration| {
            since != 0 && now.saturating_sub(since) > limit.as_millis() as u64
        };
        if past(
            connection.write_stalled_since.load(Ordering::Relaxed),
            limits.write_timeout,
        ) {
            return Some(Overdue::Write);
        }
        if connection.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let first_byte = connection.first_byte_at.load(Ordering::Relaxed);
        let waiting = connection.waiting_since.load(Ordering::Relaxed);
        if first_byte != 0 {
            past(first_byte, limits.header_read_timeout).then_some(Overdue::HeaderRead)
        } else if !connection.served_any.load(Ordering::Relaxed) {
            past(waiting, limits.header_read_timeout).then_some(Overdue::HeaderRead)
        } else {
            past(waiting, limits.idle_timeout).then_some(Overdue::Idle)
        }
    }

    fn count(&self, reason: Overdue) {
        let counter = match reason {
            Overdue::HeaderRead => &self.counters.closed_header_timeout,
            Overdue::Idle => &self.counters.closed_idle_timeout,
            Overdue::Write => &self.counters.closed_write_timeout,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Closes the connection that has waited longest with no request in progress.
    fn evict_one(&self) -> bool {
        let victim = self
            .connections()
            .into_iter()
            .filter(|(_, c)| c.active.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.waiting_since.load(Ordering::Relaxed));
        match victim {
            Some((_, connection)) => {
                connection.close.notify_one();
                self.counters.closed_at_cap.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy)]
enum Overdue {
    HeaderRead,
    Idle,
    Write,
}

/// Counts a request as in progress on its connection until its answer has been written.
struct InProgress {
    connection: Arc<Connection>,
    shared: Arc<Shared>,
}

impl InProgress {
    fn enter(connection: &Arc<Connection>, shared: &Arc<Shared>) -> Self {
        connection.active.fetch_add(1, Ordering::AcqRel);
        Self {
            connection: Arc::clone(connection),
            shared: Arc::clone(shared),
        }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let connection = &self.connection;
        connection.first_byte_at.store(0, Ordering::Relaxed);
        connection.served_any.store(true, Ordering::Relaxed);
        connection
            .waiting_since
            .store(self.shared.now(), Ordering::Relaxed);
        connection.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    counters: Arc<ConnectionCounters>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        started: Instant::now(),
        limits,
        table: Mutex::new(HashMap::new()),
        counters,
        all_closed: Notify::new(),
    });
    let (graceful, graceful_rx) = watch::channel(false);
    let reaper = tokio::spawn(reap(Arc::clone(&shared)));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut next_id = 0u64;
    let mut cap_warned: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or a connection reset before accept: the
                    // listener itself is fine, so wait a little instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // A slot is taken once a client is there, so that room is only made when needed.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = acquire(&shared, &permits, &mut cap_warned) => permit,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        next_id += 1;
        let connection = Arc::new(Connection {
            active: AtomicU32::new(0),
            waiting_since: AtomicU64::new(shared.now()),
            first_byte_at: AtomicU64::new(0),
            served_any: AtomicBool::new(false),
            write_stalled_since: AtomicU64::new(0),
            close: Notify::new(),
        });
        shared
            .table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(next_id, Arc::clone(&connection));
        shared.counters.open.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(%peer, "connection accepted");
        tokio::spawn(run(
            next_id,
            stream,
            connection,
            Arc::clone(&shared),
            router.clone(),
            graceful_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    graceful.send_replace(true);
    let drained = tokio::time::timeout(limits.drain_timeout, all_closed(&shared)).await;
    if drained.is_err() {
        let left = shared.connections();
        tracing::warn!(
            connections = left.len(),
            "drain timeout reached; closing the connections still open"
        );
        for (_, connection) in left {
            shared
                .counters
                .closed_at_drain
                .fetch_add(1, Ordering::Relaxed);
            connection.close.notify_one();
        }
        all_closed(&shared).await;
    }
    reaper.abort();
    Ok(())
}

/// A connection slot; at the cap, makes room by closing the longest-waiting idle connection.
async fn acquire(
    shared: &Shared,
    permits: &Arc<Semaphore>,
    cap_warned: &mut Option<Instant>,
) -> tokio::sync::OwnedSemaphorePermit {
    loop {
        if let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
            return permit;
        }
        if cap_warned.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
            tracing::warn!(
                max_connections = shared.limits.max_connections,
                "connection cap reached; closing idle connections to make room"
            );
            *cap_warned = Some(Instant::now());
        }
        if shared.evict_one() {
            // The closed connection gives its slot back as soon as its task sees the close.
            if let Ok(permit) = Arc::clone(permits).acquire_owned().await {
                return permit;
            }
        }
        // Every connection is busy: wait for one to finish, and look again now and then in
        // case one has gone idle meanwhile.
        if let Ok(Ok(permit)) = tokio::time::timeout(
            Duration::from_millis(50),
            Arc::clone(permits).acquire_owned(),
        )
        .await
        {
            return permit;
        }
    }
}

async fn all_closed(shared: &Shared) {
    loop {
        let closed = shared.all_closed.notified();
        if shared
            .table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            return;
        }
        closed.await;
    }
}

/// Closes connections past a timeout, a few times per shortest timeout.
async fn reap(shared: Arc<Shared>) {
    let limits = shared.limits;
    let shortest = limits
        .header_read_timeout
        .min(limits.idle_timeout)
        .min(limits.write_timeout);
    let tick = (shortest / 8).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = shared.now();
        for (_, connection) in shared.connections() {
            if let Some(reason) = shared.overdue(&connection, now) {
                shared.count(reason);
                tracing::debug!(?reason, "closing a connection past its timeout");
                connection.close.notify_one();
            }
        }
    }
}

async fn run(
    id: u64,
    stream: tokio::net::TcpStream,
    connection: Arc<Connection>,
    shared: Arc<Shared>,
    router: Router,
    mut graceful: watch::Receiver<bool>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&connection), {
        let shared = Arc::clone(&shared);
        move || shared.now()
    }));
    let service = {
        let connection = Arc::clone(&connection);
        let shared = Arc::clone(&shared);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_progress = InProgress::enter(&connection, &shared);
            let router = router.clone();
            async move {
                let Ok(response) = router.oneshot(request.map(Body::new)).await;
                // The request counts as in progress until hyper drops the answer's body, that
                // is, until the answer has been written.
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &in_progress;
                        frame
                    }))
                }))
            }
        })
    };
    // Boxed so that dropping it below closes the socket before the slot is given back.
    let mut served = Box::pin(
        hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service),
    );
    let mut draining = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break;
            }
            () = connection.close.notified() => break,
            _ = graceful.wait_for(|g| *g), if !draining => {
                draining = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
    drop(served);
    let mut table = shared.table.lock().unwrap_or_else(|p| p.into_inner());
    table.remove(&id);
    shared.counters.open.fetch_sub(1, Ordering::Relaxed);
    if table.is_empty() {
        shared.all_closed.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
