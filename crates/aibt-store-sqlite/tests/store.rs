//! The shared store suite and SQLite's own guarantees, on real database files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_store::testsuite::{self, SeedDefaultIds};
use aibt_store::{Store, StoreError};
use aibt_store_sqlite::{LATEST_VERSION, SqliteStore};
use rusqlite::Connection;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("aibt.db"))
        .await
        .expect("open");
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_suite() {
    let (_dir, store) = fresh().await;
    testsuite::run_all(&store).await;
    testsuite::catalog_lists_every_seed_index(&store, true).await;
}

#[test]
fn any_eight_place_decimal_survives_sqlite() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_dir, store) = runtime.block_on(fresh());
    testsuite::any_eight_place_decimal_survives(&runtime, &store);
}

#[test]
fn any_snapshot_reads_back_as_written_in_sqlite() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_dir, store) = runtime.block_on(fresh());
    testsuite::any_snapshot_reads_back_as_written(&runtime, &store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_match_the_seed_in_sqlite() {
    let (dir, store) = fresh().await;
    let raw = Connection::open(dir.path().join("aibt.db")).expect("raw connection");
    raw.execute_batch(
        "INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
            stock_price, stock_market_value)
         VALUES ('acct-d', 'US', '100.00000000', '100.00000000', '0.00000000', '0.00000000');
         INSERT INTO prompt_templates (prompt_id, content) VALUES ('tpl-d', 'hello');
         INSERT INTO tasks (task_id, account_id, stock_symbol, start_date, end_date)
         VALUES ('task-d', 'acct-d', 'GOOG', '2020-01-01T00:00:00.000000Z', '2020-12-31T00:00:00.000000Z');
         INSERT INTO trade_records (trade_id, task_id, account_id, stock_symbol, trade_action,
            quantity, price, total_amount)
         VALUES ('task-d-t00000001', 'task-d', 'acct-d', 'GOOG', 'BUY', '1.00000000', '2.00000000', '2.00000000');
         INSERT INTO account_snapshots (snapshot_id, task_id, account_id, balance, stock_quantity,
            stock_price, stock_market_value, total_value, profit_loss, profit_loss_percent,
            market_type, initial_balance, stock_symbol, current_balance)
         VALUES ('task-d-s000000000', 'task-d', 'acct-d', '1.00000000', '0.00000000', '1.00000000',
            '0.00000000', '1.00000000', '0.00000000', '0.000000', 'US', '1.00000000', 'GOOG', '1.00000000');
         INSERT INTO local_decisions (decision_id, task_id, account_id, stock_symbol,
            decision_result, confidence_score, reasoning)
         VALUES ('task-d-d000000000', 'task-d', 'acct-d', 'GOOG', 'HOLD', '0.500000', 'wait');
             INSERT INTO ai_configs (config_id, name, local_ai_base_url, local_ai_api_key,
                local_ai_model_name)
             VALUES ('cfg-d', 'minimal', 'http://127.0.0.1:8080/v1', '', 'm');",
    )
    .expect("minimal rows");
    testsuite::defaults_match_seed(
        &store,
        &SeedDefaultIds {
            account_id: "acct-d".into(),
            prompt_id: "tpl-d".into(),
            task_id: "task-d".into(),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_columns_refuse_binary_floats() {
    let (dir, _store) = fresh().await;
    let raw = Connection::open(dir.path().join("aibt.db")).expect("raw connection");
    let err = raw
        .execute(
            "INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
                stock_price, stock_market_value) VALUES ('x', 'US', 100.5, '1', '1', '1')",
            [],
        )
        .expect_err("a REAL in a money column");
    assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_runs_in_wal_mode_with_a_busy_timeout() {
    let (dir, _store) = fresh().await;
    let raw = Connection::open(dir.path().join("aibt.db")).expect("raw connection");
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_migrates_once_and_keeps_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("aibt.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store
        .insert_account(&testsuite::sample_account("kept"))
        .await
        .expect("insert");
    drop(store);
    let again = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("reopen");
    assert_eq!(
        again.schema_version().await.expect("version"),
        LATEST_VERSION
    );
    assert!(again.get_account("kept").await.is_ok());
    let report = again.check().await.expect("check");
    assert_eq!(report.integrity, vec!["ok".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_aibt_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("aibt.db");
    drop(SqliteStore::open(&path).await.expect("open"));
    Connection::open(&path)
        .expect("raw")
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
            [],
        )
        .expect("future version");
    match SqliteStore::open(&path).await {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_writes_a_consistent_copy() {
    let (dir, store) = fresh().await;
    store
        .insert_account(&testsuite::sample_account("backed-up"))
        .await
        .expect("insert");
    let copy = dir.path().join("copy.db");
    store.backup(&copy).await.expect("backup");
    let restored = SqliteStore::open(&copy).await.expect("open copy");
    assert!(restored.get_account("backed-up").await.is_ok());
    assert!(matches!(
        store.backup(&copy).await,
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn urls_name_files() {
    use aibt_store_sqlite::path_from_url;
    assert_eq!(
        path_from_url("sqlite://backtesting_dev.db")
            .unwrap()
            .to_str(),
        Some("backtesting_dev.db")
    );
    assert_eq!(
        path_from_url("sqlite:///tmp/a.db").unwrap().to_str(),
        Some("/tmp/a.db")
    );
    assert!(path_from_url("postgres://x").is_err());
    assert!(path_from_url("sqlite://").is_err());
}

/// A database file as the first `version` migrations left it, written without aibt: each
/// migration's SQL as shipped, recorded as applied.
fn database_at_version(path: &std::path::Path, version: usize) -> Connection {
    let migrations = [
        include_str!("../migrations/0001_foundation.sql"),
        include_str!("../migrations/0002_llm_decisions.sql"),
        include_str!("../migrations/0003_orders.sql"),
        include_str!("../migrations/0004_experiments.sql"),
        include_str!("../migrations/0005_reasoning_and_cost.sql"),
        include_str!("../migrations/0006_call_slots.sql"),
        include_str!("../migrations/0007_tools.sql"),
        include_str!("../migrations/0008_series.sql"),
        include_str!("../migrations/0009_compact_snapshots.sql"),
        include_str!("../migrations/0010_compact_bars.sql"),
    ];
    let raw = Connection::open(path).expect("raw");
    raw.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));",
    )
    .expect("migrations table");
    for (applied, sql) in (1..).zip(&migrations[..version]) {
        raw.execute_batch(sql).expect("an old migration");
        raw.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, 'old')",
            [applied],
        )
        .expect("recorded");
    }
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    {
        // The database as aibt's first release left it.
        let raw = database_at_version(&path, 1);
        raw.execute_batch(
            "INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
                stock_price, stock_market_value)
             VALUES ('old-account', 'US', '1234.50000000', '1234.50000000', '0.00000000', '0.00000000');
             INSERT INTO ai_configs (config_id, name, local_ai_base_url, local_ai_api_key, local_ai_model_name)
             VALUES ('old-config', 'old', 'http://x/v1', '', 'm');",
        )
        .expect("version 1 rows");
    }
    let store = SqliteStore::open(&path).await.expect("upgrade");
    testsuite::an_upgraded_database_keeps_its_rows(&store, "old-account", "old-config").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_with_a_taken_id_is_a_conflict_in_sqlite() {
    let (_dir, store) = fresh().await;
    testsuite::a_large_batch_with_a_taken_id_is_a_conflict(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bar_values_of_any_size_read_back_in_sqlite() {
    let (_dir, store) = fresh().await;
    testsuite::bar_values_of_any_size_read_back(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_10_database_keeps_its_bars_and_snapshots_through_the_rebuild() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v10.db");
    {
        // The database as migration 10 left it, with a bar and a snapshot written through the
        // seed's views (a small and a 20-digit value, so both stored forms are rebuilt).
        let raw = database_at_version(&path, 10);
        raw.execute_batch(
            "INSERT INTO market_bars (symbol, market_type, granularity, ts, open, high, low, close, volume)
             VALUES ('OLD', 'US', 'daily', '2020-01-02T00:00:00Z', '10.50000000',
                     '123456789012.12345678', '10.00000000', '11.00000000', '0.00000000');
             INSERT INTO account_snapshots (snapshot_id, task_id, account_id, balance, stock_quantity,
                stock_price, stock_market_value, total_value, profit_loss, profit_loss_percent,
                timestamp, market_type, initial_balance, stock_symbol, current_balance, position_side)
             VALUES ('old-task-s000000003', 'old-task', 'old-account', '123456789012.12345678',
                '2.00000000', '11.00000000', '22.00000000', '123456789034.12345678', '-1.50000000',
                '-0.150000', '2020-01-02T00:00:00Z', 'US', '1000.00000000', 'OLD',
                '1000.00000000', 'LONG');",
        )
        .expect("rows through the views");
    }
    let store = SqliteStore::open(&path).await.expect("upgrade");
    let series = aibt_store::SeriesKey {
        symbol: "OLD".into(),
        market_type: aibt_core::MarketType::Us,
        granularity: aibt_core::TimeGranularity::Daily,
    };
    let bars = store
        .bars(&series, aibt_store::BarRange::default())
        .await
        .expect("bars");
    assert_eq!(bars.len(), 1);
    assert_eq!(bars[0].open.to_string(), "10.50000000");
    assert_eq!(bars[0].high.to_string(), "123456789012.12345678");
    let snapshots = store
        .list_snapshots("old-task", &aibt_store::RecordQuery::default())
        .await
        .expect("snapshots");
    let [snapshot] = snapshots.items.as_slice() else {
        panic!("one snapshot, got {}", snapshots.items.len());
    };
    assert_eq!(snapshot.snapshot_id, "old-task-s000000003");
    assert_eq!(snapshot.balance.to_string(), "123456789012.12345678");
    assert_eq!(snapshot.profit_loss_percent.to_string(), "-0.150000");
    assert_eq!(snapshot.stock_quantity.to_string(), "2.00000000");
    // The rebuilt tables keep the seed's indexes that serve the views.
    let raw = Connection::open(&path).expect("raw");
    let indexes: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'snapshot_steps' ORDER BY name")
        .expect("catalog")
        .query_map([], |row| row.get(0))
        .expect("indexes")
        .collect::<Result<_, _>>()
        .expect("names");
    assert_eq!(
        indexes,
        ["ix_account_snapshots_timestamp", "ix_snapshot_steps_series"]
    );
    let check: String = raw
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity");
    assert_eq!(check, "ok");
}
