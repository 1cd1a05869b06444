//! Closing lots first in, first out, and the trade records the broker writes.

use chrono::{DateTime, Utc};

use super::{Account, BrokerError, Execution, Fill, Order, OrderSize, RoundTrip, share};
use crate::decimal::{Money, Quantity};
use crate::enums::{PositionSide, TradeAction, TradeStatus};

impl Account {
    /// A record of an order refused before it reached the broker's rules (a bracket on the
    /// wrong side of the price, say), with the reason.
    pub fn refuse(
        &mut self,
        order: &Order,
        price: Money,
        time: DateTime<Utc>,
        reason: String,
    ) -> Result<Execution, BrokerError> {
        let mut execution = Execution::default();
        self.reject(&mut execution, order, price, time, reason)?;
        Ok(execution)
    }

    /// Closes `quantity` of the `side` position FIFO, one record per lot touched. The order's
    /// commission (with its minimum) and tax are computed once on the order's notional and
    /// shared between the records by quantity, the last record taking the remainder.
    pub(super) fn close(
        &mut self,
        execution: &mut Execution,
        side: PositionSide,
        quantity: Quantity,
        price: Money,
        time: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let action = match side {
            PositionSide::Long => TradeAction::Sell,
            PositionSide::Short => TradeAction::CoverShort,
        };
        if !quantity.is_positive() {
            let order = Order {
                action,
                size: OrderSize::Quantity(quantity),
            };
            let reason = format!(
                "quantity to close rounds to zero (one tradable unit is {})",
                Quantity::unit(self.settings.whole_units)
            );
            return self.reject(execution, &order, price, time, reason);
        }
        let notional = price.times(quantity)?;
        let (commission, tax) = match side {
            PositionSide::Long => (
                self.commission(notional, self.settings.commission_rate_sell)?,
                notional.times_rate(self.settings.tax_rate)?,
            ),
            PositionSide::Short => (
                self.commission(notional, self.settings.commission_rate_buy)?,
                Money::ZERO,
            ),
        };
        // Refuse a sale whose fees exceed what it and the free cash can pay: without margin,
        // cash never goes negative. A cover is always allowed; its loss is what margin is for.
        if side == PositionSide::Long {
            let after = self
                .available
                .checked_add(notional)?
                .checked_sub(commission)?
                .checked_sub(tax)?;
            if after.is_negative() {
                let order = Order {
                    action,
                    size: OrderSize::Quantity(quantity),
                };
                let reason = format!(
                    "insufficient cash for fees: selling {quantity} at {price} brings {notional} \
                     but costs {} in fees with {} available",
                    commission.checked_add(tax)?,
                    self.available
                );
                return self.reject(execution, &order, price, time, reason);
            }
        }

        let mut remaining = quantity;
        let mut commission_left = commission;
        let mut tax_left = tax;
        while remaining.is_positive() {
            let lots = match side {
                PositionSide::Long => &mut self.long_lots,
                PositionSide::Short => &mut self.short_lots,
            };
            let Some(lot) = lots.first_mut() else {
                break;
            };
            let take = remaining.min(lot.quantity);
            let cost_part = share(lot.cost, take, lot.quantity)?;
            let fee_part = share(lot.fees, take, lot.quantity)?;
            let margin_part = share(lot.margin, take, lot.quantity)?;
            let last_record = take == remaining;
            let (commission_part, tax_part) = if last_record {
                (commission_left, tax_left)
            } else {
                (
                    share(commission, take, quantity)?,
                    share(tax, take, quantity)?,
                )
            };
            commission_left = commission_left.checked_sub(commission_part)?;
            tax_left = tax_left.checked_sub(tax_part)?;
            let proceeds = price.times(take)?;
            let gross = match side {
                PositionSide::Long => proceeds.checked_sub(cost_part)?,
                PositionSide::Short => cost_part.checked_sub(proceeds)?,
            };
            let exit_fees = commission_part.checked_add(tax_part)?;
            let pnl = gross.checked_sub(fee_part)?.checked_sub(exit_fees)?;
            let round_trip = RoundTrip {
                side,
                entry_bar: lot.bar,
                exit_bar: self.fill_bar,
                quantity: take,
                entry_time: lot.time,
                exit_time: time,
                entry_price: lot.price,
                exit_price: price,
                entry_value: cost_part,
                pnl,
                fees: fee_part.checked_add(exit_fees)?,
            };
            let open_id = lot.trade_id.clone();
            lot.quantity = lot.quantity.checked_sub(take)?;
            lot.cost = lot.cost.checked_sub(cost_part)?;
            lot.fees = lot.fees.checked_sub(fee_part)?;
            lot.margin = lot.margin.checked_sub(margin_part)?;
            if lot.quantity.is_zero() {
                lots.remove(0);
            }
            let cash_in = match side {
                PositionSide::Long => proceeds.checked_sub(exit_fees)?,
                PositionSide::Short => margin_part.checked_add(gross)?.checked_sub(exit_fees)?,
            };
            self.available = self.available.checked_add(cash_in)?;
            self.margin_used = self.margin_used.checked_sub(margin_part)?;
            self.total_fees = self.total_fees.checked_add(exit_fees)?;
            self.realized_gross = self.realized_gross.checked_add(gross)?;
            remaining = remaining.checked_sub(take)?;

            let trade_id = self.next_trade_id();
            let fill = self.fill_record(FillParts {
                trade_id,
                action,
                quantity: take,
                price,
                total_amount: proceeds,
                time,
                commission: commission_part,
                tax: tax_part,
                side,
                open_id: Some(open_id),
                realized_pnl: Some(pnl),
            })?;
            execution.fills.push(fill);
            execution.round_trips.push(round_trip);
        }
        Ok(())
    }

