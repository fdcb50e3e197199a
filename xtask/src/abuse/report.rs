//! Each measured figure printed beside its bound, as `slowloris: /api/health answered in 12 ms
//! (bound 1000 ms) ok`; a scenario fails when any bound is broken.

use std::time::Duration;

/// The figures of one scenario run.
pub(crate) struct Report {
    scenario: &'static str,
    checked: usize,
    broken: Vec<String>,
    skipped: Option<String>,
}

impl Report {
    pub(crate) fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            checked: 0,
            broken: Vec::new(),
            skipped: None,
        }
    }

    /// `value` must not exceed `bound`.
    pub(crate) fn at_most(&mut self, what: &str, value: f64, bound: f64, unit: &str) {
        let line = format!(
            "{what} {} (bound {})",
            amount(value, unit),
            amount(bound, unit)
        );
        self.record(line, value <= bound);
    }

    /// A duration that must not exceed `bound`, in milliseconds.
    pub(crate) fn within(&mut self, what: &str, took: Duration, bound: Duration) {
        self.at_most(what, millis(took), millis(bound), "ms");
    }

    /// A promise that holds or not: `observed` says what was seen, `expected` what the bound is.
    pub(crate) fn holds(&mut self, what: &str, observed: &str, expected: &str, ok: bool) {
        self.record(format!("{what} {observed} (bound {expected})"), ok);
    }

    /// A figure printed for the record, with no bound.
    pub(crate) fn note(&self, line: &str) {
        println!("{}: {line}", self.scenario);
    }

    /// The scenario cannot run on this machine, for `reason`; it measured nothing.
    pub(crate) fn skip(&mut self, reason: &str) {
        println!("{}: skipped: {reason}", self.scenario);
        self.skipped = Some(reason.to_owned());
    }

    fn record(&mut self, line: String, ok: bool) {
        self.checked += 1;
        println!(
            "{}: {line} {}",
            self.scenario,
            if ok { "ok" } else { "BROKEN" }
        );
        if !ok {
            self.broken.push(line);
        }
    }

    /// The verdict: every bound held and the scenario ran to its end.
    pub(crate) fn finish(
        self,
        outcome: anyhow::Result<()>,
        took: Duration,
    ) -> Result<String, String> {
        let seconds = took.as_secs_f64();
        match outcome {
            Err(error) => {
                let mut message = format!("{error:#}");
                if !self.broken.is_empty() {
                    message.push_str(&format!("; {} bounds broken before", self.broken.len()));
                }
                Err(message)
            }
            Ok(()) if self.checked == 0 => match self.skipped {
                Some(reason) => Ok(format!("skipped: {reason}")),
                None => Err("no figure was measured".to_owned()),
            },
            Ok(()) if self.broken.is_empty() => {
                let noun = if self.checked == 1 { "bound" } else { "bounds" };
                Ok(format!("{} {noun} held ({seconds:.1} s)", self.checked))
            }
            // Each broken bound was printed as it was measured; the verdict names the first.
            Ok(()) => Err(format!(
                "{} of {} bounds broken, first: {}",
                self.broken.len(),
                self.checked,
                self.broken[0]
            )),
        }
    }
}

pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn amount(value: f64, unit: &str) -> String {
    let number = if value.fract() == 0.0 || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Report;

    #[test]
    fn a_broken_bound_fails_the_scenario_and_is_named() {
        let mut report = Report::new("test");
        report.at_most("answered in", 12.0, 1000.0, "ms");
        report.within("exited in", Duration::from_secs(6), Duration::from_secs(5));
        let verdict = report.finish(Ok(()), Duration::ZERO).unwrap_err();
        assert!(verdict.starts_with("1 of 2 bounds broken"), "{verdict}");
        assert!(
            verdict.contains("exited in 6000 ms (bound 5000 ms)"),
            "{verdict}"
        );
    }

    #[test]
    fn held_bounds_pass_and_nothing_measured_fails_unless_skipped() {
        let mut report = Report::new("test");
        report.holds("status", "answered 413", "413", true);
        assert!(report.finish(Ok(()), Duration::ZERO).is_ok());
        assert!(Report::new("test").finish(Ok(()), Duration::ZERO).is_err());
        let mut skipped = Report::new("test");
        skipped.skip("needs root");
        assert_eq!(
            skipped.finish(Ok(()), Duration::ZERO).unwrap(),
            "skipped: needs root"
        );
    }
}
