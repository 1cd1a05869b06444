//! Tasks: how they run (options), creating them, what people see of them, and their
//! lifecycle, and removing them.

mod create;
mod detail;
mod estimate;
mod lifecycle;
mod options;
mod removal;

pub use create::{TaskSpec, check_budget, create_task, prepare_task, prepare_task_on};
pub use detail::{TaskDetail, task_detail};
pub use estimate::{TaskEstimate, estimate_task};
pub use lifecycle::{Transition, resume_with_budget, settle_run, transition};
pub use options::TaskOptions;
pub use removal::{
    ENDED, PURGE_BATCH, PruneReport, PruneRule, delete_task, parse_age, prune_tasks,
};
