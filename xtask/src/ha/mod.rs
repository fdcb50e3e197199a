//! `cargo xtask ha`: several registry servers on one database, proven by a fault suite of real
//! processes on real PostgreSQL and MariaDB. Each scenario gets a database of its own and its
//! own server processes, and removes both when it ends, also when it fails.

mod cluster;
mod load;
mod probe;
mod scenarios;

use crate::harness::http;

use anyhow::{Result, bail};

use cluster::Backend;

/// Which scenarios to run, and on which backends.
pub(crate) struct Selection {
    pub(crate) only: Option<String>,
    pub(crate) backends: Vec<Backend>,
}

impl Selection {
    pub(crate) fn new(only: Option<String>, backend: Option<String>) -> Result<Self> {
        let backends = match backend.as_deref() {
            None => vec![Backend::Postgres, Backend::Mysql],
            Some("postgres") => vec![Backend::Postgres],
            Some("mysql" | "mariadb") => vec![Backend::Mysql],
            Some(other) => bail!("unknown backend {other:?}: use postgres or mysql"),
        };
        Ok(Self { only, backends })
    }
}

pub(crate) fn run(selection: &Selection) -> Result<()> {
    let binary = cluster::build_server()?;
    let mut results = Vec::new();
    for scenario in scenarios::ALL {
        if selection
            .only
            .as_deref()
            .is_some_and(|only| !scenario.name.contains(only))
        {
            continue;
        }
        for &backend in &selection.backends {
            if scenario.postgres_only && backend != Backend::Postgres {
                continue;
            }
            println!("\n=== ha: {} on {} ===", scenario.name, backend.name());
            let outcome = (scenario.run)(&binary, backend);
            match &outcome {
                Ok(summary) => println!("PASS {} on {}: {summary}", scenario.name, backend.name()),
                Err(error) => println!("FAIL {} on {}: {error:#}", scenario.name, backend.name()),
            }
            results.push((scenario.name, backend, outcome));
        }
    }
    println!("\n=== ha summary ===");
    let mut failed = 0;
    for (name, backend, outcome) in &results {
        match outcome {
            Ok(summary) => println!("PASS  {name:<24} {:<9} {summary}", backend.name()),
            Err(error) => {
                failed += 1;
                println!("FAIL  {name:<24} {:<9} {error:#}", backend.name());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} high-availability scenario(s) failed");
    }
    Ok(())
}
