//! Keeping a span file whole lines after a failed write.
//!
//! A write that fails part-way (a full disk: `ENOSPC` after some bytes) leaves a torn line at
//! the end of the file; the next batch would be glued onto it and the file corrupted mid-way.
//! After a failed write the file is truncated back to its length before the batch. That is
//! the robust choice: the file keeps only whole lines (DB-GPT's reader, which parses every
//! line, keeps working), the batch is either all in the file or not at all (so the failed
//! count is exact and a retry never duplicates lines), and shrinking a file frees space rather
//! than needing it. Only when the truncation fails too (the file is not a regular file, or it
//! vanished) is the file remembered as left mid-line, and the next write starts with `\n`.

use std::fs::File;
use std::io::{self, Write};

/// Where span lines go: a writer whose length can be read and cut back.
pub(crate) trait LineSink: Write {
    /// The current length in bytes.
    fn len(&mut self) -> io::Result<u64>;
    /// Cuts the sink back to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl LineSink for File {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        // The file is opened for appending, so the next write lands at the new end.
        self.set_len(len)
    }
}

/// Appends `lines` (whole lines) to `sink` so that the sink never ends mid-line afterwards,
/// or, failing that, so that `mid_line` records that it does and the next call repairs it.
pub(crate) fn append_whole_lines<S: LineSink>(
    sink: &mut S,
    lines: &[u8],
    mid_line: &mut bool,
) -> io::Result<()> {
    if *mid_line {
        sink.write_all(b"\n")?;
        *mid_line = false;
    }
    let before = sink.len()?;
    let Err(error) = sink.write_all(lines) else {
        return Ok(());
    };
    let torn = match sink.len() {
        Ok(now) if now == before => false,
        Ok(_) | Err(_) => sink.truncate(before).is_err(),
    };
    *mid_line = torn;
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::{LineSink, append_whole_lines};
    use std::fs::{File, OpenOptions};
    use std::io::{self, Write};

    /// A real file that takes only `room` more bytes, then fails as a full disk does.
    struct FullAfter {
        file: File,
        room: usize,
        can_truncate: bool,
    }

    impl Write for FullAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.file.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.file.flush()
        }
    }

    impl LineSink for FullAfter {
        fn len(&mut self) -> io::Result<u64> {
            self.file.len()
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            if self.can_truncate {
                self.file.truncate(len)
            } else {
                Err(io::Error::other("cannot truncate"))
            }
        }
    }

    fn sink(can_truncate: bool) -> (tempfile::TempDir, std::path::PathBuf, FullAfter) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spans.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open");
        let sink = FullAfter {
            file,
            room: 10,
            can_truncate,
        };
        (dir, path, sink)
    }

    #[test]
    fn a_torn_batch_is_cut_back_and_the_next_batch_starts_clean() {
        let (_dir, path, mut sink) = sink(true);
        let mut mid_line = false;
        append_whole_lines(&mut sink, b"{\"a\": 1}\n", &mut mid_line).expect("fits");
        // The disk fills after one more byte: the second batch is torn.
        let err = append_whole_lines(&mut sink, b"{\"b\": 2}\n{\"c\": 3}\n", &mut mid_line)
            .expect_err("full");
        assert_eq!(err.raw_os_error(), Some(28));
        assert!(!mid_line);
        assert_eq!(std::fs::read(&path).expect("read"), b"{\"a\": 1}\n");
        // Space comes back.
        sink.room = usize::MAX;
        append_whole_lines(&mut sink, b"{\"d\": 4}\n", &mut mid_line).expect("room again");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            b"{\"a\": 1}\n{\"d\": 4}\n"
        );
    }

    #[test]
    fn when_truncation_fails_the_next_batch_starts_on_a_new_line() {
        let (_dir, path, mut sink) = sink(false);
        let mut mid_line = false;
        append_whole_lines(&mut sink, b"{\"a\": 1}\n", &mut mid_line).expect("fits");
        append_whole_lines(&mut sink, b"{\"b\": 2}\n", &mut mid_line).expect_err("full");
        assert!(mid_line);
        // Still full: the repair newline itself fails and is tried again next time.
        append_whole_lines(&mut sink, b"{\"c\": 3}\n", &mut mid_line).expect_err("full");
        assert!(mid_line);
        sink.room = usize::MAX;
        append_whole_lines(&mut sink, b"{\"d\": 4}\n", &mut mid_line).expect("room again");
        assert!(!mid_line);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"a\": 1}\n{\n{\"d\": 4}\n");
        let whole: Vec<&str> = text.lines().filter(|l| l.ends_with('}')).collect();
        assert_eq!(whole, ["{\"a\": 1}", "{\"d\": 4}"]);
    }
}
