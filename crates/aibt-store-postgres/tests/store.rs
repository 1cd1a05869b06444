//! The shared store suite and PostgreSQL's own guarantees, on a real server: each test gets a
//! database of its own, dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aibt_core::TaskStatus;
use aibt_store::testsuite::{self, SeedDefaultIds};
use aibt_store::{DeleteOutcome, Store, StoreError};
use aibt_store_postgres::{LATEST_VERSION, PostgresStore};
use aibt_testkit::postgres::TestDatabase;

fn test_database() -> TestDatabase {
    TestDatabase::new("aibt_test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_store_suite() {
    let db = test_database();
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    testsuite::run_all(&store).await;
    testsuite::catalog_lists_every_seed_index(&store, true).await;
}

#[test]
fn any_eight_place_decimal_survives_postgres() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = test_database();
    let store = runtime
        .block_on(PostgresStore::connect(&db.url()))
        .expect("connect");
    testsuite::any_eight_place_decimal_survives(&runtime, &store);
}

#[test]
fn any_snapshot_reads_back_as_written_in_postgres() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = test_database();
    let store = runtime
        .block_on(PostgresStore::connect(&db.url()))
        .expect("connect");
    testsuite::any_snapshot_reads_back_as_written(&runtime, &store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_match_the_seed_in_postgres() {
    let db = test_database();
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    db.raw()
        .await
        .batch_execute(
            "INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
                stock_price, stock_market_value)
             VALUES ('acct-d', 'US', 100, 100, 0, 0);
             INSERT INTO prompt_templates (prompt_id, content) VALUES ('tpl-d', 'hello');
             INSERT INTO tasks (task_id, account_id, stock_symbol, start_date, end_date)
             VALUES ('task-d', 'acct-d', 'GOOG', '2020-01-01Z', '2020-12-31Z');
             INSERT INTO trade_records (trade_id, task_id, account_id, stock_symbol, trade_action,
                quantity, price, total_amount)
             VALUES ('task-d-t00000001', 'task-d', 'acct-d', 'GOOG', 'BUY', 1, 2, 2);
             INSERT INTO account_snapshots (snapshot_id, task_id, account_id, balance, stock_quantity,
                stock_price, stock_market_value, total_value, profit_loss, profit_loss_percent,
                market_type, initial_balance, stock_symbol, current_balance)
             VALUES ('task-d-s000000000', 'task-d', 'acct-d', 1, 0, 1, 0, 1, 0, 0, 'US', 1, 'GOOG', 1);
             INSERT INTO local_decisions (decision_id, task_id, account_id, stock_symbol,
                decision_result, confidence_score, reasoning)
             VALUES ('task-d-d000000000', 'task-d', 'acct-d', 'GOOG', 'HOLD', 0.5, 'wait');
             INSERT INTO ai_configs (config_id, name, local_ai_base_url, local_ai_api_key,
                local_ai_model_name)
             VALUES ('cfg-d', 'minimal', 'http://127.0.0.1:8080/v1', '', 'm');",
        )
        .await
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
async fn columns_have_the_seed_types() {
    let db = test_database();
    let _store = PostgresStore::connect(&db.url()).await.expect("connect");
    let rows = db
        .raw()
        .await
        .query(
            "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale
             FROM information_schema.columns WHERE table_schema = current_schema()",
            &[],
        )
        .await
        .expect("catalog");
    let find = |table: &str, column: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == table && r.get::<_, String>(1) == column)
            .map(|r| {
                (
                    r.get::<_, String>(2),
                    r.get::<_, Option<i32>>(3),
                    r.get::<_, Option<i32>>(4),
                )
            })
            .unwrap_or_else(|| panic!("{table}.{column} missing"))
    };
    assert_eq!(
        find("virtual_accounts", "initial_balance"),
        ("numeric".into(), Some(38), Some(8))
    );
    assert_eq!(
        find("virtual_accounts", "commission_rate_buy"),
        ("numeric".into(), Some(10), Some(6))
    );
    assert_eq!(
        find("account_snapshots", "profit_loss_percent"),
        ("numeric".into(), Some(15), Some(6))
    );
    assert_eq!(
        find("local_decisions", "confidence_score"),
        ("numeric".into(), Some(10), Some(6))
    );
    assert_eq!(find("tasks", "stats").0, "jsonb");
    assert_eq!(find("virtual_accounts", "long_positions").0, "jsonb");
    assert_eq!(find("tasks", "start_date").0, "timestamp with time zone");
    assert_eq!(
        find("trade_records", "trade_time").0,
        "timestamp with time zone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_migrates_once_and_a_newer_schema_is_refused() {
    let db = test_database();
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    store
        .insert_account(&testsuite::sample_account("kept"))
        .await
        .expect("insert");
    let again = PostgresStore::connect(&db.url()).await.expect("reconnect");
    assert_eq!(
        again.schema_version().await.expect("version"),
        LATEST_VERSION
    );
    assert!(again.get_account("kept").await.is_ok());
    db.raw()
        .await
        .batch_execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
        .await
        .expect("future version");
    match PostgresStore::connect(&db.url()).await {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_beyond_numeric_38_8_are_refused_by_the_column() {
    let db = test_database();
    let _store = PostgresStore::connect(&db.url()).await.expect("connect");
    let err = db
        .raw()
        .await
        .batch_execute(
            "INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
                stock_price, stock_market_value)
             VALUES ('big', 'US', 1e31, 0, 0, 0)",
        )
        .await
        .expect_err("overflowing NUMERIC(38,8)");
    assert!(
        err.to_string().contains("numeric field overflow") || format!("{err:?}").contains("22003"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place() {
    let db = test_database();
    {
        // Create the database, then rebuild it as aibt's first release left it.
        drop(PostgresStore::connect(&db.url()).await.expect("create"));
        let raw = db.raw().await;
        raw.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .await
            .expect("empty schema");
        raw.batch_execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now());",
        )
        .await
        .expect("migrations table");
        raw.batch_execute(include_str!("../migrations/0001_foundation.sql"))
            .await
            .expect("version 1");
        raw.batch_execute(
            "INSERT INTO schema_migrations (version, name) VALUES (1, 'foundation');
             INSERT INTO virtual_accounts (account_id, market_type, initial_balance, current_balance,
                stock_price, stock_market_value) VALUES ('old-account', 'US', 1234.5, 1234.5, 0, 0);
             INSERT INTO ai_configs (config_id, name, local_ai_base_url, local_ai_api_key, local_ai_model_name)
             VALUES ('old-config', 'old', 'http://x/v1', '', 'm');",
        )
        .await
        .expect("version 1 rows");
    }
    let store = PostgresStore::connect(&db.url()).await.expect("upgrade");
    testsuite::an_upgraded_database_keeps_its_rows(&store, "old-account", "old-config").await;
}

/// A start that has changed the status (and holds the row) when a delete arrives makes the
/// delete wait, then refuses it: the status test is part of the DELETE, not a read before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_waits_for_a_concurrent_start_and_is_refused() {
    let db = test_database();
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    let task = testsuite::sample_task("task-race", "user-account", TaskStatus::Pending);
    store
        .create_task(&task, &testsuite::sample_run_account("task-race"))
        .await
        .expect("create");
    let mut raw = db.raw().await;
    let start = raw.transaction().await.expect("transaction");
    start
        .execute(
            "UPDATE tasks SET status = 'RUNNING' WHERE task_id = 'task-race' AND status = 'PENDING'",
            &[],
        )
        .await
        .expect("start");
    let deleting = tokio::spawn({
        let store = store.clone();
        async move { store.delete_task("task-race", &[TaskStatus::Running]).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!deleting.is_finished(), "the delete waits for the start");
    start.commit().await.expect("commit the start");
    let outcome = deleting.await.expect("join").expect("delete");
    assert_eq!(outcome, DeleteOutcome::Refused(TaskStatus::Running));
    let task = store.get_task("task-race").await.expect("the task is kept");
    assert_eq!(task.status, TaskStatus::Running);
    assert!(store.get_task_account("task-race").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_with_a_taken_id_is_a_conflict_in_postgres() {
    let db = test_database();
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    testsuite::a_large_batch_with_a_taken_id_is_a_conflict(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bar_values_of_any_size_read_back_in_postgres() {
    let db = test_database();
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    testsuite::bar_values_of_any_size_read_back(&store).await;
}
