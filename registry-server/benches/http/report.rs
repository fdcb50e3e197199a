//! The figures against their targets, and each server's heartbeats against the bare server's.

use crate::subject::Figures;

/// The targets for registry-server on this class of machine (2 cores).
const TARGET_MEMORY_RPS: f64 = 30_000.0;
const TARGET_SQLITE_RPS: f64 = 10_000.0;
const TARGET_P99_MS: f64 = 5.0;
const TARGET_IDLE_RSS_MB: f64 = 20.0;
const TARGET_FULL_RSS_MB: f64 = 60.0;
const TARGET_START_MS: f64 = 200.0;

/// The least share of the bare server's heartbeats each registry-server figure must reach:
/// memory storage, and SQLite in the default configuration (spans on for both).
const RATIO_GOALS: [(&str, f64); 2] = [
    ("registry-server memory", 0.85),
    ("registry-server sqlite", 0.5),
];

pub(crate) fn print_targets(results: &[(String, Figures)]) {
    println!("\ntargets (registry-server):");
    let find = |name: &str| results.iter().find(|(n, _)| n == name).map(|(_, f)| f);
    let check = |what: &str, value: Option<f64>, target: f64, at_least: bool| {
        let verdict = match value {
            Some(v) if (at_least && v >= target) || (!at_least && v <= target) => "met",
            Some(_) => "MISSED",
            None => "not measured",
        };
        let shown = value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        let op = if at_least { ">=" } else { "<=" };
        println!("  {what:<34} {shown:>10}  {op} {target:<8} {verdict}");
    };
    let memory = find("registry-server memory");
    let sqlite = find("registry-server sqlite");
    let rps = |f: Option<&Figures>| f.and_then(|f| f.rps);
    let p99 = |f: Option<&Figures>| f.and_then(|f| f.p99_ms);
    check(
        "memory heartbeats req/s",
        rps(memory),
        TARGET_MEMORY_RPS,
        true,
    );
    check(
        "sqlite heartbeats req/s",
        rps(sqlite),
        TARGET_SQLITE_RPS,
        true,
    );
    check("memory p99 ms", p99(memory), TARGET_P99_MS, false);
    check("sqlite p99 ms", p99(sqlite), TARGET_P99_MS, false);
    let idle = memory.map(|f| f.rss_idle_mb);
    check("memory RSS idle MB", idle, TARGET_IDLE_RSS_MB, false);
    let full = |f: Option<&Figures>| f.map(|f| f.rss_full_mb);
    check(
        "memory RSS with 10,000 instances MB",
        full(memory),
        TARGET_FULL_RSS_MB,
        false,
    );
    check(
        "sqlite RSS with 10,000 instances MB",
        full(sqlite),
        TARGET_FULL_RSS_MB,
        false,
    );
    let start = |f: Option<&Figures>| f.map(|f| f.start_ms);
    check(
        "memory start to first answer ms",
        start(memory),
        TARGET_START_MS,
        false,
    );
    check(
        "sqlite start to first answer ms",
        start(sqlite),
        TARGET_START_MS,
        false,
    );
}

/// The bare reference server's row: its best run beside any other server.
pub(crate) fn print_bare(results: &[(String, Figures)]) {
    let best = results
        .iter()
        .filter_map(|(_, figures)| figures.bare_rps)
        .fold(None, |best: Option<f64>, rps| {
            Some(best.map_or(rps, |b| b.max(rps)))
        });
    if let Some(rps) = best {
        println!(
            "{:<26} {rps:>12.0} {:>9} {:>11} {:>14} {:>11}",
            "bare axum reference", "-", "-", "-", "-"
        );
    }
}

/// Every server's heartbeats beside the bare server's, measured in runs interleaved with its
/// own, with the goal where there is one.
pub(crate) fn print_ratios(results: &[(String, Figures)]) {
    println!(
        "\nheartbeats against the bare axum reference (same wrk, same JSON, runs interleaved):"
    );
    let mut all_met = true;
    let mut measured = 0;
    for (name, figures) in results {
        let (Some(rps), Some(bare)) = (figures.rps, figures.bare_rps) else {
            continue;
        };
        let ratio = rps / bare;
        let short = name.strip_prefix("registry-server ").unwrap_or(name);
        let goal = RATIO_GOALS.iter().find(|(n, _)| n == name).map(|(_, g)| *g);
        let verdict = match goal {
            Some(goal) if ratio >= goal => format!(" (goal >= {goal:.2}) met"),
            Some(goal) => {
                all_met = false;
                format!(" (goal >= {goal:.2}) MISSED")
            }
            None => String::new(),
        };
        measured += usize::from(goal.is_some());
        println!(
            "  {short}: {} req/s vs bare {} req/s = {ratio:.2}{verdict}",
            thousands(rps),
            thousands(bare)
        );
    }
    let verdict = match (measured == RATIO_GOALS.len(), all_met) {
        (true, true) => "yes",
        (true, false) => "NO",
        (false, _) => "not all measured",
    };
    println!("ratio goals met: {verdict}");
}

/// `95123.4` as `95,123`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
