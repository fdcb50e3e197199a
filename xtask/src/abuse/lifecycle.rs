//! Stopping: SIGTERM while a client holds a request half sent.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Suite;
use super::fixture::{Storage, Store};
use super::raw::RawConnection;
use super::report::Report;

/// 11. A client holds a half-sent body; SIGTERM; the process exits 0 within the drain timeout.
pub(crate) fn drain(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    const DRAIN: Duration = Duration::from_secs(2);
    const SLACK: Duration = Duration::from_secs(3);
    let store = Store::new(storage, "drain")?;
    let mut server = store.start(suite, &["--drain-timeout", "2s"])?;
    let mut held = RawConnection::open(server.address, Duration::from_secs(10))?;
    let head = format!(
        "POST /api/controller/heartbeat HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model_na",
        server.address
    );
    held.write(head.as_bytes())?;
    // Let the server read the head and start waiting for the rest of the body.
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    server.terminate()?;
    let exit = server.wait_exit(DRAIN + SLACK + Duration::from_secs(5))?;
    let took = signalled.elapsed();
    match exit {
        Some(status) => {
            report.holds(
                "after SIGTERM the process",
                &format!("ended with {status}"),
                "exit status: 0",
                status.success(),
            );
            report.within("exited after SIGTERM in", took, DRAIN + SLACK);
        }
        None => report.holds(
            "after SIGTERM the process",
            &format!("still ran {} ms later", took.as_millis()),
            &format!("exit within {} ms", (DRAIN + SLACK).as_millis()),
            false,
        ),
    }
    drop(held);
    Ok(())
}
