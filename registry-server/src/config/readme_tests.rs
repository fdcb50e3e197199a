//! The README's table of settings matches the declared settings, row for row, so it cannot
//! drift from them.

use clap::CommandFactory;

use super::{Cli, Settings};

const README: &str = include_str!("../../README.md");

/// The rows of the table in the README's `## Configuration` section.
fn readme_rows() -> Vec<&'static str> {
    let section = README
        .split("\n## ")
        .find(|section| section.starts_with("Configuration\n"))
        .expect("the README has a Configuration section");
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect()
}

/// Each setting's row as the README writes it: key, variable, default, then the meaning.
fn expected_row_starts() -> Vec<String> {
    let command = Cli::command();
    let mut rows = vec!["| `--config` | `REGISTRY_CONFIG` | none |".to_owned()];
    for (key, default) in Settings::default().entries() {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id() == key)
            .unwrap_or_else(|| panic!("{key} has no flag"));
        let env = arg.get_env().expect("every setting has a variable");
        let default = match default.as_str() {
            "none" => default,
            _ => format!("`{default}`"),
        };
        rows.push(format!(
            "| `{key}` | `{}` | {default} |",
            env.to_string_lossy()
        ));
    }
    rows
}

#[test]
fn the_readme_documents_every_setting_with_its_variable_and_default() {
    let rows = readme_rows();
    let expected = expected_row_starts();
    for start in &expected {
        assert!(
            rows.iter().any(|row| row.starts_with(start.as_str())),
            "README.md's Configuration table lacks a row starting {start}"
        );
    }
    for row in &rows {
        assert!(
            expected.iter().any(|start| row.starts_with(start.as_str())),
            "README.md documents something that is not a setting: {row}"
        );
    }
    assert_eq!(rows.len(), expected.len(), "a setting has two rows");
}

#[test]
fn every_variable_is_the_prefixed_upper_case_name() {
    let command = Cli::command();
    for (key, _) in Settings::default().entries() {
        let arg = command.get_arguments().find(|arg| arg.get_id() == key);
        let env = arg.and_then(|arg| arg.get_env()).unwrap();
        assert_eq!(
            env,
            format!("REGISTRY_{}", key.to_ascii_uppercase()).as_str()
        );
    }
}
