//! Real market data shipped inside aibt (see `sample/README.md` for where each file came from),
//! so a fresh install can run a backtest with no download. A sample is imported into the
//! store the first time a backtest asks for its series.

use aibt_core::{Bar, MarketType, TimeGranularity};

use crate::bars::parse_bars;
use crate::columns::ImportOptions;
use crate::error::FileError;

/// One bundled series.
#[derive(Debug)]
pub struct Sample {
    pub file: &'static str,
    pub symbol: &'static str,
    pub market_type: MarketType,
    pub granularity: TimeGranularity,
    pub description: &'static str,
    pub bytes: &'static [u8],
}

impl Sample {
    /// The sample's bars, validated like any imported file.
    pub fn bars(&self) -> Result<Vec<Bar>, FileError> {
        parse_bars(self.file, self.bytes, &ImportOptions::default())
    }
}

/// Every bundled series. A symbol appears once per granularity; where one file would collide
/// with another of the same granularity it gets a suffixed symbol (`INDEX2006-5M`,
/// `BTCUSD-MONTHLY`).
pub static SAMPLES: &[Sample] = &[
    Sample {
        file: "GOOG_1d.csv",
        symbol: "GOOG",
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
        description: "NASDAQ:GOOG daily, 2004-08-19..2013-03-01, not split-adjusted (backtesting.py's test data)",
        bytes: include_bytes!("../sample/GOOG_1d.csv"),
    },
    Sample {
        file: "SPY_1d.csv",
        symbol: "SPY",
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
        description: "NYSE Arca:SPY daily, 1998-01-02..2021-03-31, raw prices",
        bytes: include_bytes!("../sample/SPY_1d.csv"),
    },
    Sample {
        file: "SPY_1m.csv",
        symbol: "SPY",
        market_type: MarketType::Us,
        granularity: TimeGranularity::Minute,
        description: "NYSE Arca:SPY 1-minute, 2013-10-04..2013-10-11 UTC, incl. pre/after-hours",
        bytes: include_bytes!("../sample/SPY_1m.csv"),
    },
    Sample {
        file: "NVDA_1d.csv",
        symbol: "NVDA",
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
        description: "NASDAQ:NVDA daily, 1999-01-22..2014-12-31, split-adjusted",
        bytes: include_bytes!("../sample/NVDA_1d.csv"),
    },
    Sample {
        file: "INDEX2006_1m.csv",
        symbol: "INDEX2006",
        market_type: MarketType::Us,
        granularity: TimeGranularity::Minute,
        description: "equity index futures 1-minute, 2006-01-02..2006-02-27 (local time)",
        bytes: include_bytes!("../sample/INDEX2006_1m.csv"),
    },
    Sample {
        file: "INDEX2006_5m.csv",
        symbol: "INDEX2006-5M",
        market_type: MarketType::Us,
        granularity: TimeGranularity::Minute,
        description: "the same index in 5-minute bars, January 2006, volume all 0",
        bytes: include_bytes!("../sample/INDEX2006_5m.csv"),
    },
    Sample {
        file: "EURUSD_1h.csv",
        symbol: "EURUSD",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Hourly,
        description: "EUR/USD hourly, 2017-04-19..2018-02-07 (FX, traded in fractional units)",
        bytes: include_bytes!("../sample/EURUSD_1h.csv"),
    },
    Sample {
        file: "BTCUSD_1d.csv",
        symbol: "BTCUSD",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "BTC/USD Coinbase daily, 2014-12-01..2018-08-13",
        bytes: include_bytes!("../sample/BTCUSD_1d.csv"),
    },
    Sample {
        file: "BTCUSD_1h.csv",
        symbol: "BTCUSD",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Hourly,
        description: "BTC/USD Bitfinex hourly, October 2013",
        bytes: include_bytes!("../sample/BTCUSD_1h.csv"),
    },
    Sample {
        file: "BTCUSD_1m.csv",
        symbol: "BTCUSD",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Minute,
        description: "BTC/USD Coinbase 1-minute, 2018-04-04..2018-04-06",
        bytes: include_bytes!("../sample/BTCUSD_1m.csv"),
    },
    Sample {
        file: "BTCUSD_1mo.csv",
        symbol: "BTCUSD-MONTHLY",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "BTC/USD index monthly bars, 2012-01..2024-12",
        bytes: include_bytes!("../sample/BTCUSD_1mo.csv"),
    },
    Sample {
        file: "ETHUSD_1m.csv",
        symbol: "ETHUSD",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Minute,
        description: "ETH/USD Coinbase 1-minute, 2018-04-04..2018-04-05",
        bytes: include_bytes!("../sample/ETHUSD_1m.csv"),
    },
    Sample {
        file: "ETHBTC_5m.csv",
        symbol: "ETHBTC",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Minute,
        description: "ETH/BTC Binance 5-minute, 2018-01-10..2018-01-30 (prices in BTC)",
        bytes: include_bytes!("../sample/ETHBTC_5m.csv"),
    },
    Sample {
        file: "BTC-USDT_1d.csv",
        symbol: "BTC-USDT",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "Binance BTC/USDT daily, 2017-08-17..2025-12-17",
        bytes: include_bytes!("../sample/BTC-USDT_1d.csv"),
    },
    Sample {
        file: "ETH-USDT_1d.csv",
        symbol: "ETH-USDT",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "Binance ETH/USDT daily, 2017-08-17..2025-12-17",
        bytes: include_bytes!("../sample/ETH-USDT_1d.csv"),
    },
    Sample {
        file: "BNB-USDT_1d.csv",
        symbol: "BNB-USDT",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "Binance BNB/USDT daily, 2017-11-06..2025-12-14 (file is newest-first)",
        bytes: include_bytes!("../sample/BNB-USDT_1d.csv"),
    },
    Sample {
        file: "DOGE-USDT_1d.csv",
        symbol: "DOGE-USDT",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "Binance DOGE/USDT daily, 2019-07-05..2025-12-14",
        bytes: include_bytes!("../sample/DOGE-USDT_1d.csv"),
    },
    Sample {
        file: "SOL-USDT_1d.csv",
        symbol: "SOL-USDT",
        market_type: MarketType::Coin,
        granularity: TimeGranularity::Daily,
        description: "Binance SOL/USDT daily, 2020-08-11..2025-12-14",
        bytes: include_bytes!("../sample/SOL-USDT_1d.csv"),
    },
];

