//! A TCP forwarding proxy on loopback that can be frozen: it stops forwarding in both
//! directions but keeps every socket open, as a hung network path or middlebox does. Thawed,
//! it forwards what was held back and goes on.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// How often a pump looks at the freeze and stop flags while it has nothing to forward.
const POLL: Duration = Duration::from_millis(10);

/// A proxy to one server; stops its threads when dropped.
pub struct FreezableProxy {
    address: SocketAddr,
    frozen: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
}

impl FreezableProxy {
    /// Starts a proxy on `127.0.0.1` to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("proxy address");
        let frozen = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(AtomicBool::new(false));
        let flags = (Arc::clone(&frozen), Arc::clone(&stopped));
        thread::spawn(move || accept(&listener, target, &flags.0, &flags.1));
        Self {
            address,
            frozen,
            stopped,
        }
    }

    /// Starts a proxy to the server of a `postgres://` or `mysql://` URL.
    pub fn for_url(url: &str) -> Self {
        let (_, authority) = split_authority(url);
        let target = authority
            .to_socket_addrs()
            .expect("resolve the server")
            .next()
            .expect("one server address");
        Self::start(target)
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        let (user, authority) = split_authority(url);
        url.replacen(
            &format!("{user}{authority}"),
            &format!("{user}{}", self.address),
            1,
        )
    }

    /// Stops forwarding; every connection stays open.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Forwards again, starting with whatever was held back.
    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }
}

impl Drop for FreezableProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

/// The user info (with its `@`, or empty) and `host:port` of a URL, port defaulted.
fn split_authority(url: &str) -> (&str, String) {
    let (scheme, rest) = url.split_once("://").expect("a server URL");
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (&authority[..=user.len()], host),
        None => ("", authority),
    };
    let default = if scheme.starts_with("postgres") {
        5432
    } else {
        3306
    };
    let host_port = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{default}")
    };
    (user, host_port)
}

fn accept(
    listener: &TcpListener,
    target: SocketAddr,
    frozen: &Arc<AtomicBool>,
    stopped: &Arc<AtomicBool>,
) {
    while !stopped.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (from, to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    let (frozen, stopped) = (Arc::clone(frozen), Arc::clone(stopped));
                    thread::spawn(move || pump(from, to, &frozen, &stopped));
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// Copies `from` to `to` while thawed; frozen, reads nothing, so data waits in the kernel.
fn pump(mut from: TcpStream, mut to: TcpStream, frozen: &AtomicBool, stopped: &AtomicBool) {
    from.set_nonblocking(false).ok();
    from.set_read_timeout(Some(POLL)).ok();
    let mut buffer = [0_u8; 16 * 1024];
    while !stopped.load(Ordering::SeqCst) {
        if frozen.load(Ordering::SeqCst) {
            thread::sleep(POLL);
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                // Data read just as the proxy froze is held until it thaws.
                while frozen.load(Ordering::SeqCst) && !stopped.load(Ordering::SeqCst) {
                    thread::sleep(POLL);
                }
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
