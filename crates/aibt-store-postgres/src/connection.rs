//! Connecting: a pool of connections to one database, which is created on first use as
//! SQLite creates its file.

use aibt_store::{Result, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{Config, NoTls};

use crate::codec::db_error;
use crate::migrations;

/// Pool size: the server's request handlers and its workers share it.
const POOL_SIZE: usize = 16;

/// A store on one PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

fn pool_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("connection pool: {error}"))
}

fn parse_config(url: &str) -> Result<Config> {
    url.parse::<Config>().map_err(|e| StoreError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

fn build_pool(config: Config) -> Result<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(pool_error)
}

impl PostgresStore {
    /// Connects to the database of a `postgres://` URL, creating the database if it does not
    /// exist (as SQLite creates its file), and migrates it.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let config = parse_config(url)?;
        let pool = build_pool(config.clone())?;
        match pool.get().await {
            Ok(_) => {}
            Err(deadpool_postgres::PoolError::Backend(error))
                if error.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME) =>
            {
                create_database(&config).await?;
            }
            Err(error) => {
                return Err(StoreError::Database(format!(
                    "connecting to {url}: {error}"
                )));
            }
        }
        let store = PostgresStore { pool };
        migrations::migrate(&mut store.client().await?).await?;
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }
}

async fn create_database(config: &Config) -> Result<()> {
    let name = config
        .get_dbname()
        .ok_or_else(|| StoreError::Database("the URL names no database".into()))?
        .to_string();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(StoreError::Database(format!(
            "database {name:?} does not exist, and aibt only creates databases with plain names"
        )));
    }
    let mut maintenance = config.clone();
    maintenance.dbname("postgres");
    let (client, connection) = maintenance.connect(NoTls).await.map_err(db_error)?;
    let driver = tokio::spawn(connection);
    let result = client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await;
    drop(client);
    let _ = driver.await;
    match result {
        Ok(()) => Ok(()),
        // Another process created it first.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(db_error(e)),
    }
}
