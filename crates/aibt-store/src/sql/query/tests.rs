//! The statements the builders make, in both dialects.

use super::*;
use crate::StoreError;
use aibt_core::{MarketType, TaskStatus, TimeGranularity, TradeAction};
use chrono::TimeZone;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + seconds, 0)
        .single()
        .expect("time")
}

fn goog() -> SeriesKey {
    SeriesKey {
        symbol: "GOOG".into(),
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
    }
}

/// The statement text after the table's own SELECT column list.
fn tail<T: TableRow>(dialect: Dialect, query: &Query) -> &str {
    query
        .sql
        .strip_prefix(T::table().sql(dialect).select.as_str())
        .expect("starts with the table's SELECT")
}

#[test]
fn a_task_page_filters_and_pages_newest_first() {
    let cursor = time_cursor(at(5), "task-9");
    let query = TaskQuery {
        status: Some(TaskStatus::Paused),
        account_id: Some("acct".into()),
        limit: 20,
        cursor: Some(cursor),
        ..TaskQuery::default()
    };
    let page = tasks(Dialect::Postgres, &query).expect("query");
    assert_eq!(
        tail::<Task>(Dialect::Postgres, &page.query),
        " WHERE status = $1 AND account_id = $2 AND (created_at, task_id) < ($3, $4) \
         ORDER BY created_at DESC, task_id DESC LIMIT $5"
    );
    assert_eq!(
        page.query.params,
        [
            text("PAUSED"),
            text("acct"),
            SqlValue::Time(at(5)),
            text("task-9"),
            SqlValue::Int(21)
        ]
    );
    let all = tasks(Dialect::Sqlite, &TaskQuery::default()).expect("query");
    assert_eq!(
        tail::<Task>(Dialect::Sqlite, &all.query),
        " ORDER BY created_at DESC, task_id DESC LIMIT ?1"
    );
    assert_eq!(all.query.params, [SqlValue::Int(101)]);
    assert!(matches!(
        tasks(
            Dialect::Sqlite,
            &TaskQuery {
                cursor: Some("garbage".into()),
                ..TaskQuery::default()
            }
        ),
        Err(StoreError::Invalid {
            field: "cursor",
            ..
        })
    ));
}

#[test]
fn record_pages_take_a_window_an_action_and_a_cursor_oldest_first() {
    let query = RecordQuery {
        from: Some(at(0)),
        to: Some(at(10)),
        action: Some(TradeAction::Buy),
        limit: 50,
        cursor: Some(time_cursor(at(3), "t-3")),
    };
    let page = trades(Dialect::Sqlite, "task-1", &query).expect("query");
    assert_eq!(
        tail::<TradeRecord>(Dialect::Sqlite, &page.query),
        " WHERE task_id = ?1 AND trade_time >= ?2 AND trade_time <= ?3 AND trade_action = ?4 \
         AND (trade_time, trade_id) > (?5, ?6) ORDER BY trade_time, trade_id LIMIT ?7"
    );
    assert_eq!(
        page.query.params,
        [
            text("task-1"),
            SqlValue::Time(at(0)),
            SqlValue::Time(at(10)),
            text("BUY"),
            SqlValue::Time(at(3)),
            text("t-3"),
            SqlValue::Int(51)
        ]
    );
    let page = decisions(Dialect::Postgres, "task-1", &RecordQuery::default()).expect("q");
    assert_eq!(
        tail::<LocalDecision>(Dialect::Postgres, &page.query),
        " WHERE task_id = $1 ORDER BY analysis_date, decision_id LIMIT $2"
    );
}

