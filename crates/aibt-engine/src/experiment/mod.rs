//! Experiments: does a strategy really work? A grid of ordinary tasks (strategies × series ×
//! periods × repeats, blind twins, baselines) created at once, run by any worker, and judged on
//! one leaderboard against buy-and-hold, cash and luck, with its out-of-sample drop, its
//! memorisation gap and what it cost.
//!
//! - [`spec`]: the spec a user writes (TOML, or JSON through the API), checked field by field;
//! - [`plan`]: the grid resolved against the store, and what it would cost;
//! - [`create`]: creating it, and pausing, resuming or cancelling all its tasks;
//! - [`drive`]: running its tasks in this process, beside any worker;
//! - [`load`], [`compute`], [`board`]: the leaderboard from the stored runs;
//! - [`random_runs`]: the random baseline, simulated from the bars.

pub mod board;
pub mod budget;
pub mod compute;
pub mod create;
pub mod drive;
pub mod load;
pub mod plan;
pub mod random_runs;
pub mod spec;

pub use board::Leaderboard;
pub use create::{ExperimentChange, change_experiment, create_experiment};
pub use drive::{Driven, drive};
pub use load::{experiment_tasks, leaderboard};
pub use plan::{Plan, PlanSummary, estimate, plan};
pub use spec::ExperimentSpec;
