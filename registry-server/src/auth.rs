//! The optional token on write routes (and, when configured, on reads).
//!
//! The token is accepted as `Authorization: Bearer TOKEN`, or as HTTP Basic credentials with
//! the token as the password and any user name. The Basic form is what lets DB-GPT's own
//! workers, API server and CLI authenticate unchanged: they send no header of their own, but
//! httpx and requests turn credentials in the URL (`http://registry:TOKEN@host:8000`) into
//! Basic auth. Tokens are compared byte for byte, exactly as configured: neither side is
//! trimmed, and configuration refuses a token with surrounding white space.

use axum::http::{HeaderMap, header};
use base64::Engine as _;

use crate::error::AppError;

/// Who may call which routes.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<String>,
    protect_reads: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("protect_reads", &self.protect_reads)
            .finish()
    }
}

impl Auth {
    /// No token: every route is open.
    pub fn open() -> Self {
        Self::default()
    }

    /// Writes need the token; reads too when `protect_reads` is set. An empty token counts as
    /// none.
    pub fn new(token: Option<String>, protect_reads: bool) -> Self {
        Self {
            token: token.filter(|token| !token.is_empty()),
            protect_reads,
        }
    }

    /// Checks a request's headers; `write` says whether the route changes the registry.
    pub(crate) fn check(&self, headers: &HeaderMap, write: bool) -> Result<(), AppError> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        if !write && !self.protect_reads {
            return Ok(());
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(presented_token);
        match presented {
            Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
            _ => Err(AppError::Unauthorized),
        }
    }
}

/// The token in an `Authorization` value: a bearer token, or a Basic password.
fn presented_token(value: &str) -> Option<String> {
    let (scheme, credentials) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

/// Compares without returning early, so the time taken does not tell how much of a guess was
/// right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn writes_need_the_token_and_reads_stay_open() {
        let auth = Auth::new(Some("s3cret".into()), false);
        assert!(auth.check(&HeaderMap::new(), false).is_ok());
        assert!(auth.check(&HeaderMap::new(), true).is_err());
        assert!(auth.check(&headers("Bearer wrong"), true).is_err());
        assert!(auth.check(&headers("Basic s3cret"), true).is_err());
        assert!(auth.check(&headers("Bearer s3cret"), true).is_ok());
        assert!(auth.check(&headers("bearer s3cret"), true).is_ok());
        assert!(auth.check(&headers("Bearer s3cret "), true).is_err());
    }

    #[test]
    fn the_token_is_also_a_basic_password_with_any_user() {
        let auth = Auth::new(Some("s3cret".into()), false);
        let basic = |credentials: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            headers(&format!("Basic {encoded}"))
        };
        assert!(auth.check(&basic("registry:s3cret"), true).is_ok());
        assert!(auth.check(&basic(":s3cret"), true).is_ok());
        assert!(auth.check(&basic("registry:wrong"), true).is_err());
        assert!(auth.check(&basic("s3cret"), true).is_err());
        assert!(auth.check(&headers("Basic !!!"), true).is_err());
    }

    #[test]
    fn reads_can_be_protected_and_an_empty_token_is_none() {
        let auth = Auth::new(Some("t".into()), true);
        assert!(auth.check(&HeaderMap::new(), false).is_err());
        assert!(
            Auth::new(Some(String::new()), true)
                .check(&HeaderMap::new(), true)
                .is_ok()
        );
    }
}
