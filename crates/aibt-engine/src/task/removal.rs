//! Removing tasks: one on request, or all that are older than a retention period (the seed's
//! §9.1 asks for a way to keep large histories in check).
//!
//! The task row goes first, with its run account and experiment run, in one guarded
//! statement: a RUNNING task is refused, and a worker starting the task at the same moment
//! finds it gone. Its records (snapshots, decisions, trades: millions of rows for a minute
//! series) then go in batches of short transactions, so running tasks keep committing in
//! between. A purge cut short by a crash leaves records no read can reach (every read goes
//! through the task); the next prune removes them.

use aibt_core::TaskStatus;
use aibt_store::{DeleteOutcome, Store, TaskQuery};
use chrono::{DateTime, Utc};

use crate::error::{EngineError, Result};

/// Records deleted per table in one transaction: large enough to be quick (a few
/// milliseconds of work each), small enough that a running task's commit never waits long.
pub const PURGE_BATCH: u32 = 5_000;

/// Deletes a task and all its records. A RUNNING task is refused (pause or cancel it first).
/// Returns how many records went with it.
pub async fn delete_task(store: &dyn Store, task_id: &str) -> Result<u64> {
    match store.delete_task(task_id, &[TaskStatus::Running]).await? {
        DeleteOutcome::Deleted => purge_records(store, task_id).await,
        DeleteOutcome::Refused(status) => Err(EngineError::WrongState {
            task_id: task_id.to_string(),
            status,
            reason: "pause or cancel it before deleting it".into(),
        }),
    }
}

/// Deletes the records of a task that is gone, batch by batch, until none are left.
async fn purge_records(store: &dyn Store, task_id: &str) -> Result<u64> {
    let mut removed = 0;
    loop {
        let batch = store.purge_task_records(task_id, PURGE_BATCH).await?;
        if batch == 0 {
            return Ok(removed);
        }
        removed += batch;
    }
}

/// Which tasks a prune removes.
#[derive(Debug, Clone)]
pub struct PruneRule {
    /// Tasks created before this moment.
    pub created_before: DateTime<Utc>,
    /// With one of these statuses (never RUNNING).
    pub statuses: Vec<TaskStatus>,
    /// List what would go, and remove nothing.
    pub dry_run: bool,
}

/// The statuses a prune takes when none are named: the tasks that have ended.
pub const ENDED: [TaskStatus; 3] = [
    TaskStatus::Completed,
    TaskStatus::Failed,
    TaskStatus::Cancelled,
];

/// What a prune removed (or, on a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    pub task_ids: Vec<String>,
    /// Records removed, those of earlier interrupted deletes included.
    pub records: u64,
    /// Tasks whose records an earlier, interrupted delete had left behind.
    pub leftovers: Vec<String>,
}

/// Removes every task the rule names, then any records an interrupted delete left behind.
pub async fn prune_tasks(store: &dyn Store, rule: &PruneRule) -> Result<PruneReport> {
    if rule.statuses.contains(&TaskStatus::Running) {
        return Err(EngineError::invalid(
            "status",
            "a RUNNING task cannot be pruned; pause or cancel it first",
        ));
    }
    let mut report = PruneReport::default();
    for &status in &rule.statuses {
        let mut query = TaskQuery {
            status: Some(status),
            limit: 500,
            ..TaskQuery::default()
        };
        loop {
            let page = store.list_tasks(&query).await?;
            report.task_ids.extend(
                page.items
                    .iter()
                    .filter(|task| task.created_at < rule.created_before)
                    .map(|task| task.task_id.clone()),
            );
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    if rule.dry_run {
        return Ok(report);
    }
    for task_id in &report.task_ids {
        match delete_task(store, task_id).await {
            Ok(records) => report.records += records,
            // Started or deleted by someone else since the list was read: not ours to remove.
            Err(EngineError::WrongState { .. }) | Err(EngineError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    report.leftovers = store.orphaned_record_tasks().await?;
    for task_id in &report.leftovers {
        report.records += purge_records(store, task_id).await?;
    }
    Ok(report)
}

/// Parses a retention period: a whole number of days (`90d`), weeks (`2w`) or hours (`12h`).
pub fn parse_age(text: &str) -> std::result::Result<chrono::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let count: i64 = number.parse().map_err(|_| {
        format!("{text:?} is not an age: expected a number and a unit, like 90d, 2w or 12h")
    })?;
    if count < 0 {
        return Err(format!("{text:?}: an age cannot be negative"));
    }
    match unit {
        "h" => chrono::Duration::try_hours(count),
        "d" => chrono::Duration::try_days(count),
        "w" => chrono::Duration::try_weeks(count),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?} is not an age: the unit is h, d or w, like 90d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_hours_days_or_weeks() {
        assert_eq!(parse_age("90d"), Ok(chrono::Duration::days(90)));
        assert_eq!(parse_age("2w"), Ok(chrono::Duration::weeks(2)));
        assert_eq!(parse_age(" 12h "), Ok(chrono::Duration::hours(12)));
        for bad in ["", "d", "90", "90m", "-1d", "1.5d", "99999999999999w"] {
            assert!(parse_age(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
