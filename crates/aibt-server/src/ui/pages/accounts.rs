//! `/accounts`: the user's accounts, whose cash and fees a backtest copies when it starts.

use aibt_core::MarketType;
use aibt_store::VirtualAccount;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::routes::accounts::insert_account;
use crate::ui::choices::user_accounts;
use crate::ui::form::{
    ACCOUNT_FIELDS, Field, FormState, account_defaults, account_request, fields, form_page,
};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, refused, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/accounts", get(accounts).post(create_account))
}

#[derive(Template)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    accounts: Vec<VirtualAccount>,
    fields: Vec<Field>,
    created: Option<String>,
}
form_page!(AccountsPage);

#[derive(Deserialize)]
pub struct CreatedQuery {
    created: Option<String>,
}

async fn accounts_page(
    state: &AppState,
    tr: Tr,
    form: FormState,
    created: Option<String>,
) -> Response {
    let accounts = page_try!(user_accounts(state).await);
    render(&AccountsPage {
        tr,
        nav: "accounts",
        form,
        accounts,
        fields: fields(ACCOUNT_FIELDS),
        created,
    })
}

async fn accounts(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Query(query): Query<CreatedQuery>,
) -> Response {
    let form = FormState::default().and(account_defaults());
    accounts_page(&state, tr, form, query.created).await
}

async fn create_account(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let market = form.choice("market_type").unwrap_or(MarketType::Us);
    let fractional = Some(form.checked("allow_fractional_shares"));
    let body = account_request(&mut form, market, None, fractional, true);
    if form.ok() {
        match insert_account(&state, body).await {
            Ok(account) => {
                return Redirect::to(&format!("/accounts?created={}", account.account_id))
                    .into_response();
            }
            Err(error) => form.api_error_same(error),
        }
    }
    refused(accounts_page(&state, tr, form, None).await)
}
