//! Which database backends a test run covers, and why the others are not run.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};
use registry_testkit::database::{self as kit, Backend as KitBackend};

/// Whether every backend must run (CI) or only those this machine can run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requirement {
    All,
    Reachable,
}

struct Backend {
    name: &'static str,
    feature: &'static str,
    /// The test kit's backend: where its server is found (the tests' own variable and default).
    kit: KitBackend,
    library: &'static str,
    has_library: fn() -> bool,
}

const SERVER_BACKENDS: [Backend; 2] = [
    Backend {
        name: "postgres",
        feature: "registry-diesel/postgres",
        kit: KitBackend::Postgres,
        library: "libpq (Debian: libpq-dev)",
        has_library: || {
            pkg_config("libpq") || Path::new("/usr/include/postgresql/libpq-fe.h").exists()
        },
    },
    Backend {
        name: "mysql",
        feature: "registry-diesel/mysql",
        kit: KitBackend::Mysql,
        library: "the MariaDB client library (Debian: libmariadb-dev)",
        has_library: || pkg_config("libmariadb") || pkg_config("mysqlclient"),
    },
];

fn pkg_config(name: &str) -> bool {
    Command::new("pkg-config")
        .args(["--exists", name])
        .status()
        .is_ok_and(|status| status.success())
}

/// The backends a run covers.
pub(crate) struct Plan {
    run: Vec<(&'static Backend, String)>,
    not_run: Vec<(&'static str, String)>,
    require_all: bool,
}

pub(crate) fn plan(requirement: Requirement) -> Result<Plan> {
    let mut plan = Plan {
        run: Vec::new(),
        not_run: Vec::new(),
        require_all: requirement == Requirement::All,
    };
    for backend in &SERVER_BACKENDS {
        let (url, _) = kit::server_url(backend.kit);
        let problem = if !(backend.has_library)() {
            Some(format!("{} is not installed", backend.library))
        } else if !kit::reachable(&url) {
            Some(format!(
                "no server answers at {} (set {})",
                kit::split_authority(&url).1,
                backend.url_var()
            ))
        } else {
            None
        };
        match problem {
            None => plan.run.push((backend, url)),
            Some(problem) if requirement == Requirement::All => {
                bail!(
                    "backend {} is required (CI=true) but cannot run: {problem}",
                    backend.name
                )
            }
            Some(problem) => plan.not_run.push((backend.name, problem)),
        }
    }
    Ok(plan)
}

impl Plan {
    /// The cargo features that compile the backends this run covers.
    pub(crate) fn cargo_features(&self) -> String {
        let features: Vec<&str> = self
            .run
            .iter()
            .map(|(backend, _)| backend.feature)
            .collect();
        features.join(",")
    }

    /// Environment for the test processes: the database URLs, and CI=true when every backend
    /// is required, so that a test never silently skips one.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .run
            .iter()
            .map(|(backend, url)| (backend.url_var().to_owned(), url.clone()))
            .collect();
        if self.require_all {
            env.push(("CI".to_owned(), "true".to_owned()));
        }
        env
    }

    pub(crate) fn print_summary(&self) {
        println!("\nbackends run: sqlite, memory");
        for (backend, _) in &self.run {
            println!("backends run: {}", backend.name);
        }
        for (name, why) in &self.not_run {
            println!("backends NOT run: {name} ({why})");
        }
    }
}

impl Backend {
    /// The variable that tells the tests where the server is.
    fn url_var(&self) -> &'static str {
        self.kit.url_variable().map_or("", |(variable, _)| variable)
    }
}
