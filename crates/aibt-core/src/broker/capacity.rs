//! What an account can do at a price: the most a BUY, SELL, SHORT or COVER would trade, by the
//! broker's own sizing rule with every fee, so that a model (or a person) sees the numbers the
//! broker will hold it to.

use chrono::DateTime;
use serde::Serialize;

use super::{Account, BrokerError, Execution, Order, OrderSize};
use crate::decimal::{Money, Quantity};
use crate::enums::{TradeAction, TradeStatus};

/// The most each order would trade now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Capacity {
    /// Units a BUY of everything opens (when short, after covering: the reversal).
    pub buy: Quantity,
    /// Units a SELL closes: the long position.
    pub sell: Quantity,
    /// Units a SHORT of everything opens (when long, after selling: the reversal).
    pub short: Quantity,
    /// Units a COVER closes: the short position.
    pub cover: Quantity,
    /// Units the opposite position would have after a reversal (a SHORT while long, a BUY
    /// while short); `None` when flat.
    pub reversal: Option<Quantity>,
}

impl Account {
    /// What each order would trade at `price` (before slippage, which the broker applies as
    /// it fills), computed by filling it on a copy of the account: the same rule, the same
    /// fees, the same rounding as the real fill.
    pub fn capacity(&self, price: Money) -> Result<Capacity, BrokerError> {
        let buy = self.opened_by(TradeAction::Buy, price)?;
        let short = self.opened_by(TradeAction::ShortSell, price)?;
        let sell = self.long_quantity()?;
        let cover = self.short_quantity()?;
        let reversal = if sell.is_positive() {
            Some(short)
        } else if cover.is_positive() {
            Some(buy)
        } else {
            None
        };
        Ok(Capacity {
            buy,
            sell,
            short,
            cover,
            reversal,
        })
    }

    /// What `order` would do at `price` now, filled on a copy of this account: the broker's
    /// verdict and its records, with nothing executed.
    pub fn trial(&self, order: &Order, price: Money) -> Result<Execution, BrokerError> {
        self.clone()
            .execute(order, price, DateTime::UNIX_EPOCH, self.fill_bar)
    }

    /// Units an all-in `action` would open on a copy of this account.
    fn opened_by(&self, action: TradeAction, price: Money) -> Result<Quantity, BrokerError> {
        let order = Order {
            action,
            size: OrderSize::All,
        };
        let execution = self.trial(&order, price)?;
        let mut opened = Quantity::ZERO;
        for fill in &execution.fills {
            if fill.action == action && fill.status == TradeStatus::Executed {
                opened = opened.checked_add(fill.quantity)?;
            }
        }
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::AccountSettings;
    use crate::decimal::Rate;
    use crate::enums::MarketType;

    fn account(cash: &str, commission: &str, min: &str) -> Account {
        Account::open(
            AccountSettings {
                market_type: MarketType::Us,
                initial_balance: Money::parse(cash).unwrap(),
                commission_rate_buy: Rate::parse(commission).unwrap(),
                commission_rate_sell: Rate::parse(commission).unwrap(),
                tax_rate: Rate::ZERO,
                min_commission: Money::parse(min).unwrap(),
                short_margin_ratio: Rate::ONE,
                whole_units: true,
                slippage: Rate::ZERO,
                borrow_rate: Rate::ZERO,
            },
            "t",
        )
    }

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    fn price(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    #[test]
    fn a_flat_account_can_buy_or_short_what_its_cash_pays_for_with_fees() {
        // 99 × 100 × 1.001 = 9,909.90 fits 10,000; 100 units would cost 10,010.
        let flat = account("10000", "0.001", "0");
        let capacity = flat.capacity(price("100")).unwrap();
        assert_eq!(capacity.buy, q("99"));
        assert_eq!(capacity.short, q("99"));
        assert_eq!(
            (capacity.sell, capacity.cover),
            (Quantity::ZERO, Quantity::ZERO)
        );
        assert_eq!(capacity.reversal, None);
        // A minimum commission of 15: 99 × 100 + 15 = 9,915 fits; 100 units would not.
        let with_minimum = account("10000", "0.0001", "15");
        assert_eq!(with_minimum.capacity(price("100")).unwrap().buy, q("99"));
        // Capacity leaves the account as it was.
        assert_eq!(flat.capacity(price("100")).unwrap(), capacity);
    }

    #[test]
    fn a_long_account_can_sell_what_it_holds_and_reverse_with_the_proceeds() {
        let mut long = account("10000", "0.001", "0");
        let order = Order {
            action: TradeAction::Buy,
            size: OrderSize::Quantity(q("50")),
        };
        long.execute(&order, price("100"), DateTime::UNIX_EPOCH, 0)
            .unwrap();
        // Cash 10,000 − 5,005 = 4,995; buying more at 100: 4,995 / 100.1 → 49 units.
        let capacity = long.capacity(price("100")).unwrap();
        assert_eq!(capacity.sell, q("50"));
        assert_eq!(capacity.buy, q("49"));
        // Selling 50 at 110 brings 5,500 − 5.50 = 5,494.50: cash 10,489.50, and a short at
        // 110 with 0.1 % needs 110.11 a unit: 95 units (10,460.45), 96 would need 10,570.56.
        let at_110 = long.capacity(price("110")).unwrap();
        assert_eq!(at_110.short, q("95"));
        assert_eq!(at_110.reversal, Some(q("95")));
        assert_eq!(at_110.cover, Quantity::ZERO);
    }
}
