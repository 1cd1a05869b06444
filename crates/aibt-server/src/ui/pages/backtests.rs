//! `/`: the backtests, newest first, filtered by status and symbol, their progress followed
//! live over one event stream for the whole list.

use aibt_core::TaskStatus;
use aibt_store::{Task, TaskQuery};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::ui::charts;
use crate::ui::format::{period_ends, progress_of, return_pct, short_id, strategy_label};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(backtests))
        .route("/ui/events", get(charts::task_events))
}

pub struct TaskRow {
    pub id: String,
    pub short_id: String,
    pub symbol: String,
    pub strategy: String,
    pub period: (String, String),
    pub status: &'static str,
    pub progress: f64,
    pub progress_text: String,
    pub return_pct: String,
    pub created: String,
}

fn row(task: &Task) -> TaskRow {
    let (progress, progress_text) = progress_of(task);
    TaskRow {
        id: task.task_id.clone(),
        short_id: short_id(&task.task_id),
        symbol: task.stock_symbol.clone(),
        strategy: strategy_label(task),
        period: period_ends(task),
        status: task.status.as_str(),
        progress,
        progress_text,
        return_pct: return_pct(task),
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

async fn backtests(
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
