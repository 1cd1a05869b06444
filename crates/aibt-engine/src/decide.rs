//! Where a run's decisions come from. The run loop (`run`) is the same for every task; what
//! differs is its decision source: a built-in rule, the recorded decisions of a finished task
//! (both here), or a model asked through a prompt template (`model`).

use std::future::Future;

use aibt_core::broker::Account;
use aibt_core::orders::Bracket;
use aibt_core::simulation::PendingOrder;
use aibt_core::{Bar, Decision, DecisionContext, PointInTime, Strategy};
use aibt_store::Store;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::Result;

/// A decision bar, as the run loop hands it to a source.
#[derive(Debug, Clone, Copy)]
pub struct DecisionPoint<'a> {
    pub bar: &'a Bar,
    /// The bar's index within the task's period (0: its first bar).
    pub index: u64,
    /// 0 for the task's first decision.
    pub step: u64,
    /// The account after this bar's opening fills.
    pub account: &'a Account,
    /// The open position's stop, target and trailing stop.
    pub bracket: &'a Bracket,
    /// An order still waiting for its price.
    pub pending: Option<&'a PendingOrder>,
}

/// Facts of a decision beyond the strategy's answer: its timing, the data it saw, and for a
/// model's decision the prompt, the answer and what the answer cost.
#[derive(Debug, Clone, Default)]
pub struct DecisionFacts {
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub market_data: Option<Value>,
    pub prompt: Option<String>,
    pub prompt_hash: Option<String>,
    pub raw_answer: Option<String>,
    pub parsed_decision: Option<Value>,
    pub error: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub thinking: Option<String>,
    pub reasoning_tokens: Option<i64>,
    /// Tool mode: the decision's tool calls and their results.
    pub tool_transcript: Option<Value>,
    /// What the decision's calls cost, by the AI config's prices.
    pub cost: Option<aibt_core::Money>,
    pub from_cache: bool,
    pub llm_calls: i64,
}

impl DecisionFacts {
    /// A decision taken at `time` with nothing more to say about it (a rule's).
    pub fn at(time: DateTime<Utc>) -> DecisionFacts {
        DecisionFacts {
            start_time: time,
            end_time: time,
            ..DecisionFacts::default()
        }
    }
}

/// A source's answer at a decision bar.
#[derive(Debug, Clone)]
pub struct Decided {
    pub decision: Decision,
    /// How the decision was made; `None` for a rule, which the loop stamps with the time.
    pub facts: Option<DecisionFacts>,
    /// Why the decision failed; a failed decision is carried out as a hold.
    pub failure: Option<String>,
}

/// What a finished run's source adds to the task's statistics.
#[derive(Debug, Clone, Default)]
pub struct SourceSummary {
    /// Keys merged into the task's `stats`.
    pub stats: serde_json::Map<String, Value>,
    /// Whether the task ends COMPLETED_WITH_ERRORS.
    pub with_errors: bool,
}

/// A decision maker the run loop can drive.
pub trait DecisionSource: Send {
    /// Bars of history the first decision needs behind it (indicator warm-up).
    fn warmup_bars(&self) -> usize;

    /// Sees every bar in order, history before the period included, before any decision at
    /// that bar.
    fn observe(&mut self, bar: &Bar);

    /// The decision at a decision bar.
    fn decide(&mut self, point: DecisionPoint<'_>) -> impl Future<Output = Result<Decided>> + Send;

    /// Whether each decision step is committed on its own, so a pause lands within one step
    /// (a model's decision costs seconds), rather than in batches of bars (a rule's, which
    /// costs nanoseconds).
    fn commits_each_decision(&self) -> bool;

    /// What the source adds to a finished run's statistics.
    fn finish(
        &self,
        store: &dyn Store,
        task_id: &str,
    ) -> impl Future<Output = Result<SourceSummary>> + Send;
}

/// A synchronous rule: a built-in strategy, or a replay of recorded decisions.
pub struct RuleSource {
    strategy: Box<dyn Strategy>,
}

impl RuleSource {
    pub fn new(strategy: Box<dyn Strategy>) -> RuleSource {
        RuleSource { strategy }
    }
}

impl DecisionSource for RuleSource {
    fn warmup_bars(&self) -> usize {
        self.strategy.warmup_bars()
    }

    fn observe(&mut self, bar: &Bar) {
        self.strategy.observe(bar);
    }

    fn decide(&mut self, point: DecisionPoint<'_>) -> impl Future<Output = Result<Decided>> + Send {
        // A rule keeps what it needs of the past in its own state (it observed every bar), so
        // its window is the decision bar alone.
        let context = DecisionContext {
            window: PointInTime::ending_with(std::slice::from_ref(point.bar)),
            account: point.account,
            step: point.step,
            time: point.bar.ts,
        };
        std::future::ready(Ok(Decided {
            decision: self.strategy.decide(&context),
            facts: None,
            failure: None,
        }))
    }

    fn commits_each_decision(&self) -> bool {
        false
    }

    fn finish(
        &self,
        _store: &dyn Store,
        _task_id: &str,
    ) -> impl Future<Output = Result<SourceSummary>> + Send {
        std::future::ready(Ok(SourceSummary::default()))
    }
}
