//! Statement deadlines on PostgreSQL and MySQL that hold even when the network path freezes.
//!
//! The database's own statement timeout (set per session, see `crate::pool`) ends a statement
//! the server is running too long, and answers with an error. It cannot help when the server
//! never sees the statement or its answer never arrives: a proxy or a network path that stops
//! forwarding while keeping the connection open. libpq and the MySQL client then wait in
//! `recv` for ever, and neither has a read timeout diesel can set (TCP keepalives and
//! `tcp_user_timeout` do not fire either: the proxy's kernel still acknowledges every packet).
//!
//! So each storage on a server backend has one watchdog thread. A statement arms it with its
//! connection's socket and deadline and disarms it when it returns; a statement still armed at
//! its deadline gets its socket shut down, which makes the driver's `recv` return at once with
//! a lost-connection error. The caller then reports [`StorageError::Unavailable`] and the pool
//! drops the connection. The thread that ran the statement is free within the deadline.
//!
//! [`StorageError::Unavailable`]: registry_core::StorageError::Unavailable

use std::collections::{HashMap, HashSet};
use std::os::fd::RawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::socket::{Shutdown, SockaddrStorage, getpeername, shutdown};

#[derive(Default)]
struct State {
    /// Armed statements: their socket and deadline, by ticket number.
    armed: HashMap<u64, (RawFd, Instant)>,
    /// Tickets whose socket the watchdog shut down.
    fired: HashSet<u64>,
    next_ticket: u64,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The watchdog thread of one storage; stops when dropped.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    pub(crate) fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("sql-deadline".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || watch(&shared)
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Arms the deadline of one statement on `socket`. The socket must stay open until the
    /// returned ticket is disarmed or dropped.
    pub(crate) fn arm(&self, socket: RawFd, timeout: Duration) -> Ticket<'_> {
        let mut state = lock(&self.shared);
        let number = state.next_ticket;
        state.next_ticket += 1;
        state
            .armed
            .insert(number, (socket, Instant::now() + timeout));
        drop(state);
        self.shared.wake.notify_one();
        Ticket {
            watchdog: self,
            number,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One armed statement. Disarm it when the statement returns.
pub(crate) struct Ticket<'a> {
    watchdog: &'a Watchdog,
    number: u64,
}

impl Ticket<'_> {
    /// Disarms the deadline; returns whether it had passed and the socket was shut down.
    pub(crate) fn disarm(self) -> bool {
        let mut state = lock(&self.watchdog.shared);
        state.armed.remove(&self.number);
        state.fired.remove(&self.number)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.watchdog.shared);
        state.armed.remove(&self.number);
        state.fired.remove(&self.number);
    }
}

fn watch(shared: &Shared) {
    let mut state = lock(shared);
    loop {
        if state.stop {
            return;
        }
        let now = Instant::now();
        let expired: Vec<(u64, RawFd)> = state
            .armed
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(ticket, (socket, _))| (*ticket, *socket))
            .collect();
        for (ticket, socket) in expired {
            // Still armed under the lock, so the statement has not returned and its connection
            // (which owns the socket) is still open: the descriptor is the driver's.
            if let Err(error) = shutdown(socket, Shutdown::Both) {
                tracing::warn!(%error, "could not shut down a timed-out database socket");
            }
            state.armed.remove(&ticket);
            state.fired.insert(ticket);
        }
        let next = state.armed.values().map(|(_, deadline)| *deadline).min();
        state = match next {
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// Finds the socket a driver opened while `establish` ran, so its statements can be given a
/// deadline. Drivers do not expose their socket; the descriptors open before and after tell.
///
/// Connections to one server (`server`, its URL's host and port) are opened one at a time so
/// that two drivers' sockets are never confused. Another part of the process may open sockets
/// meanwhile; when more than one new socket appears, only one whose peer port is `port` is
/// taken. `None` when that does not single one out (then the connection has only the server's
/// own statement timeout). A connection attempt waits at most `wait` for its turn (another may
/// hang on a frozen path: the MySQL client has no connect timeout diesel can set), then
/// connects without one.
pub(crate) fn establish_with_socket<C, E>(
    server: &str,
    port: u16,
    wait: Duration,
    establish: impl FnOnce() -> Result<C, E>,
) -> Result<(C, Option<RawFd>), E> {
    let Some(_turn) = ConnectTurn::take(server, wait) else {
        tracing::debug!("another connection is being opened; this one gets no client deadline");
        return establish().map(|conn| (conn, None));
    };
    let before = open_sockets();
    let conn = establish()?;
    let mut new: Vec<RawFd> = open_sockets().difference(&before).copied().collect();
    if new.len() > 1 {
        new.retain(|&socket| peer_port(socket) == Some(port));
    }
    let socket = (new.len() == 1).then(|| new[0]);
    if socket.is_none() {
        tracing::debug!(
            candidates = new.len(),
            "database socket not identified; statements rely on the server's timeout"
        );
    }
    Ok((conn, socket))
}

/// One server's turn to open a connection: a lock whose waiters give up after a while.
struct ConnectTurn {
    server: String,
}

/// The servers a connection is being opened to.
static CONNECTING: Mutex<Vec<String>> = Mutex::new(Vec::new());
static TURN_FREED: Condvar = Condvar::new();

impl ConnectTurn {
    fn take(server: &str, wait: Duration) -> Option<Self> {
        let deadline = Instant::now() + wait;
        let mut busy = CONNECTING.lock().unwrap_or_else(PoisonError::into_inner);
        while busy.iter().any(|other| other == server) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            busy = TURN_FREED
                .wait_timeout(busy, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        busy.push(server.to_owned());
        Some(Self {
            server: server.to_owned(),
        })
    }
}

impl Drop for ConnectTurn {
    fn drop(&mut self) {
        let mut busy = CONNECTING.lock().unwrap_or_else(PoisonError::into_inner);
        busy.retain(|other| *other != self.server);
        drop(busy);
        TURN_FREED.notify_all();
    }
}

/// The descriptors of this process that are sockets.
fn open_sockets() -> HashSet<RawFd> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            std::fs::read_link(entry.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

fn peer_port(socket: RawFd) -> Option<u16> {
    let address: SockaddrStorage = getpeername(socket).ok()?;
    address
        .as_sockaddr_in()
        .map(|v4| v4.port())
        .or_else(|| address.as_sockaddr_in6().map(|v6| v6.port()))
}
