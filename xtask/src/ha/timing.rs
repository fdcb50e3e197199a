//! Timing figures of the fault scenarios, each printed beside its bound.
//!
//! A scenario fails on behaviour (a lost heartbeat, a false expiry, an instance that never
//! expires). How fast it happened is a figure: on a machine whose two cores are shared with the
//! servers, the database and the load generator, latency moves with whatever else runs, so in
//! `cargo xtask ci` a figure over its bound is reported, not gated. `cargo xtask ha
//! --strict-timing` gates on the bounds too, for a quiet machine.

/// The timing figures of one scenario run.
#[derive(Default)]
pub(crate) struct Timings {
    figures: Vec<Figure>,
}

struct Figure {
    line: String,
    within: bool,
}

impl Timings {
    /// `value` (in `unit`) should not exceed `bound`.
    pub(crate) fn at_most(&mut self, what: &str, value: f64, bound: f64, unit: &str) {
        let within = value <= bound;
        self.figures.push(Figure {
            line: format!(
                "{what} {value:.1} {unit} (bound {bound:.0} {unit}) {}",
                if within { "ok" } else { "OVER" }
            ),
            within,
        });
    }

    /// How many figures exceeded their bounds.
    pub(crate) fn over(&self) -> usize {
        self.figures.iter().filter(|figure| !figure.within).count()
    }

    /// Every figure, `; `-separated, for the scenario's summary line.
    pub(crate) fn summary(&self) -> String {
        self.figures
            .iter()
            .map(|figure| figure.line.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_over_its_bound_is_counted_and_marked() {
        let mut timings = Timings::default();
        timings.at_most("slowest expiry", 4871.0, 5350.0, "ms");
        timings.at_most("p99", 72.7, 50.0, "ms");
        assert_eq!(timings.over(), 1);
        assert_eq!(
            timings.summary(),
            "slowest expiry 4871.0 ms (bound 5350 ms) ok; p99 72.7 ms (bound 50 ms) OVER"
        );
    }
}
