//! Market data for aibt: reading bar files as people have them (CSV in any usual delimiter and
//! encoding, Excel) into validated bars, dated context files, turning a series into a coarser
//! one, and the real series bundled inside the binary so that a fresh install can backtest
//! without any download.

pub mod bar_time;
pub mod bars;
pub mod columns;
pub mod context_import;
pub mod error;
pub mod resample;
pub mod samples;
pub mod table;
mod workbook;

pub use bars::{FilePreview, PREVIEW_ROWS, parse_bars, preview_bars};
pub use columns::{CloseChoice, ColumnMap, ImportOptions, Role};
pub use context_import::{ContextRow, parse_context, parse_context_date};
pub use error::FileError;
pub use samples::{SAMPLES, Sample, find_sample};
