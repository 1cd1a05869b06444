//! Decisions, trades, snapshots and the task list page with cursors.

use aibt_core::{TaskStatus, TradeAction};

use crate::*;

use super::samples::*;

/// Lists page with cursors and never repeat or skip a row.
pub async fn lists_page_with_cursors(store: &dyn Store) {
    running_task(store, "task-page", "w").await;
    store
        .commit_steps(batch("task-page", "w", 0..25))
        .await
        .expect("commit");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_snapshots(
                "task-page",
                &RecordQuery {
                    limit: 7,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await
            .expect("page");
        seen.extend(page.items.into_iter().map(|s| s.snapshot_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|n| format!("task-page-s{n:09}")).collect();
    assert_eq!(seen, expected);

    let mut trades = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_trades(
                "task-page",
                &RecordQuery {
                    limit: 4,
                    cursor: cursor.clone(),
                    action: Some(TradeAction::Buy),
                    ..RecordQuery::default()
                },
            )
            .await
            .expect("page");
        trades.extend(page.items.into_iter().map(|t| t.trade_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0u32..25)
        .filter(|n: &u32| n.is_multiple_of(2))
        .map(|n| format!("task-page-t{n:08}"))
        .collect();
    assert_eq!(trades, expected);

    let window = store
        .list_decisions(
            "task-page",
            &RecordQuery {
                from: Some(at(100 + 5 * 3600)),
                to: Some(at(100 + 9 * 3600)),
                limit: 100,
                ..RecordQuery::default()
            },
        )
        .await
        .expect("window");
    assert_eq!(window.items.len(), 5);

    for n in 0..5 {
        let mut task = sample_task(&format!("task-list-{n}"), "acct-list", TaskStatus::Pending);
        task.created_at = at(1000 + n);
        store
            .create_task(&task, &sample_run_account(&task.task_id))
            .await
            .expect("create");
    }
    let first = store
        .list_tasks(&TaskQuery {
            status: Some(TaskStatus::Pending),
            account_id: Some("acct-list".into()),
            limit: 3,
            ..TaskQuery::default()
        })
        .await
        .expect("tasks");
    let ids: Vec<&str> = first.items.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["task-list-4", "task-list-3", "task-list-2"]);
    let second = store
        .list_tasks(&TaskQuery {
            status: Some(TaskStatus::Pending),
            account_id: Some("acct-list".into()),
            limit: 3,
            cursor: first.next_cursor.clone(),
            ..TaskQuery::default()
        })
        .await
        .expect("tasks");
    let ids: Vec<&str> = second.items.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["task-list-1", "task-list-0"]);
    assert!(second.next_cursor.is_none());

    let err = store
        .list_tasks(&TaskQuery {
            limit: 3,
            cursor: Some("garbage".into()),
            ..TaskQuery::default()
        })
        .await
        .expect_err("bad cursor");
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "cursor",
                ..
            }
        ),
        "{err}"
    );
}
