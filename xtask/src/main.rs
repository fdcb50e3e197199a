//! `cargo xtask`: the one way people and CI run this workspace's checks.
//!
//! ```text
//! cargo xtask test     # every test; unreachable database backends reported as not run
//! cargo xtask ci       # the full gate: fmt, clippy, tests on every backend, interop, packaging
//! cargo xtask bench    # throughput figures beside DB-GPT's, measured in the same run
//! cargo xtask interop  # DB-GPT's own Python client against registry-server; span files compared
//! cargo xtask e2e      # the dashboard in headless Chromium against registry-server
//! cargo xtask ha       # several servers on one database: the fault suite
//! cargo xtask abuse    # hostile clients and failing storage against the release binary
//! ```

mod abuse;
mod backends;
mod bench;
mod cmd;
mod e2e;
mod ha;
mod harness;
mod interop;
mod peer;
mod span_diff;

use anyhow::Result;
use clap::{Parser, Subcommand};

use backends::Requirement;

#[derive(Parser)]
#[command(about = "Checks, tests and benchmarks for the registry workspace")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The full gate: fmt, clippy, all tests on every backend (all required), interop,
    /// standalone builds and packaging of each library crate.
    Ci,
    /// Runs every test. Backends whose database cannot be reached, or whose client library is
    /// not installed, are reported as not run (unless CI=true, which requires them all).
    Test,
    /// Prints throughput figures, beside DB-GPT's measured in the same run where named.
    Bench {
        /// Skip DB-GPT's reference figures (they need a Python virtual environment).
        #[arg(long)]
        no_peer: bool,
        /// Run only the parts whose name contains this: core, sql, spans, http, interference.
        #[arg(long)]
        only: Option<String>,
    },
    /// Runs DB-GPT's own Python client (dbgpt==0.8.2) against a real registry-server, then
    /// compares the span files DB-GPT's controller and registry-server write for one sequence.
    Interop {
        /// Only compare the span files.
        #[arg(long)]
        spans_only: bool,
    },
    /// The dashboard in headless Chromium against a real registry-server (needs the Debian
    /// packages chromium and chromium-driver).
    E2e,
    /// The high-availability fault suite: several servers on one PostgreSQL or MariaDB.
    Ha {
        /// Run only the scenarios whose name contains this.
        #[arg(long)]
        only: Option<String>,
        /// Run on one backend only: postgres or mysql.
        #[arg(long)]
        backend: Option<String>,
        /// Fail when a timing figure (expiry delay, latency) exceeds its bound, not only on
        /// behaviour; for a quiet machine.
        #[arg(long)]
        strict_timing: bool,
    },
    /// The abuse and fault suite: the release registry-server against slow, idle, oversized
    /// and malformed clients and against storage that hangs, vanishes or turns read-only.
    Abuse {
        /// Run only the scenarios whose name contains this.
        #[arg(long)]
        only: Option<String>,
        /// Run the storage scenarios on one backend only: sqlite, postgres or mysql.
        #[arg(long)]
        backend: Option<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    cmd::enter_workspace_root()?;
    match cli.task {
        Task::Ci => ci(),
        Task::Test => {
            let requirement = if std::env::var("CI").is_ok_and(|v| v == "true") {
                Requirement::All
            } else {
                Requirement::Reachable
            };
            test(requirement)
        }
        Task::Bench { no_peer, only } => bench::run(!no_peer, only.as_deref()),
        Task::Interop { spans_only: false } => interop::run(),
        Task::Interop { spans_only: true } => interop::run_spans(),
        Task::E2e => e2e::run(),
        Task::Ha {
            only,
            backend,
            strict_timing,
        } => ha::run(&ha::Selection::new(only, backend, strict_timing)?),
        Task::Abuse { only, backend } => abuse::run(&abuse::Selection::new(only, backend)?),
    }
}

fn ci() -> Result<()> {
    cmd::cargo(&["fmt", "--all", "--", "--check"])?;
    cmd::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    test(Requirement::All)?;
    standalone_builds()?;
    package()?;
    interop::run()?;
    e2e::run()?;
    ha::run(&ha::Selection::new(None, None, false)?)?;
    abuse::run(&abuse::Selection::new(None, None)?)?;
    println!("xtask ci: all checks passed");
    Ok(())
}

fn test(requirement: Requirement) -> Result<()> {
    let plan = backends::plan(requirement)?;
    let features = with_client_feature(&plan.cargo_features());
    let mut args = vec!["test", "--workspace", "--all-targets"];
    let mut doc_args = vec!["test", "--workspace", "--doc"];
    if !features.is_empty() {
        args.extend(["--features", features.as_str()]);
        doc_args.extend(["--features", features.as_str()]);
    }
    cmd::cargo_with_env(&args, &plan.env())?;
    cmd::cargo_with_env(&doc_args, &plan.env())?;
    plan.print_summary();
    Ok(())
}

