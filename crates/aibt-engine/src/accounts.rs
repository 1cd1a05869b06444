//! Accounts as users keep them: the defaults of a new account, the settings a user changes,
//! and the rule that a task's run account belongs to its run and is changed by nobody else.

use aibt_core::broker::AccountSettings;
use aibt_core::{MarketType, Money, PositionSide, Quantity, Rate};
use aibt_store::{Store, VirtualAccount};

use crate::error::{EngineError, Result};

/// Settings a user gives for an account; `None` keeps the value it is applied to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChanges {
    pub initial_balance: Option<Money>,
    pub commission_rate_buy: Option<Rate>,
    pub commission_rate_sell: Option<Rate>,
    pub tax_rate: Option<Rate>,
    pub min_commission: Option<Money>,
    pub short_margin_ratio: Option<Rate>,
    pub slippage: Option<Rate>,
    pub borrow_rate: Option<Rate>,
    /// US accounts trade whole shares unless this is true.
    pub allow_fractional_shares: Option<bool>,
    pub stock_symbol: Option<String>,
}

/// The account of a backtest when the user says nothing: 10,000 of cash, 0.1% commission on
/// both sides, no tax, no minimum commission, shorts fully collateralised.
pub fn default_settings(market_type: MarketType, fractional: bool) -> AccountSettings {
    // 0.1%, the design's default commission rate (a constant mantissa: cannot fail).
    let commission = Rate::new_mantissa(1_000).unwrap_or(Rate::ZERO);
    AccountSettings {
        market_type,
        initial_balance: Money::from_i64(10_000).unwrap_or(Money::ZERO),
        commission_rate_buy: commission,
        commission_rate_sell: commission,
        tax_rate: Rate::ZERO,
        min_commission: Money::ZERO,
        short_margin_ratio: Rate::ONE,
        whole_units: market_type.whole_units_by_default() && !fractional,
        slippage: Rate::ZERO,
        borrow_rate: Rate::ZERO,
    }
}

/// The settings of a stored account that the broker needs.
pub fn account_settings(account: &VirtualAccount) -> AccountSettings {
    AccountSettings {
        market_type: account.market_type,
        initial_balance: account.initial_balance,
        commission_rate_buy: account.commission_rate_buy,
        commission_rate_sell: account.commission_rate_sell,
        tax_rate: account.tax_rate,
        min_commission: account.min_commission,
        short_margin_ratio: account.short_margin_ratio,
        whole_units: account.market_type.whole_units_by_default()
            && !account.allow_fractional_shares,
        slippage: account.slippage,
        borrow_rate: account.borrow_rate,
    }
}

/// `base` with `changes` applied, checked: a value the broker cannot honour is refused naming
/// its column.
pub fn apply_changes(
    base: AccountSettings,
    fractional: bool,
    changes: &AccountChanges,
) -> Result<AccountSettings> {
    let settings = AccountSettings {
        initial_balance: changes.initial_balance.unwrap_or(base.initial_balance),
        commission_rate_buy: changes
            .commission_rate_buy
            .unwrap_or(base.commission_rate_buy),
        commission_rate_sell: changes
            .commission_rate_sell
            .unwrap_or(base.commission_rate_sell),
        tax_rate: changes.tax_rate.unwrap_or(base.tax_rate),
        min_commission: changes.min_commission.unwrap_or(base.min_commission),
        short_margin_ratio: changes
            .short_margin_ratio
            .unwrap_or(base.short_margin_ratio),
        whole_units: base.market_type.whole_units_by_default() && !fractional,
        slippage: changes.slippage.unwrap_or(base.slippage),
        borrow_rate: changes.borrow_rate.unwrap_or(base.borrow_rate),
        market_type: base.market_type,
    };
    settings.validate()?;
    Ok(settings)
}

