//! The virtual account: cash, margin, lots, fees and fills.
//!
//! Every rule of PRODUCT.md's "Semantics" that touches money lives here and only here:
//! commission = max(notional × rate, min_commission) with the buy rate for BUY and COVER and
//! the sell rate for SELL and SHORT; tax on sell-side executions; shorts lock
//! notional × margin ratio; lots close first in, first out, one record per lot touched.
//!
//! The ledger keeps one invariant exactly, in decimal arithmetic with no tolerance:
//! `available + margin_used + long cost basis + total_fees = initial + realised gross P&L`.
//! Each lot carries the money actually paid or received for it (`cost`), its opening fees and
//! (for shorts) its locked margin; closing part of a lot moves a proportional, rounded share
//! of each, and the last unit takes the remainder, so no rounding residue is ever lost.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::{DecimalError, Money, Quantity, Rate, scaled_product};
use crate::enums::{MarketType, PositionSide, TradeAction, TradeStatus};

/// One open position lot, as stored in `long_positions` / `short_positions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lot {
    /// The trade that opened the lot; closing records name it in `open_id`.
    pub trade_id: String,
    /// What is still open of the lot.
    pub quantity: Quantity,
    /// Fill price of the opening trade.
    pub price: Money,
    /// Fill time of the opening trade.
    pub time: DateTime<Utc>,
    /// Notional paid (long) or received (short) for the open quantity.
    pub cost: Money,
    /// Opening fees of the open quantity, charged to the round trip when it closes.
    pub fees: Money,
    /// Margin locked for the open quantity (shorts only).
    #[serde(default)]
    pub margin: Money,
    /// Index of the opening bar within the task's period (for exposure statistics).
    #[serde(default)]
    pub bar: u64,
}

/// An account's cash and fee settings: what a user chooses when creating an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub market_type: MarketType,
    pub initial_balance: Money,
    pub commission_rate_buy: Rate,
    pub commission_rate_sell: Rate,
    pub tax_rate: Rate,
    pub min_commission: Money,
    pub short_margin_ratio: Rate,
    /// Trade whole units only (US shares unless the account allows fractions).
    pub whole_units: bool,
}

/// A setting outside what the broker can honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SettingsError {
    pub field: &'static str,
    pub reason: String,
}

impl AccountSettings {
    /// Checks the ranges the fee and margin rules need.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !self.initial_balance.is_positive() {
            return Err(SettingsError {
                field: "initial_balance",
                reason: format!("must be greater than 0, got {}", self.initial_balance),
            });
        }
        for (field, rate) in [
            ("commission_rate_buy", self.commission_rate_buy),
            ("commission_rate_sell", self.commission_rate_sell),
            ("tax_rate", self.tax_rate),
        ] {
            if rate.is_negative() || rate.get() >= Decimal::ONE {
                return Err(SettingsError {
                    field,
                    reason: format!("must be at least 0 and below 1, got {rate}"),
                });
            }
        }
        if self.min_commission.is_negative() {
            return Err(SettingsError {
                field: "min_commission",
                reason: format!("must not be negative, got {}", self.min_commission),
            });
        }
        if !self.short_margin_ratio.is_positive() || self.short_margin_ratio.get() > Decimal::TEN {
            return Err(SettingsError {
                field: "short_margin_ratio",
                reason: format!(
                    "must be greater than 0 and at most 10, got {}",
                    self.short_margin_ratio
                ),
            });
        }
        Ok(())
    }
}

/// How much an order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum OrderSize {
    /// Everything available: all cash (after fees) to open, the whole position to close.
    All,
    /// A fraction (0..=1) of the cash to open, or of the position to close.
    Fraction(Rate),
    /// An exact quantity, cut down to the tradable unit.
    Quantity(Quantity),
}

/// An order the broker fills at a given price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub action: TradeAction,
    pub size: OrderSize,
}

/// One trade record as the broker produces it; the engine adds task, account and symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub trade_id: String,
    pub action: TradeAction,
    pub status: TradeStatus,
    pub quantity: Quantity,
    pub price: Money,
    pub total_amount: Money,
    pub time: DateTime<Utc>,
    pub commission: Money,
    pub tax: Money,
    pub total_fees: Money,
    pub position_side: PositionSide,
    pub open_id: Option<String>,
    pub stock_market_value_after: Money,
    pub total_value_after: Money,
    pub margin_used_after: Money,
    pub remaining_quantity_after: Quantity,
    pub avg_price_after: Money,
    pub reject_reason: Option<String>,
    /// For a closing record: gross P&L minus the lot's opening fees and this record's fees.
    pub realized_pnl: Option<Money>,
}

