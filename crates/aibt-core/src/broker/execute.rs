//! Filling an order: which side it opens or closes, and how much.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::lots::FillParts;
use super::{Account, BrokerError, Execution, Lot, Order, OrderSize, money, mul};
use crate::decimal::{Money, Quantity};
use crate::enums::{ExitReason, PositionSide, TradeAction};

impl Account {
    /// Fills `order` at `price` at `time`, on the period's bar number `bar`. An order the
    /// account cannot honour yields one `FAILED` record with the reason; only arithmetic
    /// overflow is an error.
    pub fn execute(
        &mut self,
        order: &Order,
        price: Money,
        time: DateTime<Utc>,
        bar: u64,
    ) -> Result<Execution, BrokerError> {
        self.execute_for(order, price, time, bar, ExitReason::Signal)
    }

    /// [`Account::execute`], naming `cause` on the records of what it closes. `price` is the
    /// price the fill rule gives; the fill is at that price moved by the slippage.
    pub fn execute_for(
        &mut self,
        order: &Order,
        price: Money,
        time: DateTime<Utc>,
        bar: u64,
        cause: ExitReason,
    ) -> Result<Execution, BrokerError> {
        self.fill_bar = bar;
        self.cause = cause;
        let price = self.slipped(price, order.action)?;
        let mut execution = Execution::default();
        if !price.is_positive() {
            let reason = format!("price {price} is not positive");
            self.reject(&mut execution, order, price, time, reason)?;
            return Ok(execution);
        }
        self.mark(price);
        match order.action {
            TradeAction::Hold => {}
            TradeAction::Buy => {
                let open_size = if self.short_lots.is_empty() {
                    Some(order.size)
                } else {
                    self.close_before_reversal(
                        &mut execution,
                        order,
                        price,
                        time,
                        PositionSide::Short,
                    )?
                };
                if let Some(size) = open_size
                    && self.short_lots.is_empty()
                {
                    self.open_position(&mut execution, TradeAction::Buy, size, price, time)?;
                }
            }
            TradeAction::ShortSell => {
                let open_size = if self.long_lots.is_empty() {
                    Some(order.size)
                } else {
                    self.close_before_reversal(
                        &mut execution,
                        order,
                        price,
                        time,
                        PositionSide::Long,
                    )?
                };
                // If the sale of the long position was refused, nothing is opened: a position
                // is never long and short at once.
                if let Some(size) = open_size
                    && self.long_lots.is_empty()
                {
                    self.open_position(&mut execution, TradeAction::ShortSell, size, price, time)?;
                }
            }
            TradeAction::Sell => {
                if self.long_lots.is_empty() {
                    let reason = "no long position to sell".to_string();
                    self.reject(&mut execution, order, price, time, reason)?;
                } else {
                    let quantity = self.closing_quantity(order.size, PositionSide::Long)?;
                    self.close(&mut execution, PositionSide::Long, quantity, price, time)?;
                }
            }
            TradeAction::CoverShort => {
                if self.short_lots.is_empty() {
                    let reason = "no short position to cover".to_string();
                    self.reject(&mut execution, order, price, time, reason)?;
                } else {
                    let quantity = self.closing_quantity(order.size, PositionSide::Short)?;
                    self.close(&mut execution, PositionSide::Short, quantity, price, time)?;
                }
            }
        }
        Ok(execution)
    }

    /// A BUY while short (or SHORT while long) first closes the opposite position. An exact
    /// quantity nets against it (closing up to that quantity, opening the rest); an
    /// all-in or fractional order closes everything and then opens with the freed cash.
    pub(super) fn close_before_reversal(
        &mut self,
        execution: &mut Execution,
        order: &Order,
        price: Money,
        time: DateTime<Utc>,
        opposite: PositionSide,
    ) -> Result<Option<OrderSize>, BrokerError> {
        let held = match opposite {
            PositionSide::Long => self.long_quantity()?,
            PositionSide::Short => self.short_quantity()?,
        };
        match order.size {
            OrderSize::Quantity(requested) => {
                let requested = self.tradable(requested)?;
                let closing = requested.min(held);
                if closing.is_positive() {
                    self.close(execution, opposite, closing, price, time)?;
                }
                let rest = requested.checked_sub(closing)?;
                Ok(rest.is_positive().then_some(OrderSize::Quantity(rest)))
            }
            size => {
                self.close(execution, opposite, held, price, time)?;
                Ok(Some(size))
            }
        }
    }

