//! A socket for bytes no HTTP client sends: a body declared and never sent, a request held
//! half written. It reads no more of an answer than its status line.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// One connection to one server.
pub(crate) struct RawConnection {
    reader: BufReader<TcpStream>,
}

impl RawConnection {
    /// Connects to `address`; reads and writes give up after `timeout`.
    pub(crate) fn open(address: SocketAddr, timeout: Duration) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&address, timeout)
            .with_context(|| format!("connecting to {address}"))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Self {
            reader: BufReader::new(stream),
        })
    }

    /// Writes `bytes` as they are.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.reader.get_mut().write_all(bytes)?;
        Ok(())
    }

    /// The status of the answer: its status line's code.
    pub(crate) fn read_status(&mut self) -> Result<u16> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("connection closed before an answer");
        }
        line.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))
    }
}
