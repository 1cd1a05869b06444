//! Embedded, numbered migrations, applied in order at start inside one IMMEDIATE transaction,
//! so a newer aibt upgrades an older database file in place and two processes starting at
//! once cannot both apply the same step.

use aibt_store::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::codec::db_error;

/// `(version, name, sql)`, oldest first. A released migration is never edited: a change to
/// the schema is a new file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/0001_foundation.sql"),
    ),
    (
        2,
        "llm_decisions",
        include_str!("../migrations/0002_llm_decisions.sql"),
    ),
];

pub const LATEST_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// aibt's tables, for `db check`'s row counts.
pub const TABLES: &[&str] = &[
    "virtual_accounts",
    "account_snapshots",
    "local_decisions",
    "tasks",
    "trade_records",
    "prompt_templates",
    "ai_configs",
    "market_bars",
    "llm_cache",
];

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)";

pub fn current_version(connection: &Connection) -> Result<i64> {
    let exists: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |row| row.get(0),
        )
        .map_err(db_error)?;
    if exists == 0 {
        return Ok(0);
    }
    connection
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(db_error)
}

pub fn migrate(connection: &mut Connection) -> Result<i64> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    transaction
        .execute_batch(CREATE_MIGRATIONS_TABLE)
        .map_err(db_error)?;
    let current = current_version(&transaction)?;
    if current > LATEST_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: LATEST_VERSION,
        });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        transaction.execute_batch(sql).map_err(|e| {
            StoreError::Database(format!("migration {version} ({name}) failed: {e}"))
        })?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                params![version, name],
            )
            .map_err(db_error)?;
    }
    transaction.commit().map_err(db_error)?;
    Ok(LATEST_VERSION)
}
