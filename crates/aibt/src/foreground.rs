//! Running a task in this process, in the foreground: a progress bar on a terminal, Ctrl-C
//! pauses; or, when a worker on the same database took the task first, following it there.

use std::io::IsTerminal;
use std::sync::Arc;

use aibt_engine::{RunConfig, RunOutcome, Transition, claim, transition};
use aibt_store::{Store, Task};
use anyhow::{Result, bail};

/// Exits non-zero for a task that did not complete.
pub fn finish_status(task: &Task) -> Result<()> {
    use aibt_core::TaskStatus::*;
    match task.status {
        Completed | CompletedWithErrors => Ok(()),
        Paused => {
            match &task.error_message {
                // Stopped at its budget: only a larger one lets it go on.
                Some(reason) if aibt_engine::budget::is_budget_reason(reason) => eprintln!(
                    "task {} paused: {reason}\ncontinue it with a larger budget: aibt task resume {} --budget …",
                    task.task_id, task.task_id
                ),
                _ => eprintln!(
                    "task {} paused; continue it with: aibt task resume {}",
                    task.task_id, task.task_id
                ),
            }
            Ok(())
        }
        status => bail!(
            "task {} ended {status}{}",
            task.task_id,
            task.error_message
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    }
}

/// Claims a RUNNING task for this process and runs it to its end with a progress bar on a
/// terminal. Ctrl-C pauses the task instead of leaving it half-run.
pub async fn run_in_foreground(store: Arc<dyn Store>, task_id: &str) -> Result<Task> {
    let config = RunConfig::new(format!(
        "cli-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7()
    ));
    let claimed = claim(&store, &config, aibt_store::ClaimFilter::task(task_id)).await?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} decisions  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let Some(claimed) = claimed else {
        // A worker on the same database (aibt serve, aibt worker) took the task first: it
        // runs there, and this command follows it.
        return follow(store, task_id, &bar).await;
    };
    let mut report = |progress: &aibt_engine::Progress| {
        bar.set_length(progress.total_items);
        bar.set_position(progress.processed_items);
        bar.set_message(format!(
            "bar {}/{}",
            progress.bars_done, progress.bars_total
        ));
    };
    let run = claimed.run(&mut report);
    tokio::pin!(run);
    let outcome = tokio::select! {
        outcome = &mut run => outcome?,
        _ = tokio::signal::ctrl_c() => {
            bar.suspend(|| eprintln!("interrupted: pausing task {task_id} after the step in progress"));
            let _ = transition(store.as_ref(), task_id, Transition::Pause).await;
            run.await?
        }
    };
    bar.finish_and_clear();
    Ok(match outcome {
        RunOutcome::Finished(task) => *task,
        RunOutcome::Stopped { .. } => store.get_task(task_id).await?,
    })
}

/// Shows the progress of a task another process runs, until it stops running. Ctrl-C pauses
/// it there too.
async fn follow(
    store: Arc<dyn Store>,
    task_id: &str,
    bar: &indicatif::ProgressBar,
) -> Result<Task> {
    let task = store.get_task(task_id).await?;
    if task.status != aibt_core::TaskStatus::Running {
        bar.finish_and_clear();
        return Ok(task);
    }
    bar.suspend(|| {
        eprintln!(
            "task {task_id} is run by worker {}; following it",
            task.lease_owner.as_deref().unwrap_or("?")
        )
    });
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => {
                bar.suspend(|| eprintln!("interrupted: pausing task {task_id}"));
                let _ = transition(store.as_ref(), task_id, Transition::Pause).await;
            }
        }
        let task = store.get_task(task_id).await?;
        bar.set_length(u64::try_from(task.total_items.unwrap_or(0)).unwrap_or(0));
        bar.set_position(u64::try_from(task.processed_items).unwrap_or(0));
        if task.status != aibt_core::TaskStatus::Running {
            bar.finish_and_clear();
            return Ok(task);
        }
    }
}
