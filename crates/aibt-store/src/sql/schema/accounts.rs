//! The accounts and their snapshots: an account's state as it is now, and as each step of a
//! task left it (a snapshot repeats an account's columns, so the two lists are kept side by
//! side).

use crate::error::Result;
use crate::rows::{AccountSnapshot, VirtualAccount};
use crate::sql::columns::{BindRow, ReadRow, TableRow, WriteRow};
use crate::sql::table::Table;

pub static ACCOUNTS: Table = Table::new(
    "virtual_accounts",
    "account",
    &[
        "account_id",
        "market_type",
        "initial_balance",
        "current_balance",
        "stock_symbol",
        "stock_price",
        "stock_quantity",
        "stock_market_value",
        "total_value",
        "created_at",
        "updated_at",
        "position_side",
        "margin_used",
        "short_avg_price",
        "short_total_cost",
        "short_positions",
        "long_positions",
        "available_balance",
        "commission_rate_buy",
        "commission_rate_sell",
        "tax_rate",
        "min_commission",
        "total_fees",
        "task_id",
        "short_margin_ratio",
        "allow_fractional_shares",
        "slippage",
        "borrow_rate",
    ],
);

impl TableRow for VirtualAccount {
    fn table() -> &'static Table {
        &ACCOUNTS
    }

    fn read(r: &impl ReadRow) -> Result<VirtualAccount> {
        Ok(VirtualAccount {
            account_id: r.text(0)?,
            market_type: r.label(1)?,
            initial_balance: r.decimal(2)?,
            current_balance: r.decimal(3)?,
            stock_symbol: r.text(4)?,
            stock_price: r.decimal(5)?,
            stock_quantity: r.decimal(6)?,
            stock_market_value: r.decimal(7)?,
            total_value: r.decimal(8)?,
            created_at: r.time(9)?,
            updated_at: r.time(10)?,
            position_side: r.label(11)?,
            margin_used: r.decimal(12)?,
            short_avg_price: r.decimal(13)?,
            short_total_cost: r.decimal(14)?,
            short_positions: r.lots(15)?,
            long_positions: r.lots(16)?,
            available_balance: r.decimal(17)?,
            commission_rate_buy: r.decimal(18)?,
            commission_rate_sell: r.decimal(19)?,
            tax_rate: r.decimal(20)?,
            min_commission: r.decimal(21)?,
            total_fees: r.decimal(22)?,
            task_id: r.opt_text(23)?,
            short_margin_ratio: r.decimal(24)?,
            allow_fractional_shares: r.bool(25)?,
            slippage: r.decimal(26)?,
            borrow_rate: r.decimal(27)?,
        })
    }
}

impl WriteRow for VirtualAccount {
    fn key(&self) -> &str {
        &self.account_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.account_id);
        b.label(self.market_type.as_str());
        b.decimal(self.initial_balance);
        b.decimal(self.current_balance);
        b.text(&self.stock_symbol);
        b.decimal(self.stock_price);
        b.decimal(self.stock_quantity);
        b.decimal(self.stock_market_value);
        b.decimal(self.total_value);
        b.time(self.created_at);
        b.time(self.updated_at);
        b.label(self.position_side.as_str());
        b.decimal(self.margin_used);
        b.decimal(self.short_avg_price);
        b.decimal(self.short_total_cost);
        b.lots(&self.short_positions)?;
        b.lots(&self.long_positions)?;
        b.decimal(self.available_balance);
        b.decimal(self.commission_rate_buy);
        b.decimal(self.commission_rate_sell);
        b.decimal(self.tax_rate);
        b.decimal(self.min_commission);
        b.decimal(self.total_fees);
        b.opt_text(self.task_id.as_deref());
        b.decimal(self.short_margin_ratio);
        b.bool(self.allow_fractional_shares);
        b.decimal(self.slippage);
        b.decimal(self.borrow_rate);
        Ok(())
    }
}

pub static SNAPSHOTS: Table = Table::new(
    "account_snapshots",
    "snapshot",
    &[
        "snapshot_id",
        "task_id",
        "account_id",
        "balance",
        "stock_quantity",
        "stock_price",
        "stock_market_value",
        "total_value",
        "profit_loss",
        "profit_loss_percent",
        "timestamp",
        "margin_used",
        "market_type",
        "initial_balance",
        "stock_symbol",
        "current_balance",
        "position_side",
        "short_avg_price",
        "short_total_cost",
        "short_positions",
        "long_positions",
        "available_balance",
        "total_fees",
    ],
);

impl TableRow for AccountSnapshot {
    fn table() -> &'static Table {
        &SNAPSHOTS
    }

    fn read(r: &impl ReadRow) -> Result<AccountSnapshot> {
        Ok(AccountSnapshot {
            snapshot_id: r.text(0)?,
            task_id: r.opt_text(1)?,
            account_id: r.text(2)?,
            balance: r.decimal(3)?,
            stock_quantity: r.decimal(4)?,
            stock_price: r.decimal(5)?,
            stock_market_value: r.decimal(6)?,
            total_value: r.decimal(7)?,
            profit_loss: r.decimal(8)?,
            profit_loss_percent: r.decimal(9)?,
            timestamp: r.time(10)?,
            margin_used: r.decimal(11)?,
            market_type: r.label(12)?,
            initial_balance: r.decimal(13)?,
            stock_symbol: r.text(14)?,
            current_balance: r.decimal(15)?,
            position_side: r.label(16)?,
            short_avg_price: r.decimal(17)?,
            short_total_cost: r.decimal(18)?,
            short_positions: r.lots(19)?,
            long_positions: r.lots(20)?,
            available_balance: r.decimal(21)?,
            total_fees: r.decimal(22)?,
        })
    }
}

/// SQLite writes snapshots through its own encoder (the hot path of a backtest); this is the
/// general form, which PostgreSQL uses.
impl WriteRow for AccountSnapshot {
    fn key(&self) -> &str {
        &self.snapshot_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.snapshot_id);
        b.opt_text(self.task_id.as_deref());
        b.text(&self.account_id);
        b.decimal(self.balance);
        b.decimal(self.stock_quantity);
        b.decimal(self.stock_price);
        b.decimal(self.stock_market_value);
        b.decimal(self.total_value);
        b.decimal(self.profit_loss);
        b.decimal(self.profit_loss_percent);
        b.time(self.timestamp);
        b.decimal(self.margin_used);
        b.label(self.market_type.as_str());
        b.decimal(self.initial_balance);
        b.text(&self.stock_symbol);
        b.decimal(self.current_balance);
        b.label(self.position_side.as_str());
        b.decimal(self.short_avg_price);
        b.decimal(self.short_total_cost);
        b.lots(&self.short_positions)?;
        b.lots(&self.long_positions)?;
        b.decimal(self.available_balance);
        b.decimal(self.total_fees);
        Ok(())
    }
}
