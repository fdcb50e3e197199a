//! Any started process, watched line by line: stdout read for the caller, stderr echoed to
//! this process's and kept (its end). Killed when dropped.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much of a process's stderr is kept (the end of it).
const KEPT_STDERR: usize = 1 << 20;

/// A line the process wrote.
pub(crate) enum Line {
    Out(String),
    Err(String),
}

/// A started process; killed when dropped if still running.
pub struct Process {
    pub(crate) child: Child,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<String>>,
}

impl Process {
    /// Starts `command` with stdout and stderr piped: stderr is echoed to this process's and
    /// kept.
    pub fn spawn(mut command: Command) -> std::io::Result<Self> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting {program}: {e}")))?;
        let (sender, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let out = sender.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = out.send(Line::Out(line));
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&stderr);
        let err = BufReader::new(child.stderr.take().expect("piped stderr"));
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                eprintln!("{line}");
                keep(&kept, &line);
                let _ = sender.send(Line::Err(line));
            }
        });
        Ok(Self {
            child,
            lines,
            stderr,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything kept of what the process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next line within `limit`; `Ok(None)` once both streams have ended.
    pub(crate) fn next_line(&mut self, limit: Duration) -> Result<Option<Line>, String> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(format!("no output within {limit:?}")),
        }
    }

    /// Waits for a line on stderr containing `text`; an error if the process ends first, or
    /// after `limit`.
    pub fn try_wait_for_log(&mut self, text: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left)? {
                Some(Line::Err(line)) if line.contains(text) => return Ok(line),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "exited without logging {text:?}:\n{}",
                        self.stderr()
                    ));
                }
            }
        }
    }

    /// [`try_wait_for_log`](Self::try_wait_for_log), panicking on an error.
    pub fn wait_for_log(&mut self, text: &str, limit: Duration) -> String {
        self.try_wait_for_log(text, limit)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends the signal `name` (`TERM`, `INT`, `KILL`) with `kill`, without waiting.
    pub fn try_signal(&self, name: &str) -> std::io::Result<()> {
        let pid = self.pid();
        let sent = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()?;
        if !sent.success() {
            return Err(std::io::Error::other(format!("kill -{name} {pid} failed")));
        }
        Ok(())
    }

    /// [`try_signal`](Self::try_signal), panicking on an error.
    pub fn signal(&self, name: &str) {
        self.try_signal(name).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The exit status, if the process ends within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits, at most `limit`, for the process to exit and for its output to end; returns its
    /// status and everything kept of its stderr. Panics after `limit`.
    pub fn exit(mut self, limit: Duration) -> (ExitStatus, String) {
        let status = self
            .wait_exit(limit)
            .unwrap()
            .unwrap_or_else(|| panic!("still running after {limit:?}"));
        while let Ok(Some(_)) = self.next_line(Duration::from_secs(30)) {}
        (status, self.stderr())
    }

    /// Waits for the process to exit.
    pub fn wait(mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(self) -> ExitStatus {
        self.signal("TERM");
        self.wait()
    }

    /// Whether the process still runs (a crash, such as SIGBUS, ends it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Appends `line` to `kept`, dropping its oldest half when it grows past [`KEPT_STDERR`].
fn keep(kept: &Mutex<String>, line: &str) {
    let mut kept = kept.lock().unwrap();
    if kept.len() + line.len() > KEPT_STDERR {
        let mut cut = kept.len() / 2;
        while !kept.is_char_boundary(cut) {
            cut += 1;
        }
        kept.drain(..cut);
    }
    kept.push_str(line);
    kept.push('\n');
}