#[test]
fn snapshot_pages_scan_the_tasks_id_range() {
    let query = RecordQuery {
        to: Some(at(10)),
        cursor: Some("task-1-s000000007".into()),
        limit: 7,
        ..RecordQuery::default()
    };
    let sqlite = snapshots(Dialect::Sqlite, "task-1", &query).expect("query");
    assert_eq!(
        tail::<AccountSnapshot>(Dialect::Sqlite, &sqlite.query),
        " WHERE snapshot_id > ?1 AND snapshot_id < ?2 AND timestamp <= ?3 \
         ORDER BY snapshot_id LIMIT ?4"
    );
    assert_eq!(
        sqlite.query.params,
        [
            text("task-1-s000000007"),
            text("task-1-s\u{7f}"),
            SqlValue::Time(at(10)),
            SqlValue::Int(8)
        ]
    );
    let postgres = snapshots(Dialect::Postgres, "task-1", &RecordQuery::default()).expect("q");
    assert_eq!(
        tail::<AccountSnapshot>(Dialect::Postgres, &postgres.query),
        " WHERE snapshot_id COLLATE \"C\" > $1 AND snapshot_id COLLATE \"C\" < $2 \
         AND task_id = $3 ORDER BY snapshot_id COLLATE \"C\" LIMIT $4"
    );
    // Any text is a position: one past the task's ids gives an empty range, one before
    // them starts at the first.
    let lower_bound = |cursor: &str| {
        let query = RecordQuery {
            cursor: Some(cursor.into()),
            ..RecordQuery::default()
        };
        snapshots(Dialect::Sqlite, "task-1", &query)
            .expect("q")
            .query
            .params[0]
            .clone()
    };
    assert_eq!(
        lower_bound("task-2-s000000001"),
        SqlValue::Text("task-2-s000000001".into())
    );
    assert_eq!(lower_bound("task-0"), SqlValue::Text("task-1-s".into()));
    assert_eq!(lower_bound(""), SqlValue::Text("task-1-s".into()));
}

#[test]
fn key_pages_follow_the_key() {
    let query = AccountQuery {
        cursor: Some("a".into()),
        ..AccountQuery::default()
    };
    let page = accounts(Dialect::Sqlite, &query).expect("query");
    assert_eq!(
        tail::<VirtualAccount>(Dialect::Sqlite, &page.query),
        " WHERE task_id IS NULL AND account_id > ?1 ORDER BY account_id LIMIT ?2"
    );
    assert_eq!(page.query.params, [text("a"), SqlValue::Int(101)]);
    let one = get::<Task>(Dialect::Postgres, "task-1");
    assert_eq!(tail::<Task>(Dialect::Postgres, &one), " WHERE task_id = $1");
    let run = run_account(Dialect::Sqlite, "task-1");
    assert_eq!(
        tail::<VirtualAccount>(Dialect::Sqlite, &run),
        " WHERE task_id = ?1 ORDER BY created_at LIMIT ?2"
    );
    let delete = delete_account(Dialect::Sqlite, "a");
    assert_eq!(
        delete.delete.sql,
        "DELETE FROM virtual_accounts WHERE account_id = ?1 AND task_id IS NULL"
    );
    assert_eq!(
        delete.in_use.sql,
        "SELECT count(*) FROM tasks WHERE account_id = ?1"
    );
}

#[test]
fn bar_ranges_filter_the_series_in_time_order() {
    let range = BarRange {
        from: Some(at(0)),
        after: Some(at(5)),
        limit: Some(2),
        ..BarRange::default()
    };
    let query = bars(Dialect::Postgres, &goog(), range);
    assert_eq!(
        query.sql,
        "SELECT ts, open, high, low, close, volume FROM market_bars WHERE symbol = $1 \
         AND market_type = $2 AND granularity = $3 AND ts >= $4 AND ts > $5 ORDER BY ts LIMIT $6"
    );
    assert_eq!(
        query.params,
        [
            text("GOOG"),
            text("US"),
            text("daily"),
            SqlValue::Time(at(0)),
            SqlValue::Time(at(5)),
            SqlValue::Int(2)
        ]
    );
    let before = bars_before(Dialect::Sqlite, &goog(), at(9), 3);
    assert!(
        before
            .sql
            .ends_with(" AND ts < ?4 ORDER BY ts DESC LIMIT ?5")
    );
    let count = count_bars(Dialect::Sqlite, &goog(), at(0), at(9));
    assert_eq!(
        count.sql,
        "SELECT count(*) FROM market_bars WHERE symbol = ?1 AND market_type = ?2 \
         AND granularity = ?3 AND ts >= ?4 AND ts <= ?5"
    );
}

#[test]
fn a_guarded_delete_tests_the_status_in_the_same_statement() {
    let query = delete_task(
        Dialect::Postgres,
        "task-1",
        &[TaskStatus::Running, TaskStatus::Pending],
    );
    assert_eq!(
        query.sql,
        "DELETE FROM tasks WHERE task_id = $1 AND status NOT IN ($2, $3)"
    );
    assert_eq!(
        query.params,
        [text("task-1"), text("RUNNING"), text("PENDING")]
    );
    assert_eq!(
        delete_task(Dialect::Sqlite, "task-1", &[]).sql,
        "DELETE FROM tasks WHERE task_id = ?1"
    );
    assert_eq!(
        delete_run_account(Dialect::Sqlite, "task-1").sql,
        "DELETE FROM virtual_accounts WHERE task_id = ?1"
    );
    let purge = purge_task_records(Dialect::Postgres, &crate::sql::SNAPSHOTS, "task-1", 500);
    assert_eq!(
        purge.sql,
        "DELETE FROM account_snapshots WHERE snapshot_id IN (SELECT snapshot_id FROM \
         account_snapshots WHERE task_id = $1 AND NOT EXISTS (SELECT 1 FROM tasks WHERE \
         task_id = $1) LIMIT 500)"
    );
    assert_eq!(purge.params, [text("task-1")]);
}

