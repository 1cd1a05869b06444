//! Experiments: a grid of tasks stored at once or not at all, listed newest first, its status
//! changed in place, its runs in grid order, and a deleted task leaving it.

use aibt_core::{MarketType, TaskStatus, TimeGranularity};
use serde_json::json;

use crate::*;

use super::samples::*;

/// An experiment whose every column holds a distinctive value.
fn sample_experiment(experiment_id: &str) -> Experiment {
    Experiment {
        experiment_id: experiment_id.to_string(),
        name: "趋势 prompt against rules — \"v2\"".into(),
        spec: json!({
            "name": "趋势 prompt against rules",
            "seed": 7,
            "series": [{"symbol": "GOOG"}, {"symbol": "SPY"}],
            "periods": {
                "in_sample": {"start": "2008-01-01", "end": "2010-12-31"},
                "out_of_sample": {"start": "2011-01-01", "end": "2012-12-31"}
            },
            "account": {"cash": "10000", "commission": "0.001"},
            "strategies": [{
                "name": "trend",
                "template": "{{ symbol }} 收盘价 {{ bar.close }}\n\"quoted\" \\ back-slashed",
                "ai_config": {"base_url": "http://127.0.0.1:8080/v1", "model": "qwen2.5:7b"},
                "repeats": 3,
                "temperature": 0.7,
                "blind_twin": true,
                "params": {}
            }],
            "baselines": {"random": 20, "names": null}
        }),
        status: TaskStatus::CompletedWithErrors,
        error_message: Some("budget of $10.00 reached after 1,234 calls — 'ünïcode'".into()),
        created_at: at(7),
        updated_at: at(8),
    }
}

/// The first named run of a grid: a strategy on GOOG in sample.
fn sample_run(experiment_id: &str, task_id: &str) -> ExperimentRun {
    ExperimentRun {
        experiment_id: experiment_id.to_string(),
        task_id: task_id.to_string(),
        variant: "trend".into(),
        role: RunRole::Strategy,
        stock_symbol: "GOOG".into(),
        market_type: MarketType::Us,
        time_granularity: TimeGranularity::Daily,
        period: "in_sample".into(),
        repeat_index: 0,
        blind: false,
    }
}

/// PENDING tasks, each with its run account.
fn grid_tasks(task_ids: &[&str]) -> Vec<(Task, VirtualAccount)> {
    task_ids
        .iter()
        .map(|id| {
            (
                sample_task(id, "user-account", TaskStatus::Pending),
                sample_run_account(id),
            )
        })
        .collect()
}

/// Creates an experiment with a task and a run for each of `task_ids`.
async fn create_grid(store: &dyn Store, experiment: &Experiment, task_ids: &[&str]) {
    let runs: Vec<ExperimentRun> = task_ids
        .iter()
        .map(|id| sample_run(&experiment.experiment_id, id))
        .collect();
    store
        .create_experiment(experiment, &grid_tasks(task_ids), &runs)
        .await
        .expect("create experiment");
}

fn is_not_found<T>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound { .. }))
}

/// Asserts a NotFound that names an experiment.
fn assert_no_experiment<T: std::fmt::Debug>(result: Result<T>) {
    assert!(
        matches!(
            result,
            Err(StoreError::NotFound {
                entity: "experiment",
                ..
            })
        ),
        "{result:?}"
    );
}

/// Nothing of a failed create is stored: no experiment, run, task or run account.
async fn assert_nothing_stored(store: &dyn Store, experiment_id: &str, task_ids: &[&str]) {
    assert_no_experiment(store.get_experiment(experiment_id).await);
    assert!(
        store
            .list_experiment_runs(experiment_id)
            .await
            .expect("runs")
            .is_empty()
    );
    for id in task_ids {
        assert!(is_not_found(store.get_task(id).await), "task {id} kept");
        assert!(is_not_found(store.get_task_account(id).await));
        assert!(is_not_found(
            store.get_account(&format!("{id}-account")).await
        ));
        assert_eq!(store.experiment_of_task(id).await.expect("lookup"), None);
    }
}

/// Every column of an experiment and of its runs comes back exactly as written, and its
/// tasks and their run accounts are stored with it.
pub async fn experiments_round_trip_every_column(store: &dyn Store) {
    let experiment = sample_experiment("exp-rt");
    let tasks = grid_tasks(&["exp-rt-t1", "exp-rt-t2"]);
    let runs = vec![
        ExperimentRun {
            variant: "always-hold".into(),
            role: RunRole::Baseline,
            stock_symbol: "BTC-USDT".into(),
            market_type: MarketType::Coin,
            time_granularity: TimeGranularity::Minute,
            period: "fold3 — 第三折".into(),
            repeat_index: 12,
            blind: true,
            ..sample_run("exp-rt", "exp-rt-t1")
        },
        sample_run("exp-rt", "exp-rt-t2"),
    ];
    store
        .create_experiment(&experiment, &tasks, &runs)
        .await
        .expect("create");
    assert_eq!(
        store.get_experiment("exp-rt").await.expect("get"),
        experiment
    );
    assert_eq!(
        store.list_experiment_runs("exp-rt").await.expect("runs"),
        runs
    );
    for (task, account) in &tasks {
        assert_eq!(&store.get_task(&task.task_id).await.expect("task"), task);
        assert_eq!(
            &store
                .get_task_account(&task.task_id)
                .await
                .expect("run account"),
            account
        );
    }

    assert_no_experiment(store.get_experiment("exp-missing").await);
    assert!(
        store
            .list_experiment_runs("exp-missing")
            .await
            .expect("runs")
            .is_empty()
    );

    let report = store.check().await.expect("check");
    let rows = |table: &str| {
        report
            .tables
            .iter()
            .find(|(name, _)| name == table)
            .map(|(_, count)| *count)
    };
    assert!(rows("experiments") >= Some(1), "{:?}", report.tables);
    assert!(rows("experiment_runs") >= Some(2), "{:?}", report.tables);
}

