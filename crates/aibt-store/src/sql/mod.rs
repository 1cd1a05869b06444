//! The SQL every backend builds the same way.
//!
//! - [`Table`]: each table's name, the entity its errors name, and its columns in the order
//!   both the INSERT and the SELECT use; [`TableSql`] the statements made from them.
//! - [`TableRow`] / [`WriteRow`]: how each row type is read from and bound to those columns
//!   ([`schema`]), written once against [`ReadRow`] / [`BindRow`], which each backend
//!   implements for its own column types (SQLite: checked TEXT; PostgreSQL: NUMERIC, JSONB,
//!   TIMESTAMPTZ).
//! - [`query`]: the statements of every list, range and count (tasks, decisions, trades,
//!   snapshots, bars, ...), with their parameters as backend-neutral [`SqlValue`]s.
//! - [`Migration`]: the numbered schema changes each backend embeds, and their bookkeeping.
//!
//! Backends differ in their parameter marker (`?1` in SQLite, `$1` in PostgreSQL), named by
//! their [`Dialect`], and in the few places where one database needs another spelling.

mod columns;
mod dialect;
mod migrations;
pub mod query;
pub mod schema;
mod table;
mod task_state;

pub use columns::{BindRow, Fixed, ReadRow, TableRow, WriteRow};
pub use dialect::{Dialect, SqlValue};
pub use migrations::{CURRENT_VERSION, Migration};
pub use query::{PageQuery, Query};
pub use schema::*;
pub use table::{Table, TableSql};
pub use task_state::{LIFECYCLE, LifecycleChange, PROGRESS, task_status};
