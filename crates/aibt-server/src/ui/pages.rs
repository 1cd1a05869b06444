//! The pages and the forms behind them.

use std::collections::{BTreeMap, HashMap};

use aibt_core::{MarketType, Money, Rate, TaskStatus, TimeGranularity};
use aibt_engine::ai_config::ConnectionTest;
use aibt_engine::{TaskOptions, Transition, transition};
use aibt_store::{
    AccountQuery, AiConfig, PromptTemplate, RecordQuery, SeriesInfo, SeriesKey, Task, TaskQuery,
    VirtualAccount,
};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::format::{decimal, percent, period, short_id, stat, time};
use super::{LANG_COOKIE, Lang, Tr, UiLang, render};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::accounts::{AccountCreate, insert_account};
use crate::routes::ai_configs::{AiConfigCreate, insert_ai_config, masked};
use crate::routes::market_data::{ImportParams, import_csv};
use crate::routes::tasks::{TaskCreate, detail, insert_task};
use crate::routes::templates::{
    PreviewRequest, TemplateCreate, TemplateUpdate, change_template, insert_template, preview,
};

/// The values a form was submitted with and the errors of its fields (`""`: the form's).
#[derive(Default)]
pub struct FormState {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
}

impl FormState {
    fn parse(body: &[u8]) -> FormState {
        FormState {
            values: form_urlencoded::parse(body).into_owned().collect(),
            errors: HashMap::new(),
        }
    }

    fn with(values: &[(&str, &str)]) -> FormState {
        FormState {
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            errors: HashMap::new(),
        }
    }

    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// A trimmed value, `None` when empty.
    fn get(&self, name: &str) -> Option<String> {
        Some(self.v(name).trim().to_string()).filter(|v| !v.is_empty())
    }

    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// Puts an API error next to the field it names (`rename` maps API fields to inputs).
    fn api_error(&mut self, error: ApiError, rename: &dyn Fn(&str) -> String) {
        let field = error
            .detail
            .field
            .as_deref()
            .map(rename)
            .unwrap_or_default();
        self.fail(&field, error.detail.message);
    }

    fn decimal<T>(
        &mut self,
        name: &str,
        parse: fn(&str) -> Result<T, aibt_core::DecimalError>,
    ) -> Option<T> {
        let text = self.get(name)?;
        match parse(&text) {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(name, format!("{name}: {error}"));
                None
            }
        }
    }

    fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Gives a page struct with a `form: FormState` the `v` and `err` its template calls.
macro_rules! form_page {
    ($page:ty) => {
        impl $page {
            pub fn v(&self, name: &str) -> &str {
                self.form.v(name)
            }

            pub fn err(&self, name: &str) -> Option<&str> {
                self.form.err(name)
            }
        }
    };
}

/// An `<option>`.
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// A labelled input.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
}

fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "a page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the page could not be built; the server's log has the cause",
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{what} not found")).into_response()
}

/// A store call on a page: a missing row is a 404, anything else a logged 500.
macro_rules! page_try {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(error) => {
                let error: ApiError = error.into();
                return if error.status == StatusCode::NOT_FOUND {
                    not_found(&error.detail.message)
                } else {
                    internal(error.detail.message)
                };
            }
        }
    };
}

// ----- The backtests list -----

pub struct TaskRow {
    pub id: String,
    pub short_id: String,
    pub symbol: String,
    pub strategy: String,
    pub period: String,
    pub status: &'static str,
    pub progress: f64,
    pub progress_text: String,
    pub return_pct: String,
    pub created: String,
}

fn strategy_label(task: &Task) -> String {
    let Ok(strategy) = aibt_engine::StrategyRef::of_task(task) else {
        return task.strategy.clone();
    };
    match strategy.params().map(aibt_engine::strategy::params_text) {
        Some(params) if !params.is_empty() => format!("{} ({params})", strategy.column()),
        _ => strategy.column(),
    }
}

pub fn progress_of(task: &Task) -> (f64, String) {
    let pct = task.progress_pct();
    (pct, format!("{pct:.0}%"))
}

fn row(task: &Task) -> TaskRow {
    let (progress, progress_text) = progress_of(task);
    TaskRow {
        id: task.task_id.clone(),
        short_id: short_id(&task.task_id),
        symbol: task.stock_symbol.clone(),
        strategy: strategy_label(task),
        period: period(task.start_date, task.end_date, task.time_granularity),
        status: task.status.as_str(),
        progress,
        progress_text,
        return_pct: percent(task.stats.as_ref().and_then(|s| s["return_pct"].as_f64())),
        created: task.created_at.format("%Y-%m-%d %H:%M").to_string(),
    }
}

#[derive(Template)]
#[template(path = "tasks.html")]
pub struct BacktestsPage {
    tr: Tr,
    nav: &'static str,
    rows: Vec<TaskRow>,
    statuses: Vec<&'static str>,
    status: String,
    symbol: String,
    live_ids: String,
    next_url: Option<String>,
}

