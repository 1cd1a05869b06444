//! Reading an Excel workbook (`.xlsx`, or the older `.xls` in a container rebuilt first):
//! everything [`crate::table`] asks calamine, in one place, so that one guard covers it.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Sheets, open_workbook_from_rs};

pub(crate) enum WorkbookError {
    Unreadable(String),
    NoSuchSheet { wanted: String, sheets: Vec<String> },
    NoSheet,
}

/// What calamine read of a workbook.
pub(crate) struct Workbook {
    /// `xlsx` or `xls`.
    pub kind: &'static str,
    pub sheets: Vec<String>,
    /// The sheet read.
    pub name: String,
    pub range: calamine::Range<Data>,
}

/// The workbook's kind, its sheets, the chosen sheet and its cells: everything calamine is
/// asked, in one place, so that one guard covers it.
pub(crate) fn read_workbook(bytes: &[u8], sheet: Option<&str>) -> Result<Workbook, WorkbookError> {
    let unreadable = |e: &dyn std::fmt::Display| WorkbookError::Unreadable(e.to_string());
    // Told apart by their magic numbers, so a broken file's error is its own format's.
    let (mut workbook, kind) = if bytes.starts_with(b"PK") {
        let xlsx =
            open_workbook_from_rs(Cursor::new(Cow::Borrowed(bytes))).map_err(|e| unreadable(&e))?;
        (Sheets::Xlsx(xlsx), "xlsx")
    } else {
        let rebuilt = rebuilt_xls(bytes).map_err(|e| unreadable(&e))?;
        let xls = open_workbook_from_rs(Cursor::new(Cow::<[u8]>::Owned(rebuilt)))
            .map_err(|e| unreadable(&e))?;
        (Sheets::Xls(xls), "xls")
    };
    let sheets = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => sheets
            .iter()
            .find(|s| s.trim() == wanted.trim())
            .cloned()
            .ok_or_else(|| WorkbookError::NoSuchSheet {
                wanted: wanted.to_string(),
                sheets: sheets.clone(),
            })?,
        None => sheets.first().cloned().ok_or(WorkbookError::NoSheet)?,
    };
    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| unreadable(&e))?;
    Ok(Workbook {
        kind,
        sheets,
        name,
        range,
    })
}

/// A legacy workbook's `Workbook` stream in a freshly written container. calamine 0.38 follows
/// the container's sector chains without checking them, and a chain that loops (a 5 KB upload
/// found by the fuzzer) makes it allocate without end; the `cfb` crate refuses such chains,
/// and calamine then reads a container that cfb wrote, whose chains are sound.
fn rebuilt_xls(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::{Read, Write};
    let error = |e: std::io::Error| e.to_string();
    let mut source = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(error)?;
    let stream = ["/Workbook", "/Book"]
        .into_iter()
        .find(|name| source.is_stream(name))
        .ok_or("it has no Workbook stream (not an Excel 97-2003 file)")?;
    let mut data = Vec::new();
    source
        .open_stream(stream)
        .map_err(error)?
        .read_to_end(&mut data)
        .map_err(error)?;
    // Version 3 (512-byte sectors), as Excel writes them: calamine misreads version 4.
    let mut rebuilt =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
            .map_err(error)?;
    rebuilt
        .create_stream(stream)
        .map_err(error)?
        .write_all(&data)
        .map_err(error)?;
    rebuilt.flush().map_err(error)?;
    Ok(rebuilt.into_inner().into_inner())
}
