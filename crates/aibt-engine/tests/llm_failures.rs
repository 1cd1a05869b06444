//! How a model task lives through a server that fails: a rate limit waited out as
//! Retry-After says, server errors retried until they pass or fail the decision (and past a
//! limit, the task), a hang past the timeout and a dropped connection retried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aibt_core::{TaskStatus, TradeAction};
use aibt_engine::ai_config::AiConfigSpec;
use aibt_testkit::Reply;
use common::ai::*;

#[tokio::test]
async fn rate_limits_are_waited_out_as_retry_after_says() {
    let started = Instant::now();
    let limited = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = limited.clone();
    let (run, fake) = run_against(
        move |step, _, _| {
            // The first request of steps 3 and 7 is refused with a one-second Retry-After.
            if (step == 3 || step == 7) && seen.lock().expect("lock").insert(step) {
                return Reply::Status {
                    code: 429,
                    retry_after: Some("1".into()),
                    body: "{\"error\": {\"message\": \"slow down\"}}".into(),
                };
            }
            answer_for(step)
        },
        |s| s,
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    assert_eq!(fake.calls(), run.decisions.len() + 2);
    assert_eq!(run.decisions[3].llm_calls, 2);
    assert_eq!(run.decisions[7].llm_calls, 2);
    assert!(run.decisions[3].execution_time_ms.expect("latency") >= 1000);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn server_errors_that_pass_are_retried_and_ones_that_persist_fail_the_task() {
    // A 503 on the first call of steps 4, 14 and 24: retried, nothing lost.
    let refused = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = refused.clone();
    let (run, _) = run_against(
        move |step, _, _| {
            if step % 10 == 4 && seen.lock().expect("lock").insert(step) {
                return Reply::Status {
                    code: 503,
                    retry_after: Some("0".into()),
                    body: "overloaded".into(),
                };
            }
            answer_for(step)
        },
        |s| s,
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    for step in [4, 14, 24] {
        assert_eq!(run.decisions[step].llm_calls, 2);
    }

    // A 503 on every call of those steps: the retries run out and each is a failed decision.
    let (run, _) = run_against(
        |step, _, _| {
            if step % 10 == 4 {
                return Reply::Status {
                    code: 503,
                    retry_after: Some("0".into()),
                    body: "overloaded".into(),
                };
            }
            answer_for(step)
        },
        |s| s,
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    assert_eq!(run.failed(), 3);
    for step in [4, 14, 24] {
        let row = &run.decisions[step];
        assert_eq!(row.decision_result, TradeAction::Hold);
        assert_eq!(row.confidence_score.to_string(), "0.000000");
        assert_eq!(row.llm_calls, 3, "one call and two retries");
        assert!(
            row.error.as_deref().expect("error").contains("HTTP 503"),
            "{row:?}"
        );
        assert!(row.raw_answer.is_none());
    }
    assert_eq!(run.stats()["failed_decisions"], 3);

    // Every call a 500: past the failure limit (a quarter of the decisions, at least 5), the
    // task is FAILED with the reason.
    let (run, fake) = run_against(
        |_, _, _| Reply::Status {
            code: 500,
            retry_after: None,
            body: "boom".into(),
        },
        |s| AiConfigSpec {
            max_retries: Some(0),
            ..s
        },
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Failed);
    let limit = (run.task.total_items.expect("total") as u64)
        .div_ceil(4)
        .max(5);
    assert_eq!(run.failed(), limit + 1);
    assert_eq!(fake.calls() as u64, limit + 1);
    let error = run.task.error_message.as_deref().expect("error message");
    assert!(
        error.contains("more than the limit") && error.contains("HTTP 500"),
        "{error}"
    );
}

#[tokio::test]
async fn a_hang_past_the_timeout_and_a_dropped_connection_are_retried() {
    let hung = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (h, d) = (hung.clone(), dropped.clone());
    let (run, _) = run_against(
        move |step, _, _| {
            if step == 2 && h.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::Hang(Duration::from_secs(4));
            }
            if step == 5 && d.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::Drop;
            }
            answer_for(step)
        },
        |s| AiConfigSpec {
            timeout_seconds: Some(1),
            ..s
        },
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.failed(), 0);
    assert_eq!(run.decisions[2].llm_calls, 2);
    assert!(run.decisions[2].execution_time_ms.expect("latency") >= 1000);
    assert_eq!(run.decisions[5].llm_calls, 2);

    // Without retries, each is one failed decision.
    let (run, _) = run_against(
        |step, _, _| match step {
            2 => Reply::Hang(Duration::from_secs(3)),
            5 => Reply::Drop,
            _ => answer_for(step),
        },
        |s| AiConfigSpec {
            timeout_seconds: Some(1),
            max_retries: Some(0),
            ..s
        },
        uncached(),
    )
    .await;
    assert_eq!(run.task.status, TaskStatus::CompletedWithErrors);
    assert_eq!(run.failed(), 2);
    assert!(
        run.decisions[2]
            .error
            .as_deref()
            .expect("error")
            .contains("no answer within")
    );
    assert!(
        run.decisions[5]
            .error
            .as_deref()
            .expect("error")
            .contains("connection")
    );
}
