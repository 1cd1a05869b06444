//! Bar files: any file [`crate::table`] reads (CSV in any usual delimiter and encoding,
//! Excel), its columns found by [`crate::columns`], its times by [`crate::bar_time`]; prices
//! as exact decimals; ascending or descending order. A file is accepted whole or not at all:
//! the first bad row refuses it with the file, line (or sheet and row) and column, before
//! anything is stored.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aibt_core::{Bar, Money, Quantity};

use crate::bar_time::{parse_bar_time, parse_date_and_time};
use crate::columns::{
    Columns, ImportOptions, Role, TimeColumns, holds_mapped_names, looks_like_bar_header, resolve,
};
use crate::error::FileError;
use crate::table::{Field, FileKind, Row, Table};

/// Reads a whole bar file into bars sorted by time. `file` names the file in errors.
///
/// A file without a volume column is read with volume 0 (some FX and index files carry
/// none); every other column must be present on every row.
pub fn parse_bars(
    file: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Vec<Bar>, FileError> {
    let (table, columns) = open(file, bytes, options)?;
    let reader = RowReader::new(&table, &columns);
    let (mut bars, mut lines) = table.read_rows(|line, row| reader.read(line, row))?;
    let located =
        |line: u64, column: Option<&str>, reason: String| table.error(line, column, reason);
    if bars.is_empty() {
        return Err(located(
            table.header_line,
            None,
            "the file has a header but no bars".into(),
        ));
    }
    // Files come newest-first as often as oldest-first: either order is taken as it is (then
    // no two bars share a time); any other is sorted stably, keeping equal timestamps in file
    // order so the duplicate check below can name both lines.
    if bars.windows(2).all(|pair| pair[0].ts > pair[1].ts) {
        bars.reverse();
        lines.reverse();
    } else if !bars.windows(2).all(|pair| pair[0].ts < pair[1].ts) {
        let mut order: Vec<usize> = (0..bars.len()).collect();
        order.sort_by_key(|&i| bars[i].ts);
        bars = order.iter().map(|&i| bars[i]).collect();
        lines = order.iter().map(|&i| lines[i]).collect();
    }
    for (pair, pair_lines) in bars.windows(2).zip(lines.windows(2)) {
        let (first, second) = (&pair[0], &pair[1]);
        let (first_line, second_line) = (pair_lines[0], pair_lines[1]);
        if first.ts == second.ts {
            return Err(located(
                second_line.max(first_line),
                columns.describe(&table.header, Role::Time).as_deref(),
                format!(
                    "duplicate timestamp {}: lines {} and {} are bars at the same time",
                    aibt_core::time::format_timestamp(first.ts),
                    first_line.min(second_line),
                    first_line.max(second_line)
                ),
            ));
        }
    }
    Ok(bars)
}

/// The file opened, its header being the row that holds the mapped columns (or, without a
/// map, the first that names at least two parts of a bar).
fn open_table<'a>(
    file: &str,
    bytes: &'a [u8],
    options: &ImportOptions,
) -> Result<Table<'a>, FileError> {
    let is_header = |names: &[String]| {
        holds_mapped_names(&options.map, names)
            || (options.map.is_empty() && looks_like_bar_header(names))
    };
    Table::open(file, bytes, options.sheet.as_deref(), &is_header)
}

/// The file opened and its columns found.
fn open<'a>(
    file: &str,
    bytes: &'a [u8],
    options: &ImportOptions,
) -> Result<(Table<'a>, Columns), FileError> {
    let table = open_table(file, bytes, options)?;
    let first = table.first_rows(1)?;
    let columns = resolve(&table.header, options, first.first().map(Vec::as_slice))
        .map_err(|reason| table.error(table.header_line, None, reason))?;
    Ok((table, columns))
}

