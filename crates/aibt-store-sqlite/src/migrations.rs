//! Embedded, numbered migrations, applied in order at start inside one IMMEDIATE transaction,
//! so a newer aibt upgrades an older database file in place and two processes starting at
//! once cannot both apply the same step.

use aibt_store::Result;
use aibt_store::sql::{CURRENT_VERSION, Migration};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::codec::{DIALECT, db_error};

/// Oldest first.
static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "llm_decisions",
        sql: include_str!("../migrations/0002_llm_decisions.sql"),
    },
    Migration {
        version: 3,
        name: "orders",
        sql: include_str!("../migrations/0003_orders.sql"),
    },
    Migration {
        version: 4,
        name: "experiments",
        sql: include_str!("../migrations/0004_experiments.sql"),
    },
    Migration {
        version: 5,
        name: "reasoning_and_cost",
        sql: include_str!("../migrations/0005_reasoning_and_cost.sql"),
    },
    Migration {
        version: 6,
        name: "call_slots",
        sql: include_str!("../migrations/0006_call_slots.sql"),
    },
    Migration {
        version: 7,
        name: "tools",
        sql: include_str!("../migrations/0007_tools.sql"),
    },
    Migration {
        version: 8,
        name: "series",
        sql: include_str!("../migrations/0008_series.sql"),
    },
    Migration {
        version: 9,
        name: "compact_snapshots",
        sql: include_str!("../migrations/0009_compact_snapshots.sql"),
    },
    Migration {
        version: 10,
        name: "compact_bars",
        sql: include_str!("../migrations/0010_compact_bars.sql"),
    },
    Migration {
        version: 11,
        name: "unchecked_compact_rows",
        sql: include_str!("../migrations/0011_unchecked_compact_rows.sql"),
    },
];

pub const LATEST_VERSION: i64 = Migration::latest(MIGRATIONS);

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
        .query_row(CURRENT_VERSION, [], |row| row.get(0))
        .map_err(db_error)
}

pub fn migrate(connection: &mut Connection) -> Result<i64> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    transaction
        .execute_batch(CREATE_MIGRATIONS_TABLE)
        .map_err(db_error)?;
    for migration in Migration::pending(MIGRATIONS, current_version(&transaction)?)? {
        transaction
            .execute_batch(migration.sql)
            .map_err(|e| migration.failed(e))?;
        transaction
            .execute(
                &Migration::record(DIALECT),
                params![migration.version, migration.name],
            )
            .map_err(db_error)?;
    }
    transaction.commit().map_err(db_error)?;
    Ok(LATEST_VERSION)
}
