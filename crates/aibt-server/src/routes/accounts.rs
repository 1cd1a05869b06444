//! `/api/v1/accounts`: the user's accounts, whose cash and fees a task copies when it starts.
//! A task's own run account is shown (it holds the run's positions) but cannot be changed here.

use aibt_core::{MarketType, Money, Rate};
use aibt_engine::accounts::{AccountChanges, default_settings};
use aibt_store::{AccountQuery, Page, VirtualAccount};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Params};

/// A new account. Omitted fees take the design's defaults (0.001 commission on both sides,
/// no tax, no minimum, full short margin).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountCreate {
    pub market_type: MarketType,
    /// Cash at the start of every task that uses the account.
    #[schema(schema_with = crate::ranges::positive_money)]
    pub initial_balance: Money,
    #[serde(default)]
    pub stock_symbol: Option<String>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub commission_rate_buy: Option<Rate>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub commission_rate_sell: Option<Rate>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub tax_rate: Option<Rate>,
    #[schema(schema_with = crate::ranges::money_or_null)]
    pub min_commission: Option<Money>,
    #[schema(schema_with = crate::ranges::margin_ratio_or_null)]
    pub short_margin_ratio: Option<Rate>,
    /// Fraction every fill is moved against the trader (0 when omitted).
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub slippage: Option<Rate>,
    /// Yearly rate charged on the market value of shorts (0 when omitted).
    #[schema(schema_with = crate::ranges::yearly_rate_or_null)]
    pub borrow_rate: Option<Rate>,
    /// US accounts trade whole shares unless this is true.
    pub allow_fractional_shares: Option<bool>,
}

/// Changes to an account; omitted fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    #[schema(schema_with = crate::ranges::positive_money_or_null)]
    pub initial_balance: Option<Money>,
    pub stock_symbol: Option<String>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub commission_rate_buy: Option<Rate>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub commission_rate_sell: Option<Rate>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub tax_rate: Option<Rate>,
    #[schema(schema_with = crate::ranges::money_or_null)]
    pub min_commission: Option<Money>,
    #[schema(schema_with = crate::ranges::margin_ratio_or_null)]
    pub short_margin_ratio: Option<Rate>,
    #[schema(schema_with = crate::ranges::fraction_or_null)]
    pub slippage: Option<Rate>,
    #[schema(schema_with = crate::ranges::yearly_rate_or_null)]
    pub borrow_rate: Option<Rate>,
    pub allow_fractional_shares: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountListParams {
    /// Page size (default 100, at most 10,000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    pub cursor: Option<String>,
    /// Also list the run accounts of tasks.
    #[serde(default)]
    pub include_task_accounts: bool,
}

#[utoipa::path(
    get, path = "/api/v1/accounts", tag = "accounts",
    params(AccountListParams),
    responses(
        (status = 200, description = "A page of accounts, oldest first", body = Page<VirtualAccount>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
    )
)]
pub async fn list_accounts(
    State(state): State<AppState>,
    Params(params): Params<AccountListParams>,
) -> ApiResult<Json<Page<VirtualAccount>>> {
    let page = state
        .store
        .list_accounts(&AccountQuery {
            include_task_accounts: params.include_task_accounts,
            limit: crate::extract::page_size(params.limit, 100)?,
            cursor: params.cursor,
        })
        .await?;
    Ok(Json(page))
}

#[utoipa::path(
    post, path = "/api/v1/accounts", tag = "accounts",
    request_body = AccountCreate,
    responses(
        (status = 201, description = "The account", body = VirtualAccount),
        (status = 422, description = "A field is unusable", body = ErrorBody),
    )
)]
pub async fn create_account(
    State(state): State<AppState>,
    Body(body): Body<AccountCreate>,
) -> ApiResult<(StatusCode, Json<VirtualAccount>)> {
    Ok((
        StatusCode::CREATED,
        Json(insert_account(&state, body).await?),
    ))
}

/// Checks and stores a new account (the API's and the web UI's).
pub(crate) async fn insert_account(
    state: &AppState,
    body: AccountCreate,
) -> ApiResult<VirtualAccount> {
    let fractional = body.allow_fractional_shares.unwrap_or(false);
    let changes = AccountChanges {
        initial_balance: Some(body.initial_balance),
        commission_rate_buy: body.commission_rate_buy,
        commission_rate_sell: body.commission_rate_sell,
        tax_rate: body.tax_rate,
        min_commission: body.min_commission,
        short_margin_ratio: body.short_margin_ratio,
        slippage: body.slippage,
        borrow_rate: body.borrow_rate,
        allow_fractional_shares: Some(fractional),
        stock_symbol: body.stock_symbol,
    };
    let base = default_settings(body.market_type, fractional);
    Ok(aibt_engine::accounts::create_account(state.store.as_ref(), base, &changes).await?)
}

#[utoipa::path(
    get, path = "/api/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = String, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = VirtualAccount),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn get_account(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
) -> ApiResult<Json<VirtualAccount>> {
    Ok(Json(state.store.get_account(&account_id).await?))
}

#[utoipa::path(
    patch, path = "/api/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = String, Path, description = "The account's id")),
    request_body = AccountUpdate,
    responses(
        (status = 200, description = "The account as changed", body = VirtualAccount),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "A task's run account", body = ErrorBody),
        (status = 422, description = "A field is unusable", body = ErrorBody),
    )
)]
pub async fn update_account(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    Body(body): Body<AccountUpdate>,
) -> ApiResult<Json<VirtualAccount>> {
    let changes = AccountChanges {
        initial_balance: body.initial_balance,
        commission_rate_buy: body.commission_rate_buy,
        commission_rate_sell: body.commission_rate_sell,
        tax_rate: body.tax_rate,
        min_commission: body.min_commission,
        short_margin_ratio: body.short_margin_ratio,
        slippage: body.slippage,
        borrow_rate: body.borrow_rate,
        allow_fractional_shares: body.allow_fractional_shares,
        stock_symbol: body.stock_symbol,
    };
    Ok(Json(
        aibt_engine::accounts::update_account(state.store.as_ref(), &account_id, &changes).await?,
    ))
}

#[utoipa::path(
    delete, path = "/api/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = String, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Tasks use the account, or it is a run account", body = ErrorBody),
    )
)]
pub async fn delete_account(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
) -> ApiResult<StatusCode> {
    aibt_engine::accounts::delete_account(state.store.as_ref(), &account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
