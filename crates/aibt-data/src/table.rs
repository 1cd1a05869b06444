//! A file of rows as people export them: CSV with a comma, semicolon, tab or bar between
//! fields, in UTF-8 (with or without a byte order mark), UTF-16 or GBK as Chinese exports
//! often are, or an Excel workbook (`.xlsx` or the older `.xls`); the header may follow a
//! title line or two. Both bar files and context files are read through here, so every file
//! aibt accepts is found, decoded and pointed at (sheet, row, column) the same way.

use std::borrow::Cow;

use calamine::Data;
use chrono::NaiveDateTime;

use crate::error::FileError;
use crate::workbook::{Workbook, WorkbookError, read_workbook};

/// One field of a row, as the file gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    Text(&'a str),
    /// An Excel number cell.
    Number(f64),
    /// An Excel date cell.
    Date(NaiveDateTime),
    Empty,
}

impl<'a> Field<'a> {
    /// The field as text: a number in its shortest exact form, a date as ISO 8601.
    pub fn text(self) -> Cow<'a, str> {
        match self {
            Field::Text(text) => Cow::Borrowed(text),
            Field::Number(n) => Cow::Owned(format_number(n)),
            Field::Date(at) => Cow::Owned(format_date_cell(at)),
            Field::Empty => Cow::Borrowed(""),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Field::Empty) || matches!(self, Field::Text(t) if t.is_empty())
    }
}

