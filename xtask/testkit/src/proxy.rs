//! A TCP forwarding proxy on loopback in front of a database server, for outages without
//! touching the database:
//!
//! - frozen, it stops forwarding in both directions but keeps every socket open, as a hung
//!   database host, network path or middlebox does; thawed, it forwards what was held back;
//! - cut, it closes every connection and refuses new ones, as a database that went down;
//!   restored, it accepts again.
//!
//! Dropped, it closes every connection it holds and stops its threads.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::database;

/// How often an idle, frozen or cut proxy looks at its switches.
const POLL: Duration = Duration::from_millis(10);

#[derive(Default)]
struct Switches {
    frozen: AtomicBool,
    cut: AtomicBool,
    stopped: AtomicBool,
    /// A clone of every socket forwarded, to close them when cut or stopped.
    open: Mutex<Vec<TcpStream>>,
}

impl Switches {
    fn close_all(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A proxy to one server.
pub struct Proxy {
    address: SocketAddr,
    switches: Arc<Switches>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port to `target`.
    pub fn start(target: SocketAddr) -> Self {
        Self::listen(
            TcpListener::bind("127.0.0.1:0").expect("bind the proxy"),
            target,
        )
    }

    /// Starts a proxy to the server of a `postgres://` or `mysql://` URL.
    pub fn for_url(url: &str) -> Self {
        Self::start(database::server_address(url).expect("resolve the database server"))
    }

    /// Forwards the connections `listener` accepts to `target`.
    pub fn listen(listener: TcpListener, target: SocketAddr) -> Self {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("proxy address");
        let switches = Arc::new(Switches::default());
        let acceptor = {
            let switches = Arc::clone(&switches);
            thread::spawn(move || accept(&listener, target, &switches))
        };
        Self {
            address,
            switches,
            acceptor: Some(acceptor),
        }
    }

    /// The proxy's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        database::with_address(url, self.address)
    }

    /// Stops forwarding; every connection stays open.
    pub fn freeze(&self) {
        self.switches.frozen.store(true, Ordering::SeqCst);
    }

    /// Forwards again, starting with whatever was held back.
    pub fn thaw(&self) {
        self.switches.frozen.store(false, Ordering::SeqCst);
    }

    /// Closes every connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.switches.cut.store(true, Ordering::SeqCst);
        self.switches.close_all();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.switches.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.switches.stopped.store(true, Ordering::SeqCst);
        self.switches.close_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(listener: &TcpListener, target: SocketAddr, switches: &Arc<Switches>) {
    let mut pumps = Vec::new();
    while !switches.stopped.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) if switches.cut.load(Ordering::SeqCst) => drop(client),
            Ok((client, _)) => {
                // A frozen database host still completes TCP handshakes in the kernel; so does
                // this proxy, and the upstream connection waits with the rest.
                let Ok(server) = TcpStream::connect(target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let mut open = switches.open.lock().unwrap();
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    if let Ok(clone) = from.try_clone() {
                        open.push(clone);
                    }
                    let switches = Arc::clone(switches);
                    pumps.push(thread::spawn(move || pump(from, to, &switches)));
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
    for pump in pumps {
        let _ = pump.join();
    }
}

/// Copies `from` to `to` while thawed; frozen, reads nothing, so data waits in the kernel.
fn pump(mut from: TcpStream, mut to: TcpStream, switches: &Switches) {
    let _ = from.set_nonblocking(false);
    let _ = from.set_read_timeout(Some(POLL));
    let mut buffer = vec![0_u8; 64 * 1024];
    let hold = || {
        while switches.frozen.load(Ordering::SeqCst) && !switches.stopped.load(Ordering::SeqCst) {
            thread::sleep(POLL);
        }
    };
    while !switches.stopped.load(Ordering::SeqCst) {
        hold();
        match from.read(&mut buffer) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(read) => {
                // Data read just as the proxy froze is held until it thaws.
                hold();
                if to.write_all(&buffer[..read]).is_err() {
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::Proxy;

    /// An echo server on loopback.
    fn echo() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buffer = [0_u8; 64];
                    while let Ok(read @ 1..) = stream.read(&mut buffer) {
                        let _ = stream.write_all(&buffer[..read]);
                    }
                });
            }
        });
        address
    }

    fn round_trip(stream: &mut TcpStream, text: &[u8]) -> Vec<u8> {
        stream.write_all(text).unwrap();
        let mut answer = vec![0_u8; text.len()];
        stream.read_exact(&mut answer).unwrap();
        answer
    }

    #[test]
    fn forwards_holds_while_frozen_and_refuses_while_cut() {
        let proxy = Proxy::start(echo());
        let mut stream = TcpStream::connect(proxy.address()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(round_trip(&mut stream, b"one"), b"one");

        proxy.freeze();
        stream.write_all(b"two").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut held = [0_u8; 3];
        assert!(stream.read(&mut held).is_err(), "a frozen proxy forwarded");
        proxy.thaw();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.read_exact(&mut held).unwrap();
        assert_eq!(&held, b"two");

        proxy.cut();
        let mut rest = Vec::new();
        assert!(matches!(stream.read_to_end(&mut rest), Ok(0) | Err(_)));
        proxy.restore();
        let mut again = TcpStream::connect(proxy.address()).unwrap();
        again
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(round_trip(&mut again, b"three"), b"three");
    }
}
