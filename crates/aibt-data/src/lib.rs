//! Market data for aibt: reading OHLCV CSV files into validated bars, and the real series
//! bundled inside the binary so that a fresh install can backtest without any download.

pub mod context_import;
pub mod csv_import;
pub mod samples;

pub use context_import::{ContextRow, parse_context, parse_context_date};
pub use csv_import::{CsvError, parse_csv};
pub use samples::{SAMPLES, Sample, find_sample};