/// Whole numbers print without a fraction (Excel keeps volumes as floats).
fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// A date cell at midnight is a date; otherwise a date and time.
fn format_date_cell(at: NaiveDateTime) -> String {
    if at.time() == chrono::NaiveTime::MIN {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// One row after the header, read field by field where it lies (a bar file of a million rows
/// is read without a copy of each row).
#[derive(Debug, Clone, Copy)]
pub enum Row<'r> {
    Csv(&'r csv::StringRecord),
    Excel(&'r [Data]),
}

impl<'r> Row<'r> {
    pub fn len(&self) -> usize {
        match self {
            Row::Csv(record) => record.len(),
            Row::Excel(cells) => cells.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field at `index`; `Empty` past the row's end.
    pub fn get(&self, index: usize) -> Field<'r> {
        match self {
            Row::Csv(record) => match record.get(index) {
                None | Some("") => Field::Empty,
                Some(text) => Field::Text(text),
            },
            Row::Excel(cells) => cells.get(index).map_or(Field::Empty, excel_field),
        }
    }

    /// Whether no field is filled (a blank line, an empty sheet row).
    fn is_blank(&self) -> bool {
        (0..self.len()).all(|index| self.get(index).is_empty())
    }

    /// Every field as text.
    pub fn texts(&self) -> Vec<String> {
        (0..self.len())
            .map(|index| self.get(index).text().into_owned())
            .collect()
    }
}

/// How the file was read, as a preview shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum FileKind {
    Csv {
        /// `,`, `;`, `\t` or `|`.
        delimiter: String,
        /// `UTF-8`, `UTF-8 (BOM)`, `UTF-16LE`, `UTF-16BE` or `GBK`.
        encoding: String,
    },
    Excel {
        /// `xlsx` or `xls`.
        workbook: String,
        sheet: String,
        sheets: Vec<String>,
    },
}

/// Decides which early row is the header: `true` for a row that names the columns a reader
/// needs. Rows before it are titles and are skipped.
pub type HeaderTest<'a> = &'a dyn Fn(&[String]) -> bool;

/// Rows read before the header is chosen: titles are rarely more than a few lines.
const HEADER_SEARCH_ROWS: usize = 10;
/// Rows sampled to tell the delimiter.
const DELIMITER_SAMPLE_ROWS: usize = 30;
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// An opened file: its rows after the header, read on demand.
pub struct Table<'a> {
    pub file: String,
    pub kind: FileKind,
    /// 1-based line (a sheet's row) of the header.
    pub header_line: u64,
    /// The header's names, trimmed.
    pub header: Vec<String>,
    body: Body<'a>,
}

enum Body<'a> {
    Csv {
        text: Cow<'a, str>,
        delimiter: u8,
    },
    Excel {
        first_row: u64,
        rows: Vec<Vec<Data>>,
    },
}

impl<'a> Table<'a> {
    /// Opens `bytes` (Excel told apart from text by its content, not its name), decodes it,
    /// and finds the header: the first of the early rows that `is_header` accepts, else the
    /// first row that looks like one (as many fields as the data, none of them a number).
    /// `sheet` picks a workbook's sheet by name; the first sheet otherwise.
    pub fn open(
        file: &str,
        bytes: &'a [u8],
        sheet: Option<&str>,
        is_header: HeaderTest<'_>,
    ) -> Result<Table<'a>, FileError> {
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0") {
            return open_excel(file, bytes, sheet, is_header);
        }
        if let Some(sheet) = sheet {
            return Err(FileError::at(
                file,
                1,
                None,
                format!("a sheet ({sheet:?}) was named, but the file is text, not a workbook"),
            ));
        }
        let (text, encoding) = decode(file, bytes)?;
        let delimiter = detect_delimiter(&text);
        let early = read_early_records(&text, delimiter, HEADER_SEARCH_ROWS);
        let (header_line, header) = choose_header(&early, is_header)
            .ok_or_else(|| FileError::at(file, 1, None, "the file is empty"))?;
        Ok(Table {
            file: file.to_string(),
            kind: FileKind::Csv {
                delimiter: (delimiter as char).to_string(),
                encoding: encoding.to_string(),
            },
            header_line,
            header,
            body: Body::Csv { text, delimiter },
        })
    }

    /// Calls `visit` with each row after the header (its 1-based line and fields), skipping
    /// rows with no field filled; stops at the first error either gives.
    pub fn for_each_row(
        &self,
        visit: impl FnMut(u64, Row<'_>) -> Result<(), FileError>,
    ) -> Result<(), FileError> {
        self.walk(usize::MAX, visit)
    }

    /// At least as many as the rows after the header, to size what holds them: the lines of a
    /// text file (a quoted field may span several), the rows of a sheet.
    fn rows_at_most(&self) -> usize {
        match &self.body {
            Body::Csv { text, .. } => text.bytes().filter(|&b| b == b'\n').count() + 1,
            Body::Excel { rows, .. } => rows.len(),
        }
    }

    /// The first `count` rows after the header, as text (a preview's table).
    pub fn first_rows(&self, count: usize) -> Result<Vec<Vec<String>>, FileError> {
        let mut rows = Vec::new();
        self.walk(count, |_, row| {
            rows.push(row.texts());
            Ok(())
        })?;
        Ok(rows)
    }

    /// `read` of every row after the header with its line, in file order; the first error
    /// in file order refuses the file. The rows are held in vectors sized once (a long minute
    /// file's are tens of megabytes, which growth by doubling would write again and again).
    /// Text with no quote character has one row per line, so a large one is read in two
    /// halves split at a line end, the second on another thread.
    pub fn read_rows<T: Send>(
        &self,
        read: impl Fn(u64, Row<'_>) -> Result<T, FileError> + Sync,
    ) -> Result<(Vec<T>, Vec<u64>), FileError> {
        // `part`: a stretch of the text and its first line; the whole table when absent.
        let collect = |capacity: usize, part: Option<(&str, u64)>| {
            let (mut items, mut lines) = (Vec::with_capacity(capacity), Vec::new());
            lines.reserve(capacity);
            let visit = |line, row: Row<'_>| {
                items.push(read(line, row)?);
                lines.push(line);
                Ok(())
            };
            match part {
                Some((text, first_line)) => self.walk_text(text, first_line, usize::MAX, visit)?,
                None => self.walk(usize::MAX, visit)?,
            }
            Ok::<_, FileError>((items, lines))
        };
        let rows = self.rows_at_most();
        let halves = match &self.body {
            Body::Csv { text, .. } => split_in_two(text),
            Body::Excel { .. } => None,
        };
        let Some((first, second)) = halves else {
            return collect(rows, None);
        };
        let second_line = 1 + first.bytes().filter(|&b| b == b'\n').count() as u64;
        let second_rows = second.bytes().filter(|&b| b == b'\n').count() + 1;
        let (first_rows, later) = std::thread::scope(|scope| {
            let later = scope.spawn(|| collect(second_rows, Some((second, second_line))));
            (collect(rows, Some((first, 1))), later.join())
        });
        let (mut items, mut lines) = first_rows?;
        let (later_items, later_lines) = later.map_err(|_| {
            FileError::at(
                &self.file,
                second_line,
                None,
                "the thread reading from here failed",
            )
        })??;
        items.extend(later_items);
        lines.extend(later_lines);
        Ok((items, lines))
    }

    fn walk(
        &self,
        limit: usize,
        visit: impl FnMut(u64, Row<'_>) -> Result<(), FileError>,
    ) -> Result<(), FileError> {
        match &self.body {
            Body::Csv { text, .. } => self.walk_text(text, 1, limit, visit),
            Body::Excel { first_row, rows } => {
                let mut visit = visit;
                let mut visited = 0;
                for (index, cells) in rows.iter().enumerate() {
                    let line = first_row + index as u64;
                    if line <= self.header_line {
                        continue;
                    }
                    if visited >= limit {
                        break;
                    }
                    let row = Row::Excel(cells);
                    if row.is_blank() {
                        continue;
                    }
                    visit(line, row).map_err(|e| self.place(e))?;
                    visited += 1;
                }
                Ok(())
            }
        }
    }

    /// The rows of `text`, this text file's lines from `first_line` on.
    fn walk_text(
        &self,
        text: &str,
        first_line: u64,
        limit: usize,
        mut visit: impl FnMut(u64, Row<'_>) -> Result<(), FileError>,
    ) -> Result<(), FileError> {
        let Body::Csv { delimiter, .. } = &self.body else {
            return Ok(());
        };
        let mut visited = 0;
        let mut reader = csv_reader(text.as_bytes(), *delimiter);
        let mut lines = LineCounter::new(text.as_bytes(), first_line);
        let mut record = csv::StringRecord::new();
        while visited < limit {
            let more = reader.read_record(&mut record).map_err(|e| {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                FileError::at(&self.file, line, None, format!("unreadable row: {e}"))
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
            if line <= self.header_line || record.iter().all(str::is_empty) {
                continue;
            }
            visit(line, Row::Csv(&record))?;
            visited += 1;
        }
        Ok(())
    }

    /// An error of this file at `line` (a sheet's row, for a workbook).
    pub fn error(&self, line: u64, column: Option<&str>, reason: impl Into<String>) -> FileError {
        self.place(FileError::at(&self.file, line, column, reason))
    }

    /// `error` placed in this workbook's sheet (unchanged for a text file).
    pub fn place(&self, error: FileError) -> FileError {
        match self.sheet() {
            Some(sheet) => error.in_sheet(sheet),
            None => error,
        }
    }

    /// Whether errors should say "sheet S, row N" rather than "line N".
    pub fn sheet(&self) -> Option<&str> {
        match &self.kind {
            FileKind::Excel { sheet, .. } => Some(sheet),
            FileKind::Csv { .. } => None,
        }
    }
}

fn csv_reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(bytes)
}

/// Text at least a few megabytes long with no quote character, split in two at the line end
/// nearest its middle; `None` for any other.
fn split_in_two(text: &str) -> Option<(&str, &str)> {
    const WORTH_A_THREAD: usize = 4 << 20;
    if text.len() < WORTH_A_THREAD || text.contains('"') {
        return None;
    }
    let end = text[text.len() / 2..].find('\n')? + text.len() / 2 + 1;
    (end < text.len()).then(|| text.split_at(end))
}

/// The 1-based line of a record from its start byte. The csv crate's own line numbers lag
/// behind after a `\r\n` or a blank line (a record's start may sit on the line break before
/// it), so lines are counted here, once over the text, from the first byte of the record.
struct LineCounter<'t> {
    text: &'t [u8],
    counted_to: usize,
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t [u8], first_line: u64) -> LineCounter<'t> {
        LineCounter {
            text,
            counted_to: 0,
            line: first_line,
        }
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.counted_to {
            let newlines = self.text[self.counted_to..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.counted_to = start;
        }
        self.line
    }
}

/// UTF-8 (a byte order mark dropped), UTF-16 by its byte order mark, else GBK: what Chinese
/// exports (Excel's "CSV" on a Chinese Windows, 通达信, 同花顺) write. GB18030 decodes GBK and
/// refuses bytes that are neither, so a binary file is not read as text.
fn decode<'a>(file: &str, bytes: &'a [u8]) -> Result<(Cow<'a, str>, &'static str), FileError> {
    if let Some((encoding, bom_length)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, malformed) = encoding.decode_without_bom_handling(&bytes[bom_length..]);
        if !malformed {
            let name = match encoding.name() {
                "UTF-8" => "UTF-8 (BOM)",
                other => other,
            };
            return Ok((text, name));
        }
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(text), "UTF-8"));
    } else {
        let (text, malformed) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
        if !malformed {
            return Ok((text, "GBK"));
        }
    }
    Err(FileError::at(
        file,
        1,
        None,
        "the file is neither UTF-8 nor GBK text, nor an Excel workbook: save it as CSV (UTF-8) or .xlsx",
    ))
}

