//! One task's simulation, bar by bar, with no IO: fills at the open, a decision at the close,
//! marking, statistics. The engine's run loop feeds it stored bars and persists what it
//! produces; the benchmark feeds it bars in memory.
//!
//! The order of events on a bar is the order a trader lives it: an order decided at the
//! previous decision bar fills at this bar's open; the strategy sees the bar; at a decision
//! bar it decides (filled at this close with `fill=close`, else queued for the next open);
//! the account is marked at the close and the bar enters the statistics.

use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::broker::{Account, BrokerError, Execution, Order, OrderSize};
use crate::decimal::Money;
use crate::decision::Decision;
use crate::enums::{TradeAction, TradeStatus};
use crate::stats::{Stats, StatsAccumulator};

type Result<T> = std::result::Result<T, BrokerError>;

/// When an order decided at a bar is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FillRule {
    /// At the next bar's open: the decision saw this bar's close, so it cannot trade at it.
    #[default]
    NextOpen,
    /// At the decision bar's close, as the original system did.
    Close,
}

/// A fill rule that is neither `next_open` nor `close`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a fill rule: expected next_open or close")]
pub struct FillRuleError(pub String);

impl std::str::FromStr for FillRule {
    type Err = FillRuleError;
    fn from_str(text: &str) -> std::result::Result<FillRule, FillRuleError> {
        match text {
            "next_open" => Ok(FillRule::NextOpen),
            "close" => Ok(FillRule::Close),
            other => Err(FillRuleError(other.to_string())),
        }
    }
}

/// An order waiting for the next bar's open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub order: Order,
    pub decision_id: String,
}

/// What a resumed run needs besides the run account: stored in the task's `checkpoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Period index of the next bar to process.
    pub next_bar: u64,
    /// Decisions made so far.
    pub steps: u64,
    pub pending: Option<PendingOrder>,
    pub stats: StatsAccumulator,
    pub realized_gross: Money,
    pub trade_seq: u64,
    /// Orders the broker refused so far.
    pub rejected_orders: u64,
    /// Decisions of a model that failed (recorded as holds).
    #[serde(default)]
    pub failed_decisions: u64,
}

/// Fills of one bar, with the decision they carry out (none for a margin call).
#[derive(Debug, Default)]
pub struct BarFills {
    pub executions: Vec<(Execution, Option<String>)>,
}

impl BarFills {
    pub fn is_empty(&self) -> bool {
        self.executions.iter().all(|(e, _)| e.fills.is_empty())
    }
}

/// What one bar did.
#[derive(Debug)]
pub struct StepOutcome {
    /// The step number and decision, at a decision bar.
    pub decided: Option<(u64, Decision)>,
    /// Equity at the bar's close.
    pub equity: Money,
}

/// The simulation of one task.
pub struct Simulation {
    pub account: Account,
    fill: FillRule,
    interval: u64,
    first_decision_bar: u64,
    next_bar: u64,
    steps: u64,
    pending: Option<PendingOrder>,
    stats: StatsAccumulator,
    rejected_orders: u64,
    failed_decisions: u64,
}

/// The period index of the first decision: decisions fall on every `interval`-th bar of the
/// period, from the first one with `warmup` bars of history (warm-up bars before the period
/// count) behind it.
pub fn first_decision_bar(warmup: u64, warmup_available: u64, interval: u64) -> u64 {
    let earliest = warmup.saturating_sub(warmup_available);
    earliest.div_ceil(interval) * interval
}

/// How many decisions a period of `bars` bars holds.
pub fn decision_count(bars: u64, first_decision_bar: u64, interval: u64) -> u64 {
    if first_decision_bar >= bars {
        0
    } else {
        (bars - 1 - first_decision_bar) / interval + 1
    }
}

impl Simulation {
    /// A simulation starting on the period's first bar, or resuming from a checkpoint.
    pub fn new(
        mut account: Account,
        fill: FillRule,
        interval: u64,
        first_decision_bar: u64,
        checkpoint: Option<Checkpoint>,
    ) -> Simulation {
        let interval = interval.max(1);
        match checkpoint {
            Some(checkpoint) => {
                account.realized_gross = checkpoint.realized_gross;
                account.trade_seq = checkpoint.trade_seq;
                Simulation {
                    account,
                    fill,
                    interval,
                    first_decision_bar,
                    next_bar: checkpoint.next_bar,
                    steps: checkpoint.steps,
                    pending: checkpoint.pending,
                    stats: checkpoint.stats,
                    rejected_orders: checkpoint.rejected_orders,
                    failed_decisions: checkpoint.failed_decisions,
                }
            }
            None => {
                let stats = StatsAccumulator::new(account.settings.initial_balance);
                Simulation {
                    account,
                    fill,
                    interval,
                    first_decision_bar,
                    next_bar: 0,
                    steps: 0,
                    pending: None,
                    stats,
                    rejected_orders: 0,
                    failed_decisions: 0,
                }
            }
        }
    }

