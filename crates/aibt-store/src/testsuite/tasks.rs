//! Tasks: step batches behind the lease fence, claims, and deletes.

use aibt_core::TaskStatus;

use crate::*;

use super::samples::*;

/// A batch is written only while the writer holds the lease of a RUNNING task; otherwise
/// nothing of it is stored.
pub async fn commits_are_fenced_by_lease_and_status(store: &dyn Store) {
    running_task(store, "task-fence", "worker-1").await;
    let refused = store
        .commit_steps(batch("task-fence", "worker-2", 0..2))
        .await
        .expect("commit");
    assert_eq!(
        refused,
        CommitOutcome::Refused {
            status: TaskStatus::Running,
            lease_owner: Some("worker-1".into())
        }
    );
    let all = RecordQuery {
        limit: 10,
        ..RecordQuery::default()
    };
    assert!(
        store
            .list_snapshots("task-fence", &all)
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let task = store.get_task("task-fence").await.expect("task");
    let mut paused = Lifecycle::of(&task);
    paused.status = TaskStatus::Paused;
    paused.paused_at = Some(at(50));
    // A status change may carry new options (a resume that raises the budget), written with it.
    paused.options = serde_json::json!({"budget": {"tokens": 1000}});
    let stored = store
        .update_lifecycle("task-fence", TaskStatus::Running, None, &paused)
        .await
        .expect("pause");
    assert_eq!(stored.options, paused.options);
    assert_eq!(
        store.get_task("task-fence").await.expect("task").options,
        paused.options
    );
    let refused = store
        .commit_steps(batch("task-fence", "worker-1", 0..2))
        .await
        .expect("commit");
    assert!(matches!(
        refused,
        CommitOutcome::Refused {
            status: TaskStatus::Paused,
            ..
        }
    ));
    assert!(
        store
            .list_trades("task-fence", &all)
            .await
            .expect("list")
            .items
            .is_empty()
    );

    // A second, conflicting status change is refused and names the current status.
    let err = store
        .update_lifecycle("task-fence", TaskStatus::Running, None, &paused)
        .await
        .expect_err("stale status");
    assert!(err.to_string().contains("PAUSED"), "{err}");

    // A worker ends its run only while the lease is its own: one whose lease another worker
    // took over cannot complete the task, the holder can.
    running_task(store, "task-end", "worker-2").await;
    let task = store.get_task("task-end").await.expect("task");
    let mut completed = Lifecycle::of(&task);
    completed.status = TaskStatus::Completed;
    completed.completed_at = Some(at(60));
    completed.lease_owner = None;
    let err = store
        .update_lifecycle(
            "task-end",
            TaskStatus::Running,
            Some("worker-1"),
            &completed,
        )
        .await
        .expect_err("a lost lease");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        store.get_task("task-end").await.expect("task").status,
        TaskStatus::Running
    );
    let done = store
        .update_lifecycle(
            "task-end",
            TaskStatus::Running,
            Some("worker-2"),
            &completed,
        )
        .await
        .expect("the holder completes");
    assert_eq!(done.status, TaskStatus::Completed);
}