/// The delimiter that splits the sampled rows most consistently into more than one field;
/// ties go to the comma, then `;`, tab and `|` in that order.
fn detect_delimiter(text: &str) -> u8 {
    let mut best = (0usize, 0usize, b',');
    for delimiter in DELIMITERS {
        let counts: Vec<usize> = read_early_records(text, delimiter, DELIMITER_SAMPLE_ROWS)
            .into_iter()
            .map(|(_, fields)| fields.len())
            .collect();
        let Some(mode) = mode_of(&counts).filter(|&m| m > 1) else {
            continue;
        };
        let consistent = counts.iter().filter(|&&c| c == mode).count();
        if (consistent, mode) > (best.0, best.1) {
            best = (consistent, mode, delimiter);
        }
    }
    best.2
}

/// The most frequent value; the larger one on a tie.
fn mode_of(values: &[usize]) -> Option<usize> {
    let mut counted: Vec<(usize, usize)> = Vec::new();
    for &value in values {
        match counted.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => counted.push((value, 1)),
        }
    }
    counted
        .into_iter()
        .max_by_key(|&(value, n)| (n, value))
        .map(|(value, _)| value)
}

fn read_early_records(text: &str, delimiter: u8, count: usize) -> Vec<(u64, Vec<String>)> {
    let mut reader = csv_reader(text.as_bytes(), delimiter);
    let mut lines = LineCounter::new(text.as_bytes(), 1);
    let mut rows = Vec::new();
    for record in reader.records() {
        let Ok(record) = record else { break };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        rows.push((line, record.iter().map(str::to_string).collect()));
        if rows.len() >= count {
            break;
        }
    }
    rows
}

