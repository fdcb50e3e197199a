//! Group commit of registers and heartbeats, on every backend.
//!
//! On a database server every commit costs a log write, and on MySQL/MariaDB most of a
//! heartbeat's time is its commit; on SQLite every commit takes the one write lock and appends
//! to the WAL. So calls that arrive together are written together. Each kind of upsert has its
//! own queue and writer threads (one per connection it may use at once, at most two): a writer
//! takes everything queued (up to [`MAX_BATCH`] instances) and writes it as one multi-row
//! upsert, one statement and one commit. A lone call is written at once, so nothing waits for
//! company; calls that arrive while a batch is written go together into the next.
//!
//! A caller either blocks until its instance is written ([`Batcher::submit`]; when no
//! statement of its kind is running, it writes on its own thread at once) or hands the
//! instance over and awaits it ([`Batcher::queue`]), which holds no thread while it waits.
//! The queue is bounded ([`MAX_QUEUED`]); a write whose caller stopped waiting is skipped.
//!
//! Each instance's write is still one atomic upsert keyed on `(model_name, host, port)`;
//! rows go in key order, so concurrent batches lock rows in one order and cannot deadlock.
//! If a batch fails for a reason other than the database being unavailable, its instances
//! are written one by one, so one bad instance cannot fail another caller's call. Dropping the
//! batcher closes its queue; the writers write what is queued, then stop.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use registry_core::{StorageError, ValidInstance, WriteReply};

use crate::time::Now;
use crate::upsert::{OnExisting, Upsert, UpsertRow};

/// The most instances one statement writes.
pub(crate) const MAX_BATCH: usize = 32;

/// The most calls one kind may have queued. While the database stalls, callers time out and
/// retry; past this many, a call fails at once as `Unavailable` instead of queueing, so a
/// stall cannot grow the queue without bound.
pub const MAX_QUEUED: usize = 4096;

/// Where a batch's upsert runs: the storage's pooled connections. A trait, so that the
/// batcher knows how to group calls but not what a storage is made of.
pub(crate) trait RunsUpserts: Send + Sync + 'static {
    /// Runs one (multi-row) upsert on a pooled connection.
    fn run_upsert(&self, upsert: &Upsert<'_>) -> Result<usize, StorageError>;
}

/// Where one call's result goes.
enum Reply {
    /// A caller blocked in [`Batcher::submit`].
    Blocked(Sender<Result<(), StorageError>>),
    /// A caller awaiting its instance back ([`Batcher::queue`]).
    Queued(WriteReply),
}

/// One call: its instance, its time, and its reply.
struct Job {
    instance: ValidInstance,
    now: Now,
    reply: Reply,
}

impl Job {
    /// Whether the caller stopped waiting: its write was never acknowledged and need not be
    /// made (after a stall, the queue then holds no stale writes to catch up on).
    fn is_abandoned(&self) -> bool {
        match &self.reply {
            Reply::Blocked(_) => false,
            Reply::Queued(reply) => reply.is_abandoned(),
        }
    }

    fn finish(self, result: Result<(), StorageError>) {
        match self.reply {
            // A caller that stopped waiting needs no answer.
            Reply::Blocked(sender) => drop(sender.send(result)),
            Reply::Queued(reply) => reply.send(result.map(|()| self.instance)),
        }
    }
}

/// What the writer threads and the callers who write on their own thread share.
struct Shared {
    queue: Receiver<Job>,
    /// One token for each statement of this kind that may run at once; whoever writes holds
    /// one, so a thread that writes at once never adds a statement beyond the writers'.
    free: Receiver<()>,
    returned: Sender<()>,
    runner: Arc<dyn RunsUpserts>,
    on_existing: OnExisting,
}

impl Shared {
    /// Writes `batch` and whatever is queued, up to [`MAX_BATCH`], as one statement; the
    /// caller holds a token.
    fn write(&self, batch: &mut Vec<Job>) {
        let room = MAX_BATCH.saturating_sub(batch.len());
        batch.extend(self.queue.try_iter().take(room));
        batch.retain(|job| !job.is_abandoned());
        if batch.is_empty() {
            return;
        }
        let results = flush(&*self.runner, batch, self.on_existing);
        for (job, result) in batch.drain(..).zip(results) {
            job.finish(result);
        }
    }
}

/// Gathers one kind of upsert (registers or heartbeats) into group commits.
pub(crate) struct Batcher {
    jobs: Option<Sender<Job>>,
    shared: Arc<Shared>,
    writers: Vec<JoinHandle<()>>,
}

