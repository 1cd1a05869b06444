//! The [`Store`] on PostgreSQL: statements come from `aibt_store::sql`, each operation runs on
//! a pooled connection, and those that write more than one statement run in a transaction.

use std::path::Path;

use aibt_core::{Bar, TaskStatus};
use aibt_store::sql::{
    ExperimentStatus, LIFECYCLE, LifecycleChange, TABLES, TASK_RECORD_TABLES, TASKS, TableRow,
    query, task_status,
};
use aibt_store::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;

use crate::codec::{DIALECT, Params, Reader, RowParams, db_error, refs};
use crate::connection::PostgresStore;
use crate::migrations::{self, LATEST_VERSION};
use crate::tables::{count, delete_unused, execute, get, insert, insert_many, update};

/// Names identify AI configs on the CLI; creations and renames are serialised so two configs
/// cannot end up sharing one.
const LOCK_AI_CONFIGS: &str = "LOCK TABLE ai_configs IN SHARE ROW EXCLUSIVE MODE";

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn schema_version(&self) -> Result<i64> {
        migrations::current_version(&self.client().await?).await
    }

    async fn check(&self) -> Result<CheckReport> {
        let client = self.client().await?;
        let mut tables = Vec::new();
        for table in TABLES {
            let count: i64 = client
                .query_one(&query::count_rows(table), &[])
                .await
                .map_err(db_error)?
                .get(0);
            tables.push((table.name.to_string(), count));
        }
        // PostgreSQL checks pages as it reads them; a full scan of every table above is the
        // integrity check a user can run without superuser extensions.
        Ok(CheckReport {
            backend: Backend::Postgres,
            schema_version: migrations::current_version(&client).await?,
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

    async fn vacuum(&self) -> Result<VacuumReport> {
        let client = self.client().await?;
        let size = "SELECT pg_database_size(current_database())";
        let bytes_before: i64 = client.query_one(size, &[]).await.map_err(db_error)?.get(0);
        // Plain VACUUM takes no lock that stops readers or writers; the space it frees is
        // reused by later rows (VACUUM FULL would return it to the system, but locks every
        // table while it rewrites it).
        for table in TABLES {
            client
                .batch_execute(&format!("VACUUM (ANALYZE) {}", table.name))
                .await
                .map_err(db_error)?;
        }
        let bytes_after: i64 = client.query_one(size, &[]).await.map_err(db_error)?.get(0);
        Ok(VacuumReport {
            bytes_before: u64::try_from(bytes_before).unwrap_or(0),
            bytes_after: u64::try_from(bytes_after).unwrap_or(0),
        })
    }

    async fn insert_account(&self, account: &VirtualAccount) -> Result<()> {
        self.insert(account).await
    }

    async fn get_account(&self, account_id: &str) -> Result<VirtualAccount> {
        self.get(account_id).await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<VirtualAccount>> {
        self.page(query::accounts(DIALECT, query)).await
    }

    async fn update_account(&self, account: &VirtualAccount) -> Result<()> {
        self.update(account).await
    }

    async fn delete_account(&self, account_id: &str) -> Result<()> {
        let delete = query::delete_account(DIALECT, account_id);
        delete_unused(&mut self.client().await?, &delete).await
    }

    async fn insert_template(&self, template: &PromptTemplate) -> Result<()> {
        self.insert(template).await
    }

    async fn get_template(&self, prompt_id: &str) -> Result<PromptTemplate> {
        self.get(prompt_id).await
    }

    async fn list_templates(
        &self,
        include_deleted: bool,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<PromptTemplate>> {
        self.page(query::templates(
            DIALECT,
            include_deleted,
            limit,
            cursor.as_deref(),
        ))
        .await
    }

    async fn update_template(&self, template: &PromptTemplate) -> Result<()> {
        self.update(template).await
    }

    async fn insert_ai_config(&self, config: &AiConfig) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.execute(LOCK_AI_CONFIGS, &[]).await.map_err(db_error)?;
        if count(&tx, &query::configs_named(DIALECT, &config.name, None)).await? > 0 {
            return Err(StoreError::name_taken(&config.name));
        }
        insert(&tx, config).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_ai_config(&self, config_id: &str) -> Result<AiConfig> {
        self.get(config_id).await
    }

    async fn find_ai_config_by_name(&self, name: &str) -> Result<Option<AiConfig>> {
        self.first(query::ai_config_named(DIALECT, name)).await
    }

    async fn list_ai_configs(&self, limit: u32, cursor: Option<String>) -> Result<Page<AiConfig>> {
        self.page(query::ai_configs(DIALECT, limit, cursor.as_deref()))
            .await
    }

    async fn update_ai_config(&self, config: &AiConfig) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.execute(LOCK_AI_CONFIGS, &[]).await.map_err(db_error)?;
        let others = query::configs_named(DIALECT, &config.name, Some(&config.config_id));
        if count(&tx, &others).await? > 0 {
            return Err(StoreError::name_taken(&config.name));
        }
        update(&tx, config).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn delete_ai_config(&self, config_id: &str) -> Result<()> {
        let delete = query::delete_ai_config(DIALECT, config_id);
        delete_unused(&mut self.client().await?, &delete).await
    }

    async fn import_bars(
        &self,
        series: &SeriesKey,
        bars: Vec<Bar>,
        mode: ImportMode,
    ) -> Result<ImportOutcome> {
        let bars = bars.as_slice();
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
            let range = BarRange {
                from: Some(first),
                to: Some(last),
                ..BarRange::default()
            };
            for bar in
                crate::tables::query_rows::<Bar>(&tx, &query::bars(DIALECT, series, range)).await?
            {
                stored.insert(bar.ts, bar);
            }
        }
        let mut outcome = ImportOutcome::default();
        let mut to_write = Vec::new();
        for bar in bars {
            let same = stored.get(&bar.ts).map(|existing| existing == bar);
            if outcome.count(series, bar, same, mode)? {
                to_write.push(*bar);
            }
        }
        // Nothing stored in the file's span (a first import, or one past the ends): no bar can
        // conflict, and COPY streams them in one statement.
        if stored.is_empty() {
            crate::tables::copy_bars(&tx, series, &to_write).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(outcome);
        }
        // One statement per 1000 bars keeps the parameter count under PostgreSQL's limit.
        for chunk in to_write.chunks(1000) {
            let mut sql = String::from(
                "INSERT INTO market_bars (symbol, market_type, granularity, ts, open, high, low, close, volume) VALUES ",
            );
            let mut params: Params = vec![
                Box::new(series.symbol.clone()),
                Box::new(market),
                Box::new(granularity),
            ];
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

    async fn describe_series(&self, series: &SeriesKey, description: &str) -> Result<()> {
        let query = query::describe_series(DIALECT, series, description, aibt_core::time::now());
        crate::tables::execute(&self.client().await?, &query)
            .await
            .map(|_| ())
    }

    async fn list_series(&self) -> Result<Vec<SeriesInfo>> {
        self.rows(query::series(DIALECT, None)).await
    }

    async fn series_info(&self, series: &SeriesKey) -> Result<Option<SeriesInfo>> {
        self.first(query::series(DIALECT, Some(series))).await
    }

    async fn series_bounds(
        &self,
        series: &SeriesKey,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let first: Option<Bar> = self
            .first(query::series_end(DIALECT, series, "ASC"))
            .await?;
        let last: Option<Bar> = self
            .first(query::series_end(DIALECT, series, "DESC"))
            .await?;
        Ok(first.map(|b| b.ts).zip(last.map(|b| b.ts)))
    }

    async fn bars(&self, series: &SeriesKey, range: BarRange) -> Result<Vec<Bar>> {
        self.rows(query::bars(DIALECT, series, range)).await
    }

    async fn bars_before(
        &self,
        series: &SeriesKey,
        before: DateTime<Utc>,
        count: u32,
    ) -> Result<Vec<Bar>> {
        let mut bars: Vec<Bar> = self
            .rows(query::bars_before(DIALECT, series, before, count))
            .await?;
        bars.reverse();
        Ok(bars)
    }

    async fn import_context(&self, items: &[ContextItem]) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let put = tx
            .prepare(&query::put_context_item(DIALECT))
            .await
            .map_err(db_error)?;
        for item in items {
            tx.execute(&put, &refs(&RowParams::of(item)?))
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(items.len() as u64)
    }

    async fn context_items(
        &self,
        symbol: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<ContextItem>> {
        self.rows(query::context_items(DIALECT, symbol, until))
            .await
    }

    async fn count_bars(
        &self,
        series: &SeriesKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        self.count(query::count_bars(DIALECT, series, from, to))
            .await
    }

    async fn create_task(&self, task: &Task, run_account: &VirtualAccount) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        insert(&tx, task).await?;
        insert(&tx, run_account).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_task(&self, task_id: &str) -> Result<Task> {
        self.get(task_id).await
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<Page<Task>> {
        self.page(query::tasks(DIALECT, query)).await
    }

    async fn get_task_account(&self, task_id: &str) -> Result<VirtualAccount> {
        self.one(query::run_account(DIALECT, task_id), task_id)
            .await
    }

    async fn update_lifecycle(
        &self,
        task_id: &str,
        expected: TaskStatus,
        holder: Option<&str>,
        lifecycle: &Lifecycle,
    ) -> Result<Task> {
        let mut params = RowParams::new(&LIFECYCLE);
        let change = LifecycleChange {
            task_id,
            expected,
            holder,
            lifecycle,
        };
        change.bind(&mut params);
        let sql = change.sql(DIALECT);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let changed = tx
            .execute(&sql, &refs(&params.into_params()))
            .await
            .map_err(db_error)?;
        let task: Task = get(&tx, task_id).await?;
        if changed == 0 {
            return Err(StoreError::refused_change(
                task_id,
                task.status,
                task.lease_owner.as_deref(),
                expected,
                holder,
            ));
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
        let (only_strategy, except_strategy) = match filter.strategy {
            Some(StrategyFilter::Only(name)) => (Some(name), None),
            Some(StrategyFilter::Except(name)) => (None, Some(name)),
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
            TASKS.columns.join(", ")
        );
        let params: [&(dyn ToSql + Sync); 6] = [
            &worker,
            &lease_until,
            &now,
            &filter.task_id,
            &only_strategy,
            &except_strategy,
        ];
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await.map_err(db_error)?;
        let rows = client.query(&statement, &params).await.map_err(db_error)?;
        rows.first()
            .map(|row| Task::read(&Reader { row, table: &TASKS }))
            .transpose()
    }

    async fn renew_lease(
        &self,
        task_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let renew = query::renew_lease(DIALECT, task_id, worker, lease_until);
        Ok(execute(&self.client().await?, &renew).await? == 1)
    }

    async fn claim_call_slot(
        &self,
        config_id: &str,
        limit: u32,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u32>> {
        let client = self.client().await?;
        // Each claim is one atomic statement: two workers racing for a slot both run the
        // upsert, and PostgreSQL lets only the first change the row.
        for slot in 0..limit {
            let claim = query::claim_call_slot(DIALECT, config_id, slot, holder, now, until);
            if execute(&client, &claim).await? == 1 {
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }

    async fn release_call_slot(&self, config_id: &str, slot: u32, holder: &str) -> Result<()> {
        let release = query::release_call_slot(DIALECT, config_id, slot, holder);
        execute(&self.client().await?, &release).await.map(|_| ())
    }

    async fn delete_task(&self, task_id: &str, refuse: &[TaskStatus]) -> Result<DeleteOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // READ COMMITTED: the DELETE locks the row and re-tests the status on the latest
        // version, so a concurrent start either commits first (and refuses the delete) or
        // waits for it and then finds no row.
        let delete = query::delete_task(DIALECT, task_id, refuse);
        if execute(&tx, &delete).await? == 0 {
            // Missing (NotFound) or refused. The status is read under the row lock; should it
            // have left `refuse` since the DELETE looked, the lock now holds it, so the delete
            // is taken again instead of reporting a status that would not refuse it.
            let row = tx
                .query_opt(&query::lock_task_state(DIALECT), &[&task_id])
                .await
                .map_err(db_error)?
                .ok_or_else(|| StoreError::not_found("task", task_id))?;
            let status = task_status(row.get(0))?;
            if refuse.contains(&status) {
                return Ok(DeleteOutcome::Refused(status));
            }
            execute(&tx, &delete).await?;
        }
        execute(&tx, &query::delete_run_account(DIALECT, task_id)).await?;
        execute(&tx, &query::delete_experiment_run(DIALECT, task_id)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(DeleteOutcome::Deleted)
    }

    async fn purge_task_records(&self, task_id: &str, limit: u32) -> Result<u64> {
        let client = self.client().await?;
        let mut removed = 0;
        for table in TASK_RECORD_TABLES {
            let purge = query::purge_task_records(DIALECT, table, task_id, limit);
            removed += execute(&client, &purge).await?;
        }
        Ok(removed)
    }

    async fn orphaned_record_tasks(&self) -> Result<Vec<String>> {
        let client = self.client().await?;
        let mut tasks = std::collections::BTreeSet::new();
        for table in TASK_RECORD_TABLES {
            let rows = client
                .query(&query::orphaned_record_tasks(table), &[])
                .await
                .map_err(db_error)?;
            tasks.extend(rows.iter().map(|row| row.get::<_, String>(0)));
        }
        Ok(tasks.into_iter().collect())
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
        self.page(query::decisions(DIALECT, task_id, query)).await
    }

    async fn list_trades(&self, task_id: &str, query: &RecordQuery) -> Result<Page<TradeRecord>> {
        self.page(query::trades(DIALECT, task_id, query)).await
    }

    async fn list_snapshots(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<AccountSnapshot>> {
        self.page(query::snapshots(DIALECT, task_id, query)).await
    }

    async fn create_experiment(
        &self,
        experiment: &Experiment,
        tasks: &[(Task, VirtualAccount)],
        runs: &[ExperimentRun],
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        insert(&tx, experiment).await?;
        insert_many(&tx, tasks.iter().map(|(task, _)| task)).await?;
        insert_many(&tx, tasks.iter().map(|(_, account)| account)).await?;
        insert_many(&tx, runs).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.get(experiment_id).await
    }

    async fn list_experiments(
        &self,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<Experiment>> {
        self.page(query::experiments(DIALECT, limit, cursor.as_deref()))
            .await
    }

    async fn update_experiment(
        &self,
        experiment_id: &str,
        status: TaskStatus,
        error_message: Option<String>,
        updated_at: DateTime<Utc>,
    ) -> Result<Experiment> {
        let change = ExperimentStatus {
            experiment_id: experiment_id.to_string(),
            status,
            error_message,
            updated_at,
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        update(&tx, &change).await?;
        let experiment = get(&tx, experiment_id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(experiment)
    }

    async fn list_experiment_runs(&self, experiment_id: &str) -> Result<Vec<ExperimentRun>> {
        self.rows(query::experiment_runs(DIALECT, experiment_id))
            .await
    }

    async fn experiment_of_task(&self, task_id: &str) -> Result<Option<String>> {
        let run: Option<ExperimentRun> = self
            .first(query::experiment_run_of_task(DIALECT, task_id))
            .await?;
        Ok(run.map(|run| run.experiment_id))
    }

    async fn get_cached_answer(&self, cache_key: &str) -> Result<Option<CachedAnswer>> {
        self.first(query::get::<CachedAnswer>(DIALECT, cache_key))
            .await
    }

    async fn put_cached_answer(&self, answer: &CachedAnswer) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                &query::put_cached_answer(DIALECT),
                &refs(&RowParams::of(answer)?),
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