/// What a file looks like before it is imported: how it was read, its first rows, and which
/// column aibt takes for each part of a bar (or why it cannot yet).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilePreview {
    /// How the file was read: `{"format": "csv", "delimiter", "encoding"}` or
    /// `{"format": "excel", "workbook", "sheet", "sheets"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub file: FileKind,
    /// 1-based line (or row) of the header; lines before it are titles.
    pub header_line: u64,
    pub columns: Vec<String>,
    /// The first rows after the header, as text.
    pub rows: Vec<Vec<String>>,
    /// The column taken for each of time, open, high, low, close, volume (`日期+时间` for a
    /// date and a time-of-day column); absent when none was found.
    pub mapping: BTreeMap<String, String>,
    /// The adjusted close column, when the file has one beside its close.
    pub adjusted_close: Option<String>,
    /// Why an import with these options would be refused at the header (a missing column, two
    /// closes to choose from); absent when it would go on to read the rows.
    pub problem: Option<String>,
}

/// Rows a preview shows.
pub const PREVIEW_ROWS: usize = 5;

/// Reads the start of a bar file as an import with `options` would.
pub fn preview_bars(
    file: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<FilePreview, FileError> {
    let table = open_table(file, bytes, options)?;
    let rows = table.first_rows(PREVIEW_ROWS)?;
    if rows.is_empty() {
        // As an import would refuse it: there is nothing to show how it reads.
        return Err(table.error(
            table.header_line,
            None,
            "the file has a header but no rows after it",
        ));
    }
    let adjusted_close = table
        .header
        .iter()
        .find(|name| crate::columns::is_adjusted_close(name))
        .cloned();
    let mut mapping = BTreeMap::new();
    let problem = match resolve(&table.header, options, rows.first().map(Vec::as_slice)) {
        Ok(columns) => {
            for role in Role::ALL {
                if let Some(column) = columns.describe(&table.header, role) {
                    mapping.insert(role.name().to_string(), column);
                }
            }
            None
        }
        Err(reason) => {
            // Show what was found so the person maps only the rest.
            mapping = crate::columns::found_so_far(
                &table.header,
                options,
                rows.first().map(Vec::as_slice),
            );
            Some(reason)
        }
    };
    Ok(FilePreview {
        file: table.kind.clone(),
        header_line: table.header_line,
        columns: table.header.clone(),
        rows,
        mapping,
        adjusted_close,
        problem,
    })
}

/// Reads rows with the columns found, reusing what every row shares.
struct RowReader<'t> {
    table: &'t Table<'t>,
    columns: &'t Columns,
    /// A semicolon or tab file may write decimals with a comma (`1,5`), as European exports do.
    decimal_comma: bool,
}

