//! OHLCV CSV files: header names matched case-insensitively, ISO dates or date-times or epoch
//! seconds/milliseconds, ascending or descending order. A file is accepted whole or not at
//! all: the first bad row refuses it with the file, line and column, before anything is
//! stored.

use std::collections::HashMap;

use aibt_core::time::parse_timestamp;
use aibt_core::{Bar, Money, Quantity};

/// Why a CSV file was refused, pointing at the line and column to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}{}: {reason}", column.as_ref().map(|c| format!(": column {c}")).unwrap_or_default())]
pub struct CsvError {
    pub file: String,
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

const TIME_NAMES: &[&str] = &["timestamp", "datetime", "date", "time"];
const PRICE_NAMES: [&str; 4] = ["open", "high", "low", "close"];

/// Where each needed column sits in the file.
struct Layout {
    time: usize,
    prices: [usize; 4],
    volume: Option<usize>,
    names: Vec<String>,
}

fn layout(file: &str, header: &csv::StringRecord) -> Result<Layout, CsvError> {
    let error = |reason: String| CsvError {
        file: file.to_string(),
        line: 1,
        column: None,
        reason,
    };
    let names: Vec<String> = header
        .iter()
        .map(|name| {
            name.trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase()
        })
        .collect();
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (index, name) in names.iter().enumerate() {
        if positions.insert(name.as_str(), index).is_some() {
            return Err(error(format!("the header names column {name:?} twice")));
        }
    }
    let time = TIME_NAMES
        .iter()
        .find_map(|name| positions.get(name).copied())
        .ok_or_else(|| {
            error(format!(
                "no time column: the header needs one of {} (found {})",
                TIME_NAMES.join(", "),
                names.join(", ")
            ))
        })?;
    let mut prices = [0; 4];
    for (slot, name) in prices.iter_mut().zip(PRICE_NAMES) {
        *slot = *positions.get(name).ok_or_else(|| {
            error(format!(
                "no {name} column: the header needs open, high, low and close (found {})",
                names.join(", ")
            ))
        })?;
    }
    Ok(Layout {
        time,
        prices,
        volume: positions.get("volume").copied(),
        names,
    })
}

/// Reads a whole CSV file into bars sorted by time. `file` names the file in errors.
///
/// A file without a volume column is read with volume 0 (some FX and index files carry
/// none); every other column must be present on every row.
pub fn parse_csv(file: &str, bytes: &[u8]) -> Result<Vec<Bar>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader.headers().map_err(|e| CsvError {
        file: file.to_string(),
        line: 1,
        column: None,
        reason: format!("unreadable header: {e}"),
    })?;
    let layout = layout(file, header)?;
    let mut bars: Vec<(Bar, u64)> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| CsvError {
            file: file.to_string(),
            line: e.position().map_or(0, |p| p.line()),
            column: None,
            reason: format!("unreadable row: {e}"),
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        bars.push((read_row(file, line, &layout, &record)?, line));
    }
    if bars.is_empty() {
        return Err(CsvError {
            file: file.to_string(),
            line: 1,
            column: None,
            reason: "the file has a header but no bars".into(),
        });
    }
    // Files come newest-first as often as oldest-first; a stable sort keeps equal timestamps
    // in file order so the duplicate check below can name both lines.
    bars.sort_by_key(|(bar, _)| bar.ts);
    for pair in bars.windows(2) {
        let ((first, first_line), (second, second_line)) = (&pair[0], &pair[1]);
        if first.ts == second.ts {
            return Err(CsvError {
                file: file.to_string(),
                line: *second_line.max(first_line),
                column: Some(layout.names[layout.time].clone()),
                reason: format!(
                    "duplicate timestamp {}: lines {} and {} are bars at the same time",
                    aibt_core::time::format_timestamp(first.ts),
                    first_line.min(second_line),
                    first_line.max(second_line)
                ),
            });
        }
    }
    Ok(bars.into_iter().map(|(bar, _)| bar).collect())
}

