//! The market data: the bars of a series, and what `market_bars` holds of each series.

use aibt_core::Bar;

use crate::error::Result;
use crate::rows::{SeriesInfo, SeriesKey};
use crate::sql::columns::{ReadRow, TableRow};
use crate::sql::table::Table;

/// The bar columns of `market_bars` (a series' key columns are its filter, not its row).
pub static BARS: Table = Table::new(
    "market_bars",
    "bar",
    &["ts", "open", "high", "low", "close", "volume"],
);

impl TableRow for Bar {
    fn table() -> &'static Table {
        &BARS
    }

    fn read(r: &impl ReadRow) -> Result<Bar> {
        Ok(Bar {
            ts: r.time(0)?,
            open: r.decimal(1)?,
            high: r.decimal(2)?,
            low: r.decimal(3)?,
            close: r.decimal(4)?,
            volume: r.decimal(5)?,
        })
    }
}

/// What `market_bars` holds of each series, grouped.
pub static SERIES: Table = Table::new(
    "market_bars",
    "series",
    &[
        "symbol",
        "market_type",
        "granularity",
        "count",
        "ts",
        "ts",
        "description",
    ],
);

impl TableRow for SeriesInfo {
    fn table() -> &'static Table {
        &SERIES
    }

    fn read(r: &impl ReadRow) -> Result<SeriesInfo> {
        Ok(SeriesInfo {
            key: SeriesKey {
                symbol: r.text(0)?,
                market_type: r.label(1)?,
                granularity: r.label(2)?,
            },
            bars: r.count(3)?,
            first: r.time(4)?,
            last: r.time(5)?,
            description: r.opt_text(6)?,
        })
    }
}
