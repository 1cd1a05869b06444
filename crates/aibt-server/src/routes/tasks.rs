//! `/api/v1/tasks`: backtests. Creating one checks everything it needs; starting or resuming
//! it hands it to the workers (of this process, or any other on the same database); its
//! records are read while it runs, page by page.

use aibt_core::{TaskStatus, TimeGranularity, TradeAction};
use aibt_engine::compare::{Comparison, compare_tasks, compared_ids};
use aibt_engine::export::{EquityPoint, Records, Sink, equity_curve, export_csv, export_json};
use aibt_engine::task::{TaskDetail, delete_task, resume_with_budget, task_detail};
use aibt_engine::{StrategyRef, TaskOptions, TaskSpec, Transition, create_task, transition};
use aibt_store::{AccountSnapshot, LocalDecision, Page, RecordQuery, Task, TaskQuery, TradeRecord};
use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ResumeRequest;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, OptionalBody, Params};

/// A new task (backtest).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskCreate {
    /// The user account whose cash and fees the run starts from.
    pub account_id: String,
    #[schema(pattern = r"\S")]
    pub stock_symbol: String,
    /// The account's market when omitted.
    pub market_type: Option<aibt_core::MarketType>,
    /// `daily` when omitted.
    pub time_granularity: Option<TimeGranularity>,
    /// The series' first bar when omitted.
    pub start_date: Option<DateTime<Utc>>,
    /// The series' last bar when omitted.
    pub end_date: Option<DateTime<Utc>>,
    /// Decide every N bars (default 1).
    #[schema(minimum = 1)]
    pub decision_interval: Option<i64>,
    /// `builtin:<name>`, `template` (with `user_prompt_id` and `ai_config_id`), or
    /// `replay:<task id>`. May be left out when `user_prompt_id` and `ai_config_id` are
    /// given, as the seed's clients do: the task is then a model task.
    #[serde(default)]
    #[schema(
        pattern = r"^\s*(|template|builtin:(sma-cross|rsi-reversion|buy-and-hold|always-hold)|replay:\S+)\s*$"
    )]
    pub strategy: String,
    pub user_prompt_id: Option<String>,
    pub ai_config_id: Option<String>,
    #[serde(default)]
    pub options: TaskOptions,
    /// Start it at once (otherwise it stays PENDING until `POST .../start`).
    #[serde(default)]
    pub start: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    pub status: Option<TaskStatus>,
    pub stock_symbol: Option<String>,
    pub account_id: Option<String>,
    /// Page size (default 100, at most 10,000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    #[param(pattern = r"^(-?[0-9]{1,16}\|.*)?$")]
    pub cursor: Option<String>,
}

/// Paging and filters of a task's records.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// First time included (the decision's bar, the trade's time, the snapshot's bar).
    pub from: Option<DateTime<Utc>>,
    /// Last time included.
    pub to: Option<DateTime<Utc>>,
    /// Decisions and trades: only this action.
    pub action: Option<TradeAction>,
    /// Page size (default 100, at most 10,000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    #[param(pattern = r"^(-?[0-9]{1,16}\|.*)?$")]
    pub cursor: Option<String>,
}

/// Paging and a window of a task's snapshots (which, unlike decisions and trades, have no
/// action to filter on).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotParams {
    /// First bar included.
    pub from: Option<DateTime<Utc>>,
    /// Last bar included.
    pub to: Option<DateTime<Utc>>,
    /// Page size (default 100, at most 10,000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page (a snapshot's id).
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    pub cursor: Option<String>,
    /// Not a filter of snapshots (they have no action): named only to refuse it with a 400
    /// rather than answer every snapshot to a client that meant to filter them.
    #[param(ignore)]
    pub action: Option<String>,
}

impl From<SnapshotParams> for RecordParams {
    fn from(params: SnapshotParams) -> RecordParams {
        RecordParams {
            from: params.from,
            to: params.to,
            action: None,
            limit: params.limit,
            cursor: params.cursor,
        }
    }
}

impl RecordParams {
    fn query(self) -> ApiResult<RecordQuery> {
        Ok(RecordQuery {
            from: self.from,
            to: self.to,
            action: self.action,
            limit: crate::extract::page_size(self.limit, 100)?,
            cursor: self.cursor,
        })
    }
}

pub(crate) async fn detail(state: &AppState, task: Task) -> ApiResult<TaskDetail> {
    Ok(task_detail(state.store.as_ref(), task).await?)
}

