//! aibt's PostgreSQL store, for many workers on one database.
//!
//! Tasks are claimed with `FOR UPDATE SKIP LOCKED`, so workers on many hosts never wait on
//! each other's candidate rows, and every step batch re-checks the lease under a row lock, so
//! a worker that lost its task cannot write into it.

mod tables;

use std::path::Path;

use aibt_core::{Bar, TaskStatus};
use aibt_store::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::future::try_join_all;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{Config, NoTls};

use tables::*;

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

const TABLES: &[&str] = &[
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

fn text(value: impl ToString) -> Box<dyn ToSql + Sync + Send> {
    Box::new(value.to_string())
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
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
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

    async fn query_rows<T>(&self, sql: &str, params: Params, def: &TableDef<T>) -> Result<Vec<T>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(db_error)?;
        let rows = client
            .query(&statement, &refs(&params))
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                (def.read)(&Reader {
                    row,
                    table: def.table,
                    columns: def.columns,
                })
            })
            .collect()
    }

    /// The one row a query finds, or NotFound naming `id`.
    async fn query_one<T>(
        &self,
        sql: &str,
        params: Params,
        def: &TableDef<T>,
        id: &str,
    ) -> Result<T> {
        self.query_rows(sql, params, def)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                entity: def.entity,
                id: id.to_string(),
            })
    }

    async fn execute(&self, sql: &str, params: Params) -> Result<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(db_error)?;
        client
            .execute(&statement, &refs(&params))
            .await
            .map_err(db_error)
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

async fn task_in(client: &impl deadpool_postgres::GenericClient, task_id: &str) -> Result<Task> {
    let sql = format!("{} WHERE task_id = $1", TASK_SQL.select);
    let row = client
        .query_opt(&sql, &[&task_id])
        .await
        .map_err(db_error)?
        .ok_or_else(|| StoreError::NotFound {
            entity: "task",
            id: task_id.to_string(),
        })?;
    read_task(&Reader {
        row: &row,
        table: "tasks",
        columns: TASK_COLUMNS,
    })
}

async fn ensure_unused(
    tx: &deadpool_postgres::Transaction<'_>,
    column: &str,
    id: &str,
    what: &str,
) -> Result<()> {
    let used: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM tasks WHERE {column} = $1"),
            &[&id],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "{what} {id:?} is used by {used} task(s); delete those tasks first"
        )));
    }
    Ok(())
}

