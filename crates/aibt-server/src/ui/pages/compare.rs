//! `/compare`: finished backtests to choose from, and two to four of them side by side, their
//! returns on one chart and their statistics in one table.

use aibt_core::TaskStatus;
use aibt_store::{Task, TaskQuery};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use crate::AppState;
use crate::ui::charts;
use crate::ui::format::{
    MODEL_STATS, STATS, period_ends, return_pct, short_id, stat, strategy_label,
};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compare", get(compare))
        .route("/compare/chart.json", get(charts::compare_chart))
}

pub struct CompareChoice {
    pub id: String,
    pub short_id: String,
    pub symbol: String,
    pub strategy: String,
    pub period: (String, String),
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

/// The statistics any of the tasks has, one row each.
fn stat_rows(tasks: &[Task]) -> Vec<CompareRow> {
    let value = |task: &Task, key: &str| task.stats.as_ref().and_then(|s| s.get(key)).cloned();
    STATS
        .iter()
        .chain(MODEL_STATS)
        .filter(|key| tasks.iter().any(|t| value(t, key).is_some()))
        .map(|key| CompareRow {
            label: format!("stat.{key}"),
            values: tasks
                .iter()
                .map(|t| value(t, key).as_ref().map(stat).unwrap_or_default())
                .collect(),
        })
        .collect()
}

async fn compare(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    RawQuery(query): RawQuery,
) -> Response {
    // `task_ids` as the form's checkboxes send it (repeated) or as a link writes it (a,b).
    let chosen: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "task_ids")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect();
    let mut finished = Vec::new();
    for status in TaskStatus::ALL.iter().filter(|s| s.is_completed()) {
        let page = page_try!(
            state
                .store
                .list_tasks(&TaskQuery {
                    status: Some(*status),
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
            period: period_ends(t),
            return_pct: return_pct(t),
            chosen: chosen.contains(&t.task_id),
        })
        .collect();
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let mut error = None;
    if !chosen.is_empty() {
        match aibt_engine::compare::compared_ids(&chosen.join(",")) {
            Err(refused) => error = Some(refused.to_string()),
            Ok(ids) => {
                let mut tasks = Vec::new();
                for id in &ids {
                    tasks.push(page_try!(state.store.get_task(id).await));
                }
                columns = tasks
                    .iter()
                    .map(|t| CompareColumn {
                        id: t.task_id.clone(),
                        title: format!("{} · {}", t.stock_symbol, strategy_label(t)),
                    })
                    .collect();
                rows = stat_rows(&tasks);
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