/// The error of a create of experiment `exp-half` that must fail.
async fn refused_create(
    store: &dyn Store,
    task_ids: &[&str],
    runs: &[ExperimentRun],
) -> StoreError {
    store
        .create_experiment(&sample_experiment("exp-half"), &grid_tasks(task_ids), runs)
        .await
        .expect_err("a create that must fail")
}

/// A create that fails part way (a run repeated, or a task id already taken) leaves no
/// experiment, no run, no task and no run account, and leaves the task it collided with as
/// it was.
pub async fn an_experiment_is_created_whole_or_not_at_all(store: &dyn Store) {
    let task_ids = ["exp-half-t1", "exp-half-t2"];
    let runs = vec![
        sample_run("exp-half", "exp-half-t1"),
        sample_run("exp-half", "exp-half-t2"),
        ExperimentRun {
            variant: "sma".into(),
            ..sample_run("exp-half", "exp-half-t2")
        },
    ];
    let err = refused_create(store, &task_ids, &runs).await;
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_nothing_stored(store, "exp-half", &task_ids).await;

    let taken = running_task(store, "exp-taken", "w").await;
    let task_ids = ["exp-half-t3", "exp-taken"];
    let runs: Vec<ExperimentRun> = task_ids
        .iter()
        .map(|id| sample_run("exp-half", id))
        .collect();
    let err = refused_create(store, &task_ids, &runs).await;
    assert!(
        matches!(&err, StoreError::Conflict(message) if message.contains("exp-taken")),
        "{err}"
    );
    assert_nothing_stored(store, "exp-half", &["exp-half-t3"]).await;
    assert_eq!(store.get_task("exp-taken").await.expect("kept"), taken);
    assert_eq!(
        store.get_task_account("exp-taken").await.expect("kept"),
        sample_run_account("exp-taken")
    );
    assert_eq!(
        store.experiment_of_task("exp-taken").await.expect("lookup"),
        None
    );
}

/// The experiment list pages newest first, ties in time broken by id, without repeating or
/// skipping a row.
pub async fn experiments_page_newest_first(store: &dyn Store) {
    // Later than every other experiment of the suite, so these come first; c and d share a
    // time and fall on the two sides of a page boundary.
    for (id, seconds) in [
        ("exp-page-a", 5000),
        ("exp-page-b", 5001),
        ("exp-page-c", 5002),
        ("exp-page-d", 5002),
        ("exp-page-e", 5003),
    ] {
        let experiment = Experiment {
            created_at: at(seconds),
            ..sample_experiment(id)
        };
        store
            .create_experiment(&experiment, &[], &[])
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_experiments(2, cursor.clone())
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|e| e.experiment_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen[..5],
        [
            "exp-page-e",
            "exp-page-d",
            "exp-page-c",
            "exp-page-b",
            "exp-page-a"
        ]
    );
    let all = store.list_experiments(1000, None).await.expect("all");
    assert_eq!(
        all.items
            .iter()
            .map(|e| e.experiment_id.clone())
            .collect::<Vec<_>>(),
        seen
    );
    assert!(all.next_cursor.is_none());

    let garbage = store.list_experiments(2, Some("garbage".into())).await;
    let refused = matches!(&garbage, Err(StoreError::Invalid { field, .. }) if *field == "cursor");
    assert!(refused, "{garbage:?}");
}

/// A status change writes the status, the reason and the time, returns the row as stored,
/// and leaves every other column alone.
pub async fn an_experiment_status_changes_in_place(store: &dyn Store) {
    let experiment = Experiment {
        status: TaskStatus::Running,
        error_message: None,
        ..sample_experiment("exp-status")
    };
    store
        .create_experiment(&experiment, &[], &[])
        .await
        .expect("create");
    let paused = store
        .update_experiment(
            "exp-status",
            TaskStatus::Paused,
            Some("budget of $10.00 reached".into()),
            at(60),
        )
        .await
        .expect("pause");
    assert_eq!(
        paused,
        Experiment {
            status: TaskStatus::Paused,
            error_message: Some("budget of $10.00 reached".into()),
            updated_at: at(60),
            ..experiment.clone()
        }
    );
    assert_eq!(
        store.get_experiment("exp-status").await.expect("get"),
        paused
    );

    let resumed = store
        .update_experiment("exp-status", TaskStatus::Running, None, at(61))
        .await
        .expect("resume");
    assert_eq!(
        resumed,
        Experiment {
            updated_at: at(61),
            ..experiment
        }
    );

    assert_no_experiment(
        store
            .update_experiment("exp-missing", TaskStatus::Cancelled, None, at(62))
            .await,
    );
}

