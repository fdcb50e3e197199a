use std::io::Write as _;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::*;

fn parse(args: &[&str]) -> Cli {
    let mut all = vec!["registry-server"];
    all.extend_from_slice(args);
    Cli::try_parse_from(all).unwrap()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn help_documents_every_setting_with_its_default() {
    let help = Cli::command().render_long_help().to_string();
    for (key, value) in Settings::default().entries() {
        let flag = format!("--{}", key.replace('_', "-"));
        assert!(help.contains(&flag), "help lacks {flag}");
        assert!(
            help.contains(&format!("[default: {value}]")),
            "help lacks the default of {key}: {value}"
        );
        assert!(
            help.contains(&format!("REGISTRY_{}", key.to_ascii_uppercase())),
            "help lacks the variable of {key}"
        );
    }
}

#[test]
fn no_subcommand_means_serve_and_flags_work_after_a_subcommand() {
    assert_eq!(parse(&[]).command, None);
    let cli = parse(&["check-config", "--listen", "127.0.0.1:9"]);
    assert_eq!(cli.command, Some(Command::CheckConfig));
    assert_eq!(cli.settings.listen, Some("127.0.0.1:9".parse().unwrap()));
}

#[test]
fn flags_beat_the_file_which_beats_the_defaults() {
    let toml = file(
        "listen = \"127.0.0.1:7000\"\npool_size = 3\nheartbeat_interval = \"2s\"\nheartbeat_timeout = 5\n",
    );
    let path = toml.path().to_str().unwrap();
    let cli = parse(&["--config", path, "--pool-size", "4"]);
    let settings = Settings::resolve(&cli.settings).unwrap();
    assert_eq!(settings.pool_size, 4);
    assert_eq!(settings.listen, "127.0.0.1:7000".parse().unwrap());
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(2));
    assert_eq!(settings.heartbeat_timeout, Duration::from_secs(5));
    assert_eq!(
        settings.span_batch_size,
        Settings::default().span_batch_size
    );
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let toml = file("lisen = \"127.0.0.1:7000\"\n");
    let cli = parse(&["--config", toml.path().to_str().unwrap()]);
    assert!(matches!(
        Settings::resolve(&cli.settings),
        Err(ConfigError::Parse { .. })
    ));
    let cli = parse(&["--log-level", "loud"]);
    assert!(matches!(
        Settings::resolve(&cli.settings),
        Err(ConfigError::Invalid {
            setting: "log_level",
            ..
        })
    ));
    let cli = parse(&["--heartbeat-interval", "0s"]);
    assert!(Settings::resolve(&cli.settings).is_err());
    let missing = parse(&["--config", "/nonexistent/registry.toml"]);
    assert!(matches!(
        Settings::resolve(&missing.settings),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn off_switches_removal_and_tracing() {
    let cli = parse(&[
        "--removal-timeout",
        "off",
        "--span-file",
        "off",
        "--auth-reads",
        "--token",
        "t",
    ]);
    let settings = Settings::resolve(&cli.settings).unwrap();
    assert_eq!(settings.removal_timeout, None);
    assert_eq!(settings.span_file, None);
    assert!(settings.auth_reads);
    assert_eq!(settings.heartbeat_coalesce, None);
    let cli = parse(&["--removal-timeout", "10m", "--heartbeat-coalesce", "5s"]);
    let settings = Settings::resolve(&cli.settings).unwrap();
    assert_eq!(settings.removal_timeout, Some(Duration::from_secs(600)));
    assert_eq!(settings.heartbeat_coalesce, Some(Duration::from_secs(5)));
}

#[test]
fn secrets_are_masked() {
    let cli = parse(&[
        "--token",
        "hunter2",
        "--storage-url",
        "mysql://reg:pa55@db:3306/registry",
    ]);
    let text = Settings::resolve(&cli.settings).unwrap().to_toml();
    assert!(
        !text.contains("hunter2") && !text.contains("pa55"),
        "{text}"
    );
    assert!(text.contains("token = \"***\""));
    assert!(text.contains("storage_url = \"mysql://reg:***@db:3306/registry\""));
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("memory"), "memory");
}

#[test]
fn the_printed_configuration_reads_back_as_a_file() {
    let settings = Settings::default();
    let printed = file(&settings.to_toml());
    let cli = parse(&["--config", printed.path().to_str().unwrap()]);
    assert_eq!(Settings::resolve(&cli.settings).unwrap(), settings);
}

#[test]
fn pool_size_auto_is_one_for_sqlite_and_eight_elsewhere() {
    let auto = |url: &str| {
        let cli = parse(&["--storage-url", url]);
        Settings::resolve(&cli.settings)
            .unwrap()
            .effective_pool_size()
    };
    assert_eq!(auto("sqlite://./data/registry.db"), 1);
    assert_eq!(auto("postgres://db/registry"), 8);
    let cli = parse(&["--storage-url", "sqlite://r.db", "--pool-size", "3"]);
    assert_eq!(
        Settings::resolve(&cli.settings)
            .unwrap()
            .effective_pool_size(),
        3
    );
    let toml = file("pool_size = \"auto\"\n");
    let cli = parse(&["--config", toml.path().to_str().unwrap()]);
    assert_eq!(Settings::resolve(&cli.settings).unwrap().pool_size, 0);
}

#[test]
fn storage_wait_defaults_to_30s_and_reads_flags_and_files() {
    assert_eq!(
        Settings::resolve(&parse(&[]).settings)
            .map(|s| s.storage_wait)
            .unwrap(),
        Duration::from_secs(30)
    );
    let toml = file("storage_wait = \"2m\"\n");
    let path = toml.path().to_str().unwrap();
    let from_file = Settings::resolve(&parse(&["--config", path]).settings).unwrap();
    assert_eq!(from_file.storage_wait, Duration::from_secs(120));
    assert!(from_file.to_toml().contains("storage_wait = \"120s\"\n"));
    let cli = parse(&["--config", path, "--storage-wait", "0s"]);
    let at_once = Settings::resolve(&cli.settings).unwrap();
    assert_eq!(at_once.storage_wait, Duration::ZERO);
    assert!(at_once.to_toml().contains("storage_wait = \"0s\"\n"));
    assert!(Cli::try_parse_from(["registry-server", "--storage-wait", "soon"]).is_err());
}

#[test]
fn configuration_that_would_fail_open_is_refused() {
    let refused = |args: &[&str]| match Settings::resolve(&parse(args).settings) {
        Err(ConfigError::Invalid { setting, .. }) => setting,
        other => panic!("{args:?} was accepted: {other:?}"),
    };
    assert_eq!(refused(&["--auth-reads"]), "auth_reads");
    assert_eq!(refused(&["--token", " s3cret"]), "token");
    assert_eq!(refused(&["--token", "s3cret\t"]), "token");
    assert_eq!(
        refused(&["--header-read-timeout", "0s"]),
        "header_read_timeout"
    );
    let settings = Settings::resolve(&parse(&["--token", "s3cret", "--auth-reads"]).settings);
    assert_eq!(settings.unwrap().token.as_deref(), Some("s3cret"));
}

#[test]
fn the_connection_cap_leaves_room_below_the_open_file_limit() {
    let memory = Settings::resolve(&parse(&["--storage-url", "memory"]).settings).unwrap();
    let reserve = 64 + 4 * memory.effective_pool_size();
    assert_eq!(memory.effective_max_connections(1024), 1024 - reserve);
    assert_eq!(memory.effective_max_connections(10), 16);
    let fixed = Settings::resolve(&parse(&["--max-connections", "100"]).settings).unwrap();
    assert_eq!(fixed.effective_max_connections(1024), 100);
}

#[test]
fn allowed_hosts_read_back_from_toml() {
    let settings =
        Settings::resolve(&parse(&["--allowed-hosts", "Registry.internal, b.example"]).settings)
            .unwrap();
    assert_eq!(settings.allowed_hosts, ["registry.internal", "b.example"]);
    let file = file(&settings.to_toml());
    let path = file.path().to_str().unwrap();
    let again = Settings::resolve(&parse(&["--config", path]).settings).unwrap();
    assert_eq!(again.allowed_hosts, settings.allowed_hosts);
}

#[test]
fn awkward_values_read_back_from_the_printed_configuration() {
    for span_file in [
        "2024",
        "true",
        "1e3",
        "dir with \"quotes\"\\and\\backslashes.jsonl",
        "tab\there",
    ] {
        let settings = Settings::resolve(
            &parse(&[
                "--span-file",
                span_file,
                "--max-connections",
                "500",
                "--pool-size",
                "auto",
            ])
            .settings,
        )
        .unwrap();
        let printed = file(&settings.to_toml());
        let again =
            Settings::resolve(&parse(&["--config", printed.path().to_str().unwrap()]).settings);
        assert_eq!(again.unwrap(), settings, "{span_file:?}");
    }
}
