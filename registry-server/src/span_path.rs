//! Which requests DB-GPT's tracer middleware traces, and the path it records for them.
//!
//! DB-GPT's `TraceIDMiddleware` reads Starlette's `request.url.path`: the request path as
//! uvicorn percent-decodes it (`urllib.parse.unquote`: UTF-8, bad bytes replaced), with `?`,
//! `#` and `\` encoded again and tabs and line breaks dropped (by `urllib.parse.urlsplit`). It
//! traces a path that starts with `/api`, but not heartbeats and health checks.

use std::borrow::Cow;

/// The paths DB-GPT's middleware leaves untraced though they start with `/api`.
const UNTRACED: [&str; 2] = ["/api/controller/heartbeat", "/api/health"];

/// The path DB-GPT records for a request whose raw (still percent-encoded) path is `raw`.
pub(crate) fn recorded_path(raw: &str) -> Cow<'_, str> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'%' | b'?' | b'#' | b'\\' | b'\t' | b'\r' | b'\n'))
    {
        return Cow::Borrowed(raw);
    }
    let decoded = percent_decode(raw);
    let mut path = String::with_capacity(decoded.len() + 8);
    for c in String::from_utf8_lossy(&decoded).chars() {
        match c {
            '?' => path.push_str("%3F"),
            '#' => path.push_str("%23"),
            '\\' => path.push_str("%5C"),
            '\t' | '\r' | '\n' => {}
            c => path.push(c),
        }
    }
    Cow::Owned(path)
}

/// Whether DB-GPT's middleware traces a request to `path` (as [`recorded_path`] gives it).
pub(crate) fn is_traced(path: &str) -> bool {
    path.starts_with("/api") && !UNTRACED.contains(&path)
}

/// `%XX` (two hex digits, either case) becomes the byte; any other `%` stays as it is.
fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_traced, recorded_path};

    #[test]
    fn the_path_is_decoded_as_starlette_gives_it() {
        assert_eq!(
            recorded_path("/api/controller/models"),
            "/api/controller/models"
        );
        assert_eq!(recorded_path("/api/a%20b/%C3%A9"), "/api/a b/é");
        assert_eq!(recorded_path("/api/a%3Fb%23c%5Cd"), "/api/a%3Fb%23c%5Cd");
        assert_eq!(recorded_path("/api/x%09y%0A"), "/api/xy");
        assert_eq!(recorded_path("/api/%zz%4"), "/api/%zz%4");
        assert_eq!(recorded_path("/api/%FF"), "/api/\u{fffd}");
    }

    #[test]
    fn api_paths_are_traced_but_heartbeats_and_health() {
        for path in [
            "/api/controller/models",
            "/api/nope",
            "/apix",
            "/api/health/",
        ] {
            assert!(is_traced(path), "{path}");
        }
        for path in [
            "/api/controller/heartbeat",
            "/api/health",
            "/metrics",
            "/",
            "/v1/models",
        ] {
            assert!(!is_traced(path), "{path}");
        }
    }
}
