//! The statements of every list, range and count, built once for both backends. A filter that
//! a request sets becomes an `AND` clause (one it leaves out adds nothing), a keyset cursor
//! becomes a row comparison on the sort key, and the parameters come out as [`SqlValue`]s in
//! marker order for the backend to convert.

use std::fmt::Write;

use aibt_core::TaskStatus;
use chrono::{DateTime, Utc};

use super::columns::{TableRow, WriteRow};
use super::dialect::{Dialect, SqlValue};
use super::schema::{ACCOUNTS, AI_CONFIGS, BARS, CACHE, CONTEXT, EXPERIMENT_RUNS, SERIES, TASKS};
use super::table::Table;
use crate::error::Result;
use crate::paging::{
    AccountQuery, BarRange, Page, RecordQuery, TaskQuery, clamp_limit, into_page,
    parse_time_cursor, time_cursor,
};
use crate::rows::{
    AccountSnapshot, AiConfig, ContextItem, Experiment, ExperimentRun, LocalDecision,
    PromptTemplate, SeriesKey, Task, TradeRecord, VirtualAccount,
};

/// A statement and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// The statement of one page of a list: it asks for one row more than the page, which tells
/// whether another page follows; [`PageQuery::page`] makes the page and its cursor.
#[derive(Debug)]
pub struct PageQuery<T> {
    pub query: Query,
    limit: u32,
    cursor_of: fn(&T) -> String,
}

impl<T> PageQuery<T> {
    pub fn page(&self, rows: Vec<T>) -> Page<T> {
        into_page(rows, self.limit, self.cursor_of)
    }
}

/// Appends clauses and numbers their parameters.
struct Builder {
    dialect: Dialect,
    sql: String,
    params: Vec<SqlValue>,
    has_where: bool,
}

impl Builder {
    fn new(dialect: Dialect, sql: impl Into<String>) -> Builder {
        Builder {
            dialect,
            sql: sql.into(),
            params: Vec::new(),
            has_where: false,
        }
    }

    fn select<T: TableRow>(dialect: Dialect) -> Builder {
        Builder::new(dialect, T::table().sql(dialect).select.as_str())
    }

    /// `T`'s columns from another relation that has them.
    fn select_from<T: TableRow>(dialect: Dialect, source: &str) -> Builder {
        let table = T::table();
        if source == table.name {
            return Builder::select::<T>(dialect);
        }
        Builder::new(
            dialect,
            format!("SELECT {} FROM {source}", table.columns.join(", ")),
        )
    }

    /// Adds a parameter and returns its marker.
    fn param(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("{}{}", self.dialect.marker(), self.params.len())
    }

    /// `WHERE condition` the first time, `AND condition` after.
    fn condition(&mut self, condition: &str) {
        self.sql
            .push_str(if self.has_where { " AND " } else { " WHERE " });
        self.has_where = true;
        self.sql.push_str(condition);
    }

    /// `column_and_operator <parameter>`, e.g. `("status =", ...)`.
    fn compare(&mut self, column_and_operator: &str, value: SqlValue) {
        let marker = self.param(value);
        self.condition(&format!("{column_and_operator} {marker}"));
    }

    fn compare_opt(&mut self, column_and_operator: &str, value: Option<SqlValue>) {
        if let Some(value) = value {
            self.compare(column_and_operator, value);
        }
    }

    /// The keyset condition of a `time|id` cursor: `(time_column, id_column) op (time, id)`.
    fn after_cursor(&mut self, columns: (&str, &str), op: &str, cursor: &str) -> Result<()> {
        let (time, id) = parse_time_cursor(cursor)?;
        let time = self.param(SqlValue::Time(time));
        let id = self.param(SqlValue::Text(id));
        self.condition(&format!(
            "({}, {}) {op} ({time}, {id})",
            columns.0, columns.1
        ));
        Ok(())
    }

    /// `ORDER BY order [LIMIT <parameter>]`.
    fn order(&mut self, order: &str, limit: Option<i64>) {
        let _ = write!(self.sql, " ORDER BY {order}");
        if let Some(limit) = limit {
            let marker = self.param(SqlValue::Int(limit));
            let _ = write!(self.sql, " LIMIT {marker}");
        }
    }

    fn series(&mut self, series: &SeriesKey) {
        self.compare("symbol =", text(&series.symbol));
        self.compare("market_type =", text(series.market_type.as_str()));
        self.compare("granularity =", text(series.granularity.as_str()));
    }

