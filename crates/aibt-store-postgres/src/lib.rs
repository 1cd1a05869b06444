//! aibt's PostgreSQL store, for many workers on one database.
//!
//! Tasks are claimed with `FOR UPDATE SKIP LOCKED`, so workers on many hosts never wait on
//! each other's candidate rows, and every step batch re-checks the lease under a row lock, so
//! a worker that lost its task cannot write into it.

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
use tokio_postgres::types::Json;

use codec::{Params, Reader, db_error, insert_error, refs, text};
use tables::*;

pub use connection::PostgresStore;
pub use migrations::LATEST_VERSION;

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
        for table in migrations::TABLES {
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

    async fn delete_task(&self, task_id: &str) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let deleted = tx
            .execute("DELETE FROM tasks WHERE task_id = $1", &[&task_id])
            .await
            .map_err(db_error)?;
        if deleted == 0 {
            return Err(StoreError::NotFound {
                entity: "task",
                id: task_id.to_string(),
            });
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
        tx.commit().await.map_err(db_error)
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
        self.commit_batch(batch).await
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
