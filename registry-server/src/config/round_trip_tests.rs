//! `check-config` prints TOML that reads back as the same settings, whatever the values.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::{Cli, Settings};

fn resolve(args: &[&str]) -> Settings {
    let cli = Cli::try_parse_from(std::iter::once("registry-server").chain(args.iter().copied()))
        .unwrap();
    Settings::resolve(&cli.settings).unwrap()
}

/// The settings read back from `settings.to_toml()` written to a file.
fn read_back(settings: &Settings) -> Settings {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(settings.to_toml().as_bytes()).unwrap();
    resolve(&["--config", file.path().to_str().unwrap()])
}

const AWKWARD_PATHS: [&str; 7] = [
    "2024",
    "1e3",
    "true",
    "dir with \"quotes\"\\and\\back\\\\slashes.jsonl",
    "ünïcødé/スパン 🦀.jsonl",
    "control\tchars\u{1}\u{7f}\r\nhere.jsonl",
    "# not a comment = \"x\"\n[table]",
];

#[test]
fn awkward_values_from_flags_read_back_the_same() {
    for span_file in AWKWARD_PATHS {
        let settings = resolve(&[
            "--span-file",
            span_file,
            "--storage-url",
            "sqlite://./da'ta/\"odd\" dir\\ünï/r.db",
            "--token",
            "s3#cr\"et",
            "--auth-reads",
            "--allowed-hosts",
            "Registry.internal, b.example,,",
            "--removal-timeout",
            "off",
            "--heartbeat-coalesce",
            "1500ms",
            "--heartbeat-interval",
            "0.25",
            "--statement-timeout",
            "2500us",
            "--storage-wait",
            "0s",
            "--pool-size",
            "auto",
            "--max-connections",
            "500",
            "--clock-offset-ms",
            "-1500",
            "--log-level",
            "DEBUG",
            "--log-format",
            "JSON",
        ]);
        assert_eq!(settings.span_file, Some(PathBuf::from(span_file)));
        assert_eq!(settings.heartbeat_interval, Duration::from_millis(250));
        assert_eq!(settings.clock_offset_ms, -1500);
        let printed = settings.to_toml();
        assert!(!printed.contains("s3#cr"), "{printed}");
        // The token is masked, so it reads back as the mask; everything else as it was.
        let expected = Settings {
            token: Some("***".to_owned()),
            ..settings.clone()
        };
        assert_eq!(read_back(&settings), expected, "{span_file:?}:\n{printed}");
    }
}

#[test]
fn awkward_values_set_directly_read_back_the_same() {
    for span_file in AWKWARD_PATHS {
        let settings = Settings {
            span_file: Some(PathBuf::from(span_file)),
            heartbeat_coalesce: Some(Duration::new(1, 1)),
            removal_timeout: Some(Duration::from_micros(1500)),
            pool_timeout: Duration::from_nanos(7),
            pool_size: 3,
            max_connections: u32::MAX,
            span_batch_size: usize::MAX,
            clock_offset_ms: i64::MIN,
            allowed_hosts: vec!["a.example".to_owned(), "b#c".to_owned()],
            log_level: "off".to_owned(),
            log_format: super::LogFormat::Json,
            ..Settings::default()
        };
        assert_eq!(read_back(&settings), settings, "{span_file:?}");
    }
}

#[test]
fn each_setting_is_written_in_its_own_toml_type() {
    let settings = Settings {
        span_file: Some(PathBuf::from("2024")),
        auth_reads: true,
        token: Some("t".to_owned()),
        max_connections: 500,
        allowed_hosts: vec!["a.example".to_owned()],
        clock_offset_ms: -3,
        time_zone: "Asia/Shanghai".parse().unwrap(),
        ..Settings::default()
    };
    let printed = settings.to_toml();
    for line in [
        "span_file = \"2024\"\n",
        "auth_reads = true\n",
        "token = \"***\"\n",
        "pool_size = \"auto\"\n",
        "max_connections = 500\n",
        "span_batch_size = 10\n",
        "allowed_hosts = [\"a.example\"]\n",
        "clock_offset_ms = -3\n",
        "time_zone = \"Asia/Shanghai\"\n",
        "removal_timeout = \"off\"\n",
        "heartbeat_interval = \"20s\"\n",
        "listen = \"0.0.0.0:8000\"\n",
    ] {
        assert!(printed.contains(line), "lacks {line:?}:\n{printed}");
    }
    let unset = Settings::default().to_toml();
    assert!(unset.contains("# token = (none)\n"), "{unset}");
    assert!(unset.contains("allowed_hosts = []\n"), "{unset}");
    assert!(unset.contains("time_zone = \"local\"\n"), "{unset}");
    assert_eq!(read_back(&settings).time_zone, settings.time_zone);
    assert_eq!(read_back(&Settings::default()).token, None);
}

#[test]
fn every_setting_is_printed_once_in_declaration_order() {
    let settings = Settings::default();
    let keys: Vec<&str> = settings.entries().iter().map(|(key, _)| *key).collect();
    let printed: Vec<String> = settings
        .to_toml()
        .lines()
        .map(|line| {
            let line = line.trim_start_matches("# ");
            line[..line.find(" = ").unwrap()].to_owned()
        })
        .collect();
    assert_eq!(printed, keys);
    assert_eq!(keys.len(), 31);
}
