//! Replaying a finished task: its recorded decisions, taken again bar by bar under other
//! account settings (cash, fees, fill rule), with no model call. The decisions are the ones
//! the model gave; only the money differs.

use std::collections::HashMap;

use aibt_core::decision::DecisionContext;
use aibt_core::{Bar, Decision, Strategy};
use aibt_store::Store;

use crate::error::Result;

/// The strategy name of a replay: `replay:<task id>`.
pub const PREFIX: &str = "replay:";

/// The decisions of a finished task, by the time of their bar.
pub struct ReplayStrategy {
    decisions: HashMap<i64, Decision>,
}

impl ReplayStrategy {
    /// Loads every decision of `task_id`. A bar without a recorded decision holds: a rule's
    /// holds are not recorded unless asked, and a failed decision was a hold.
    pub async fn load(store: &dyn Store, task_id: &str) -> Result<ReplayStrategy> {
        let mut decisions = HashMap::new();
        for row in crate::records::all_decisions(store, task_id).await? {
            let Some(time) = row.analysis_date else {
                continue;
            };
            let decision = row
                .parsed_decision
                .as_ref()
                .and_then(aibt_ai::answer::decision_from_json)
                .filter(|_| row.error.is_none())
                .unwrap_or_else(|| Decision {
                    orders: Default::default(),
                    action: row.decision_result,
                    size: aibt_core::OrderSize::All,
                    confidence: row.confidence_score,
                    reasoning: row.reasoning.clone().into(),
                });
            decisions.insert(time.timestamp_micros(), decision);
        }
        Ok(ReplayStrategy { decisions })
    }
}

impl Strategy for ReplayStrategy {
    fn warmup_bars(&self) -> usize {
        0
    }

    fn observe(&mut self, _bar: &Bar) {}

    fn decide(&mut self, context: &DecisionContext<'_>) -> Decision {
        self.decisions
            .get(&context.time.timestamp_micros())
            .cloned()
            .unwrap_or_else(|| Decision::hold("no decision was recorded at this bar"))
    }
}