impl BacktestsPage {
    pub fn is_status(&self, status: &str) -> bool {
        self.status == status
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    symbol: Option<String>,
    cursor: Option<String>,
}

pub async fn backtests(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Query(query): Query<ListQuery>,
) -> Response {
    let status = query
        .status
        .as_deref()
        .and_then(|s| s.parse::<TaskStatus>().ok());
    let symbol = query.symbol.clone().filter(|s| !s.trim().is_empty());
    let page = page_try!(
        state
            .store
            .list_tasks(&TaskQuery {
                status,
                stock_symbol: symbol.clone(),
                account_id: None,
                limit: 50,
                cursor: query.cursor.clone(),
            })
            .await
    );
    let live_ids = page
        .items
        .iter()
        .filter(|t| t.status.is_live())
        .map(|t| t.task_id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let next_url = page.next_cursor.map(|cursor| {
        format!(
            "/?status={}&symbol={}&cursor={cursor}",
            status.map(|s| s.as_str()).unwrap_or(""),
            symbol.clone().unwrap_or_default()
        )
    });
    render(&BacktestsPage {
        tr,
        nav: "backtests",
        rows: page.items.iter().map(row).collect(),
        statuses: TaskStatus::NAMES.to_vec(),
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        symbol: symbol.unwrap_or_default(),
        live_ids,
        next_url,
    })
}

// ----- New backtest -----

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

const ACCOUNT_FIELDS: &[(&str, &str)] = &[
    ("initial_balance", "field.initial_balance"),
    ("commission_rate_buy", "field.commission_rate_buy"),
    ("commission_rate_sell", "field.commission_rate_sell"),
    ("tax_rate", "field.tax_rate"),
    ("min_commission", "field.min_commission"),
    ("short_margin_ratio", "field.short_margin_ratio"),
];

fn fields(list: &[(&'static str, &'static str)]) -> Vec<Field> {
    list.iter()
        .map(|(name, label)| Field { name, label })
        .collect()
}

fn series_value(key: &SeriesKey) -> String {
    format!("{}|{}|{}", key.symbol, key.market_type, key.granularity)
}

fn parse_series(value: &str) -> Option<SeriesKey> {
    let mut parts = value.split('|');
    let symbol = parts.next()?.to_string();
    let market_type = parts.next()?.parse().ok()?;
    let granularity = parts.next()?.parse().ok()?;
    Some(SeriesKey {
        symbol,
        market_type,
        granularity,
    })
}

/// The stored series, then the bundled samples not yet stored (imported when chosen).
async fn series_choices(state: &AppState, tr: Tr) -> Result<Vec<Choice>, ApiError> {
    let stored: Vec<SeriesInfo> = state.store.list_series().await?;
    let mut choices: Vec<Choice> = stored
        .iter()
        .map(|s| Choice {
            value: series_value(&s.key),
            label: format!(
                "{} · {} · {} ({} {})",
                s.key.symbol,
                s.key.market_type,
                s.key.granularity,
                s.bars,
                tr.t("field.bars")
            ),
        })
        .collect();
    for sample in aibt_data::SAMPLES {
        let key = SeriesKey {
            symbol: sample.symbol.to_string(),
            market_type: sample.market_type,
            granularity: sample.granularity,
        };
        if !stored.iter().any(|s| s.key == key) {
            choices.push(Choice {
                value: series_value(&key),
                label: format!(
                    "{} · {} · {} ({})",
                    key.symbol,
                    key.market_type,
                    key.granularity,
                    tr.t("new.sample")
                ),
            });
        }
    }
    Ok(choices)
}

/// Imports a bundled sample the first time it is chosen.
async fn ensure_series(state: &AppState, key: &SeriesKey) -> Result<(), ApiError> {
    aibt_engine::series::ensure_series(
        state.store.as_ref(),
        &key.symbol,
        Some(key.market_type),
        key.granularity,
        None,
    )
    .await?;
    Ok(())
}

async fn new_backtest_page(state: &AppState, tr: Tr, form: FormState) -> Response {
    let series = page_try!(series_choices(state, tr).await);
    let accounts = page_try!(
        state
            .store
            .list_accounts(&AccountQuery {
                include_task_accounts: false,
                limit: 500,
                cursor: None,
            })
            .await
    );
    let templates = page_try!(state.store.list_templates(false, 500, None).await);
    let configs = page_try!(state.store.list_ai_configs(500, None).await);
    render(&NewBacktestPage {
        tr,
        nav: "new",
        form,
        series,
        accounts: accounts
            .items
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
            .filter(|t| t.status == aibt_core::TemplateStatus::Available)
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

pub async fn new_backtest(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let form = FormState::with(&[
        ("decision_interval", "1"),
        ("initial_balance", "10000"),
        ("commission_rate_buy", "0.001"),
        ("commission_rate_sell", "0.001"),
        ("tax_rate", "0"),
        ("min_commission", "0"),
        ("short_margin_ratio", "1"),
        ("fill", "next_open"),
        ("strategy", "builtin:sma-cross"),
        ("prefetch", "1"),
        ("series", "GOOG|US|daily"),
    ]);
    new_backtest_page(&state, tr, form).await
}

/// A form date as the start or (the whole day) the end of a period.
fn date_bound(form: &mut FormState, name: &str, end: bool) -> Option<DateTime<Utc>> {
    let text = form.get(name)?;
    match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(date) => {
            let start = date.and_hms_opt(0, 0, 0)?.and_utc();
            Some(if end {
                start + Duration::days(1) - Duration::microseconds(1)
            } else {
                start
            })
        }
        Err(_) => {
            form.fail(name, format!("{name}: {text:?} is not a date (YYYY-MM-DD)"));
            None
        }
    }
}

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
    let Some(series) = form.get("series").and_then(|v| parse_series(&v)) else {
        form.fail("series", "series: choose a series");
        return None;
    };
    let start_date = date_bound(form, "start_date", false);
    let end_date = date_bound(form, "end_date", true);
    let interval = match form.get("decision_interval").map(|v| v.parse::<i64>()) {
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            form.fail(
                "decision_interval",
                "decision_interval: a whole number of bars",
            );
            None
        }
        None => None,
    };
    let mut params = BTreeMap::new();
    let params_text = form.v("params").to_string();
    for pair in params_text.split([' ', ',']).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                params.insert(name.to_string(), value.to_string());
            }
            _ => form.fail("params", format!("params: {pair:?} is not name=value")),
        }
    }
    let fill = match form.v("fill") {
        "close" => aibt_engine::FillRule::Close,
        _ => aibt_engine::FillRule::NextOpen,
    };
    let cache = match form.v("cache") {
        "read-only" => aibt_ai::llm::CacheMode::ReadOnly,
        "off" => aibt_ai::llm::CacheMode::Off,
        _ => aibt_ai::llm::CacheMode::ReadWrite,
    };
    let prefetch = match form.get("prefetch").map(|v| v.parse::<u32>()) {
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            form.fail("prefetch", "prefetch: a whole number");
            1
        }
        None => 1,
    };
    let account_id = form.get("account_id");
    let account = if account_id.is_none() {
        let initial_balance = form.decimal("initial_balance", Money::parse);
        let body = AccountCreate {
            market_type: series.market_type,
            initial_balance: initial_balance.unwrap_or(Money::ZERO),
            stock_symbol: Some(series.symbol.clone()),
            commission_rate_buy: form.decimal("commission_rate_buy", Rate::parse),
            commission_rate_sell: form.decimal("commission_rate_sell", Rate::parse),
            tax_rate: form.decimal("tax_rate", Rate::parse),
            min_commission: form.decimal("min_commission", Money::parse),
            short_margin_ratio: form.decimal("short_margin_ratio", Rate::parse),
            slippage: None,
            borrow_rate: None,
            allow_fractional_shares: None,
        };
        if !form.ok() {
            return None;
        }
        match insert_account(state, body).await {
            Ok(account) => Some(account.account_id),
            Err(error) => {
                form.api_error(error, &backtest_field);
                return None;
            }
        }
    } else {
        account_id
    };
    if !form.ok() {
        return None;
    }
    if let Err(error) = ensure_series(state, &series).await {
        form.api_error(error, &backtest_field);
        return None;
    }
    let body = TaskCreate {
        account_id: account.unwrap_or_default(),
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
            fill,
            blind: form.v("blind") == "true",
            cache,
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

pub async fn create_backtest(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    match start_backtest(&state, &mut form).await {
        Some(task_id) => Redirect::to(&format!("/tasks/{task_id}")).into_response(),
        None => {
            let mut page = new_backtest_page(&state, tr, form).await;
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            page
        }
    }
}

// ----- A task -----

pub struct StatRow {
    pub label: String,
    pub value: String,
}

pub struct Card {
    pub label: &'static str,
    pub value: String,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "task.html")]