    fn finish(self) -> Query {
        Query {
            sql: self.sql,
            params: self.params,
        }
    }

    /// A page newest first, by `created_at` and then `id` (descending), after a `time|id`
    /// cursor.
    fn newest_first<T>(
        mut self,
        id: &str,
        cursor: Option<&str>,
        limit: u32,
        cursor_of: fn(&T) -> String,
    ) -> Result<PageQuery<T>> {
        if let Some(cursor) = cursor {
            self.after_cursor(("created_at", id), "<", cursor)?;
        }
        Ok(self.page(
            &format!("created_at DESC, {id} DESC"),
            clamp_limit(limit),
            cursor_of,
        ))
    }

    /// Orders by `order` and asks for one row more than a page of `limit`.
    fn page<T>(mut self, order: &str, limit: u32, cursor_of: fn(&T) -> String) -> PageQuery<T> {
        self.order(order, Some(i64::from(limit) + 1));
        PageQuery {
            query: self.finish(),
            limit,
            cursor_of,
        }
    }
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_string())
}

fn time(value: DateTime<Utc>) -> SqlValue {
    SqlValue::Time(value)
}

/// The row of `T` whose key is `key`.
pub fn get<T: TableRow>(dialect: Dialect, key: &str) -> Query {
    let mut b = Builder::select::<T>(dialect);
    b.compare(&format!("{} =", T::table().key()), text(key));
    b.finish()
}

/// The oldest row of `T` whose `column` is `value`.
fn first_by<T: TableRow>(dialect: Dialect, column: &str, value: &str) -> Query {
    let mut b = Builder::select::<T>(dialect);
    b.compare(&format!("{column} ="), text(value));
    b.order("created_at", Some(1));
    b.finish()
}

/// The run account of a task.
pub fn run_account(dialect: Dialect, task_id: &str) -> Query {
    first_by::<VirtualAccount>(dialect, "task_id", task_id)
}

/// The AI config named `name` (names are unique; the oldest would win if they were not).
pub fn ai_config_named(dialect: Dialect, name: &str) -> Query {
    first_by::<AiConfig>(dialect, "name", name)
}

