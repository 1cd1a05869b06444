-- aibt schema, version 1 (PostgreSQL): the seven tables of the user's design with every column,
-- default and index of its section 5, plus market_bars. Money and quantities are NUMERIC(38,8),
-- percentages NUMERIC(15,6), rates NUMERIC(10,6), JSON is JSONB, times are TIMESTAMPTZ.
-- docs/schema.md lists each difference from the seed and its reason.

CREATE TABLE virtual_accounts (
    account_id VARCHAR PRIMARY KEY,
    market_type VARCHAR NOT NULL CHECK (market_type IN ('US', 'COIN')),
    initial_balance NUMERIC(38,8) NOT NULL,
    current_balance NUMERIC(38,8) NOT NULL,
    stock_symbol VARCHAR NOT NULL DEFAULT '',
    stock_price NUMERIC(38,8) NOT NULL,
    stock_quantity NUMERIC(38,8) NOT NULL DEFAULT 0,
    stock_market_value NUMERIC(38,8) NOT NULL,
    total_value NUMERIC(38,8) NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    position_side VARCHAR NOT NULL DEFAULT 'LONG' CHECK (position_side IN ('LONG', 'SHORT')),
    margin_used NUMERIC(38,8) NOT NULL DEFAULT 0,
    short_avg_price NUMERIC(38,8) NOT NULL DEFAULT 0,
    short_total_cost NUMERIC(38,8) NOT NULL DEFAULT 0,
    short_positions JSONB NOT NULL DEFAULT '[]',
    long_positions JSONB NOT NULL DEFAULT '[]',
    available_balance NUMERIC(38,8) NOT NULL DEFAULT 0,
    commission_rate_buy NUMERIC(10,6) NOT NULL DEFAULT 0.001,
    commission_rate_sell NUMERIC(10,6) NOT NULL DEFAULT 0.001,
    tax_rate NUMERIC(10,6) NOT NULL DEFAULT 0.001,
    min_commission NUMERIC(38,8) NOT NULL DEFAULT 5.00,
    total_fees NUMERIC(38,8) NOT NULL DEFAULT 0,
    -- added by aibt
    task_id VARCHAR,
    short_margin_ratio NUMERIC(10,6) NOT NULL DEFAULT 1,
    allow_fractional_shares BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE account_snapshots (
    snapshot_id VARCHAR PRIMARY KEY,
    task_id VARCHAR DEFAULT NULL,
    account_id VARCHAR NOT NULL,
    balance NUMERIC(38,8) NOT NULL,
    stock_quantity NUMERIC(38,8) NOT NULL,
    stock_price NUMERIC(38,8) NOT NULL,
    stock_market_value NUMERIC(38,8) NOT NULL,
    total_value NUMERIC(38,8) NOT NULL,
    profit_loss NUMERIC(38,8) NOT NULL,
    profit_loss_percent NUMERIC(15,6) NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    margin_used NUMERIC(38,8) NOT NULL DEFAULT 0,
    market_type VARCHAR NOT NULL CHECK (market_type IN ('US', 'COIN')),
    initial_balance NUMERIC(38,8) NOT NULL,
    stock_symbol VARCHAR NOT NULL,
    current_balance NUMERIC(38,8) NOT NULL,
    position_side VARCHAR NOT NULL DEFAULT 'LONG' CHECK (position_side IN ('LONG', 'SHORT')),
    short_avg_price NUMERIC(38,8) NOT NULL DEFAULT 0,
    short_total_cost NUMERIC(38,8) NOT NULL DEFAULT 0,
    short_positions JSONB NOT NULL DEFAULT '[]',
    long_positions JSONB NOT NULL DEFAULT '[]',
    available_balance NUMERIC(38,8) NOT NULL DEFAULT 0,
    total_fees NUMERIC(38,8) NOT NULL DEFAULT 0
);

CREATE TABLE local_decisions (
    decision_id VARCHAR PRIMARY KEY,
    task_id VARCHAR DEFAULT NULL,
    account_id VARCHAR NOT NULL,
    stock_symbol VARCHAR NOT NULL,
    decision_result VARCHAR NOT NULL,
    confidence_score NUMERIC(10,6) NOT NULL,
    reasoning VARCHAR NOT NULL,
    market_data JSONB DEFAULT NULL,
    start_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_time TIMESTAMPTZ DEFAULT NULL,
    execution_time_ms INTEGER DEFAULT NULL,
    analysis_date TIMESTAMPTZ DEFAULT NULL
);

CREATE TABLE tasks (
    task_id VARCHAR PRIMARY KEY,
    account_id VARCHAR NOT NULL,
    stock_symbol VARCHAR NOT NULL,
    market_type VARCHAR DEFAULT NULL CHECK (market_type IS NULL OR market_type IN ('US', 'COIN')),
    user_prompt_id VARCHAR DEFAULT NULL,
    ai_config_id VARCHAR DEFAULT NULL,
    start_date TIMESTAMPTZ NOT NULL,
    end_date TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ DEFAULT NULL,
    paused_at TIMESTAMPTZ DEFAULT NULL,
    resumed_at TIMESTAMPTZ DEFAULT NULL,
    completed_at TIMESTAMPTZ DEFAULT NULL,
    error_message TEXT DEFAULT NULL,
    total_items INTEGER DEFAULT NULL,
    processed_items INTEGER NOT NULL DEFAULT 0,
    time_granularity VARCHAR NOT NULL DEFAULT 'daily' CHECK (time_granularity IN ('daily', 'hourly', 'minute')),
    decision_interval INTEGER NOT NULL DEFAULT 1 CHECK (decision_interval >= 1),
    stats JSONB DEFAULT NULL,
    -- added by aibt
    strategy VARCHAR NOT NULL DEFAULT '',
    options JSONB NOT NULL DEFAULT '{}',
    lease_owner VARCHAR DEFAULT NULL,
    lease_expires_at TIMESTAMPTZ DEFAULT NULL,
    checkpoint JSONB DEFAULT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE trade_records (
    trade_id VARCHAR PRIMARY KEY,
    task_id VARCHAR DEFAULT NULL,
    account_id VARCHAR NOT NULL,
    stock_symbol VARCHAR NOT NULL,
    trade_action VARCHAR NOT NULL,
    quantity NUMERIC(38,8) NOT NULL,
    price NUMERIC(38,8) NOT NULL,
    total_amount NUMERIC(38,8) NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'PENDING',
    trade_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    decision_id VARCHAR DEFAULT NULL,
    commission NUMERIC(38,8) NOT NULL DEFAULT 0,
    tax NUMERIC(38,8) NOT NULL DEFAULT 0,
    total_fees NUMERIC(38,8) NOT NULL DEFAULT 0,
    position_side VARCHAR NOT NULL DEFAULT 'LONG' CHECK (position_side IN ('LONG', 'SHORT')),
    open_id VARCHAR DEFAULT NULL,
    stock_market_value_after NUMERIC(38,8) NOT NULL DEFAULT 0,
    total_value_after NUMERIC(38,8) NOT NULL DEFAULT 0,
    margin_used_after NUMERIC(38,8) NOT NULL DEFAULT 0,
    remaining_quantity_after NUMERIC(38,8) NOT NULL DEFAULT 0,
    avg_price_after NUMERIC(38,8) NOT NULL DEFAULT 0,
    -- added by aibt
    reject_reason TEXT DEFAULT NULL,
    realized_pnl NUMERIC(38,8) DEFAULT NULL
);

CREATE TABLE prompt_templates (
    prompt_id VARCHAR PRIMARY KEY,
    content TEXT NOT NULL,
    description VARCHAR DEFAULT NULL,
    status VARCHAR NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'UNAVAILABLE', 'DELETED')),
    tags VARCHAR DEFAULT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE ai_configs (
    config_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    local_ai_base_url VARCHAR NOT NULL,
    local_ai_api_key VARCHAR NOT NULL,
    local_ai_model_name VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per bar, unique on the series and the bar's open time.
CREATE TABLE market_bars (
    symbol VARCHAR NOT NULL,
    market_type VARCHAR NOT NULL CHECK (market_type IN ('US', 'COIN')),
    granularity VARCHAR NOT NULL CHECK (granularity IN ('daily', 'hourly', 'minute')),
    ts TIMESTAMPTZ NOT NULL,
    open NUMERIC(38,8) NOT NULL,
    high NUMERIC(38,8) NOT NULL,
    low NUMERIC(38,8) NOT NULL,
    close NUMERIC(38,8) NOT NULL,
    volume NUMERIC(38,8) NOT NULL,
    PRIMARY KEY (symbol, market_type, granularity, ts)
);

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