pub struct TaskPage {
    tr: Tr,
    nav: &'static str,
    task: Task,
    strategy: String,
    period: String,
    progress: f64,
    progress_text: String,
    can_pause: bool,
    can_resume: bool,
    can_cancel: bool,
    memorisation_warning: Option<String>,
    cards: Vec<Card>,
    stats: Vec<StatRow>,
    model_stats: Vec<StatRow>,
    decisions: String,
    trades: String,
}

/// The statistics a task page lists, in backtesting.py's order.
const STATS: &[&str] = &[
    "start",
    "end",
    "duration",
    "num_bars",
    "exposure_time_pct",
    "equity_final",
    "equity_peak",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe_ratio",
    "sharpe_ratio_simple",
    "sortino_ratio",
    "calmar_ratio",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration",
    "avg_drawdown_duration",
    "num_trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_trade_duration",
    "avg_trade_duration",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "kelly_criterion",
    "total_fees",
    "rejected_orders",
];

const MODEL_STATS: &[&str] = &[
    "llm_decisions",
    "failed_decisions",
    "llm_calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "latency_mean_ms",
    "latency_p95_ms",
];

fn stat_rows(stats: &Value, keys: &[&str]) -> Vec<StatRow> {
    keys.iter()
        .filter(|key| stats.get(**key).is_some())
        .map(|key| StatRow {
            label: format!("stat.{key}"),
            value: stat(&stats[*key]),
        })
        .collect()
}

fn signed_class(value: Option<f64>) -> &'static str {
    match value {
        Some(v) if v > 0.0 => "up",
        Some(v) if v < 0.0 => "down",
        _ => "",
    }
}

