//! `aibt data`: getting bars in (files, resampling, downloads) and looking at them.

use std::path::PathBuf;

use aibt_core::{MarketType, TimeGranularity};
use clap::{Args, Subcommand};

use super::values::{Format, parse_granularity, parse_market};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Import a bar file as one series: CSV (comma, semicolon, tab; UTF-8 or GBK) or Excel
    /// (.xlsx, .xls). The whole file is checked first: one bad row refuses it, naming the line
    /// (or sheet and row) and column, and nothing is stored.
    Import(ImportArgs),
    /// Show how a bar file would be read: its format, header, first rows and which column is
    /// the time, open, high, low, close and volume (or what is missing). Stores nothing.
    Preview {
        file: PathBuf,
        #[command(flatten)]
        reading: ReadingArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Make a coarser series from a stored one (minute → hourly or daily, hourly → daily):
    /// open of the first bar, high of the highs, low of the lows, close of the last, summed
    /// volume; a bucket with no bar is left out.
    Resample {
        #[arg(long)]
        symbol: String,
        /// The stored series' market [default: the only one stored for the symbol].
        #[arg(long, value_parser = parse_market)]
        market: Option<MarketType>,
        #[arg(long, value_parser = parse_granularity)]
        from: TimeGranularity,
        #[arg(long, value_parser = parse_granularity)]
        to: TimeGranularity,
        /// Buckets follow this IANA time zone's clock (Asia/Shanghai, America/New_York).
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Overwrite stored bars of the target series that differ.
        #[arg(long)]
        replace: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Download bars from Yahoo Finance (US stocks) or Binance (crypto) and store them as a
    /// series, checked like an import. A range already downloaded comes from the local cache.
    Fetch(FetchArgs),
    /// Import dated context for a symbol (CSV or Excel): a date column (2025-01-01 or
    /// 2025年1月1日) and any text or number columns, such as a trend label or a sentiment score;
    /// optionally a published_at column. A prompt shows an item from the end of its day (or
    /// its publication). One bad line refuses the file, naming the line; nothing is stored.
    ImportContext {
        file: PathBuf,
        #[arg(long)]
        symbol: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the dated context stored for a symbol.
    Context {
        #[arg(long)]
        symbol: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
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
    /// The file: a time column and open, high, low, close and (optionally) volume, in any
    /// order; English or Chinese header names (date/日期, open/开盘, …) are recognised, others
    /// are named with --map.
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
    #[command(flatten)]
    pub reading: ReadingArgs,
}

/// How a bar file is read, for an import and its preview alike.
#[derive(Debug, Args)]
pub struct ReadingArgs {
    /// Which column is which, by header text: time=日期,open=开盘,high=最高,low=最低,close=收盘,
    /// volume=成交量 (a date and a time-of-day column: time=Date+Time). Unnamed roles are
    /// recognised from the header.
    #[arg(long, value_parser = aibt_data::ColumnMap::parse)]
    pub map: Option<aibt_data::ColumnMap>,
    /// For a file with both Close and Adj Close: raw (as traded) or adjusted (Adj Close, open,
    /// high and low scaled by the same factor).
    #[arg(long, value_parser = parse_close)]
    pub close: Option<aibt_data::CloseChoice>,
    /// A workbook's sheet by name [default: the first].
    #[arg(long)]
    pub sheet: Option<String>,
}

impl ReadingArgs {
    pub fn options(&self) -> aibt_data::ImportOptions {
        aibt_data::ImportOptions {
            map: self.map.clone().unwrap_or_default(),
            close: self.close,
            sheet: self.sheet.clone(),
        }
    }
}

fn parse_close(text: &str) -> Result<aibt_data::CloseChoice, String> {
    text.parse()
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The provider's symbol: AAPL (Yahoo), BTCUSDT or BTC-USDT (Binance). The series is
    /// stored under it as typed.
    pub symbol: String,
    #[arg(long, value_parser = parse_source)]
    pub source: aibt_fetch::Source,
    #[arg(long, value_parser = parse_granularity, default_value = "daily")]
    pub granularity: TimeGranularity,
    /// First day (inclusive), YYYY-MM-DD.
    #[arg(long)]
    pub start: chrono::NaiveDate,
    /// Last day (inclusive) [default: today].
    #[arg(long)]
    pub end: Option<chrono::NaiveDate>,
    /// Yahoo daily bars: raw prices as traded instead of split- and dividend-adjusted ones
    /// (Yahoo adjusts daily bars only; intraday bars are always raw).
    #[arg(long)]
    pub raw: bool,
    /// The series' market [default: US for Yahoo, COIN for Binance].
    #[arg(long, value_parser = parse_market)]
    pub market: Option<MarketType>,
    /// Overwrite stored bars that differ from the download.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub providers: ProviderArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_source(text: &str) -> Result<aibt_fetch::Source, String> {
    text.parse()
        .map_err(|e: aibt_fetch::UnknownSource| e.to_string())
}

/// Where downloads go and come from (the same for `data fetch` and `serve`).
#[derive(Debug, Args, Clone)]
pub struct ProviderArgs {
    /// The download cache [default: $XDG_CACHE_HOME/aibt/market, or ~/.cache/aibt/market].
    #[arg(long, env = "AIBT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Yahoo Finance's API root (a mirror or a test server).
    #[arg(long, env = "AIBT_YAHOO_URL", default_value = aibt_fetch::FetchConfig::DEFAULT_YAHOO_URL)]
    pub yahoo_url: String,
    /// Binance's API root.
    #[arg(long, env = "AIBT_BINANCE_URL", default_value = aibt_fetch::FetchConfig::DEFAULT_BINANCE_URL)]
    pub binance_url: String,
}

impl ProviderArgs {
    pub fn config(&self) -> aibt_fetch::FetchConfig {
        let cache_dir = self.cache_dir.clone().unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            base.join("aibt").join("market")
        });
        aibt_fetch::FetchConfig {
            yahoo_url: self.yahoo_url.clone(),
            binance_url: self.binance_url.clone(),
            ..aibt_fetch::FetchConfig::with_cache_dir(cache_dir)
        }
    }
}
