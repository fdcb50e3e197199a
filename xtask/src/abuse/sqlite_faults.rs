//! SQLite files that disappear, turn read-only or immutable under a running server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Suite;
use super::fixture::{Storage, Store, get, register, register_body, timed};
use super::report::Report;

/// The statuses of `count` registrations of new instances (0: no answer, as from a process
/// that died), and whether each was a 503 with `Retry-After`.
fn refused_writes(address: std::net::SocketAddr, count: u16) -> (Vec<u16>, bool) {
    let mut statuses = Vec::new();
    let mut all_refused = true;
    for i in 0..count {
        let answer = register(address, &register_body("fault-model", "10.9.9.9", 9000 + i));
        let status = answer.as_ref().map_or(0, |answer| answer.status);
        all_refused &=
            status == 503 && answer.is_ok_and(|answer| answer.header("retry-after").is_some());
        statuses.push(status);
    }
    (statuses, all_refused)
}

fn expect_registered(report: &mut Report, address: std::net::SocketAddr) -> Result<()> {
    let answer = register(address, &register_body("fault-model", "10.0.0.1", 8000))?;
    report.holds(
        "a registration before the fault",
        &format!("answered {}", answer.status),
        "200",
        answer.status == 200,
    );
    Ok(())
}

/// 8. The database file and its `-wal` and `-shm` deleted while serving.
pub(crate) fn deleted(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    let store = Store::new(storage, "sqlite-deleted")?;
    let server = store.start(suite, &[])?;
    expect_registered(report, server.address)?;
    for file in store.sqlite_files() {
        let _ = std::fs::remove_file(file);
    }
    let (statuses, _) = refused_writes(server.address, 5);
    report.holds(
        "registrations after the files were deleted",
        &format!("answered {statuses:?}"),
        "503 each, never 200",
        statuses.iter().all(|&status| status == 503),
    );
    let (_, ready) = timed(server.address, &get("/api/ready"), Duration::from_secs(15));
    let status = ready?.status;
    report.holds(
        "/api/ready",
        &format!("answered {status}"),
        "503",
        status == 503,
    );
    Ok(())
}

/// 9. The files made read-only (mode 0444), and the server reopening them.
///
/// Mode bits do not bind root, nor a descriptor already open for writing: the server runs as
/// `nobody` when this runs as root, and is restarted on the read-only files (killed, as a
/// crash would, so that the `-wal` and `-shm` files stay).
pub(crate) fn read_only(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    let store = Store::new(storage, "read-only")?;
    let wrapper: &[&str] = if running_as_root() {
        std::os::unix::fs::chown(store.dir(), Some(NOBODY), Some(NOBODY))
            .context("giving the directory to nobody")?;
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
    } else {
        &[]
    };
    let mut server = store.start_wrapped(suite, wrapper, &[])?;
    expect_registered(report, server.address)?;
    server.kill();
    for file in existing(&store.sqlite_files()) {
        set_mode(&file, 0o444)?;
    }
    let server = store.start_wrapped(suite, wrapper, &[])?;
    let (statuses, all_refused) = refused_writes(server.address, 3);
    report.holds(
        "registrations on the read-only files",
        &format!("answered {statuses:?}"),
        "503 with Retry-After each",
        all_refused,
    );
    let (_, metrics) = timed(server.address, &get("/metrics"), Duration::from_secs(15));
    let metrics = metrics?;
    let up = metrics
        .body
        .lines()
        .find(|line| line.starts_with("registry_storage_up "))
        .unwrap_or("no registry_storage_up")
        .to_owned();
    report.holds(
        "/metrics",
        &format!("says {up:?}"),
        "registry_storage_up 0",
        up == "registry_storage_up 0",
    );
    Ok(())
}

const NOBODY: u32 = 65534;

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
    })
}

fn existing(files: &[PathBuf]) -> Vec<PathBuf> {
    files.iter().filter(|file| file.exists()).cloned().collect()
}

fn set_mode(file: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", file.display()))
}

/// 10. `chattr +i` on the files while serving (root, on a filesystem that supports it).
pub(crate) fn immutable(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    let store = Store::new(storage, "immutable")?;
    if !running_as_root() {
        report.skip("chattr +i needs root");
        return Ok(());
    }
    let probe = store.dir().join("chattr-probe");
    std::fs::write(&probe, b"probe")?;
    if !chattr("+i", std::slice::from_ref(&probe)) {
        report.skip("chattr +i does not work on this filesystem");
        return Ok(());
    }
    let _ = chattr("-i", &[probe]);
    let mut server = store.start(suite, &[])?;
    expect_registered(report, server.address)?;
    let files = existing(&store.sqlite_files());
    let _undo = Immutable::set(files)?;
    let (statuses, _) = refused_writes(server.address, 5);
    report.holds(
        "registrations on the immutable files",
        &format!("answered {statuses:?}"),
        "503 each",
        statuses.iter().all(|&status| status == 503),
    );
    std::thread::sleep(Duration::from_millis(500));
    let alive = server.is_running();
    let observed = if alive {
        "still runs".to_owned()
    } else {
        server
            .wait_exit(Duration::ZERO)?
            .map_or_else(|| "died".to_owned(), |status| format!("died: {status}"))
    };
    report.holds("the server process", &observed, "still runs", alive);
    Ok(())
}

fn chattr(flag: &str, files: &[PathBuf]) -> bool {
    Command::new("chattr")
        .arg(flag)
        .args(files)
        .status()
        .is_ok_and(|status| status.success())
}

/// Files made immutable, made mutable again when dropped (else they could not be removed).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(files: Vec<PathBuf>) -> Result<Self> {
        let undo = Self(files);
        anyhow::ensure!(chattr("+i", &undo.0), "chattr +i {:?} failed", undo.0);
        Ok(undo)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = chattr("-i", &self.0);
    }
}
