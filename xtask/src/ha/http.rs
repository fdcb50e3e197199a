//! A minimal HTTP/1.1 client on one keep-alive connection: enough for a load generator with
//! thousands of requests per second and no dependencies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// One keep-alive connection to one server.
pub(crate) struct Connection {
    address: SocketAddr,
    reader: BufReader<TcpStream>,
}

/// A response's status and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Connection {
    pub(crate) fn open(address: SocketAddr, timeout: Duration) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&address, timeout)
            .with_context(|| format!("connecting to {address}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Self {
            address,
            reader: BufReader::new(stream),
        })
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    pub(crate) fn get(&mut self, path: &str) -> Result<Response> {
        self.send("GET", path, None)
    }

    pub(crate) fn post_json(&mut self, path: &str, body: &str) -> Result<Response> {
        self.send("POST", path, Some(body))
    }

    fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Response> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        if let Some(body) = body {
            request.push_str("Content-Type: application/json\r\n");
            request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        } else {
            request.push_str("\r\n");
        }
        self.reader.get_mut().write_all(request.as_bytes())?;
        self.read_response()
    }

    fn read_response(&mut self) -> Result<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("connection closed by {}", self.address);
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = 0_usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().context("bad content-length")?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// A heartbeat body for instance number `i` of the simulated fleet.
pub(crate) fn instance_body(i: usize) -> String {
    format!(
        r#"{{"model_name":"model-{}","host":"10.{}.{}.1","port":{}}}"#,
        i % 10,
        i / 60_000,
        (i / 250) % 250,
        1 + i % 60_000
    )
}
