//! Orders beyond "now": the stop-loss, take-profit and trailing stop of the open position, and
//! limit orders that wait for their price.
//!
//! The execution rules are backtesting.py 0.6.6's (`_Broker._process_orders`; the rules with
//! their source lines are in tools/reference/README.md, "Orders"): a stop touched inside a bar
//! fills at the stop and gapped through at the open; a target or a limit touched fills at its
//! price and gapped through at the (better) open; triggers compare the bar's raw low and high,
//! inclusively; when the stop and the target both lie inside one bar, the stop counts. Levels
//! are never rounded to a tick.

use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::decimal::{DecimalError, Money, Percent};
use crate::enums::{ExitReason, PositionSide, TradeAction};

/// A stop-loss or take-profit level as a decision gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// An absolute price.
    Price(Money),
    /// Percent of the decision bar's close: for a long, a stop at close × (1 − pct/100) and a
    /// target at close × (1 + pct/100); for a short the reverse.
    Percent(Percent),
}

/// What a decision says of one setting of the position: leave it as it is, set it, or
/// remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
    Remove,
}

impl<T: Copy> Change<T> {
    /// The setting after this change.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Change::Keep => current,
            Change::Set(value) => Some(value),
            Change::Remove => None,
        }
    }

    pub fn is_keep(&self) -> bool {
        matches!(self, Change::Keep)
    }

    fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        match self {
            Change::Keep => Change::Keep,
            Change::Set(value) => Change::Set(f(value)),
            Change::Remove => Change::Remove,
        }
    }
}

/// What a decision asks beyond its action and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderTerms {
    /// The position's stop-loss.
    pub stop_loss: Change<Level>,
    /// The position's take-profit.
    pub take_profit: Change<Level>,
    /// A stop that follows the best close since entry by this percent.
    pub trailing_stop_pct: Change<Percent>,
    /// The order fills only at this price or better (a buy at or below it, a sell at or
    /// above it).
    pub limit_price: Option<Money>,
    /// Bars a limit order stays live after its decision (default 1: only the next bar).
    pub order_ttl_bars: Option<u32>,
}

impl OrderTerms {
    /// Whether the terms ask for nothing beyond the action.
    pub fn is_empty(&self) -> bool {
        *self == OrderTerms::default()
    }

    /// Whether the terms change the position's bracket.
    pub fn changes_bracket(&self) -> bool {
        !(self.stop_loss.is_keep()
            && self.take_profit.is_keep()
            && self.trailing_stop_pct.is_keep())
    }

    /// The bracket change with its levels as prices, for a position on `side` decided at a
    /// bar that closed at `close`.
    pub fn resolve(&self, side: PositionSide, close: Money) -> Result<BracketChange, DecimalError> {
        let price = |level: Level, away: Away| -> Result<Money, DecimalError> {
            match level {
                Level::Price(price) => Ok(price),
                Level::Percent(pct) => {
                    let fraction = pct.get() / rust_decimal::Decimal::ONE_HUNDRED;
                    let factor = match away {
                        Away::Below => rust_decimal::Decimal::ONE - fraction,
                        Away::Above => rust_decimal::Decimal::ONE + fraction,
                    };
                    let product = close
                        .get()
                        .checked_mul(factor)
                        .ok_or(DecimalError::Overflow { kind: "price" })?;
                    Money::new(product)
                }
            }
        };
        let (stop_side, target_side) = match side {
            PositionSide::Long => (Away::Below, Away::Above),
            PositionSide::Short => (Away::Above, Away::Below),
        };
        Ok(BracketChange {
            stop_loss: resolve_change(self.stop_loss, |l| price(l, stop_side))?,
            take_profit: resolve_change(self.take_profit, |l| price(l, target_side))?,
            trailing_stop_pct: self.trailing_stop_pct,
        })
    }
}

#[derive(Clone, Copy)]
enum Away {
    Below,
    Above,
}

fn resolve_change(
    change: Change<Level>,
    price: impl FnOnce(Level) -> Result<Money, DecimalError>,
) -> Result<Change<Money>, DecimalError> {
    Ok(match change.map(price) {
        Change::Keep => Change::Keep,
        Change::Remove => Change::Remove,
        Change::Set(result) => Change::Set(result?),
    })
}

/// A change of the position's bracket with its levels as prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BracketChange {
    pub stop_loss: Change<Money>,
    pub take_profit: Change<Money>,
    pub trailing_stop_pct: Change<Percent>,
}

