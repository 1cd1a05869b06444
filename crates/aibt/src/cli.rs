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