/// Each library crate must build on its own, with default features and without, so that a
/// change cannot quietly couple them.
fn standalone_builds() -> Result<()> {
    for krate in [
        "registry-core",
        "span-storage",
        "registry-diesel",
        "registry-server",
        "registry-wire",
        "registry-client",
    ] {
        cmd::cargo(&["check", "--package", krate, "--lib"])?;
        match krate {
            "registry-core" => {}
            // No SQL backend at all is a compile error by design: check each one alone.
            "registry-diesel" | "registry-server" => {
                for backend in ["postgres", "mysql"] {
                    cmd::cargo(&[
                        "check",
                        "--package",
                        krate,
                        "--lib",
                        "--no-default-features",
                        "--features",
                        backend,
                    ])?;
                }
            }
            _ => cmd::cargo(&[
                "check",
                "--package",
                krate,
                "--lib",
                "--no-default-features",
            ])?,
        }
    }
    // The test kit without its database features: what xtask builds, with no database client
    // library installed.
    cmd::cargo(&["check", "--package", TEST_KIT, "--lib"])?;
    dependency_boundaries()
}

/// The backend features of a test plan plus registry-server's `client`, whose tests start
/// real servers.
fn with_client_feature(features: &str) -> String {
    if features.is_empty() {
        "registry-server/client".to_owned()
    } else {
        format!("{features},registry-server/client")
    }
}

/// Crates that must not appear in a library crate's normal dependency tree (default
/// features): the layering of ARCHITECTURE.md, checked.
const FORBIDDEN_DEPENDENCIES: &[(&str, &[&str])] = &[
    (
        "registry-core",
        &[
            "diesel",
            "r2d2",
            "libsqlite3-sys",
            "pq-sys",
            "mysqlclient-sys",
            "axum",
            "hyper",
            "hyper-util",
            "h2",
            "mio",
            "socket2",
            "ureq",
            "reqwest",
            "tower",
            // No wire format: DB-GPT's JSON belongs to registry-wire.
            "serde",
            "serde_json",
        ],
    ),
    (
        "span-storage",
        &[
            "registry-core",
            "registry-diesel",
            "registry-server",
            "ureq",
        ],
    ),
    (
        "registry-diesel",
        &["axum", "hyper", "ureq", "span-storage"],
    ),
    ("registry-server", &["ureq"]),
    (
        "registry-wire",
        &[
            "axum",
            "hyper",
            "diesel",
            "ureq",
            "span-storage",
            "registry-diesel",
            "registry-server",
        ],
    ),
    (
        "registry-client",
        &[
            "axum",
            "hyper",
            "hyper-util",
            "tower",
            "diesel",
            "r2d2",
            "libsqlite3-sys",
            "pq-sys",
            "mysqlclient-sys",
            "clap",
            "toml",
            "span-storage",
            "registry-diesel",
            "registry-server",
        ],
    ),
];

/// The test kit: dev-only, so in no library crate's normal dependency tree.
const TEST_KIT: &str = "registry-testkit";

/// The most crates (itself included) a worker's one dependency line, `registry-client`, may
/// pull in.
const CLIENT_CRATE_BUDGET: usize = 45;

/// Fails if a library crate's dependency tree holds a crate its layer must not depend on.
fn dependency_boundaries() -> Result<()> {
    for (krate, forbidden) in FORBIDDEN_DEPENDENCIES {
        let tree = cargo_tree(krate)?;
        let found: std::collections::BTreeSet<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| forbidden.contains(name) || *name == TEST_KIT)
            .collect();
        if !found.is_empty() {
            anyhow::bail!("{krate} must not depend on {found:?} (see ARCHITECTURE.md)");
        }
        println!("{krate}: none of {forbidden:?} nor {TEST_KIT} in its dependency tree");
    }
    let tree = cargo_tree("registry-client")?;
    let crates: std::collections::BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    if crates.len() > CLIENT_CRATE_BUDGET {
        anyhow::bail!(
            "registry-client pulls in {} crates, over its budget of {CLIENT_CRATE_BUDGET}: {crates:?}",
            crates.len()
        );
    }
    println!(
        "registry-client: {} crates in its dependency tree (budget {CLIENT_CRATE_BUDGET})",
        crates.len()
    );
    Ok(())
}

/// `cargo tree -p <krate> -e normal --prefix none`: one dependency per line.
fn cargo_tree(krate: &str) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let args = ["tree", "-p", krate, "-e", "normal", "--prefix", "none"];
    println!("$ cargo {}", args.join(" "));
    let output = std::process::Command::new(cargo).args(args).output()?;
    if !output.status.success() {
        anyhow::bail!(
            "cargo tree -p {krate} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// Packages every library crate as it would be published; interdependent workspace crates are
/// packaged together against a local overlay registry, and each package is built from its
/// `.crate` file to prove it is complete.
fn package() -> Result<()> {
    cmd::cargo(&[
        "package",
        "--workspace",
        "--exclude",
        "xtask",
        "--exclude",
        TEST_KIT,
        "--allow-dirty",
    ])
}
