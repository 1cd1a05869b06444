-- aibt schema, version 1: the seven tables of the user's design (spec section 3) with every
-- column, default and index of section 5, plus market_bars.
-- Tables are STRICT. Decimals are text at a fixed scale in columns declared ANY (no type
-- affinity, so SQLite converts nothing) with CHECK (typeof(col) = 'text'): a binary float is
-- refused, never stored. (A TEXT column would silently turn a float into text before the
-- CHECK saw it.) Timestamps are RFC 3339 text in UTC with six fractional digits, which sorts
-- by time.
-- docs/schema.md lists each difference from the seed and its reason.

CREATE TABLE virtual_accounts (
    account_id TEXT PRIMARY KEY NOT NULL,
    market_type TEXT NOT NULL CHECK (market_type IN ('US', 'COIN')),
    initial_balance ANY NOT NULL CHECK (typeof(initial_balance) = 'text'),
    current_balance ANY NOT NULL CHECK (typeof(current_balance) = 'text'),
    stock_symbol TEXT NOT NULL DEFAULT '',
    stock_price ANY NOT NULL CHECK (typeof(stock_price) = 'text'),
    stock_quantity ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(stock_quantity) = 'text'),
    stock_market_value ANY NOT NULL CHECK (typeof(stock_market_value) = 'text'),
    total_value ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(total_value) = 'text'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    position_side TEXT NOT NULL DEFAULT 'LONG' CHECK (position_side IN ('LONG', 'SHORT')),
    margin_used ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(margin_used) = 'text'),
    short_avg_price ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(short_avg_price) = 'text'),
    short_total_cost ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(short_total_cost) = 'text'),
    short_positions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(short_positions)),
    long_positions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(long_positions)),
    available_balance ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(available_balance) = 'text'),
    commission_rate_buy ANY NOT NULL DEFAULT '0.001000' CHECK (typeof(commission_rate_buy) = 'text'),
    commission_rate_sell ANY NOT NULL DEFAULT '0.001000' CHECK (typeof(commission_rate_sell) = 'text'),
    tax_rate ANY NOT NULL DEFAULT '0.001000' CHECK (typeof(tax_rate) = 'text'),
    min_commission ANY NOT NULL DEFAULT '5.00000000' CHECK (typeof(min_commission) = 'text'),
    total_fees ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(total_fees) = 'text'),
    -- added by aibt
    task_id TEXT,
    short_margin_ratio ANY NOT NULL DEFAULT '1.000000' CHECK (typeof(short_margin_ratio) = 'text'),
    allow_fractional_shares INTEGER NOT NULL DEFAULT 0 CHECK (allow_fractional_shares IN (0, 1))
) STRICT;

CREATE TABLE account_snapshots (
    snapshot_id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT DEFAULT NULL,
    account_id TEXT NOT NULL,
    balance ANY NOT NULL CHECK (typeof(balance) = 'text'),
    stock_quantity ANY NOT NULL CHECK (typeof(stock_quantity) = 'text'),
    stock_price ANY NOT NULL CHECK (typeof(stock_price) = 'text'),
    stock_market_value ANY NOT NULL CHECK (typeof(stock_market_value) = 'text'),
    total_value ANY NOT NULL CHECK (typeof(total_value) = 'text'),
    profit_loss ANY NOT NULL CHECK (typeof(profit_loss) = 'text'),
    profit_loss_percent ANY NOT NULL CHECK (typeof(profit_loss_percent) = 'text'),
    timestamp TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    margin_used ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(margin_used) = 'text'),
    market_type TEXT NOT NULL CHECK (market_type IN ('US', 'COIN')),
    initial_balance ANY NOT NULL CHECK (typeof(initial_balance) = 'text'),
    stock_symbol TEXT NOT NULL,
    current_balance ANY NOT NULL CHECK (typeof(current_balance) = 'text'),
    position_side TEXT NOT NULL DEFAULT 'LONG' CHECK (position_side IN ('LONG', 'SHORT')),
    short_avg_price ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(short_avg_price) = 'text'),
    short_total_cost ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(short_total_cost) = 'text'),
    short_positions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(short_positions)),
    long_positions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(long_positions)),
    available_balance ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(available_balance) = 'text'),
    total_fees ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(total_fees) = 'text')
) STRICT;

CREATE TABLE local_decisions (
    decision_id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT DEFAULT NULL,
    account_id TEXT NOT NULL,
    stock_symbol TEXT NOT NULL,
    decision_result TEXT NOT NULL,
    confidence_score ANY NOT NULL CHECK (typeof(confidence_score) = 'text'),
    reasoning TEXT NOT NULL,
    market_data TEXT DEFAULT NULL CHECK (market_data IS NULL OR json_valid(market_data)),
    start_time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    end_time TEXT,
    execution_time_ms INTEGER DEFAULT NULL,
    analysis_date TEXT
) STRICT;

CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    stock_symbol TEXT NOT NULL,
    market_type TEXT DEFAULT NULL CHECK (market_type IS NULL OR market_type IN ('US', 'COIN')),
    user_prompt_id TEXT DEFAULT NULL,
    ai_config_id TEXT DEFAULT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at TEXT,
    paused_at TEXT,
    resumed_at TEXT,
    completed_at TEXT,
    error_message TEXT DEFAULT NULL,
    total_items INTEGER DEFAULT NULL,
    processed_items INTEGER NOT NULL DEFAULT 0,
    time_granularity TEXT NOT NULL DEFAULT 'daily' CHECK (time_granularity IN ('daily', 'hourly', 'minute')),
    decision_interval INTEGER NOT NULL DEFAULT 1 CHECK (decision_interval >= 1),
    stats TEXT DEFAULT NULL CHECK (stats IS NULL OR json_valid(stats)),
    -- added by aibt
    strategy TEXT NOT NULL DEFAULT '',
    options TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
    lease_owner TEXT DEFAULT NULL,
    lease_expires_at TEXT,
    checkpoint TEXT DEFAULT NULL CHECK (checkpoint IS NULL OR json_valid(checkpoint)),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE trade_records (
    trade_id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT DEFAULT NULL,
    account_id TEXT NOT NULL,
    stock_symbol TEXT NOT NULL,
    trade_action TEXT NOT NULL,
    quantity ANY NOT NULL CHECK (typeof(quantity) = 'text'),
    price ANY NOT NULL CHECK (typeof(price) = 'text'),
    total_amount ANY NOT NULL CHECK (typeof(total_amount) = 'text'),
    status TEXT NOT NULL DEFAULT 'PENDING',
    trade_time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    decision_id TEXT DEFAULT NULL,
    commission ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(commission) = 'text'),
    tax ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(tax) = 'text'),
    total_fees ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(total_fees) = 'text'),
    position_side TEXT NOT NULL DEFAULT 'LONG' CHECK (position_side IN ('LONG', 'SHORT')),
    open_id TEXT DEFAULT NULL,
    stock_market_value_after ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(stock_market_value_after) = 'text'),
    total_value_after ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(total_value_after) = 'text'),
    margin_used_after ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(margin_used_after) = 'text'),
    remaining_quantity_after ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(remaining_quantity_after) = 'text'),
    avg_price_after ANY NOT NULL DEFAULT '0.00000000' CHECK (typeof(avg_price_after) = 'text'),
    -- added by aibt
    reject_reason TEXT DEFAULT NULL,
    realized_pnl ANY CHECK (realized_pnl IS NULL OR typeof(realized_pnl) = 'text')
) STRICT;

CREATE TABLE prompt_templates (
    prompt_id TEXT PRIMARY KEY NOT NULL,
    content TEXT NOT NULL,
    description TEXT DEFAULT NULL,
    status TEXT NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'UNAVAILABLE', 'DELETED')),
    tags TEXT DEFAULT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE ai_configs (
    config_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    local_ai_base_url TEXT NOT NULL,
    local_ai_api_key TEXT NOT NULL,
    local_ai_model_name TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- One row per bar; the primary key is the series plus the bar's open time, so a series is
-- stored in time order and read back with a range scan.
CREATE TABLE market_bars (
    symbol TEXT NOT NULL,
    market_type TEXT NOT NULL CHECK (market_type IN ('US', 'COIN')),
    granularity TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly', 'minute')),
    ts TEXT NOT NULL,
    open ANY NOT NULL CHECK (typeof(open) = 'text'),
    high ANY NOT NULL CHECK (typeof(high) = 'text'),
    low ANY NOT NULL CHECK (typeof(low) = 'text'),
    close ANY NOT NULL CHECK (typeof(close) = 'text'),
    volume ANY NOT NULL CHECK (typeof(volume) = 'text'),
    PRIMARY KEY (symbol, market_type, granularity, ts)
) STRICT, WITHOUT ROWID;

-- Indexes of the seed's section 5, named as SQLModel names them (ix_<table>_<column>).
CREATE INDEX ix_virtual_accounts_market_type ON virtual_accounts (market_type);
CREATE INDEX ix_virtual_accounts_stock_symbol ON virtual_accounts (stock_symbol);
CREATE INDEX ix_account_snapshots_task_id ON account_snapshots (task_id);
CREATE INDEX ix_account_snapshots_account_id ON account_snapshots (account_id);
CREATE INDEX ix_account_snapshots_timestamp ON account_snapshots (timestamp);
CREATE INDEX ix_local_decisions_task_id ON local_decisions (task_id);
CREATE INDEX ix_local_decisions_account_id ON local_decisions (account_id);
CREATE INDEX ix_local_decisions_stock_symbol ON local_decisions (stock_symbol);
CREATE INDEX ix_local_decisions_start_time ON local_decisions (start_time);
CREATE INDEX ix_local_decisions_end_time ON local_decisions (end_time);
CREATE INDEX ix_tasks_account_id ON tasks (account_id);
CREATE INDEX ix_tasks_stock_symbol ON tasks (stock_symbol);
CREATE INDEX ix_tasks_status ON tasks (status);
CREATE INDEX ix_tasks_ai_config_id ON tasks (ai_config_id);
CREATE INDEX ix_tasks_time_granularity ON tasks (time_granularity);
CREATE INDEX ix_tasks_created_at ON tasks (created_at);
CREATE INDEX ix_tasks_start_date ON tasks (start_date);
CREATE INDEX ix_tasks_end_date ON tasks (end_date);
CREATE INDEX ix_trade_records_task_id ON trade_records (task_id);
CREATE INDEX ix_trade_records_account_id ON trade_records (account_id);
CREATE INDEX ix_trade_records_stock_symbol ON trade_records (stock_symbol);
CREATE INDEX ix_trade_records_trade_action ON trade_records (trade_action);
CREATE INDEX ix_trade_records_trade_time ON trade_records (trade_time);

-- Added by aibt: the run account of a task, and the paging order of its decisions and trades
-- (snapshots page by their primary key, which starts with the task id and counts bars).
CREATE INDEX ix_virtual_accounts_task_id ON virtual_accounts (task_id);
CREATE INDEX ix_local_decisions_task_id_analysis_date ON local_decisions (task_id, analysis_date, decision_id);
CREATE INDEX ix_trade_records_task_id_trade_time ON trade_records (task_id, trade_time, trade_id);
CREATE INDEX ix_tasks_created_at_task_id ON tasks (created_at, task_id);
