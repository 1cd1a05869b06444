//! Tasks: how they run (options), creating them, what people see of them, and their
//! lifecycle.

mod create;
mod detail;
mod lifecycle;
mod options;

pub use create::{TaskSpec, check_budget, create_task, prepare_task};
pub use detail::{TaskDetail, task_detail};
pub use lifecycle::{Transition, delete_task, resume_with_budget, transition};
pub use options::TaskOptions;
