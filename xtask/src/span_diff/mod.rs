//! Spans byte for byte: the same requests to DB-GPT's own controller, run as
//! `dbgpt start controller` runs it (its tracer middleware and span file), and to
//! registry-server; then the two span files compared line by line, ids and times masked.

mod mask;
mod sequence;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::harness::server::{Server, free_address, serve_command};
use crate::harness::tempdir::TempDir;
use mask::Masker;

const DBGPT_CONTROLLER: &str = "xtask/peer/dbgpt_traced_controller.py";
/// DB-GPT's controller's span file name, which registry-server's default also takes.
const SPAN_FILE: &str = "dbgpt_model_controller_tracer.jsonl";

/// Runs both controllers, sends both the sequence, stops them (each writes its queued spans
/// as it stops) and compares their span files.
pub(crate) fn run(python: &Path, binary: &Path) -> Result<()> {
    let dir = TempDir::new()?;
    let dbgpt_file = dir.path().join("dbgpt").join(SPAN_FILE);
    let our_file = dir.path().join("registry-server").join(SPAN_FILE);

    let address = free_address()?;
    let mut command = Command::new(python);
    command
        .arg(DBGPT_CONTROLLER)
        .arg(address.port().to_string())
        .arg(&dbgpt_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut dbgpt =
        Server::spawn(command, address, None).context("starting DB-GPT's controller")?;
    let dbgpt_statuses = sequence::send(dbgpt.address)?;
    stop(&mut dbgpt, "DB-GPT's controller")?;

    let address = free_address()?;
    let mut command = serve_command(binary, &[], address);
    command
        .args(["--storage-url", "memory", "--span-file"])
        .arg(&our_file);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("REGISTRY_") {
            command.env_remove(key);
        }
    }
    let mut ours = Server::spawn(command, address, None)?;
    let our_statuses = sequence::send(ours.address)?;
    stop(&mut ours, "registry-server")?;

    println!("spans: answers of DB-GPT's controller {dbgpt_statuses:?}");
    println!("spans: answers of registry-server      {our_statuses:?}");
    let compared = compare(&read_masked(&dbgpt_file)?, &read_masked(&our_file)?)?;
    println!(
        "spans: {compared} lines compared; registry-server's span file is DB-GPT's controller's, \
         byte for byte (ids and times masked)"
    );
    Ok(())
}

fn stop(server: &mut Server, name: &str) -> Result<()> {
    server.terminate()?;
    match server.wait_exit(Duration::from_secs(30))? {
        Some(status) if status.success() => Ok(()),
        Some(status) => bail!("{name} exited with {status} after SIGTERM"),
        None => bail!("{name} did not exit within 30 s of SIGTERM"),
    }
}

fn read_masked(path: &PathBuf) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !text.ends_with('\n') {
        bail!("{} does not end with a newline", path.display());
    }
    let mut masker = Masker::default();
    text.lines().map(|line| masker.mask(line)).collect()
}

/// The number of lines compared; an error naming the first line that differs.
fn compare(dbgpt: &[String], ours: &[String]) -> Result<usize> {
    for (number, (theirs, ours)) in dbgpt.iter().zip(ours).enumerate() {
        if theirs != ours {
            bail!(
                "span line {} differs:\n  DB-GPT:          {theirs}\n  registry-server: {ours}",
                number + 1
            );
        }
    }
    if dbgpt.len() != ours.len() {
        bail!(
            "DB-GPT's controller wrote {} span lines, registry-server {}",
            dbgpt.len(),
            ours.len()
        );
    }
    if dbgpt.is_empty() {
        bail!("no span lines to compare");
    }
    Ok(dbgpt.len())
}

#[cfg(test)]
mod tests {
    use super::compare;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|line| (*line).to_owned()).collect()
    }

    #[test]
    fn the_first_differing_line_or_a_different_count_fails_the_comparison() {
        assert_eq!(
            compare(&lines(&["a", "b"]), &lines(&["a", "b"])).unwrap(),
            2
        );
        let differs = compare(&lines(&["a", "b"]), &lines(&["a", "c"])).unwrap_err();
        assert!(
            differs.to_string().contains("span line 2 differs"),
            "{differs}"
        );
        assert!(compare(&lines(&["a"]), &lines(&["a", "b"])).is_err());
        assert!(compare(&[], &[]).is_err(), "nothing compared is a failure");
    }
}
