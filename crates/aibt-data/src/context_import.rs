//! Dated context files: a date column and any text or number columns (a trend label, a
//! sentiment score, a note), as CSV or as an Excel workbook (its first sheet), as the original
//! system accepted them. Dates are `2025-01-01`, `2025/01/01`, `2025年1月1日`, or an Excel
//! date cell; an optional publication column says when an item became known, if not at the
//! end of its day. A file is accepted whole or not at all: a bad date or a date given twice
//! refuses it with its line, before anything is stored.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::error::FileError;
use crate::table::{Field, Table};

/// Header names of the date column, in order of preference.
const DATE_NAMES: &[&str] = &["date", "日期", "day", "time", "timestamp", "datetime"];
/// Header names of the optional publication time column.
const PUBLISHED_NAMES: &[&str] = &["published_at", "published", "publish_time", "发布时间"];

/// One dated item of a context file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextRow {
    /// 1-based line of the file (a sheet's row), the header being line 1.
    pub line: u64,
    pub date: NaiveDate,
    pub published_at: Option<DateTime<Utc>>,
    /// The other columns by their header names: numbers as numbers, text as text, empty cells
    /// as null.
    pub fields: Map<String, Value>,
}

/// Reads a context file, CSV or Excel (told apart by the content, not the name; any
/// delimiter, encoding or title lines a bar file may have), into its items in date order.
/// `file` names the file in errors.
pub fn parse_context(file: &str, bytes: &[u8]) -> Result<Vec<ContextRow>, FileError> {
    let names_a_date = |names: &[String]| {
        names
            .iter()
            .any(|n| DATE_NAMES.contains(&n.trim().to_lowercase().as_str()))
    };
    let table = Table::open(file, bytes, None, &names_a_date)?;
    let mut rows: Vec<(u64, Vec<Cell>)> = Vec::new();
    table.for_each_row(|line, row| {
        rows.push((
            line,
            (0..row.len()).map(|i| Cell::from(row.get(i))).collect(),
        ));
        Ok(())
    })?;
    read_rows(file, table.header_line, &table.header, rows).map_err(|e| table.place(e))
}

/// A field kept past the row it came from.
enum Cell {
    Text(String),
    Number(f64),
    Date(chrono::NaiveDateTime),
    Empty,
}

impl From<Field<'_>> for Cell {
    fn from(field: Field<'_>) -> Cell {
        match field {
            Field::Text(text) => Cell::Text(text.to_string()),
            Field::Number(n) => Cell::Number(n),
            Field::Date(at) => Cell::Date(at),
            Field::Empty => Cell::Empty,
        }
    }
}

fn error(file: &str, line: u64, column: Option<&str>, reason: impl Into<String>) -> FileError {
    FileError::at(file, line, column, reason)
}

/// A date as people write it: ISO (`2025-01-01`, or a date-time, whose day counts), with
/// slashes or dots, or Chinese (`2025年1月1日`).
pub fn parse_context_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Some(rest) = text.strip_suffix('日') {
        let (year, rest) = rest.split_once('年')?;
        let (month, day) = rest.split_once('月')?;
        return NaiveDate::from_ymd_opt(
            year.trim().parse().ok()?,
            month.trim().parse().ok()?,
            day.trim().parse().ok()?,
        );
    }
    for format in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Some(date);
        }
    }
    aibt_core::time::parse_timestamp(text)
        .ok()
        .map(|at| at.date_naive())
}

