//! `/experiments`: the experiments, newest first, their progress followed live over one event
//! stream for the whole list; and `/experiments/{id}`: one experiment's status, progress and
//! leaderboard, refreshed every two seconds until every task has ended, with the pause,
//! resume and cancel buttons its status allows, its runs and its report.

use aibt_core::TaskStatus;
use aibt_engine::budget::is_budget_reason;
use aibt_engine::experiment::{ExperimentChange, experiment_tasks, leaderboard};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::experiments::{apply_change, detail};
use crate::ui::board::{BoardView, RunView, board_view, progress_view, runs_view};
use crate::ui::charts;
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{
    fragment, not_found, page_try, reload, render, resumed, submitted_budget,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/experiments", get(experiments))
        .route("/experiments/{experiment_id}", get(experiment))
        .route("/experiments/{experiment_id}/live", get(live))
        .route("/experiments/{experiment_id}/{action}", post(lifecycle))
        .route("/ui/experiment-events", get(charts::experiment_events))
}

pub struct ExperimentRow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub progress: f64,
    pub progress_text: String,
    pub tasks: usize,
    pub created: String,
}

#[derive(Template)]
#[template(path = "experiments.html")]
pub struct ExperimentsPage {
    tr: Tr,
    nav: &'static str,
    rows: Vec<ExperimentRow>,
    live_ids: String,
    next_url: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// Experiments a list page shows: each reads its tasks for its progress.
const PER_PAGE: u32 = 20;

async fn experiments(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Query(query): Query<ListQuery>,
) -> Response {
    let page = page_try!(state.store.list_experiments(PER_PAGE, query.cursor).await);
    let mut rows = Vec::with_capacity(page.items.len());
    let mut live_ids = Vec::new();
    for experiment in &page.items {
        let detail = page_try!(detail(&state, &experiment.experiment_id).await);
        let (progress, progress_text) = progress_view(tr, &detail.progress);
        let status = detail.experiment.status;
        if status.is_live() {
            live_ids.push(experiment.experiment_id.as_str());
        }
        rows.push(ExperimentRow {
            id: experiment.experiment_id.clone(),
            name: experiment.name.clone(),
            status: status.as_str(),
            progress,
            progress_text,
            tasks: detail.progress.tasks,
            created: experiment.created_at.format("%Y-%m-%d %H:%M").to_string(),
        });
    }
    render(&ExperimentsPage {
        tr,
        nav: "experiments",
        rows,
        live_ids: live_ids.join(","),
        next_url: page
            .next_cursor
            .map(|cursor| format!("/experiments?cursor={cursor}")),
    })
}

/// The part of an experiment's page that changes while it runs.
#[derive(Template)]
#[template(path = "experiment_live.html")]
pub struct LivePart {
    tr: Tr,
    id: String,
    board: BoardView,
    runs: Vec<RunView>,
    can_pause: bool,
    can_resume: bool,
    /// Paused at its budget: the page offers a larger one.
    at_budget: bool,
    can_cancel: bool,
}

async fn live_part(state: &AppState, tr: Tr, experiment_id: &str) -> Result<String, ApiError> {
    let board = leaderboard(state.store.as_ref(), experiment_id).await?;
    let (_, runs, tasks) = experiment_tasks(state.store.as_ref(), experiment_id).await?;
    let allowed = |change: ExperimentChange| change.allowed_from(board.status);
    LivePart {
        tr,
        id: experiment_id.to_string(),
        can_pause: allowed(ExperimentChange::Pause),
        can_resume: allowed(ExperimentChange::Resume),
        at_budget: board.status == TaskStatus::Paused
            && board.error_message.as_deref().is_some_and(is_budget_reason),
        can_cancel: allowed(ExperimentChange::Cancel),
        board: board_view(tr, &board, true),
        runs: runs_view(tr, &runs, &tasks),
    }
    .render()
    .map_err(ApiError::internal)
}

async fn live(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(experiment_id): Path<String>,
) -> Response {
    fragment(live_part(&state, tr, &experiment_id).await)
}

#[derive(Template)]
#[template(path = "experiment.html")]
pub struct ExperimentPage {
    tr: Tr,
    nav: &'static str,
    id: String,
    name: String,
    created: String,
    live: String,
}

async fn experiment(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(experiment_id): Path<String>,
) -> Response {
    let experiment = page_try!(state.store.get_experiment(&experiment_id).await);
    let live = page_try!(live_part(&state, tr, &experiment_id).await);
    render(&ExperimentPage {
        tr,
        nav: "experiments",
        id: experiment.experiment_id,
        name: experiment.name,
        created: experiment.created_at.format("%Y-%m-%d %H:%M").to_string(),
        live,
    })
}

/// Pause, resume (with a new budget, when the form gives one) or cancel every task; the page
/// reloads to show the new state.
async fn lifecycle(
    State(state): State<AppState>,
    Path((experiment_id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let change = match action.as_str() {
        "pause" => ExperimentChange::Pause,
        "resume" => match submitted_budget(&body) {
            Ok(Some(budget)) => {
                let change = ExperimentChange::ResumeWithBudget(budget);
                return resumed(apply_change(&state, &experiment_id, change).await);
            }
            Ok(None) => ExperimentChange::Resume,
            Err(error) => return resumed(Err(error)),
        },
        "cancel" => ExperimentChange::Cancel,
        _ => return not_found("action"),
    };
    reload(apply_change(&state, &experiment_id, change).await)
}