pub async fn task(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(task_id): Path<String>,
) -> Response {
    let task = page_try!(state.store.get_task(&task_id).await);
    let detail = page_try!(detail(&state, task.clone()).await);
    let stats = task.stats.clone().unwrap_or(Value::Null);
    let number = |key: &str| stats.get(key).and_then(Value::as_f64);
    let mut cards = vec![
        Card {
            label: "stat.equity_final",
            value: decimal(&detail.equity.to_string(), 2),
            class: "",
        },
        Card {
            label: "stat.return_pct",
            value: percent(number("return_pct")),
            class: signed_class(number("return_pct")),
        },
        Card {
            label: "stat.buy_hold_return_pct",
            value: percent(number("buy_hold_return_pct")),
            class: signed_class(number("buy_hold_return_pct")),
        },
        Card {
            label: "stat.max_drawdown_pct",
            value: percent(number("max_drawdown_pct")),
            class: "",
        },
        Card {
            label: "stat.sharpe_ratio",
            value: stats.get("sharpe_ratio").map(stat).unwrap_or_default(),
            class: "",
        },
        Card {
            label: "stat.num_trades",
            value: stats.get("num_trades").map(stat).unwrap_or_default(),
            class: "",
        },
    ];
    if stats.get("llm_calls").is_some() {
        cards.push(Card {
            label: "stat.failed_decisions",
            value: stat(&stats["failed_decisions"]),
            class: "",
        });
    }
    let decisions = page_try!(decisions_partial(&state, tr, &task_id, None).await);
    let trades = page_try!(trades_partial(&state, tr, &task, None).await);
    let (progress, progress_text) = progress_of(&task);
    render(&TaskPage {
        tr,
        nav: "backtests",
        strategy: strategy_label(&task),
        period: period(task.start_date, task.end_date, task.time_granularity),
        progress,
        progress_text,
        can_pause: Transition::Pause.allowed_from(task.status),
        can_resume: Transition::Resume.allowed_from(task.status),
        can_cancel: Transition::Cancel.allowed_from(task.status),
        memorisation_warning: memorisation_text(&state, tr, &task).await,
        cards,
        stats: stat_rows(&stats, STATS),
        model_stats: stat_rows(&stats, MODEL_STATS),
        decisions,
        trades,
        task,
    })
}

/// The memorisation warning in the page's language.
async fn memorisation_text(state: &AppState, tr: Tr, task: &Task) -> Option<String> {
    let config = state
        .store
        .get_ai_config(task.ai_config_id.as_deref()?)
        .await
        .ok()?;
    aibt_engine::ai_config::memorisation_warning(&config, task)?;
    let cutoff = config.knowledge_cutoff?;
    Some(
        tr.t("task.memorisation_text")
            .replace("{end}", &task.end_date.date_naive().to_string())
            .replace("{model}", &config.local_ai_model_name)
            .replace("{cutoff}", &cutoff.to_string()),
    )
}

pub struct DecisionRow {
    pub id: String,
    pub at: String,
    pub time: String,
    pub action: &'static str,
    pub failed: bool,
    pub confidence: String,
    pub reasoning: String,
    pub latency: String,
    pub tokens: String,
}

#[derive(Template)]
#[template(path = "decision_rows.html")]
pub struct DecisionRows {
    tr: Tr,
    task_id: String,
    rows: Vec<DecisionRow>,
    first: bool,
    next: Option<String>,
}

const ROWS_PER_PAGE: u32 = 100;

