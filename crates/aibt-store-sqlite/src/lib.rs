//! aibt's SQLite store.
//!
//! One database file in WAL mode: readers never wait for the writer, and a busy timeout makes
//! writers from several processes (a server and workers) queue instead of failing. Every write
//! is a `BEGIN IMMEDIATE` transaction, which takes the write lock at the start: a transaction
//! that read first and upgraded later could fail with SQLITE_BUSY after the busy timeout could
//! no longer help.

mod batch;
mod codec;
mod connection;
mod migrations;
mod tables;

use std::path::Path;

use aibt_core::{Bar, TaskStatus};
use aibt_store::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use batch::EncodedBatch;
use codec::{Reader, db_error, insert_error};
use tables::*;

pub use connection::{SqliteStore, path_from_url};
pub use migrations::LATEST_VERSION;

/// The smallest text greater than every id that starts with `prefix` (ids are ASCII).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{7f}")
}

fn record_window(query: &RecordQuery) -> (Value, Value) {
    (
        query
            .from
            .map_or(Value::Null, |t| Value::Text(codec::ts(t))),
        query.to.map_or(Value::Null, |t| Value::Text(codec::ts(t))),
    )
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn schema_version(&self) -> Result<i64> {
        self.read(migrations::current_version).await
    }

    async fn check(&self) -> Result<CheckReport> {
        self.read(|connection| {
            let mut integrity = Vec::new();
            let mut statement = connection
                .prepare("PRAGMA integrity_check")
                .map_err(db_error)?;
            let mut rows = statement.query([]).map_err(db_error)?;
            while let Some(row) = rows.next().map_err(db_error)? {
                integrity.push(row.get::<_, String>(0).map_err(db_error)?);
            }
            let mut tables = Vec::new();
            for table in migrations::TABLES {
                let count: i64 = connection
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                        row.get(0)
                    })
                    .map_err(db_error)?;
                tables.push((table.to_string(), count));
            }
            Ok(CheckReport {
                backend: Backend::Sqlite,
                schema_version: migrations::current_version(connection)?,
                latest_version: LATEST_VERSION,
                integrity,
                tables,
            })
        })
        .await
    }

    async fn indexes(&self) -> Result<Vec<IndexInfo>> {
        self.read(|connection| {
            // `PRAGMA index_list` also reports the primary key of a WITHOUT ROWID table,
            // which has no entry of its own in sqlite_master.
            let tables: Vec<String> = connection
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .map_err(db_error)?
                .query_map([], |row| row.get(0))
                .map_err(db_error)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db_error)?;
            let mut out = Vec::new();
            for table in tables {
                let listed: Vec<(String, bool)> = connection
                    .prepare(&format!("PRAGMA index_list(\"{table}\")"))
                    .map_err(db_error)?
                    .query_map([], |row| Ok((row.get::<_, String>(1)?, row.get::<_, i64>(2)? == 1)))
                    .map_err(db_error)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db_error)?;
                for (name, unique) in listed {
                    let columns: Vec<String> = connection
                        .prepare(&format!("PRAGMA index_info(\"{name}\")"))
                        .map_err(db_error)?
                        .query_map([], |row| row.get::<_, String>(2))
                        .map_err(db_error)?
                        .collect::<rusqlite::Result<_>>()
                        .map_err(db_error)?;
                    out.push(IndexInfo { table: table.clone(), name, columns, unique });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn backup(&self, destination: &Path) -> Result<()> {
        if destination.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists; choose a new file for the backup",
                destination.display()
            )));
        }
        let target = destination.to_string_lossy().to_string();
        self.read(move |connection| {
            // VACUUM INTO writes a consistent, compacted copy while others keep writing.
            connection
                .execute("VACUUM INTO ?1", params![target])
                .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn insert_account(&self, account: &VirtualAccount) -> Result<()> {
        let values = account_values(account)?;
        let id = account.account_id.clone();
        self.write(move |tx| {
            tx.prepare_cached(&ACCOUNT_SQL.insert)
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(insert_error("account", &id))?;
            Ok(())
        })
        .await
    }

    async fn get_account(&self, account_id: &str) -> Result<VirtualAccount> {
        let id = account_id.to_string();
        self.read(move |connection| {
            query_one(
                connection,
                &format!("{} WHERE account_id = ?1", ACCOUNT_SQL.select),
                &[text(&id)],
                &ACCOUNTS,
                &id,
            )
        })
        .await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<VirtualAccount>> {
        let limit = clamp_limit(query.limit);
        let include_task_accounts = query.include_task_accounts;
        let cursor = query.cursor.clone();
        self.read(move |connection| {
            let mut sql = format!("{} WHERE 1 = 1", ACCOUNT_SQL.select);
            let mut values = Vec::new();
            if !include_task_accounts {
                sql.push_str(" AND task_id IS NULL");
            }
            if let Some(cursor) = cursor {
                values.push(text(cursor));
                sql.push_str(&format!(" AND account_id > ?{}", values.len()));
            }
            values.push(Value::Integer(i64::from(limit) + 1));
            sql.push_str(&format!(" ORDER BY account_id LIMIT ?{}", values.len()));
            let rows = query_rows(connection, &sql, &values, &ACCOUNTS)?;
            Ok(into_page(rows, limit, |a| a.account_id.clone()))
        })
        .await
    }

    async fn update_account(&self, account: &VirtualAccount) -> Result<()> {
        let values = account_values(account)?;
        let id = account.account_id.clone();
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(&ACCOUNT_SQL.update)
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "account",
                    id,
                });
            }
            Ok(())
        })
        .await
    }

    async fn delete_account(&self, account_id: &str) -> Result<()> {
        let id = account_id.to_string();
        self.write(move |tx| {
            ensure_unused(tx, "account_id", &id, "account")?;
            let changed = tx
                .execute(
                    "DELETE FROM virtual_accounts WHERE account_id = ?1 AND task_id IS NULL",
                    params![id],
                )
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "account",
                    id,
                });
            }
            Ok(())
        })
        .await
    }

    async fn insert_template(&self, template: &PromptTemplate) -> Result<()> {
        let values = template_values(template);
        let id = template.prompt_id.clone();
        self.write(move |tx| {
            tx.prepare_cached(&TEMPLATE_SQL.insert)
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(insert_error("template", &id))?;
            Ok(())
        })
        .await
    }

    async fn get_template(&self, prompt_id: &str) -> Result<PromptTemplate> {
        let id = prompt_id.to_string();
        self.read(move |connection| {
            query_one(
                connection,
                &format!("{} WHERE prompt_id = ?1", TEMPLATE_SQL.select),
                &[text(&id)],
                &TEMPLATES,
                &id,
            )
        })
        .await
    }

    async fn list_templates(
        &self,
        include_deleted: bool,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<PromptTemplate>> {
        let limit = clamp_limit(limit);
        self.read(move |connection| {
            let mut sql = format!("{} WHERE 1 = 1", TEMPLATE_SQL.select);
            let mut values = Vec::new();
            if !include_deleted {
                sql.push_str(" AND status <> 'DELETED'");
            }
            if let Some(cursor) = cursor {
                values.push(text(cursor));
                sql.push_str(&format!(" AND prompt_id > ?{}", values.len()));
            }
            values.push(Value::Integer(i64::from(limit) + 1));
            sql.push_str(&format!(" ORDER BY prompt_id LIMIT ?{}", values.len()));
            let rows = query_rows(connection, &sql, &values, &TEMPLATES)?;
            Ok(into_page(rows, limit, |t| t.prompt_id.clone()))
        })
        .await
    }

    async fn update_template(&self, template: &PromptTemplate) -> Result<()> {
        let values = template_values(template);
        let id = template.prompt_id.clone();
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(&TEMPLATE_SQL.update)
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "template",
                    id,
                });
            }
            Ok(())
        })
        .await
    }

    async fn insert_ai_config(&self, config: &AiConfig) -> Result<()> {
        let values = ai_config_values(config);
        let id = config.config_id.clone();
        let name = config.name.clone();
        self.write(move |tx| {
            let taken: i64 = tx
                .query_row(
                    "SELECT count(*) FROM ai_configs WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .map_err(db_error)?;
            if taken > 0 {
                return Err(StoreError::Conflict(format!(
                    "an AI config named {name:?} already exists"
                )));
            }
            tx.prepare_cached(&AI_CONFIG_SQL.insert)
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(insert_error("AI config", &id))?;
            Ok(())
        })
        .await
    }

    async fn get_ai_config(&self, config_id: &str) -> Result<AiConfig> {
        let id = config_id.to_string();
        self.read(move |connection| {
            query_one(
                connection,
                &format!("{} WHERE config_id = ?1", AI_CONFIG_SQL.select),
                &[text(&id)],
                &AI_CONFIGS,
                &id,
            )
        })
        .await
    }

    async fn find_ai_config_by_name(&self, name: &str) -> Result<Option<AiConfig>> {
        let name = name.to_string();
        self.read(move |connection| {
            Ok(query_rows(
                connection,
                &format!(
                    "{} WHERE name = ?1 ORDER BY created_at LIMIT 1",
                    AI_CONFIG_SQL.select
                ),
                &[text(&name)],
                &AI_CONFIGS,
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn list_ai_configs(&self, limit: u32, cursor: Option<String>) -> Result<Page<AiConfig>> {
        let limit = clamp_limit(limit);
        self.read(move |connection| {
            let mut sql = format!("{} WHERE 1 = 1", AI_CONFIG_SQL.select);
            let mut values = Vec::new();
            if let Some(cursor) = cursor {
                values.push(text(cursor));
                sql.push_str(&format!(" AND config_id > ?{}", values.len()));
            }
            values.push(Value::Integer(i64::from(limit) + 1));
            sql.push_str(&format!(" ORDER BY config_id LIMIT ?{}", values.len()));
            let rows = query_rows(connection, &sql, &values, &AI_CONFIGS)?;
            Ok(into_page(rows, limit, |c| c.config_id.clone()))
        })
        .await
    }

    async fn update_ai_config(&self, config: &AiConfig) -> Result<()> {
        let values = ai_config_values(config);
        let id = config.config_id.clone();
        let name = config.name.clone();
        self.write(move |tx| {
            let taken: i64 = tx
                .query_row(
                    "SELECT count(*) FROM ai_configs WHERE name = ?1 AND config_id <> ?2",
                    params![name, id],
                    |row| row.get(0),
                )
                .map_err(db_error)?;
            if taken > 0 {
                return Err(StoreError::Conflict(format!(
                    "an AI config named {name:?} already exists"
                )));
            }
            let changed = tx
                .prepare_cached(&AI_CONFIG_SQL.update)
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "AI config",
                    id,
                });
            }
            Ok(())
        })
        .await
    }

    async fn delete_ai_config(&self, config_id: &str) -> Result<()> {
        let id = config_id.to_string();
        self.write(move |tx| {
            ensure_unused(tx, "ai_config_id", &id, "AI config")?;
            let changed = tx
                .execute("DELETE FROM ai_configs WHERE config_id = ?1", params![id])
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "AI config",
                    id,
                });
            }
            Ok(())
        })
        .await
    }

    async fn import_bars(
        &self,
        series: &SeriesKey,
        bars: &[Bar],
        mode: ImportMode,
    ) -> Result<ImportOutcome> {
        let series = series.clone();
        let bars = bars.to_vec();
        self.write(move |tx| {
            let mut outcome = ImportOutcome::default();
            let mut existing = tx
                .prepare_cached(
                    "SELECT open, high, low, close, volume FROM market_bars
                     WHERE symbol = ?1 AND market_type = ?2 AND granularity = ?3 AND ts = ?4",
                )
                .map_err(db_error)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO market_bars (symbol, market_type, granularity, ts, open, high, low, close, volume)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (symbol, market_type, granularity, ts) DO UPDATE SET
                       open = excluded.open, high = excluded.high, low = excluded.low,
                       close = excluded.close, volume = excluded.volume",
                )
                .map_err(db_error)?;
            let market = series.market_type.as_str();
            let granularity = series.granularity.as_str();
            for bar in &bars {
                let ts = codec::ts(bar.ts);
                let values = [
                    bar.open.to_string(),
                    bar.high.to_string(),
                    bar.low.to_string(),
                    bar.close.to_string(),
                    bar.volume.to_string(),
                ];
                let stored: Option<[String; 5]> = existing
                    .query_row(params![series.symbol, market, granularity, ts], |row| {
                        Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?])
                    })
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        other => Err(other),
                    })
                    .map_err(db_error)?;
                match stored {
                    Some(stored) if stored == values => {
                        outcome.unchanged += 1;
                        continue;
                    }
                    Some(_) if mode == ImportMode::RefuseChanges => {
                        return Err(StoreError::Conflict(format!(
                            "series {series} already has a different bar at {}; nothing was imported \
                             (re-import with --replace to overwrite stored bars)",
                            aibt_core::time::format_timestamp(bar.ts)
                        )));
                    }
                    Some(_) => outcome.replaced += 1,
                    None => outcome.inserted += 1,
                }
                upsert
                    .execute(params![
                        series.symbol, market, granularity, ts,
                        values[0], values[1], values[2], values[3], values[4]
                    ])
                    .map_err(db_error)?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn list_series(&self) -> Result<Vec<SeriesInfo>> {
        self.read(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT symbol, market_type, granularity, count(*), min(ts), max(ts)
                     FROM market_bars GROUP BY symbol, market_type, granularity
                     ORDER BY symbol, market_type, granularity",
                )
                .map_err(db_error)?;
            let mut rows = statement.query([]).map_err(db_error)?;
            let mut out = Vec::new();
            const COLUMNS: &[&str] = &["symbol", "market_type", "granularity", "count", "ts", "ts"];
            while let Some(row) = rows.next().map_err(db_error)? {
                let r = Reader {
                    row,
                    table: "market_bars",
                    columns: COLUMNS,
                };
                out.push(SeriesInfo {
                    key: SeriesKey {
                        symbol: r.text(0)?,
                        market_type: r.parsed(1)?,
                        granularity: r.parsed(2)?,
                    },
                    bars: r.int(3)?,
                    first: r.time(4)?,
                    last: r.time(5)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn series_info(&self, series: &SeriesKey) -> Result<Option<SeriesInfo>> {
        let series = series.clone();
        self.read(move |connection| {
            let (count, first, last): (i64, Option<String>, Option<String>) = connection
                .query_row(
                    "SELECT count(*), min(ts), max(ts) FROM market_bars
                     WHERE symbol = ?1 AND market_type = ?2 AND granularity = ?3",
                    params![
                        series.symbol,
                        series.market_type.as_str(),
                        series.granularity.as_str()
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .map_err(db_error)?;
            let (Some(first), Some(last)) = (first, last) else {
                return Ok(None);
            };
            let parse = |text: String| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt {
                        table: "market_bars",
                        column: "ts",
                        value: text.clone(),
                        reason: e.to_string(),
                    })
            };
            Ok(Some(SeriesInfo {
                key: series,
                bars: count,
                first: parse(first)?,
                last: parse(last)?,
            }))
        })
        .await
    }

    async fn series_bounds(
        &self,
        series: &SeriesKey,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let series = series.clone();
        self.read(move |connection| {
            // Each end is one descent of the primary key, however long the series.
            let end = |order: &str| -> Result<Option<DateTime<Utc>>> {
                let sql = format!(
                    "SELECT ts FROM market_bars WHERE symbol = ?1 AND market_type = ?2 AND granularity = ?3
                     ORDER BY ts {order} LIMIT 1"
                );
                let values = [text(&series.symbol), text(series.market_type), text(series.granularity)];
                Ok(query_rows(connection, &sql, &values, &BAR_TIMES)?.into_iter().next())
            };
            Ok(match (end("ASC")?, end("DESC")?) {
                (Some(first), Some(last)) => Some((first, last)),
                _ => None,
            })
        })
        .await
    }

    async fn bars(&self, series: &SeriesKey, range: BarRange) -> Result<Vec<Bar>> {
        let series = series.clone();
        self.read(move |connection| {
            let mut sql = format!(
                "SELECT {} FROM market_bars WHERE symbol = ?1 AND market_type = ?2 AND granularity = ?3",
                BAR_COLUMNS.join(", ")
            );
            let mut values = vec![
                text(&series.symbol),
                text(series.market_type),
                text(series.granularity),
            ];
            if let Some(from) = range.from {
                values.push(Value::Text(codec::ts(from)));
                sql.push_str(&format!(" AND ts >= ?{}", values.len()));
            }
            if let Some(to) = range.to {
                values.push(Value::Text(codec::ts(to)));
                sql.push_str(&format!(" AND ts <= ?{}", values.len()));
            }
            if let Some(after) = range.after {
                values.push(Value::Text(codec::ts(after)));
                sql.push_str(&format!(" AND ts > ?{}", values.len()));
            }
            sql.push_str(" ORDER BY ts");
            if let Some(limit) = range.limit {
                values.push(Value::Integer(i64::from(limit)));
                sql.push_str(&format!(" LIMIT ?{}", values.len()));
            }
            query_rows(connection, &sql, &values, &BARS)
        })
        .await
    }

    async fn bars_before(
        &self,
        series: &SeriesKey,
        before: DateTime<Utc>,
        count: u32,
    ) -> Result<Vec<Bar>> {
        let series = series.clone();
        self.read(move |connection| {
            let sql = format!(
                "SELECT {} FROM market_bars WHERE symbol = ?1 AND market_type = ?2 AND granularity = ?3
                 AND ts < ?4 ORDER BY ts DESC LIMIT ?5",
                BAR_COLUMNS.join(", ")
            );
            let values = [
                text(&series.symbol),
                text(series.market_type),
                text(series.granularity),
                Value::Text(codec::ts(before)),
                Value::Integer(i64::from(count)),
            ];
            let mut bars = query_rows(connection, &sql, &values, &BARS)?;
            bars.reverse();
            Ok(bars)
        })
        .await
    }

    async fn count_bars(
        &self,
        series: &SeriesKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        let series = series.clone();
        self.read(move |connection| {
            connection
                .query_row(
                    "SELECT count(*) FROM market_bars WHERE symbol = ?1 AND market_type = ?2
                     AND granularity = ?3 AND ts >= ?4 AND ts <= ?5",
                    params![
                        series.symbol,
                        series.market_type.as_str(),
                        series.granularity.as_str(),
                        codec::ts(from),
                        codec::ts(to)
                    ],
                    |row| row.get(0),
                )
                .map_err(db_error)
        })
        .await
    }

    async fn create_task(&self, task: &Task, run_account: &VirtualAccount) -> Result<()> {
        let task_values = task_values(task);
        let account_values = account_values(run_account)?;
        let task_id = task.task_id.clone();
        let account_id = run_account.account_id.clone();
        self.write(move |tx| {
            tx.prepare_cached(&TASK_SQL.insert)
                .map_err(db_error)?
                .execute(params_from_iter(task_values.iter()))
                .map_err(insert_error("task", &task_id))?;
            tx.prepare_cached(&ACCOUNT_SQL.insert)
                .map_err(db_error)?
                .execute(params_from_iter(account_values.iter()))
                .map_err(insert_error("account", &account_id))?;
            Ok(())
        })
        .await
    }

    async fn get_task(&self, task_id: &str) -> Result<Task> {
        let id = task_id.to_string();
        self.read(move |connection| get_task_in(connection, &id))
            .await
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<Page<Task>> {
        let limit = clamp_limit(query.limit);
        let query = query.clone();
        self.read(move |connection| {
            let mut sql = format!("{} WHERE 1 = 1", TASK_SQL.select);
            let mut values = Vec::new();
            if let Some(status) = query.status {
                values.push(text(status));
                sql.push_str(&format!(" AND status = ?{}", values.len()));
            }
            if let Some(symbol) = &query.stock_symbol {
                values.push(text(symbol));
                sql.push_str(&format!(" AND stock_symbol = ?{}", values.len()));
            }
            if let Some(account) = &query.account_id {
                values.push(text(account));
                sql.push_str(&format!(" AND account_id = ?{}", values.len()));
            }
            if let Some(cursor) = &query.cursor {
                let (time, id) = parse_time_cursor(cursor)?;
                values.push(Value::Text(codec::ts(time)));
                values.push(text(id));
                sql.push_str(&format!(
                    " AND (created_at, task_id) < (?{}, ?{})",
                    values.len() - 1,
                    values.len()
                ));
            }
            values.push(Value::Integer(i64::from(limit) + 1));
            sql.push_str(&format!(
                " ORDER BY created_at DESC, task_id DESC LIMIT ?{}",
                values.len()
            ));
            let rows = query_rows(connection, &sql, &values, &TASKS)?;
            Ok(into_page(rows, limit, |t| {
                time_cursor(t.created_at, &t.task_id)
            }))
        })
        .await
    }

    async fn get_task_account(&self, task_id: &str) -> Result<VirtualAccount> {
        let id = task_id.to_string();
        self.read(move |connection| {
            query_one(
                connection,
                &format!("{} WHERE task_id = ?1", ACCOUNT_SQL.select),
                &[text(&id)],
                &ACCOUNTS,
                &id,
            )
        })
        .await
    }

    async fn update_lifecycle(
        &self,
        task_id: &str,
        expected: TaskStatus,
        lifecycle: &Lifecycle,
    ) -> Result<Task> {
        let id = task_id.to_string();
        let l = lifecycle.clone();
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE tasks SET status = ?2, started_at = ?3, paused_at = ?4, resumed_at = ?5,
                       completed_at = ?6, error_message = ?7, stats = ?8, lease_owner = ?9,
                       lease_expires_at = ?10, updated_at = ?11
                     WHERE task_id = ?1 AND status = ?12",
                    params![
                        id,
                        l.status.as_str(),
                        codec::opt_ts(l.started_at),
                        codec::opt_ts(l.paused_at),
                        codec::opt_ts(l.resumed_at),
                        codec::opt_ts(l.completed_at),
                        l.error_message,
                        l.stats.as_ref().map(codec::json),
                        l.lease_owner,
                        codec::opt_ts(l.lease_expires_at),
                        codec::ts(l.updated_at),
                        expected.as_str(),
                    ],
                )
                .map_err(db_error)?;
            let task = get_task_in(tx, &id)?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!(
                    "task {id} is {}, not {expected}",
                    task.status
                )));
            }
            Ok(task)
        })
        .await
    }

    async fn claim_task(
        &self,
        worker: &str,
        filter: ClaimFilter<'_>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Task>> {
        let worker = worker.to_string();
        let task_id = filter.task_id.map(str::to_string);
        let strategy = filter.strategy.map(|s| match s {
            StrategyFilter::Only(name) => ("=", name.to_string()),
            StrategyFilter::Except(name) => ("<>", name.to_string()),
        });
        self.write(move |tx| {
            let now_text = codec::ts(now);
            let candidate: Option<String> = {
                let mut sql = String::from(
                    "SELECT task_id FROM tasks WHERE status = 'RUNNING'
                     AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < ?1)",
                );
                let mut values = vec![Value::Text(now_text.clone())];
                if let Some(id) = &task_id {
                    values.push(text(id));
                    sql.push_str(&format!(" AND task_id = ?{}", values.len()));
                }
                if let Some((op, name)) = &strategy {
                    values.push(text(name));
                    sql.push_str(&format!(" AND strategy {op} ?{}", values.len()));
                }
                sql.push_str(" ORDER BY created_at, task_id LIMIT 1");
                tx.query_row(&sql, params_from_iter(values.iter()), |row| row.get(0))
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        other => Err(other),
                    })
                    .map_err(db_error)?
            };
            let Some(id) = candidate else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE tasks SET lease_owner = ?2, lease_expires_at = ?3, updated_at = ?4 WHERE task_id = ?1",
                params![id, worker, codec::ts(lease_until), now_text],
            )
            .map_err(db_error)?;
            Ok(Some(get_task_in(tx, &id)?))
        })
        .await
    }

    async fn renew_lease(
        &self,
        task_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let id = task_id.to_string();
        let worker = worker.to_string();
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE tasks SET lease_expires_at = ?3 WHERE task_id = ?1 AND lease_owner = ?2",
                    params![id, worker, codec::ts(lease_until)],
                )
                .map_err(db_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_task(&self, task_id: &str) -> Result<()> {
        let id = task_id.to_string();
        self.write(move |tx| {
            let deleted = tx
                .execute("DELETE FROM tasks WHERE task_id = ?1", params![id])
                .map_err(db_error)?;
            if deleted == 0 {
                return Err(StoreError::NotFound { entity: "task", id });
            }
            for table in [
                "account_snapshots",
                "local_decisions",
                "trade_records",
                "virtual_accounts",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE task_id = ?1"),
                    params![id],
                )
                .map_err(db_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn commit_steps_after(
        &self,
        batch: StepBatch,
        after: Option<After>,
    ) -> Result<CommitOutcome> {
        let task_id = batch.task_id.clone();
        // Rendering runs on the blocking pool too, beside the writer's work on the previous
        // batch.
        let encoded = tokio::task::spawn_blocking(move || EncodedBatch::new(batch))
            .await
            .map_err(|e| StoreError::Database(format!("encoding a batch: {e}")))??;
        if let Some(after) = after
            && !after.await
        {
            return Err(predecessor_failed(&task_id));
        }
        self.write(move |tx| encoded.write(tx)).await
    }

    async fn list_decisions(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<LocalDecision>> {
        let limit = clamp_limit(query.limit);
        let task_id = task_id.to_string();
        let query = query.clone();
        self.read(move |connection| {
            let (from, to) = record_window(&query);
            let mut values = vec![text(&task_id), from, to];
            let mut sql = format!(
                "{} WHERE task_id = ?1 AND (?2 IS NULL OR analysis_date >= ?2) AND (?3 IS NULL OR analysis_date <= ?3)",
                DECISION_SQL.select
            );
            if let Some(action) = query.action {
                values.push(text(action));
                sql.push_str(&format!(" AND decision_result = ?{}", values.len()));
            }
            if let Some(cursor) = &query.cursor {
                let (time, id) = parse_time_cursor(cursor)?;
                values.push(Value::Text(codec::ts(time)));
                values.push(text(id));
                sql.push_str(&format!(
                    " AND (analysis_date, decision_id) > (?{}, ?{})",
                    values.len() - 1,
                    values.len()
                ));
            }
            values.push(Value::Integer(i64::from(limit) + 1));
            sql.push_str(&format!(" ORDER BY analysis_date, decision_id LIMIT ?{}", values.len()));
            let rows = query_rows(connection, &sql, &values, &DECISIONS)?;
            Ok(into_page(rows, limit, |d| {
                d.cursor()
            }))
        })
        .await
    }

    async fn list_trades(&self, task_id: &str, query: &RecordQuery) -> Result<Page<TradeRecord>> {
        let limit = clamp_limit(query.limit);
        let task_id = task_id.to_string();
        let query = query.clone();
        self.read(move |connection| {
            let (from, to) = record_window(&query);
            let mut values = vec![text(&task_id), from, to];
            let mut sql = format!(
                "{} WHERE task_id = ?1 AND (?2 IS NULL OR trade_time >= ?2) AND (?3 IS NULL OR trade_time <= ?3)",
                TRADE_SQL.select
            );
            if let Some(action) = query.action {
                values.push(text(action));
                sql.push_str(&format!(" AND trade_action = ?{}", values.len()));
            }
            if let Some(cursor) = &query.cursor {
                let (time, id) = parse_time_cursor(cursor)?;
                values.push(Value::Text(codec::ts(time)));
                values.push(text(id));
                sql.push_str(&format!(
                    " AND (trade_time, trade_id) > (?{}, ?{})",
                    values.len() - 1,
                    values.len()
                ));
            }
            values.push(Value::Integer(i64::from(limit) + 1));
            sql.push_str(&format!(" ORDER BY trade_time, trade_id LIMIT ?{}", values.len()));
            let rows = query_rows(connection, &sql, &values, &TRADES)?;
            Ok(into_page(rows, limit, |t| time_cursor(t.trade_time, &t.trade_id)))
        })
        .await
    }

    async fn list_snapshots(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<AccountSnapshot>> {
        let limit = clamp_limit(query.limit);
        let task_id = task_id.to_string();
        let query = query.clone();
        self.read(move |connection| {
            // Snapshot ids are `<task id>-s<bar number>`: a range of the primary key is the
            // task's snapshots in time order, whatever other tasks wrote in between.
            let prefix = format!("{task_id}-s");
            let lower = match &query.cursor {
                Some(cursor) => {
                    if !cursor.starts_with(&prefix) {
                        return Err(StoreError::Invalid {
                            field: "cursor",
                            reason: format!("{cursor:?} is not a cursor of this task's snapshots"),
                        });
                    }
                    cursor.clone()
                }
                None => prefix.clone(),
            };
            let (from, to) = record_window(&query);
            let values = vec![
                text(lower),
                text(prefix_end(&prefix)),
                from,
                to,
                Value::Integer(i64::from(limit) + 1),
            ];
            let sql = format!(
                "{} WHERE snapshot_id > ?1 AND snapshot_id < ?2 AND (?3 IS NULL OR timestamp >= ?3)
                 AND (?4 IS NULL OR timestamp <= ?4) ORDER BY snapshot_id LIMIT ?5",
                SNAPSHOT_SQL.select
            );
            let rows = query_rows(connection, &sql, &values, &SNAPSHOTS)?;
            Ok(into_page(rows, limit, |s| s.snapshot_id.clone()))
        })
        .await
    }

    async fn get_cached_answer(&self, cache_key: &str) -> Result<Option<CachedAnswer>> {
        let key = cache_key.to_string();
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT cache_key, base_url, model, response, created_at FROM llm_cache WHERE cache_key = ?1",
                )
                .map_err(db_error)?;
            let mut rows = statement.query(params![key]).map_err(db_error)?;
            let Some(row) = rows.next().map_err(db_error)? else {
                return Ok(None);
            };
            const COLUMNS: &[&str] = &["cache_key", "base_url", "model", "response", "created_at"];
            let r = Reader { row, table: "llm_cache", columns: COLUMNS };
            Ok(Some(CachedAnswer {
                cache_key: r.text(0)?,
                base_url: r.text(1)?,
                model: r.text(2)?,
                response: r.json(3)?,
                created_at: r.time(4)?,
            }))
        })
        .await
    }

    async fn put_cached_answer(&self, answer: &CachedAnswer) -> Result<()> {
        let answer = answer.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO llm_cache (cache_key, base_url, model, response, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (cache_key) DO NOTHING",
            )
            .map_err(db_error)?
            .execute(params![
                answer.cache_key,
                answer.base_url,
                answer.model,
                codec::json(&answer.response),
                codec::ts(answer.created_at),
            ])
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }
}
