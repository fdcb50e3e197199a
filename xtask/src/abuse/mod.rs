//! `cargo xtask abuse`: the real release `registry-server` on loopback, fed what hostile or
//! broken clients and failing storage do (slow and idle connections, oversized and malformed
//! requests, a frozen or vanished database), each promise measured and printed beside its
//! bound. Every scenario is bounded in count and time, and removes what it started when it
//! ends, also when it fails.

mod access;
mod connections;
mod fixture;
mod frozen;
mod lifecycle;
mod raw;
mod report;
mod requests;
mod sqlite_faults;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use fixture::Storage;
use report::Report;

/// Which scenarios to run, and on which storage backends.
pub(crate) struct Selection {
    only: Option<String>,
    backends: Vec<Storage>,
}

impl Selection {
    /// `backend` limits the storage scenarios to one of sqlite, postgres or mysql; scenarios
    /// about the HTTP layer run on memory storage whatever it says.
    pub(crate) fn new(only: Option<String>, backend: Option<String>) -> Result<Self> {
        let backends = match backend.as_deref() {
            None => vec![Storage::Sqlite, Storage::Postgres, Storage::Mysql],
            Some("sqlite") => vec![Storage::Sqlite],
            Some("postgres") => vec![Storage::Postgres],
            Some("mysql" | "mariadb") => vec![Storage::Mysql],
            Some(other) => bail!("unknown backend {other:?}: use sqlite, postgres or mysql"),
        };
        Ok(Self { only, backends })
    }

    fn storages(&self, scenario: &Scenario) -> Vec<Storage> {
        scenario
            .storages
            .iter()
            .copied()
            .filter(|storage| *storage == Storage::Memory || self.backends.contains(storage))
            .collect()
    }
}

/// What a scenario is given: the binary under test.
pub(crate) struct Suite {
    binary: PathBuf,
}

impl Suite {
    pub(crate) fn binary(&self) -> &Path {
        &self.binary
    }
}

/// One scenario: its name, the storages it runs on, and its body, which records each measured
/// figure against its bound in the report (an `Err` is a failure to set up or to measure).
pub(crate) struct Scenario {
    name: &'static str,
    storages: &'static [Storage],
    run: fn(&Suite, Storage, &mut Report) -> Result<()>,
}

/// The whole suite's time, the release build excluded.
const SUITE_BOUND: Duration = Duration::from_secs(300);

const MEMORY: &[Storage] = &[Storage::Memory];
const SQLITE: &[Storage] = &[Storage::Sqlite];
const SHARED: &[Storage] = &[Storage::Postgres, Storage::Mysql];
const SQL: &[Storage] = &[Storage::Sqlite, Storage::Postgres, Storage::Mysql];

const ALL: &[Scenario] = &[
    Scenario {
        name: "slowloris",
        storages: MEMORY,
        run: connections::slowloris,
    },
    Scenario {
        name: "idle-fd",
        storages: MEMORY,
        run: connections::idle_fd,
    },
    Scenario {
        name: "oversized",
        storages: MEMORY,
        run: requests::oversized,
    },
    Scenario {
        name: "span-amplification",
        storages: MEMORY,
        run: access::span_amplification,
    },
    Scenario {
        name: "frozen-database",
        storages: SHARED,
        run: frozen::frozen_database,
    },
    Scenario {
        name: "non-reading-listing",
        storages: MEMORY,
        run: connections::non_reading_listing,
    },
    Scenario {
        name: "bad-input",
        storages: SQL,
        run: requests::bad_input,
    },
    Scenario {
        name: "sqlite-deleted",
        storages: SQLITE,
        run: sqlite_faults::deleted,
    },
    Scenario {
        name: "read-only",
        storages: SQLITE,
        run: sqlite_faults::read_only,
    },
    Scenario {
        name: "immutable",
        storages: SQLITE,
        run: sqlite_faults::immutable,
    },
    Scenario {
        name: "drain",
        storages: MEMORY,
        run: lifecycle::drain,
    },
    Scenario {
        name: "auth",
        storages: MEMORY,
        run: access::auth,
    },
];

pub(crate) fn run(selection: &Selection) -> Result<()> {
    let suite = Suite {
        binary: crate::harness::server::build_server()?,
    };
    let started = Instant::now();
    let mut results = Vec::new();
    for scenario in ALL {
        if selection
            .only
            .as_deref()
            .is_some_and(|only| !scenario.name.contains(only))
        {
            continue;
        }
        for storage in selection.storages(scenario) {
            let label = format!("{} on {}", scenario.name, storage.name());
            println!("\n=== abuse: {label} ===");
            let mut report = Report::new(scenario.name);
            let began = Instant::now();
            let outcome = (scenario.run)(&suite, storage, &mut report);
            let verdict = report.finish(outcome, began.elapsed());
            match &verdict {
                Ok(summary) => println!("PASS {label}: {summary}"),
                Err(error) => println!("FAIL {label}: {error}"),
            }
            results.push((label, verdict));
        }
    }
    let took = started.elapsed();
    println!("\n=== abuse summary ({:.0} s) ===", took.as_secs_f64());
    let mut failed = 0;
    for (label, verdict) in &results {
        match verdict {
            Ok(summary) => println!("PASS  {label:<36} {summary}"),
            Err(error) => {
                failed += 1;
                println!("FAIL  {label:<36} {error}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} abuse scenario(s) failed");
    }
    // Every scenario is bounded so that the suite stays cheap enough to run on every change.
    if took > SUITE_BOUND {
        bail!(
            "the suite took {:.0} s (bound {} s)",
            took.as_secs_f64(),
            SUITE_BOUND.as_secs()
        );
    }
    Ok(())
}
