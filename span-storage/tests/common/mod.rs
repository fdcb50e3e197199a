//! Test doubles shared by the container and fault tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use span_storage::{Span, SpanStorage, SpanStorageError};

/// A storage that holds its caller (the flush thread) inside `append_spans` until opened.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, usize)>,
    changed: Condvar,
    /// Spans taken once the gate opened.
    pub seen: AtomicU64,
}

impl Gate {
    /// Lets every held and later call through.
    pub fn open(&self) {
        self.state.lock().expect("lock").0 = true;
        self.changed.notify_all();
    }

    /// Waits until a call is held at the gate.
    pub fn wait_entered(&self) {
        let mut state = self.state.lock().expect("lock");
        while state.1 == 0 {
            state = self.changed.wait(state).expect("wait");
        }
    }
}

impl SpanStorage for Gate {
    fn append_span(&self, span: &Span) -> Result<(), SpanStorageError> {
        self.append_spans(std::slice::from_ref(span))
    }

    fn append_spans(&self, spans: &[Span]) -> Result<(), SpanStorageError> {
        let mut state = self.state.lock().expect("lock");
        state.1 += 1;
        self.changed.notify_all();
        while !state.0 {
            state = self.changed.wait(state).expect("wait");
        }
        self.seen.fetch_add(spans.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}
