//! aibt's engine: the use cases of aibt and the one path that runs a task.
//!
//! It owns creating tasks and moving them through their lifecycle (`task`), what a task's
//! decisions come from (`strategy`, `decide`, `model`, `replay`), the run loop that feeds bars
//! to the simulation and commits its records (`run`), the workers that claim tasks (`worker`),
//! and the use cases that the HTTP API, the web UI and the CLI only translate: accounts
//! (`accounts`), series (`series`), templates, AI configs, comparisons, exports. Accounting
//! itself is aibt-core's; storage is behind aibt-store's `Store`.

pub mod accounts;
pub mod ai_config;
pub mod budget;
pub mod compare;
pub mod context;
pub mod decide;
pub mod error;
pub mod experiment;
pub mod export;
pub mod market;
pub mod model;
pub mod records;
pub mod replay;
pub mod run;
pub mod secrets;
pub mod series;
pub mod strategy;
pub mod task;
pub mod templates;
pub mod worker;

pub use aibt_core::{Checkpoint, FillRule, Simulation};
pub use error::{EngineError, Result};
pub use run::{Claimed, Progress, RunConfig, RunOutcome, claim, claim_and_run};
pub use strategy::StrategyRef;
pub use task::{TaskOptions, TaskSpec, Transition, create_task, transition};
