//! Bars in their compact form (migration 10, `migrations/0010_compact_bars.sql`):
//! `market_bars` is a view over `bar_series` (a series' symbol, market and granularity, once)
//! and `bar_rows` (series, time, and the prices as integer mantissas at 8 places, or text when
//! a value does not fit). Imports write `bar_rows` directly; reads take the stored mantissas
//! through `bar_values`, since decoding them to text in SQL and parsing the text here would
//! cost more than the read itself.

use aibt_core::{Bar, Money, Quantity};
use aibt_store::sql::Query;
use aibt_store::{ImportMode, ImportOutcome, Result, SeriesKey, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};

use crate::bulk::BulkInsert;
use crate::codec::{self, db_error, mantissa_value};

/// The bars with their stored values, for [`aibt_store::sql::query::bars_from`].
pub(crate) const BAR_VALUES: &str = "bar_values";

/// Stores a series' bars in the caller's transaction, comparing each with the bar stored at its
/// time unless none can be (see `span_is_empty`).
pub(crate) fn import(
    tx: &Connection,
    series: &SeriesKey,
    bars: &[Bar],
    mode: ImportMode,
) -> Result<ImportOutcome> {
    let key = series_key(tx, series)?;
    let mut outcome = ImportOutcome::default();
    // A series imported for the first time (or extended past its ends) holds no bar in the
    // file's span: then no bar can be stored already, and the lookup of each one, a third of
    // an import's time, is skipped, and the bars go in several to a statement. Files arrive
    // sorted and unique (parse_bars), which the check confirms before relying on it.
    let ascending = bars.windows(2).all(|pair| pair[0].ts < pair[1].ts);
    let span_is_empty = match (bars.first(), bars.last()) {
        (Some(first), Some(last)) if ascending => tx
            .prepare_cached(
                "SELECT NOT EXISTS (SELECT 1 FROM bar_rows WHERE series = ?1 \
                 AND ts >= ?2 AND ts <= ?3)",
            )
            .map_err(db_error)?
            .query_row(
                params![key, codec::ts(first.ts), codec::ts(last.ts)],
                |row| row.get::<_, bool>(0),
            )
            .map_err(db_error)?,
        _ => false,
    };
    if span_is_empty {
        for bar in bars {
            outcome.count(series, bar, None, mode)?;
        }
        insert_new(tx, key, bars)?;
        return Ok(outcome);
    }
    let mut existing = tx
        .prepare_cached(
            "SELECT ts, open, high, low, close, volume FROM bar_rows WHERE series = ?1 AND ts = ?2",
        )
        .map_err(db_error)?;
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO bar_rows (series, ts, open, high, low, close, volume) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (series, ts) DO UPDATE SET open = excluded.open, \
             high = excluded.high, low = excluded.low, close = excluded.close, \
             volume = excluded.volume",
        )
        .map_err(db_error)?;
    let mut encoder = RowEncoder::new(key);
    for bar in bars {
        let ts = codec::ts(bar.ts);
        let stored: Option<Bar> = existing
            .query_row(params![key, ts], |row| Ok(read_bar(row)))
            .optional()
            .map_err(db_error)?
            .transpose()?;
        if !outcome.count(series, bar, stored.map(|s| s == *bar), mode)? {
            continue;
        }
        encoder
            .bind(&mut upsert, 1, bar)
            .and_then(|()| upsert.raw_execute())
            .map_err(db_error)?;
    }
    Ok(outcome)
}

const ROWS: BulkInsert<'static> = BulkInsert {
    table: "bar_rows",
    columns: &["series", "ts", "open", "high", "low", "close", "volume"],
};

/// Bars at times the series holds none of, several to a statement.
fn insert_new(tx: &Connection, key: i64, bars: &[Bar]) -> Result<()> {
    let mut encoder = RowEncoder::new(key);
    ROWS.insert(
        tx,
        bars,
        |insert, at, bar| encoder.bind(insert, at, bar),
        |error, _| db_error(error),
    )
}

/// A bar as the columns of `ROWS`: the series' key, the time, the prices as stored.
struct RowEncoder {
    key: i64,
    fixed: aibt_core::decimal::FixedText,
    time: codec::TimeText,
}