/// An account with the given settings and no history.
pub fn new_account(
    account_id: &str,
    symbol: &str,
    settings: &AccountSettings,
    fractional: bool,
) -> VirtualAccount {
    let now = aibt_core::time::now();
    VirtualAccount {
        account_id: account_id.to_string(),
        market_type: settings.market_type,
        initial_balance: settings.initial_balance,
        current_balance: settings.initial_balance,
        stock_symbol: symbol.to_string(),
        stock_price: Money::ZERO,
        stock_quantity: Quantity::ZERO,
        stock_market_value: Money::ZERO,
        total_value: settings.initial_balance,
        created_at: now,
        updated_at: now,
        position_side: PositionSide::Long,
        margin_used: Money::ZERO,
        short_avg_price: Money::ZERO,
        short_total_cost: Money::ZERO,
        short_positions: Vec::new(),
        long_positions: Vec::new(),
        available_balance: settings.initial_balance,
        commission_rate_buy: settings.commission_rate_buy,
        commission_rate_sell: settings.commission_rate_sell,
        tax_rate: settings.tax_rate,
        min_commission: settings.min_commission,
        total_fees: Money::ZERO,
        task_id: None,
        short_margin_ratio: settings.short_margin_ratio,
        allow_fractional_shares: fractional,
        slippage: settings.slippage,
        borrow_rate: settings.borrow_rate,
    }
}

/// The id of a task's run account: the task's own id (one account per run).
pub fn run_account_id(task_id: &str) -> String {
    task_id.to_string()
}

/// Creates a user account from `base` (the defaults of a market, or the settings of the
/// account a replay started from) with the user's changes.
pub async fn create_account(
    store: &dyn Store,
    base: AccountSettings,
    changes: &AccountChanges,
) -> Result<VirtualAccount> {
    let fractional = changes.allow_fractional_shares.unwrap_or(false);
    let settings = apply_changes(base, fractional, changes)?;
    let symbol = changes.stock_symbol.as_deref().unwrap_or("").trim();
    let account = new_account(&aibt_store::new_id(), symbol, &settings, fractional);
    store.insert_account(&account).await?;
    Ok(account)
}

/// A user account; a task's run account belongs to its run and is refused.
async fn user_account(store: &dyn Store, account_id: &str) -> Result<VirtualAccount> {
    let account = store.get_account(account_id).await?;
    if let Some(task_id) = &account.task_id {
        return Err(EngineError::Conflict(format!(
            "account {account_id} is the run account of task {task_id}; it changes only with its run"
        )));
    }
    Ok(account)
}

/// Changes a user account's settings. A user account holds no positions: its balances are
/// its initial cash.
pub async fn update_account(
    store: &dyn Store,
    account_id: &str,
    changes: &AccountChanges,
) -> Result<VirtualAccount> {
    let account = user_account(store, account_id).await?;
    let fractional = changes
        .allow_fractional_shares
        .unwrap_or(account.allow_fractional_shares);
    let settings = apply_changes(account_settings(&account), fractional, changes)?;
    let symbol = changes
        .stock_symbol
        .as_deref()
        .unwrap_or(&account.stock_symbol)
        .trim();
    let mut updated = new_account(&account.account_id, symbol, &settings, fractional);
    updated.created_at = account.created_at;
    store.update_account(&updated).await?;
    Ok(store.get_account(account_id).await?)
}

/// Deletes a user account that no task uses.
pub async fn delete_account(store: &dyn Store, account_id: &str) -> Result<()> {
    user_account(store, account_id).await?;
    Ok(store.delete_account(account_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_over_the_base_and_are_checked() {
        let base = default_settings(MarketType::Us, false);
        let changes = AccountChanges {
            tax_rate: Some(Rate::parse("0.001").unwrap()),
            ..AccountChanges::default()
        };
        let settings = apply_changes(base.clone(), true, &changes).unwrap();
        assert_eq!(settings.tax_rate, Rate::parse("0.001").unwrap());
        assert_eq!(settings.commission_rate_buy, base.commission_rate_buy);
        assert!(!settings.whole_units);
        let bad = AccountChanges {
            commission_rate_sell: Some(Rate::parse("1").unwrap()),
            ..AccountChanges::default()
        };
        match apply_changes(base, false, &bad) {
            Err(EngineError::Invalid { field, .. }) => assert_eq!(field, "commission_rate_sell"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
