//! A write handed to a storage's own writer thread, awaited without holding a thread.
//!
//! A storage that writes through a dedicated thread (a SQL storage's group commit) takes the
//! instance by value and answers through a [`WriteReply`]; the caller awaits the matching
//! [`QueuedWrite`]. Compared with running the blocking call on a thread pool, no thread waits
//! while the write is queued, and calls that arrive while one batch is written are gathered
//! into the next.

use tokio::sync::oneshot;

use super::StorageError;
use crate::instance::ValidInstance;

type Outcome = Result<ValidInstance, StorageError>;

/// Where a storage's writer sends the result of one queued write.
#[derive(Debug)]
pub struct WriteReply {
    sender: oneshot::Sender<Outcome>,
}

/// The result of one queued write, to be awaited.
#[derive(Debug)]
pub struct QueuedWrite {
    receiver: oneshot::Receiver<Outcome>,
}

/// A reply and the write that awaits it.
pub fn queued_write() -> (WriteReply, QueuedWrite) {
    let (sender, receiver) = oneshot::channel();
    (WriteReply { sender }, QueuedWrite { receiver })
}

impl WriteReply {
    /// Whether the caller stopped waiting (its request was cancelled or timed out): its write
    /// was never acknowledged, so a storage may skip it.
    pub fn is_abandoned(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends the result: the instance back once it is written, or why it was not.
    pub fn send(self, result: Result<ValidInstance, StorageError>) {
        // A caller that stopped waiting (its request was cancelled) needs no answer.
        let _ = self.sender.send(result);
    }
}

impl QueuedWrite {
    /// A write that is already done (for a storage without a writer thread).
    pub fn done(result: Result<ValidInstance, StorageError>) -> Self {
        let (reply, write) = queued_write();
        reply.send(result);
        write
    }

    /// Whether the result has arrived, so that [`written`](Self::written) returns at once.
    pub fn is_answered(&self) -> bool {
        !self.receiver.is_empty()
    }

    /// Waits for the write; the instance comes back once it is written.
    pub async fn written(self) -> Result<ValidInstance, StorageError> {
        self.receiver.await.unwrap_or_else(|_| {
            Err(StorageError::Backend(
                "the storage's writer stopped before answering".to_owned(),
            ))
        })
    }
}
