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

use aibt_core::{Money, TaskStatus};
use aibt_store::{RecordQuery, Store};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
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
    pub after: Option<String>,
    /// How often the database is read, in milliseconds (default 250, at least 50).
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
                self.pending.push_back(
                    Event::default()
                        .event("error")
                        .data(json!({"message": error.to_string()}).to_string()),
                );
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
                    let data = json!({
                        "decision_id": decision.decision_id,
                        "analysis_date": decision.analysis_date,
                        "decision_result": decision.decision_result,
                        "confidence_score": decision.confidence_score,
                        "reasoning": decision.reasoning,
                        "execution_time_ms": decision.execution_time_ms,
                        "error": decision.error,
                        "from_cache": decision.from_cache,
                        "equity": equity,
                    });
                    self.pending.push_back(
                        Event::default()
                            .event("decision")
                            .id(cursor.clone())
                            .data(data.to_string()),
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
            self.pending.push_back(
                Event::default().event("end").data(
                    json!({
                        "task_id": task.task_id,
                        "status": task.status,
                        "error_message": task.error_message,
                        "stats": task.stats,
                    })
                    .to_string(),
                ),
            );
            self.done = true;
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}/events", tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id"), EventParams),
    responses(
        (status = 200, description = "A text/event-stream of `progress` (ProgressEvent), `decision` and `end` events", content_type = "text/event-stream", body = ProgressEvent),
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
        interval: Duration::from_millis(params.interval_ms.unwrap_or(250).max(50)),
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
