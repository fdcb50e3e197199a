//! One real registry-server process on loopback (the test kit's), killed when dropped, with
//! what the suites read from it: its address, its resident memory, how and when it exits.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use registry_testkit::server::{ServerProcess, Starting};

use super::tempdir::TempDir;
use crate::cmd;

/// How long a server may take to listen and answer its health check.
const START_LIMIT: Duration = Duration::from_secs(30);

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
/// process id is the server's); `REGISTRY_` variables of this process are not passed on.
pub(crate) fn serve_command(binary: &Path, wrapper: &[&str], address: SocketAddr) -> Command {
    registry_testkit::server::serve_command(binary, wrapper, &address.to_string())
}

/// One registry-server process; killed when dropped, then its directory removed.
pub(crate) struct Server {
    process: ServerProcess,
    pub(crate) address: SocketAddr,
    _dir: Option<TempDir>,
}

impl Server {
    /// Starts `command` (from [`serve_command`] for `address`) and waits until it listens and
    /// answers `GET /api/health`; `dir` is removed once the process is gone.
    pub(crate) fn spawn(
        command: Command,
        address: SocketAddr,
        dir: Option<TempDir>,
    ) -> Result<Self> {
        let mut process = Starting::spawn(command)?
            .try_listening(START_LIMIT)
            .map_err(|e| anyhow!("registry-server at {address}: {e}"))?;
        process
            .wait_until_healthy(START_LIMIT)
            .map_err(|e| anyhow!(e))?;
        Ok(Self {
            address: process.addr,
            process,
            _dir: dir,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
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
        Ok(self.process.try_signal("TERM")?)
    }

    /// The exit status, if the process ends within `limit`.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        Ok(self.process.wait_exit(limit)?)
    }

    /// Whether the process still runs (a crash, such as SIGBUS, ends it).
    pub(crate) fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }
}