fn url_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn decisions_partial(
    state: &AppState,
    tr: Tr,
    task_id: &str,
    cursor: Option<String>,
) -> Result<String, ApiError> {
    let task = state.store.get_task(task_id).await?;
    let first = cursor.is_none();
    let page = state
        .store
        .list_decisions(
            task_id,
            &RecordQuery {
                limit: ROWS_PER_PAGE,
                cursor,
                ..RecordQuery::default()
            },
        )
        .await?;
    let rows = page
        .items
        .iter()
        .map(|d| {
            let at = d.analysis_date.unwrap_or(d.start_time);
            let tokens = match (d.prompt_tokens, d.completion_tokens) {
                (Some(p), Some(c)) => format!("{p} + {c}"),
                _ => String::new(),
            };
            DecisionRow {
                id: url_encode(&d.decision_id),
                at: url_encode(&aibt_core::time::format_timestamp(at)),
                time: time(at, task.time_granularity),
                action: d.decision_result.as_str(),
                failed: d.failed(),
                confidence: decimal(&d.confidence_score.to_string(), 2),
                reasoning: d.reasoning.clone(),
                latency: if d.llm_calls > 0 {
                    d.execution_time_ms
                        .map(|l| l.to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                },
                tokens,
            }
        })
        .collect();
    DecisionRows {
        tr,
        task_id: task_id.to_string(),
        rows,
        first,
        next: page.next_cursor.map(|c| url_encode(&c)),
    }
    .render()
    .map_err(ApiError::internal)
}

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

fn fragment(result: Result<String, ApiError>) -> Response {
    match result {
        Ok(html) => axum::response::Html(html).into_response(),
        Err(error) => error.into_response(),
    }
}

pub async fn decision_rows(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(task_id): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Response {
    fragment(decisions_partial(&state, tr, &task_id, query.cursor).await)
}

pub struct TradeRow {
    pub time: String,
    pub action: &'static str,
    pub status: &'static str,
    pub reject_reason: Option<String>,
    pub quantity: String,
    pub price: String,
    pub amount: String,
    pub fees: String,
    pub pnl: String,
    pub pnl_class: &'static str,
}

#[derive(Template)]
#[template(path = "trade_rows.html")]
pub struct TradeRows {
    tr: Tr,
    task_id: String,
    rows: Vec<TradeRow>,
    first: bool,
    next: Option<String>,
}

async fn trades_partial(
    state: &AppState,
    tr: Tr,
    task: &Task,
    cursor: Option<String>,
) -> Result<String, ApiError> {
    let first = cursor.is_none();
    let page = state
        .store
        .list_trades(
            &task.task_id,
            &RecordQuery {
                limit: ROWS_PER_PAGE,
                cursor,
                ..RecordQuery::default()
            },
        )
        .await?;
    let quantity_places = if task.market_type == Some(MarketType::Coin) {
        8
    } else {
        4
    };
    let rows = page
        .items
        .iter()
        .map(|t| TradeRow {
            time: time(t.trade_time, task.time_granularity),
            action: t.trade_action.as_str(),
            status: t.status.as_str(),
            reject_reason: t.reject_reason.clone(),
            quantity: decimal(&t.quantity.to_string(), quantity_places),
            price: decimal(&t.price.to_string(), 4),
            amount: decimal(&t.total_amount.to_string(), 2),
            fees: decimal(&t.total_fees.to_string(), 2),
            pnl: t
                .realized_pnl
                .map(|p| decimal(&p.to_string(), 2))
                .unwrap_or_default(),
            pnl_class: match t.realized_pnl {
                Some(p) if p.is_positive() => "up",
                Some(p) if p.is_negative() => "down",
                _ => "",
            },
        })
        .collect();
    TradeRows {
        tr,
        task_id: task.task_id.clone(),
        rows,
        first,
        next: page.next_cursor.map(|c| url_encode(&c)),
    }
    .render()
    .map_err(ApiError::internal)
}

pub async fn trade_rows(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(task_id): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Response {
    let task = match state.store.get_task(&task_id).await {
        Ok(task) => task,
        Err(error) => return ApiError::from(error).into_response(),
    };
    fragment(trades_partial(&state, tr, &task, query.cursor).await)
}

#[derive(Template)]
#[template(path = "decision_detail.html")]
pub struct DecisionDetail {
    tr: Tr,
    time: String,
    action: &'static str,
    confidence: String,
    reasoning: String,
    from_cache: bool,
    calls: i64,
    error: Option<String>,
    prompt: String,
    raw_answer: String,
    parsed: Option<String>,
}

#[derive(Deserialize)]
pub struct DecisionQuery {
    id: String,
    at: DateTime<Utc>,
}

pub async fn decision_detail(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(task_id): Path<String>,
    Query(query): Query<DecisionQuery>,
) -> Response {
    let task = page_try!(state.store.get_task(&task_id).await);
    let page = page_try!(
        state
            .store
            .list_decisions(
                &task_id,
                &RecordQuery {
                    from: Some(query.at),
                    to: Some(query.at),
                    limit: 100,
                    ..RecordQuery::default()
                },
            )
            .await
    );
    let Some(d) = page.items.into_iter().find(|d| d.decision_id == query.id) else {
        return not_found("decision");
    };
    render(&DecisionDetail {
        tr,
        time: time(
            d.analysis_date.unwrap_or(d.start_time),
            task.time_granularity,
        ),
        action: d.decision_result.as_str(),
        confidence: decimal(&d.confidence_score.to_string(), 2),
        reasoning: d.reasoning.clone(),
        from_cache: d.from_cache,
        calls: d.llm_calls,
        error: d.error.clone(),
        prompt: d
            .prompt
            .clone()
            .unwrap_or_else(|| tr.t("task.no_prompt").to_string()),
        raw_answer: d.raw_answer.clone().unwrap_or_default(),
        parsed: d
            .parsed_decision
            .as_ref()
            .and_then(|p| serde_json::to_string_pretty(p).ok()),
    })
}

/// Pause, resume or cancel; the page reloads to show the new state.
pub async fn lifecycle(
    State(state): State<AppState>,
    Path((task_id, action)): Path<(String, String)>,
) -> Response {
    let change = match action.as_str() {
        "pause" => Transition::Pause,
        "resume" => Transition::Resume,
        "cancel" => Transition::Cancel,
        _ => return not_found("action"),
    };
    let wakes = matches!(change, Transition::Resume);
    let outcome = transition(state.store.as_ref(), &task_id, change).await;
    if wakes && outcome.is_ok() {
        state.worker.wake();
    }
    let mut response = match outcome {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => ApiError::from(error).into_response(),
    };
    response
        .headers_mut()
        .insert("hx-refresh", HeaderValue::from_static("true"));
    response
}

// ----- Accounts -----

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
    let accounts = page_try!(
        state
            .store
            .list_accounts(&AccountQuery {
                include_task_accounts: false,
                limit: 500,
                cursor: None,
            })
            .await
    );
    render(&AccountsPage {
        tr,
        nav: "accounts",
        form,
        accounts: accounts.items,
        fields: fields(ACCOUNT_FIELDS),
        created,
    })
}

pub async fn accounts(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Query(query): Query<CreatedQuery>,
) -> Response {
    let form = FormState::with(&[
        ("initial_balance", "10000"),
        ("commission_rate_buy", "0.001"),
        ("commission_rate_sell", "0.001"),
        ("tax_rate", "0"),
        ("min_commission", "0"),
        ("short_margin_ratio", "1"),
    ]);
    accounts_page(&state, tr, form, query.created).await
}

pub async fn create_account(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let market_type = match form.v("market_type").parse::<MarketType>() {
        Ok(market) => market,
        Err(error) => {
            form.fail("market_type", error.to_string());
            MarketType::Us
        }
    };
    let initial_balance = form.decimal("initial_balance", Money::parse);
    if initial_balance.is_none() && form.err("initial_balance").is_none() {
        form.fail("initial_balance", "initial_balance: required");
    }
    let body = AccountCreate {
        market_type,
        initial_balance: initial_balance.unwrap_or(Money::ZERO),
        stock_symbol: None,
        commission_rate_buy: form.decimal("commission_rate_buy", Rate::parse),
        commission_rate_sell: form.decimal("commission_rate_sell", Rate::parse),
        tax_rate: form.decimal("tax_rate", Rate::parse),
        min_commission: form.decimal("min_commission", Money::parse),
        short_margin_ratio: form.decimal("short_margin_ratio", Rate::parse),
        slippage: None,
        borrow_rate: None,
        allow_fractional_shares: Some(form.v("allow_fractional_shares") == "true"),
    };
    if form.ok() {
        match insert_account(&state, body).await {
            Ok(account) => {
                return Redirect::to(&format!("/accounts?created={}", account.account_id))
                    .into_response();
            }
            Err(error) => form.api_error(error, &|f| f.to_string()),
        }
    }
    let mut page = accounts_page(&state, tr, form, None).await;
    *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    page
}

// ----- Templates -----

const SAMPLE_TEMPLATE: &str = include_str!("../../../../examples/trend-follower.j2");

#[derive(Template)]
#[template(path = "templates.html")]
pub struct TemplatesPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    templates: Vec<PromptTemplate>,
    variables: Vec<&'static str>,
}
form_page!(TemplatesPage);

async fn templates_page(state: &AppState, tr: Tr, form: FormState) -> Response {
    let templates = page_try!(state.store.list_templates(false, 500, None).await);
    render(&TemplatesPage {
        tr,
        nav: "templates",
        form,
        templates: templates.items,
        variables: aibt_ai::template::VARIABLES.to_vec(),
    })
}

pub async fn templates(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let form = FormState::with(&[
        ("content", SAMPLE_TEMPLATE),
        ("description", "trend follower"),
    ]);
    templates_page(&state, tr, form).await
}

pub async fn create_template(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let body = TemplateCreate {
        content: form.v("content").to_string(),
        description: form.get("description"),
        tags: None,
        status: None,
    };
    match insert_template(&state, body).await {
        Ok(template) => Redirect::to(&format!("/templates/{}", template.prompt_id)).into_response(),
        Err(error) => {
            form.api_error(error, &|f| f.to_string());
            let mut page = templates_page(&state, tr, form).await;
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            page
        }
    }
}

#[derive(Template)]
#[template(path = "template.html")]
pub struct TemplatePage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    template: PromptTemplate,
    series: Vec<Choice>,
    at: String,
    saved: bool,
    variables: Vec<&'static str>,
}
form_page!(TemplatePage);

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

