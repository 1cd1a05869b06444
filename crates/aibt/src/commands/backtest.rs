use std::io::IsTerminal;
use std::sync::Arc;

use aibt_core::broker::AccountSettings;
use aibt_core::time::parse_timestamp;
use aibt_core::{MarketType, Money, Rate};
use aibt_data::{find_sample, parse_csv};
use aibt_engine::task::new_account;
use aibt_engine::{
    FillRule, RunConfig, RunOutcome, TaskOptions, TaskSpec, Transition, create_task, run_task,
    transition,
};
use aibt_store::{ImportMode, SeriesKey, Store, Task};
use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::cli::BacktestArgs;
use crate::commands::task::print_task;

pub async fn run(store: Arc<dyn Store>, args: BacktestArgs) -> Result<()> {
    let series = ensure_series(store.as_ref(), &args).await?;
    let account_id = match &args.account {
        Some(id) => id.clone(),
        None => create_account(store.as_ref(), &args, &series).await?,
    };
    let fill: FillRule = args.fill.parse()?;
    let spec = TaskSpec {
        account_id,
        symbol: series.symbol.clone(),
        market_type: series.market_type,
        granularity: series.granularity,
        start: args
            .start
            .as_deref()
            .map(|s| parse_date(s, "start", false))
            .transpose()?,
        end: args
            .end
            .as_deref()
            .map(|s| parse_date(s, "end", true))
            .transpose()?,
        decision_interval: args.interval,
        strategy: args.strategy.clone(),
        user_prompt_id: None,
        ai_config_id: None,
        options: TaskOptions {
            params: args.params.iter().cloned().collect(),
            fill,
            blind: false,
            record_holds: args.record_holds.then_some(true),
            ..TaskOptions::default()
        },
    };
    let task = create_task(store.as_ref(), spec).await?;
    transition(store.as_ref(), &task.task_id, Transition::Start).await?;
    let finished = run_in_foreground(store.clone(), &task.task_id).await?;
    print_task(&finished, args.format)?;
    finish_status(&finished)
}

/// Exits non-zero for a task that did not complete.
pub fn finish_status(task: &Task) -> Result<()> {
    use aibt_core::TaskStatus::*;
    match task.status {
        Completed | CompletedWithErrors => Ok(()),
        Paused => {
            eprintln!(
                "task {} paused; continue it with: aibt task resume {}",
                task.task_id, task.task_id
            );
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

/// The period bound of a `--start`/`--end` flag; a bare date as `--end` means the whole day.
fn parse_date(text: &str, flag: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if end_of_day && let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let next = date
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or_else(|| anyhow!("--{flag}: {text} is out of range"))?;
        return Ok(next.and_utc() - Duration::microseconds(1));
    }
    parse_timestamp(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

/// Finds the series to trade, importing `--data` or a bundled sample if it is not stored.
async fn ensure_series(store: &dyn Store, args: &BacktestArgs) -> Result<SeriesKey> {
    let sample = find_sample(&args.symbol, args.market, args.granularity);
    let market = args
        .market
        .or(sample.map(|s| s.market_type))
        .unwrap_or(MarketType::Us);
    let symbol = match (&args.data, sample) {
        (None, Some(sample)) => sample.symbol.to_string(),
        _ => args.symbol.clone(),
    };
    let series = SeriesKey {
        symbol,
        market_type: market,
        granularity: args.granularity,
    };
    if store.series_bounds(&series).await?.is_some() {
        return Ok(series);
    }
    let (name, bars) = match (&args.data, sample) {
        (Some(file), _) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.display().to_string();
            let bars = parse_csv(&name, &bytes)?;
            (name, bars)
        }
        (None, Some(sample)) => (format!("bundled sample {}", sample.file), sample.bars()?),
        (None, None) => bail!(
            "no bars stored for {series}: import a CSV (aibt data import FILE --symbol {} --market {} --granularity {}) \
             or pass --data FILE; bundled samples are listed by aibt data list --samples",
            series.symbol,
            series.market_type,
            series.granularity
        ),
    };
    let outcome = store
        .import_bars(&series, &bars, ImportMode::RefuseChanges)
        .await?;
    eprintln!("imported {} bars of {series} from {name}", outcome.inserted);
    Ok(series)
}

fn rate(text: &str, flag: &str) -> Result<Rate> {
    Rate::parse(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

async fn create_account(
    store: &dyn Store,
    args: &BacktestArgs,
    series: &SeriesKey,
) -> Result<String> {
    let commission = rate(&args.commission, "commission")?;
    let settings = AccountSettings {
        market_type: series.market_type,
        initial_balance: Money::parse(&args.cash).map_err(|e| anyhow!("--cash: {e}"))?,
        commission_rate_buy: match &args.commission_buy {
            Some(text) => rate(text, "commission-buy")?,
            None => commission,
        },
        commission_rate_sell: match &args.commission_sell {
            Some(text) => rate(text, "commission-sell")?,
            None => commission,
        },
        tax_rate: rate(&args.tax, "tax")?,
        min_commission: Money::parse(&args.min_commission)
            .map_err(|e| anyhow!("--min-commission: {e}"))?,
        short_margin_ratio: rate(&args.short_margin, "short-margin")?,
        whole_units: series.market_type.whole_units_by_default() && !args.fractional,
    };
    if let Err(error) = settings.validate() {
        let flag = match error.field {
            "initial_balance" => "cash",
            "commission_rate_buy" => "commission-buy",
            "commission_rate_sell" => "commission-sell",
            "tax_rate" => "tax",
            "min_commission" => "min-commission",
            "short_margin_ratio" => "short-margin",
            other => other,
        };
        bail!("--{flag}: {}", error.reason);
    }
    let account_id = aibt_store::new_id();
    store
        .insert_account(&new_account(
            &account_id,
            &series.symbol,
            &settings,
            args.fractional,
        ))
        .await?;
    Ok(account_id)
}

/// Claims a RUNNING task for this process and runs it to its end with a progress bar on a
/// terminal. Ctrl-C pauses the task instead of leaving it half-run.
pub async fn run_in_foreground(store: Arc<dyn Store>, task_id: &str) -> Result<Task> {
    let config = RunConfig::new(format!(
        "cli-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7()
    ));
    let now = aibt_core::time::now();
    let claimed = store
        .claim_task(&config.worker_id, Some(task_id), now, now + config.lease)
        .await?
        .ok_or_else(|| anyhow!("task {task_id} is not running or another worker holds it"))?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} decisions  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut report = |progress: &aibt_engine::Progress| {
        bar.set_length(progress.total_items);
        bar.set_position(progress.processed_items);
        bar.set_message(format!(
            "bar {}/{}",
            progress.bars_done, progress.bars_total
        ));
    };
    let run = run_task(store.clone(), claimed, &config, &mut report);
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