/// A page of `T` in key order, after the key `cursor`, among the rows that meet `condition`.
fn by_key<T: WriteRow>(
    dialect: Dialect,
    condition: Option<&str>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<PageQuery<T>> {
    let key = T::table().key();
    let mut b = Builder::select::<T>(dialect);
    if let Some(condition) = condition {
        b.condition(condition);
    }
    b.compare_opt(&format!("{key} >"), cursor.map(text));
    Ok(b.page(key, clamp_limit(limit), |row: &T| row.key().to_string()))
}

/// A user's accounts, as opposed to the working accounts of task runs.
const USER_ACCOUNTS: &str = "task_id IS NULL";

/// A page of the account list, by id; task runs' accounts only when asked for.
pub fn accounts(dialect: Dialect, query: &AccountQuery) -> Result<PageQuery<VirtualAccount>> {
    let hidden = (!query.include_task_accounts).then_some(USER_ACCOUNTS);
    by_key(dialect, hidden, query.cursor.as_deref(), query.limit)
}

/// A page of the template list, by id; soft-deleted templates only when asked for.
pub fn templates(
    dialect: Dialect,
    include_deleted: bool,
    limit: u32,
    cursor: Option<&str>,
) -> Result<PageQuery<PromptTemplate>> {
    let hidden = (!include_deleted).then_some("status <> 'DELETED'");
    by_key(dialect, hidden, cursor, limit)
}

/// A page of the AI config list, by id.
pub fn ai_configs(
    dialect: Dialect,
    limit: u32,
    cursor: Option<&str>,
) -> Result<PageQuery<AiConfig>> {
    by_key(dialect, None, cursor, limit)
}

/// The delete of a row that tasks may refer to: refused while `in_use` counts any task, and
/// NotFound when `delete` removes nothing.
#[derive(Debug)]
pub struct DeleteUnused {
    pub in_use: Query,
    pub delete: Query,
    pub entity: &'static str,
    pub id: String,
}

impl DeleteUnused {
    fn new(
        dialect: Dialect,
        table: &Table,
        task_column: &str,
        id: &str,
        condition: Option<&str>,
    ) -> DeleteUnused {
        let mut delete = Builder::new(dialect, format!("DELETE FROM {}", table.name));
        delete.compare(&format!("{} =", table.key()), text(id));
        if let Some(condition) = condition {
            delete.condition(condition);
        }
        let mut in_use = Builder::new(dialect, format!("SELECT count(*) FROM {}", TASKS.name));
        in_use.compare(&format!("{task_column} ="), text(id));
        DeleteUnused {
            in_use: in_use.finish(),
            delete: delete.finish(),
            entity: table.entity,
            id: id.to_string(),
        }
    }
}

/// Deletes a user's account (never a task run's, which goes with its task).
pub fn delete_account(dialect: Dialect, account_id: &str) -> DeleteUnused {
    DeleteUnused::new(
        dialect,
        &ACCOUNTS,
        "account_id",
        account_id,
        Some(USER_ACCOUNTS),
    )
}

pub fn delete_ai_config(dialect: Dialect, config_id: &str) -> DeleteUnused {
    DeleteUnused::new(dialect, &AI_CONFIGS, "ai_config_id", config_id, None)
}

/// A page of the task list: newest first, filtered by status, symbol and account.
pub fn tasks(dialect: Dialect, query: &TaskQuery) -> Result<PageQuery<Task>> {
    let mut b = Builder::select::<Task>(dialect);
    b.compare_opt("status =", query.status.map(|s| text(s.as_str())));
    b.compare_opt("stock_symbol =", query.stock_symbol.as_deref().map(text));
    b.compare_opt("account_id =", query.account_id.as_deref().map(text));
    b.newest_first(
        "task_id",
        query.cursor.as_deref(),
        query.limit,
        |t: &Task| time_cursor(t.created_at, &t.task_id),
    )
}

/// A page of the experiment list, newest first.
pub fn experiments(
    dialect: Dialect,
    limit: u32,
    cursor: Option<&str>,
) -> Result<PageQuery<Experiment>> {
    Builder::select::<Experiment>(dialect).newest_first(
        "experiment_id",
        cursor,
        limit,
        |e: &Experiment| time_cursor(e.created_at, &e.experiment_id),
    )
}

/// Every run of an experiment in its grid's order: variant, series, period, the named run
/// before its blind twin, then the repeats (the task id only breaks ties). Text is compared
/// byte by byte in both databases.
pub fn experiment_runs(dialect: Dialect, experiment_id: &str) -> Query {
    let mut b = Builder::select::<ExperimentRun>(dialect);
    b.compare("experiment_id =", text(experiment_id));
    let [variant, symbol, period, task] =
        ["variant", "stock_symbol", "period", "task_id"].map(|c| bytewise(dialect, c));
    b.order(
        &format!("{variant}, {symbol}, {period}, blind, repeat_index, {task}"),
        None,
    );
    b.finish()
}

/// The run of a task, if the task belongs to an experiment.
pub fn experiment_run_of_task(dialect: Dialect, task_id: &str) -> Query {
    let mut b = Builder::select::<ExperimentRun>(dialect);
    b.compare("task_id =", text(task_id));
    b.order("experiment_id", Some(1));
    b.finish()
}

/// `column`, compared as bytes: SQLite's only order, and PostgreSQL's under `COLLATE "C"`
/// (its default collation follows the locale, which would order `Zeta` after `alpha`).
fn bytewise(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Sqlite => column.to_string(),
        Dialect::Postgres => format!("{column} COLLATE \"C\""),
    }
}

/// The columns a list of a task's records is filtered and ordered by.
struct RecordColumns {
    time: &'static str,
    id: &'static str,
    action: &'static str,
}

/// A page of a task's records: oldest first, in a time window, filtered by action.
fn records<T: TableRow>(
    dialect: Dialect,
    columns: RecordColumns,
    task_id: &str,
    query: &RecordQuery,
    cursor_of: fn(&T) -> String,
) -> Result<PageQuery<T>> {
    let RecordColumns {
        time: at,
        id,
        action,
    } = columns;
    let mut b = Builder::select::<T>(dialect);
    b.compare("task_id =", text(task_id));
    b.compare_opt(&format!("{at} >="), query.from.map(time));
    b.compare_opt(&format!("{at} <="), query.to.map(time));
    b.compare_opt(
        &format!("{action} ="),
        query.action.map(|a| text(a.as_str())),
    );
    if let Some(cursor) = &query.cursor {
        b.after_cursor((at, id), ">", cursor)?;
    }
    Ok(b.page(&format!("{at}, {id}"), clamp_limit(query.limit), cursor_of))
}