impl Batcher {
    /// Starts `writers` threads (at least one) writing this kind of upsert through `runner`.
    pub(crate) fn start(
        on_existing: OnExisting,
        writers: usize,
        runner: Arc<dyn RunsUpserts>,
    ) -> std::io::Result<Self> {
        let writers = writers.max(1);
        let (jobs, queue) = crossbeam_channel::bounded(MAX_QUEUED);
        let (returned, free) = crossbeam_channel::bounded(writers);
        for _ in 0..writers {
            let _ = returned.send(());
        }
        let shared = Arc::new(Shared {
            queue,
            free,
            returned,
            runner,
            on_existing,
        });
        let name = match on_existing {
            OnExisting::Register => "sql-registers",
            OnExisting::Heartbeat | OnExisting::Replace => "sql-heartbeats",
        };
        let mut batcher = Self {
            jobs: Some(jobs),
            shared,
            writers: Vec::new(),
        };
        for _ in 0..writers {
            let shared = Arc::clone(&batcher.shared);
            let writer = std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || write_batches(&shared))?;
            batcher.writers.push(writer);
        }
        Ok(batcher)
    }

    /// Writes one instance, together with whatever other calls are queued, and waits for it.
    /// When no statement of this kind is running, the calling thread writes at once, sparing
    /// a lone caller two thread switches; otherwise the call queues for the writers.
    pub(crate) fn submit(&self, instance: &ValidInstance, now: Now) -> Result<(), StorageError> {
        let (sender, result) = crossbeam_channel::bounded(1);
        let job = Job {
            instance: instance.clone(),
            now,
            reply: Reply::Blocked(sender),
        };
        if self.shared.free.try_recv().is_ok() {
            self.shared.write(&mut vec![job]);
            let _ = self.shared.returned.send(());
        } else {
            self.send(job);
        }
        result.recv().unwrap_or_else(|_| Err(writers_stopped()))
    }

    /// Queues one instance; `reply` gets it back once it is written.
    pub(crate) fn queue(&self, instance: ValidInstance, now: Now, reply: WriteReply) {
        self.send(Job {
            instance,
            now,
            reply: Reply::Queued(reply),
        });
    }

    fn send(&self, job: Job) {
        let Some(jobs) = &self.jobs else {
            return job.finish(Err(writers_stopped()));
        };
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => job.finish(Err(StorageError::Unavailable(format!(
                "{MAX_QUEUED} writes are already waiting for the database"
            )))),
            // The writers only stop once the queue is closed, which happens when the batcher
            // is dropped; a send failing otherwise means they panicked outside a statement.
            Err(TrySendError::Disconnected(job)) => job.finish(Err(writers_stopped())),
        }
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        // Closing the queue lets the writers write what is queued, then stop.
        self.jobs = None;
        for writer in self.writers.drain(..) {
            let _ = writer.join();
        }
    }
}

fn writers_stopped() -> StorageError {
    StorageError::Backend("the storage's group-commit writers stopped".to_owned())
}

/// A writer thread: waits for a call, then for a token, and writes the call with whatever
/// else is queued; until the queue is closed and empty.
fn write_batches(shared: &Shared) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = shared.queue.recv() {
        // `shared` holds a sender of the tokens, so this never fails.
        let Ok(()) = shared.free.recv() else {
            return first.finish(Err(writers_stopped()));
        };
        batch.push(first);
        shared.write(&mut batch);
        let _ = shared.returned.send(());
    }
}

/// Writes one batch; one result per job, in the batch's order.
fn flush(
    runner: &dyn RunsUpserts,
    batch: &[Job],
    on_existing: OnExisting,
) -> Vec<Result<(), StorageError>> {
    let mut rows: Vec<UpsertRow<'_>> = batch
        .iter()
        .map(|job| UpsertRow::new(&job.instance, job.now))
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
    let upsert = Upsert::new(&rows, on_existing);
    match run_guarded(runner, &upsert) {
        Ok(_) => batch.iter().map(|_| Ok(())).collect(),
        Err(error) if batch.len() > 1 && !error.is_retryable() => batch
            .iter()
            .map(|job| {
                let row = [UpsertRow::new(&job.instance, job.now)];
                run_guarded(runner, &Upsert::new(&row, on_existing)).map(drop)
            })
            .collect(),
        Err(error) => batch.iter().map(|_| Err(error.clone())).collect(),
    }
}

/// Runs an upsert; a panic in the driver becomes an error, so the writer and its waiting
/// callers carry on.
fn run_guarded(runner: &dyn RunsUpserts, upsert: &Upsert<'_>) -> Result<usize, StorageError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| runner.run_upsert(upsert))).unwrap_or_else(|_| {
        Err(StorageError::Backend(
            "the database driver panicked".to_owned(),
        ))
    })
}