/// A closed part of a lot, the unit of the round-trip statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundTrip {
    pub side: PositionSide,
    /// Bar indices of the opening and closing fills within the task's period.
    pub entry_bar: u64,
    pub exit_bar: u64,
    pub quantity: Quantity,
    pub entry_time: DateTime<Utc>,
    pub exit_time: DateTime<Utc>,
    pub entry_price: Money,
    pub exit_price: Money,
    /// Money put in at entry (the lot's notional share): the base of the return.
    pub entry_value: Money,
    /// Net of all fees of both legs.
    pub pnl: Money,
    /// Every fee of both legs.
    pub fees: Money,
}

impl RoundTrip {
    /// Net return on the entry notional, as backtesting.py's `ReturnPct` (a fraction).
    pub fn return_fraction(&self) -> f64 {
        let base = self.entry_value.to_f64();
        if base == 0.0 {
            0.0
        } else {
            self.pnl.to_f64() / base
        }
    }
}

/// What one order did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Execution {
    pub fills: Vec<Fill>,
    pub round_trips: Vec<RoundTrip>,
}

/// Arithmetic beyond what a 96-bit decimal holds: the order cannot be valued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("arithmetic overflow while valuing the account: {0}")]
pub struct BrokerError(#[from] pub DecimalError);

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
    fill_bar: u64,
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, BrokerError> {
    a.checked_mul(b)
        .ok_or(BrokerError(DecimalError::Overflow { kind: "amount" }))
}

fn div(a: Decimal, b: Decimal) -> Result<Decimal, BrokerError> {
    a.checked_div(b)
        .ok_or(BrokerError(DecimalError::Overflow { kind: "amount" }))
}

fn money(value: Decimal) -> Result<Money, BrokerError> {
    Ok(Money::new(value)?)
}

/// `part / whole` of `amount`, rounded like every amount; `whole` is never zero here.
fn share(amount: Money, part: Quantity, whole: Quantity) -> Result<Money, BrokerError> {
    if part == whole {
        return Ok(amount);
    }
    let scaled = mul(amount.get(), part.get())?;
    money(div(scaled, whole.get())?)
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
        self.fill_bar = bar;
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
    fn close_before_reversal(
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
    fn closing_quantity(
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

    fn floor_units(&self, value: Decimal) -> Result<Quantity, BrokerError> {
        Ok(Quantity::floor_to_unit(value, self.settings.whole_units)?)
    }

    fn tradable(&self, requested: Quantity) -> Result<Quantity, BrokerError> {
        self.floor_units(requested.get())
    }

    fn next_trade_id(&mut self) -> String {
        self.trade_seq += 1;
        format!("{}-t{:08}", self.trade_id_prefix, self.trade_seq)
    }

    fn commission(&self, notional: Money, side_rate: Rate) -> Result<Money, BrokerError> {
        Ok(notional
            .times_rate(side_rate)?
            .max(self.settings.min_commission))
    }

    /// Cash an opening order of `quantity` needs, and its commission and tax.
    fn opening_cost(
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
    fn affordable_quantity(
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

    fn open_position(
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

    /// Closes `quantity` of the `side` position FIFO, one record per lot touched. The order's
    /// commission (with its minimum) and tax are computed once on the order's notional and
    /// shared between the records by quantity, the last record taking the remainder.
    fn close(
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

    fn reject(
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

    fn fill_record(&self, parts: FillParts) -> Result<Fill, BrokerError> {
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
            realized_pnl: parts.realized_pnl,
        })
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

struct OpeningCost {
    notional: Money,
    commission: Money,
    tax: Money,
    margin: Money,
    cash: Money,
}

struct FillParts {
    trade_id: String,
    action: TradeAction,
    quantity: Quantity,
    price: Money,
    total_amount: Money,
    time: DateTime<Utc>,
    commission: Money,
    tax: Money,
    side: PositionSide,
    open_id: Option<String>,
    realized_pnl: Option<Money>,
}

fn sum_quantity(lots: &[Lot]) -> Result<Quantity, BrokerError> {
    let mut total = Quantity::ZERO;
    for lot in lots {
        total = total.checked_add(lot.quantity)?;
    }
    Ok(total)
}

fn sum_money(values: impl Iterator<Item = Money>) -> Result<Money, BrokerError> {
    let mut total = Money::ZERO;
    for value in values {
        total = total.checked_add(value)?;
    }
    Ok(total)
}

fn average_price(lots: &[Lot]) -> Result<Money, BrokerError> {
    let quantity = sum_quantity(lots)?;
    if quantity.is_zero() {
        return Ok(Money::ZERO);
    }
    let cost = sum_money(lots.iter().map(|lot| lot.cost))?;
    money(div(cost.get(), quantity.get())?)
}
