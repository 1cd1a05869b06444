//! Every table once: its name, its entity, its columns in order, and how its row type is read
//! from and bound to them. The column lists drive the INSERT, SELECT and UPDATE of
//! [`super::TableSql`], so a read, a bind and a statement cannot disagree on the order.
//!
//! One module per family of tables: `accounts` (accounts and their snapshots), `tasks`
//! (tasks, decisions and trades), `ai` (templates, AI configs and the answer cache),
//! `bars` and `experiments`. The lists across families stay here.

mod accounts;
mod ai;
mod bars;
mod context;
mod experiments;
mod tasks;

pub use accounts::*;
pub use ai::*;
pub use bars::*;
pub use context::*;
pub use experiments::*;
pub use tasks::*;

use super::table::Table;

/// aibt's tables, for `db check`'s row counts.
pub static TABLES: [&Table; 12] = [
    &ACCOUNTS,
    &SNAPSHOTS,
    &DECISIONS,
    &TASKS,
    &TRADES,
    &TEMPLATES,
    &AI_CONFIGS,
    &BARS,
    &CACHE,
    &EXPERIMENTS,
    &EXPERIMENT_RUNS,
    &CONTEXT,
];

/// The tables of a task's records (by their `task_id`): they go with the task, in batches
/// after it (its run account goes with the task row itself).
pub static TASK_RECORD_TABLES: [&Table; 3] = [&SNAPSHOTS, &DECISIONS, &TRADES];
