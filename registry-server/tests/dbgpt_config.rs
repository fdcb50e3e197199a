//! DB-GPT's controller file on the real binary: every key it does not read is warned about at
//! start and listed by `check-config`, whose output reads back as our own file.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-server"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REGISTRY_") || key.starts_with("DBGPT_") {
            command.env_remove(key);
        }
    }
    command.args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_config_names_every_ignored_key_and_reads_back() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dbgpt/controller-mysql.toml"
    );
    let output = run(&["check-config", "--config", fixture]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let unknown =
        "DB-GPT setting service.model.controller.unknown_key is not supported and ignored";
    assert!(stdout.contains(&format!("# {unknown}\n")), "{stdout}");
    assert!(
        stderr.contains("WARN") && stderr.contains(unknown),
        "{stderr}"
    );
    assert!(stdout.contains("\nlisten = \"0.0.0.0:8010\"\n"), "{stdout}");
    let url = "\nstorage_url = \"mysql://dbgpt:***@db.internal:3306/dbgpt\"\n";
    assert!(stdout.contains(url), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &stdout).unwrap();
    let again = run(&["check-config", "--config", printed.to_str().unwrap()]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    // The same settings, without the notes on the DB-GPT file.
    let settings: String = stdout
        .lines()
        .filter(|line| !line.starts_with("# DB-GPT "))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(text(&again.stdout), settings);
}
