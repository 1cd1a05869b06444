use std::io::Write;
use std::sync::Arc;

use aibt_core::TaskStatus;
use aibt_engine::budget::Budget;
use aibt_engine::export::{Records as ExportRecords, Sink, export_csv, export_json};
use aibt_engine::task::{ENDED, PruneRule, delete_task, prune_tasks, resume_with_budget};
use aibt_engine::{Transition, transition};
use aibt_server::report::task_report;
use aibt_store::{Store, TaskQuery};
use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{ExportFormat, Format, Records, TaskCommand};
use crate::flags::flag_error;
use crate::foreground::{finish_status, run_in_foreground};
use crate::print::{print_task, write_report};

pub async fn run(store: Arc<dyn Store>, command: TaskCommand) -> Result<()> {
    match command {
        TaskCommand::List {
            status,
            limit,
            format,
        } => {
            let status = status
                .map(|s| s.to_ascii_uppercase().parse::<TaskStatus>())
                .transpose()
                .map_err(|e| anyhow!("--status: {e}"))?;
            let page = store
                .list_tasks(&TaskQuery {
                    status,
                    limit,
                    ..TaskQuery::default()
                })
                .await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&page.items)?),
                Format::Table => {
                    println!(
                        "{:<36}  {:<21}  {:<10} {:<18} {:>9}  {:>10}",
                        "task_id", "status", "symbol", "strategy", "progress", "return %"
                    );
                    for task in &page.items {
                        let ret = task
                            .stats
                            .as_ref()
                            .and_then(|s| s["return_pct"].as_f64())
                            .map(|r| format!("{r:.2}"))
                            .unwrap_or_default();
                        println!(
                            "{:<36}  {:<21}  {:<10} {:<18} {:>9}  {:>10}",
                            task.task_id,
                            task.status.as_str(),
                            task.stock_symbol,
                            task.strategy,
                            format!("{}/{}", task.processed_items, task.total_items.unwrap_or(0)),
                            ret
                        );
                    }
                }
            }
            Ok(())
        }
        TaskCommand::Show { id, format } => {
            let task = store.get_task(&id).await?;
            print_task(&task, format)
        }
        TaskCommand::Export {
            id,
            format,
            records,
            output,
        } => {
            let task = store.get_task(&id).await?;
            let out: Box<dyn Write + Send> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let mut sink = WriteSink(out);
            let records = records.map(|r| match r {
                Records::Trades => ExportRecords::Trades,
                Records::Decisions => ExportRecords::Decisions,
                Records::Snapshots => ExportRecords::Snapshots,
            });
            match format {
                ExportFormat::Json => {
                    export_json(store.as_ref(), &task, records, &mut sink).await?
                }
                ExportFormat::Csv => {
                    export_csv(
                        store.as_ref(),
                        &task,
                        records.unwrap_or(ExportRecords::Trades),
                        &mut sink,
                    )
                    .await?
                }
            }
            sink.0.flush()?;
            Ok(())
        }
        TaskCommand::Resume { id, budget, format } => {
            if budget.is_empty() {
                transition(store.as_ref(), &id, Transition::Resume).await?;
            } else {
                let budget = Budget::parse(&budget, "budget").map_err(flag_error)?;
                resume_with_budget(store.as_ref(), &id, budget)
                    .await
                    .map_err(flag_error)?;
            }
            let task = run_in_foreground(store, &id).await?;
            print_task(&task, format)?;
            finish_status(&task)
        }
        TaskCommand::Pause { id } => {
            let task = transition(store.as_ref(), &id, Transition::Pause).await?;
            println!("task {} is {}", task.task_id, task.status);
            Ok(())
        }
        TaskCommand::Cancel { id } => {
            let task = transition(store.as_ref(), &id, Transition::Cancel).await?;
            println!("task {} is {}", task.task_id, task.status);
            Ok(())
        }
        TaskCommand::Report(args) => {
            let html = task_report(store.as_ref(), &args.id, args.lang.lang()).await?;
            write_report(&html, args.out.as_deref())
        }
        TaskCommand::Delete { ids } => {
            let mut refused = 0;
            for id in &ids {
                match delete_task(store.as_ref(), id).await {
                    Ok(records) => println!("task {id} deleted ({records} records)"),
                    Err(error) => {
                        eprintln!("error: {error}");
                        refused += 1;
                    }
                }
            }
            if refused > 0 {
                bail!("{refused} of {} task(s) not deleted", ids.len());
            }
            Ok(())
        }
        TaskCommand::Prune {
            older_than,
            status,
            dry_run,
        } => {
            let rule = PruneRule {
                created_before: chrono::Utc::now() - older_than,
                statuses: if status.is_empty() {
                    ENDED.to_vec()
                } else {
                    status
                },
                dry_run,
            };
            let report = prune_tasks(store.as_ref(), &rule).await?;
            for id in &report.task_ids {
                println!("{id}");
            }
            if dry_run {
                println!("{} task(s) would be deleted", report.task_ids.len());
            } else {
                println!(
                    "{} task(s) deleted with {} records{}; `aibt db vacuum` gives the space back",
                    report.task_ids.len(),
                    report.records,
                    match report.leftovers.len() {
                        0 => String::new(),
                        n => format!(" (and the leftovers of {n} interrupted delete(s))"),
                    }
                );
            }
            Ok(())
        }
    }
}

/// An export written to a file or standard output.
struct WriteSink(Box<dyn Write + Send>);

impl Sink for WriteSink {
    async fn write(&mut self, chunk: Vec<u8>) -> aibt_engine::Result<()> {
        self.0
            .write_all(&chunk)
            .map_err(|e| aibt_engine::EngineError::Output(e.to_string()))
    }
}
