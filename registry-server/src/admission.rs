//! What a request must pass before a handler (or span storage) spends anything on it: a
//! declared body within the limit, a browser write from its own origin, a JSON body on JSON
//! routes, and a body that arrives within the body read timeout.

use std::future::Future as _;
use std::task::Poll;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::error::AppError;
use registry_wire::{Place, Problem};

/// The request rules, from the settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestPolicy {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest time a request's body may take to arrive.
    pub body_read_timeout: Duration,
    /// Host names, besides IP addresses and `localhost`, that browsers may write through.
    pub allowed_hosts: Vec<String>,
    /// Longest a request waits on the storage before it is answered 503: the pool's
    /// connection timeout plus the statement timeout.
    pub storage_deadline: Duration,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        Self {
            body_limit: crate::DEFAULT_BODY_LIMIT,
            body_read_timeout: Duration::from_secs(10),
            allowed_hosts: Vec::new(),
            storage_deadline: Duration::from_secs(5),
        }
    }
}

impl RequestPolicy {
    /// A `Content-Length` over the limit is refused before a byte of the body is read.
    pub(crate) fn check_declared_length(&self, headers: &HeaderMap) -> Result<(), AppError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        match declared {
            Some(length) if length > self.body_limit as u64 => Err(AppError::BodyTooLarge {
                limit: self.body_limit,
            }),
            _ => Ok(()),
        }
    }

    /// A browser always sends `Origin` with a write. Such a write is only taken from a page
    /// the server itself served (Origin matches Host), and only under a Host that is an IP
    /// address, `localhost` or an allowed name: a page on another site cannot write (CSRF),
    /// and neither can one that re-pointed its own name at this server (DNS rebinding).
    /// Workers and command-line clients send no `Origin` and are not affected.
    pub(crate) fn check_origin(&self, headers: &HeaderMap) -> Result<(), AppError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or_default();
        let origin_authority = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or_default();
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if origin_authority.is_empty() || !origin_authority.eq_ignore_ascii_case(host) {
            return Err(AppError::Forbidden(
                "cross-site write refused: the Origin header does not match the Host".into(),
            ));
        }
        if !self.host_allowed(host) {
            return Err(AppError::Forbidden(format!(
                "browser write through host {host:?} refused: add it to allowed_hosts"
            )));
        }
        Ok(())
    }

    fn host_allowed(&self, authority: &str) -> bool {
        let name = host_name(authority).to_ascii_lowercase();
        name == "localhost"
            || name.parse::<std::net::IpAddr>().is_ok()
            || self.allowed_hosts.contains(&name)
    }

    /// Reads the whole body within the size limit and the body read timeout.
    pub(crate) async fn read_body(
        &self,
        request: Request,
    ) -> Result<(axum::http::request::Parts, Bytes), AppError> {
        let (parts, body) = request.into_parts();
        let mut collect = std::pin::pin!(Limited::new(body, self.body_limit).collect());
        // A small body (a heartbeat's few hundred bytes) usually arrived with its headers: it
        // is taken at the first poll without arming the body timer, which would cost a timer
        // insertion and removal on every request. Only a body still on its way gets the timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
        let collected = match first {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => tokio::time::timeout(self.body_read_timeout, collect).await,
        };
        let bytes: Bytes = match collected {
            Err(_) => {
                return Err(AppError::BodyTimeout {
                    timeout: self.body_read_timeout,
                });
            }
            Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(AppError::BodyTooLarge {
                    limit: self.body_limit,
                });
            }
            Ok(Err(error)) => return Err(AppError::BodyUnreadable(error.to_string())),
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        Ok((parts, bytes))
    }
}

