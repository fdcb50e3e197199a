//! The real binary on a free port, and a tiny HTTP/1.1 client over `std::net::TcpStream`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A running `registry-server serve`, killed on drop if still running.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the binary with `args` (plus `--listen 127.0.0.1:0`) and waits for the line that
    /// tells its address. Environment variables starting with `REGISTRY_` are cleared first.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = serve_command(args, env, Stdio::inherit())
            .spawn()
            .expect("start registry-server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = listening_address(&line);
        Server { child, addr }
    }

    /// Sends a request and returns status and body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        request(self.addr, method, path, body, &[])
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal("TERM");
        self.child.wait().unwrap()
    }

    /// Sends the signal `name` (`TERM`, `INT`) without waiting.
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// Waits for the process to exit.
    pub fn wait(mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// The value of the metric line starting with `series` (name and labels), from `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (status, text) = self.request("GET", "/metrics", None);
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `registry-server serve --listen 127.0.0.1:0 --log-level warn ARGS`, `REGISTRY_` variables
/// cleared, stdout piped.
fn serve_command(args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-server"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REGISTRY_") {
            command.env_remove(key);
        }
    }
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warn"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr);
    command
}

/// A line the process wrote.
enum Line {
    Out(String),
    Err(String),
}

/// A `registry-server serve` whose start is watched line by line, for starts that wait (for a
/// database) or fail. Its stderr is also copied to the test's. Killed on drop if still running.
pub struct Starting {
    child: Option<Child>,
    lines: Receiver<Line>,
    stderr: String,
}

impl Starting {
    /// Starts the binary as [`Server::start`] does, without waiting for anything.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Starting {
        let mut child = serve_command(args, env, Stdio::piped())
            .spawn()
            .expect("start registry-server");
        let (sender, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let out = sender.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = out.send(Line::Out(line));
            }
        });
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("{line}");
                let _ = sender.send(Line::Err(line));
            }
        });
        Starting {
            child: Some(child),
            lines,
            stderr: String::new(),
        }
    }

    /// The next line within `limit`; `None` once both streams have ended.
    fn next_line(&mut self, limit: Duration) -> Option<Line> {
        match self.lines.recv_timeout(limit) {
            Ok(Line::Err(line)) => {
                self.stderr.push_str(&line);
                self.stderr.push('\n');
                Some(Line::Err(line))
            }
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("no output within {limit:?}"),
        }
    }

    /// Waits for a line on stderr containing `text`; panics if the process ends first, or
    /// after `limit`.
    pub fn wait_for_log(&mut self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(Line::Err(line)) if line.contains(text) => return line,
                Some(_) => {}
                None => panic!("exited without logging {text:?}:\n{}", self.stderr),
            }
        }
    }

    /// Waits, at most `limit`, for the line that tells the address: the server is up.
    pub fn listening(mut self, limit: Duration) -> Server {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(Line::Out(line)) => {
                    let addr = listening_address(&line);
                    let child = self.child.take().unwrap();
                    return Server { child, addr };
                }
                Some(Line::Err(_)) => {}
                None => panic!("exited before listening:\n{}", self.stderr),
            }
        }
    }

    /// Sends the signal `name` (`TERM`, `INT`) without waiting.
    pub fn signal(&self, name: &str) {
        signal(self.child.as_ref().unwrap().id(), name);
    }

    /// Waits, at most `limit`, for the process to exit; returns its status and everything it
    /// wrote on stderr.
    pub fn exit(mut self, limit: Duration) -> (ExitStatus, String) {
        let child = self.child.as_mut().unwrap();
        let mut status = None;
        eventually(limit, || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        while self.next_line(Duration::from_secs(30)).is_some() {}
        (status.unwrap(), std::mem::take(&mut self.stderr))
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    read_response(&mut stream)
}

/// Sends the signal `name` (`TERM`, `INT`) to the process `pid` with `kill`.
pub fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name} {pid} failed");
}

/// Reads an HTTP/1.1 response until the server closes the connection; returns status and
/// body (de-chunked).
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `check` every 20 ms until it holds; panics after `limit`. For waiting on something
/// that happens in another process, never for asserting how long it took.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The address in the server's `registry-server listening on http://ADDR` line.
fn listening_address(line: &str) -> SocketAddr {
    line.trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}
