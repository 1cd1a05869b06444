//! The storage interface of aibt: the [`Store`] trait, the row types of the seed's seven tables
//! plus `market_bars`, and the errors every backend reports the same way.
//!
//! Backends (`aibt-store-sqlite`, `aibt-store-postgres`) implement the trait and own their
//! migrations; nothing above this crate names a backend.

pub mod ids;
pub mod rows;
pub mod sql;
#[cfg(feature = "testsuite")]
pub mod testsuite;

use std::path::Path;

use aibt_core::{Bar, TaskStatus, TradeAction};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use ids::new_id;
pub use rows::*;

/// Failures of a store operation, phrased for the person who has to act on them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id:?} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// A stored value that does not parse back (written by hand or by another program).
    #[error("{table}.{column} holds {value:?}, which aibt cannot read: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "database schema version {found} is newer than this aibt understands ({supported}); upgrade aibt"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("{0} is not supported by this backend")]
    Unsupported(&'static str),
    /// A request value the store cannot use (a malformed cursor, say).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("database error: {0}")]
    Database(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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

/// A window of a series, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BarRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only bars strictly after this time (a cursor for reading in chunks).
    pub after: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
}

/// A page of a list and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Filters and paging of the task list (newest first).
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub stock_symbol: Option<String>,
    pub account_id: Option<String>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Filters and paging of a task's decisions, trades or snapshots (oldest first).
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Decisions: `decision_result`; trades: `trade_action`.
    pub action: Option<TradeAction>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Filters of the account list.
#[derive(Debug, Clone, Default)]
pub struct AccountQuery {
    /// Include the working accounts of task runs (hidden by default).
    pub include_task_accounts: bool,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Which tasks a worker may claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimFilter<'a> {
    /// Only this task.
    pub task_id: Option<&'a str>,
    /// Only tasks of this strategy, or only tasks of any other (a worker keeps separate slots
    /// for tasks that wait on a model and tasks that use a core).
    pub strategy: Option<StrategyFilter<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyFilter<'a> {
    Only(&'a str),
    Except(&'a str),
}

impl<'a> ClaimFilter<'a> {
    /// Any claimable task.
    pub fn any() -> ClaimFilter<'a> {
        ClaimFilter::default()
    }

    /// Only the task `task_id`.
    pub fn task(task_id: &'a str) -> ClaimFilter<'a> {
        ClaimFilter {
            task_id: Some(task_id),
            strategy: None,
        }
    }
}

/// The lifecycle columns of a task, written together by a status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: TaskStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub stats: Option<serde_json::Value>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Lifecycle {
    pub fn of(task: &Task) -> Lifecycle {
        Lifecycle {
            status: task.status,
            started_at: task.started_at,
            paused_at: task.paused_at,
            resumed_at: task.resumed_at,
            completed_at: task.completed_at,
            error_message: task.error_message.clone(),
            stats: task.stats.clone(),
            lease_owner: task.lease_owner.clone(),
            lease_expires_at: task.lease_expires_at,
            updated_at: task.updated_at,
        }
    }
}

/// Everything one or more consecutive steps of a task write. A backend commits it in one
/// transaction, and only while the writer still holds the task's lease and the task is
/// RUNNING, so a paused, cancelled or taken-over task never receives a late step.
#[derive(Debug, Clone)]
pub struct StepBatch {
    pub task_id: String,
    pub lease_owner: String,
    pub lease_expires_at: DateTime<Utc>,
    pub decisions: Vec<LocalDecision>,
    pub trades: Vec<TradeRecord>,
    pub snapshots: Vec<AccountSnapshot>,
    /// The run account after the last step of the batch.
    pub account: VirtualAccount,
    pub processed_items: i64,
    pub total_items: Option<i64>,
    pub checkpoint: serde_json::Value,
    pub now: DateTime<Utc>,
}

/// What a guarded delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// Nothing was deleted: the task's status is one the caller refused.
    Refused(TaskStatus),
}

/// Whether a batch was committed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was written: the task is no longer RUNNING under this lease.
    Refused {
        status: TaskStatus,
        lease_owner: Option<String>,
    },
}

/// An answer of a model kept so that an identical request never costs a second call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub cache_key: String,
    pub base_url: String,
    pub model: String,
    pub response: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Resolves when an earlier batch is settled: true if it committed.
pub type After = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// The error of a batch whose predecessor did not commit.
pub fn predecessor_failed(task_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "the previous batch of task {task_id} did not commit, so this one was not written"
    ))
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
    /// A consistent copy of the whole database at `destination`.
    async fn backup(&self, destination: &Path) -> Result<()>;

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

    /// Stores a whole series file atomically: either every bar or none.
    async fn import_bars(
        &self,
        series: &SeriesKey,
        bars: &[Bar],
        mode: ImportMode,
    ) -> Result<ImportOutcome>;
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
    /// Writes the lifecycle columns if the task's status is still `expected`; returns the
    /// task as stored afterwards, or [`StoreError::Conflict`] naming the status found.
    async fn update_lifecycle(
        &self,
        task_id: &str,
        expected: TaskStatus,
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
    /// Deletes a task with its run account, decisions, trades and snapshots in one
    /// transaction, unless its status is one of `refuse`; the status test and the delete are
    /// one statement, so a concurrent start (a compare-and-set on the status) cannot slip
    /// between them.
    async fn delete_task(&self, task_id: &str, refuse: &[TaskStatus]) -> Result<DeleteOutcome>;

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

    /// A cached answer, if one was stored under `cache_key`.
    async fn get_cached_answer(&self, cache_key: &str) -> Result<Option<CachedAnswer>>;
    /// Stores an answer; an answer already under the key is kept (both are the answer to the
    /// same request).
    async fn put_cached_answer(&self, answer: &CachedAnswer) -> Result<()>;
}

/// Appends the one row that tells whether another page follows, and builds its cursor.
pub fn into_page<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Page sizes are clamped so that no request can ask a backend for an unbounded read.
pub fn clamp_limit(limit: u32) -> u32 {
    match limit {
        0 => 100,
        n => n.min(10_000),
    }
}

/// Cursors of time-ordered lists: the sort key of the last row, `time|id`.
pub fn time_cursor(time: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", aibt_core::time::format_timestamp(time))
}

/// Reads a cursor made by [`time_cursor`].
pub fn parse_time_cursor(cursor: &str) -> Result<(DateTime<Utc>, String)> {
    let bad = || StoreError::Invalid {
        field: "cursor",
        reason: format!("{cursor:?} is not a cursor this server issued"),
    };
    let (time, id) = cursor.split_once('|').ok_or_else(bad)?;
    let time = aibt_core::time::parse_timestamp(time).map_err(|_| bad())?;
    Ok((time, id.to_string()))
}
