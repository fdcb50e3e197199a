//! `cargo xtask ha`: several registry servers on one database, proven by a fault suite of real
//! processes on real PostgreSQL and MariaDB. Each scenario gets a database of its own and its
//! own server processes, and removes both when it ends, also when it fails.

mod cluster;
mod load;
mod probe;
mod scenarios;
mod timing;

use crate::harness::http;

use anyhow::{Result, bail};

use cluster::Backend;

/// Which scenarios to run, and on which backends.
pub(crate) struct Selection {
    pub(crate) only: Option<String>,
    pub(crate) backends: Vec<Backend>,
    /// Whether a timing figure over its bound fails the run (see [`timing`]).
    pub(crate) strict_timing: bool,
}

impl Selection {
    pub(crate) fn new(
        only: Option<String>,
        backend: Option<String>,
        strict_timing: bool,
    ) -> Result<Self> {
        let backends = match backend.as_deref() {
            None => vec![Backend::Postgres, Backend::Mysql],
            Some("postgres") => vec![Backend::Postgres],
            Some("mysql" | "mariadb") => vec![Backend::Mysql],
            Some(other) => bail!("unknown backend {other:?}: use postgres or mysql"),
        };
        Ok(Self {
            only,
            backends,
            strict_timing,
        })
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
            let mut timings = timing::Timings::default();
            let outcome = (scenario.run)(&binary, backend, &mut timings);
            let verdict = Verdict::of(outcome, &timings, selection.strict_timing);
            println!(
                "{} {} on {}: {}",
                verdict.word,
                scenario.name,
                backend.name(),
                verdict.line
            );
            results.push((scenario.name, backend, verdict));
        }
    }
    println!("\n=== ha summary ===");
    let failed = results
        .iter()
        .filter(|(_, _, verdict)| verdict.failed)
        .count();
    for (name, backend, verdict) in &results {
        println!(
            "{:<5} {name:<24} {:<9} {}",
            verdict.word,
            backend.name(),
            verdict.line
        );
    }
    let over: usize = results.iter().map(|(_, _, verdict)| verdict.over).sum();
    if over > 0 && !selection.strict_timing {
        println!(
            "{over} timing figure(s) over their bounds: reported, not gated (--strict-timing gates them)"
        );
    }
    if failed > 0 {
        bail!("{failed} high-availability scenario(s) failed");
    }
    Ok(())
}

/// How one scenario ended: behaviour decides, and timing too when it is strict.
struct Verdict {
    word: &'static str,
    line: String,
    failed: bool,
    over: usize,
}

impl Verdict {
    fn of(outcome: Result<String>, timings: &timing::Timings, strict_timing: bool) -> Self {
        let over = timings.over();
        let figures = timings.summary();
        let with_figures = |text: String| {
            if figures.is_empty() {
                text
            } else {
                format!("{text}; {figures}")
            }
        };
        match outcome {
            Err(error) => Self {
                word: "FAIL",
                line: with_figures(format!("{error:#}")),
                failed: true,
                over,
            },
            Ok(summary) if over > 0 && strict_timing => Self {
                word: "FAIL",
                line: with_figures(summary),
                failed: true,
                over,
            },
            Ok(summary) => Self {
                word: "PASS",
                line: with_figures(summary),
                failed: false,
                over,
            },
        }
    }
}
