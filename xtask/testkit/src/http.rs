//! An HTTP/1.1 client for tests over ureq: any method, any headers, any body, and every answer
//! returned as it came (status, headers, body), 4xx and 5xx included. Connections are kept
//! alive and reused, so a load generator can run on it. No redirects are followed and no proxy
//! from the environment is used: a test sees what the server answered.

use std::net::SocketAddr;
use std::time::Duration;

use ureq::Agent;
use ureq::http::{Method, Request as HttpRequest};

/// What can go wrong below HTTP: connecting, timing out, a malformed answer.
pub type Error = ureq::Error;

/// The patience of [`Client::new`]: long enough for a loaded CI machine, short enough that a
/// hung server fails the test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one server.
#[derive(Clone)]
pub struct Client {
    agent: Agent,
    address: SocketAddr,
}

/// A response: status, headers (names in lower case) and the body as text.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, decoded lossily as UTF-8.
    pub body: String,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON; `Value::Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A request: method, path (with its query), extra headers and an optional body with its
/// content type.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Any method, standard or not.
    pub method: &'a str,
    /// The path and query, starting with `/`.
    pub path: &'a str,
    /// Headers beyond those the client sends itself (`Host`, `Content-Length`, …).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body and its content type.
    pub body: Option<(&'a str, &'a [u8])>,
}

impl Client {
    /// A client of the server at `address`, patient for [`DEFAULT_TIMEOUT`] per request.
    pub fn new(address: SocketAddr) -> Self {
        Self::with_timeout(address, DEFAULT_TIMEOUT)
    }

    /// A client of the server at `address` whose every request (connecting included) ends
    /// with an error after `timeout`.
    pub fn with_timeout(address: SocketAddr, timeout: Duration) -> Self {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .allow_non_standard_methods(true)
            .timeout_global(Some(timeout))
            .build()
            .new_agent();
        Self { agent, address }
    }

    /// The server's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, Error> {
        self.send(&Request {
            method: "GET",
            path,
            headers: &[],
            body: None,
        })
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&self, path: &str, body: &str) -> Result<Response, Error> {
        self.send(&Request {
            method: "POST",
            path,
            headers: &[],
            body: Some(("application/json", body.as_bytes())),
        })
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Response, Error> {
        self.send(&Request {
            method: "DELETE",
            path,
            headers: &[],
            body: None,
        })
    }

    /// Sends `request` and reads the whole answer, whatever its status.
    pub fn send(&self, request: &Request<'_>) -> Result<Response, Error> {
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|e| Error::BadUri(format!("method {:?}: {e}", request.method)))?;
        let mut builder = HttpRequest::builder()
            .method(method)
            .uri(format!("http://{}{}", self.address, request.path));
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let mut response = match request.body {
            Some((content_type, body)) => {
                let request = builder
                    .header("content-type", content_type)
                    .body(body.to_vec())?;
                self.agent.run(request)?
            }
            None => self.agent.run(builder.body(())?)?,
        };
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?;
        Ok(Response {
            status: response.status().as_u16(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Sends a request and returns its status and body, panicking if there was no answer: for
    /// tests, where no answer is a failure.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.request_with(method, path, body, &[])
    }

    /// [`request`](Self::request) with extra headers.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let answer = self
            .send(&Request {
                method,
                path,
                headers,
                body: body.map(|body| ("application/json", body.as_bytes())),
            })
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.address));
        (answer.status, answer.body)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::{Client, Request};

    /// Serves one canned answer to the first request on a loopback socket; returns the
    /// request's bytes through the join handle.
    fn serve_once(answer: &'static str) -> (std::net::SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0_u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .map_or(0, |length| length.trim().parse().unwrap());
            let mut body = vec![0_u8; length];
            stream.read_exact(&mut body).unwrap();
            request.extend(body);
            stream.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (address, handle)
    }

    #[test]
    fn reads_a_chunked_5xx_body_and_its_headers() {
        let (address, _) = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        );
        let answer = Client::new(address).get("/").unwrap();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert_eq!(answer.body, "{\"a\":1}");
        assert_eq!(answer.json()["a"], 1);
    }

    #[test]
    fn sends_any_header_and_body_and_reads_a_body_by_its_length() {
        let (address, request) =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ntrue");
        let answer = Client::new(address)
            .send(&Request {
                method: "POST",
                path: "/api/controller/models",
                headers: &[("Origin", "http://example")],
                body: Some(("text/plain", b"x")),
            })
            .unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "true"));
        let request = request.join().unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /api/controller/models http/1.1\r\n"));
        assert!(request.contains("origin: http://example\r\n"), "{request}");
        assert!(
            request.contains("content-type: text/plain\r\n"),
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\nx"), "{request}");
    }
}