#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "tasks",
    params(TaskListParams),
    responses(
        (status = 200, description = "A page of tasks, newest first", body = Page<Task>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    Params(params): Params<TaskListParams>,
) -> ApiResult<Json<Page<Task>>> {
    Ok(Json(
        state
            .store
            .list_tasks(&TaskQuery {
                status: params.status,
                stock_symbol: params.stock_symbol,
                account_id: params.account_id,
                limit: crate::extract::page_size(params.limit, 100)?,
                cursor: params.cursor,
            })
            .await?,
    ))
}

#[utoipa::path(
    post, path = "/api/v1/tasks", tag = "tasks",
    request_body = TaskCreate,
    responses(
        (status = 201, description = "The task, PENDING (or RUNNING with start: true)", body = TaskDetail),
        (status = 404, description = "The account, template or AI config does not exist", body = ErrorBody),
        (status = 422, description = "A field is unusable", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Body(body): Body<TaskCreate>,
) -> ApiResult<(StatusCode, Json<TaskDetail>)> {
    let task = insert_task(&state, body).await?;
    Ok((StatusCode::CREATED, Json(detail(&state, task).await?)))
}

/// Checks and creates a task, started if asked (the API's and the web UI's).
pub(crate) async fn insert_task(state: &AppState, body: TaskCreate) -> ApiResult<Task> {
    if body.options.template_content.is_some() {
        return Err(ApiError::invalid(
            "options.template_content",
            "options.template_content: set by aibt from user_prompt_id",
        ));
    }
    let account = state.store.get_account(&body.account_id).await?;
    let strategy = StrategyRef::parse(
        &body.strategy,
        body.user_prompt_id.as_deref(),
        body.ai_config_id.as_deref(),
        body.options.params.clone(),
    )?;
    let task = create_task(
        state.store.as_ref(),
        TaskSpec {
            account_id: body.account_id,
            symbol: body.stock_symbol,
            market_type: body.market_type.unwrap_or(account.market_type),
            granularity: body.time_granularity.unwrap_or(TimeGranularity::Daily),
            start: body.start_date,
            end: body.end_date,
            decision_interval: body.decision_interval.unwrap_or(1),
            strategy,
            options: body.options,
        },
    )
    .await?;
    if body.start {
        return apply_transition(state, &task.task_id, Transition::Start).await;
    }
    Ok(task)
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task with its progress", body = TaskDetail),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<TaskDetail>> {
    let task = state.store.get_task(&task_id).await?;
    Ok(Json(detail(&state, task).await?))
}

#[utoipa::path(
    delete, path = "/api/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 204, description = "Deleted with its run account, decisions, trades and snapshots"),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The task is running: pause or cancel it first", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<StatusCode> {
    delete_task(state.store.as_ref(), &task_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change(
    state: &AppState,
    task_id: &str,
    change: Transition,
) -> ApiResult<Json<TaskDetail>> {
    let task = apply_transition(state, task_id, change).await?;
    Ok(Json(detail(state, task).await?))
}

/// Moves a task through its lifecycle; a move that sets it running wakes this process's
/// workers (the API's and the web UI's).
pub(crate) async fn apply_transition(
    state: &AppState,
    task_id: &str,
    change: Transition,
) -> ApiResult<Task> {
    let wakes = matches!(change, Transition::Start | Transition::Resume);
    let task = transition(state.store.as_ref(), task_id, change).await?;
    if wakes {
        state.worker.wake();
    }
    Ok(task)
}

#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/start", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "RUNNING: a worker takes it", body = TaskDetail),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "Only a PENDING task starts", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<TaskDetail>> {
    change(&state, &task_id, Transition::Start).await
}

#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/pause", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "PAUSED: its worker stops after the step in progress", body = TaskDetail),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "Only a RUNNING task pauses", body = ErrorBody),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<TaskDetail>> {
    change(&state, &task_id, Transition::Pause).await
}

#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/resume", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    request_body(content = Option<ResumeRequest>, description = "Optional: a new budget"),
    responses(
        (status = 200, description = "RUNNING again, from its last committed step", body = TaskDetail),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "Only a PAUSED or FAILED task resumes", body = ErrorBody),
        (status = 422, description = "The budget cannot be kept (money without the AI config's prices, say)", body = ErrorBody),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    OptionalBody(body): OptionalBody<ResumeRequest>,
) -> ApiResult<Json<TaskDetail>> {
    match body.and_then(|body| body.budget) {
        Some(budget) => {
            let task = resume_with_budget(state.store.as_ref(), &task_id, budget).await?;
            state.worker.wake();
            Ok(Json(detail(&state, task).await?))
        }
        None => change(&state, &task_id, Transition::Resume).await,
    }
}

#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/cancel", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "CANCELLED: its records so far are kept", body = TaskDetail),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "A finished task cannot be cancelled", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<TaskDetail>> {
    change(&state, &task_id, Transition::Cancel).await
}

