//! Reading what an experiment's runs recorded, for its leaderboard: each task's statistics,
//! its equity bar by bar, its decisions, and the bars the random runs trade on.

use std::collections::HashMap;

use aibt_core::Decimal;
use aibt_core::{Money, TaskStatus};
use aibt_store::{Experiment, ExperimentRun, Page, RecordQuery, SeriesKey, Store, Task};

use super::board::{Leaderboard, Progress};
use super::compute::{Inputs, PeriodBars, RunData, compute};
use super::spec::ExperimentSpec;
use crate::accounts::account_settings;
use crate::budget::per_million;
use crate::error::{EngineError, Result};
use crate::strategy::column_uses_model;

/// The experiment's status as people see it: the stored intent (running, paused, cancelled),
/// or the end state once every task has ended.
pub fn effective_status(experiment: &Experiment, tasks: &[Task]) -> TaskStatus {
    // Tasks paused on their own (at their share of the budget) with none left running.
    if experiment.status == TaskStatus::Running
        && !tasks.iter().any(|t| t.status.is_live())
        && tasks.iter().any(|t| t.status == TaskStatus::Paused)
    {
        return TaskStatus::Paused;
    }
    let ended = tasks
        .iter()
        .all(|t| t.status.is_terminal() || t.status == TaskStatus::Failed);
    if experiment.status != TaskStatus::Running || tasks.is_empty() || !ended {
        return experiment.status;
    }
    if tasks.iter().all(|t| t.status == TaskStatus::Completed) {
        TaskStatus::Completed
    } else if tasks.iter().any(|t| t.status.is_completed()) {
        TaskStatus::CompletedWithErrors
    } else {
        TaskStatus::Failed
    }
}

/// Why the experiment stopped: its own reason, or that of a task paused at its budget.
pub fn effective_error(experiment: &Experiment, tasks: &[Task]) -> Option<String> {
    experiment.error_message.clone().or_else(|| {
        tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Paused)
            .find_map(|t| t.error_message.clone())
    })
}

/// How far the tasks are.
pub fn progress_of(tasks: &[Task]) -> Progress {
    let mut progress = Progress {
        tasks: tasks.len(),
        ..Progress::default()
    };
    for task in tasks {
        match task.status {
            TaskStatus::Completed | TaskStatus::CompletedWithErrors | TaskStatus::Cancelled => {
                progress.finished += 1
            }
            TaskStatus::Running | TaskStatus::Pending => progress.running += 1,
            TaskStatus::Paused => progress.paused += 1,
            TaskStatus::Failed => progress.failed += 1,
        }
        progress.processed_items += task.processed_items;
        progress.total_items += task.total_items.unwrap_or(0);
    }
    progress
}

/// The experiment, its runs and their tasks.
pub async fn experiment_tasks(
    store: &dyn Store,
    experiment_id: &str,
) -> Result<(Experiment, Vec<ExperimentRun>, Vec<Task>)> {
    let experiment = store.get_experiment(experiment_id).await?;
    let runs = store.list_experiment_runs(experiment_id).await?;
    let mut tasks = Vec::with_capacity(runs.len());
    for run in &runs {
        tasks.push(store.get_task(&run.task_id).await?);
    }
    Ok((experiment, runs, tasks))
}

/// A page of experiments, newest first, each with its status and reason as people see them
/// (COMPLETED once every task has, PAUSED at a budget), not as stored.
pub async fn list_experiments(
    store: &dyn Store,
    limit: u32,
    cursor: Option<String>,
) -> Result<Page<Experiment>> {
    let mut page = store.list_experiments(limit, cursor).await?;
    for experiment in &mut page.items {
        let (_, _, tasks) = experiment_tasks(store, &experiment.experiment_id).await?;
        experiment.error_message = effective_error(experiment, &tasks);
        experiment.status = effective_status(experiment, &tasks);
    }
    Ok(page)
}

/// The spec an experiment was stored with.
pub fn stored_spec(experiment: &Experiment) -> Result<ExperimentSpec> {
    ExperimentSpec::from_json(experiment.spec.clone()).map_err(|e| EngineError::Run {
        task_id: experiment.experiment_id.clone(),
        reason: format!("the stored spec no longer reads: {e}"),
    })
}

