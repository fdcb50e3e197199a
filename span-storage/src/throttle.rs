//! Rate limiting of the warnings about failing storages: a full disk or an unreachable
//! collector fails every batch, and one warning per batch would flood the log it shares.

use std::time::{Duration, Instant};

/// Admits the first warning, then at most one per `interval`, and counts the ones it holds back.
///
/// The caller passes "now", so tests drive it with made-up instants and never sleep.
#[derive(Debug, Clone)]
pub(crate) struct WarningThrottle {
    interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl WarningThrottle {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// Whether to log a warning at `now`: `Some(n)` with the number of warnings held back since
    /// the last one logged, or `None` to hold this one back too.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<u64> {
        let due = match self.last_logged {
            None => true,
            Some(last) => now.saturating_duration_since(last) >= self.interval,
        };
        if due {
            self.last_logged = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WarningThrottle;
    use std::time::{Duration, Instant};

    #[test]
    fn first_then_one_per_interval_with_the_count_held_back() {
        let start = Instant::now();
        let mut throttle = WarningThrottle::new(Duration::from_secs(60));
        assert_eq!(throttle.admit(start), Some(0));
        for s in 1..60 {
            assert_eq!(throttle.admit(start + Duration::from_secs(s)), None);
        }
        assert_eq!(throttle.admit(start + Duration::from_secs(60)), Some(59));
        assert_eq!(throttle.admit(start + Duration::from_secs(61)), None);
        assert_eq!(throttle.admit(start + Duration::from_secs(200)), Some(1));
    }

    #[test]
    fn a_zero_interval_logs_everything() {
        let now = Instant::now();
        let mut throttle = WarningThrottle::new(Duration::ZERO);
        assert_eq!(throttle.admit(now), Some(0));
        assert_eq!(throttle.admit(now), Some(0));
    }
}