impl BracketChange {
    /// Whether a level lies on the wrong side of `reference` for a position on `side` (a
    /// long's stop at or above it, a long's target at or below it, the reverse for a short):
    /// the reason why such a change is refused.
    pub fn misplaced(&self, side: PositionSide, reference: Money) -> Option<String> {
        let long = side == PositionSide::Long;
        if let Change::Set(stop) = self.stop_loss
            && (if long {
                stop >= reference
            } else {
                stop <= reference
            })
        {
            return Some(format!(
                "stop_loss {stop} is not {} the price {reference}",
                if long { "below" } else { "above" }
            ));
        }
        if let Change::Set(target) = self.take_profit
            && (if long {
                target <= reference
            } else {
                target >= reference
            })
        {
            return Some(format!(
                "take_profit {target} is not {} the price {reference}",
                if long { "above" } else { "below" }
            ));
        }
        if let Change::Set(pct) = self.trailing_stop_pct
            && (!pct.is_positive() || pct.get() >= rust_decimal::Decimal::ONE_HUNDRED)
        {
            return Some(format!("trailing_stop_pct {pct} is not between 0 and 100"));
        }
        None
    }
}

/// The stop, target and trailing stop of the open position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Bracket {
    pub stop_loss: Option<Money>,
    pub take_profit: Option<Money>,
    pub trailing_stop_pct: Option<Percent>,
    /// The best close since entry (a long's highest, a short's lowest), which the trailing
    /// stop follows; none until the entry bar has closed.
    pub best_close: Option<Money>,
}

impl Bracket {
    pub fn is_empty(&self) -> bool {
        self.stop_loss.is_none() && self.take_profit.is_none() && self.trailing_stop_pct.is_none()
    }

    /// The bracket after `change`.
    pub fn changed(self, change: &BracketChange) -> Bracket {
        let trailing = change.trailing_stop_pct.apply(self.trailing_stop_pct);
        Bracket {
            stop_loss: change.stop_loss.apply(self.stop_loss),
            take_profit: change.take_profit.apply(self.take_profit),
            // A new trailing distance follows the closes from now on.
            best_close: if trailing == self.trailing_stop_pct {
                self.best_close
            } else {
                None
            },
            trailing_stop_pct: trailing,
        }
    }

    /// The trailing stop's level, once a close has been seen.
    pub fn trailing_stop(&self, side: PositionSide) -> Result<Option<Money>, DecimalError> {
        let (Some(pct), Some(best)) = (self.trailing_stop_pct, self.best_close) else {
            return Ok(None);
        };
        let fraction = pct.get() / rust_decimal::Decimal::ONE_HUNDRED;
        let factor = match side {
            PositionSide::Long => rust_decimal::Decimal::ONE - fraction,
            PositionSide::Short => rust_decimal::Decimal::ONE + fraction,
        };
        let level = best
            .get()
            .checked_mul(factor)
            .ok_or(DecimalError::Overflow { kind: "price" })?;
        Ok(Some(Money::new(level)?))
    }

    /// The stop that applies, the tighter of the fixed stop and the trailing stop, and which
    /// of the two it is.
    pub fn effective_stop(
        &self,
        side: PositionSide,
    ) -> Result<Option<(Money, ExitReason)>, DecimalError> {
        let fixed = self.stop_loss.map(|level| (level, ExitReason::StopLoss));
        let trailing = self
            .trailing_stop(side)?
            .map(|level| (level, ExitReason::TrailingStop));
        Ok(match (fixed, trailing) {
            (Some(f), Some(t)) => {
                let trailing_tighter = match side {
                    PositionSide::Long => t.0 > f.0,
                    PositionSide::Short => t.0 < f.0,
                };
                Some(if trailing_tighter { t } else { f })
            }
            (f, t) => f.or(t),
        })
    }

    /// Follows the close of a bar the position was held through.
    pub fn follow(&mut self, side: PositionSide, close: Money) {
        if self.trailing_stop_pct.is_none() {
            return;
        }
        self.best_close = Some(match (self.best_close, side) {
            (None, _) => close,
            (Some(best), PositionSide::Long) => best.max(close),
            (Some(best), PositionSide::Short) => best.min(close),
        });
    }

