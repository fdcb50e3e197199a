//! `cargo xtask e2e`: the dashboard in headless Chromium against the real server binary
//! (registry-server/tests/browser.rs). A missing Chromium fails it here, where the same test
//! run by `cargo xtask test` on a machine without a browser only notes that it was skipped.

use anyhow::Result;

use crate::cmd;

pub(crate) fn run() -> Result<()> {
    cmd::cargo_with_env(
        &[
            "test",
            "--package",
            "registry-server",
            "--test",
            "browser",
            "--",
            "--nocapture",
        ],
        &[("REGISTRY_E2E_REQUIRE_BROWSER".to_owned(), "1".to_owned())],
    )
}
