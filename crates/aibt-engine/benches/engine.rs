//! The engine alone, in memory: the long-only SMA(10)/SMA(20) crossover on INDEX2006_1m.csv
//! tiled to `--bars` bars exactly as `bench/python_baselines.py` tiles it, so the two can be
//! compared bar for bar. With `--stop-loss-pct` / `--take-profit-pct` every entry carries that
//! bracket (in percent of the decision bar's close, as backtesting.py's
//! `buy(sl=Close*(1-sl/100), tp=Close*(1+tp/100))`). Run through `bench/run.sh`, which also
//! runs the Python baselines and the whole `aibt backtest` command; or alone:
//!
//!     cargo bench -p aibt-engine --bench engine -- [--bars 300000] [--runs 3] [--json]
//!         [--stop-loss-pct 0.1 --take-profit-pct 0.2]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use aibt_core::FillRule;
use aibt_core::broker::{Account, AccountSettings};
use aibt_core::simulation::{BarFills, Simulation, first_decision_bar};
use aibt_core::{
    Bar, DecisionContext, ExitReason, MarketType, Money, PointInTime, Rate, TradeStatus,
};
use chrono::Duration;

struct Args {
    bars: usize,
    runs: usize,
    fast: usize,
    slow: usize,
    cash: String,
    commission: String,
    json: bool,
    /// The bracket on every entry (the built-in rule's `stop_loss_pct` / `take_profit_pct`).
    stop_loss_pct: Option<String>,
    take_profit_pct: Option<String>,
    /// Write the tiled bars as CSV here and exit (the input of the end-to-end benchmark).
    write_csv: Option<String>,
}

fn args() -> Args {
    let mut out = Args {
        bars: 300_000,
        runs: 3,
        fast: 10,
        slow: 20,
        cash: "1000000".into(),
        commission: "0.001".into(),
        json: false,
        stop_loss_pct: None,
        take_profit_pct: None,
        write_csv: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--bars" => out.bars = value().parse().unwrap_or(out.bars),
            "--runs" => out.runs = value().parse().unwrap_or(out.runs),
            "--fast" => out.fast = value().parse().unwrap_or(out.fast),
            "--slow" => out.slow = value().parse().unwrap_or(out.slow),
            "--cash" => out.cash = value(),
            "--commission" => out.commission = value(),
            "--json" => out.json = true,
            "--stop-loss-pct" => out.stop_loss_pct = Some(value()),
            "--take-profit-pct" => out.take_profit_pct = Some(value()),
            "--write-csv" => out.write_csv = Some(value()),
            _ => {} // cargo bench passes --bench
        }
    }
    out
}

/// The file's rows repeated, each repetition shifted by the file's span plus one minute.
fn tiled(n: usize) -> Vec<Bar> {
    let sample = aibt_data::find_sample("INDEX2006", None, aibt_core::TimeGranularity::Minute)
        .expect("INDEX2006 sample");
    let base = sample.bars().expect("sample parses");
    let shift = (base[base.len() - 1].ts - base[0].ts) + Duration::minutes(1);
    let mut out = Vec::with_capacity(n);
    let mut repetition = 0;
    while out.len() < n {
        for bar in &base {
            if out.len() == n {
                break;
            }
            out.push(Bar {
                ts: bar.ts + shift * repetition,
                ..*bar
            });
        }
        repetition += 1;
    }
    out
}

struct Outcome {
    seconds: f64,
    final_equity: Money,
    closed_trades: u64,
    open_lots: usize,
    fills: u64,
    /// Closing fills by what closed them: the stop-loss, the take-profit.
    stop_losses: u64,
    take_profits: u64,
}