fn read_row(
    file: &str,
    line: u64,
    layout: &Layout,
    record: &csv::StringRecord,
) -> Result<Bar, CsvError> {
    let error = |column: usize, reason: String| CsvError {
        file: file.to_string(),
        line,
        column: Some(layout.names[column].clone()),
        reason,
    };
    let field = |column: usize| -> Result<&str, CsvError> {
        match record.get(column) {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(error(column, "missing value".into())),
        }
    };
    let ts = parse_timestamp(field(layout.time)?).map_err(|e| error(layout.time, e.to_string()))?;
    let mut prices = [Money::ZERO; 4];
    for (price, &column) in prices.iter_mut().zip(&layout.prices) {
        *price = Money::parse(field(column)?).map_err(|e| error(column, e.to_string()))?;
    }
    let volume = match layout.volume {
        Some(column) => {
            Quantity::parse(field(column)?).map_err(|e| error(column, e.to_string()))?
        }
        None => Quantity::ZERO,
    };
    let [open, high, low, close] = prices;
    Bar::new(ts, open, high, low, close, volume).map_err(|e| {
        let column = match e.field {
            "open" => layout.prices[0],
            "high" => layout.prices[1],
            "low" => layout.prices[2],
            "close" => layout.prices[3],
            _ => layout.volume.unwrap_or(layout.time),
        };
        error(column, e.reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Bar>, CsvError> {
        parse_csv("test.csv", text.as_bytes())
    }

    #[test]
    fn headers_match_case_insensitively_and_extra_columns_are_ignored() {
        let bars =
            parse("Date,Open,HIGH,low,Close,Adj Close,Volume\n2024-01-02,1,2,0.5,1.5,1.4,100\n")
                .unwrap();
        assert_eq!(bars.len(), 1);
        assert_eq!(bars[0].close.to_string(), "1.50000000");
        assert_eq!(bars[0].volume.to_string(), "100.00000000");
    }

    #[test]
    fn descending_files_are_sorted() {
        let bars = parse(
            "timestamp,open,high,low,close,volume\n2024-01-03,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n",
        )
        .unwrap();
        let days: Vec<String> = bars.iter().map(|b| b.ts.format("%d").to_string()).collect();
        assert_eq!(days, ["01", "02", "03"]);
    }

    #[test]
    fn epoch_milliseconds_and_seconds_are_read() {
        let bars = parse(
            "time,open,high,low,close,volume\n1514764800000,1,1,1,1,1\n1514851200,1,1,1,1,1\n",
        )
        .unwrap();
        assert_eq!(bars[1].ts.timestamp() - bars[0].ts.timestamp(), 86_400);
    }

    #[test]
    fn a_missing_field_names_line_and_column() {
        let err = parse(
            "timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n2024-01-02,1,,1,1,1\n",
        )
        .unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (3, Some("high")));
        assert!(
            err.to_string()
                .starts_with("test.csv:3: column high: missing value"),
            "{err}"
        );
    }

    #[test]
    fn a_short_row_is_a_missing_field() {
        let err = parse("timestamp,open,high,low,close,volume\n2024-01-01,1,1,1\n").unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (2, Some("close")));
    }

    #[test]
    fn a_non_number_names_line_and_column() {
        let err =
            parse("timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,abc,1\n").unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (2, Some("close")));
        assert!(err.reason.contains("not a decimal number"), "{err}");
    }

    #[test]
    fn high_below_low_is_refused() {
        let err =
            parse("timestamp,open,high,low,close,volume\n2024-01-01,1,1,2,1,1\n").unwrap_err();
        assert_eq!(err.column.as_deref(), Some("high"));
        assert!(err.reason.contains("below low"), "{err}");
    }

    #[test]
    fn a_negative_price_is_refused() {
        let err =
            parse("timestamp,open,high,low,close,volume\n2024-01-01,-1,1,-2,1,1\n").unwrap_err();
        assert_eq!(err.column.as_deref(), Some("open"));
        assert!(err.reason.contains("greater than 0"), "{err}");
    }

    #[test]
    fn a_duplicate_timestamp_names_both_lines() {
        let err = parse(
            "timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n2024-01-01T00:00:00Z,1,1,1,1,1\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.reason.contains("lines 2 and 4"), "{err}");
    }

    #[test]
    fn a_bad_timestamp_is_refused() {
        let err = parse("date,open,high,low,close,volume\nyesterday,1,1,1,1,1\n").unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (2, Some("date")));
    }

    #[test]
    fn a_header_without_prices_is_refused() {
        let err = parse("timestamp,open,high,close\n2024-01-01,1,1,1\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.reason.contains("no low column"), "{err}");
        let err = parse("when,open,high,low,close\n").unwrap_err();
        assert!(err.reason.contains("no time column"), "{err}");
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert!(parse("timestamp,open,high,low,close,volume\n").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn blank_lines_and_a_byte_order_mark_are_tolerated() {
        let bars =
            parse("\u{feff}timestamp,open,high,low,close\n\n2024-01-01,1,1,1,1\n\n").unwrap();
        assert_eq!(bars.len(), 1);
        assert!(bars[0].volume.is_zero());
    }
}
