//! Creating an experiment: its accounts, templates and inline AI configs, then every task of
//! its grid stored at once with the experiment (started: any worker may claim them), and the
//! experiment's lifecycle: pause, resume and cancel reach every one of its tasks.

use std::collections::HashMap;

use aibt_core::{MarketType, TaskStatus};
use aibt_store::{Experiment, ExperimentRun, Store, Task};

use super::budget::{decisions_in, shares};
use super::plan::{Plan, PlannedStrategy};
use super::spec::ExperimentSpec;
use crate::accounts::{create_account, default_settings};
use crate::budget::Budget;
use crate::error::{EngineError, Result};
use crate::series::series_of;
use crate::strategy::{StrategyRef, column_uses_model};
use crate::task::{TaskSpec, Transition, check_budget, prepare_task, transition};
use crate::templates::template_for_content;

/// Creates the experiment of a checked plan; its tasks are RUNNING, ready for any worker.
pub async fn create_experiment(store: &dyn Store, plan: &Plan) -> Result<Experiment> {
    let spec = &plan.spec;
    // One user account per market the series trade in (an account has one market).
    let mut accounts: HashMap<MarketType, String> = HashMap::new();
    let mut prompts: HashMap<String, String> = HashMap::new();
    let mut configs: HashMap<String, String> = HashMap::new();
    let mut tasks = Vec::with_capacity(plan.runs.len());
    let mut runs = Vec::with_capacity(plan.runs.len());
    let experiment_id = aibt_store::new_id();
    let now = aibt_core::time::now();
    for run in &plan.runs {
        let market = run.series.market_type;
        let account_id = match accounts.get(&market) {
            Some(id) => id.clone(),
            None => {
                let mut changes = plan.account.clone();
                changes.stock_symbol = Some(format!("experiment {}", spec.name));
                let account = create_account(
                    store,
                    default_settings(market, spec.account.fractional),
                    &changes,
                )
                .await?;
                accounts.insert(market, account.account_id.clone());
                account.account_id
            }
        };
        let strategy = match &run.strategy {
            PlannedStrategy::Builtin { name, params } => StrategyRef::builtin(name, params.clone()),
            PlannedStrategy::Model {
                template,
                config,
                inline,
            } => {
                let prompt_id = match prompts.get(template) {
                    Some(id) => id.clone(),
                    None => {
                        let description =
                            Some(format!("experiment {}: {}", spec.name, run.variant));
                        let stored = template_for_content(store, template, description).await?;
                        prompts.insert(template.clone(), stored.prompt_id.clone());
                        stored.prompt_id
                    }
                };
                let ai_config_id = match (configs.get(&config.name), inline) {
                    (Some(id), _) => id.clone(),
                    (None, false) => config.config_id.clone(),
                    (None, true) => {
                        let stored = match store.find_ai_config_by_name(&config.name).await? {
                            Some(existing) => existing,
                            None => {
                                store.insert_ai_config(config).await?;
                                config.as_ref().clone()
                            }
                        };
                        configs.insert(config.name.clone(), stored.config_id.clone());
                        stored.config_id
                    }
                };
                StrategyRef::Template {
                    prompt_id,
                    ai_config_id,
                }
            }
        };
        let (mut task, account) = prepare_task(
            store,
            TaskSpec {
                account_id,
                symbol: run.series.symbol.clone(),
                market_type: market,
                granularity: run.series.granularity,
                start: Some(run.period.start),
                end: Some(run.period.end),
                decision_interval: spec.decision_interval,
                strategy,
                options: run.options.clone(),
            },
        )
        .await?;
        // Stored started, as `transition(Start)` would leave it: any worker may claim it.
        task.status = TaskStatus::Running;
        task.started_at = Some(now);
        runs.push(ExperimentRun {
            experiment_id: experiment_id.clone(),
            task_id: task.task_id.clone(),
            variant: run.variant.clone(),
            role: run.role,
            stock_symbol: run.series.symbol.clone(),
            market_type: market,
            time_granularity: run.series.granularity,
            period: run.period.name.clone(),
            repeat_index: i64::from(run.repeat_index),
            blind: run.blind,
        });
        tasks.push((task, account));
    }
    let experiment = Experiment {
        experiment_id,
        name: spec.name.trim().to_string(),
        spec: serde_json::to_value(spec)
            .map_err(|e| EngineError::invalid("spec", e.to_string()))?,
        status: TaskStatus::Running,
        error_message: None,
        created_at: now,
        updated_at: now,
    };
    store.create_experiment(&experiment, &tasks, &runs).await?;
    Ok(experiment)
}