/// The header among the early rows (see [`Table::open`]).
fn choose_header(
    rows: &[(u64, Vec<String>)],
    is_header: HeaderTest<'_>,
) -> Option<(u64, Vec<String>)> {
    let clean = |fields: &[String]| -> Vec<String> {
        fields
            .iter()
            .map(|name| {
                name.trim()
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_string()
            })
            .collect()
    };
    if let Some((line, fields)) = rows.iter().find(|(_, fields)| is_header(&clean(fields))) {
        return Some((*line, clean(fields)));
    }
    let counts: Vec<usize> = rows.iter().map(|(_, f)| f.len()).collect();
    let mode = mode_of(&counts)?;
    let looks_like_names = |fields: &[String]| {
        let filled: Vec<&String> = fields.iter().filter(|f| !f.trim().is_empty()).collect();
        filled.len() * 2 >= fields.len() && filled.iter().all(|f| f.trim().parse::<f64>().is_err())
    };
    rows.iter()
        .find(|(_, fields)| fields.len() == mode && looks_like_names(fields))
        .or(rows.first())
        .map(|(line, fields)| (*line, clean(fields)))
}

fn open_excel<'a>(
    file: &str,
    bytes: &'a [u8],
    sheet: Option<&str>,
    is_header: HeaderTest<'_>,
) -> Result<Table<'a>, FileError> {
    let unreadable = |reason: String| {
        FileError::at(
            file,
            1,
            None,
            format!("not a readable Excel workbook: {reason}"),
        )
    };
    // calamine 0.38 indexes past the end of some malformed .xls files (cfb.rs, a sector that
    // starts beyond the file) instead of returning its error; a broken upload must be refused,
    // not end the process, so its panic is taken as the file's fault.
    let read =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_workbook(bytes, sheet)))
            .map_err(|_| unreadable("its structure points past its own end".into()))?;
    let Workbook {
        kind: workbook_kind,
        sheets,
        name,
        range,
    } = match read {
        Ok(read) => read,
        Err(WorkbookError::Unreadable(reason)) => return Err(unreadable(reason)),
        Err(WorkbookError::NoSuchSheet { wanted, sheets }) => {
            return Err(FileError::at(
                file,
                1,
                None,
                format!(
                    "the workbook has no sheet {wanted:?} (it has {})",
                    sheets.join(", ")
                ),
            ));
        }
        Err(WorkbookError::NoSheet) => {
            return Err(FileError::at(file, 1, None, "the workbook has no sheet"));
        }
    };
    let first_row = range.start().map_or(0, |(row, _)| u64::from(row)) + 1;
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    let early: Vec<(u64, Vec<String>)> = rows
        .iter()
        .enumerate()
        .map(|(index, cells)| (first_row + index as u64, Row::Excel(cells).texts()))
        .filter(|(_, texts): &(u64, Vec<String>)| texts.iter().any(|t| !t.is_empty()))
        .take(HEADER_SEARCH_ROWS)
        .collect();
    let (header_line, header) = choose_header(&early, is_header).ok_or_else(|| {
        FileError::at(file, 1, None, format!("the sheet {name:?} is empty")).in_sheet(&name)
    })?;
    Ok(Table {
        file: file.to_string(),
        kind: FileKind::Excel {
            workbook: workbook_kind.to_string(),
            sheet: name,
            sheets,
        },
        header_line,
        header,
        body: Body::Excel { first_row, rows },
    })
}

