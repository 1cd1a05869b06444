//! A task as people look at it: its row, its progress, where its account stands, and whether
//! its model may remember the period.

use aibt_core::Money;
use aibt_store::{Store, Task};
use serde::Serialize;

use crate::error::Result;

/// A task with its progress and where its account stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskDetail {
    #[serde(flatten)]
    pub task: Task,
    /// processed_items / total_items, in percent.
    pub progress_pct: f64,
    /// The run account's total value at the last committed step.
    pub equity: Money,
    /// The model may have seen this period (set when the AI config's knowledge cutoff is
    /// after the period's end).
    pub memorisation_warning: Option<String>,
}

/// The detail of a stored task.
pub async fn task_detail(store: &dyn Store, task: Task) -> Result<TaskDetail> {
    let account = store.get_task_account(&task.task_id).await?;
    let memorisation_warning = match &task.ai_config_id {
        // A deleted config leaves the task without a warning, not without a page.
        Some(config_id) => match store.get_ai_config(config_id).await {
            Ok(config) => crate::ai_config::memorisation_warning(&config, &task),
            Err(_) => None,
        },
        None => None,
    };
    Ok(TaskDetail {
        progress_pct: task.progress_pct(),
        equity: account.total_value,
        memorisation_warning,
        task,
    })
}