fn read_rows(
    file: &str,
    header_line: u64,
    names: &[String],
    rows: Vec<(u64, Vec<Cell>)>,
) -> Result<Vec<ContextRow>, FileError> {
    let mut positions: HashMap<String, usize> = HashMap::new();
    for (index, name) in names.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if positions.insert(name.to_lowercase(), index).is_some() {
            return Err(error(
                file,
                header_line,
                None,
                format!("the header names column {name:?} twice"),
            ));
        }
    }
    let find = |candidates: &[&str]| candidates.iter().find_map(|n| positions.get(*n).copied());
    let date_column = find(DATE_NAMES).ok_or_else(|| {
        error(
            file,
            header_line,
            None,
            format!(
                "no date column: the header needs one of {} (found {})",
                DATE_NAMES.join(", "),
                names.join(", ")
            ),
        )
    })?;
    let published_column = find(PUBLISHED_NAMES);
    let date_name = names[date_column].as_str();
    let mut items: Vec<ContextRow> = Vec::new();
    for (line, cells) in rows {
        if cells.iter().all(|c| matches!(c, Cell::Empty)) {
            continue;
        }
        let date = match cells.get(date_column) {
            Some(Cell::Date(at)) => at.date(),
            Some(Cell::Text(text)) => parse_context_date(text).ok_or_else(|| {
                error(
                    file,
                    line,
                    Some(date_name),
                    format!("{text:?} is not a date (2025-01-01 or 2025年1月1日)"),
                )
            })?,
            Some(Cell::Number(n)) => {
                return Err(error(
                    file,
                    line,
                    Some(date_name),
                    format!("{n} is a number, not a date"),
                ));
            }
            Some(Cell::Empty) | None => {
                return Err(error(file, line, Some(date_name), "the date is missing"));
            }
        };
        let published_at = match published_column.and_then(|column| cells.get(column)) {
            None | Some(Cell::Empty) => None,
            Some(Cell::Date(at)) => Some(at.and_utc()),
            Some(Cell::Text(text)) => Some(
                aibt_core::time::parse_timestamp(text)
                    .map_err(|e| error(file, line, Some(PUBLISHED_NAMES[0]), e.to_string()))?,
            ),
            Some(Cell::Number(n)) => {
                return Err(error(
                    file,
                    line,
                    Some(PUBLISHED_NAMES[0]),
                    format!("{n} is a number, not a time"),
                ));
            }
        };
        let mut fields = Map::new();
        for (index, name) in names.iter().enumerate() {
            if index == date_column || Some(index) == published_column || name.is_empty() {
                continue;
            }
            let value = match cells.get(index) {
                None | Some(Cell::Empty) => Value::Null,
                Some(Cell::Number(n)) => {
                    serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
                }
                Some(Cell::Date(at)) => Value::String(at.to_string()),
                Some(Cell::Text(text)) => match text.parse::<f64>() {
                    Ok(n) if n.is_finite() => {
                        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
                    }
                    _ => Value::String(text.clone()),
                },
            };
            fields.insert(name.clone(), value);
        }
        items.push(ContextRow {
            line,
            date,
            published_at,
            fields,
        });
    }
    if items.is_empty() {
        return Err(error(
            file,
            header_line,
            None,
            "the file has a header but no items",
        ));
    }
    items.sort_by_key(|item| item.date);
    for pair in items.windows(2) {
        if pair[0].date == pair[1].date {
            let (first, second) = (
                pair[0].line.min(pair[1].line),
                pair[0].line.max(pair[1].line),
            );
            return Err(error(
                file,
                second,
                Some(date_name),
                format!(
                    "duplicate date {}: lines {first} and {second} are items of the same day",
                    pair[0].date
                ),
            ));
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_csv_is_read_with_its_columns_and_either_date_form() {
        let csv =
            "日期,trend,score,note\n2025年1月2日,up,0.7,\n2025-01-01,down,-0.25,\"rate, cut\"\n";
        let items = parse_context("c.csv", csv.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].date, items[0].line), (day("2025-01-01"), 3));
        assert_eq!(items[0].fields["trend"], "down");
        assert_eq!(items[0].fields["score"], -0.25);
        assert_eq!(items[0].fields["note"], "rate, cut");
        assert_eq!(items[1].date, day("2025-01-02"));
        assert_eq!(items[1].fields["note"], Value::Null);
        assert_eq!(items[1].published_at, None);
    }

    #[test]
    fn a_publication_time_is_kept() {
        let csv = "date,published_at,headline\n2025-01-02,2025-01-02T09:30:00Z,news\n";
        let items = parse_context("c.csv", csv.as_bytes()).unwrap();
        assert_eq!(
            items[0].published_at.map(|t| t.to_rfc3339()),
            Some("2025-01-02T09:30:00+00:00".into())
        );
        assert!(!items[0].fields.contains_key("published_at"));
    }

    #[test]
    fn a_bad_date_or_a_day_given_twice_names_its_line() {
        let bad =
            parse_context("c.csv", b"date,trend\n2025-01-01,up\n2025-13-01,down\n").unwrap_err();
        assert_eq!((bad.line, bad.column.as_deref()), (3, Some("date")));
        assert!(bad.reason.contains("\"2025-13-01\" is not a date"), "{bad}");
        let twice = parse_context(
            "c.csv",
            "date,trend\n2025-01-01,up\n2025年1月1日,down\n".as_bytes(),
        )
        .unwrap_err();
        assert_eq!(twice.line, 3);
        assert!(twice.reason.contains("lines 2 and 3"), "{twice}");
        let none = parse_context("c.csv", b"day_of,trend\n2025-01-01,up\n").unwrap_err();
        assert!(none.reason.contains("no date column"), "{none}");
        let empty = parse_context("c.csv", b"date,trend\n").unwrap_err();
        assert!(empty.reason.contains("no items"), "{empty}");
    }

    #[test]
    fn chinese_and_other_date_forms_are_read() {
        assert_eq!(parse_context_date("2025年1月1日"), Some(day("2025-01-01")));
        assert_eq!(parse_context_date("2025/3/4"), Some(day("2025-03-04")));
        assert_eq!(
            parse_context_date("2025-03-04 15:00"),
            Some(day("2025-03-04"))
        );
        assert_eq!(parse_context_date("2025年2月30日"), None);
        assert_eq!(parse_context_date("yesterday"), None);
    }
}