impl RowEncoder {
    fn new(key: i64) -> RowEncoder {
        RowEncoder {
            key,
            fixed: aibt_core::decimal::FixedText::new(),
            time: codec::TimeText::new(),
        }
    }

    /// Binds `bar` from the 1-based parameter `at`.
    fn bind(
        &mut self,
        statement: &mut rusqlite::Statement<'_>,
        at: usize,
        bar: &Bar,
    ) -> rusqlite::Result<()> {
        statement.raw_bind_parameter(at, self.key)?;
        statement.raw_bind_parameter(at + 1, self.time.format(bar.ts))?;
        let prices = [bar.open, bar.high, bar.low, bar.close];
        for (i, price) in prices.iter().enumerate() {
            let value = mantissa_value(price.mantissa(), 8, &mut self.fixed);
            statement.raw_bind_parameter(at + 2 + i, value)?;
        }
        let volume = mantissa_value(bar.volume.mantissa(), 8, &mut self.fixed);
        statement.raw_bind_parameter(at + 6, volume)
    }
}

/// The key of a series in `bar_series`, made on its first bar.
fn series_key(tx: &Connection, series: &SeriesKey) -> Result<i64> {
    let values = params![
        series.symbol,
        series.market_type.as_str(),
        series.granularity.as_str()
    ];
    tx.prepare_cached(
        "INSERT OR IGNORE INTO bar_series (symbol, market_type, granularity) VALUES (?1, ?2, ?3)",
    )
    .map_err(db_error)?
    .execute(values)
    .map_err(db_error)?;
    tx.prepare_cached(
        "SELECT series FROM bar_series WHERE symbol = ?1 AND market_type = ?2 AND granularity = ?3",
    )
    .map_err(db_error)?
    .query_row(values, |row| row.get(0))
    .map_err(db_error)
}

/// Runs a query of `ts, open, high, low, close, volume` from [`BAR_VALUES`], of about
/// `expected` rows (its limit: a run reads chunks of thousands, which would otherwise be
/// grown by doubling into fresh memory each time).
pub(crate) fn read(connection: &Connection, query: &Query, expected: usize) -> Result<Vec<Bar>> {
    let mut statement = connection.prepare_cached(&query.sql).map_err(db_error)?;
    let mut rows = statement.query(codec::params(query)).map_err(db_error)?;
    let mut out = Vec::with_capacity(expected.min(1 << 20));
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(read_bar(row)?);
    }
    Ok(out)
}

/// A bar from `ts` and the five stored prices.
fn read_bar(row: &rusqlite::Row<'_>) -> Result<Bar> {
    let text = row.get_ref(0).map_err(db_error)?;
    let ts = match text {
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            codec::parse_time(&text).map_err(|e| corrupt("ts", &text, e))?
        }
        other => return Err(corrupt("ts", &format!("{other:?}"), "not text")),
    };
    Ok(Bar {
        ts,
        open: stored(row, 1, "open", Money::new_mantissa)?,
        high: stored(row, 2, "high", Money::new_mantissa)?,
        low: stored(row, 3, "low", Money::new_mantissa)?,
        close: stored(row, 4, "close", Money::new_mantissa)?,
        volume: stored(row, 5, "volume", Quantity::new_mantissa)?,
    })
}

/// A price or volume stored as its mantissa at 8 places, or as its text.
fn stored<T: std::str::FromStr<Err = aibt_core::DecimalError>>(
    row: &rusqlite::Row<'_>,
    index: usize,
    column: &'static str,
    from_mantissa: fn(i128) -> std::result::Result<T, aibt_core::DecimalError>,
) -> Result<T> {
    match row.get_ref(index).map_err(db_error)? {
        ValueRef::Integer(mantissa) => from_mantissa(i128::from(mantissa))
            .map_err(|e| corrupt(column, &mantissa.to_string(), e)),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            text.parse().map_err(|e| corrupt(column, &text, e))
        }
        other => Err(corrupt(
            column,
            &format!("{other:?}"),
            "neither a mantissa nor text",
        )),
    }
}

fn corrupt(column: &'static str, value: &str, reason: impl ToString) -> StoreError {
    StoreError::corrupt("market_bars", column, value, reason)
}
