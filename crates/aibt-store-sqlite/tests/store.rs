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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    {
        // The database as aibt's first release left it.
        let raw = Connection::open(&path).expect("raw");
        raw.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL,
                applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));",
        )
        .expect("migrations table");
        raw.execute_batch(include_str!("../migrations/0001_foundation.sql"))
            .expect("version 1");
        raw.execute_batch(
            "INSERT INTO schema_migrations (version, name) VALUES (1, 'foundation');
             INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
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