#[test]
fn lease_renewals_and_status_changes_are_guarded_updates() {
    let renew = renew_lease(Dialect::Sqlite, "task-1", "w1", at(30));
    assert_eq!(
        renew.sql,
        "UPDATE tasks SET lease_expires_at = ?1 WHERE task_id = ?2 AND lease_owner = ?3"
    );
    assert_eq!(
        crate::sql::PROGRESS.sql(Dialect::Sqlite).update,
        "UPDATE tasks SET processed_items = ?2, total_items = ?3, checkpoint = ?4, \
         lease_expires_at = ?5, updated_at = ?6 WHERE task_id = ?1"
    );
    assert_eq!(
        lock_task_state(Dialect::Postgres),
        "SELECT status, lease_owner FROM tasks WHERE task_id = $1 FOR UPDATE"
    );
    let lifecycle = crate::Lifecycle {
        status: TaskStatus::Completed,
        started_at: None,
        paused_at: None,
        resumed_at: None,
        completed_at: None,
        error_message: None,
        stats: None,
        lease_owner: None,
        lease_expires_at: None,
        options: serde_json::json!({}),
        updated_at: at(1),
    };
    let change = |holder| crate::sql::LifecycleChange {
        task_id: "t",
        expected: TaskStatus::Running,
        holder,
        lifecycle: &lifecycle,
    };
    assert_eq!(
        change(None).sql(Dialect::Postgres),
        "UPDATE tasks SET status = $2, started_at = $3, paused_at = $4, resumed_at = $5, \
         completed_at = $6, error_message = $7, stats = $8, lease_owner = $9, \
         lease_expires_at = $10, options = $11, updated_at = $12 WHERE task_id = $1 AND status = $13"
    );
    assert!(
        change(Some("w"))
            .sql(Dialect::Postgres)
            .ends_with("AND status = $13 AND lease_owner = $14")
    );
}

#[test]
fn experiment_pages_run_newest_first_and_runs_in_grid_order() {
    let page = experiments(Dialect::Postgres, 20, Some(&time_cursor(at(5), "exp-9"))).expect("q");
    assert_eq!(
        tail::<Experiment>(Dialect::Postgres, &page.query),
        " WHERE (created_at, experiment_id) < ($1, $2) \
         ORDER BY created_at DESC, experiment_id DESC LIMIT $3"
    );
    assert_eq!(
        page.query.params,
        [SqlValue::Time(at(5)), text("exp-9"), SqlValue::Int(21)]
    );
    let runs = experiment_runs(Dialect::Sqlite, "exp-1");
    assert_eq!(
        tail::<ExperimentRun>(Dialect::Sqlite, &runs),
        " WHERE experiment_id = ?1 \
         ORDER BY variant, stock_symbol, period, blind, repeat_index, task_id"
    );
    let runs = experiment_runs(Dialect::Postgres, "exp-1");
    assert_eq!(
        tail::<ExperimentRun>(Dialect::Postgres, &runs),
        " WHERE experiment_id = $1 ORDER BY variant COLLATE \"C\", stock_symbol COLLATE \"C\", \
         period COLLATE \"C\", blind, repeat_index, task_id COLLATE \"C\""
    );
    let of_task = experiment_run_of_task(Dialect::Sqlite, "task-1");
    assert_eq!(
        tail::<ExperimentRun>(Dialect::Sqlite, &of_task),
        " WHERE task_id = ?1 ORDER BY experiment_id LIMIT ?2"
    );
    assert_eq!(
        delete_experiment_run(Dialect::Postgres, "task-1").sql,
        "DELETE FROM experiment_runs WHERE task_id = $1"
    );
    assert_eq!(
        crate::sql::EXPERIMENT_STATUS.sql(Dialect::Sqlite).update,
        "UPDATE experiments SET status = ?2, error_message = ?3, updated_at = ?4 \
         WHERE experiment_id = ?1"
    );
}
