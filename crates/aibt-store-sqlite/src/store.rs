//! The [`Store`] on SQLite: statements come from `aibt_store::sql`, reads run on a pooled
//! reader connection, and every write is one `BEGIN IMMEDIATE` transaction on the writer.

use std::path::Path;

use aibt_core::{Bar, TaskStatus};
use aibt_store::sql::{
    ExperimentStatus, LifecycleChange, SNAPSHOTS, TABLES, TASK_RECORD_TABLES, query,
};
use aibt_store::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter};

use crate::batch::EncodedBatch;
use crate::codec::{self, DIALECT, Values, db_error};
use crate::connection::{SqliteStore, file_size};
use crate::migrations::{self, LATEST_VERSION};
use crate::tables::{Encoded, count, delete_unused, execute, get, insert_all, query_rows};

/// The indexes that serve the columns of the views over compact tables, as the catalog lists
/// them: `(view, index, columns, unique)`. `market_bars` is unique on the key of `bar_series`
/// with that of `bar_rows`; a snapshot id on the unique prefix with the steps' key; the others
/// are the seed's, on `snapshot_series` and `snapshot_steps`.
const VIEW_INDEXES: &[(&str, &str, &[&str], bool)] = &[
    (
        "market_bars",
        "sqlite_autoindex_bar_series_1 + bar_rows primary key",
        &["symbol", "market_type", "granularity", "ts"],
        true,
    ),
    (
        "account_snapshots",
        "sqlite_autoindex_snapshot_prefixes_1 + snapshot_steps primary key",
        &["snapshot_id"],
        true,
    ),
    (
        "account_snapshots",
        "ix_account_snapshots_task_id",
        &["task_id"],
        false,
    ),
    (
        "account_snapshots",
        "ix_account_snapshots_account_id",
        &["account_id"],
        false,
    ),
    (
        "account_snapshots",
        "ix_account_snapshots_timestamp",
        &["timestamp"],
        false,
    ),
];

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
            for table in TABLES {
                let count: i64 = connection
                    .query_row(&query::count_rows(table), [], |row| row.get(0))
                    .map_err(db_error)?;
                tables.push((table.name.to_string(), count));
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
            // `market_bars` and `account_snapshots` are views (migrations 9 and 10): their
            // columns are served by indexes of the tables beneath them.
            for (view, name, columns, unique) in VIEW_INDEXES {
                out.push(IndexInfo {
                    table: view.to_string(),
                    name: name.to_string(),
                    columns: columns.iter().map(|c| c.to_string()).collect(),
                    unique: *unique,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn backup(&self, destination: &Path) -> Result<()> {
        let target = destination.to_path_buf();
        // An empty file may receive VACUUM INTO; making it first gives it the owner-only mode
        // a backup of private data should have.
        if destination.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists; choose a new file for the backup",
                destination.display()
            )));
        }
        crate::connection::create_private(destination)?;
        let result = self
            .read(move |connection| {
                // VACUUM INTO reads in one transaction, so the copy is consistent while
                // others keep writing, and it comes out compacted.
                connection
                    .execute("VACUUM INTO ?1", params![target.to_string_lossy()])
                    .map_err(db_error)?;
                Ok(())
            })
            .await;
        if result.is_err() {
            let _ = std::fs::remove_file(destination);
        }
        result
    }

    async fn vacuum(&self) -> Result<VacuumReport> {
        self.checkpoint_and_truncate().await?;
        let bytes_before = file_size(self.path());
        self.without_transaction(|connection| connection.execute_batch("VACUUM").map_err(db_error))
            .await?;
        // VACUUM wrote the new pages through the log; copy them home too.
        self.checkpoint_and_truncate().await?;
        Ok(VacuumReport {
            bytes_before,
            bytes_after: file_size(self.path()),
        })
    }

    async fn close(&self) -> Result<()> {
        self.checkpoint_and_truncate().await
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
        self.write(move |tx| delete_unused(tx, &delete)).await
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
        let taken = query::configs_named(DIALECT, &config.name, None);
        let (row, name) = (Encoded::new(config)?, config.name.clone());
        self.write(move |tx| {
            if count(tx, &taken)? > 0 {
                return Err(StoreError::name_taken(&name));
            }
            row.insert(tx)
        })
        .await
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
        let taken = query::configs_named(DIALECT, &config.name, Some(&config.config_id));
        let (row, name) = (Encoded::new(config)?, config.name.clone());
        self.write(move |tx| {
            if count(tx, &taken)? > 0 {
                return Err(StoreError::name_taken(&name));
            }
            row.update(tx)
        })
        .await
    }

    async fn delete_ai_config(&self, config_id: &str) -> Result<()> {
        let delete = query::delete_ai_config(DIALECT, config_id);
        self.write(move |tx| delete_unused(tx, &delete)).await
    }

    async fn import_bars(
        &self,
        series: &SeriesKey,
        bars: Vec<Bar>,
        mode: ImportMode,
    ) -> Result<ImportOutcome> {
        let series = series.clone();
        self.write(move |tx| crate::bars::import(tx, &series, &bars, mode))
            .await
    }

    async fn describe_series(&self, series: &SeriesKey, description: &str) -> Result<()> {
        let query = query::describe_series(DIALECT, series, description, aibt_core::time::now());
        self.write(move |tx| crate::tables::execute(tx, &query).map(|_| ()))
            .await
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
        let first = query::series_end(DIALECT, series, "ASC");
        let last = query::series_end(DIALECT, series, "DESC");
        self.read(move |connection| {
            let end = |query| -> Result<Option<DateTime<Utc>>> {
                Ok(query_rows::<Bar>(connection, query)?.first().map(|b| b.ts))
            };
            Ok(end(&first)?.zip(end(&last)?))
        })
        .await
    }

    async fn bars(&self, series: &SeriesKey, range: BarRange) -> Result<Vec<Bar>> {
        let expected = range.limit.unwrap_or(0) as usize;
        let query = query::bars_from(DIALECT, crate::bars::BAR_VALUES, series, range);
        self.read(move |connection| crate::bars::read(connection, &query, expected))
            .await
    }

    async fn bars_before(
        &self,
        series: &SeriesKey,
        before: DateTime<Utc>,
        count: u32,
    ) -> Result<Vec<Bar>> {
        let query =
            query::bars_before_from(DIALECT, crate::bars::BAR_VALUES, series, before, count);
        let mut bars: Vec<Bar> = self
            .read(move |connection| crate::bars::read(connection, &query, count as usize))
            .await?;
        bars.reverse();
        Ok(bars)
    }

    async fn import_context(&self, items: &[ContextItem]) -> Result<u64> {
        let rows = items.iter().map(Values::of).collect::<Result<Vec<_>>>()?;
        self.write(move |tx| {
            let mut put = tx
                .prepare_cached(&query::put_context_item(DIALECT))
                .map_err(db_error)?;
            for values in &rows {
                put.execute(params_from_iter(values.iter()))
                    .map_err(db_error)?;
            }
            Ok(rows.len() as u64)
        })
        .await
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
        let query = query::count_bars(DIALECT, series, from, to);
        self.read(move |connection| count(connection, &query)).await
    }

    async fn create_task(&self, task: &Task, run_account: &VirtualAccount) -> Result<()> {
        let (task, account) = (Encoded::new(task)?, Encoded::new(run_account)?);
        self.write(move |tx| {
            task.insert(tx)?;
            account.insert(tx)
        })
        .await
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
        let id = task_id.to_string();
        let mut values = Values(Vec::new());
        let change = LifecycleChange {
            task_id,
            expected,
            holder,
            lifecycle,
        };
        change.bind(&mut values);
        let sql = change.sql(DIALECT);
        let holder = holder.map(str::to_string);
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(&sql)
                .map_err(db_error)?
                .execute(params_from_iter(values.0.iter()))
                .map_err(db_error)?;
            let task: Task = get(tx, &id)?;
            if changed == 0 {
                return Err(StoreError::refused_change(
                    &id,
                    task.status,
                    task.lease_owner.as_deref(),
                    expected,
                    holder.as_deref(),
                ));
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
                let mut values = vec![now_text.clone()];
                if let Some(id) = &task_id {
                    values.push(id.clone());
                    sql.push_str(&format!(" AND task_id = ?{}", values.len()));
                }
                if let Some((op, name)) = &strategy {
                    values.push(name.clone());
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
            Ok(Some(get(tx, &id)?))
        })
        .await
    }

    async fn renew_lease(
        &self,
        task_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let renew = query::renew_lease(DIALECT, task_id, worker, lease_until);
        self.write(move |tx| Ok(execute(tx, &renew)? == 1)).await
    }

    async fn claim_call_slot(
        &self,
        config_id: &str,
        limit: u32,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u32>> {
        let claims: Vec<(u32, query::Query)> = (0..limit)
            .map(|slot| {
                let claim = query::claim_call_slot(DIALECT, config_id, slot, holder, now, until);
                (slot, claim)
            })
            .collect();
        self.write(move |tx| {
            for (slot, claim) in &claims {
                if execute(tx, claim)? == 1 {
                    return Ok(Some(*slot));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn release_call_slot(&self, config_id: &str, slot: u32, holder: &str) -> Result<()> {
        let release = query::release_call_slot(DIALECT, config_id, slot, holder);
        self.write(move |tx| execute(tx, &release).map(|_| ()))
            .await
    }

    async fn delete_task(&self, task_id: &str, refuse: &[TaskStatus]) -> Result<DeleteOutcome> {
        let id = task_id.to_string();
        let delete = query::delete_task(DIALECT, task_id, refuse);
        let with_it = [
            query::delete_run_account(DIALECT, task_id),
            query::delete_experiment_run(DIALECT, task_id),
        ];
        self.write(move |tx| {
            if execute(tx, &delete)? == 0 {
                // Missing (NotFound), or refused by its status, which the writer's lock keeps
                // as the DELETE saw it.
                let task: Task = get(tx, &id)?;
                return Ok(DeleteOutcome::Refused(task.status));
            }
            for statement in &with_it {
                execute(tx, statement)?;
            }
            Ok(DeleteOutcome::Deleted)
        })
        .await
    }

    async fn purge_task_records(&self, task_id: &str, limit: u32) -> Result<u64> {
        let mut removed = 0;
        for table in TASK_RECORD_TABLES {
            removed += if table.name == SNAPSHOTS.name {
                let task_id = task_id.to_string();
                self.write(move |tx| crate::snapshots::purge(tx, &task_id, limit))
                    .await?
            } else {
                let purge = query::purge_task_records(DIALECT, table, task_id, limit);
                self.write(move |tx| execute(tx, &purge)).await?
            } as u64;
        }
        Ok(removed)
    }

    async fn orphaned_record_tasks(&self) -> Result<Vec<String>> {
        self.read(|connection| {
            let mut tasks = std::collections::BTreeSet::new();
            for table in TASK_RECORD_TABLES {
                let sql = if table.name == SNAPSHOTS.name {
                    crate::snapshots::ORPHANED_TASKS.to_string()
                } else {
                    query::orphaned_record_tasks(table)
                };
                let mut statement = connection.prepare(&sql).map_err(db_error)?;
                let ids = statement
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(db_error)?;
                for id in ids {
                    tasks.insert(id.map_err(db_error)?);
                }
            }
            Ok(tasks.into_iter().collect())
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
        let (task_id, query) = (task_id.to_string(), query.clone());
        self.read(move |connection| crate::snapshots::page(connection, &task_id, &query))
            .await
    }

    async fn create_experiment(
        &self,
        experiment: &Experiment,
        tasks: &[(Task, VirtualAccount)],
        runs: &[ExperimentRun],
    ) -> Result<()> {
        let experiment = Encoded::new(experiment)?;
        let task_rows = Encoded::all(tasks.iter().map(|(task, _)| task))?;
        let accounts = Encoded::all(tasks.iter().map(|(_, account)| account))?;
        let runs = Encoded::all(runs)?;
        self.write(move |tx| {
            experiment.insert(tx)?;
            insert_all(tx, &task_rows)?;
            insert_all(tx, &accounts)?;
            insert_all(tx, &runs)
        })
        .await
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
        let id = experiment_id.to_string();
        let change = Encoded::new(&ExperimentStatus {
            experiment_id: id.clone(),
            status,
            error_message,
            updated_at,
        })?;
        self.write(move |tx| {
            change.update(tx)?;
            get(tx, &id)
        })
        .await
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
        let values = Values::of(answer)?;
        self.write(move |tx| {
            tx.prepare_cached(&query::put_cached_answer(DIALECT))
                .map_err(db_error)?
                .execute(params_from_iter(values.iter()))
                .map_err(db_error)?;
            Ok(())
        })
        .await
    }
}
