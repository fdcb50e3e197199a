//! A registry-server process: started from a command, watched line by line (stdout for the
//! line that tells its address, stderr echoed and kept), killed when dropped.
//!
//! [`Process`] is any started process (see [`crate::process`]); [`Starting`] one not yet known to listen (for starts
//! that wait for a database or fail); [`ServerProcess`] one that listens, with a client.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::http::Client;
use crate::process::Line;
pub use crate::process::Process;

/// How long [`ServerProcess::start`] waits for the server to listen.
const START_LIMIT: Duration = Duration::from_secs(60);

/// `[WRAPPER…] BINARY serve --listen LISTEN --log-level warn`, with every `REGISTRY_`
/// variable of this process cleared. A wrapper (`prlimit …`, `setpriv …`) must exec the binary,
/// so that the child's process id is the server's.
pub fn serve_command(binary: impl AsRef<OsStr>, wrapper: &[&str], listen: &str) -> Command {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary.as_ref());
            command
        }
        None => Command::new(binary.as_ref()),
    };
    for (key, _) in std::env::vars() {
        if key.starts_with("REGISTRY_") {
            command.env_remove(key);
        }
    }
    command.args(["serve", "--listen", listen, "--log-level", "warn"]);
    command
}

/// A started `registry-server serve` not yet known to listen.
pub struct Starting(Process);

impl Starting {
    /// Starts `command` (see [`serve_command`]) without waiting for anything.
    pub fn spawn(command: Command) -> std::io::Result<Self> {
        Process::spawn(command).map(Self)
    }

    /// Waits, at most `limit`, for the line that tells the address: the server is up. Lines
    /// before it that tell none (a Python peer's library may print its own first) are passed
    /// over.
    pub fn try_listening(mut self, limit: Duration) -> Result<ServerProcess, String> {
        let deadline = Instant::now() + limit;
        let mut passed_over = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.next_line(left)? {
                Some(Line::Out(line)) => match listening_address(&line) {
                    Ok(addr) => {
                        return Ok(ServerProcess {
                            process: self.0,
                            addr,
                            client: Client::new(addr),
                        });
                    }
                    Err(_) => passed_over.push(line),
                },
                Some(Line::Err(_)) => {}
                None => {
                    return Err(format!(
                        "exited before listening (output: {passed_over:?}):\n{}",
                        self.0.stderr()
                    ));
                }
            }
        }
    }

    /// [`try_listening`](Self::try_listening), panicking on an error.
    pub fn listening(self, limit: Duration) -> ServerProcess {
        self.try_listening(limit).unwrap_or_else(|e| panic!("{e}"))
    }

    /// See [`Process::exit`].
    pub fn exit(self, limit: Duration) -> (ExitStatus, String) {
        self.0.exit(limit)
    }

    /// The process, as started.
    pub fn into_process(self) -> Process {
        self.0
    }
}

impl Deref for Starting {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.0
    }
}

impl DerefMut for Starting {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.0
    }
}

/// A `registry-server serve` that listens at `addr`.
pub struct ServerProcess {
    process: Process,
    /// Where it listens.
    pub addr: SocketAddr,
    client: Client,
}

impl ServerProcess {
    /// Starts `binary serve --listen 127.0.0.1:0 --log-level warn ARGS` with `env` (every
    /// other `REGISTRY_` variable cleared) and waits until it listens; panics if it does not.
    pub fn start(binary: impl AsRef<OsStr>, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = serve_command(binary, &[], "127.0.0.1:0");
        command.args(args).envs(env.iter().copied());
        Starting::spawn(command)
            .expect("start registry-server")
            .listening(START_LIMIT)
    }

    /// A client of this server.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends a request and returns status and body; panics if there is no answer.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.client.request(method, path, body)
    }

    /// The value of the metric line starting with `series` (name and labels), from `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (status, text) = self.request("GET", "/metrics", None);
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits, at most `limit`, until `GET /api/health` answers 200; an error if the process
    /// exits first or the limit passes.
    pub fn wait_until_healthy(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let client = Client::with_timeout(self.addr, Duration::from_secs(1));
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.process.child.try_wait() {
                return Err(format!("registry-server exited at start with {status}"));
            }
            if client.get("/api/health").is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "registry-server at {} did not become ready",
            self.addr
        ))
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(self) -> ExitStatus {
        self.process.terminate()
    }

    /// Waits for the process to exit.
    pub fn wait(self) -> ExitStatus {
        self.process.wait()
    }

    /// See [`Process::exit`].
    pub fn exit(self, limit: Duration) -> (ExitStatus, String) {
        self.process.exit(limit)
    }
}

impl Deref for ServerProcess {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// The address in the server's `registry-server listening on http://ADDR` line.
fn listening_address(line: &str) -> Result<SocketAddr, String> {
    line.trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("no address in {line:?}"))
}
