//! The command line, as PRODUCT.md's "Interfaces" describes it.

use std::path::PathBuf;

use aibt_core::{MarketType, TimeGranularity};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::db::DEFAULT_DATABASE_URL;

#[derive(Debug, Parser)]
#[command(
    name = "aibt",
    version,
    about = "Backtest trading strategies that an LLM (or a built-in rule) carries out, with exact money.",
    propagate_version = true
)]
pub struct Cli {
    /// Database to use: sqlite://FILE (created if absent) or postgres://USER@HOST:PORT/DB.
    #[arg(long, global = true, env = "AIBT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, check or back up the database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Import and list market data.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run a backtest to completion and print its statistics.
    Backtest(Box<BacktestArgs>),
    /// List, inspect, export and resume tasks.
    #[command(subcommand)]
    Task(TaskCommand),
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The symbol to trade. Its bars must be stored, come from --data, or be a bundled sample
    /// (aibt data list --samples).
    #[arg(long)]
    pub symbol: String,
    /// US (whole shares) or COIN (quantities in steps of 0.00000001). Default: the sample's
    /// market, else US.
    #[arg(long, value_parser = parse_market)]
    pub market: Option<MarketType>,
    /// Import this CSV file first if the series is not stored yet.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, value_parser = parse_granularity, default_value = "daily")]
    pub granularity: TimeGranularity,
    /// A built-in strategy: builtin:sma-cross, builtin:rsi-reversion, builtin:buy-and-hold,
    /// builtin:always-hold.
    #[arg(long, default_value = "builtin:sma-cross")]
    pub strategy: String,
    /// A strategy parameter, NAME=VALUE (repeatable), e.g. --param fast=10 --param slow=20.
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// First bar of the period (a date or date-time); the series' first bar by default.
    #[arg(long)]
    pub start: Option<String>,
    /// Last bar of the period; a bare date includes that whole day. The series' last bar by
    /// default.
    #[arg(long)]
    pub end: Option<String>,
    /// Decide every N bars.
    #[arg(long, default_value_t = 1)]
    pub interval: i64,
    /// Initial cash.
    #[arg(long, default_value = "10000")]
    pub cash: String,
    /// Commission rate of both sides (0.001 = 0.1%).
    #[arg(long, default_value = "0.001")]
    pub commission: String,
    /// Commission rate of buys and covers, overriding --commission.
    #[arg(long)]
    pub commission_buy: Option<String>,
    /// Commission rate of sells and shorts, overriding --commission.
    #[arg(long)]
    pub commission_sell: Option<String>,
    /// Minimum commission per order.
    #[arg(long, default_value = "0")]
    pub min_commission: String,
    /// Tax rate on sell-side executions (SELL and SHORT_SELL).
    #[arg(long, default_value = "0")]
    pub tax: String,
    /// Margin locked per unit of short notional (1 = fully collateralised).
    #[arg(long, default_value = "1")]
    pub short_margin: String,
    /// Allow fractional shares in a US account.
    #[arg(long)]
    pub fractional: bool,
    /// next_open (default: an order fills at the next bar's open) or close (at the decision
    /// bar's close).
    #[arg(long, default_value = "next_open")]
    pub fill: String,
    /// Record every decision of a built-in strategy, holds included (by default only the
    /// decisions that trade are recorded; every decision still counts in the progress).
    #[arg(long)]
    pub record_holds: bool,
    /// Use an existing account's cash and fees instead of the flags above.
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List tasks, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show a task: its settings, progress and statistics.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Export a task's trades, decisions and snapshots.
    Export {
        id: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// Which records (CSV exports one kind; JSON exports all three unless one is named).
        #[arg(long, value_enum)]
        records: Option<Records>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Resume a paused or failed task and run it here to completion.
    Resume {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Pause a running task (its worker stops after the step in progress).
    Pause { id: String },
    /// Cancel a task.
    Cancel { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Records {
    Trades,
    Decisions,
    Snapshots,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database if needed and apply every migration.
    Migrate,
    /// Report the schema version, run the integrity check and count rows.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write a consistent copy of a SQLite database to FILE (which must not exist).
    Backup { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Import an OHLCV CSV file as one series. The whole file is checked first: one bad row
    /// refuses it, naming the line and column, and nothing is stored.
    Import(ImportArgs),
    /// List the stored series (and, with --samples, the bundled ones).
    List {
        /// Also list the sample series bundled with aibt.
        #[arg(long)]
        samples: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file: a time column (date, datetime, time or timestamp) and open, high, low,
    /// close and (optionally) volume, in any order and any letter case.
    pub file: PathBuf,
    #[arg(long)]
    pub symbol: String,
    #[arg(long, value_parser = parse_market)]
    pub market: MarketType,
    #[arg(long, value_parser = parse_granularity)]
    pub granularity: TimeGranularity,
    /// Overwrite stored bars that differ from the file (otherwise such a file is refused).
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

pub fn parse_market(text: &str) -> Result<MarketType, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}

pub fn parse_granularity(text: &str) -> Result<TimeGranularity, String> {
    text.to_ascii_lowercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}