/// 404 for a task that does not exist (a record list of one would otherwise be empty).
async fn existing(state: &AppState, task_id: &str) -> ApiResult<Task> {
    Ok(state.store.get_task(task_id).await?)
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/decisions", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), RecordParams),
    responses(
        (status = 200, description = "A page of decisions in bar order", body = Page<LocalDecision>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn decisions(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    Params(params): Params<RecordParams>,
) -> ApiResult<Json<Page<LocalDecision>>> {
    existing(&state, &task_id).await?;
    Ok(Json(
        state
            .store
            .list_decisions(&task_id, &params.query()?)
            .await?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/trades", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), RecordParams),
    responses(
        (status = 200, description = "A page of trade records in time order", body = Page<TradeRecord>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn trades(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    Params(params): Params<RecordParams>,
) -> ApiResult<Json<Page<TradeRecord>>> {
    existing(&state, &task_id).await?;
    Ok(Json(
        state.store.list_trades(&task_id, &params.query()?).await?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/snapshots", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), SnapshotParams),
    responses(
        (status = 200, description = "A page of account snapshots, one per bar", body = Page<AccountSnapshot>),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn snapshots(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    Params(params): Params<SnapshotParams>,
) -> ApiResult<Json<Page<AccountSnapshot>>> {
    existing(&state, &task_id).await?;
    if params.action.is_some() {
        return Err(ApiError::bad_request(
            Some("action".into()),
            "action: snapshots have no action",
        ));
    }
    let params = RecordParams::from(params);
    Ok(Json(
        state
            .store
            .list_snapshots(&task_id, &params.query()?)
            .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskStats {
    pub task_id: String,
    pub status: TaskStatus,
    /// The statistics (docs/stats.md), present once the task has finished.
    pub stats: serde_json::Value,
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/stats", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The statistics of a finished task", body = TaskStats),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The task has not finished", body = ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<TaskStats>> {
    let task = existing(&state, &task_id).await?;
    let Some(stats) = task.stats else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_state",
            format!(
                "task {task_id} is {}: statistics come when it finishes",
                task.status
            ),
            Some("status".into()),
        ));
    };
    Ok(Json(TaskStats {
        task_id,
        status: task.status,
        stats,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (default: the task and all its records) or `csv` (one kind of record).
    #[param(inline)]
    pub format: Option<ExportFormat>,
    /// Which records (CSV: trades by default; JSON: all three unless one is named).
    #[param(inline)]
    pub records: Option<Records>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// An export streamed to the client as it is read.
struct ChannelSink(tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>);

impl Sink for ChannelSink {
    async fn write(&mut self, chunk: Vec<u8>) -> aibt_engine::Result<()> {
        self.0
            .send(Ok(chunk))
            .await
            .map_err(|_| aibt_engine::EngineError::Output("the client went away".into()))
    }
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/export", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), ExportParams),
    responses(
        (status = 200, description = "The records, streamed: JSON, or CSV with `format=csv`", content(
            (serde_json::Value = "application/json"),
            (String = "text/csv"),
        )),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    Params(params): Params<ExportParams>,
) -> ApiResult<Response> {
    let task = existing(&state, &task_id).await?;
    let format = params.format.unwrap_or(ExportFormat::Json);
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let store = state.store.clone();
    let records = params.records;
    let file = match format {
        ExportFormat::Json => format!("{task_id}.json"),
        ExportFormat::Csv => format!(
            "{task_id}-{}.csv",
            records.unwrap_or(Records::Trades).name()
        ),
    };
    tokio::spawn(async move {
        let mut sink = ChannelSink(sender.clone());
        let result = match format {
            ExportFormat::Json => export_json(store.as_ref(), &task, records, &mut sink).await,
            ExportFormat::Csv => {
                export_csv(
                    store.as_ref(),
                    &task,
                    records.unwrap_or(Records::Trades),
                    &mut sink,
                )
                .await
            }
        };
        if let Err(error) = result {
            // The status line is sent; a failure midway can only cut the body short.
            tracing::warn!(task_id = %task.task_id, %error, "export cut short");
            let _ = sender
                .send(Err(std::io::Error::other(error.to_string())))
                .await;
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let content_type = match format {
        ExportFormat::Json => "application/json",
        ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        HttpBody::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareParams {
    /// Two to four task ids, comma-separated.
    #[param(pattern = r"^\s*[^,\s][^,]*(,\s*[^,\s][^,]*){1,3}$")]
    pub task_ids: String,
    /// Points per equity curve (default 500).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub points: Option<u32>,
}

#[utoipa::path(
    get, path = "/api/v1/compare", tag = "tasks",
    params(CompareParams),
    responses(
        (status = 200, description = "The tasks with their statistics and equity curves", body = Comparison),
        (status = 404, description = "A task does not exist", body = ErrorBody),
        (status = 422, description = "Not two to four tasks", body = ErrorBody),
    )
)]
pub async fn compare(
    State(state): State<AppState>,
    Params(params): Params<CompareParams>,
) -> ApiResult<Json<Comparison>> {
    let ids = compared_ids(&params.task_ids)?;
    let points = params.points.map_or(500, |p| p as usize).clamp(2, 10_000);
    Ok(Json(
        compare_tasks(state.store.as_ref(), &ids, points).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EquityParams {
    /// The most points to return (default 1000).
    #[param(minimum = 0, maximum = 4294967295.0)]
    pub points: Option<u32>,
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/equity", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), EquityParams),
    responses(
        (status = 200, description = "The equity curve (total value and close per bar), thinned evenly", body = Vec<EquityPoint>),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn equity(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    Params(params): Params<EquityParams>,
) -> ApiResult<Json<Vec<EquityPoint>>> {
    existing(&state, &task_id).await?;
    let points = params.points.map_or(1000, |p| p as usize).clamp(2, 100_000);
    Ok(Json(
        equity_curve(state.store.as_ref(), &task_id, points).await?,
    ))
}
