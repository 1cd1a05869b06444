//! What an order costs: commission (with its minimum), tax, margin, and the most an amount
//! of cash pays for.

use rust_decimal::Decimal;

use super::{Account, BrokerError, div, money, mul};
use crate::decimal::{Money, Quantity, Rate};
use crate::enums::TradeAction;

/// Seconds in the year a borrow rate is quoted for (365 days, calendar time).
const YEAR_SECONDS: i64 = 365 * 24 * 60 * 60;

impl Account {
    /// Charges the borrow fee of the open shorts for `elapsed` calendar time at the last mark:
    /// per lot, market value × `borrow_rate` × elapsed / 365 days, rounded like every amount.
    /// The fee comes out of cash and adds to the lot's fees (so its round trip carries it),
    /// to `total_fees` and to `borrow_fees`. Returns the total charged.
    pub fn accrue_borrow(&mut self, elapsed: chrono::Duration) -> Result<Money, BrokerError> {
        let rate = self.settings.borrow_rate.get();
        let seconds = elapsed.num_seconds();
        if rate.is_zero() || seconds <= 0 || self.short_lots.is_empty() {
            return Ok(Money::ZERO);
        }
        let share = div(
            mul(rate, Decimal::from(seconds))?,
            Decimal::from(YEAR_SECONDS),
        )?;
        let mut charged = Money::ZERO;
        for index in 0..self.short_lots.len() {
            let value = self.mark_price.times(self.short_lots[index].quantity)?;
            let fee = money(mul(value.get(), share)?)?;
            let lot = &mut self.short_lots[index];
            lot.fees = lot.fees.checked_add(fee)?;
            charged = charged.checked_add(fee)?;
        }
        self.available = self.available.checked_sub(charged)?;
        self.total_fees = self.total_fees.checked_add(charged)?;
        self.borrow_fees = self.borrow_fees.checked_add(charged)?;
        Ok(charged)
    }

    pub(super) fn commission(
        &self,
        notional: Money,
        side_rate: Rate,
    ) -> Result<Money, BrokerError> {
        Ok(notional
            .times_rate(side_rate)?
            .max(self.settings.min_commission))
    }

    /// Cash an opening order of `quantity` needs, and its commission and tax.
    pub(super) fn opening_cost(
        &self,
        action: TradeAction,
        quantity: Quantity,
        price: Money,
    ) -> Result<OpeningCost, BrokerError> {
        let notional = price.times(quantity)?;
        Ok(if action == TradeAction::Buy {
            let commission = self.commission(notional, self.settings.commission_rate_buy)?;
            OpeningCost {
                notional,
                commission,
                tax: Money::ZERO,
                margin: Money::ZERO,
                cash: notional.checked_add(commission)?,
            }
        } else {
            let commission = self.commission(notional, self.settings.commission_rate_sell)?;
            let tax = notional.times_rate(self.settings.tax_rate)?;
            let margin = notional.times_rate(self.settings.short_margin_ratio)?;
            OpeningCost {
                notional,
                commission,
                tax,
                margin,
                cash: margin.checked_add(commission)?.checked_add(tax)?,
            }
        })
    }

    /// The most units `budget` pays for, fees included. The estimate from the per-unit cost
    /// is checked against the exact, rounded cost in both directions, so the answer is the
    /// true maximum even where rounding or the minimum commission bites.
    pub(super) fn affordable_quantity(
        &self,
        action: TradeAction,
        budget: Money,
        price: Money,
    ) -> Result<Quantity, BrokerError> {
        if !budget.is_positive() {
            return Ok(Quantity::ZERO);
        }
        let settings = &self.settings;
        let per_unit_factor = if action == TradeAction::Buy {
            Decimal::ONE + settings.commission_rate_buy.get()
        } else {
            settings.short_margin_ratio.get()
                + settings.commission_rate_sell.get()
                + settings.tax_rate.get()
        };
        let unit_cost = mul(price.get(), per_unit_factor)?;
        let mut estimate = self.floor_units(div(budget.get(), unit_cost)?)?;
        let at_min = |quantity: Quantity| -> Result<bool, BrokerError> {
            let notional = price.times(quantity)?;
            let rate = if action == TradeAction::Buy {
                settings.commission_rate_buy
            } else {
                settings.commission_rate_sell
            };
            Ok(notional.times_rate(rate)? < settings.min_commission)
        };
        if estimate.is_positive() && at_min(estimate)? {
            let variable_factor = if action == TradeAction::Buy {
                Decimal::ONE
            } else {
                settings.short_margin_ratio.get() + settings.tax_rate.get()
            };
            let after_minimum = budget.get() - settings.min_commission.get();
            estimate = if after_minimum > Decimal::ZERO {
                self.floor_units(div(after_minimum, mul(price.get(), variable_factor)?)?)?
            } else {
                Quantity::ZERO
            };
        }
        let unit = Quantity::unit(settings.whole_units);
        while estimate.is_positive() && self.opening_cost(action, estimate, price)?.cash > budget {
            estimate = estimate.checked_sub(unit)?;
        }
        loop {
            let more = estimate.checked_add(unit)?;
            if self.opening_cost(action, more, price)?.cash <= budget {
                estimate = more;
            } else {
                break;
            }
        }
        Ok(estimate)
    }
}

pub(super) struct OpeningCost {
    pub(super) notional: Money,
    pub(super) commission: Money,
    pub(super) tax: Money,
    pub(super) margin: Money,
    pub(super) cash: Money,
}