/// The bundled series for a symbol (case-insensitive) at a granularity, optionally in a market.
pub fn find_sample(
    symbol: &str,
    market_type: Option<MarketType>,
    granularity: TimeGranularity,
) -> Option<&'static Sample> {
    SAMPLES.iter().find(|sample| {
        sample.symbol.eq_ignore_ascii_case(symbol)
            && sample.granularity == granularity
            && market_type.is_none_or(|market| market == sample.market_type)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_parses_completely() {
        for sample in SAMPLES {
            let bars = sample.bars().unwrap_or_else(|e| panic!("{e}"));
            let rows = std::str::from_utf8(sample.bytes)
                .expect("utf-8")
                .lines()
                .filter(|line| !line.trim().is_empty())
                .count()
                - 1;
            assert_eq!(bars.len(), rows, "{}", sample.file);
            assert!(
                bars.windows(2).all(|w| w[0].ts < w[1].ts),
                "{}",
                sample.file
            );
        }
    }

    #[test]
    fn samples_are_found_by_symbol_and_granularity() {
        let goog = find_sample("goog", None, TimeGranularity::Daily).expect("GOOG");
        assert_eq!(goog.file, "GOOG_1d.csv");
        assert!(find_sample("GOOG", Some(MarketType::Coin), TimeGranularity::Daily).is_none());
        assert_eq!(
            find_sample("BTCUSD", None, TimeGranularity::Minute).map(|s| s.file),
            Some("BTCUSD_1m.csv")
        );
    }

    #[test]
    fn sample_series_keys_are_unique() {
        let mut keys: Vec<_> = SAMPLES
            .iter()
            .map(|s| (s.symbol, s.market_type, s.granularity))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), SAMPLES.len());
    }
}