/// Equity and position of every bar of a task, from its snapshots.
async fn equity_of(store: &dyn Store, task_id: &str, data: &mut RunData) -> Result<()> {
    let mut cursor = None;
    let mut previous_side = 0i8;
    loop {
        let page = store
            .list_snapshots(
                task_id,
                &RecordQuery {
                    limit: 10_000,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await?;
        for snapshot in &page.items {
            let side = if snapshot.stock_quantity.is_positive() {
                1
            } else if snapshot.stock_quantity.is_negative() {
                -1
            } else {
                0
            };
            data.position_changes += u64::from(side != previous_side);
            previous_side = side;
            data.equity.push(snapshot.total_value.to_f64());
            data.times.push(snapshot.timestamp);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// What the model's calls of a task cost by its AI config's prices (money per million
/// tokens), or `None` when the config has no price.
pub async fn money_of(
    store: &dyn Store,
    task: &Task,
    prompt: i64,
    completion: i64,
) -> Option<Money> {
    let config = store
        .get_ai_config(task.ai_config_id.as_deref()?)
        .await
        .ok()?;
    let part = |tokens: i64, price: Option<Money>| -> Option<Decimal> {
        Some(per_million(u64::try_from(tokens).unwrap_or(0), price?))
    };
    let total = part(prompt, config.price_input_per_million)?
        + part(completion, config.price_output_per_million)?;
    Money::new(total).ok()
}

async fn run_data(store: &dyn Store, run: &ExperimentRun, task: &Task) -> Result<RunData> {
    let account = store.get_task_account(&task.task_id).await?;
    let mut data = RunData {
        run: run.clone(),
        status: task.status,
        stats: task.stats.clone(),
        initial: account.initial_balance.to_f64(),
        equity: Vec::new(),
        times: Vec::new(),
        position_changes: 0,
        actions: Vec::new(),
        latencies: Vec::new(),
        money: None,
        memorisation_warning: task
            .stats
            .as_ref()
            .and_then(|s| s["memorisation_warning"].as_str())
            .map(str::to_string),
    };
    if !task.status.is_completed() {
        return Ok(data);
    }
    equity_of(store, &task.task_id, &mut data).await?;
    if column_uses_model(&task.strategy) {
        let (mut prompt, mut completion) = (0i64, 0i64);
        for decision in crate::records::all_decisions(store, &task.task_id).await? {
            data.actions.push(decision.decision_result);
            if decision.llm_calls > 0 {
                data.latencies.push(decision.execution_time_ms.unwrap_or(0));
            }
            prompt += decision.prompt_tokens.unwrap_or(0);
            completion += decision.completion_tokens.unwrap_or(0);
        }
        data.money = money_of(store, task, prompt, completion).await;
    }
    Ok(data)
}

/// The leaderboard of an experiment, from its stored runs.
pub async fn leaderboard(store: &dyn Store, experiment_id: &str) -> Result<Leaderboard> {
    let (experiment, runs, tasks) = experiment_tasks(store, experiment_id).await?;
    let spec = stored_spec(&experiment)?;
    let (periods, splits) = spec.periods()?;
    let mut data = Vec::with_capacity(runs.len());
    for (run, task) in runs.iter().zip(&tasks) {
        data.push(run_data(store, run, task).await?);
    }
    // The bars of each series and period, and the account the random runs trade on (the
    // experiment's, as its buy-and-hold baseline copied it).
    let mut bars = HashMap::new();
    for (run, task) in runs.iter().zip(&tasks) {
        let key = (run.stock_symbol.clone(), run.period.clone());
        if run.variant != "buy-and-hold" || bars.contains_key(&key) {
            continue;
        }
        let Some(period) = periods.iter().find(|p| p.name == run.period) else {
            continue;
        };
        let series = SeriesKey {
            symbol: run.stock_symbol.clone(),
            market_type: run.market_type,
            granularity: run.time_granularity,
        };
        let period_bars =
            crate::records::read_bars(store, &series, Some(period.start), Some(period.end)).await?;
        let settings = account_settings(&store.get_task_account(&task.task_id).await?);
        bars.insert(
            key,
            PeriodBars {
                bars: period_bars,
                settings,
            },
        );
    }
    Ok(compute(&Inputs {
        experiment_id: &experiment.experiment_id,
        name: &experiment.name,
        status: effective_status(&experiment, &tasks),
        error_message: effective_error(&experiment, &tasks),
        spec: &spec,
        splits: &splits,
        runs: &data,
        bars: &bars,
        progress: progress_of(&tasks),
    }))
}
