//! Who may make a request, and what every response tells the browser.
//!
//! - The token (`AIBT_API_TOKEN`): a bearer header or the login cookie, compared in constant
//!   time; a client that keeps failing is answered more and more slowly.
//! - The origin: a browser says where a state-changing request comes from; one from another
//!   site is refused, so a page elsewhere cannot post forms to a server running on this
//!   machine (which, without a token, would otherwise obey).
//! - The headers: a Content-Security-Policy that lets pages load only this server's own
//!   scripts, styles and images and never be framed, and `nosniff`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// The cookie a browser keeps the token in after `/login` (the web UI cannot send headers).
pub const TOKEN_COOKIE: &str = "aibt_token";

/// What the UI's pages may load: only this server's own files. No inline script, no inline
/// style but the one a vendored script injects (allowed by its hash, so nothing else
/// can slip in), no frames around them, forms posting only here.
const PAGE_POLICY: &str = "default-src 'self'; \
     style-src 'self' 'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The reports are self-contained documents (their styles are inside them) that run no
/// script at all.
pub const REPORT_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Compares without leaking, through timing, how much of a guess was right (or, since both
/// sides are hashed first, how long the secret is).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The token a request carries: `Authorization: Bearer`, or the login cookie.
fn given_token(request: &Request) -> Option<&str> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer.or_else(|| cookie(request.headers(), TOKEN_COOKIE))
}

/// The value of a cookie a request carries.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Routes open without a token: health, the login page, and the pages' static files.
fn open_route(path: &str) -> bool {
    path == "/healthz" || path == "/login" || path.starts_with("/static/")
}

/// Failed sign-ins per client address. After the first few, each answer waits twice as long
/// as the one before, up to [`SignIns::MAX_DELAY`]: a person who mistyped notices nothing,
/// a program guessing tokens gets a few guesses a minute. A success, or a quiet quarter of an
/// hour, forgets the failures.
#[derive(Clone, Default)]
pub struct SignIns {
    failures: Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>,
}

impl SignIns {
    const FREE_FAILURES: u32 = 3;
    const FIRST_DELAY: Duration = Duration::from_millis(250);
    pub const MAX_DELAY: Duration = Duration::from_secs(8);
    const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
    /// Addresses remembered at most (a flood of spoofed sources cannot grow it without end).
    const CAPACITY: usize = 10_000;

    /// Records a failure from `client` and returns how long its answer should wait.
    pub fn failed(&self, client: IpAddr) -> Duration {
        let Ok(mut failures) = self.failures.lock() else {
            return Self::MAX_DELAY;
        };
        let now = Instant::now();
        if failures.len() >= Self::CAPACITY {
            failures.retain(|_, (_, last)| now.duration_since(*last) < Self::FORGET_AFTER);
        }
        let entry = failures.entry(client).or_insert((0, now));
        if now.duration_since(entry.1) >= Self::FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        Self::delay_after(entry.0)
    }

    /// The wait after `failures` failures in a row.
    fn delay_after(failures: u32) -> Duration {
        match failures.checked_sub(Self::FREE_FAILURES + 1) {
            None => Duration::ZERO,
            Some(doublings) => Self::FIRST_DELAY
                .checked_mul(1u32.checked_shl(doublings.min(16)).unwrap_or(u32::MAX))
                .unwrap_or(Self::MAX_DELAY)
                .min(Self::MAX_DELAY),
        }
    }

    /// Forgets the failures of a client that signed in.
    pub fn succeeded(&self, client: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&client);
        }
    }
}

/// The address a request came from; unknown (one shared bucket) when the server was not
/// started with connection info, as in tests that call the router directly.
pub(crate) fn client_of(headers_and_extensions: &axum::http::Extensions) -> IpAddr {
    headers_and_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.api_token else {
        return next.run(request).await;
    };
    if open_route(request.uri().path()) {
        return next.run(request).await;
    }
    let client = client_of(request.extensions());
    if given_token(&request).is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    // A request with no token at all is a browser that has not signed in, not a guess.
    if given_token(&request).is_some() {
        tokio::time::sleep(state.sign_ins.failed(client)).await;
    }
    // A person at a browser goes to the login page; a program gets the JSON error.
    let wants_page = request.method() == Method::GET
        && !request.uri().path().starts_with("/api/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if wants_page {
        return axum::response::Redirect::to("/login").into_response();
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this server needs Authorization: Bearer <AIBT_API_TOKEN>",
        None,
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Whether a request that changes something comes from a page of another site. Browsers send
/// `Origin` with every POST (and `Sec-Fetch-Site`); programs such as curl send neither and
/// are not browsers acting for someone else.
fn cross_site(request: &Request) -> bool {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    // `Origin: null` (a sandboxed frame, a file) has no host and is refused too.
    origin_host.is_none() || origin_host != host
}

pub(crate) async fn check_origin(request: Request, next: Next) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && cross_site(&request) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "a page of another site cannot change anything here",
            Some("Origin".into()),
        )
        .into_response();
    }
    next.run(request).await
}

/// Adds the headers every response carries (a handler's own policy, such as a report's,
/// stays).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(PAGE_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_value_only() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret-longer"));
        assert!(!same(b"", b"x"));
    }

    #[test]
    fn failures_slow_down_after_a_few_and_a_success_forgets_them() {
        let sign_ins = SignIns::default();
        let client = IpAddr::from([10, 0, 0, 1]);
        let delays: Vec<Duration> = (0..10).map(|_| sign_ins.failed(client)).collect();
        assert_eq!(delays[..3], [Duration::ZERO; 3]);
        assert_eq!(delays[3], Duration::from_millis(250));
        assert_eq!(delays[4], Duration::from_millis(500));
        assert_eq!(delays[9], SignIns::MAX_DELAY);
        // Another address is not slowed by this one's failures.
        assert_eq!(sign_ins.failed(IpAddr::from([10, 0, 0, 2])), Duration::ZERO);
        sign_ins.succeeded(client);
        assert_eq!(sign_ins.failed(client), Duration::ZERO);
        assert_eq!(SignIns::delay_after(u32::MAX), SignIns::MAX_DELAY);
    }
}
