//! `/login` (only asked for when the server has an API token) and `/lang/{code}`, the language
//! switch: the two cookies a visitor's browser keeps for this site.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;
use crate::ui::form::FormState;
use crate::ui::i18n::{LANG_COOKIE, Lang, Tr, UiLang};
use crate::ui::respond::render;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/lang/{code}", get(switch_language))
}

/// A redirect that also sets a cookie.
fn redirect_setting(to: &str, cookie: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Ok(cookie) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Sets the language cookie and goes back to the page the visitor came from.
async fn switch_language(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::from_code(&code).unwrap_or_default();
    // Back to the same page, but only ever on this site (the path of the referrer).
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|at| rest[at..].to_string()))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    redirect_setting(
        &back,
        &format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        ),
    )
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    tr: Tr,
    nav: &'static str,
    failed: bool,
}

async fn login_page(UiLang(tr): UiLang) -> Response {
    render(&LoginPage {
        tr,
        nav: "",
        failed: false,
    })
}

/// Checks the token a person typed and keeps it in a cookie the browser sends to this site
/// only (SameSite=Strict, so another site's form cannot act with it).
/// A wrong token makes the answer wait, longer with each failure from the same address.
async fn login(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let form = FormState::parse(&body);
    let given = form.v("token").trim();
    let right = match &state.api_token {
        Some(token) => crate::same(token.as_bytes(), given.as_bytes()),
        None => true,
    };
    let client = crate::guard::client_of(&extensions);
    if right {
        state.sign_ins.succeeded(client);
    } else {
        tokio::time::sleep(state.sign_ins.failed(client)).await;
        let mut page = render(&LoginPage {
            tr,
            nav: "",
            failed: true,
        });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    redirect_setting(
        "/",
        &format!(
            "{}={given}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000",
            crate::TOKEN_COOKIE
        ),
    )
}
