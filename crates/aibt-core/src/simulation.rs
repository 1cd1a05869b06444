//! One task's simulation, bar by bar, with no IO: fills at the open, a decision at the close,
//! marking, statistics. The engine's run loop feeds it stored bars and persists what it
//! produces; the benchmark feeds it bars in memory.
//!
//! The order of events on a bar is the order a trader lives it, and backtesting.py's (the
//! rules and their source lines are in tools/reference/README.md, "Orders"): borrow fees
//! accrue for the time since the last bar; at the open, an order decided at the previous
//! decision bar that closes the position fills first (a signal beats the bracket); then the
//! position's stop, trailing stop and target are tested against the bar; then an entry fills
//! (a market order at the open, its new bracket tested on this same bar; a limit order when
//! the bar reaches its price, its bracket from the next bar on). The strategy sees the bar; at
//! a decision bar it decides (filled at this close with `fill=close`, else queued); the account
//! is marked at the close, the trailing stop follows the close, and the bar enters the
//! statistics.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::bar::Bar;
use crate::broker::{Account, BrokerError, Execution, Order, OrderSize};
use crate::decimal::Money;
use crate::decision::Decision;
use crate::enums::{ExitReason, PositionSide, TradeAction, TradeStatus};
use crate::orders::{Bracket, BracketChange, OrderTerms, limit_fill};
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

/// An order waiting for a later bar: a market order for the next open, or a limit order
/// for its price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub order: Order,
    pub decision_id: String,
    /// What the position's bracket becomes when this order opens or adds to it.
    #[serde(default)]
    pub bracket: BracketChange,
    /// Fills only at this price or better.
    #[serde(default)]
    pub limit_price: Option<Money>,
    /// A limit order's last bar (period index) to fill on.
    #[serde(default)]
    pub last_bar: Option<u64>,
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
    /// The open position's stop, target and trailing stop.
    #[serde(default)]
    pub bracket: Bracket,
    /// When the last bar processed opened (borrow fees accrue from there).
    #[serde(default)]
    pub last_bar_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub borrow_fees: Money,
}

/// Fills of one bar, with the decision they carry out (none for a bracket's exit or a margin
/// call).
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
    bracket: Bracket,
    last_bar_time: Option<DateTime<Utc>>,
    /// The period index of the last bar, when the task ends flat (its position closed at that
    /// bar's close).
    end_flat_at: Option<u64>,
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

/// The action that closes a position on `side`.
fn closing_action(side: PositionSide) -> TradeAction {
    match side {
        PositionSide::Long => TradeAction::Sell,
        PositionSide::Short => TradeAction::CoverShort,
    }
}

