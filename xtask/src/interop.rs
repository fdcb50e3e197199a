//! `cargo xtask interop`: DB-GPT's own `ModelRegistryClient` against a real registry-server,
//! then an unmodified `dbgpt start worker` and `dbgpt model list` against one that requires a
//! token, given as credentials in the controller's URL.

use std::process::Command;

use anyhow::Result;

use crate::{cmd, peer};

pub(crate) fn run() -> Result<()> {
    let python = peer::python()?;
    cmd::cargo(&["build", "--package", "registry-server"])?;
    let binary = cmd::workspace_root().join("target/debug/registry-server");
    let mut client = Command::new(&python);
    client
        .arg("registry-server/interop/run_interop.py")
        .arg(&binary);
    cmd::run(client)?;
    let mut worker = Command::new(&python);
    worker
        .arg("registry-server/interop/dbgpt_worker_token.py")
        .arg(&binary);
    cmd::run(worker)
}
