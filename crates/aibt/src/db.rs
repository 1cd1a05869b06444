//! Opening the store a `--database-url` names: the scheme picks the backend.

use std::sync::Arc;

use aibt_store::{Store, StoreError};
use aibt_store_postgres::PostgresStore;
use aibt_store_sqlite::SqliteStore;

/// The database used when neither `--database-url` nor `AIBT_DATABASE_URL` is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://backtesting_dev.db";

/// Opens (creating and migrating if needed) the database at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::InvalidUrl {
            url: url.to_string(),
            reason: "expected sqlite://FILE or postgres://USER@HOST:PORT/DATABASE".into(),
        })
    }
}
