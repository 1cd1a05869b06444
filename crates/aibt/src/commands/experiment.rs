//! `aibt experiment`: plan, run, resume, show, list, pause and cancel experiments, and write
//! their reports.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use aibt_engine::budget::Budget;
use aibt_engine::experiment::board::Progress;
use aibt_engine::experiment::load::list_experiments;
use aibt_engine::experiment::{
    Driven, ExperimentChange, ExperimentSpec, PlanSummary, change_experiment, create_experiment,
    drive, estimate, leaderboard, plan,
};
use aibt_engine::worker::WorkerOptions;
use aibt_server::report::experiment_report;
use aibt_store::Store;
use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{ExperimentCommand, Format};
use crate::flags::flag_error;
use crate::print::{print_leaderboard, write_report};

pub async fn run(store: Arc<dyn Store>, command: ExperimentCommand) -> Result<()> {
    match command {
        ExperimentCommand::Plan { spec, format } => {
            let spec = read_spec(&spec)?;
            let plan = plan(store.as_ref(), &spec).await?;
            let summary = estimate(&store, &plan).await?;
            print_plan(&spec, &summary, format)
        }
        ExperimentCommand::Run { spec, format } => {
            let spec = read_spec(&spec)?;
            let plan = plan(store.as_ref(), &spec).await?;
            let experiment = create_experiment(store.as_ref(), &plan).await?;
            eprintln!(
                "experiment {} created: {} tasks",
                experiment.experiment_id,
                plan.runs.len()
            );
            follow(store, &experiment.experiment_id, format).await
        }
        ExperimentCommand::Resume { id, budget, format } => {
            let change = if budget.is_empty() {
                ExperimentChange::Resume
            } else {
                ExperimentChange::ResumeWithBudget(
                    Budget::parse(&budget, "budget").map_err(flag_error)?,
                )
            };
            change_experiment(store.as_ref(), &id, change)
                .await
                .map_err(flag_error)?;
            follow(store, &id, format).await
        }
        ExperimentCommand::Show { id, format } => {
            let board = leaderboard(store.as_ref(), &id).await?;
            print_leaderboard(&board, format)
        }
        ExperimentCommand::List { limit, format } => {
            let page = list_experiments(store.as_ref(), limit, None).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&page.items)?),
                Format::Table => {
                    println!(
                        "{:<36}  {:<21}  {:<20}  name",
                        "experiment_id", "status", "created"
                    );
                    for e in &page.items {
                        println!(
                            "{:<36}  {:<21}  {:<20}  {}",
                            e.experiment_id,
                            e.status.as_str(),
                            e.created_at.format("%Y-%m-%d %H:%M"),
                            e.name
                        );
                    }
                }
            }
            Ok(())
        }
        ExperimentCommand::Pause { id } => {
            let e = change_experiment(store.as_ref(), &id, ExperimentChange::Pause).await?;
            println!("experiment {} is {}", e.experiment_id, e.status);
            Ok(())
        }
        ExperimentCommand::Cancel { id } => {
            let e = change_experiment(store.as_ref(), &id, ExperimentChange::Cancel).await?;
            println!("experiment {} is {}", e.experiment_id, e.status);
            Ok(())
        }
        ExperimentCommand::Report(args) => {
            let html = experiment_report(store.as_ref(), &args.id, args.lang.lang()).await?;
            write_report(&html, args.out.as_deref())
        }
    }
}

/// A spec file: TOML, with each strategy's `template` file read (relative to the spec's folder)
/// into its `template_content`.
fn read_spec(path: &Path) -> Result<ExperimentSpec> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut spec =
        ExperimentSpec::from_toml(&text).map_err(|e| anyhow!("{}: {}", path.display(), e))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    for strategy in &mut spec.strategies {
        if let Some(file) = strategy.template.take() {
            let at = folder.join(&file);
            let content = std::fs::read_to_string(&at)
                .or_else(|_| std::fs::read_to_string(&file))
                .with_context(|| {
                    format!(
                        "{}: strategy {}: reading the template {}",
                        path.display(),
                        strategy.name,
                        at.display()
                    )
                })?;
            strategy.template_content = Some(content);
        }
    }
    Ok(spec)
}

fn print_plan(spec: &ExperimentSpec, summary: &PlanSummary, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(summary)?),
        Format::Table => {
            println!("{:<34}{}", "Experiment", spec.name);
            println!("{:<34}{}", "Tasks", summary.tasks);
            println!("{:<34}{}", "Model tasks", summary.model_tasks);
            println!("{:<34}{}", "Model decisions", summary.model_decisions);
            println!("{:<34}{}", "Answered by the cache", summary.cached);
            println!("{:<34}{}", "Calls to make", summary.calls);
            println!(
                "{:<34}{}{}",
                "Prompt tokens (≈ 4 chars each)",
                summary.prompt_tokens,
                if summary.exact {
                    ""
                } else {
                    " (a template reads the account: estimated for a flat one)"
                }
            );
            let money = |m: &Option<String>| m.clone().unwrap_or_else(|| "— (no price)".into());
            println!("{:<34}{}", "Prompt money", money(&summary.prompt_money));
            println!(
                "{:<34}{}",
                "Answer money, at most",
                money(&summary.completion_money_max)
            );
            if let Some(budget) = &summary.budget {
                println!("{:<34}{budget}", "Budget");
            }
            for note in &summary.notes {
                println!("note: {note}");
            }
        }
    }
    Ok(())
}

/// Runs the experiment's tasks here with a progress bar over the whole grid; Ctrl-C pauses
/// them all. Prints the leaderboard at the end.
async fn follow(store: Arc<dyn Store>, experiment_id: &str, format: Format) -> Result<()> {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} decisions  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let worker = format!("cli-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    let options = WorkerOptions::new(worker);
    let mut report = |progress: &Progress| {
        bar.set_length(u64::try_from(progress.total_items).unwrap_or(0));
        bar.set_position(u64::try_from(progress.processed_items).unwrap_or(0));
        bar.set_message(format!(
            "{}/{} tasks done{}",
            progress.finished,
            progress.tasks,
            if progress.failed > 0 {
                format!(", {} failed", progress.failed)
            } else {
                String::new()
            }
        ));
    };
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
        bar.suspend(|| eprintln!("interrupted: pausing every task of experiment {experiment_id}"));
    };
    let driven = drive(
        store.clone(),
        experiment_id,
        &options,
        &mut report,
        interrupted,
    )
    .await?;
    bar.finish_and_clear();
    let board = leaderboard(store.as_ref(), experiment_id).await?;
    print_leaderboard(&board, format)?;
    match driven {
        Driven::Ended => Ok(()),
        Driven::Paused => {
            let at_budget = board
                .error_message
                .as_deref()
                .is_some_and(aibt_engine::budget::is_budget_reason);
            eprintln!(
                "experiment {experiment_id} paused{}; continue it with: aibt experiment resume {experiment_id}{}",
                board
                    .error_message
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                if at_budget { " --budget …" } else { "" }
            );
            if board.status == aibt_core::TaskStatus::Cancelled {
                bail!("experiment {experiment_id} was cancelled");
            }
            Ok(())
        }
    }
}
