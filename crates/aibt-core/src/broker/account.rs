//! The state of a virtual account and the seed's columns as views of it.

use serde::{Deserialize, Serialize};

use super::{AccountSettings, BrokerError, Lot, average_price, sum_money, sum_quantity};
use crate::decimal::{DecimalError, Money, Quantity, scaled_product};
use crate::enums::{ExitReason, PositionSide};

/// The state of a virtual account; the seed's columns are views of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub settings: AccountSettings,
    /// Free cash (`available_balance`).
    pub available: Money,
    /// Cash locked by open shorts.
    pub margin_used: Money,
    pub long_lots: Vec<Lot>,
    pub short_lots: Vec<Lot>,
    pub total_fees: Money,
    /// Realised P&L before fees, the other side of the ledger invariant.
    pub realized_gross: Money,
    /// Last price the account was marked at (`stock_price`).
    pub mark_price: Money,
    /// Prefix of the trade ids this account issues (the task id), so ids are deterministic
    /// and a re-executed step can never add a second copy of a trade.
    pub trade_id_prefix: String,
    pub trade_seq: u64,
    /// Index of the bar being filled, set by [`Account::execute`] for the lots it opens.
    #[serde(skip)]
    pub(super) fill_bar: u64,
    /// What the execution in progress closes positions for, named on its closing records.
    #[serde(skip)]
    pub(super) cause: ExitReason,
    /// Borrow fees charged on shorts so far (also counted in `total_fees`).
    #[serde(default)]
    pub borrow_fees: Money,
}

impl Account {
    /// A fresh account holding only its initial cash.
    pub fn open(settings: AccountSettings, trade_id_prefix: impl Into<String>) -> Account {
        Account {
            available: settings.initial_balance,
            settings,
            margin_used: Money::ZERO,
            long_lots: Vec::new(),
            short_lots: Vec::new(),
            total_fees: Money::ZERO,
            realized_gross: Money::ZERO,
            mark_price: Money::ZERO,
            trade_id_prefix: trade_id_prefix.into(),
            trade_seq: 0,
            fill_bar: 0,
            cause: ExitReason::Signal,
            borrow_fees: Money::ZERO,
        }
    }

    pub fn long_quantity(&self) -> Result<Quantity, BrokerError> {
        sum_quantity(&self.long_lots)
    }

    pub fn short_quantity(&self) -> Result<Quantity, BrokerError> {
        sum_quantity(&self.short_lots)
    }

    /// Positive when long, negative when short (the seed's `stock_quantity`).
    pub fn signed_quantity(&self) -> Result<Quantity, BrokerError> {
        if self.short_lots.is_empty() {
            self.long_quantity()
        } else {
            Ok(self.short_quantity()?.negate())
        }
    }

    pub fn position_side(&self) -> PositionSide {
        if self.short_lots.is_empty() {
            PositionSide::Long
        } else {
            PositionSide::Short
        }
    }

    pub fn is_long(&self) -> bool {
        !self.long_lots.is_empty()
    }

    pub fn is_short(&self) -> bool {
        !self.short_lots.is_empty()
    }

    pub fn is_flat(&self) -> bool {
        self.long_lots.is_empty() && self.short_lots.is_empty()
    }

    /// `available + margin_used`: all cash, locked or not (`current_balance`).
    pub fn current_balance(&self) -> Result<Money, BrokerError> {
        Ok(self.available.checked_add(self.margin_used)?)
    }

    /// Notional received for the open shorts (`short_total_cost`).
    pub fn short_total_cost(&self) -> Result<Money, BrokerError> {
        sum_money(self.short_lots.iter().map(|lot| lot.cost))
    }

    /// What the long lots cost (the ledger's cost basis).
    pub fn long_cost_basis(&self) -> Result<Money, BrokerError> {
        sum_money(self.long_lots.iter().map(|lot| lot.cost))
    }

    pub fn short_avg_price(&self) -> Result<Money, BrokerError> {
        average_price(&self.short_lots)
    }

    /// Average entry price of the open position, long or short (`avg_price_after`).
    pub fn avg_price(&self) -> Result<Money, BrokerError> {
        if self.short_lots.is_empty() {
            average_price(&self.long_lots)
        } else {
            average_price(&self.short_lots)
        }
    }

    /// The position marked at `price`, signed like the quantity (`stock_market_value`).
    pub fn market_value_at(&self, price: Money) -> Result<Money, BrokerError> {
        Ok(price.times(self.signed_quantity()?)?)
    }

    /// Equity at `price`: cash + long value + margin + unrealised short P&L (`total_value`).
    ///
    /// Computed on every bar, so it works on the integer mantissas (all amounts are kept at
    /// scale 8) and builds one decimal at the end; each product is rounded exactly as
    /// [`Money::times`] rounds it.
    pub fn equity_at(&self, price: Money) -> Result<Money, BrokerError> {
        let overflow = || BrokerError(DecimalError::Overflow { kind: "amount" });
        let value = |lots: &[Lot]| {
            let quantity: i128 = lots.iter().map(|lot| lot.quantity.mantissa()).sum();
            scaled_product(price.mantissa(), quantity, Quantity::SCALE).ok_or_else(overflow)
        };
        let mut total = self.available.mantissa() + self.margin_used.mantissa();
        if !self.long_lots.is_empty() {
            total += value(&self.long_lots)?;
        }
        if !self.short_lots.is_empty() {
            let cost: i128 = self.short_lots.iter().map(|lot| lot.cost.mantissa()).sum();
            total += cost - value(&self.short_lots)?;
        }
        Ok(Money::new_mantissa(total)?)
    }

    /// Equity at the last mark price.
    pub fn equity(&self) -> Result<Money, BrokerError> {
        self.equity_at(self.mark_price)
    }

    /// Remembers the price the account is valued at (a bar's close, or a fill price).
    pub fn mark(&mut self, price: Money) {
        self.mark_price = price;
    }

    /// The ledger identity (see the module docs); true for every reachable state.
    pub fn reconciles(&self) -> Result<bool, BrokerError> {
        let left = self
            .available
            .checked_add(self.margin_used)?
            .checked_add(self.long_cost_basis()?)?
            .checked_add(self.total_fees)?;
        let right = self
            .settings
            .initial_balance
            .checked_add(self.realized_gross)?;
        Ok(left == right)
    }
}