/// A lifecycle change of a whole experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentChange {
    Pause,
    Resume,
    /// A resume with a new budget: each model task gets its share of it.
    ResumeWithBudget(Budget),
    Cancel,
}

impl ExperimentChange {
    /// The change each of the experiment's tasks undergoes.
    fn transition(&self) -> Transition {
        match self {
            ExperimentChange::Pause => Transition::Pause,
            // Each model task's share of a new budget is set as it resumes.
            ExperimentChange::Resume | ExperimentChange::ResumeWithBudget(_) => Transition::Resume,
            ExperimentChange::Cancel => Transition::Cancel,
        }
    }

    /// Whether the change means anything to an experiment whose status (as
    /// [`super::load::effective_status`] gives it) is `status`: a task's lifecycle, so that a
    /// page offers the same buttons for an experiment as for a task.
    pub fn allowed_from(&self, status: TaskStatus) -> bool {
        self.transition().allowed_from(status)
    }
}

/// Applies a change to the experiment and to each of its tasks the change applies to (a
/// finished task stays as it is). A change that means nothing to the experiment and to each
/// of its tasks (pausing a finished one, say) is refused. Returns the experiment as stored.
pub async fn change_experiment(
    store: &dyn Store,
    experiment_id: &str,
    change: ExperimentChange,
) -> Result<Experiment> {
    let experiment = store.get_experiment(experiment_id).await?;
    let target = match change {
        ExperimentChange::Pause => TaskStatus::Paused,
        ExperimentChange::Resume | ExperimentChange::ResumeWithBudget(_) => TaskStatus::Running,
        ExperimentChange::Cancel => TaskStatus::Cancelled,
    };
    let transition_of = change.transition();
    if experiment.status == TaskStatus::Cancelled {
        return Err(EngineError::WrongState {
            task_id: experiment_id.to_string(),
            status: experiment.status,
            reason: "a cancelled experiment does not change again".into(),
        });
    }
    let mut tasks = Vec::new();
    for run in store.list_experiment_runs(experiment_id).await? {
        tasks.push(store.get_task(&run.task_id).await?);
    }
    let status = super::load::effective_status(&experiment, &tasks);
    if !change.allowed_from(status) && !tasks.iter().any(|t| transition_of.allowed_from(t.status)) {
        return Err(EngineError::WrongState {
            task_id: experiment_id.to_string(),
            status,
            reason: format!(
                "cannot {} a {status} experiment, nor any of its tasks",
                match change {
                    ExperimentChange::Pause => "pause",
                    ExperimentChange::Resume | ExperimentChange::ResumeWithBudget(_) => "resume",
                    ExperimentChange::Cancel => "cancel",
                }
            ),
        });
    }
    let mut budgets = match &change {
        ExperimentChange::ResumeWithBudget(budget) => {
            model_shares(store, &tasks, budget).await?.into_iter()
        }
        _ => Vec::new().into_iter(),
    };
    for task in &tasks {
        let mut change = transition_of.clone();
        // Each model task takes the next share, in the order the shares were made.
        if matches!(&change, Transition::Resume)
            && column_uses_model(&task.strategy)
            && let Some(share) = budgets.next()
        {
            change = Transition::ResumeWithBudget(share);
        }
        if !change.allowed_from(task.status) {
            continue;
        }
        match transition(store, &task.task_id, change).await {
            // A task that changed state meanwhile (finished, say) is left as it is.
            Ok(_) | Err(EngineError::WrongState { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(store
        .update_experiment(experiment_id, target, None, aibt_core::time::now())
        .await?)
}

/// Each model task's share of `budget`, in the order of `tasks`; a budget in money is refused
/// when a task's AI config has no prices.
async fn model_shares(store: &dyn Store, tasks: &[Task], budget: &Budget) -> Result<Vec<Budget>> {
    let mut decisions = Vec::new();
    for task in tasks.iter().filter(|t| column_uses_model(&t.strategy)) {
        check_budget(store, &StrategyRef::of_task(task)?, budget, "budget").await?;
        decisions.push(
            decisions_in(
                store,
                &series_of(task)?,
                (task.start_date, task.end_date),
                task.decision_interval,
            )
            .await?,
        );
    }
    shares(budget, &decisions)
}

/// The spec of a stored experiment, as JSON for the API and the report.
pub fn spec_of(experiment: &Experiment) -> Result<ExperimentSpec> {
    super::load::stored_spec(experiment)
}
