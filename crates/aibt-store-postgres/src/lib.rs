//! aibt's PostgreSQL store: the `Store` trait on one database shared by many workers.
//!
//! Tasks are claimed with `FOR UPDATE SKIP LOCKED`, so workers on many hosts never wait on
//! each other's candidate rows, and every step batch re-checks the lease under a row lock, so
//! a worker that lost its task cannot write into it. Money is `NUMERIC(38,8)`, JSON is JSONB,
//! times are TIMESTAMPTZ.
//!
//! The SQL comes from `aibt_store::sql`; this crate owns the connection pool (`connection`),
//! the schema and its migrations (`migrations`, `migrations/*.sql`), the conversion of values
//! to PostgreSQL's column types (`codec`), reading and writing rows (`tables`), the step
//! batches of a running backtest (`batch`) and the `Store` implementation (`store`).

mod batch;
mod codec;
mod connection;
mod migrations;
mod store;
mod tables;

pub use connection::PostgresStore;
pub use migrations::LATEST_VERSION;