async fn template_page(
    state: &AppState,
    tr: Tr,
    template: PromptTemplate,
    form: FormState,
    saved: bool,
) -> Response {
    let series = page_try!(series_choices(state, tr).await);
    render(&TemplatePage {
        tr,
        nav: "templates",
        form,
        template,
        series,
        at: "2012-03-01".into(),
        saved,
        variables: aibt_ai::template::VARIABLES.to_vec(),
    })
}

pub async fn template(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(prompt_id): Path<String>,
    Query(query): Query<SavedQuery>,
) -> Response {
    let template = page_try!(state.store.get_template(&prompt_id).await);
    let form = FormState::with(&[
        ("content", template.content.as_str()),
        ("description", template.description.as_deref().unwrap_or("")),
        ("status", template.status.as_str()),
    ]);
    template_page(&state, tr, template, form, query.saved.is_some()).await
}

pub async fn save_template(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(prompt_id): Path<String>,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let status = form.v("status").parse().ok();
    let change = TemplateUpdate {
        content: Some(form.v("content").to_string()),
        description: Some(form.v("description").to_string()),
        tags: None,
        status,
    };
    match change_template(&state, &prompt_id, change).await {
        Ok(_) => Redirect::to(&format!("/templates/{prompt_id}?saved=1")).into_response(),
        Err(error) => {
            form.api_error(error, &|f| f.to_string());
            let template = page_try!(state.store.get_template(&prompt_id).await);
            let mut page = template_page(&state, tr, template, form, false).await;
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            page
        }
    }
}

#[derive(Template)]
#[template(path = "preview.html")]
pub struct PreviewPartial {
    result: Result<String, String>,
}

pub async fn preview_template(State(state): State<AppState>, body: Bytes) -> Response {
    let mut form = FormState::parse(&body);
    let result = async {
        let series = form
            .get("series")
            .and_then(|v| parse_series(&v))
            .ok_or_else(|| "series: choose a series".to_string())?;
        let at = date_bound(&mut form, "at", true)
            .ok_or_else(|| form.err("at").unwrap_or("at: choose a date").to_string())?;
        ensure_series(&state, &series)
            .await
            .map_err(|e| e.detail.message)?;
        let request = PreviewRequest {
            stock_symbol: series.symbol,
            market_type: series.market_type,
            time_granularity: series.granularity,
            at,
            start_date: None,
            window: None,
            blind: form.v("blind") == "true",
        };
        preview(&state, form.v("content").to_string(), request)
            .await
            .map(|p| p.prompt)
            .map_err(|e| e.detail.message)
    }
    .await;
    render(&PreviewPartial { result })
}

