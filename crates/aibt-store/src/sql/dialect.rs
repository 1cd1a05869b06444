//! Which SQL a backend speaks, and the backend-neutral values its statements take.

use chrono::{DateTime, Utc};

/// Which SQL a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The parameter marker, followed by the parameter's number in a statement.
    pub const fn marker(self) -> char {
        match self {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        }
    }
}

/// A parameter of a built statement, before the backend converts it to its own type: a
/// `Time` is TEXT in SQLite (see its codec) and TIMESTAMPTZ in PostgreSQL, an `Int` is always
/// a 64-bit integer (a `LIMIT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}
