//! One real registry-server process on loopback, killed when dropped, with what the suites read
//! from it: its address, its resident memory, how and when it exits.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::http::Connection;
use super::tempdir::TempDir;
use crate::cmd;

/// The release binary with both shared-database backends compiled in.
pub(crate) fn build_server() -> Result<PathBuf> {
    cmd::cargo(&[
        "build",
        "--release",
        "--package",
        "registry-server",
        "--features",
        "registry-diesel/postgres,registry-diesel/mysql",
    ])?;
    // Cargo builds into CARGO_TARGET_DIR when it is set (relative to the workspace root, the
    // current directory here).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| cmd::workspace_root().join("target"), PathBuf::from);
    Ok(target.join("release/registry-server"))
}

/// A loopback address no one listens on now.
pub(crate) fn free_address() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// `registry-server serve --listen ADDR --log-level warn`, run through `wrapper` when one is
/// given (`prlimit …` or `setpriv …`: programs that exec the binary, so that the child's
/// process id is the server's).
pub(crate) fn serve_command(binary: &Path, wrapper: &[&str], address: SocketAddr) -> Command {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .arg("serve")
        .args(["--listen", &address.to_string(), "--log-level", "warn"])
        .stdout(Stdio::null());
    command
}

/// One registry-server process; killed when dropped, then its directory removed.
pub(crate) struct Server {
    child: Child,
    pub(crate) address: SocketAddr,
    _dir: Option<TempDir>,
}

impl Server {
    /// Starts `command` (from [`serve_command`] for `address`) and waits until it answers
    /// `GET /api/health`; `dir` is removed once the process is gone.
    pub(crate) fn spawn(
        command: Command,
        address: SocketAddr,
        dir: Option<TempDir>,
    ) -> Result<Self> {
        let mut server = Self::spawn_unchecked(command, address, dir)?;
        server.wait_until_ready()?;
        Ok(server)
    }

    /// Starts `command` without waiting for it to answer.
    pub(crate) fn spawn_unchecked(
        mut command: Command,
        address: SocketAddr,
        dir: Option<TempDir>,
    ) -> Result<Self> {
        let program = command.get_program().to_owned();
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", Path::new(&program).display()))?;
        Ok(Self {
            child,
            address,
            _dir: dir,
        })
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("registry-server exited at start with {status}");
            }
            if let Ok(mut connection) = Connection::open(self.address, Duration::from_secs(1)) {
                if connection.get("/api/health").is_ok_and(|r| r.status == 200) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("registry-server at {} did not become ready", self.address)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB, from `/proc/PID/status`.
    pub(crate) fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .context("reading the server's /proc status")?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .context("no VmRSS in /proc status")
    }

    /// Sends SIGTERM, as a service manager stopping it would.
    pub(crate) fn terminate(&self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid());
        }
        Ok(())
    }

    /// The exit status, if the process ends within `limit`.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process still runs (a crash, such as SIGBUS, ends it).
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
