//! Tasks: how they run (options), creating them, what people see of them, and their
//! lifecycle, and removing them.

mod create;
mod detail;
mod lifecycle;
mod options;
mod removal;

pub use create::{TaskSpec, check_budget, create_task, prepare_task};
pub use detail::{TaskDetail, task_detail};
pub use lifecycle::{Transition, resume_with_budget, transition};
pub use options::TaskOptions;
pub use removal::{
    ENDED, PURGE_BATCH, PruneReport, PruneRule, delete_task, parse_age, prune_tasks,
};
