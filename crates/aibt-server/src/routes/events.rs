//! `GET /api/v1/tasks/{id}/events`: server-sent events of a task as it runs. They are read
//! from the database, not from the process running the task, so they work whichever worker
//! (or host) runs it:
//!
//! - `progress`: status, processed and total items, percent, equity (on every change);
//! - `decision`: each recorded decision with the equity at its bar (the event id is the
//!   decision's cursor: a client reconnecting with `Last-Event-ID` continues after it);
//! - `end`: the final status and statistics; the stream then closes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use aibt_core::{Money, Rate, TaskStatus, TradeAction};
use aibt_store::{RecordQuery, Store};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Params;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Send decisions after this cursor only (as `Last-Event-ID` does); from the first
    /// decision otherwise.
    #[param(pattern = r"^(-?[0-9]{1,16}\|.*)?$")]
    #[serde(default, deserialize_with = "crate::extract::empty_as_none")]
    pub after: Option<String>,
    /// How often the database is read, in milliseconds (default 250; below 50 counts as 50).
    #[param(maximum = 60000)]
    pub interval_ms: Option<u64>,
    /// `false`: progress and the end only, no decision events (a progress bar needs no more).
    pub decisions: Option<bool>,
}

/// The data of a `progress` event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProgressEvent {
    pub task_id: String,
    pub status: TaskStatus,
    pub processed_items: i64,
    pub total_items: Option<i64>,
    pub progress_pct: f64,
    pub equity: Money,
    pub error_message: Option<String>,
}

/// The data of a `decision` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionEvent {
    pub decision_id: String,
    pub analysis_date: Option<DateTime<Utc>>,
    pub decision_result: TradeAction,
    pub confidence_score: Rate,
    pub reasoning: String,
    pub execution_time_ms: Option<i64>,
    pub error: Option<String>,
    pub from_cache: bool,
    /// The account's total value at the decision's bar, once its snapshot is stored.
    pub equity: Option<Money>,
}

/// The data of the `end` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndEvent {
    pub task_id: String,
    pub status: TaskStatus,
    pub error_message: Option<String>,
    /// The statistics (docs/stats.md) of a task that finished.
    pub stats: Option<serde_json::Value>,
}

/// The data of an `error` event, after which the stream closes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamError {
    pub message: String,
}

impl StreamError {
    pub(crate) fn event(error: impl std::fmt::Display) -> Event {
        let data = StreamError {
            message: error.to_string(),
        };
        Event::default()
            .event("error")
            .data(serde_json::to_string(&data).unwrap_or_default())
    }
}

/// Describes each event of the streams (`GET …/events`) for clients and schemathesis: an
/// object of `event`, `id` and `data`, where `data` is JSON of the schema its event names
/// (OpenAPI 3.1 describes one event with the media type's `schema`).
pub(crate) fn document_streams(doc: &mut serde_json::Value) {
    let streams: [(&str, &[(&str, &str)]); 2] = [
        (
            "/api/v1/tasks/{task_id}/events",
            &[
                ("progress", "ProgressEvent"),
                ("decision", "DecisionEvent"),
                ("end", "EndEvent"),
                ("error", "StreamError"),
            ],
        ),
        (
            "/api/v1/experiments/{experiment_id}/events",
            &[
                ("progress", "ExperimentProgressEvent"),
                ("end", "ExperimentProgressEvent"),
                ("error", "StreamError"),
            ],
        ),
    ];
    for (path, events) in streams {
        let variants: Vec<serde_json::Value> = events
            .iter()
            .map(|(event, schema)| {
                json!({
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"const": event},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": format!("#/components/schemas/{schema}")},
                        },
                    },
                })
            })
            .collect();
        let one_event = json!({
            "type": "object",
            "properties": {
                "event": {"type": "string"},
                "id": {"type": "string"},
                "data": {"type": "string"},
                "retry": {"type": "integer"},
            },
            "oneOf": variants,
        });
        if let Some(media) = doc.pointer_mut(&format!(
            "/paths/{}/get/responses/200/content/text~1event-stream",
            path.replace('~', "~0").replace('/', "~1")
        )) {
            media["schema"] = one_event;
        }
    }
}

/// Decisions sent per read at most, so one read of a long rule backtest stays short.
const DECISIONS_PER_READ: u32 = 500;