    pub(super) fn reject(
        &mut self,
        execution: &mut Execution,
        order: &Order,
        price: Money,
        time: DateTime<Utc>,
        reason: String,
    ) -> Result<(), BrokerError> {
        let quantity = match order.size {
            OrderSize::Quantity(quantity) => quantity.abs(),
            _ => Quantity::ZERO,
        };
        let side = match order.action {
            TradeAction::ShortSell | TradeAction::CoverShort => PositionSide::Short,
            _ => PositionSide::Long,
        };
        let trade_id = self.next_trade_id();
        let mut fill = self.fill_record(FillParts {
            trade_id,
            action: order.action,
            quantity,
            price,
            total_amount: Money::ZERO,
            time,
            commission: Money::ZERO,
            tax: Money::ZERO,
            side,
            open_id: None,
            realized_pnl: None,
        })?;
        fill.status = TradeStatus::Failed;
        fill.reject_reason = Some(reason);
        execution.fills.push(fill);
        Ok(())
    }

    pub(super) fn fill_record(&self, parts: FillParts) -> Result<Fill, BrokerError> {
        let exit_reason = parts.open_id.as_ref().map(|_| self.cause);
        Ok(Fill {
            trade_id: parts.trade_id,
            action: parts.action,
            status: TradeStatus::Executed,
            quantity: parts.quantity,
            price: parts.price,
            total_amount: parts.total_amount,
            time: parts.time,
            commission: parts.commission,
            tax: parts.tax,
            total_fees: parts.commission.checked_add(parts.tax)?,
            position_side: parts.side,
            open_id: parts.open_id,
            stock_market_value_after: self.market_value_at(parts.price)?,
            total_value_after: self.equity_at(parts.price)?,
            margin_used_after: self.margin_used,
            remaining_quantity_after: self.signed_quantity()?,
            avg_price_after: self.avg_price()?,
            reject_reason: None,
            exit_reason,
            realized_pnl: parts.realized_pnl,
        })
    }
}

pub(super) struct FillParts {
    pub(super) trade_id: String,
    pub(super) action: TradeAction,
    pub(super) quantity: Quantity,
    pub(super) price: Money,
    pub(super) total_amount: Money,
    pub(super) time: DateTime<Utc>,
    pub(super) commission: Money,
    pub(super) tax: Money,
    pub(super) side: PositionSide,
    pub(super) open_id: Option<String>,
    pub(super) realized_pnl: Option<Money>,
}
