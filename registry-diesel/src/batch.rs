//! Group commit of registers and heartbeats, on every backend.
//!
//! On a database server every commit costs a log write, and on MySQL/MariaDB most of a
//! heartbeat's time is its commit. So calls that arrive together are written together: a few
//! callers at a time lead, each writing everything queued (up to [`MAX_BATCH`] instances) as
//! one multi-row upsert, one statement and one commit; the other callers wait for their
//! instance's result. A lone caller leads at once and writes its instance alone, so nothing
//! waits for company. A leader whose own instance is written hands the lead to the oldest
//! waiter, so no caller serves others for long.
//!
//! Each instance's write is still one atomic upsert keyed on `(model_name, host, port)`;
//! rows go in key order, so concurrent batches lock rows in one order and cannot deadlock.
//! If a batch fails for a reason other than the database being unavailable, its instances
//! are written one by one, so one bad instance cannot fail another caller's call.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use registry_core::{ModelInstance, StorageError};

use crate::time::Now;
use crate::upsert::{OnExisting, Upsert, UpsertRow};

/// The most instances one statement writes.
pub(crate) const MAX_BATCH: usize = 32;

/// One caller's instance and where its result goes.
struct Slot {
    instance: ModelInstance,
    now: Now,
    state: Mutex<State>,
    ready: Condvar,
}

enum State {
    /// In the queue; its caller waits.
    Queued,
    /// Its caller is a leader.
    Leading,
    /// Its caller was asked to lead.
    Promoted,
    /// Written, or failed; the result is taken once.
    Done(Option<Result<(), StorageError>>),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves the data consistent, so a poisoned lock is usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    fn finish(&self, result: Result<(), StorageError>) {
        *lock(&self.state) = State::Done(Some(result));
        self.ready.notify_one();
    }

    fn is_done(&self) -> bool {
        matches!(*lock(&self.state), State::Done(_))
    }

    /// Asks a waiting caller to lead; false if its caller is not waiting.
    fn promote(&self) -> bool {
        let mut state = lock(&self.state);
        if matches!(*state, State::Queued) {
            *state = State::Promoted;
            self.ready.notify_one();
            return true;
        }
        false
    }

    /// Waits until the slot is written (its result) or its caller is asked to lead (`None`).
    fn wait(&self, until_done: bool) -> Option<Result<(), StorageError>> {
        let mut state = lock(&self.state);
        loop {
            match &mut *state {
                State::Done(result) => {
                    return Some(result.take().unwrap_or_else(|| {
                        Err(StorageError::Backend("result taken twice".to_owned()))
                    }));
                }
                State::Promoted if !until_done => {
                    *state = State::Leading;
                    return None;
                }
                _ => {
                    state = self
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }
}

struct Queue {
    waiting: VecDeque<Arc<Slot>>,
    leaders: usize,
}

/// Gathers one kind of upsert (registers or heartbeats) into group commits.
/// Where a batch's upsert runs: the storage's pooled connections. A trait, so that the
/// batcher knows how to group calls but not what a storage is made of.
pub(crate) trait RunsUpserts {
    /// Runs one (multi-row) upsert on a pooled connection.
    fn run_upsert(&self, upsert: &Upsert<'_>) -> Result<usize, StorageError>;
}

pub(crate) struct Batcher {
    on_existing: OnExisting,
    max_leaders: usize,
    queue: Mutex<Queue>,
}

impl Batcher {
    /// At most `max_leaders` statements of this kind run at once.
    pub(crate) fn new(on_existing: OnExisting, max_leaders: usize) -> Self {
        Self {
            on_existing,
            max_leaders: max_leaders.max(1),
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                leaders: 0,
            }),
        }
    }

    /// Writes one instance, together with whatever other calls are queued.
    pub(crate) fn submit(
        &self,
        storage: &impl RunsUpserts,
        instance: &ModelInstance,
        now: Now,
    ) -> Result<(), StorageError> {
        let slot = Arc::new(Slot {
            instance: instance.clone(),
            now,
            state: Mutex::new(State::Queued),
            ready: Condvar::new(),
        });
        let lead = {
            let mut queue = lock(&self.queue);
            queue.waiting.push_back(Arc::clone(&slot));
            if queue.leaders < self.max_leaders {
                queue.leaders += 1;
                *lock(&slot.state) = State::Leading;
                true
            } else {
                false
            }
        };
        if !lead {
            if let Some(result) = slot.wait(false) {
                return result;
            }
        }
        self.lead(storage, &slot)
    }

    fn lead(&self, storage: &impl RunsUpserts, own: &Slot) -> Result<(), StorageError> {
        loop {
            let batch: Vec<Arc<Slot>> = {
                let mut queue = lock(&self.queue);
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            if !batch.is_empty() {
                self.flush(storage, &batch);
            }
            let mut queue = lock(&self.queue);
            if queue.waiting.is_empty() {
                queue.leaders -= 1;
                break;
            }
            if own.is_done() {
                // The waiting slots that are not other leaders' get a leader in our place;
                // if there are none, those leaders write them.
                if !queue.waiting.iter().any(|slot| slot.promote()) {
                    queue.leaders -= 1;
                }
                break;
            }
        }
        own.wait(true)
            .unwrap_or_else(|| Err(StorageError::Backend("no result".to_owned())))
    }

    fn flush(&self, storage: &impl RunsUpserts, batch: &[Arc<Slot>]) {
        let mut rows: Vec<UpsertRow<'_>> = batch
            .iter()
            .map(|slot| UpsertRow::new(&slot.instance, slot.now))
            .collect();
        // Key order, one row per key (the last call's, which is no older): concurrent
        // batches then lock rows in one order, and PostgreSQL never updates a row twice.
        rows.sort_by(|a, b| a.key().cmp_key(&b.key()));
        rows.dedup_by(|later, earlier| {
            let same = later.key() == earlier.key();
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        let upsert = Upsert::new(&rows, self.on_existing);
        // A panic in the driver must not leave the waiting callers waiting forever.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| storage.run_upsert(&upsert)))
            .unwrap_or_else(|_| {
                Err(StorageError::Backend(
                    "the database driver panicked".to_owned(),
                ))
            });
        match outcome {
            Ok(_) => batch.iter().for_each(|slot| slot.finish(Ok(()))),
            Err(error) if batch.len() > 1 && !error.is_retryable() => {
                for slot in batch {
                    let row = [UpsertRow::new(&slot.instance, slot.now)];
                    let single = Upsert::new(&row, self.on_existing);
                    slot.finish(storage.run_upsert(&single).map(drop));
                }
            }
            Err(error) => {
                for slot in batch {
                    slot.finish(Err(error.clone()));
                }
            }
        }
    }
}