    /// Period index of the bar the next [`Simulation::open`] processes.
    pub fn next_bar(&self) -> u64 {
        self.next_bar
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn rejected_orders(&self) -> u64 {
        self.rejected_orders
    }

    pub fn failed_decisions(&self) -> u64 {
        self.failed_decisions
    }

    /// A model's decision failed (it goes through [`Simulation::decide`] as a hold).
    pub fn count_failed_decision(&mut self) {
        self.failed_decisions += 1;
    }

    /// Whether the current bar is a decision bar.
    pub fn is_decision_bar(&self) -> bool {
        self.next_bar >= self.first_decision_bar
            && (self.next_bar - self.first_decision_bar).is_multiple_of(self.interval)
    }

    fn record(&mut self, execution: &Execution) {
        for trip in &execution.round_trips {
            self.stats.push_round_trip(trip);
        }
        self.rejected_orders += execution
            .fills
            .iter()
            .filter(|f| f.status == TradeStatus::Failed)
            .count() as u64;
    }

    /// The bar opens: a queued order fills at its open.
    pub fn open(&mut self, bar: &Bar, fills: &mut BarFills) -> Result<()> {
        if let Some(pending) = self.pending.take() {
            let execution =
                self.account
                    .execute(&pending.order, bar.open, bar.ts, self.next_bar)?;
            self.record(&execution);
            fills
                .executions
                .push((execution, Some(pending.decision_id)));
        }
        Ok(())
    }

    /// The strategy decided at this bar's close.
    pub fn decide(
        &mut self,
        bar: &Bar,
        decision: &Decision,
        decision_id: &str,
        fills: &mut BarFills,
    ) -> Result<()> {
        if self.steps == 0 {
            self.stats.mark_first_decision();
        }
        self.steps += 1;
        let Some(order) = decision.order() else {
            return Ok(());
        };
        match self.fill {
            FillRule::Close => {
                let execution = self
                    .account
                    .execute(&order, bar.close, bar.ts, self.next_bar)?;
                self.record(&execution);
                fills
                    .executions
                    .push((execution, Some(decision_id.to_string())));
            }
            FillRule::NextOpen => {
                self.pending = Some(PendingOrder {
                    order,
                    decision_id: decision_id.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The bar closes: the account is marked at the close. An account whose equity reaches
    /// zero (only a short can take it there) is covered at the close, as a margin call would,
    /// and cannot open anything again.
    pub fn close(&mut self, bar: &Bar, fills: &mut BarFills) -> Result<Money> {
        self.account.mark(bar.close);
        let mut equity = self.account.equity_at(bar.close)?;
        if !equity.is_positive() && self.account.is_short() {
            let call = Order {
                action: TradeAction::CoverShort,
                size: OrderSize::All,
            };
            let execution = self
                .account
                .execute(&call, bar.close, bar.ts, self.next_bar)?;
            self.record(&execution);
            fills.executions.push((execution, None));
            equity = self.account.equity_at(bar.close)?;
        }
        self.stats.push_bar(bar.ts, bar.close, equity);
        self.next_bar += 1;
        Ok(equity)
    }

    /// One whole bar with a synchronous decision maker: open, decide (at a decision bar),
    /// close. `decide` gets the account after the open's fills and the step number, and
    /// returns the decision with its id.
    pub fn step(
        &mut self,
        bar: &Bar,
        fills: &mut BarFills,
        decide: &mut dyn FnMut(&Account, u64) -> (Decision, String),
    ) -> Result<StepOutcome> {
        fills.executions.clear();
        self.open(bar, fills)?;
        let mut decided = None;
        if self.is_decision_bar() {
            let step = self.steps;
            let (decision, decision_id) = decide(&self.account, step);
            self.decide(bar, &decision, &decision_id, fills)?;
            decided = Some((step, decision));
        }
        let equity = self.close(bar, fills)?;
        Ok(StepOutcome { decided, equity })
    }

    /// What a resumed run needs to continue exactly here.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            next_bar: self.next_bar,
            steps: self.steps,
            pending: self.pending.clone(),
            stats: self.stats.clone(),
            realized_gross: self.account.realized_gross,
            trade_seq: self.account.trade_seq,
            rejected_orders: self.rejected_orders,
            failed_decisions: self.failed_decisions,
        }
    }

    /// The statistics so far.
    pub fn stats(&self) -> Stats {
        self.stats.finish(self.account.total_fees)
    }
}