/// Whether a route that takes a JSON body got one. DB-GPT's controller (FastAPI) answers 422
/// about the body when `Content-Type` is absent or not JSON (`application/json` or
/// `application/*+json`), and so does this; it also keeps browsers' cross-site "simple"
/// requests (text/plain, forms) out.
pub(crate) fn check_json_content_type(headers: &HeaderMap, body: &[u8]) -> Result<(), AppError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::as_bytes)
        .unwrap_or_default()
        .split(|byte| *byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    // Compared without allocating: media types are case-insensitive ASCII.
    let starts = |prefix: &[u8]| {
        media_type
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &[u8]| {
        media_type
            .len()
            .checked_sub(suffix.len())
            .is_some_and(|at| media_type[at..].eq_ignore_ascii_case(suffix))
    };
    let is_json = media_type.eq_ignore_ascii_case(b"application/json")
        || (starts(b"application/") && ends(b"+json"));
    if is_json {
        Ok(())
    } else {
        // FastAPI's words: a body it does not read as JSON is a string, not a dictionary.
        Err(AppError::Wire(
            Problem::new(
                "dataclass_type",
                Place::Body,
                None,
                "Input should be a dictionary or an instance of ModelInstance",
            )
            .with_input(String::from_utf8_lossy(body).into_owned().into())
            .with_ctx(serde_json::json!({ "class_name": "ModelInstance" }))
            .into(),
        ))
    }
}

/// Whether requests of this method carry a body worth reading.
pub(crate) fn has_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused() {
        let policy = RequestPolicy::default();
        let big = headers(&[(header::CONTENT_LENGTH, "100000000")]);
        assert!(matches!(
            policy.check_declared_length(&big),
            Err(AppError::BodyTooLarge { .. })
        ));
        let small = headers(&[(header::CONTENT_LENGTH, "10")]);
        assert!(policy.check_declared_length(&small).is_ok());
    }

    #[test]
    fn browser_writes_need_their_own_origin_and_a_trusted_host() {
        let policy = RequestPolicy {
            allowed_hosts: vec!["registry.internal".into()],
            ..RequestPolicy::default()
        };
        let check = |origin: &str, host: &str| {
            policy.check_origin(&headers(&[(header::ORIGIN, origin), (header::HOST, host)]))
        };
        assert!(policy.check_origin(&HeaderMap::new()).is_ok());
        assert!(check("http://127.0.0.1:8000", "127.0.0.1:8000").is_ok());
        assert!(check("http://localhost:8000", "localhost:8000").is_ok());
        assert!(check("http://[::1]:8000", "[::1]:8000").is_ok());
        assert!(check("http://registry.internal:8000", "registry.internal:8000").is_ok());
        assert!(check("http://evil.example", "127.0.0.1:8000").is_err());
        assert!(check("null", "127.0.0.1:8000").is_err());
        // DNS rebinding: the attacker's name points at this server, so Origin matches Host.
        assert!(check("http://evil.example:8000", "evil.example:8000").is_err());
    }

    #[test]
    fn json_routes_take_only_json() {
        assert!(check_json_content_type(&HeaderMap::new(), b"").is_err());
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/merge+json",
        ] {
            assert!(
                check_json_content_type(&headers(&[(header::CONTENT_TYPE, ok)]), b"{}").is_ok()
            );
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let error =
                check_json_content_type(&headers(&[(header::CONTENT_TYPE, refused)]), b"{}")
                    .unwrap_err();
            let AppError::Wire(error) = error else {
                panic!("{refused}: {error:?}");
            };
            let detail = error.detail();
            assert_eq!(detail[0]["type"], "dataclass_type", "{refused}");
            assert_eq!(detail[0]["loc"], serde_json::json!(["body"]), "{refused}");
            assert_eq!(detail[0]["input"], "{}", "{refused}: the body, quoted");
        }
    }
}

/// A request body admission already read (within its size and time bounds), handed to the
/// handler as it is instead of being wrapped in a new body for the handler to read again.
#[derive(Debug, Clone)]
pub(crate) struct AdmittedBody(pub(crate) Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for AdmittedBody {
    type Rejection = AppError;

    async fn from_request(mut request: Request, state: &S) -> Result<Self, AppError> {
        if let Some(body) = request.extensions_mut().remove::<AdmittedBody>() {
            return Ok(body);
        }
        // Not admitted (a router built without the admission layer): read it here, with the
        // router's own body limit.
        let limit_hit = |rejection: &axum::extract::rejection::BytesRejection| {
            rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE
        };
        Bytes::from_request(request, state)
            .await
            .map(AdmittedBody)
            .map_err(|rejection| {
                if limit_hit(&rejection) {
                    AppError::BodyTooLarge {
                        limit: crate::DEFAULT_BODY_LIMIT,
                    }
                } else {
                    AppError::BodyUnreadable(rejection.body_text())
                }
            })
    }
}
