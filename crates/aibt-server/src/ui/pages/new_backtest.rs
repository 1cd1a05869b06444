//! `/backtests/new`: the form that starts a backtest, with an account of its own when none is
//! chosen, a bundled sample imported when one is chosen, and every refusal of the API shown
//! next to the input it concerns.

use aibt_engine::TaskOptions;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;
use crate::routes::accounts::insert_account;
use crate::routes::tasks::{TaskCreate, insert_task};
use crate::ui::choices::{Choice, ensure_series, series_choices, user_accounts};
use crate::ui::form::{
    ACCOUNT_FIELDS, Field, FormState, account_defaults, account_request, fields, form_page,
};
use crate::ui::format::{decimal, short_id};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, refused, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/backtests/new", get(new_backtest).post(create_backtest))
}

#[derive(Template)]
#[template(path = "new_backtest.html")]
pub struct NewBacktestPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    series: Vec<Choice>,
    accounts: Vec<Choice>,
    templates: Vec<Choice>,
    configs: Vec<Choice>,
    strategies: Vec<Choice>,
    account_fields: Vec<Field>,
}
form_page!(NewBacktestPage);

async fn new_backtest_page(state: &AppState, tr: Tr, form: FormState) -> Response {
    let series = page_try!(series_choices(state, tr).await);
    let accounts = page_try!(user_accounts(state).await);
    let templates = page_try!(state.store.list_templates(false, 500, None).await);
    let configs = page_try!(state.store.list_ai_configs(500, None).await);
    render(&NewBacktestPage {
        tr,
        nav: "new",
        form,
        series,
        accounts: accounts
            .iter()
            .map(|a| Choice {
                value: a.account_id.clone(),
                label: format!(
                    "{} · {} · {} {}",
                    short_id(&a.account_id),
                    a.market_type,
                    decimal(&a.initial_balance.to_string(), 2),
                    tr.t("field.cash")
                ),
            })
            .collect(),
        templates: templates
            .items
            .iter()
            .filter(|t| aibt_engine::templates::runnable(t))
            .map(|t| Choice {
                value: t.prompt_id.clone(),
                label: t
                    .description
                    .clone()
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| t.prompt_id.clone()),
            })
            .collect(),
        configs: configs
            .items
            .iter()
            .map(|c| Choice {
                value: c.config_id.clone(),
                label: format!("{} ({})", c.name, c.local_ai_model_name),
            })
            .collect(),
        strategies: aibt_ai::BUILTIN_STRATEGIES
            .iter()
            .map(|(name, _)| Choice {
                value: format!("builtin:{name}"),
                label: format!("builtin:{name}"),
            })
            .collect(),
        account_fields: fields(ACCOUNT_FIELDS),
    })
}

async fn new_backtest(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let form = FormState::with(&[
        ("decision_interval", "1"),
        ("fill", "next_open"),
        ("strategy", "builtin:sma-cross"),
        ("prefetch", "1"),
        ("series", "GOOG|US|daily"),
    ])
    .and(account_defaults());
    new_backtest_page(&state, tr, form).await
}

/// The input that shows an error the API gives about one of its fields.
fn backtest_field(field: &str) -> String {
    match field {
        "stock_symbol" | "market_type" | "time_granularity" => "series".into(),
        "options.fill" => "fill".into(),
        "options.prefetch" => "prefetch".into(),
        f if f.starts_with("params.") => "params".into(),
        f if ACCOUNT_FIELDS.iter().any(|(n, _)| *n == f) => f.into(),
        "start_date" | "end_date" | "decision_interval" | "strategy" | "user_prompt_id"
        | "ai_config_id" | "account_id" | "series" | "params" => field.into(),
        _ => String::new(),
    }
}

/// Reads the form into an account (when none is chosen) and a task, and starts it.
async fn start_backtest(state: &AppState, form: &mut FormState) -> Option<String> {
    let series = form.series("series")?;
    let start_date = form.period_bound("start_date", false);
    let end_date = form.period_bound("end_date", true);
    let interval = form.integer("decision_interval");
    let params = form.params("params");
    let prefetch = form.integer("prefetch").unwrap_or(1);
    let account_id = match form.get("account_id") {
        Some(chosen) => chosen,
        None => {
            let symbol = Some(series.symbol.clone());
            let body = account_request(form, series.market_type, symbol, None, false);
            if !form.ok() {
                return None;
            }
            match insert_account(state, body).await {
                Ok(account) => account.account_id,
                Err(error) => {
                    form.api_error(error, &backtest_field);
                    return None;
                }
            }
        }
    };
    if !form.ok() {
        return None;
    }
    if let Err(error) = ensure_series(state, &series).await {
        form.api_error(error, &backtest_field);
        return None;
    }
    let body = TaskCreate {
        account_id,
        stock_symbol: series.symbol.clone(),
        market_type: Some(series.market_type),
        time_granularity: Some(series.granularity),
        start_date,
        end_date,
        decision_interval: interval,
        strategy: form.get("strategy").unwrap_or_default(),
        user_prompt_id: form.get("user_prompt_id"),
        ai_config_id: form.get("ai_config_id"),
        options: TaskOptions {
            params,
            fill: form.choice_or_default("fill"),
            blind: form.checked("blind"),
            cache: form.choice_or_default("cache"),
            prefetch,
            ..TaskOptions::default()
        },
        start: true,
    };
    match insert_task(state, body).await {
        Ok(task) => Some(task.task_id),
        Err(error) => {
            form.api_error(error, &backtest_field);
            None
        }
    }
}

async fn create_backtest(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    match start_backtest(&state, &mut form).await {
        Some(task_id) => Redirect::to(&format!("/tasks/{task_id}")).into_response(),
        None => refused(new_backtest_page(&state, tr, form).await),
    }
}
