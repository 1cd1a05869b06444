//! Embedded, numbered migrations, applied in order at start inside one transaction under an
//! advisory lock, so a newer aibt upgrades an older database in place and workers starting
//! together cannot both apply the same step.

use aibt_store::Result;
use aibt_store::sql::{CURRENT_VERSION, Migration};

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
];

pub const LATEST_VERSION: i64 = Migration::latest(MIGRATIONS);

/// The newest migration applied.
pub async fn current_version(client: &impl deadpool_postgres::GenericClient) -> Result<i64> {
    let version: i32 = client
        .query_one(CURRENT_VERSION, &[])
        .await
        .map_err(db_error)?
        .get(0);
    Ok(i64::from(version))
}

pub async fn migrate(client: &mut deadpool_postgres::Object) -> Result<()> {
    let tx = client.transaction().await.map_err(db_error)?;
    // Workers starting together must not apply the same migration twice.
    tx.execute("SELECT pg_advisory_xact_lock(7431023981)", &[])
        .await
        .map_err(db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(db_error)?;
    for migration in Migration::pending(MIGRATIONS, current_version(&tx).await?)? {
        tx.batch_execute(migration.sql)
            .await
            .map_err(|e| migration.failed(e))?;
        tx.execute(
            &Migration::record(DIALECT),
            &[&migration.version, &migration.name],
        )
        .await
        .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)
}
