//! `/api/v1/experiments`: grids of tasks judged on one leaderboard. An experiment is created
//! from the same spec as `aibt experiment run` reads (as JSON, with templates inline); its
//! tasks are ordinary tasks that any worker runs; its leaderboard is computed from what they
//! recorded.

use std::convert::Infallible;

use aibt_engine::experiment::board::Progress;
use aibt_engine::experiment::load::{
    effective_error, effective_status, list_experiments, progress_of,
};
use aibt_engine::experiment::{
    ExperimentChange, ExperimentSpec, Leaderboard, PlanSummary, change_experiment,
    create_experiment, estimate, experiment_tasks, leaderboard, plan,
};
use aibt_store::{Experiment, ExperimentRun, Page};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::ResumeRequest;
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, OptionalBody, Params};

/// An experiment with its runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentDetail {
    #[serde(flatten)]
    pub experiment: Experiment,
    pub runs: Vec<ExperimentRun>,
    pub progress: Progress,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExperimentListParams {
    /// Page size (default 100, at most 10,000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    #[param(pattern = r"^(-?[0-9]{1,16}\|.*)?$")]
    pub cursor: Option<String>,
}

/// Reads a spec body: the spec as JSON (`ExperimentSpec`), or `{"toml": "…"}` with the TOML
/// text (templates given as `template_content` or `user_prompt_id`).
fn spec_of(body: Value) -> ApiResult<ExperimentSpec> {
    if let Some(text) = body.get("toml").and_then(Value::as_str)
        && body.as_object().is_some_and(|o| o.len() == 1)
    {
        return Ok(ExperimentSpec::from_toml(text)?);
    }
    Ok(ExperimentSpec::from_json(body)?)
}

#[utoipa::path(
    post, path = "/api/v1/experiments/plan", tag = "experiments",
    request_body(content = ExperimentSpec, description = "The spec, or {\"toml\": \"…\"}"),
    responses(
        (status = 200, description = "What the experiment would run and cost; nothing is created", body = PlanSummary),
        (status = 404, description = "A template or AI config does not exist", body = ErrorBody),
        (status = 422, description = "A field of the spec is unusable", body = ErrorBody),
    )
)]
pub async fn plan_experiment(
    State(state): State<AppState>,
    Body(body): Body<Value>,
) -> ApiResult<Json<PlanSummary>> {
    Ok(Json(plan_summary(&state, body).await?))
}

/// What a spec would run and cost, creating nothing (the API's and the web UI's).
pub(crate) async fn plan_summary(state: &AppState, body: Value) -> ApiResult<PlanSummary> {
    let spec = spec_of(body)?;
    let plan = plan(state.store.as_ref(), &spec).await?;
    Ok(estimate(&state.store, &plan).await?)
}

#[utoipa::path(
    post, path = "/api/v1/experiments", tag = "experiments",
    request_body(content = ExperimentSpec, description = "The spec, or {\"toml\": \"…\"}"),
    responses(
        (status = 201, description = "The experiment, its tasks started", body = ExperimentDetail),
        (status = 404, description = "A template or AI config does not exist", body = ErrorBody),
        (status = 422, description = "A field of the spec is unusable", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<Value>,
) -> ApiResult<(StatusCode, Json<ExperimentDetail>)> {
    let experiment_id = insert_experiment(&state, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &experiment_id).await?),
    ))
}

/// Checks, creates and starts an experiment (the API's and the web UI's).
pub(crate) async fn insert_experiment(state: &AppState, body: Value) -> ApiResult<String> {
    let spec = spec_of(body)?;
    let plan = plan(state.store.as_ref(), &spec).await?;
    let experiment = create_experiment(state.store.as_ref(), &plan).await?;
    state.worker.wake();
    Ok(experiment.experiment_id)
}

