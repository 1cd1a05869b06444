//! What a strategy answers, and what it is allowed to see when it answers.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::broker::{Account, BrokerError, Order, OrderSize};
use crate::decimal::{Money, Quantity, Rate};
use crate::enums::{PositionSide, TradeAction};
use crate::orders::OrderTerms;

/// A strategy's answer at one decision bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub action: TradeAction,
    pub size: OrderSize,
    /// 0..=1.
    pub confidence: Rate,
    /// A fixed text costs no allocation, which matters to a rule deciding on every bar.
    pub reasoning: Cow<'static, str>,
    /// Stop-loss, take-profit, trailing stop and limit: what the decision asks beyond "now".
    #[serde(default, skip_serializing_if = "OrderTerms::is_empty")]
    pub orders: OrderTerms,
}

impl Decision {
    /// A HOLD with full confidence, as rule strategies give when nothing triggers.
    pub fn hold(reasoning: impl Into<Cow<'static, str>>) -> Decision {
        Decision {
            action: TradeAction::Hold,
            size: OrderSize::All,
            confidence: Rate::ONE,
            reasoning: reasoning.into(),
            orders: OrderTerms::default(),
        }
    }

    /// An order for everything available, with full confidence.
    pub fn all_in(action: TradeAction, reasoning: impl Into<Cow<'static, str>>) -> Decision {
        Decision {
            action,
            size: OrderSize::All,
            confidence: Rate::ONE,
            reasoning: reasoning.into(),
            orders: OrderTerms::default(),
        }
    }

    /// The same decision carrying `orders`.
    pub fn with_orders(mut self, orders: OrderTerms) -> Decision {
        self.orders = orders;
        self
    }

    /// The order this decision places, if any.
    pub fn order(&self) -> Option<Order> {
        (self.action != TradeAction::Hold).then_some(Order {
            action: self.action,
            size: self.size,
        })
    }
}

/// Bars up to and including the decision bar, newest last.
///
/// The only way to build one is from a slice that ends at the decision bar, so code that
/// renders a prompt or computes an indicator from it has no later bar to read: the window is
/// the whole of what was known at that moment.
#[derive(Debug, Clone, Copy)]
pub struct PointInTime<'a> {
    bars: &'a [Bar],
}

impl<'a> PointInTime<'a> {
    /// `bars` must end with the decision bar; it is empty only before any bar was seen.
    pub fn ending_with(bars: &'a [Bar]) -> PointInTime<'a> {
        PointInTime { bars }
    }

    /// The bars, oldest first, ending with the decision bar.
    pub fn bars(&self) -> &'a [Bar] {
        self.bars
    }

    /// The decision bar.
    pub fn current(&self) -> Option<&'a Bar> {
        self.bars.last()
    }

    /// The last `n` bars (fewer if the window is shorter).
    pub fn last(&self, n: usize) -> PointInTime<'a> {
        PointInTime {
            bars: &self.bars[self.bars.len().saturating_sub(n)..],
        }
    }

    pub fn len(&self) -> usize {
        self.bars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }
}

/// The account as a strategy sees it at the decision bar's close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionView {
    pub side: PositionSide,
    /// Positive long, negative short, zero flat.
    pub quantity: Quantity,
    pub avg_price: Money,
    pub available_balance: Money,
    pub margin_used: Money,
    pub total_value: Money,
    pub total_fees: Money,
}

impl PositionView {
    pub fn is_long(&self) -> bool {
        self.quantity.is_positive()
    }

    pub fn is_short(&self) -> bool {
        self.quantity.is_negative()
    }

    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }
}

impl PositionView {
    /// The account marked at `price`.
    pub fn of(account: &Account, price: Money) -> Result<PositionView, BrokerError> {
        Ok(PositionView {
            side: account.position_side(),
            quantity: account.signed_quantity()?,
            avg_price: account.avg_price()?,
            available_balance: account.available,
            margin_used: account.margin_used,
            total_value: account.equity_at(price)?,
            total_fees: account.total_fees,
        })
    }
}

/// Everything a decision may depend on: the bars known at the decision bar's close and the
/// account after that bar's fills.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    pub window: PointInTime<'a>,
    pub account: &'a Account,
    /// 0 for the first decision of the task.
    pub step: u64,
    pub time: DateTime<Utc>,
}

impl DecisionContext<'_> {
    /// The account as a view marked at the decision bar's close.
    pub fn position(&self) -> Result<PositionView, BrokerError> {
        let price = self
            .window
            .current()
            .map_or(self.account.mark_price, |bar| bar.close);
        PositionView::of(self.account, price)
    }
}

/// A rule strategy: synchronous and deterministic, so a resumed task can rebuild its state by
/// observing the same bars again.
pub trait Strategy: Send {
    /// Bars that must precede the first decision (indicator warm-up).
    fn warmup_bars(&self) -> usize;
    /// Sees every bar in order, warm-up included, before any decision at that bar.
    fn observe(&mut self, bar: &Bar);
    /// Decides at a decision bar, after [`Strategy::observe`] saw it.
    fn decide(&mut self, context: &DecisionContext<'_>) -> Decision;
}
