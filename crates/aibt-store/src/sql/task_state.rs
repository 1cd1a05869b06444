//! The columns of `tasks` that change while a task runs: its lifecycle, which a status change
//! writes by compare-and-set, and its progress, which every committed batch writes.

use aibt_core::TaskStatus;

use super::columns::BindRow;
use super::dialect::Dialect;
use super::table::Table;
use crate::error::{Result, StoreError};
use crate::lifecycle::Lifecycle;

/// The lifecycle columns of `tasks`, which a status change writes together.
pub static LIFECYCLE: Table = Table::new(
    "tasks",
    "task",
    &[
        "task_id",
        "status",
        "started_at",
        "paused_at",
        "resumed_at",
        "completed_at",
        "error_message",
        "stats",
        "lease_owner",
        "lease_expires_at",
        "options",
        "updated_at",
    ],
);

/// A status change of one task, written only if its status is still `expected`.
pub struct LifecycleChange<'a> {
    pub task_id: &'a str,
    pub expected: TaskStatus,
    /// The lease the change is fenced by: a worker ending its own run changes the task only
    /// while the lease is still its own.
    pub holder: Option<&'a str>,
    pub lifecycle: &'a Lifecycle,
}

impl LifecycleChange<'_> {
    /// The compare-and-set UPDATE: the lifecycle columns in order, then the expected status,
    /// then (when fenced) the lease holder.
    pub fn sql(&self, dialect: Dialect) -> String {
        let marker = dialect.marker();
        let status = LIFECYCLE.columns.len() + 1;
        let mut sql = format!(
            "{} AND status = {marker}{status}",
            LIFECYCLE.sql(dialect).update
        );
        if self.holder.is_some() {
            sql.push_str(&format!(" AND lease_owner = {marker}{}", status + 1));
        }
        sql
    }

    pub fn bind(&self, b: &mut impl BindRow) {
        let l = self.lifecycle;
        b.text(self.task_id);
        b.label(l.status.as_str());
        b.opt_time(l.started_at);
        b.opt_time(l.paused_at);
        b.opt_time(l.resumed_at);
        b.opt_time(l.completed_at);
        b.opt_text(l.error_message.as_deref());
        b.opt_json(l.stats.as_ref());
        b.opt_text(l.lease_owner.as_deref());
        b.opt_time(l.lease_expires_at);
        b.json(&l.options);
        b.time(l.updated_at);
        b.label(self.expected.as_str());
        if let Some(holder) = self.holder {
            b.text(holder);
        }
    }
}

/// The progress columns of `tasks`, which every committed batch writes.
pub static PROGRESS: Table = Table::new(
    "tasks",
    "task",
    &[
        "task_id",
        "processed_items",
        "total_items",
        "checkpoint",
        "lease_expires_at",
        "updated_at",
    ],
);

/// A task's status as stored, read for the lease fence and for refusals.
pub fn task_status(text: &str) -> Result<TaskStatus> {
    text.parse()
        .map_err(|e: aibt_core::EnumParseError| StoreError::corrupt("tasks", "status", text, e))
}