pub fn decisions(
    dialect: Dialect,
    task_id: &str,
    query: &RecordQuery,
) -> Result<PageQuery<LocalDecision>> {
    let columns = RecordColumns {
        time: "analysis_date",
        id: "decision_id",
        action: "decision_result",
    };
    records(dialect, columns, task_id, query, LocalDecision::cursor)
}

pub fn trades(
    dialect: Dialect,
    task_id: &str,
    query: &RecordQuery,
) -> Result<PageQuery<TradeRecord>> {
    let columns = RecordColumns {
        time: "trade_time",
        id: "trade_id",
        action: "trade_action",
    };
    records(dialect, columns, task_id, query, |t: &TradeRecord| {
        time_cursor(t.trade_time, &t.trade_id)
    })
}

/// A page of a task's snapshots. Snapshot ids are `<task id>-s<bar number>`, so a range of
/// the primary key is the task's snapshots in time order, whatever other tasks wrote in
/// between; the cursor is the last id, and any text is a position among them (one before the
/// task's ids starts at the first, one after them gives an empty page). PostgreSQL compares the ids with `COLLATE "C"` (bytes,
/// as SQLite does), which its primary key index cannot serve, so there the task's own index
/// (`task_id = `) finds the rows.
pub fn snapshots(
    dialect: Dialect,
    task_id: &str,
    query: &RecordQuery,
) -> Result<PageQuery<AccountSnapshot>> {
    let prefix = format!("{task_id}-s");
    // Rust orders strings by their bytes, as both backends compare these ids.
    let lower = match &query.cursor {
        Some(cursor) if cursor.as_str() > prefix.as_str() => cursor.clone(),
        _ => prefix.clone(),
    };
    let id = &bytewise(dialect, "snapshot_id");
    let mut b = Builder::select::<AccountSnapshot>(dialect);
    b.compare(&format!("{id} >"), SqlValue::Text(lower));
    // The smallest text greater than every id that starts with the prefix (ids are ASCII).
    b.compare(
        &format!("{id} <"),
        SqlValue::Text(format!("{prefix}\u{7f}")),
    );
    if dialect == Dialect::Postgres {
        b.compare("task_id =", text(task_id));
    }
    b.compare_opt("timestamp >=", query.from.map(time));
    b.compare_opt("timestamp <=", query.to.map(time));
    Ok(b.page(id, clamp_limit(query.limit), |s: &AccountSnapshot| {
        s.snapshot_id.clone()
    }))
}

/// Bars of a series in ascending time order.
pub fn bars(dialect: Dialect, series: &SeriesKey, range: BarRange) -> Query {
    bars_from(dialect, BARS.name, series, range)
}

/// [`bars`] from `source`, a relation with the columns of `market_bars` (SQLite reads its
/// stored mantissas through the view `bar_values`).
pub fn bars_from(dialect: Dialect, source: &str, series: &SeriesKey, range: BarRange) -> Query {
    let mut b = Builder::select_from::<aibt_core::Bar>(dialect, source);
    b.series(series);
    b.compare_opt("ts >=", range.from.map(time));
    b.compare_opt("ts <=", range.to.map(time));
    b.compare_opt("ts >", range.after.map(time));
    b.order("ts", range.limit.map(i64::from));
    b.finish()
}

/// The `count` bars before `before`, newest first (the caller reverses them).
pub fn bars_before(
    dialect: Dialect,
    series: &SeriesKey,
    before: DateTime<Utc>,
    count: u32,
) -> Query {
    bars_before_from(dialect, BARS.name, series, before, count)
}

/// [`bars_before`] from `source` (see [`bars_from`]).
pub fn bars_before_from(
    dialect: Dialect,
    source: &str,
    series: &SeriesKey,
    before: DateTime<Utc>,
    count: u32,
) -> Query {
    let mut b = Builder::select_from::<aibt_core::Bar>(dialect, source);
    b.series(series);
    b.compare("ts <", time(before));
    b.order("ts DESC", Some(i64::from(count)));
    b.finish()
}

/// The first (`"ASC"`) or last (`"DESC"`) bar of a series: one descent of the primary key
/// however long the series (a `min` and a `max` in one SQLite query would scan it).
pub fn series_end(dialect: Dialect, series: &SeriesKey, order: &str) -> Query {
    let mut b = Builder::select::<aibt_core::Bar>(dialect);
    b.series(series);
    b.order(&format!("ts {order}"), Some(1));
    b.finish()
}