// ----- AI configs -----

#[derive(Template)]
#[template(path = "ai_configs.html")]
pub struct AiConfigsPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    configs: Vec<AiConfig>,
    fields: Vec<Field>,
}
form_page!(AiConfigsPage);

const AI_FIELDS: &[(&str, &str)] = &[
    ("name", "field.name"),
    ("local_ai_base_url", "field.base_url"),
    ("local_ai_model_name", "field.model"),
    ("local_ai_api_key", "field.api_key"),
    ("temperature", "field.temperature"),
    ("max_tokens", "field.max_tokens"),
    ("timeout_seconds", "field.timeout"),
    ("max_concurrency", "field.max_concurrency"),
    ("knowledge_cutoff", "field.knowledge_cutoff"),
];

async fn ai_configs_page(state: &AppState, tr: Tr, form: FormState) -> Response {
    let configs = page_try!(state.store.list_ai_configs(500, None).await);
    render(&AiConfigsPage {
        tr,
        nav: "ai",
        form,
        configs: configs.items.into_iter().map(masked).collect(),
        fields: fields(AI_FIELDS),
    })
}

pub async fn ai_configs(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let form = FormState::with(&[
        ("local_ai_base_url", "http://127.0.0.1:11434/v1"),
        ("temperature", "0"),
        ("max_tokens", "400"),
        ("timeout_seconds", "60"),
        ("max_concurrency", "4"),
    ]);
    ai_configs_page(&state, tr, form).await
}

fn integer(form: &mut FormState, name: &str) -> Option<i64> {
    let text = form.get(name)?;
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            form.fail(name, format!("{name}: {text:?} is not a whole number"));
            None
        }
    }
}

pub async fn create_ai_config(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let knowledge_cutoff = match form.get("knowledge_cutoff") {
        Some(text) => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                form.fail("knowledge_cutoff", "knowledge_cutoff: a date, YYYY-MM-DD");
                None
            }
        },
        None => None,
    };
    let body = AiConfigCreate {
        name: form.v("name").to_string(),
        local_ai_base_url: form.v("local_ai_base_url").to_string(),
        local_ai_api_key: form.get("local_ai_api_key"),
        local_ai_api_key_env: None,
        local_ai_model_name: form.v("local_ai_model_name").to_string(),
        temperature: form.decimal("temperature", Rate::parse),
        max_tokens: integer(&mut form, "max_tokens"),
        timeout_seconds: integer(&mut form, "timeout_seconds"),
        response_format: form.v("response_format").parse().ok(),
        max_concurrency: integer(&mut form, "max_concurrency"),
        max_retries: None,
        knowledge_cutoff,
    };
    if form.ok() {
        match insert_ai_config(&state, body).await {
            Ok(_) => return Redirect::to("/ai-configs").into_response(),
            Err(error) => form.api_error(error, &|f| f.to_string()),
        }
    }
    // The key is never sent back, not even into the form it came from.
    form.values.remove("local_ai_api_key");
    let mut page = ai_configs_page(&state, tr, form).await;
    *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    page
}

#[derive(Template)]
#[template(path = "ai_test.html")]
pub struct AiTestPartial {
    tr: Tr,
    report: ConnectionTest,
}

pub async fn test_ai_config(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(config_id): Path<String>,
) -> Response {
    let config = page_try!(state.store.get_ai_config(&config_id).await);
    let report = match aibt_engine::ai_config::test_ai_config(&config).await {
        Ok(report) => report,
        Err(error) => ConnectionTest {
            ok: false,
            latency_ms: 0,
            calls: 0,
            raw_answer: None,
            prompt_tokens: None,
            completion_tokens: None,
            error: Some(error.to_string()),
        },
    };
    render(&AiTestPartial { tr, report })
}

// ----- Market data -----

#[derive(Template)]
#[template(path = "market_data.html")]
pub struct MarketDataPage {
    tr: Tr,
    nav: &'static str,
    series: Vec<SeriesInfo>,
}

pub async fn market_data(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let series = page_try!(state.store.list_series().await);
    render(&MarketDataPage {
        tr,
        nav: "market",
        series,
    })
}

#[derive(Template)]
#[template(path = "upload_result.html")]
pub struct UploadResult {
    tr: Tr,
    result: Result<String, String>,
}

pub async fn upload(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    mut form: Multipart,
) -> Response {
    let result = async {
        let mut params = ImportParams::default();
        let mut file: Option<(String, Bytes)> = None;
        while let Some(field) = form.next_field().await.map_err(|e| e.body_text())? {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let data = field.bytes().await.map_err(|e| e.body_text())?;
            let text = String::from_utf8_lossy(&data).trim().to_string();
            match name.as_str() {
                "file" => file = Some((file_name.unwrap_or_else(|| "upload.csv".into()), data)),
                "symbol" => params.symbol = Some(text),
                "market_type" => params.market_type = text.to_ascii_uppercase().parse().ok(),
                "time_granularity" => {
                    params.time_granularity = text.to_ascii_lowercase().parse().ok()
                }
                "replace" => params.replace = text == "true",
                _ => {}
            }
        }
        let (name, bytes) = file.ok_or_else(|| "file: choose a CSV file".to_string())?;
        let outcome = import_csv(&state, &name, &bytes, params)
            .await
            .map_err(|e| e.detail.message)?;
        Ok(format!(
            "{} · {} {} · {} → {}",
            outcome.series,
            outcome.outcome.inserted,
            tr.t("field.bars"),
            outcome
                .first
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            outcome
                .last
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        ))
    }
    .await;
    render(&UploadResult { tr, result })
}

