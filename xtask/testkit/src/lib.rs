//! The workspace's one test kit, for tests, benches and `cargo xtask` alone (never a normal
//! dependency of a library crate):
//!
//! - [`http`]: an HTTP client over ureq that answers every status, 4xx and 5xx included;
//! - [`database`]: where the test databases are, and whether a test without one skips or fails;
//! - [`fresh`]: a fresh database per test (a temporary SQLite file, or a `CREATE DATABASE` on
//!   PostgreSQL or MariaDB), dropped with it;
//! - [`server`]: a registry-server process, its output, killed when dropped (over
//!   [`process`], any process watched line by line);
//! - [`proxy`]: a TCP proxy that can freeze or cut its connections;
//! - [`eventually`]: polling for something another process does.
//!
//! Temporary directories are the `tempfile` crate's, re-exported as [`tempfile`].

pub mod database;
pub mod fresh;
pub mod http;
pub mod process;
pub mod proxy;
pub mod server;

pub use tempfile;

use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it holds; panics after `limit`. For waiting on something
/// that happens in another process or thread, never for asserting how long it took.
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