/// Runs one prepared statement for many rows, pipelined on one connection.
async fn execute_many(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    rows: Vec<Params>,
    conflict: impl Fn(usize) -> (&'static str, String),
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(sql).await.map_err(db_error)?;
    let parameter_lists: Vec<Vec<&(dyn ToSql + Sync)>> = rows.iter().map(refs).collect();
    let results = try_join_all(parameter_lists.iter().enumerate().map(|(i, params)| {
        let statement = &statement;
        let conflict = &conflict;
        async move {
            tx.execute(statement, params).await.map_err(|e| {
                let (entity, id) = conflict(i);
                insert_error(entity, &id)(e)
            })
        }
    }))
    .await;
    results.map(|_| ())
}

fn bounds(query: &RecordQuery) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    (query.from, query.to)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn schema_version(&self) -> Result<i64> {
        let client = self.client().await?;
        let version: i32 = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(db_error)?
            .get(0);
        Ok(i64::from(version))
    }

    async fn check(&self) -> Result<CheckReport> {
        let client = self.client().await?;
        let mut tables = Vec::new();
        for table in TABLES {
            let count: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .map_err(db_error)?
                .get(0);
            tables.push((table.to_string(), count));
        }
        // PostgreSQL checks pages as it reads them; a full scan of every table above is the
        // integrity check a user can run without superuser extensions.
        Ok(CheckReport {
            backend: Backend::Postgres,
            schema_version: self.schema_version().await?,
            latest_version: LATEST_VERSION,
            integrity: vec!["ok".to_string()],
            tables,
        })
    }

    async fn indexes(&self) -> Result<Vec<IndexInfo>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT i.tablename, i.indexname, ix.indisunique,
                        array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
                              ORDER BY k.ord)::text[]
                 FROM pg_indexes i
                 JOIN pg_class c ON c.relname = i.indexname
                 JOIN pg_index ix ON ix.indexrelid = c.oid
                 WHERE i.schemaname = current_schema()
                 ORDER BY i.tablename, i.indexname",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(rows
            .iter()
            .map(|row| IndexInfo {
                table: row.get(0),
                name: row.get(1),
                unique: row.get(2),
                columns: row.get(3),
            })
            .collect())
    }

    async fn backup(&self, _destination: &Path) -> Result<()> {
        Err(StoreError::Unsupported(
            "backup of a PostgreSQL database (use pg_dump)",
        ))
    }

    async fn insert_account(&self, account: &VirtualAccount) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(&ACCOUNT_SQL.insert, &refs(&account_params(account)?))
            .await
            .map_err(insert_error("account", &account.account_id))?;
        Ok(())
    }

    async fn get_account(&self, account_id: &str) -> Result<VirtualAccount> {
        self.query_one(
            &format!("{} WHERE account_id = $1", ACCOUNT_SQL.select),
            vec![text(account_id)],
            &ACCOUNTS,
            account_id,
        )
        .await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<VirtualAccount>> {
        let limit = clamp_limit(query.limit);
        let mut sql = format!("{} WHERE TRUE", ACCOUNT_SQL.select);
        let mut params: Params = Vec::new();
        if !query.include_task_accounts {
            sql.push_str(" AND task_id IS NULL");
        }
        if let Some(cursor) = &query.cursor {
            params.push(text(cursor));
            sql.push_str(&format!(" AND account_id > ${}", params.len()));
        }
        params.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY account_id LIMIT ${}", params.len()));
        let rows = self.query_rows(&sql, params, &ACCOUNTS).await?;
        Ok(into_page(rows, limit, |a| a.account_id.clone()))
    }

    async fn update_account(&self, account: &VirtualAccount) -> Result<()> {
        let changed = self
            .execute(&ACCOUNT_SQL.update, account_params(account)?)
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "account",
                id: account.account_id.clone(),
            });
        }
        Ok(())
    }

    async fn delete_account(&self, account_id: &str) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        ensure_unused(&tx, "account_id", account_id, "account").await?;
        let changed = tx
            .execute(
                "DELETE FROM virtual_accounts WHERE account_id = $1 AND task_id IS NULL",
                &[&account_id],
            )
            .await
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "account",
                id: account_id.to_string(),
            });
        }
        tx.commit().await.map_err(db_error)
    }

    async fn insert_template(&self, template: &PromptTemplate) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(&TEMPLATE_SQL.insert, &refs(&template_params(template)))
            .await
            .map_err(insert_error("template", &template.prompt_id))?;
        Ok(())
    }

    async fn get_template(&self, prompt_id: &str) -> Result<PromptTemplate> {
        self.query_one(
            &format!("{} WHERE prompt_id = $1", TEMPLATE_SQL.select),
            vec![text(prompt_id)],
            &TEMPLATES,
            prompt_id,
        )
        .await
    }

    async fn list_templates(
        &self,
        include_deleted: bool,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<PromptTemplate>> {
        let limit = clamp_limit(limit);
        let mut sql = format!("{} WHERE TRUE", TEMPLATE_SQL.select);
        let mut params: Params = Vec::new();
        if !include_deleted {
            sql.push_str(" AND status <> 'DELETED'");
        }
        if let Some(cursor) = cursor {
            params.push(text(cursor));
            sql.push_str(&format!(" AND prompt_id > ${}", params.len()));
        }
        params.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY prompt_id LIMIT ${}", params.len()));
        let rows = self.query_rows(&sql, params, &TEMPLATES).await?;
        Ok(into_page(rows, limit, |t| t.prompt_id.clone()))
    }

    async fn update_template(&self, template: &PromptTemplate) -> Result<()> {
        let changed = self
            .execute(&TEMPLATE_SQL.update, template_params(template))
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "template",
                id: template.prompt_id.clone(),
            });
        }
        Ok(())
    }

    async fn insert_ai_config(&self, config: &AiConfig) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Names identify configs on the CLI; serialise creations so two cannot share one.
        tx.execute("LOCK TABLE ai_configs IN SHARE ROW EXCLUSIVE MODE", &[])
            .await
            .map_err(db_error)?;
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM ai_configs WHERE name = $1",
                &[&config.name],
            )
            .await
            .map_err(db_error)?
            .get(0);
        if taken > 0 {
            return Err(StoreError::Conflict(format!(
                "an AI config named {:?} already exists",
                config.name
            )));
        }
        tx.execute(&AI_CONFIG_SQL.insert, &refs(&ai_config_params(config)?))
            .await
            .map_err(insert_error("AI config", &config.config_id))?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_ai_config(&self, config_id: &str) -> Result<AiConfig> {
        self.query_one(
            &format!("{} WHERE config_id = $1", AI_CONFIG_SQL.select),
            vec![text(config_id)],
            &AI_CONFIGS,
            config_id,
        )
        .await
    }

    async fn find_ai_config_by_name(&self, name: &str) -> Result<Option<AiConfig>> {
        Ok(self
            .query_rows(
                &format!(
                    "{} WHERE name = $1 ORDER BY created_at LIMIT 1",
                    AI_CONFIG_SQL.select
                ),
                vec![text(name)],
                &AI_CONFIGS,
            )
            .await?
            .into_iter()
            .next())
    }

    async fn list_ai_configs(&self, limit: u32, cursor: Option<String>) -> Result<Page<AiConfig>> {
        let limit = clamp_limit(limit);
        let mut sql = format!("{} WHERE TRUE", AI_CONFIG_SQL.select);
        let mut params: Params = Vec::new();
        if let Some(cursor) = cursor {
            params.push(text(cursor));
            sql.push_str(&format!(" AND config_id > ${}", params.len()));
        }
        params.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY config_id LIMIT ${}", params.len()));
        let rows = self.query_rows(&sql, params, &AI_CONFIGS).await?;
        Ok(into_page(rows, limit, |c| c.config_id.clone()))
    }

    async fn update_ai_config(&self, config: &AiConfig) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.execute("LOCK TABLE ai_configs IN SHARE ROW EXCLUSIVE MODE", &[])
            .await
            .map_err(db_error)?;
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM ai_configs WHERE name = $1 AND config_id <> $2",
                &[&config.name, &config.config_id],
            )
            .await
            .map_err(db_error)?
            .get(0);
        if taken > 0 {
            return Err(StoreError::Conflict(format!(
                "an AI config named {:?} already exists",
                config.name
            )));
        }
        let changed = tx
            .execute(&AI_CONFIG_SQL.update, &refs(&ai_config_params(config)?))
            .await
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "AI config",
                id: config.config_id.clone(),
            });
        }
        tx.commit().await.map_err(db_error)
    }

    async fn delete_ai_config(&self, config_id: &str) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        ensure_unused(&tx, "ai_config_id", config_id, "AI config").await?;
        let changed = tx
            .execute("DELETE FROM ai_configs WHERE config_id = $1", &[&config_id])
            .await
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "AI config",
                id: config_id.to_string(),
            });
        }
        tx.commit().await.map_err(db_error)
    }

    async fn import_bars(
        &self,
        series: &SeriesKey,
        bars: &[Bar],
        mode: ImportMode,
    ) -> Result<ImportOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let market = series.market_type.as_str();
        let granularity = series.granularity.as_str();
        // Read what is stored in the file's time range once, then compare in memory.
        let mut stored = std::collections::HashMap::new();
        if let (Some(first), Some(last)) = (
            bars.iter().map(|b| b.ts).min(),
            bars.iter().map(|b| b.ts).max(),
        ) {
            let rows = tx
                .query(
                    "SELECT ts, open, high, low, close, volume FROM market_bars
                     WHERE symbol = $1 AND market_type = $2 AND granularity = $3 AND ts >= $4 AND ts <= $5",
                    &[&series.symbol, &market, &granularity, &first, &last],
                )
                .await
                .map_err(db_error)?;
            for row in &rows {
                let bar = read_bar(&Reader {
                    row,
                    table: "market_bars",
                    columns: BAR_COLUMNS,
                })?;
                stored.insert(bar.ts, bar);
            }
        }
        let mut outcome = ImportOutcome::default();
        let mut to_write = Vec::new();
        for bar in bars {
            match stored.get(&bar.ts) {
                Some(existing) if existing == bar => outcome.unchanged += 1,
                Some(_) if mode == ImportMode::RefuseChanges => {
                    return Err(StoreError::Conflict(format!(
                        "series {series} already has a different bar at {}; nothing was imported \
                         (re-import with --replace to overwrite stored bars)",
                        aibt_core::time::format_timestamp(bar.ts)
                    )));
                }
                Some(_) => {
                    outcome.replaced += 1;
                    to_write.push(*bar);
                }
                None => {
                    outcome.inserted += 1;
                    to_write.push(*bar);
                }
            }
        }
        // One statement per 1000 bars keeps the parameter count under PostgreSQL's limit.
        for chunk in to_write.chunks(1000) {
            let mut sql = String::from(
                "INSERT INTO market_bars (symbol, market_type, granularity, ts, open, high, low, close, volume) VALUES ",
            );
            let mut params: Params = vec![text(&series.symbol), text(market), text(granularity)];
            for (i, bar) in chunk.iter().enumerate() {
                let base = 4 + i * 6;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "($1, $2, $3, ${}, ${}, ${}, ${}, ${}, ${})",
                    base,
                    base + 1,
                    base + 2,
                    base + 3,
                    base + 4,
                    base + 5
                ));
                params.push(Box::new(bar.ts));
                params.push(Box::new(bar.open.get()));
                params.push(Box::new(bar.high.get()));
                params.push(Box::new(bar.low.get()));
                params.push(Box::new(bar.close.get()));
                params.push(Box::new(bar.volume.get()));
            }
            sql.push_str(
                " ON CONFLICT (symbol, market_type, granularity, ts) DO UPDATE SET
                  open = excluded.open, high = excluded.high, low = excluded.low,
                  close = excluded.close, volume = excluded.volume",
            );
            tx.execute(&sql, &refs(&params)).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }

    async fn list_series(&self) -> Result<Vec<SeriesInfo>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT symbol, market_type, granularity, count(*), min(ts), max(ts)
                 FROM market_bars GROUP BY symbol, market_type, granularity
                 ORDER BY symbol, market_type, granularity",
                &[],
            )
            .await
            .map_err(db_error)?;
        const COLUMNS: &[&str] = &["symbol", "market_type", "granularity", "count", "ts", "ts"];
        rows.iter()
            .map(|row| {
                let r = Reader {
                    row,
                    table: "market_bars",
                    columns: COLUMNS,
                };
                Ok(SeriesInfo {
                    key: SeriesKey {
                        symbol: r.text(0)?,
                        market_type: r.parsed(1)?,
                        granularity: r.parsed(2)?,
                    },
                    bars: r.bigint(3)?,
                    first: r.time(4)?,
                    last: r.time(5)?,
                })
            })
            .collect()
    }

    async fn series_info(&self, series: &SeriesKey) -> Result<Option<SeriesInfo>> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*), min(ts), max(ts) FROM market_bars
                 WHERE symbol = $1 AND market_type = $2 AND granularity = $3",
                &[
                    &series.symbol,
                    &series.market_type.as_str(),
                    &series.granularity.as_str(),
                ],
            )
            .await
            .map_err(db_error)?;
        let count: i64 = row.get(0);
        let first: Option<DateTime<Utc>> = row.get(1);
        let last: Option<DateTime<Utc>> = row.get(2);
        Ok(match (first, last) {
            (Some(first), Some(last)) => Some(SeriesInfo {
                key: series.clone(),
                bars: count,
                first,
                last,
            }),
            _ => None,
        })
    }

    async fn series_bounds(
        &self,
        series: &SeriesKey,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let client = self.client().await?;
        // min and max on the primary key's leading columns are single index descents.
        let row = client
            .query_one(
                "SELECT min(ts), max(ts) FROM market_bars
                 WHERE symbol = $1 AND market_type = $2 AND granularity = $3",
                &[
                    &series.symbol,
                    &series.market_type.as_str(),
                    &series.granularity.as_str(),
                ],
            )
            .await
            .map_err(db_error)?;
        let first: Option<DateTime<Utc>> = row.get(0);
        let last: Option<DateTime<Utc>> = row.get(1);
        Ok(first.zip(last))
    }

    async fn bars(&self, series: &SeriesKey, range: BarRange) -> Result<Vec<Bar>> {
        let mut sql = format!(
            "SELECT {} FROM market_bars WHERE symbol = $1 AND market_type = $2 AND granularity = $3",
            BAR_COLUMNS.join(", ")
        );
        let mut params: Params = vec![
            text(&series.symbol),
            text(series.market_type),
            text(series.granularity),
        ];
        if let Some(from) = range.from {
            params.push(Box::new(from));
            sql.push_str(&format!(" AND ts >= ${}", params.len()));
        }
        if let Some(to) = range.to {
            params.push(Box::new(to));
            sql.push_str(&format!(" AND ts <= ${}", params.len()));
        }
        if let Some(after) = range.after {
            params.push(Box::new(after));
            sql.push_str(&format!(" AND ts > ${}", params.len()));
        }
        sql.push_str(" ORDER BY ts");
        if let Some(limit) = range.limit {
            params.push(Box::new(i64::from(limit)));
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        self.query_rows(&sql, params, &BARS).await
    }

    async fn bars_before(
        &self,
        series: &SeriesKey,
        before: DateTime<Utc>,
        count: u32,
    ) -> Result<Vec<Bar>> {
        let sql = format!(
            "SELECT {} FROM market_bars WHERE symbol = $1 AND market_type = $2 AND granularity = $3
             AND ts < $4 ORDER BY ts DESC LIMIT $5",
            BAR_COLUMNS.join(", ")
        );
        let params: Params = vec![
            text(&series.symbol),
            text(series.market_type),
            text(series.granularity),
            Box::new(before),
            Box::new(i64::from(count)),
        ];
        let mut bars = self.query_rows(&sql, params, &BARS).await?;
        bars.reverse();
        Ok(bars)
    }

    async fn count_bars(
        &self,
        series: &SeriesKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        let client = self.client().await?;
        Ok(client
            .query_one(
                "SELECT count(*) FROM market_bars WHERE symbol = $1 AND market_type = $2
                 AND granularity = $3 AND ts >= $4 AND ts <= $5",
                &[
                    &series.symbol,
                    &series.market_type.as_str(),
                    &series.granularity.as_str(),
                    &from,
                    &to,
                ],
            )
            .await
            .map_err(db_error)?
            .get(0))
    }

    async fn create_task(&self, task: &Task, run_account: &VirtualAccount) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.execute(&TASK_SQL.insert, &refs(&task_params(task)?))
            .await
            .map_err(insert_error("task", &task.task_id))?;
        tx.execute(&ACCOUNT_SQL.insert, &refs(&account_params(run_account)?))
            .await
            .map_err(insert_error("account", &run_account.account_id))?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_task(&self, task_id: &str) -> Result<Task> {
        let client = self.client().await?;
        task_in(&client, task_id).await
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<Page<Task>> {
        let limit = clamp_limit(query.limit);
        let mut sql = format!("{} WHERE TRUE", TASK_SQL.select);
        let mut params: Params = Vec::new();
        if let Some(status) = query.status {
            params.push(text(status));
            sql.push_str(&format!(" AND status = ${}", params.len()));
        }
        if let Some(symbol) = &query.stock_symbol {
            params.push(text(symbol));
            sql.push_str(&format!(" AND stock_symbol = ${}", params.len()));
        }
        if let Some(account) = &query.account_id {
            params.push(text(account));
            sql.push_str(&format!(" AND account_id = ${}", params.len()));
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = parse_time_cursor(cursor)?;
            params.push(Box::new(time));
            params.push(Box::new(id));
            sql.push_str(&format!(
                " AND (created_at, task_id) < (${}, ${})",
                params.len() - 1,
                params.len()
            ));
        }
        params.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(
            " ORDER BY created_at DESC, task_id DESC LIMIT ${}",
            params.len()
        ));
        let rows = self.query_rows(&sql, params, &TASKS).await?;
        Ok(into_page(rows, limit, |t| {
            time_cursor(t.created_at, &t.task_id)
        }))
    }

    async fn get_task_account(&self, task_id: &str) -> Result<VirtualAccount> {
        self.query_one(
            &format!("{} WHERE task_id = $1", ACCOUNT_SQL.select),
            vec![text(task_id)],
            &ACCOUNTS,
            task_id,
        )
        .await
    }

    async fn update_lifecycle(
        &self,
        task_id: &str,
        expected: TaskStatus,
        lifecycle: &Lifecycle,
    ) -> Result<Task> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let l = lifecycle;
        let changed = tx
            .execute(
                "UPDATE tasks SET status = $2, started_at = $3, paused_at = $4, resumed_at = $5,
                   completed_at = $6, error_message = $7, stats = $8, lease_owner = $9,
                   lease_expires_at = $10, updated_at = $11
                 WHERE task_id = $1 AND status = $12",
                &[
                    &task_id,
                    &l.status.as_str(),
                    &l.started_at,
                    &l.paused_at,
                    &l.resumed_at,
                    &l.completed_at,
                    &l.error_message,
                    &l.stats.clone().map(Json),
                    &l.lease_owner,
                    &l.lease_expires_at,
                    &l.updated_at,
                    &expected.as_str(),
                ],
            )
            .await
            .map_err(db_error)?;
        let task = task_in(&tx, task_id).await?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "task {task_id} is {}, not {expected}",
                task.status
            )));
        }
        tx.commit().await.map_err(db_error)?;
        Ok(task)
    }

    async fn claim_task(
        &self,
        worker: &str,
        filter: ClaimFilter<'_>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Task>> {
        let only = filter.task_id.map(str::to_string);
        let (only_strategy, except_strategy) = match filter.strategy {
            Some(StrategyFilter::Only(name)) => (Some(name.to_string()), None),
            Some(StrategyFilter::Except(name)) => (None, Some(name.to_string())),
            None => (None, None),
        };
        let sql = format!(
            "UPDATE tasks SET lease_owner = $1, lease_expires_at = $2, updated_at = $3
             WHERE task_id = (
                SELECT task_id FROM tasks
                WHERE status = 'RUNNING'
                  AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < $3)
                  AND ($4::VARCHAR IS NULL OR task_id = $4)
                  AND ($5::VARCHAR IS NULL OR strategy = $5)
                  AND ($6::VARCHAR IS NULL OR strategy <> $6)
                ORDER BY created_at, task_id
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
             RETURNING {}",
            TASK_COLUMNS.join(", ")
        );
        let params: Params = vec![
            text(worker),
            Box::new(lease_until),
            Box::new(now),
            Box::new(only),
            Box::new(only_strategy),
            Box::new(except_strategy),
        ];
        Ok(self
            .query_rows(&sql, params, &TASKS)
            .await?
            .into_iter()
            .next())
    }

    async fn renew_lease(
        &self,
        task_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE tasks SET lease_expires_at = $3 WHERE task_id = $1 AND lease_owner = $2",
                vec![text(task_id), text(worker), Box::new(lease_until)],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn delete_task(&self, task_id: &str, refuse: &[TaskStatus]) -> Result<DeleteOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let refused: Vec<&str> = refuse.iter().map(|s| s.as_str()).collect();
        // Under READ COMMITTED a concurrent status change holds the row lock; this statement
        // waits for it and tests the status it committed.
        let deleted = tx
            .execute(
                "DELETE FROM tasks WHERE task_id = $1 AND NOT (status = ANY($2))",
                &[&task_id, &refused],
            )
            .await
            .map_err(db_error)?;
        if deleted == 0 {
            let task = task_in(&tx, task_id).await?;
            return Ok(DeleteOutcome::Refused(task.status));
        }
        for table in [
            "account_snapshots",
            "local_decisions",
            "trade_records",
            "virtual_accounts",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE task_id = $1"),
                &[&task_id],
            )
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(DeleteOutcome::Deleted)
    }

    async fn commit_steps_after(
        &self,
        batch: StepBatch,
        after: Option<After>,
    ) -> Result<CommitOutcome> {
        if let Some(after) = after
            && !after.await
        {
            return Err(predecessor_failed(&batch.task_id));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = tx
            .query_opt(
                "SELECT status, lease_owner FROM tasks WHERE task_id = $1 FOR UPDATE",
                &[&batch.task_id],
            )
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::NotFound {
                entity: "task",
                id: batch.task_id.clone(),
            })?;
        let status_text: String = row.get(0);
        let owner: Option<String> = row.get(1);
        let status: TaskStatus = status_text
            .parse()
            .map_err(|e: aibt_core::EnumParseError| StoreError::Corrupt {
                table: "tasks",
                column: "status",
                value: status_text.clone(),
                reason: e.to_string(),
            })?;
        if status != TaskStatus::Running || owner.as_deref() != Some(batch.lease_owner.as_str()) {
            return Ok(CommitOutcome::Refused {
                status,
                lease_owner: owner,
            });
        }
        let decisions = batch
            .decisions
            .iter()
            .map(decision_params)
            .collect::<Result<Vec<_>>>()?;
        execute_many(&tx, &DECISION_SQL.insert, decisions, |i| {
            ("decision", batch.decisions[i].decision_id.clone())
        })
        .await?;
        let trades = batch.trades.iter().map(trade_params).collect();
        execute_many(&tx, &TRADE_SQL.insert, trades, |i| {
            ("trade", batch.trades[i].trade_id.clone())
        })
        .await?;
        let snapshots = batch
            .snapshots
            .iter()
            .map(snapshot_params)
            .collect::<Result<Vec<_>>>()?;
        execute_many(&tx, &SNAPSHOT_SQL.insert, snapshots, |i| {
            ("snapshot", batch.snapshots[i].snapshot_id.clone())
        })
        .await?;
        tx.execute(&ACCOUNT_SQL.update, &refs(&account_params(&batch.account)?))
            .await
            .map_err(db_error)?;
        let processed = i32::try_from(batch.processed_items).unwrap_or(i32::MAX);
        let total = batch
            .total_items
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        tx.execute(
            "UPDATE tasks SET processed_items = $2, total_items = $3, checkpoint = $4,
               lease_expires_at = $5, updated_at = $6 WHERE task_id = $1",
            &[
                &batch.task_id,
                &processed,
                &total,
                &Json(&batch.checkpoint),
                &batch.lease_expires_at,
                &batch.now,
            ],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(CommitOutcome::Committed)
    }

    async fn list_decisions(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<LocalDecision>> {
        let limit = clamp_limit(query.limit);
        let (from, to) = bounds(query);
        let mut params: Params = vec![text(task_id), Box::new(from), Box::new(to)];
        let mut sql = format!(
            "{} WHERE task_id = $1 AND ($2::TIMESTAMPTZ IS NULL OR analysis_date >= $2)
             AND ($3::TIMESTAMPTZ IS NULL OR analysis_date <= $3)",
            DECISION_SQL.select
        );
        if let Some(action) = query.action {
            params.push(text(action));
            sql.push_str(&format!(" AND decision_result = ${}", params.len()));
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = parse_time_cursor(cursor)?;
            params.push(Box::new(time));
            params.push(Box::new(id));
            sql.push_str(&format!(
                " AND (analysis_date, decision_id) > (${}, ${})",
                params.len() - 1,
                params.len()
            ));
        }
        params.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(
            " ORDER BY analysis_date, decision_id LIMIT ${}",
            params.len()
        ));
        let rows = self.query_rows(&sql, params, &DECISIONS).await?;
        Ok(into_page(rows, limit, |d| d.cursor()))
    }

    async fn list_trades(&self, task_id: &str, query: &RecordQuery) -> Result<Page<TradeRecord>> {
        let limit = clamp_limit(query.limit);
        let (from, to) = bounds(query);
        let mut params: Params = vec![text(task_id), Box::new(from), Box::new(to)];
        let mut sql = format!(
            "{} WHERE task_id = $1 AND ($2::TIMESTAMPTZ IS NULL OR trade_time >= $2)
             AND ($3::TIMESTAMPTZ IS NULL OR trade_time <= $3)",
            TRADE_SQL.select
        );
        if let Some(action) = query.action {
            params.push(text(action));
            sql.push_str(&format!(" AND trade_action = ${}", params.len()));
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = parse_time_cursor(cursor)?;
            params.push(Box::new(time));
            params.push(Box::new(id));
            sql.push_str(&format!(
                " AND (trade_time, trade_id) > (${}, ${})",
                params.len() - 1,
                params.len()
            ));
        }
        params.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(
            " ORDER BY trade_time, trade_id LIMIT ${}",
            params.len()
        ));
        let rows = self.query_rows(&sql, params, &TRADES).await?;
        Ok(into_page(rows, limit, |t| {
            time_cursor(t.trade_time, &t.trade_id)
        }))
    }

    async fn list_snapshots(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<AccountSnapshot>> {
        let limit = clamp_limit(query.limit);
        let prefix = format!("{task_id}-s");
        let lower = match &query.cursor {
            Some(cursor) if cursor.starts_with(&prefix) => cursor.clone(),
            Some(cursor) => {
                return Err(StoreError::Invalid {
                    field: "cursor",
                    reason: format!("{cursor:?} is not a cursor of this task's snapshots"),
                });
            }
            None => prefix.clone(),
        };
        let (from, to) = bounds(query);
        // `COLLATE "C"` compares bytes, so the id range is exactly the task's snapshots.
        let sql = format!(
            "{} WHERE snapshot_id COLLATE \"C\" > $1 AND snapshot_id COLLATE \"C\" < $2
             AND task_id = $6
             AND ($3::TIMESTAMPTZ IS NULL OR timestamp >= $3)
             AND ($4::TIMESTAMPTZ IS NULL OR timestamp <= $4)
             ORDER BY snapshot_id COLLATE \"C\" LIMIT $5",
            SNAPSHOT_SQL.select
        );
        let params: Params = vec![
            Box::new(lower),
            Box::new(format!("{prefix}\u{7f}")),
            Box::new(from),
            Box::new(to),
            Box::new(i64::from(limit) + 1),
            text(task_id),
        ];
        let rows = self.query_rows(&sql, params, &SNAPSHOTS).await?;
        Ok(into_page(rows, limit, |s| s.snapshot_id.clone()))
    }

    async fn get_cached_answer(&self, cache_key: &str) -> Result<Option<CachedAnswer>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT cache_key, base_url, model, response, created_at FROM llm_cache WHERE cache_key = $1",
                &[&cache_key],
            )
            .await
            .map_err(db_error)?;
        Ok(row.map(|row| CachedAnswer {
            cache_key: row.get(0),
            base_url: row.get(1),
            model: row.get(2),
            response: row.get(3),
            created_at: row.get(4),
        }))
    }

    async fn put_cached_answer(&self, answer: &CachedAnswer) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO llm_cache (cache_key, base_url, model, response, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cache_key) DO NOTHING",
                &[
                    &answer.cache_key,
                    &answer.base_url,
                    &answer.model,
                    &Json(&answer.response),
                    &answer.created_at,
                ],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
