//! How a task runs, stored as the task's `options` JSON.

use std::collections::BTreeMap;

use aibt_core::FillRule;
use aibt_store::Task;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::strategy::StrategyRef;

/// How a task runs, stored as the task's `options` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskOptions {
    /// Parameters of a built-in strategy.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub fill: FillRule,
    /// Hide the symbol and dates from the model and rebase prices (AI strategies).
    #[serde(default)]
    pub blind: bool,
    /// Close any open position at the last bar's close (exit reason END); otherwise it stays
    /// open, as backtesting.py's `finalize_trades=False`.
    #[serde(default)]
    pub close_at_end: bool,
    /// Whether a decision to hold gets a `local_decisions` row. A model's every answer is
    /// recorded; a built-in rule's holds by default are not: they say only that the rule did
    /// not trigger, are reproducible from the bars, and would be one row per bar.
    #[serde(default)]
    pub record_holds: Option<bool>,
    /// AI tasks: whether the decision cache is read and written.
    #[serde(default)]
    pub cache: aibt_ai::llm::CacheMode,
    /// AI tasks: decisions asked ahead when the template does not read the account (0 or 1:
    /// one at a time).
    #[serde(default)]
    pub prefetch: u32,
    /// AI tasks: bars shown in `bars` (0: the default, 30).
    #[serde(default)]
    pub window: u32,
    /// AI tasks: failed decisions tolerated before the task is FAILED (default: a quarter of
    /// its decisions, at least 5).
    #[serde(default)]
    pub failure_limit: Option<u64>,
    /// AI tasks: how often an unusable answer is asked again (default 2).
    #[serde(default)]
    pub answer_retries: Option<u32>,
    /// AI tasks: sampling seed sent to the model.
    #[serde(default)]
    pub seed: Option<u64>,
    /// AI tasks: the most the task may spend on its model, in money (by the AI config's
    /// prices) or tokens; it pauses before a call would pass it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::budget::Budget>,
    /// AI tasks: `json` or `tools`, instead of the AI config's decision mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_mode: Option<aibt_core::DecisionMode>,
    /// AI tasks in tool mode: the most tool calls a decision may make, its
    /// `submit_decision` included (default 8, at most 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 64))]
    pub max_tool_calls: Option<u32>,
    /// AI tasks: sampling temperature, instead of the AI config's (an experiment's repeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<aibt_core::Rate>,
    /// AI tasks: the template's content when the task was created (set by aibt, not by the
    /// user), so that editing the template later changes neither a resumed run's prompts nor
    /// what the task says it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub template_content: Option<String>,
}

impl TaskOptions {
    /// The options a task was created with.
    pub fn of_task(task: &Task) -> Result<TaskOptions> {
        serde_json::from_value(task.options.clone())
            .map_err(|e| EngineError::invalid("options", format!("unreadable task options: {e}")))
    }

    /// Whether holds are recorded for a task of this strategy. A model's every answer is,
    /// whatever the option says: a resumed run shows the last decisions in its prompts, read
    /// back from these rows.
    pub fn records_holds(&self, strategy: &StrategyRef) -> bool {
        strategy.uses_model() || self.record_holds.unwrap_or(!strategy.is_builtin())
    }

    /// Failed decisions a task may have before it is FAILED: a quarter of its decisions, at
    /// least five, unless the task says otherwise.
    pub fn failure_limit(&self, total_items: u64) -> u64 {
        self.failure_limit
            .unwrap_or_else(|| (total_items.div_ceil(4)).max(5))
    }
}
