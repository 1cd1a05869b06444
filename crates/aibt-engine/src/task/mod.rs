//! Tasks: how they run (options), creating them, what people see of them, and their
//! lifecycle.

mod create;
mod detail;
mod lifecycle;
mod options;

pub use create::{TaskSpec, create_task, prepare_task};
pub use detail::{TaskDetail, task_detail};
pub use lifecycle::{Transition, delete_task, transition};
pub use options::TaskOptions;