fn excel_field(cell: &Data) -> Field<'_> {
    match cell {
        Data::Empty | Data::Error(_) => Field::Empty,
        Data::Int(n) => Field::Number(*n as f64),
        Data::Float(f) => Field::Number(*f),
        Data::Bool(b) => Field::Text(if *b { "true" } else { "false" }),
        Data::DateTime(at) => at.as_datetime().map_or(Field::Empty, Field::Date),
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => {
            match text.trim() {
                "" => Field::Empty,
                text => Field::Text(text),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &[String]) -> bool {
        false
    }

    fn open(bytes: &[u8]) -> Table<'_> {
        Table::open("t.csv", bytes, None, &never).unwrap()
    }

    /// A text file long enough to be read in two halves: a header, then `count` rows of
    /// `i,x` (line `i + 2`), with `bad` rows holding a non-number.
    fn long_file(count: u64, bad: &[u64]) -> String {
        let mut text = String::from("index,value\r\n");
        for i in 0..count {
            let value = if bad.contains(&i) {
                "oops"
            } else {
                "12345678.12345678"
            };
            text.push_str(&format!("{i},{value}\r\n"));
        }
        text
    }

    fn read_long(table: &Table<'_>) -> Result<(Vec<u64>, Vec<u64>), FileError> {
        table.read_rows(|line, row| {
            let value = row.get(1).text();
            if value.parse::<f64>().is_err() {
                return Err(FileError::at("t.csv", line, Some("value"), "not a number"));
            }
            Ok(row.get(0).text().parse::<u64>().unwrap_or(u64::MAX))
        })
    }

    #[test]
    fn a_long_file_read_in_halves_keeps_every_row_and_line_in_order() {
        let count = 200_000;
        let text = long_file(count, &[]);
        assert!(split_in_two(&text).is_some(), "long enough to split");
        let table = open(text.as_bytes());
        let (indexes, lines) = read_long(&table).expect("rows");
        assert_eq!(indexes, (0..count).collect::<Vec<_>>());
        assert_eq!(lines, (2..count + 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_long_file_is_refused_at_its_first_bad_row_in_either_half() {
        let count = 200_000;
        for bad in [vec![150_000], vec![10, 150_000], vec![count - 1]] {
            let text = long_file(count, &bad);
            let table = open(text.as_bytes());
            let error = read_long(&table).expect_err("a bad row");
            assert_eq!(error.line, bad[0] + 2, "bad rows {bad:?}");
        }
    }

    #[test]
    fn quoted_text_is_read_whole() {
        let mut text = long_file(200_000, &[]);
        text.push_str("\"200000\",\"1\"\r\n");
        assert!(split_in_two(&text).is_none());
        let (indexes, _) = read_long(&open(text.as_bytes())).expect("rows");
        assert_eq!(indexes.len(), 200_001);
    }

    fn rows(table: &Table<'_>) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        table
            .for_each_row(|line, row| {
                out.push((line, row.texts()));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn each_delimiter_is_told_from_the_rows() {
        for (delimiter, shown) in [(",", ","), (";", ";"), ("\t", "\t"), ("|", "|")] {
            let text = format!("a{delimiter}b{delimiter}c\n1{delimiter}2{delimiter}3\n");
            let table = open(text.as_bytes());
            assert_eq!(table.header, ["a", "b", "c"], "{shown:?}");
            assert!(matches!(&table.kind, FileKind::Csv { delimiter, .. } if delimiter == shown));
            assert_eq!(
                rows(&table),
                [(2, vec!["1".into(), "2".into(), "3".into()])]
            );
        }
    }

    #[test]
    fn decimal_commas_inside_semicolon_rows_stay_in_their_field() {
        let table = open(b"date;open;close\n2024-01-02;1,5;2,5\n2024-01-03;1,25;2\n");
        assert_eq!(table.header, ["date", "open", "close"]);
        assert_eq!(rows(&table)[0].1, ["2024-01-02", "1,5", "2,5"]);
    }

    #[test]
    fn title_lines_before_the_header_are_skipped() {
        let table =
            open("平安银行 (000001) 日线\n\n日期,开盘,收盘\n2024-01-02,9.39,9.21\n".as_bytes());
        assert_eq!((table.header_line, table.header.len()), (3, 3));
        assert_eq!(rows(&table)[0].0, 4);
        let titled = open(b"Exported 2024-01-03,,\ndate,open,close\n2024-01-02,1,2\n");
        assert_eq!(titled.header, ["date", "open", "close"]);
    }

    #[test]
    fn the_header_test_picks_the_header_first() {
        let names_close = |names: &[String]| names.iter().any(|n| n == "close");
        let table = Table::open("t.csv", b"x,y\nclose,z\n1,2\n", None, &names_close).unwrap();
        assert_eq!(table.header_line, 2);
    }

    #[test]
    fn encodings_are_decoded() {
        let text = "日期,收盘\n2024-01-02,9.21\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let table = open(&gbk);
        assert_eq!(table.header, ["日期", "收盘"]);
        assert!(matches!(&table.kind, FileKind::Csv { encoding, .. } if encoding == "GBK"));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let table = open(&bom);
        assert_eq!(table.header[0], "日期");
        assert!(matches!(&table.kind, FileKind::Csv { encoding, .. } if encoding == "UTF-8 (BOM)"));
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "日期\t收盘\n2024-01-02\t9.21\n".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let table = open(&utf16);
        assert_eq!(table.header, ["日期", "收盘"]);
        assert_eq!(rows(&table)[0].1, ["2024-01-02", "9.21"]);
    }

    #[test]
    fn bytes_that_are_no_text_are_refused() {
        let err = Table::open("t.bin", &[0x81, 0x20, 0xFF, 0xFF, 0x00, 0x81], None, &never)
            .err()
            .unwrap();
        assert!(err.reason.contains("neither UTF-8 nor GBK"), "{err}");
    }

    #[test]
    fn a_sheet_named_for_a_text_file_is_refused() {
        let err = Table::open("t.csv", b"a,b\n1,2\n", Some("Sheet1"), &never)
            .err()
            .unwrap();
        assert!(err.reason.contains("not a workbook"), "{err}");
    }

    #[test]
    fn excel_numbers_print_as_people_typed_them() {
        assert_eq!(Field::Number(9.39).text(), "9.39");
        assert_eq!(Field::Number(1200.0).text(), "1200");
        let at = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(Field::Date(at).text(), "2024-01-02");
    }
}
