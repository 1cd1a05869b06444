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

mod account;
mod capacity;
mod execute;
mod fees;
mod lots;
mod settings;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::{DecimalError, Money, Quantity, Rate};
use crate::enums::{ExitReason, PositionSide, TradeAction, TradeStatus};

pub use account::Account;
pub use capacity::Capacity;
pub use settings::{AccountSettings, SettingsError};

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
    /// For a closing record: what closed the position.
    pub exit_reason: Option<ExitReason>,
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

pub(super) fn mul(a: Decimal, b: Decimal) -> Result<Decimal, BrokerError> {
    a.checked_mul(b)
        .ok_or(BrokerError(DecimalError::Overflow { kind: "amount" }))
}

pub(super) fn div(a: Decimal, b: Decimal) -> Result<Decimal, BrokerError> {
    a.checked_div(b)
        .ok_or(BrokerError(DecimalError::Overflow { kind: "amount" }))
}

pub(super) fn money(value: Decimal) -> Result<Money, BrokerError> {
    Ok(Money::new(value)?)
}

/// `part / whole` of `amount`, rounded like every amount; `whole` is never zero here.
pub(super) fn share(amount: Money, part: Quantity, whole: Quantity) -> Result<Money, BrokerError> {
    if part == whole {
        return Ok(amount);
    }
    let scaled = mul(amount.get(), part.get())?;
    money(div(scaled, whole.get())?)
}

pub(super) fn sum_quantity(lots: &[Lot]) -> Result<Quantity, BrokerError> {
    let mut total = Quantity::ZERO;
    for lot in lots {
        total = total.checked_add(lot.quantity)?;
    }
    Ok(total)
}

pub(super) fn sum_money(values: impl Iterator<Item = Money>) -> Result<Money, BrokerError> {
    let mut total = Money::ZERO;
    for value in values {
        total = total.checked_add(value)?;
    }
    Ok(total)
}

pub(super) fn average_price(lots: &[Lot]) -> Result<Money, BrokerError> {
    let quantity = sum_quantity(lots)?;
    if quantity.is_zero() {
        return Ok(Money::ZERO);
    }
    let cost = sum_money(lots.iter().map(|lot| lot.cost))?;
    money(div(cost.get(), quantity.get())?)
}
