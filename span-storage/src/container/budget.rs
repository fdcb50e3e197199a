//! The byte budget of the queue: spans are counted in bytes from the moment they are queued
//! until the storages have them, so a burst of big spans cannot grow memory past the budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How long a blocked append sleeps before it looks again, should a wake-up be missed.
const RECHECK: Duration = Duration::from_millis(20);

#[derive(Debug)]
pub(crate) struct ByteBudget {
    max: usize,
    used: AtomicUsize,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl ByteBudget {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            used: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    /// Takes `bytes` from the budget if they fit now.
    pub(crate) fn try_take(&self, bytes: usize) -> bool {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let Some(after) = used.checked_add(bytes).filter(|after| *after <= self.max) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(used, after, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    /// Takes `bytes`, waiting for room; `false` only if they can never fit.
    pub(crate) fn take_waiting(&self, bytes: usize) -> bool {
        if bytes > self.max {
            return false;
        }
        if self.try_take(bytes) {
            return true;
        }
        self.waiters.fetch_add(1, Ordering::AcqRel);
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.try_take(bytes) {
            guard = self
                .room
                .wait_timeout(guard, RECHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::AcqRel);
        true
    }

    /// Gives `bytes` back and wakes the appends waiting for room.
    pub(crate) fn give_back(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        if self.waiters.load(Ordering::Acquire) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.room.notify_all();
        }
    }

    /// The bytes in use.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}