/// Bars of a series in `[from, to]`.
pub fn count_bars(
    dialect: Dialect,
    series: &SeriesKey,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Query {
    let mut b = Builder::new(dialect, format!("SELECT count(*) FROM {}", BARS.name));
    b.series(series);
    b.compare("ts >=", time(from));
    b.compare("ts <=", time(to));
    b.finish()
}

/// Every stored series with its bar count and first and last time, or only `series`.
pub fn series(dialect: Dialect, series: Option<&SeriesKey>) -> Query {
    let mut b = Builder::new(
        dialect,
        format!(
            "SELECT symbol, market_type, granularity, count(*), min(ts), max(ts), \
             (SELECT d.description FROM {described} d WHERE d.symbol = b.symbol \
              AND d.market_type = b.market_type AND d.granularity = b.granularity) \
             FROM {} b",
            SERIES.name,
            described = DESCRIBED_SERIES,
        ),
    );
    if let Some(series) = series {
        b.series(series);
    }
    b.sql.push_str(" GROUP BY symbol, market_type, granularity");
    b.order("symbol, market_type, granularity", None);
    b.finish()
}

/// The table of series descriptions (`market_series`).
const DESCRIBED_SERIES: &str = "market_series";

/// Sets what a series' description says (where its bars came from).
pub fn describe_series(
    dialect: Dialect,
    series: &SeriesKey,
    description: &str,
    at: DateTime<Utc>,
) -> Query {
    let mut b = Builder::new(dialect, String::new());
    let values = [
        b.param(text(&series.symbol)),
        b.param(text(series.market_type.as_str())),
        b.param(text(series.granularity.as_str())),
        b.param(text(description)),
        b.param(time(at)),
    ];
    b.sql = format!(
        "INSERT INTO {DESCRIBED_SERIES} (symbol, market_type, granularity, description, updated_at) \
         VALUES ({}) ON CONFLICT (symbol, market_type, granularity) DO UPDATE SET \
         description = excluded.description, updated_at = excluded.updated_at",
        values.join(", ")
    );
    b.finish()
}

/// How many AI configs other than `except` are named `name`.
pub fn configs_named(dialect: Dialect, name: &str, except: Option<&str>) -> Query {
    let mut b = Builder::new(dialect, format!("SELECT count(*) FROM {}", AI_CONFIGS.name));
    b.compare("name =", text(name));
    b.compare_opt("config_id <>", except.map(text));
    b.finish()
}

/// The rows of a table, for `db check`.
pub fn count_rows(table: &Table) -> String {
    format!("SELECT count(*) FROM {}", table.name)
}

/// Extends a lease this worker holds.
pub fn renew_lease(
    dialect: Dialect,
    task_id: &str,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> Query {
    let mut b = Builder::new(dialect, format!("UPDATE {} SET", TASKS.name));
    let until = b.param(time(lease_until));
    let _ = write!(b.sql, " lease_expires_at = {until}");
    b.compare("task_id =", text(task_id));
    b.compare("lease_owner =", text(worker));
    b.finish()
}

/// The status and lease holder of task `m1`, read before a batch or a delete writes, which
/// must not change until the transaction ends: PostgreSQL locks the row; in SQLite the
/// writer's `BEGIN IMMEDIATE` already holds the whole database.
pub fn lock_task_state(dialect: Dialect) -> String {
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE",
    };
    format!(
        "SELECT status, lease_owner FROM {} WHERE task_id = {}1{lock}",
        TASKS.name,
        dialect.marker()
    )
}

/// Deletes a task unless its status is one of `refuse`: the test and the delete are one
/// statement, so no status change can fall between them.
pub fn delete_task(dialect: Dialect, task_id: &str, refuse: &[TaskStatus]) -> Query {
    let mut b = Builder::new(dialect, format!("DELETE FROM {}", TASKS.name));
    b.compare("task_id =", text(task_id));
    if !refuse.is_empty() {
        let markers: Vec<String> = refuse.iter().map(|s| b.param(text(s.as_str()))).collect();
        b.condition(&format!("status NOT IN ({})", markers.join(", ")));
    }
    b.finish()
}

/// Deletes a task's run account, in the transaction that deletes the task (one row; the
/// task's records go afterwards in batches, see [`purge_task_records`]).
pub fn delete_run_account(dialect: Dialect, task_id: &str) -> Query {
    delete_by_task(dialect, &ACCOUNTS, task_id)
}

/// Deletes at most `limit` records of `table` that belong to task `task_id`, once the task
/// itself is gone: a task of millions of snapshots is removed in many short transactions, so
/// running tasks' commits wait for one batch at most, never for the whole task. The
/// `NOT EXISTS` keeps the records of a task that (still) exists.
pub fn purge_task_records(dialect: Dialect, table: &Table, task_id: &str, limit: u32) -> Query {
    let key = table.key();
    let mut b = Builder::new(dialect, format!("DELETE FROM {}", table.name));
    let task = b.param(text(task_id));
    b.condition(&format!(
        "{key} IN (SELECT {key} FROM {table} WHERE task_id = {task} \
         AND NOT EXISTS (SELECT 1 FROM {tasks} WHERE task_id = {task}) LIMIT {limit})",
        table = table.name,
        tasks = TASKS.name,
    ));
    b.finish()
}

/// The tasks that left records behind in `table`: deleted while a purge was interrupted.
pub fn orphaned_record_tasks(table: &Table) -> String {
    format!(
        "SELECT DISTINCT task_id FROM {table} WHERE task_id NOT IN (SELECT task_id FROM {tasks})",
        table = table.name,
        tasks = TASKS.name,
    )
}

/// Deletes a task's place in its experiment (the experiment keeps its other runs).
pub fn delete_experiment_run(dialect: Dialect, task_id: &str) -> Query {
    delete_by_task(dialect, &EXPERIMENT_RUNS, task_id)
}

fn delete_by_task(dialect: Dialect, table: &Table, task_id: &str) -> Query {
    let mut b = Builder::new(dialect, format!("DELETE FROM {}", table.name));
    b.compare("task_id =", text(task_id));
    b.finish()
}

/// Stores an answer unless one is already stored under its key.
/// Stores a context item, replacing the item of the same symbol and day.
pub fn put_context_item(dialect: Dialect) -> String {
    let updates: Vec<String> = CONTEXT.columns[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "{} ON CONFLICT ({}) DO UPDATE SET {}",
        CONTEXT.sql(dialect).insert,
        CONTEXT.key(),
        updates.join(", ")
    )
}

/// The context items of `symbol` visible by `until` (all of them without it), in the order
/// they become visible.
pub fn context_items(dialect: Dialect, symbol: &str, until: Option<DateTime<Utc>>) -> Query {
    let mut b = Builder::select::<ContextItem>(dialect);
    b.compare("stock_symbol =", text(symbol));
    b.compare_opt("visible_at <=", until.map(time));
    b.order("visible_at, item_date", None);
    b.finish()
}

pub fn put_cached_answer(dialect: Dialect) -> String {
    format!(
        "{} ON CONFLICT ({}) DO NOTHING",
        CACHE.sql(dialect).insert,
        CACHE.key()
    )
}

#[cfg(test)]
mod tests;

/// Claims call slot `slot` of an AI config for `holder` until `until`: a free slot, or one
/// whose holder's lease ran out before `now` (a worker that died mid-call). One row changed
/// means the slot is now `holder`'s; none, that someone else holds it.
pub fn claim_call_slot(
    dialect: Dialect,
    config_id: &str,
    slot: u32,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Query {
    let mut b = Builder::new(
        dialect,
        "INSERT INTO ai_call_slots (config_id, slot, holder, expires_at) VALUES (",
    );
    let values = [
        b.param(text(config_id)),
        b.param(SqlValue::Int(i64::from(slot))),
        b.param(text(holder)),
        b.param(time(until)),
    ];
    let now = b.param(time(now));
    let _ = write!(
        b.sql,
        "{}) ON CONFLICT (config_id, slot) DO UPDATE SET holder = excluded.holder, \
         expires_at = excluded.expires_at WHERE ai_call_slots.expires_at < {now}",
        values.join(", ")
    );
    b.finish()
}

/// Frees a call slot, if `holder` still holds it.
pub fn release_call_slot(dialect: Dialect, config_id: &str, slot: u32, holder: &str) -> Query {
    let mut b = Builder::new(dialect, "DELETE FROM ai_call_slots");
    b.compare("config_id =", text(config_id));
    b.compare("slot =", SqlValue::Int(i64::from(slot)));
    b.compare("holder =", text(holder));
    b.finish()
}
