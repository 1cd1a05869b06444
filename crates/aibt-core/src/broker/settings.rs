//! What a user chooses for an account: cash, fees, margin, units.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::{Money, Rate};
use crate::enums::MarketType;

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
    /// Fraction every fill is moved against the trader: buys and covers at price × (1 + s),
    /// sells and shorts at price × (1 − s).
    #[serde(default)]
    pub slippage: Rate,
    /// Yearly rate charged on the market value of a short, accrued bar by bar in calendar
    /// time (0.05 = 5% a year).
    #[serde(default)]
    pub borrow_rate: Rate,
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
        if self.slippage.is_negative() || self.slippage.get() >= Decimal::ONE {
            return Err(SettingsError {
                field: "slippage",
                reason: format!("must be at least 0 and below 1, got {}", self.slippage),
            });
        }
        if self.borrow_rate.is_negative() || self.borrow_rate.get() > Decimal::TEN {
            return Err(SettingsError {
                field: "borrow_rate",
                reason: format!(
                    "must be at least 0 and at most 10 (1,000% a year), got {}",
                    self.borrow_rate
                ),
            });
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
