//! Embedded, numbered migrations, applied in order at start inside one transaction under an
//! advisory lock, so a newer aibt upgrades an older database in place and workers starting
//! together cannot both apply the same step.

use aibt_store::{Result, StoreError};

use crate::codec::db_error;

const MIGRATIONS: &[(i32, &str, &str)] = &[
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

pub const LATEST_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0 as i64;

pub(crate) const TABLES: &[&str] = &[
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

pub(crate) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<()> {
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
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if i64::from(current) > LATEST_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: i64::from(current),
            supported: LATEST_VERSION,
        });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Database(format!("migration {version} ({name}) failed: {e}"))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)
}
