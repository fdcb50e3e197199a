//! A minimal HTTP/1.1 client on one keep-alive connection: enough for a load generator with
//! thousands of requests per second and no dependencies, and for requests no polite client
//! sends (any header, any method, any body).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// One keep-alive connection to one server.
pub(crate) struct Connection {
    address: SocketAddr,
    reader: BufReader<TcpStream>,
}

/// A response's status, headers and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Response {
    /// The first value of header `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A request: method, path, extra header lines and an optional body with its content type.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: Option<(&'a str, &'a [u8])>,
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
        self.request(&Request {
            method,
            path,
            headers: &[],
            body: body.map(|body| ("application/json", body.as_bytes())),
        })
    }

    /// Sends `request` and reads the answer.
    pub(crate) fn request(&mut self, request: &Request<'_>) -> Result<Response> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            request.method, request.path, self.address
        );
        for (name, value) in request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut bytes = Vec::with_capacity(head.len() + 64);
        match request.body {
            Some((content_type, body)) => {
                head.push_str(&format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                ));
                bytes.extend_from_slice(head.as_bytes());
                bytes.extend_from_slice(body);
            }
            None => {
                head.push_str("\r\n");
                bytes.extend_from_slice(head.as_bytes());
            }
        }
        self.reader.get_mut().write_all(&bytes)?;
        self.read_response()
    }

    /// Writes raw bytes (a request the caller composed, whole or in part).
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.reader.get_mut().write_all(bytes)?;
        Ok(())
    }

    /// Reads one response.
    pub(crate) fn read_response(&mut self) -> Result<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("connection closed by {}", self.address);
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let response = Response {
            status,
            headers,
            body: String::new(),
        };
        let body = if response
            .header("transfer-encoding")
            .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
        {
            self.read_chunked()?
        } else {
            let length: usize = match response.header("content-length") {
                Some(value) => value.parse().context("bad content-length")?,
                None => 0,
            };
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            body
        };
        Ok(Response {
            body: String::from_utf8_lossy(&body).into_owned(),
            ..response
        })
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size_text = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_text, 16)
                .with_context(|| format!("bad chunk size {line:?}"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if self.reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..])?;
            line.clear();
            self.reader.read_line(&mut line)?;
        }
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use super::{Connection, Request};

    /// Serves one canned answer to the first request on a loopback socket.
    fn serve_once(answer: &'static str) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).unwrap();
            stream.write_all(answer.as_bytes()).unwrap();
        });
        address
    }

    #[test]
    fn reads_a_chunked_body_and_its_headers() {
        let address = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        );
        let mut connection = Connection::open(address, Duration::from_secs(5)).unwrap();
        let answer = connection.get("/").unwrap();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert_eq!(answer.body, "{\"a\":1}");
    }

    #[test]
    fn reads_a_body_by_its_length() {
        let address = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue");
        let mut connection = Connection::open(address, Duration::from_secs(5)).unwrap();
        let answer = connection
            .request(&Request {
                method: "POST",
                path: "/api/controller/models",
                headers: &[("Origin", "http://example")],
                body: Some(("text/plain", b"x")),
            })
            .unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "true"));
    }
}