#[derive(Template)]
#[template(path = "series_chart.html")]
pub struct SeriesChartPage {
    tr: Tr,
    nav: &'static str,
    title: String,
    data_url: String,
}

#[derive(Deserialize)]
pub struct SeriesQuery {
    pub symbol: String,
    pub market_type: MarketType,
    pub time_granularity: TimeGranularity,
}

pub async fn series_chart(UiLang(tr): UiLang, Query(query): Query<SeriesQuery>) -> Response {
    render(&SeriesChartPage {
        tr,
        nav: "market",
        title: format!(
            "{} · {} · {}",
            query.symbol, query.market_type, query.time_granularity
        ),
        data_url: format!(
            "/market-data/candles.json?symbol={}&market_type={}&time_granularity={}",
            url_encode(&query.symbol),
            query.market_type,
            query.time_granularity
        ),
    })
}

// ----- Compare -----

pub struct CompareChoice {
    pub id: String,
    pub short_id: String,
    pub symbol: String,
    pub strategy: String,
    pub period: String,
    pub return_pct: String,
    pub chosen: bool,
}

pub struct CompareColumn {
    pub id: String,
    pub title: String,
}

pub struct CompareRow {
    pub label: String,
    pub values: Vec<String>,
}

#[derive(Template)]
#[template(path = "compare.html")]
pub struct ComparePage {
    tr: Tr,
    nav: &'static str,
    choices: Vec<CompareChoice>,
    columns: Vec<CompareColumn>,
    rows: Vec<CompareRow>,
    error: Option<String>,
    data_url: String,
}

pub async fn compare(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let chosen: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "task_ids")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect();
    let mut finished = Vec::new();
    for status in [TaskStatus::Completed, TaskStatus::CompletedWithErrors] {
        let page = page_try!(
            state
                .store
                .list_tasks(&TaskQuery {
                    status: Some(status),
                    limit: 200,
                    ..TaskQuery::default()
                })
                .await
        );
        finished.extend(page.items);
    }
    finished.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    let choices = finished
        .iter()
        .map(|t| CompareChoice {
            id: t.task_id.clone(),
            short_id: short_id(&t.task_id),
            symbol: t.stock_symbol.clone(),
            strategy: strategy_label(t),
            period: period(t.start_date, t.end_date, t.time_granularity),
            return_pct: percent(t.stats.as_ref().and_then(|s| s["return_pct"].as_f64())),
            chosen: chosen.contains(&t.task_id),
        })
        .collect();
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let mut error = None;
    let compared =
        (!chosen.is_empty()).then(|| aibt_engine::compare::compared_ids(&chosen.join(",")));
    if let Some(Err(refused)) = &compared {
        error = Some(refused.to_string());
    } else if !chosen.is_empty() {
        let mut tasks = Vec::new();
        for id in &chosen {
            tasks.push(page_try!(state.store.get_task(id).await));
        }
        columns = tasks
            .iter()
            .map(|t| CompareColumn {
                id: t.task_id.clone(),
                title: format!("{} · {}", t.stock_symbol, strategy_label(t)),
            })
            .collect();
        for key in STATS.iter().chain(MODEL_STATS) {
            if tasks
                .iter()
                .any(|t| t.stats.as_ref().is_some_and(|s| s.get(*key).is_some()))
            {
                rows.push(CompareRow {
                    label: format!("stat.{key}"),
                    values: tasks
                        .iter()
                        .map(|t| {
                            t.stats
                                .as_ref()
                                .and_then(|s| s.get(*key))
                                .map(stat)
                                .unwrap_or_default()
                        })
                        .collect(),
                });
            }
        }
    }
    render(&ComparePage {
        tr,
        nav: "compare",
        choices,
        data_url: format!("/compare/chart.json?task_ids={}", chosen.join(",")),
        columns,
        rows,
        error,
    })
}

// ----- Language -----

/// Sets the language cookie and goes back to the page the visitor came from.
pub async fn switch_language(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::from_code(&code).unwrap_or_default();
    // Back to the same page, but only ever on this site (the path of the referrer).
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|at| rest[at..].to_string()))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let mut response = Redirect::to(&back).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

// ----- Login (only when the server has an API token) -----

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    tr: Tr,
    nav: &'static str,
    failed: bool,
}

pub async fn login_page(UiLang(tr): UiLang) -> Response {
    render(&LoginPage {
        tr,
        nav: "",
        failed: false,
    })
}

/// Checks the token a person typed and keeps it in a cookie the browser sends to this site
/// only (SameSite=Strict, so another site's form cannot act with it).
pub async fn login(State(state): State<AppState>, UiLang(tr): UiLang, body: Bytes) -> Response {
    let form = FormState::parse(&body);
    let given = form.v("token").trim();
    let right = match &state.api_token {
        Some(token) => crate::same(token.as_bytes(), given.as_bytes()),
        None => true,
    };
    if !right {
        let mut page = render(&LoginPage {
            tr,
            nav: "",
            failed: true,
        });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{}={given}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000",
        crate::TOKEN_COOKIE
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
