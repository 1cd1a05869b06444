//! aibt's engine: creates tasks, moves them through their lifecycle, and runs them over
//! stored bars, writing decisions, trades, snapshots and statistics to the store.

pub mod ai_config;
pub mod error;
pub mod export;
pub mod llm_run;
pub mod recorder;
pub mod records;
pub mod replay;
pub mod runner;
pub mod secrets;
pub mod simulation;
pub mod task;
pub mod templates;
pub mod worker;

pub use error::{EngineError, Result};
pub use runner::{Progress, RunConfig, RunOutcome, run_task};
pub use simulation::{Checkpoint, Simulation};
pub use task::{FillRule, TaskOptions, TaskSpec, Transition, create_task, transition};
