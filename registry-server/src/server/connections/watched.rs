//! A client socket that tells the reaper when a request's first byte arrives and how long a
//! write has been waiting for the client to read.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Connection;

pub(super) struct Watched<F> {
    stream: TcpStream,
    connection: Arc<Connection>,
    now: F,
}

impl<F: Fn() -> u64> Watched<F> {
    pub(super) fn new(stream: TcpStream, connection: Arc<Connection>, now: F) -> Self {
        Self {
            stream,
            connection,
            now,
        }
    }

    fn saw_bytes(&self) {
        let connection = &self.connection;
        if connection.active.load(Ordering::Acquire) == 0
            && connection.first_byte_at.load(Ordering::Relaxed) == 0
        {
            connection
                .first_byte_at
                .store((self.now)(), Ordering::Relaxed);
        }
    }

    fn wrote<T>(&self, result: &Poll<io::Result<T>>) {
        let stalled = &self.connection.write_stalled_since;
        if result.is_pending() {
            if stalled.load(Ordering::Relaxed) == 0 {
                stalled.store((self.now)(), Ordering::Relaxed);
            }
        } else if stalled.load(Ordering::Relaxed) != 0 {
            stalled.store(0, Ordering::Relaxed);
        }
    }
}

impl<F: Fn() -> u64 + Unpin> AsyncRead for Watched<F> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.saw_bytes();
        }
        result
    }
}

impl<F: Fn() -> u64 + Unpin> AsyncWrite for Watched<F> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.wrote(&result);
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
