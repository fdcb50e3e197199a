//! A TCP forwarder between the server and its database that can be frozen: it stops
//! forwarding but keeps every socket open, as a database host that hangs (or a network that
//! drops packets) looks to its clients; thawed, it forwards what was held.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// How often a stopped or frozen forwarder looks again.
const TICK: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Switches {
    frozen: AtomicBool,
    stopped: AtomicBool,
}

/// The forwarder; every connection it holds is closed when dropped.
pub(crate) struct Proxy {
    port: u16,
    switches: Arc<Switches>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub(crate) fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the proxy")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let switches = Arc::new(Switches::default());
        let acceptor = {
            let switches = Arc::clone(&switches);
            std::thread::spawn(move || accept(&listener, upstream, &switches))
        };
        Ok(Self {
            port,
            switches,
            acceptor: Some(acceptor),
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn freeze(&self) {
        self.switches.frozen.store(true, Ordering::SeqCst);
    }

    pub(crate) fn thaw(&self) {
        self.switches.frozen.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.switches.stopped.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(listener: &TcpListener, upstream: SocketAddr, switches: &Arc<Switches>) {
    let mut pumps = Vec::new();
    while !switches.stopped.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                // A frozen database host still completes TCP handshakes in the kernel; so does
                // this proxy, and the upstream connection waits with the rest.
                let Ok(server) = TcpStream::connect(upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    let switches = Arc::clone(switches);
                    pumps.push(std::thread::spawn(move || pump(from, to, &switches)));
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(_) => std::thread::sleep(TICK),
        }
    }
    for pump in pumps {
        let _ = pump.join();
    }
}

/// Copies `from` to `to` until either side ends or the proxy stops; while frozen, holds off.
fn pump(mut from: TcpStream, mut to: TcpStream, switches: &Switches) {
    let _ = from.set_read_timeout(Some(TICK));
    let mut buffer = vec![0_u8; 64 * 1024];
    let waiting = || {
        while switches.frozen.load(Ordering::SeqCst) && !switches.stopped.load(Ordering::SeqCst) {
            std::thread::sleep(TICK);
        }
    };
    while !switches.stopped.load(Ordering::SeqCst) {
        waiting();
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                // Read before the freeze, written after the thaw.
                waiting();
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
