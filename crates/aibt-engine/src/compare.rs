//! Comparing two to four tasks side by side: their details, statistics and equity curves.

use aibt_store::Store;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::export::{EquityPoint, equity_curve};
use crate::task::{TaskDetail, task_detail};

/// How many tasks a comparison holds.
pub const COMPARED: std::ops::RangeInclusive<usize> = 2..=4;

/// One task of a comparison.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComparedTask {
    #[serde(flatten)]
    pub task: TaskDetail,
    pub equity: Vec<EquityPoint>,
}

/// Tasks side by side.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub tasks: Vec<ComparedTask>,
}

/// The task ids of a comparison from their comma-separated list (as `task_ids=a,b` gives
/// them), refused unless there are two to four.
pub fn compared_ids(list: &str) -> Result<Vec<String>> {
    let ids: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    if !COMPARED.contains(&ids.len()) {
        return Err(EngineError::invalid(
            "task_ids",
            format!("compare two to four tasks, got {}", ids.len()),
        ));
    }
    Ok(ids)
}

/// The tasks with their details and equity curves of at most `points` points each.
pub async fn compare_tasks(store: &dyn Store, ids: &[String], points: usize) -> Result<Comparison> {
    let mut tasks = Vec::with_capacity(ids.len());
    for id in ids {
        let task = store.get_task(id).await?;
        let equity = equity_curve(store, id, points).await?;
        tasks.push(ComparedTask {
            task: task_detail(store, task).await?,
            equity,
        });
    }
    Ok(Comparison { tasks })
}