impl<'t> RowReader<'t> {
    fn new(table: &'t Table<'t>, columns: &'t Columns) -> RowReader<'t> {
        let decimal_comma =
            matches!(&table.kind, FileKind::Csv { delimiter, .. } if delimiter != ",");
        RowReader {
            table,
            columns,
            decimal_comma,
        }
    }

    fn error(&self, line: u64, column: usize, reason: String) -> FileError {
        let name = self.table.header.get(column).map(String::as_str);
        self.table.error(line, name, reason)
    }

    fn field<'r>(&self, line: u64, row: Row<'r>, column: usize) -> Result<Cow<'r, str>, FileError> {
        match row.get(column) {
            field if field.is_empty() => Err(self.error(line, column, "missing value".into())),
            field => Ok(field.text()),
        }
    }

    fn number(&self, line: u64, row: Row<'_>, column: usize) -> Result<Money, FileError> {
        let text = self.field(line, row, column)?;
        let text = if self.decimal_comma && text.contains(',') && !text.contains('.') {
            Cow::Owned(text.replace(',', "."))
        } else {
            text
        };
        Money::parse(&text).map_err(|e| self.error(line, column, e.to_string()))
    }

    fn time(&self, line: u64, row: Row<'_>) -> Result<chrono::DateTime<chrono::Utc>, FileError> {
        match self.columns.time {
            TimeColumns::One(column) => match row.get(column) {
                Field::Date(at) => Ok(at.and_utc()),
                _ => {
                    let text = self.field(line, row, column)?;
                    parse_bar_time(&text).map_err(|e| self.error(line, column, e.to_string()))
                }
            },
            TimeColumns::DateAndTime(date, time) => {
                let day = self.field(line, row, date)?;
                let at = self.field(line, row, time)?;
                parse_date_and_time(&day, &at).map_err(|reason| self.error(line, time, reason))
            }
        }
    }

    fn read(&self, line: u64, row: Row<'_>) -> Result<Bar, FileError> {
        let ts = self.time(line, row)?;
        let mut prices = [Money::ZERO; 4];
        for (price, &column) in prices.iter_mut().zip(&self.columns.prices) {
            *price = self.number(line, row, column)?;
        }
        let [open, high, low, close] = prices;
        let volume = match self.columns.volume {
            Some(column) => {
                let text = self.field(line, row, column)?;
                Quantity::parse(&text).map_err(|e| self.error(line, column, e.to_string()))?
            }
            None => Quantity::ZERO,
        };
        let column_of = |field: &str, close: usize| match field {
            "open" => self.columns.prices[0],
            "high" => self.columns.prices[1],
            "low" => self.columns.prices[2],
            "close" => close,
            _ => self.columns.volume.unwrap_or(close),
        };
        let bar = Bar::new(ts, open, high, low, close, volume)
            .map_err(|e| self.error(line, column_of(e.field, self.columns.prices[3]), e.reason))?;
        match self.columns.adjusted_close {
            Some(adjusted) => bar
                .adjusted(self.number(line, row, adjusted)?)
                .map_err(|e| self.error(line, column_of(e.field, adjusted), e.reason)),
            None => Ok(bar),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::{CloseChoice, ColumnMap};

    fn parse(text: &str) -> Result<Vec<Bar>, FileError> {
        parse_bars("test.csv", text.as_bytes(), &ImportOptions::default())
    }

    #[test]
    fn headers_match_case_insensitively_and_extra_columns_are_ignored() {
        let bars =
            parse("Date,Open,HIGH,low,Close,Turnover,Volume\n2024-01-02,1,2,0.5,1.5,9,100\n")
                .unwrap();
        assert_eq!(bars.len(), 1);
        assert_eq!(bars[0].close.to_string(), "1.50000000");
        assert_eq!(bars[0].volume.to_string(), "100.00000000");
    }

    fn parse_with(text: &[u8], options: &ImportOptions) -> Result<Vec<Bar>, FileError> {
        parse_bars("test.csv", text, options)
    }

    #[test]
    fn an_adjusted_close_is_used_only_when_chosen_and_scales_the_bar() {
        let file = b"Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,8,10,5,100\n";
        let err = parse_with(file, &ImportOptions::default()).unwrap_err();
        assert!(err.reason.contains("two closes"), "{err}");
        let raw = ImportOptions {
            close: Some(CloseChoice::Raw),
            ..ImportOptions::default()
        };
        assert_eq!(
            parse_with(file, &raw).unwrap()[0].close.to_string(),
            "10.00000000"
        );
        let adjusted = ImportOptions {
            close: Some(CloseChoice::Adjusted),
            ..ImportOptions::default()
        };
        let bar = &parse_with(file, &adjusted).unwrap()[0];
        let prices: Vec<String> = [bar.open, bar.high, bar.low, bar.close]
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            prices,
            ["5.00000000", "6.00000000", "4.00000000", "5.00000000"]
        );
        assert_eq!(bar.volume.to_string(), "100.00000000");
    }

    #[test]
    fn a_chinese_export_in_gbk_with_a_title_line_is_read() {
        let text = "平安银行(000001) 日线 前复权\n日期\t开盘\t最高\t最低\t收盘\t成交量(手)\n2024/01/03\t9.2\t9.3\t9.1\t9.25\t1200\n2024/01/02\t9.39\t9.42\t9.21\t9.21\t1158366\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let bars = parse_with(&gbk, &ImportOptions::default()).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(
            aibt_core::time::format_timestamp(bars[0].ts),
            "2024-01-02T00:00:00Z"
        );
        assert_eq!(bars[0].open.to_string(), "9.39000000");
        let bad = "日期,开盘,最高,最低,收盘\n2024-01-02,9.39,9.42,9.21,abc\n";
        let err = parse_with(bad.as_bytes(), &ImportOptions::default()).unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (2, Some("收盘")));
    }

    #[test]
    fn a_semicolon_file_may_write_decimal_commas() {
        let bars =
            parse("Date;Open;High;Low;Close;Volume\r\n02.01.2024;1,5;2;1;1,75;10\r\n").map(|_| ());
        // 02.01.2024 is day first: not a form aibt guesses at.
        assert!(bars.is_err());
        let bars =
            parse("Date;Open;High;Low;Close;Volume\r\n2024.01.02;1,5;2;1;1,75;10\r\n").unwrap();
        assert_eq!(bars[0].close.to_string(), "1.75000000");
    }

    #[test]
    fn a_date_and_a_time_column_make_one_time() {
        let bars = parse("Date,Time,Open,High,Low,Close,Volume\n2024.01.02,09:35,1,1,1,1,1\n2024.01.02,09:36,1,1,1,1,1\n").unwrap();
        assert_eq!(
            aibt_core::time::format_timestamp(bars[1].ts),
            "2024-01-02T09:36:00Z"
        );
    }

    #[test]
    fn a_map_reads_unknown_headers_and_lines_stay_right_after_crlf() {
        let file = b"d,o,h,l,c,v\r\n2024-01-02,1,1,1,1,1\r\n2024-01-03,1,1,2,1,1\r\n";
        let err = parse_with(file, &ImportOptions::default()).unwrap_err();
        assert!(
            err.reason
                .starts_with("no time column: the header has d, o, h, l, c, v"),
            "{err}"
        );
        let options = ImportOptions {
            map: ColumnMap::parse("time=d,open=o,high=h,low=l,close=c,volume=v").unwrap(),
            ..ImportOptions::default()
        };
        let err = parse_with(file, &options).unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (3, Some("h")), "{err}");
    }

    #[test]
    fn a_preview_shows_what_was_found_and_what_is_missing() {
        let file =
            "说明\n日期,开盘,最高,最低,收盘,成交量\n2024-01-02,9.39,9.42,9.21,9.21,1158366\n";
        let preview = preview_bars("p.csv", file.as_bytes(), &ImportOptions::default()).unwrap();
        assert_eq!(preview.header_line, 2);
        assert_eq!(preview.mapping["time"], "日期");
        assert_eq!(preview.mapping["volume"], "成交量");
        assert_eq!(preview.rows.len(), 1);
        assert_eq!(preview.problem, None);
        let unknown = preview_bars(
            "p.csv",
            b"day,o,h,l,close\n2024-01-02,1,1,1,1\n",
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!(
            unknown.mapping.get("close").map(String::as_str),
            Some("close")
        );
        assert!(unknown.problem.unwrap().starts_with("no time column"));
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
    fn newest_first_files_are_reversed_and_their_duplicates_named() {
        let bars = parse(
            "timestamp,open,high,low,close,volume\n2024-01-03,3,3,3,3,1\n2024-01-02,2,2,2,2,1\n2024-01-01,1,1,1,1,1\n",
        )
        .unwrap();
        let closes: Vec<String> = bars.iter().map(|b| b.close.to_string()).collect();
        assert_eq!(closes, ["1.00000000", "2.00000000", "3.00000000"]);
        let err = parse(
            "timestamp,open,high,low,close,volume\n2024-01-03,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.reason.contains("lines 3 and 4"), "{err}");
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
