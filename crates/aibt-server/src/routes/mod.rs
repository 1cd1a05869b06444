//! The API's handlers, one module per resource.

pub mod accounts;
pub mod ai_configs;
pub mod context;
pub mod events;
pub mod experiments;
pub mod market_data;
pub mod market_sources;
pub mod tasks;
pub mod templates;

use aibt_engine::budget::Budget;
use serde::Deserialize;
use utoipa::ToSchema;

/// What a resume (of a task or an experiment) may change: the budget, after the run paused
/// at the old one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// The new budget, replacing the old (an empty one removes it). An experiment's is split
    /// among its model tasks by their decisions.
    pub budget: Option<Budget>,
}
