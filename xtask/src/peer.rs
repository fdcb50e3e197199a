//! A Python virtual environment with DB-GPT's own package, for reference figures and the
//! interop test. Created once under `target/peer-venv` and reused while its requirements hold.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

const REQUIREMENTS: &str = "xtask/peer/requirements.txt";

/// The venv's Python interpreter, creating and filling the venv first if needed.
pub(crate) fn python() -> Result<PathBuf> {
    let venv = cmd::workspace_root().join("target/peer-venv");
    let python = venv.join("bin/python");
    let marker = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(REQUIREMENTS).context("reading peer requirements")?;
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == wanted) {
        return Ok(python);
    }
    let system_python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut create = Command::new(system_python);
    create.args(["-m", "venv"]).arg(&venv);
    cmd::run(create)?;
    let mut install = Command::new(&python);
    install.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        REQUIREMENTS,
    ]);
    cmd::run(install)?;
    std::fs::write(&marker, wanted).context("recording installed requirements")?;
    Ok(python)
}