    /// The exit this bar triggers for a position on `side`, if any: the price the rules give
    /// (before slippage) and the cause. The stop is tested first: when the stop and the target
    /// both lie inside the bar, the stop counts.
    pub fn triggered(
        &self,
        side: PositionSide,
        bar: &Bar,
    ) -> Result<Option<(Money, ExitReason)>, DecimalError> {
        if let Some((stop, reason)) = self.effective_stop(side)? {
            match side {
                PositionSide::Long if bar.low <= stop => {
                    return Ok(Some((bar.open.min(stop), reason)));
                }
                PositionSide::Short if bar.high >= stop => {
                    return Ok(Some((bar.open.max(stop), reason)));
                }
                _ => {}
            }
        }
        if let Some(target) = self.take_profit {
            match side {
                PositionSide::Long if bar.high >= target => {
                    return Ok(Some((bar.open.max(target), ExitReason::TakeProfit)));
                }
                PositionSide::Short if bar.low <= target => {
                    return Ok(Some((bar.open.min(target), ExitReason::TakeProfit)));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

/// The price at which a limit order for `action` fills in `bar`, if the bar reaches it: a buy
/// (BUY, COVER) when the low is at or below the limit, at the limit or the lower open; a sell
/// (SELL, SHORT) when the high is at or above it, at the limit or the higher open.
pub fn limit_fill(action: TradeAction, limit: Money, bar: &Bar) -> Option<Money> {
    if action.is_buy_side() {
        (bar.low <= limit).then(|| bar.open.min(limit))
    } else {
        (bar.high >= limit).then(|| bar.open.max(limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    fn bar(open: &str, high: &str, low: &str, close: &str) -> Bar {
        Bar {
            ts: chrono::DateTime::UNIX_EPOCH,
            open: money(open),
            high: money(high),
            low: money(low),
            close: money(close),
            volume: crate::decimal::Quantity::ZERO,
        }
    }

    #[test]
    fn percent_levels_are_placed_away_from_the_close_on_each_side() {
        let terms = OrderTerms {
            stop_loss: Change::Set(Level::Percent(Percent::parse("5").unwrap())),
            take_profit: Change::Set(Level::Percent(Percent::parse("10").unwrap())),
            ..OrderTerms::default()
        };
        let long = terms.resolve(PositionSide::Long, money("200")).unwrap();
        assert_eq!(long.stop_loss, Change::Set(money("190")));
        assert_eq!(long.take_profit, Change::Set(money("220")));
        let short = terms.resolve(PositionSide::Short, money("200")).unwrap();
        assert_eq!(short.stop_loss, Change::Set(money("210")));
        assert_eq!(short.take_profit, Change::Set(money("180")));
    }

    #[test]
    fn a_stop_touched_fills_at_the_stop_and_gapped_through_at_the_open() {
        let bracket = Bracket {
            stop_loss: Some(money("95")),
            take_profit: Some(money("110")),
            ..Bracket::default()
        };
        let touched = bracket
            .triggered(PositionSide::Long, &bar("100", "101", "94", "96"))
            .unwrap();
        assert_eq!(touched, Some((money("95"), ExitReason::StopLoss)));
        let gapped = bracket
            .triggered(PositionSide::Long, &bar("93", "97", "92", "96"))
            .unwrap();
        assert_eq!(gapped, Some((money("93"), ExitReason::StopLoss)));
        let target_gapped = bracket
            .triggered(PositionSide::Long, &bar("112", "115", "111", "113"))
            .unwrap();
        assert_eq!(target_gapped, Some((money("112"), ExitReason::TakeProfit)));
    }

    #[test]
    fn when_stop_and_target_lie_in_one_bar_the_stop_counts() {
        let bracket = Bracket {
            stop_loss: Some(money("95")),
            take_profit: Some(money("110")),
            ..Bracket::default()
        };
        let both = bracket
            .triggered(PositionSide::Long, &bar("111", "112", "94", "100"))
            .unwrap();
        assert_eq!(both, Some((money("95"), ExitReason::StopLoss)));
        let short = Bracket {
            stop_loss: Some(money("105")),
            take_profit: Some(money("90")),
            ..Bracket::default()
        };
        let both = short
            .triggered(PositionSide::Short, &bar("100", "106", "89", "100"))
            .unwrap();
        assert_eq!(both, Some((money("105"), ExitReason::StopLoss)));
    }

    #[test]
    fn the_trailing_stop_follows_the_best_close_and_only_tightens() {
        let mut bracket = Bracket {
            stop_loss: Some(money("90")),
            trailing_stop_pct: Some(Percent::parse("5").unwrap()),
            ..Bracket::default()
        };
        assert_eq!(
            bracket.effective_stop(PositionSide::Long).unwrap(),
            Some((money("90"), ExitReason::StopLoss))
        );
        bracket.follow(PositionSide::Long, money("100"));
        bracket.follow(PositionSide::Long, money("120"));
        bracket.follow(PositionSide::Long, money("110"));
        assert_eq!(
            bracket.effective_stop(PositionSide::Long).unwrap(),
            Some((money("114"), ExitReason::TrailingStop))
        );
    }

    #[test]
    fn limit_orders_fill_at_their_price_or_a_better_open() {
        let limit = money("100");
        assert_eq!(
            limit_fill(TradeAction::Buy, limit, &bar("102", "103", "99", "101")),
            Some(limit)
        );
        assert_eq!(
            limit_fill(TradeAction::Buy, limit, &bar("98", "99", "97", "98")),
            Some(money("98"))
        );
        assert_eq!(
            limit_fill(TradeAction::Buy, limit, &bar("102", "103", "100.01", "101")),
            None
        );
        assert_eq!(
            limit_fill(
                TradeAction::ShortSell,
                limit,
                &bar("101", "102", "100", "101")
            ),
            Some(money("101"))
        );
    }

    #[test]
    fn misplaced_levels_are_named() {
        let change = BracketChange {
            stop_loss: Change::Set(money("101")),
            ..BracketChange::default()
        };
        assert!(
            change
                .misplaced(PositionSide::Long, money("100"))
                .unwrap()
                .starts_with("stop_loss")
        );
        assert!(
            change
                .misplaced(PositionSide::Short, money("100"))
                .is_none()
        );
    }
}