/// The side of the position an entry opens or adds to; `None` for a SELL or COVER.
fn entry_side(action: TradeAction) -> Option<PositionSide> {
    match action {
        TradeAction::Buy => Some(PositionSide::Long),
        TradeAction::ShortSell => Some(PositionSide::Short),
        _ => None,
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
                account.borrow_fees = checkpoint.borrow_fees;
                Simulation {
                    account,
                    fill,
                    interval,
                    first_decision_bar,
                    next_bar: checkpoint.next_bar,
                    steps: checkpoint.steps,
                    pending: checkpoint.pending,
                    bracket: checkpoint.bracket,
                    last_bar_time: checkpoint.last_bar_time,
                    end_flat_at: None,
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
                    bracket: Bracket::default(),
                    last_bar_time: None,
                    end_flat_at: None,
                    stats,
                    rejected_orders: 0,
                    failed_decisions: 0,
                }
            }
        }
    }

    /// Closes any position at the close of the bar with period index `last_bar` (the task
    /// ends flat; its records name END).
    pub fn end_flat_at(&mut self, last_bar: u64) {
        self.end_flat_at = Some(last_bar);
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

    /// The open position's stop, target and trailing stop.
    pub fn bracket(&self) -> &Bracket {
        &self.bracket
    }

    /// The order waiting for a later bar, if any.
    pub fn pending(&self) -> Option<&PendingOrder> {
        self.pending.as_ref()
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

    /// Whether `order` closes (or reverses) the open position rather than opening one or
    /// adding to it.
    fn closes_position(&self, order: &Order) -> bool {
        match order.action {
            TradeAction::Sell | TradeAction::ShortSell => self.account.is_long(),
            TradeAction::CoverShort | TradeAction::Buy => self.account.is_short(),
            TradeAction::Hold => false,
        }
    }

    /// The bar opens: borrow fees accrue, then a queued order that closes the position fills,
    /// the bracket is tested, and a queued entry fills.
    pub fn open(&mut self, bar: &Bar, fills: &mut BarFills) -> Result<()> {
        if let Some(previous) = self.last_bar_time {
            self.account.accrue_borrow(bar.ts - previous)?;
        }
        let mut entry = None;
        if let Some(pending) = self.pending.take() {
            if pending.limit_price.is_none() && self.closes_position(&pending.order) {
                self.fill_pending(pending, bar.open, bar, fills)?;
            } else {
                entry = Some(pending);
            }
        }
        self.exit_on_bracket(bar, fills)?;
        if let Some(pending) = entry {
            match pending.limit_price {
                None => {
                    self.fill_pending(pending, bar.open, bar, fills)?;
                    // backtesting.py processes its queue a second time after a market entry
                    // with a bracket: the new stop and target can trigger on the entry's bar.
                    self.exit_on_bracket(bar, fills)?;
                }
                Some(limit) => match limit_fill(pending.order.action, limit, bar) {
                    // A limit entry's bracket is tested from the next bar on.
                    Some(price) => self.fill_pending(pending, price, bar, fills)?,
                    None if pending.last_bar.is_some_and(|last| self.next_bar < last) => {
                        self.pending = Some(pending);
                    }
                    // Its time ran out: the order is dropped.
                    None => {}
                },
            }
        }
        Ok(())
    }

    /// Fills a queued order at `price` and gives the position the bracket the order carries.
    fn fill_pending(
        &mut self,
        pending: PendingOrder,
        price: Money,
        bar: &Bar,
        fills: &mut BarFills,
    ) -> Result<()> {
        let execution = self
            .account
            .execute(&pending.order, price, bar.ts, self.next_bar)?;
        self.after_fill(&pending.bracket, &execution);
        fills
            .executions
            .push((execution, Some(pending.decision_id)));
        Ok(())
    }

    /// The bracket after an order filled: gone with the position; new for a position the order
    /// opened (or reversed); changed as the order says for a position it added to.
    fn after_fill(&mut self, change: &BracketChange, execution: &Execution) {
        self.record(execution);
        if self.account.is_flat() {
            self.bracket = Bracket::default();
            return;
        }
        let opened = execution
            .fills
            .iter()
            .any(|f| f.status == TradeStatus::Executed && f.open_id.is_none());
        let closed = execution.fills.iter().any(|f| f.open_id.is_some());
        match (opened, closed) {
            // Reversed: the old position's bracket went with it.
            (true, true) => self.bracket = Bracket::default().changed(change),
            // Opened (a flat account has no bracket) or added to.
            (true, false) => self.bracket = self.bracket.changed(change),
            // Partly closed: what is left keeps its bracket.
            (false, _) => {}
        }
    }

    /// Closes the position if the bar reaches its stop, trailing stop or target.
    fn exit_on_bracket(&mut self, bar: &Bar, fills: &mut BarFills) -> Result<()> {
        if self.account.is_flat() || self.bracket.is_empty() {
            return Ok(());
        }
        let side = self.account.position_side();
        let Some((price, cause)) = self.bracket.triggered(side, bar)? else {
            return Ok(());
        };
        let order = Order {
            action: closing_action(side),
            size: OrderSize::All,
        };
        let execution = self
            .account
            .execute_for(&order, price, bar.ts, self.next_bar, cause)?;
        self.after_fill(&BracketChange::default(), &execution);
        fills.executions.push((execution, None));
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
            return self.change_bracket_now(bar, &decision.orders, decision_id, fills);
        };
        let change = match entry_side(order.action) {
            Some(side) => {
                let change = decision.orders.resolve(side, bar.close)?;
                let reference = decision.orders.limit_price.unwrap_or(bar.close);
                if let Some(reason) = change.misplaced(side, reference) {
                    return self.refuse(&order, bar, decision_id, reason, fills);
                }
                change
            }
            // A SELL or COVER may move the bracket of what it leaves open.
            None => {
                self.change_bracket_now(bar, &decision.orders, decision_id, fills)?;
                BracketChange::default()
            }
        };
        let limit_price = decision.orders.limit_price;
        let pending = PendingOrder {
            order,
            decision_id: decision_id.to_string(),
            bracket: change,
            limit_price,
            last_bar: limit_price.map(|_| {
                self.next_bar + u64::from(decision.orders.order_ttl_bars.unwrap_or(1).max(1))
            }),
        };
        match (self.fill, limit_price) {
            (FillRule::Close, None) => self.fill_pending(pending, bar.close, bar, fills),
            _ => {
                self.pending = Some(pending);
                Ok(())
            }
        }
    }

    /// Moves or removes the open position's stop, target or trailing stop as a decision says
    /// (levels in percent are of this bar's close), from the next bar on.
    fn change_bracket_now(
        &mut self,
        bar: &Bar,
        terms: &OrderTerms,
        decision_id: &str,
        fills: &mut BarFills,
    ) -> Result<()> {
        if !terms.changes_bracket() || self.account.is_flat() {
            return Ok(());
        }
        let side = self.account.position_side();
        let change = terms.resolve(side, bar.close)?;
        if let Some(reason) = change.misplaced(side, bar.close) {
            let order = Order {
                action: closing_action(side),
                size: OrderSize::All,
            };
            return self.refuse(
                &order,
                bar,
                decision_id,
                format!("{reason}: the bracket was not changed"),
                fills,
            );
        }
        self.bracket = self.bracket.changed(&change);
        Ok(())
    }

    /// Records an order refused before it reached the broker.
    fn refuse(
        &mut self,
        order: &Order,
        bar: &Bar,
        decision_id: &str,
        reason: String,
        fills: &mut BarFills,
    ) -> Result<()> {
        let execution = self.account.refuse(order, bar.close, bar.ts, reason)?;
        self.record(&execution);
        fills
            .executions
            .push((execution, Some(decision_id.to_string())));
        Ok(())
    }

    /// The bar closes: the account is marked at the close. An account whose equity reaches
    /// zero (only a short can take it there) is covered at the close, as a margin call would,
    /// and cannot open anything again. At the task's last bar, a task that ends flat closes
    /// its position here. The trailing stop follows the close.
    pub fn close(&mut self, bar: &Bar, fills: &mut BarFills) -> Result<Money> {
        self.account.mark(bar.close);
        let mut equity = self.account.equity_at(bar.close)?;
        if !equity.is_positive() && self.account.is_short() {
            self.close_position(bar, ExitReason::MarginCall, fills)?;
            equity = self.account.equity_at(bar.close)?;
        }
        if self.end_flat_at == Some(self.next_bar) && !self.account.is_flat() {
            self.close_position(bar, ExitReason::End, fills)?;
            equity = self.account.equity_at(bar.close)?;
        }
        if !self.account.is_flat() {
            self.bracket.follow(self.account.position_side(), bar.close);
        }
        self.stats.push_bar(bar.ts, bar.close, equity);
        self.last_bar_time = Some(bar.ts);
        self.next_bar += 1;
        Ok(equity)
    }

    /// Closes the whole position at the bar's close.
    fn close_position(&mut self, bar: &Bar, cause: ExitReason, fills: &mut BarFills) -> Result<()> {
        let order = Order {
            action: closing_action(self.account.position_side()),
            size: OrderSize::All,
        };
        let execution =
            self.account
                .execute_for(&order, bar.close, bar.ts, self.next_bar, cause)?;
        self.after_fill(&BracketChange::default(), &execution);
        fills.executions.push((execution, None));
        Ok(())
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
            bracket: self.bracket,
            last_bar_time: self.last_bar_time,
            borrow_fees: self.account.borrow_fees,
        }
    }

    /// The statistics so far.
    pub fn stats(&self) -> Stats {
        self.stats.finish(self.account.total_fees)
    }
}