struct Poller {
    store: std::sync::Arc<dyn Store>,
    task_id: String,
    cursor: Option<String>,
    last: Option<ProgressEvent>,
    pending: VecDeque<Event>,
    interval: Duration,
    decisions: bool,
    first: bool,
    done: bool,
}

impl Poller {
    async fn read(&mut self) {
        let task = match self.store.get_task(&self.task_id).await {
            Ok(task) => task,
            Err(error) => {
                self.pending.push_back(StreamError::event(error));
                self.done = true;
                return;
            }
        };
        let equity = match self.store.get_task_account(&self.task_id).await {
            Ok(account) => account.total_value,
            Err(_) => Money::ZERO,
        };
        // Decisions first: a client sees each step's decision before the progress that
        // counts it.
        let mut drained = true;
        let page = if self.decisions {
            Some(
                self.store
                    .list_decisions(
                        &self.task_id,
                        &RecordQuery {
                            limit: DECISIONS_PER_READ,
                            cursor: self.cursor.clone(),
                            ..RecordQuery::default()
                        },
                    )
                    .await,
            )
        } else {
            None
        };
        match page {
            None => {}
            Some(Ok(page)) => {
                drained = page.next_cursor.is_none();
                for decision in page.items {
                    let at = decision.analysis_date.unwrap_or(decision.start_time);
                    let equity = self
                        .store
                        .list_snapshots(
                            &self.task_id,
                            &RecordQuery {
                                from: Some(at),
                                to: Some(at),
                                limit: 1,
                                ..RecordQuery::default()
                            },
                        )
                        .await
                        .ok()
                        .and_then(|page| page.items.into_iter().next())
                        .map(|snapshot| snapshot.total_value);
                    let cursor = decision.cursor();
                    let data = DecisionEvent {
                        decision_id: decision.decision_id,
                        analysis_date: decision.analysis_date,
                        decision_result: decision.decision_result,
                        confidence_score: decision.confidence_score,
                        reasoning: decision.reasoning,
                        execution_time_ms: decision.execution_time_ms,
                        error: decision.error,
                        from_cache: decision.from_cache,
                        equity,
                    };
                    self.pending.push_back(
                        Event::default()
                            .event("decision")
                            .id(cursor.clone())
                            .data(serde_json::to_string(&data).unwrap_or_default()),
                    );
                    self.cursor = Some(cursor);
                }
            }
            Some(Err(error)) => {
                tracing::warn!(task_id = %self.task_id, %error, "reading decisions for events");
            }
        }
        let progress = ProgressEvent {
            task_id: task.task_id.clone(),
            status: task.status,
            processed_items: task.processed_items,
            total_items: task.total_items,
            progress_pct: task.progress_pct(),
            equity,
            error_message: task.error_message.clone(),
        };
        if self.last.as_ref() != Some(&progress) {
            self.pending.push_back(
                Event::default()
                    .event("progress")
                    .data(serde_json::to_string(&progress).unwrap_or_default()),
            );
            self.last = Some(progress);
        }
        let finished = task.status.is_terminal() || task.status == TaskStatus::Failed;
        if finished && drained {
            let end = EndEvent {
                task_id: task.task_id,
                status: task.status,
                error_message: task.error_message,
                stats: task.stats,
            };
            self.pending.push_back(
                Event::default()
                    .event("end")
                    .data(serde_json::to_string(&end).unwrap_or_default()),
            );
            self.done = true;
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/events", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), EventParams),
    responses(
        (status = 200, description = "A text/event-stream of `progress` (ProgressEvent), `decision` (DecisionEvent) and `end` (EndEvent) events, or `error` (StreamError)", content_type = "text/event-stream", body = ProgressEvent),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
    Params(params): Params<EventParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    state.store.get_task(&task_id).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cursor = params.after.or(resume);
    if let Some(cursor) = &cursor {
        aibt_store::parse_time_cursor(cursor)?;
    }
    let poller = Poller {
        store: state.store.clone(),
        task_id,
        cursor,
        last: None,
        pending: VecDeque::new(),
        interval: crate::extract::poll_interval(params.interval_ms, 250, 50)?,
        decisions: params.decisions.unwrap_or(true),
        first: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(poller, |mut poller| async move {
        loop {
            if let Some(event) = poller.pending.pop_front() {
                return Some((Ok(event), poller));
            }
            if poller.done {
                return None;
            }
            if !poller.first {
                tokio::time::sleep(poller.interval).await;
            }
            poller.first = false;
            poller.read().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