fn run_once(bars: &[Bar], args: &Args) -> Outcome {
    let settings = AccountSettings {
        market_type: MarketType::Us,
        initial_balance: Money::parse(&args.cash).expect("cash"),
        commission_rate_buy: Rate::parse(&args.commission).expect("commission"),
        commission_rate_sell: Rate::parse(&args.commission).expect("commission"),
        tax_rate: Rate::ZERO,
        min_commission: Money::ZERO,
        short_margin_ratio: Rate::ONE,
        whole_units: true,
        slippage: aibt_core::Rate::ZERO,
        borrow_rate: aibt_core::Rate::ZERO,
    };
    let bracket = [
        ("stop_loss_pct", &args.stop_loss_pct),
        ("take_profit_pct", &args.take_profit_pct),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)));
    let params = [
        ("fast", args.fast.to_string()),
        ("slow", args.slow.to_string()),
    ]
    .into_iter()
    .chain(bracket)
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let started = Instant::now();
    let mut strategy = aibt_ai::builtin_strategy("builtin:sma-cross", &params).expect("strategy");
    let first = first_decision_bar(strategy.warmup_bars() as u64, 0, 1);
    let mut simulation = Simulation::new(
        Account::open(settings, "bench"),
        FillRule::NextOpen,
        1,
        first,
        None,
    );
    let mut fills = BarFills::default();
    let mut closed_trades = 0u64;
    let mut fill_count = 0u64;
    let (mut stop_losses, mut take_profits) = (0u64, 0u64);
    let mut equity = Money::ZERO;
    for bar in bars {
        strategy.observe(bar);
        let window = PointInTime::ending_with(std::slice::from_ref(bar));
        let outcome = simulation
            .step(bar, &mut fills, &mut |account, step| {
                let context = DecisionContext {
                    window,
                    account,
                    step,
                    time: bar.ts,
                };
                (strategy.decide(&context), String::new())
            })
            .expect("step");
        equity = outcome.equity;
        for (execution, _) in &fills.executions {
            closed_trades += execution.round_trips.len() as u64;
            for fill in &execution.fills {
                if fill.status != TradeStatus::Executed {
                    continue;
                }
                fill_count += 1;
                match fill.exit_reason {
                    Some(ExitReason::StopLoss) => stop_losses += 1,
                    Some(ExitReason::TakeProfit) => take_profits += 1,
                    _ => {}
                }
            }
        }
    }
    let stats = simulation.stats();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(stats.num_trades, closed_trades);
    Outcome {
        seconds,
        final_equity: equity,
        closed_trades,
        open_lots: simulation.account.long_lots.len(),
        fills: fill_count,
        stop_losses,
        take_profits,
    }
}

fn main() {
    let args = args();
    let bars = tiled(args.bars);
    if let Some(path) = &args.write_csv {
        let mut out = String::with_capacity(bars.len() * 64);
        out.push_str("timestamp,open,high,low,close,volume\n");
        for bar in &bars {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                bar.ts.format("%Y-%m-%dT%H:%M:%SZ"),
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume
            ));
        }
        std::fs::write(path, out).expect("write csv");
        return;
    }
    let mut best: Option<Outcome> = None;
    let mut times = Vec::new();
    for _ in 0..args.runs.max(1) {
        let outcome = run_once(&bars, &args);
        times.push(outcome.seconds);
        if best.as_ref().is_none_or(|b| outcome.seconds < b.seconds) {
            best = Some(outcome);
        }
    }
    let best = best.expect("at least one run");
    let per_second = bars.len() as f64 / best.seconds;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "bars": bars.len(),
                "seconds": best.seconds,
                "all_seconds": times,
                "bars_per_sec": per_second,
                "final_equity": best.final_equity.to_string(),
                "closed_trades": best.closed_trades,
                "open_trades": best.open_lots,
                "fills": best.fills,
                "stop_loss_pct": args.stop_loss_pct,
                "take_profit_pct": args.take_profit_pct,
                "stop_loss_exits": best.stop_losses,
                "take_profit_exits": best.take_profits,
            })
        );
    } else {
        println!(
            "aibt engine: {} bars in {:.4} s = {:.0} bars/s; final equity {}, {} closed trades, {} open",
            bars.len(),
            best.seconds,
            per_second,
            best.final_equity,
            best.closed_trades,
            best.open_lots
        );
        if args.stop_loss_pct.is_some() || args.take_profit_pct.is_some() {
            println!(
                "  bracket on every entry: stop-loss {}%, take-profit {}%; closed by the stop-loss \
                 {} times, by the take-profit {} times",
                args.stop_loss_pct.as_deref().unwrap_or("none"),
                args.take_profit_pct.as_deref().unwrap_or("none"),
                best.stop_losses,
                best.take_profits
            );
        }
    }
}