/// Runs list by variant, series, period, the named run before its blind twin, then repeat
/// (as a number), with text compared byte by byte; neither insertion order nor task ids
/// decide it.
pub async fn experiment_runs_list_in_grid_order(store: &dyn Store) {
    let grid = [
        ("Zeta", "SPY", "in_sample", false, 0),
        ("buy-and-hold", "GOOG", "in_sample", false, 0),
        ("buy-and-hold", "GOOG", "out_of_sample", false, 0),
        ("buy-and-hold", "SPY", "in_sample", false, 0),
        ("trend", "GOOG", "in_sample", false, 0),
        ("trend", "GOOG", "in_sample", false, 1),
        ("trend", "GOOG", "in_sample", false, 2),
        ("trend", "GOOG", "in_sample", false, 10),
        ("trend", "GOOG", "in_sample", true, 0),
        ("trend", "GOOG", "in_sample", true, 1),
        ("trend", "GOOG", "out_of_sample", false, 0),
    ];
    let expected: Vec<ExperimentRun> = grid
        .iter()
        .enumerate()
        .map(
            |(i, &(variant, symbol, period, blind, repeat))| ExperimentRun {
                variant: variant.into(),
                role: if variant == "buy-and-hold" {
                    RunRole::Baseline
                } else {
                    RunRole::Strategy
                },
                stock_symbol: symbol.into(),
                period: period.into(),
                blind,
                repeat_index: repeat,
                // Task ids in the opposite order of the grid.
                ..sample_run("exp-grid", &format!("exp-grid-t{:02}", grid.len() - i))
            },
        )
        .collect();
    let mut scrambled = expected.clone();
    scrambled.reverse();
    scrambled.rotate_left(4);
    let task_ids: Vec<&str> = scrambled.iter().map(|r| r.task_id.as_str()).collect();
    store
        .create_experiment(
            &sample_experiment("exp-grid"),
            &grid_tasks(&task_ids),
            &scrambled,
        )
        .await
        .expect("create");
    assert_eq!(
        store.list_experiment_runs("exp-grid").await.expect("runs"),
        expected
    );
}

/// A task of an experiment names it; any other task, or none, names no experiment.
pub async fn a_task_knows_its_experiment(store: &dyn Store) {
    create_grid(store, &sample_experiment("exp-of"), &["exp-of-t1"]).await;
    assert_eq!(
        store.experiment_of_task("exp-of-t1").await.expect("lookup"),
        Some("exp-of".to_string())
    );
    running_task(store, "exp-of-plain", "w").await;
    assert_eq!(
        store
            .experiment_of_task("exp-of-plain")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store
            .experiment_of_task("no-such-task")
            .await
            .expect("lookup"),
        None
    );
}

/// Deleting a task of an experiment removes its run with it; a refused delete keeps it, and
/// the experiment keeps its other runs.
pub async fn deleting_a_task_removes_its_experiment_run(store: &dyn Store) {
    create_grid(
        store,
        &sample_experiment("exp-del"),
        &["exp-del-t1", "exp-del-t2"],
    )
    .await;
    let deleted = store
        .delete_task("exp-del-t1", &[TaskStatus::Running])
        .await
        .expect("delete");
    assert_eq!(deleted, DeleteOutcome::Deleted);
    let runs = store.list_experiment_runs("exp-del").await.expect("runs");
    assert_eq!(runs, [sample_run("exp-del", "exp-del-t2")]);
    assert_eq!(
        store
            .experiment_of_task("exp-del-t1")
            .await
            .expect("lookup"),
        None
    );

    let refused = store
        .delete_task("exp-del-t2", &[TaskStatus::Pending])
        .await
        .expect("delete");
    assert_eq!(refused, DeleteOutcome::Refused(TaskStatus::Pending));
    assert_eq!(
        store.list_experiment_runs("exp-del").await.expect("runs"),
        runs
    );
    assert!(store.get_experiment("exp-del").await.is_ok());
}

/// The experiment list and the experiment of a task are served by indexes.
pub async fn experiment_lookups_are_indexed(store: &dyn Store) {
    let indexes = store.indexes().await.expect("indexes");
    for (table, column) in [
        ("experiments", "created_at"),
        ("experiment_runs", "task_id"),
    ] {
        assert!(
            indexes
                .iter()
                .any(|i| i.table == table && i.columns.first().map(String::as_str) == Some(column)),
            "no index on {table}.{column}; catalog lists {indexes:#?}"
        );
    }
}
