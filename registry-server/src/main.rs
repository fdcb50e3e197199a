//! The `registry-server` binary: parses the configuration and runs a subcommand.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;
use registry_server::config::{Cli, Command, LogFormat, Settings};
use registry_server::server;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse_from(registry_server::ops::cli::dbgpt_spellings(
        std::env::args_os(),
    ));
    let (settings, ignored) = Settings::resolve_noting(&cli.settings)?;
    init_logging(&settings.log_level, settings.log_format);
    for setting in &ignored {
        tracing::warn!(key = %setting.key, "{setting}");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            // As TOML comments, so that the output still reads back as a `--config` file.
            for setting in &ignored {
                println!("# {setting}");
            }
            print!("{}", settings.to_toml());
            Ok(())
        }
        Command::Migrate => {
            let applied = server::migrate(&settings).context("migration failed")?;
            let url = registry_server::config::redact_url(&settings.storage_url);
            if applied.is_empty() {
                println!("{url}: no pending migrations");
            }
            for version in applied {
                println!("{url}: applied {version}");
            }
            Ok(())
        }
        Command::Trace(command) => {
            let span_file = settings.span_file.as_deref();
            let output = registry_server::ops::cli::run(&command, span_file)?;
            for note in &output.notes {
                eprintln!("note: {note}");
            }
            print!("{}", output.text);
            Ok(())
        }
        Command::Serve => runtime(&settings)?.block_on(async {
            server::serve(&settings, |addr| {
                // Tools and tests read this line to learn the port when listening on port 0.
                println!("registry-server listening on http://{addr}");
                let _ = std::io::stdout().flush();
            })
            .await
            .context("server failed")
        }),
    }
}

/// Two worker threads match the machines this runs on; blocking storage calls get a pool
/// bounded by the database pool, since more threads would only wait for connections.
fn runtime(settings: &Settings) -> anyhow::Result<tokio::runtime::Runtime> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(settings.effective_pool_size() as usize * 2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn init_logging(level: &str, format: LogFormat) {
    let filter = level
        .parse::<tracing_subscriber::filter::LevelFilter>()
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match format {
        LogFormat::Text => builder.init(),
        // One object per line: time, level, target, the event's fields and its spans.
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}
