//! `/tasks/{id}`: one backtest with its charts, statistics, decisions and trades (pages of
//! them swapped in by htmx), a decision's prompt and answer, and the pause, resume and cancel
//! buttons its status allows.

use aibt_core::TaskStatus;
use aibt_engine::Transition;
use aibt_engine::budget::is_budget_reason;
use aibt_engine::task::{TaskDetail, resume_with_budget};
use aibt_store::{RecordQuery, Task};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::tasks::{apply_transition, detail};
use crate::ui::charts;
use crate::ui::format::{
    MODEL_STATS, STATS, StatRow, action_mix_row, decimal, degenerate_text, percent, period,
    progress_of, signed_class, stat, stat_rows, strategy_label, time, url_encode,
};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::records::{DecisionRow, TradeRows, decision_row, trade_row};
use crate::ui::respond::{
    fragment, not_found, page_try, reload, render, resumed, submitted_budget,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks/{task_id}", get(task))
        .route("/tasks/{task_id}/chart.json", get(charts::task_chart))
        .route("/tasks/{task_id}/decisions", get(decision_rows))
        .route("/tasks/{task_id}/decision", get(decision_detail))
        .route("/tasks/{task_id}/trades", get(trade_rows))
        .route("/tasks/{task_id}/{action}", post(lifecycle))
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
    /// Paused at its budget: the page offers a larger one.
    at_budget: bool,
    can_cancel: bool,
    memorisation_warning: Option<String>,
    /// The task asked for tools and its server refused them: why.
    tool_fallback: Option<String>,
    /// One action is at least 95 % of the decisions: `HOLD 97 %`.
    degenerate: Option<String>,
    cards: Vec<Card>,
    stats: Vec<StatRow>,
    model_stats: Vec<StatRow>,
    decisions: String,
    trades: String,
}

/// The key numbers above the charts.
fn cards(detail: &TaskDetail, stats: &Value) -> Vec<Card> {
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
    cards
}

async fn task(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(task_id): Path<String>,
) -> Response {
    let task = page_try!(state.store.get_task(&task_id).await);
    let detail = page_try!(detail(&state, task.clone()).await);
    let stats = task.stats.clone().unwrap_or(Value::Null);
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
        at_budget: task.status == TaskStatus::Paused
            && task.error_message.as_deref().is_some_and(is_budget_reason),
        can_cancel: Transition::Cancel.allowed_from(task.status),
        memorisation_warning: memorisation_text(&state, tr, &detail).await,
        tool_fallback: stats["tool_fallback"].as_str().map(str::to_string),
        degenerate: degenerate_text(tr, &stats),
        cards: cards(&detail, &stats),
        stats: stat_rows(&stats, STATS),
        model_stats: stat_rows(&stats, MODEL_STATS)
            .into_iter()
            .chain(action_mix_row(tr, &stats))
            .collect(),
        decisions,
        trades,
        task,
    })
}

/// The engine's memorisation warning, in the page's language.
async fn memorisation_text(state: &AppState, tr: Tr, detail: &TaskDetail) -> Option<String> {
    detail.memorisation_warning.as_ref()?;
    let task = &detail.task;
    let config = state
        .store
        .get_ai_config(task.ai_config_id.as_deref()?)
        .await
        .ok()?;
    let cutoff = config.knowledge_cutoff?;
    Some(
        tr.t("task.memorisation_text")
            .replace("{end}", &task.end_date.date_naive().to_string())
            .replace("{model}", &config.local_ai_model_name)
            .replace("{cutoff}", &cutoff.to_string()),
    )
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
    let rows = page.items.iter().map(|d| decision_row(d, &task)).collect();
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

async fn decision_rows(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(task_id): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Response {
    fragment(decisions_partial(&state, tr, &task_id, query.cursor).await)
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
    let rows = page.items.iter().map(|t| trade_row(t, task)).collect();
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

async fn trade_rows(
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
    /// Folded by default: it can be long, and it is not what was decided.
    thinking: Option<String>,
    reasoning_tokens: Option<i64>,
    /// Tool mode: each call and its result, folded like the thinking.
    tool_calls: Vec<ToolCallView>,
    parsed: Option<String>,
}

/// One tool call of a decision as the page shows it.
pub struct ToolCallView {
    tool: String,
    /// The arguments as compact JSON.
    arguments: String,
    /// The result as indented JSON.
    result: String,
}

impl ToolCallView {
    fn all(transcript: Option<&serde_json::Value>) -> Vec<ToolCallView> {
        let Some(serde_json::Value::Array(calls)) = transcript else {
            return Vec::new();
        };
        calls
            .iter()
            .map(|call| ToolCallView {
                tool: call["tool"].as_str().unwrap_or_default().to_string(),
                arguments: match &call["arguments"] {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                },
                result: serde_json::to_string_pretty(&call["result"]).unwrap_or_default(),
            })
            .collect()
    }
}

#[derive(Deserialize)]
pub struct DecisionQuery {
    id: String,
    at: DateTime<Utc>,
}

async fn decision_detail(
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
        thinking: d.thinking.clone(),
        reasoning_tokens: d.reasoning_tokens,
        tool_calls: ToolCallView::all(d.tool_transcript.as_ref()),
        parsed: d
            .parsed_decision
            .as_ref()
            .and_then(|p| serde_json::to_string_pretty(p).ok()),
    })
}

/// Pause, resume (with a new budget, when the form gives one) or cancel; the page reloads to
/// show the new state.
async fn lifecycle(
    State(state): State<AppState>,
    Path((task_id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let change = match action.as_str() {
        "pause" => Transition::Pause,
        "resume" => match submitted_budget(&body) {
            Ok(Some(budget)) => {
                let resumed_with = resume_with_budget(state.store.as_ref(), &task_id, budget)
                    .await
                    .map_err(ApiError::from);
                if resumed_with.is_ok() {
                    state.worker.wake();
                }
                return resumed(resumed_with.map(|_| ()));
            }
            Ok(None) => Transition::Resume,
            Err(error) => return resumed(Err(error)),
        },
        "cancel" => Transition::Cancel,
        _ => return not_found("action"),
    };
    reload(apply_transition(&state, &task_id, change).await.map(|_| ()))
}
