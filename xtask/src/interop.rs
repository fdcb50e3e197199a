//! `cargo xtask interop`: DB-GPT's own `ModelRegistryClient` against a real registry-server.

use std::process::Command;

use anyhow::Result;

use crate::{cmd, peer};

pub(crate) fn run() -> Result<()> {
    let python = peer::python()?;
    cmd::cargo(&["build", "--package", "registry-server"])?;
    let mut test = Command::new(python);
    test.arg("registry-server/interop/run_interop.py")
        .arg(cmd::workspace_root().join("target/debug/registry-server"));
    cmd::run(test)
}