/// A duplicate step (same ids) is refused as a whole: nothing of the batch is stored twice.
pub async fn a_repeated_batch_changes_nothing(store: &dyn Store) {
    running_task(store, "task-dup", "w").await;
    store
        .commit_steps(batch("task-dup", "w", 0..2))
        .await
        .expect("first");
    let err = store
        .commit_steps(batch("task-dup", "w", 1..3))
        .await
        .expect_err("overlapping ids");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let all = RecordQuery {
        limit: 10,
        ..RecordQuery::default()
    };
    assert_eq!(
        store
            .list_snapshots("task-dup", &all)
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    assert_eq!(
        store
            .get_task("task-dup")
            .await
            .expect("task")
            .processed_items,
        2
    );
}

/// Claims take RUNNING tasks nobody holds, or whose lease expired; never a held one.
pub async fn claims_respect_leases(store: &dyn Store) {
    let mut task = sample_task("task-claim", "user-account", TaskStatus::Running);
    task.created_at = at(-100);
    store
        .create_task(&task, &sample_run_account("task-claim"))
        .await
        .expect("create");
    let mut pending = sample_task("task-pending", "user-account", TaskStatus::Pending);
    pending.created_at = at(-200);
    store
        .create_task(&pending, &sample_run_account("task-pending"))
        .await
        .expect("create");

    let claimed = store
        .claim_task("w1", crate::ClaimFilter::any(), at(0), at(30))
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(claimed.task_id, "task-claim");
    assert_eq!(claimed.lease_owner.as_deref(), Some("w1"));
    assert!(
        store
            .claim_task("w2", crate::ClaimFilter::task("task-claim"), at(10), at(40))
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        store
            .renew_lease("task-claim", "w1", at(60))
            .await
            .expect("renew")
    );
    assert!(
        !store
            .renew_lease("task-claim", "w2", at(60))
            .await
            .expect("renew")
    );
    // A worker with free slots only for model tasks, or only for the others, claims those.
    let mut model = sample_task("task-model", "user-account", TaskStatus::Running);
    model.strategy = "template".into();
    model.created_at = at(-50);
    store
        .create_task(&model, &sample_run_account("task-model"))
        .await
        .expect("create");
    let only_rules = crate::ClaimFilter {
        task_id: None,
        strategy: Some(crate::StrategyFilter::Except("template")),
    };
    assert!(
        store
            .claim_task("w3", only_rules, at(10), at(40))
            .await
            .expect("claim")
            .is_none(),
        "the only free task is a model's"
    );
    let only_models = crate::ClaimFilter {
        task_id: None,
        strategy: Some(crate::StrategyFilter::Only("template")),
    };
    let claimed = store
        .claim_task("w3", only_models, at(10), at(40))
        .await
        .expect("claim")
        .expect("the model task");
    assert_eq!(claimed.task_id, "task-model");
    // After the lease expires another worker takes the task over.
    let taken = store
        .claim_task("w2", crate::ClaimFilter::any(), at(61), at(90))
        .await
        .expect("claim")
        .expect("the expired task");
    assert_eq!(taken.lease_owner.as_deref(), Some("w2"));
    assert!(
        !store
            .renew_lease("task-claim", "w1", at(100))
            .await
            .expect("renew")
    );
}

/// A delete refused by the task's status removes nothing; a missing task is NotFound; an
/// allowed delete takes the run account with it, and the purge that follows its decisions,
/// trades and snapshots, batch by batch, and nothing of another task.
pub async fn a_task_is_deleted_only_outside_refused_statuses(store: &dyn Store) {
    running_task(store, "task-guard", "w").await;
    running_task(store, "task-guard-2", "w").await;
    for task_id in ["task-guard", "task-guard-2"] {
        store
            .commit_steps(batch(task_id, "w", 0..3))
            .await
            .expect("commit");
    }
    let all = RecordQuery {
        limit: 10,
        ..RecordQuery::default()
    };

    let refused = store
        .delete_task("task-guard", &[TaskStatus::Running])
        .await
        .expect("delete");
    assert_eq!(refused, DeleteOutcome::Refused(TaskStatus::Running));
    assert_eq!(
        store.get_task("task-guard").await.expect("task").status,
        TaskStatus::Running
    );
    assert_eq!(
        store
            .list_snapshots("task-guard", &all)
            .await
            .expect("snapshots")
            .items
            .len(),
        3
    );

    let err = store
        .delete_task("task-missing", &[TaskStatus::Running])
        .await
        .expect_err("a missing task");
    assert!(
        matches!(err, StoreError::NotFound { entity: "task", .. }),
        "{err}"
    );

    let task = store.get_task("task-guard").await.expect("task");
    let mut paused = Lifecycle::of(&task);
    paused.status = TaskStatus::Paused;
    store
        .update_lifecycle("task-guard", TaskStatus::Running, None, &paused)
        .await
        .expect("pause");
    let deleted = store
        .delete_task("task-guard", &[TaskStatus::Running, TaskStatus::Pending])
        .await
        .expect("delete");
    assert_eq!(deleted, DeleteOutcome::Deleted);
    assert!(matches!(
        store.get_task("task-guard").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_task_account("task-guard").await,
        Err(StoreError::NotFound { .. })
    ));
    // The records go afterwards, in batches; until then they are left over.
    assert_eq!(
        store.orphaned_record_tasks().await.expect("leftovers"),
        ["task-guard"]
    );
    // A task that exists keeps its records, whatever a purge is asked.
    assert_eq!(
        store
            .purge_task_records("task-guard-2", 100)
            .await
            .expect("purge"),
        0
    );
    let mut purged = Vec::new();
    loop {
        let batch = store
            .purge_task_records("task-guard", 2)
            .await
            .expect("purge");
        if batch == 0 {
            break;
        }
        purged.push(batch);
    }
    // 3 snapshots, 3 decisions and 3 trades, at most 2 of each table per batch.
    assert_eq!(purged, [6, 3]);
    assert!(
        store
            .orphaned_record_tasks()
            .await
            .expect("leftovers")
            .is_empty()
    );
    let decisions = store
        .list_decisions("task-guard", &all)
        .await
        .expect("list");
    let trades = store.list_trades("task-guard", &all).await.expect("list");
    let snapshots = store
        .list_snapshots("task-guard", &all)
        .await
        .expect("list");
    assert!(decisions.items.is_empty() && trades.items.is_empty() && snapshots.items.is_empty());

    assert!(store.get_task_account("task-guard-2").await.is_ok());
    let kept = store
        .list_snapshots("task-guard-2", &all)
        .await
        .expect("list");
    assert_eq!(kept.items.len(), 3);
    assert_eq!(
        store
            .list_trades("task-guard-2", &all)
            .await
            .expect("list")
            .items
            .len(),
        3
    );
}
