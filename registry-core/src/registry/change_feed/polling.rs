//! When the change feed reads the registry: a reading costs a read of the whole registry, so
//! it reads often only while someone waits on it.

use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep_until};

use super::FeedSnapshot;

/// The shortest time between two readings asked for by nudges: a burst of writes while a
/// long poll waits costs at most ten readings a second.
const MIN_GAP: Duration = Duration::from_millis(100);

/// How often the feed reads the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// While a long poll waits on the feed; and a nudge (a write through this server) is then
    /// read at once (at most every 100 ms).
    pub watched: Duration,
    /// While none does; nudges wait for this reading.
    pub idle: Duration,
}

impl Polling {
    /// The same interval, watched or not.
    pub fn every(interval: Duration) -> Self {
        Self {
            watched: interval,
            idle: interval,
        }
    }

    /// Waits until the next reading is due, the last one having started at `last`. A long poll
    /// arriving during an idle wait shortens it to the watched interval.
    pub(super) async fn wait(
        &self,
        last: Instant,
        sender: &watch::Sender<FeedSnapshot>,
        nudge: &Notify,
    ) {
        // The feed keeps one receiver of its own; any other is a long poll waiting.
        let watched = || sender.receiver_count() > 1;
        let step = self.watched.min(self.idle).max(MIN_GAP);
        let idle_due = last + self.idle;
        let mut check = last + step;
        loop {
            tokio::select! {
                () = nudge.notified() => {
                    if watched() {
                        sleep_until(last + MIN_GAP).await;
                        return;
                    }
                }
                () = sleep_until(check.min(idle_due)) => {
                    let now = Instant::now();
                    if now >= idle_due || (watched() && now >= last + self.watched) {
                        return;
                    }
                    check += step;
                }
            }
        }
    }
}
