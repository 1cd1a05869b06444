//! The storage interface of aibt: the [`Store`] trait, the row types of the seed's seven tables
//! plus `market_bars`, `llm_cache`, `experiments` and `experiment_runs`, the errors every backend reports the same way, and the
//! SQL both backends share ([`sql`]: each table's columns and how a row is read and bound, and
//! the statements of every list).
//!
//! Backends (`aibt-store-sqlite`, `aibt-store-postgres`) implement the trait, own their
//! connections and migrations, and convert values to their own column types; nothing above
//! this crate names a backend. With the `testsuite` feature, [`testsuite`] holds the tests
//! every backend runs against a real database.

pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod paging;
pub mod rows;
pub mod sql;
#[cfg(feature = "testsuite")]
pub mod testsuite;

use std::path::Path;

use aibt_core::{Bar, TaskStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use error::{Result, StoreError, predecessor_failed};
pub use ids::new_id;
pub use lifecycle::*;
pub use paging::*;
pub use rows::*;

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An index as the database catalog reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexInfo {
    pub table: String,
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

/// What `aibt db check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub backend: Backend,
    pub schema_version: i64,
    pub latest_version: i64,
    /// `ok`, or the problems the database's own integrity check found.
    pub integrity: Vec<String>,
    pub tables: Vec<(String, i64)>,
}

/// The size of the database before and after [`Store::vacuum`], in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VacuumReport {
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// How an import treats bars that are already stored at the same timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Identical bars are skipped; a different bar at a stored timestamp refuses the import.
    RefuseChanges,
    /// Stored bars at the same timestamps are overwritten.
    Replace,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportOutcome {
    pub inserted: u64,
    pub unchanged: u64,
    pub replaced: u64,
}

impl ImportOutcome {
    /// Counts one bar of an import against the bar stored at its time, if any (`Some(true)`
    /// when the two are equal); true when the bar must be written.
    pub fn count(
        &mut self,
        series: &SeriesKey,
        bar: &Bar,
        stored: Option<bool>,
        mode: ImportMode,
    ) -> Result<bool> {
        match stored {
            Some(true) => {
                self.unchanged += 1;
                Ok(false)
            }
            Some(false) if mode == ImportMode::RefuseChanges => {
                Err(StoreError::bar_changed(series, bar.ts))
            }
            Some(false) => {
                self.replaced += 1;
                Ok(true)
            }
            None => {
                self.inserted += 1;
                Ok(true)
            }
        }
    }
}

/// The storage aibt runs on. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// The newest migration applied.
    async fn schema_version(&self) -> Result<i64>;
    /// Schema version, integrity check and row counts.
    async fn check(&self) -> Result<CheckReport>;
    /// Every index of aibt's tables, as the catalog lists it.
    async fn indexes(&self) -> Result<Vec<IndexInfo>>;
    /// A consistent copy of the whole database at `destination`, taken while others keep
    /// writing, readable by its owner only.
    async fn backup(&self, destination: &Path) -> Result<()>;
    /// Gives the space of deleted rows back: the file shrinks (SQLite), or the space becomes
    /// reusable and the planner's statistics are renewed (PostgreSQL's plain `VACUUM`, which
    /// locks nothing).
    async fn vacuum(&self) -> Result<VacuumReport>;
    /// What a clean exit does before the process ends: SQLite copies its write-ahead log into
    /// the database and truncates it. Other backends have nothing to do.
    async fn close(&self) -> Result<()> {
        Ok(())
    }

    async fn insert_account(&self, account: &VirtualAccount) -> Result<()>;
    async fn get_account(&self, account_id: &str) -> Result<VirtualAccount>;
    async fn list_accounts(&self, query: &AccountQuery) -> Result<Page<VirtualAccount>>;
    async fn update_account(&self, account: &VirtualAccount) -> Result<()>;
    /// Refused with [`StoreError::Conflict`] while a task uses the account.
    async fn delete_account(&self, account_id: &str) -> Result<()>;

    async fn insert_template(&self, template: &PromptTemplate) -> Result<()>;
    async fn get_template(&self, prompt_id: &str) -> Result<PromptTemplate>;
    async fn list_templates(
        &self,
        include_deleted: bool,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<PromptTemplate>>;
    async fn update_template(&self, template: &PromptTemplate) -> Result<()>;

    async fn insert_ai_config(&self, config: &AiConfig) -> Result<()>;
    async fn get_ai_config(&self, config_id: &str) -> Result<AiConfig>;
    async fn find_ai_config_by_name(&self, name: &str) -> Result<Option<AiConfig>>;
    async fn list_ai_configs(&self, limit: u32, cursor: Option<String>) -> Result<Page<AiConfig>>;
    async fn update_ai_config(&self, config: &AiConfig) -> Result<()>;
    /// Refused with [`StoreError::Conflict`] while a task uses the configuration.
    async fn delete_ai_config(&self, config_id: &str) -> Result<()>;

    /// Stores a whole series file atomically: either every bar or none. The bars are given,
    /// not lent: a long file's are tens of megabytes, which a store writing on a thread of its
    /// own would otherwise copy.
    async fn import_bars(
        &self,
        series: &SeriesKey,
        bars: Vec<Bar>,
        mode: ImportMode,
    ) -> Result<ImportOutcome>;
    /// Says where a series' bars came from (replacing what it said before).
    async fn describe_series(&self, series: &SeriesKey, description: &str) -> Result<()>;
    async fn list_series(&self) -> Result<Vec<SeriesInfo>>;
    async fn series_info(&self, series: &SeriesKey) -> Result<Option<SeriesInfo>>;
    /// The first and last bar time of a series, found without counting its bars.
    async fn series_bounds(
        &self,
        series: &SeriesKey,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>>;
    /// Bars in ascending time order.
    async fn bars(&self, series: &SeriesKey, range: BarRange) -> Result<Vec<Bar>>;
    /// The `count` bars before `before` (exclusive), in ascending order: the warm-up window.
    async fn bars_before(
        &self,
        series: &SeriesKey,
        before: DateTime<Utc>,
        count: u32,
    ) -> Result<Vec<Bar>>;
    /// Stores a whole context file atomically (every item or none), each item replacing the
    /// stored item of its symbol and day; returns how many were stored.
    async fn import_context(&self, items: &[ContextItem]) -> Result<u64>;
    /// The context items of `symbol` visible by `until` (all without it), in the order they
    /// become visible.
    async fn context_items(
        &self,
        symbol: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<ContextItem>>;
    /// Bars in `[from, to]` without reading them.
    async fn count_bars(
        &self,
        series: &SeriesKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64>;

    /// Creates a task and its run account together.
    async fn create_task(&self, task: &Task, run_account: &VirtualAccount) -> Result<()>;
    async fn get_task(&self, task_id: &str) -> Result<Task>;
    async fn list_tasks(&self, query: &TaskQuery) -> Result<Page<Task>>;
    /// The run account of a task.
    async fn get_task_account(&self, task_id: &str) -> Result<VirtualAccount>;
    /// Writes the lifecycle columns if the task's status is still `expected` (and, with a
    /// `holder`, its lease is still that worker's); returns the task as stored afterwards, or
    /// [`StoreError::Conflict`] naming the status found.
    async fn update_lifecycle(
        &self,
        task_id: &str,
        expected: TaskStatus,
        holder: Option<&str>,
        lifecycle: &Lifecycle,
    ) -> Result<Task>;
    /// Takes the lease of the oldest RUNNING task that nobody holds (or whose holder's lease
    /// expired) among those `filter` admits.
    async fn claim_task(
        &self,
        worker: &str,
        filter: ClaimFilter<'_>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Task>>;
    /// Extends a held lease; false when the lease is no longer this worker's.
    async fn renew_lease(
        &self,
        task_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Takes one of an AI config's `limit` call slots for `holder` until `until`: a free one,
    /// or one whose holder's lease ran out before `now`. `None` when all are held. Every
    /// process on the database shares the slots, so together they keep the config's limit
    /// of calls in flight; a dead process's slots free themselves when their leases end.
    async fn claim_call_slot(
        &self,
        config_id: &str,
        limit: u32,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u32>>;
    /// Frees a call slot `holder` claimed (nothing if its lease ran out and another took it).
    async fn release_call_slot(&self, config_id: &str, slot: u32, holder: &str) -> Result<()>;
    /// Deletes a task with its run account and experiment run in one transaction, unless its
    /// status is one of `refuse`; the status test and the delete are one statement, so a
    /// concurrent start (a compare-and-set on the status) cannot slip between them. Its
    /// records (decisions, trades, snapshots) stay until [`Store::purge_task_records`] removes
    /// them; no read shows them, since every read goes through the task.
    async fn delete_task(&self, task_id: &str, refuse: &[TaskStatus]) -> Result<DeleteOutcome>;
    /// Deletes at most `limit` records of a deleted task, each table's batch its own short
    /// transaction; 0 when none are left. The records of a task that exists are never touched.
    async fn purge_task_records(&self, task_id: &str, limit: u32) -> Result<u64>;
    /// Tasks whose records outlived them (a purge that was interrupted).
    async fn orphaned_record_tasks(&self) -> Result<Vec<String>>;

    /// Commits a batch of steps (see [`StepBatch`]).
    async fn commit_steps(&self, batch: StepBatch) -> Result<CommitOutcome> {
        self.commit_steps_after(batch, None).await
    }

    /// Commits a batch once `after` resolves true: the previous batch of the same task has
    /// committed. A backend prepares the rows before waiting, so one batch is encoded while
    /// the one before it is written; if `after` resolves false nothing is written and the
    /// result is [`StoreError::Conflict`].
    async fn commit_steps_after(
        &self,
        batch: StepBatch,
        after: Option<After>,
    ) -> Result<CommitOutcome>;

    async fn list_decisions(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<LocalDecision>>;
    async fn list_trades(&self, task_id: &str, query: &RecordQuery) -> Result<Page<TradeRecord>>;
    async fn list_snapshots(
        &self,
        task_id: &str,
        query: &RecordQuery,
    ) -> Result<Page<AccountSnapshot>>;

    /// Stores an experiment with all its tasks (each with its run account) and runs, at once:
    /// an experiment is never half created.
    async fn create_experiment(
        &self,
        experiment: &Experiment,
        tasks: &[(Task, VirtualAccount)],
        runs: &[ExperimentRun],
    ) -> Result<()>;
    /// [`StoreError::NotFound`] (entity `experiment`) if there is none.
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    /// Newest first, keyset-paged like the task list (`created_at|experiment_id` cursor).
    async fn list_experiments(
        &self,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<Experiment>>;
    /// Sets the status and error message (and `updated_at`) and returns the row as stored.
    async fn update_experiment(
        &self,
        experiment_id: &str,
        status: TaskStatus,
        error_message: Option<String>,
        updated_at: DateTime<Utc>,
    ) -> Result<Experiment>;
    /// Every run of an experiment, in (variant, stock_symbol, period, blind, repeat_index)
    /// order, text compared byte by byte.
    async fn list_experiment_runs(&self, experiment_id: &str) -> Result<Vec<ExperimentRun>>;
    /// The experiment a task belongs to, if any.
    async fn experiment_of_task(&self, task_id: &str) -> Result<Option<String>>;

    /// A cached answer, if one was stored under `cache_key`.
    async fn get_cached_answer(&self, cache_key: &str) -> Result<Option<CachedAnswer>>;
    /// Stores an answer; an answer already under the key is kept (both are the answer to the
    /// same request).
    async fn put_cached_answer(&self, answer: &CachedAnswer) -> Result<()>;
}