    /// The quantity a SELL or COVER closes: a request beyond the position closes it all.
    pub(super) fn closing_quantity(
        &self,
        size: OrderSize,
        side: PositionSide,
    ) -> Result<Quantity, BrokerError> {
        let held = match side {
            PositionSide::Long => self.long_quantity()?,
            PositionSide::Short => self.short_quantity()?,
        };
        Ok(match size {
            OrderSize::All => held,
            OrderSize::Fraction(fraction) => {
                // Closing "all but dust" would leave an untradable remainder; a fraction of 1
                // is the whole position.
                if fraction.get() >= Decimal::ONE {
                    held
                } else {
                    self.floor_units(mul(held.get(), fraction.get())?)?
                }
            }
            OrderSize::Quantity(requested) => self.tradable(requested)?.min(held),
        })
    }

    pub(super) fn floor_units(&self, value: Decimal) -> Result<Quantity, BrokerError> {
        Ok(Quantity::floor_to_unit(value, self.settings.whole_units)?)
    }

    pub(super) fn tradable(&self, requested: Quantity) -> Result<Quantity, BrokerError> {
        self.floor_units(requested.get())
    }

    /// `price` moved against the trader by the slippage: up for a buy, down for a sell.
    fn slipped(&self, price: Money, action: TradeAction) -> Result<Money, BrokerError> {
        let slippage = self.settings.slippage.get();
        if slippage.is_zero() || action == TradeAction::Hold {
            return Ok(price);
        }
        let factor = if action.is_buy_side() {
            Decimal::ONE + slippage
        } else {
            Decimal::ONE - slippage
        };
        money(mul(price.get(), factor)?)
    }

    pub(super) fn next_trade_id(&mut self) -> String {
        self.trade_seq += 1;
        format!("{}-t{:08}", self.trade_id_prefix, self.trade_seq)
    }

    pub(super) fn open_position(
        &mut self,
        execution: &mut Execution,
        action: TradeAction,
        size: OrderSize,
        price: Money,
        time: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let order = Order { action, size };
        let quantity = match size {
            OrderSize::Quantity(requested) => self.tradable(requested)?,
            OrderSize::All => self.affordable_quantity(action, self.available, price)?,
            OrderSize::Fraction(fraction) => {
                let budget = money(mul(self.available.get(), fraction.get().min(Decimal::ONE))?)?;
                self.affordable_quantity(action, budget, price)?
            }
        };
        if !quantity.is_positive() {
            let reason = match size {
                OrderSize::Quantity(requested) => format!(
                    "quantity {requested} is less than one tradable unit ({})",
                    Quantity::unit(self.settings.whole_units)
                ),
                _ => {
                    let one_unit = self
                        .opening_cost(action, Quantity::unit(self.settings.whole_units), price)?
                        .cash;
                    format!(
                        "insufficient cash: {} available, one unit costs {one_unit} with fees",
                        self.available
                    )
                }
            };
            return self.reject(execution, &order, price, time, reason);
        }
        let cost = self.opening_cost(action, quantity, price)?;
        if cost.cash > self.available {
            let reason = format!(
                "insufficient cash: {quantity} at {price} needs {} with fees, {} available",
                cost.cash, self.available
            );
            return self.reject(execution, &order, price, time, reason);
        }
        let trade_id = self.next_trade_id();
        let fees = cost.commission.checked_add(cost.tax)?;
        self.available = self.available.checked_sub(cost.cash)?;
        self.margin_used = self.margin_used.checked_add(cost.margin)?;
        self.total_fees = self.total_fees.checked_add(fees)?;
        let lot = Lot {
            trade_id: trade_id.clone(),
            quantity,
            price,
            time,
            cost: cost.notional,
            fees,
            margin: cost.margin,
            bar: self.fill_bar,
        };
        let side = if action == TradeAction::Buy {
            self.long_lots.push(lot);
            PositionSide::Long
        } else {
            self.short_lots.push(lot);
            PositionSide::Short
        };
        let fill = self.fill_record(FillParts {
            trade_id,
            action,
            quantity,
            price,
            total_amount: cost.notional,
            time,
            commission: cost.commission,
            tax: cost.tax,
            side,
            open_id: None,
            realized_pnl: None,
        })?;
        execution.fills.push(fill);
        Ok(())
    }
}
