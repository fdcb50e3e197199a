//! The heartbeat checker: a background task that sweeps the registry every interval.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::StorageModelRegistry;
use crate::storage::InstanceStorage;

/// The first retry after a failed sweep comes this soon; each further failure doubles the wait,
/// up to the sweep interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Controls a running heartbeat checker. Dropping it stops the checker too.
#[derive(Debug)]
pub struct CheckerHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl CheckerHandle {
    /// Stops the checker and waits until it has finished its current sweep, if any.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for CheckerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl<S: InstanceStorage + ?Sized + 'static> StorageModelRegistry<S> {
    /// Starts the heartbeat checker on the current tokio runtime.
    ///
    /// It sweeps every `heartbeat_interval`. A failed sweep is logged and retried after a
    /// back-off (1 s, doubling, at most the interval); the checker never stops on an error, only
    /// when its handle is shut down or dropped.
    pub fn start_checker(self: &Arc<Self>) -> CheckerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let registry = Arc::clone(self);
        let task = tokio::spawn(async move {
            let interval = registry.config().heartbeat_interval;
            let mut wait = interval;
            let mut failures: u32 = 0;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(wait) => {}
                }
                let started = tokio::time::Instant::now();
                match registry.sweep().await {
                    Ok(outcome) => {
                        if failures > 0 {
                            tracing::info!(failures, "heartbeat sweep recovered");
                        }
                        if outcome.expired > 0 || outcome.removed > 0 {
                            tracing::info!(
                                expired = outcome.expired,
                                removed = outcome.removed,
                                "heartbeat sweep"
                            );
                        }
                        failures = 0;
                        // Sweeps start every interval, however long a sweep takes, so an
                        // instance is expired at most timeout + interval after its last beat.
                        wait = interval.saturating_sub(started.elapsed());
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        wait = retry_delay(failures, interval);
                        tracing::warn!(%error, failures, retry_in = ?wait, "heartbeat sweep failed");
                    }
                }
            }
        });
        CheckerHandle {
            stop,
            task: Some(task),
        }
    }
}

fn retry_delay(failures: u32, interval: Duration) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_the_interval() {
        let interval = Duration::from_secs(20);
        let delays: Vec<u64> = (1..=7)
            .map(|n| retry_delay(n, interval).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 20, 20]);
        assert_eq!(retry_delay(u32::MAX, interval), interval);
    }
}
