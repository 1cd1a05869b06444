//! The one error of every file aibt reads, pointing at what to fix.

/// Why a file was refused, pointing at the line (or sheet and row) and column to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    pub file: String,
    /// A workbook's sheet, when the file is one.
    pub sheet: Option<String>,
    /// 1-based line of the file, or row of the sheet.
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl FileError {
    pub fn at(file: &str, line: u64, column: Option<&str>, reason: impl Into<String>) -> FileError {
        FileError {
            file: file.to_string(),
            sheet: None,
            line,
            column: column.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// The same error, placed in a workbook's sheet.
    pub fn in_sheet(mut self, sheet: &str) -> FileError {
        self.sheet = Some(sheet.to_string());
        self
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sheet {
            Some(sheet) => write!(f, "{}: sheet {sheet}, row {}", self.file, self.line)?,
            None => write!(f, "{}:{}", self.file, self.line)?,
        }
        if let Some(column) = &self.column {
            write!(f, ": column {column}")?;
        }
        write!(f, ": {}", self.reason)
    }
}