pub(crate) async fn detail(state: &AppState, experiment_id: &str) -> ApiResult<ExperimentDetail> {
    let (mut experiment, runs, tasks) =
        experiment_tasks(state.store.as_ref(), experiment_id).await?;
    experiment.status = effective_status(&experiment, &tasks);
    experiment.error_message = effective_error(&experiment, &tasks);
    Ok(ExperimentDetail {
        progress: progress_of(&tasks),
        experiment,
        runs,
    })
}

#[utoipa::path(
    get, path = "/api/v1/experiments", tag = "experiments",
    params(ExperimentListParams),
    responses(
        (status = 200, description = "A page of experiments, newest first, each with its status as people see it (COMPLETED once every task has)", body = Page<Experiment>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Params(params): Params<ExperimentListParams>,
) -> ApiResult<Json<Page<Experiment>>> {
    Ok(Json(
        list_experiments(
            state.store.as_ref(),
            crate::extract::page_size(params.limit, 100)?,
            params.cursor,
        )
        .await
        .map_err(|e| match e {
            // A cursor this server did not issue is a malformed parameter, as on every list.
            aibt_engine::EngineError::Invalid { field, reason } if field == "cursor" => {
                crate::error::ApiError::bad_request(
                    Some(field.clone()),
                    format!("{field}: {reason}"),
                )
            }
            other => other.into(),
        })?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/experiments/{experiment_id}", tag = "experiments",
    params(("experiment_id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 200, description = "The experiment with its runs and progress", body = ExperimentDetail),
        (status = 404, description = "No such experiment", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(experiment_id): Path<String>,
) -> ApiResult<Json<ExperimentDetail>> {
    Ok(Json(detail(&state, &experiment_id).await?))
}

#[utoipa::path(
    get, path = "/api/v1/experiments/{experiment_id}/leaderboard", tag = "experiments",
    params(("experiment_id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 200, description = "The leaderboard, from the runs finished so far", body = Leaderboard),
        (status = 404, description = "No such experiment", body = ErrorBody),
    )
)]
pub async fn board(
    State(state): State<AppState>,
    Path(experiment_id): Path<String>,
) -> ApiResult<Json<Leaderboard>> {
    Ok(Json(
        leaderboard(state.store.as_ref(), &experiment_id).await?,
    ))
}

/// Pauses, resumes or cancels every task of an experiment (the API's and the web UI's).
pub(crate) async fn apply_change(
    state: &AppState,
    experiment_id: &str,
    change: ExperimentChange,
) -> ApiResult<()> {
    let wakes = matches!(
        change,
        ExperimentChange::Resume | ExperimentChange::ResumeWithBudget(_)
    );
    change_experiment(state.store.as_ref(), experiment_id, change).await?;
    if wakes {
        state.worker.wake();
    }
    Ok(())
}

async fn change(
    state: &AppState,
    experiment_id: &str,
    change: ExperimentChange,
) -> ApiResult<Json<ExperimentDetail>> {
    apply_change(state, experiment_id, change).await?;
    Ok(Json(detail(state, experiment_id).await?))
}

#[utoipa::path(
    post, path = "/api/v1/experiments/{experiment_id}/pause", tag = "experiments",
    params(("experiment_id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 200, description = "PAUSED: every running task stops after its step in progress", body = ExperimentDetail),
        (status = 404, description = "No such experiment", body = ErrorBody),
        (status = 409, description = "A cancelled experiment does not change", body = ErrorBody),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    Path(experiment_id): Path<String>,
) -> ApiResult<Json<ExperimentDetail>> {
    change(&state, &experiment_id, ExperimentChange::Pause).await
}

#[utoipa::path(
    post, path = "/api/v1/experiments/{experiment_id}/resume", tag = "experiments",
    params(("experiment_id" = String, Path, description = "The experiment's id")),
    request_body(content = Option<ResumeRequest>, description = "Optional: a new budget, split among the model tasks by their decisions"),
    responses(
        (status = 200, description = "RUNNING again: paused and failed tasks resume", body = ExperimentDetail),
        (status = 404, description = "No such experiment", body = ErrorBody),
        (status = 409, description = "A cancelled experiment does not change", body = ErrorBody),
        (status = 422, description = "The budget cannot be kept (money without an AI config's prices, say)", body = ErrorBody),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    Path(experiment_id): Path<String>,
    OptionalBody(body): OptionalBody<ResumeRequest>,
) -> ApiResult<Json<ExperimentDetail>> {
    let resume = match body.and_then(|body| body.budget) {
        Some(budget) => ExperimentChange::ResumeWithBudget(budget),
        None => ExperimentChange::Resume,
    };
    change(&state, &experiment_id, resume).await
}

#[utoipa::path(
    post, path = "/api/v1/experiments/{experiment_id}/cancel", tag = "experiments",
    params(("experiment_id" = String, Path, description = "The experiment's id")),
    responses(
        (status = 200, description = "CANCELLED: unfinished tasks are cancelled, their records kept", body = ExperimentDetail),
        (status = 404, description = "No such experiment", body = ErrorBody),
        (status = 409, description = "A cancelled experiment does not change", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(experiment_id): Path<String>,
) -> ApiResult<Json<ExperimentDetail>> {
    change(&state, &experiment_id, ExperimentChange::Cancel).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExperimentEventParams {
    /// How often the database is read, in milliseconds (default 500; below 100 counts as 100).
    #[param(maximum = 60000)]
    pub interval_ms: Option<u64>,
}

/// The data of an experiment's `progress` event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ExperimentProgressEvent {
    pub experiment_id: String,
    pub status: aibt_core::TaskStatus,
    pub tasks: usize,
    pub finished: usize,
    pub running: usize,
    pub paused: usize,
    pub failed: usize,
    pub processed_items: i64,
    pub total_items: i64,
}

#[utoipa::path(
    get, path = "/api/v1/experiments/{experiment_id}/events", tag = "experiments",
    params(("experiment_id" = String, Path, description = "The experiment's id"), ExperimentEventParams),
    responses(
        (status = 200, description = "A text/event-stream of `progress` events (ExperimentProgressEvent) on every change, and `end` when every task has ended", content_type = "text/event-stream", body = ExperimentProgressEvent),
        (status = 404, description = "No such experiment", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Path(experiment_id): Path<String>,
    Params(params): Params<ExperimentEventParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    state.store.get_experiment(&experiment_id).await?;
    let interval = crate::extract::poll_interval(params.interval_ms, 500, 100)?;
    let store = state.store.clone();
    let stream = futures_util::stream::unfold(
        (None::<ExperimentProgressEvent>, false, true),
        move |(last, done, first)| {
            let store = store.clone();
            let experiment_id = experiment_id.clone();
            async move {
                if done {
                    return None;
                }
                let mut wait = !first;
                loop {
                    if wait {
                        tokio::time::sleep(interval).await;
                    }
                    wait = true;
                    let read = experiment_tasks(store.as_ref(), &experiment_id).await;
                    let (experiment, _, tasks) = match read {
                        Ok(read) => read,
                        Err(error) => {
                            let event = super::events::StreamError::event(error);
                            return Some((Ok(event), (last, true, false)));
                        }
                    };
                    let status = effective_status(&experiment, &tasks);
                    let p = progress_of(&tasks);
                    let now = ExperimentProgressEvent {
                        experiment_id: experiment_id.clone(),
                        status,
                        tasks: p.tasks,
                        finished: p.finished,
                        running: p.running,
                        paused: p.paused,
                        failed: p.failed,
                        processed_items: p.processed_items,
                        total_items: p.total_items,
                    };
                    let ended = status.is_terminal() || status == aibt_core::TaskStatus::Failed;
                    if last.as_ref() != Some(&now) {
                        let event = Event::default()
                            .event(if ended { "end" } else { "progress" })
                            .data(serde_json::to_string(&now).unwrap_or_default());
                        return Some((Ok(event), (Some(now), ended, false)));
                    }
                    if ended {
                        return None;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
