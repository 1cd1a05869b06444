//! aibt's SQLite store: the `Store` trait on one database file.
//!
//! One database file in WAL mode: readers never wait for the writer, and a busy timeout makes
//! writers from several processes (a server and workers) queue instead of failing. Every write
//! is a `BEGIN IMMEDIATE` transaction, which takes the write lock at the start: a transaction
//! that read first and upgraded later could fail with SQLITE_BUSY after the busy timeout could
//! no longer help. Decimals are stored as checked TEXT at their scale, times as fixed-width
//! RFC 3339 text; the two tables a long backtest fills (snapshots, bars) keep decimals as their
//! exact integer mantissas behind views that show that same text.
//!
//! The SQL comes from `aibt_store::sql`; this crate owns the connections (`connection`), the
//! schema and its migrations (`migrations`, `migrations/*.sql`), the conversion of values to
//! SQLite's columns (`codec`), reading and writing rows (`tables`; many at once: `bulk`), the
//! step batches of a running backtest (`batch`), the compact forms of snapshots and bars
//! behind the views `account_snapshots` and `market_bars` (`snapshots`, `bars`) and the
//! `Store` implementation (`store`).

mod bars;
mod batch;
mod bulk;
mod codec;
mod connection;
mod migrations;
mod snapshots;
mod store;
mod tables;

pub use connection::{SqliteStore, path_from_url};
pub use migrations::LATEST_VERSION;
