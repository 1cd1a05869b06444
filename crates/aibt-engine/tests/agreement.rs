//! aibt against backtesting.py 0.6.6 on the same data, strategy and fees: final equity to the
//! cent, every statistic of the same name to 1e-6 relative, and every round trip (entry, exit,
//! size, P&L, and with brackets what closed it). The fixtures come from
//! `tools/reference/backtesting_py_fixtures.py` and (stops, targets, limit entries)
//! `tools/reference/backtesting_py_orders.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_core::{ExitReason, MarketType, TimeGranularity, TradeAction, TradeStatus};
use aibt_engine::FillRule;
use common::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/backtesting_py/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn close(name: &str, ours: f64, theirs: f64, relative: f64) {
    let scale = theirs.abs().max(1e-12);
    assert!(
        ((ours - theirs) / scale).abs() <= relative,
        "{name}: aibt {ours}, backtesting.py {theirs} (relative error {:e})",
        ((ours - theirs) / scale).abs()
    );
}

fn number(stats: &Value, key: &str) -> f64 {
    match &stats[key] {
        Value::Number(n) => n.as_f64().expect("f64"),
        Value::String(s) => s.parse().expect("decimal string"),
        other => panic!("{key} is {other}"),
    }
}

/// A round trip: entry and exit time, signed size, entry and exit price, P&L, exit cause.
type Trip = (String, String, f64, f64, f64, f64, Option<ExitReason>);

/// Compares a run with a backtesting.py fixture, statistic by statistic and trade by trade.
fn assert_agrees(run: &Run, fixture: &Value) {
    let ours = run.stats();
    let theirs = &fixture["stats"];
    let equity = number(ours, "equity_final");
    let expected = theirs["Equity Final [$]"].as_f64().unwrap();
    assert!(
        (equity - expected).abs() < 0.005,
        "final equity: aibt {equity}, backtesting.py {expected}"
    );
    for (ours_key, theirs_key) in [
        ("equity_peak", "Equity Peak [$]"),
        ("return_pct", "Return [%]"),
        ("buy_hold_return_pct", "Buy & Hold Return [%]"),
        ("return_ann_pct", "Return (Ann.) [%]"),
        ("volatility_ann_pct", "Volatility (Ann.) [%]"),
        ("cagr_pct", "CAGR [%]"),
        ("sharpe_ratio", "Sharpe Ratio"),
        ("sortino_ratio", "Sortino Ratio"),
        ("calmar_ratio", "Calmar Ratio"),
        ("max_drawdown_pct", "Max. Drawdown [%]"),
        ("avg_drawdown_pct", "Avg. Drawdown [%]"),
        ("exposure_time_pct", "Exposure Time [%]"),
        ("win_rate_pct", "Win Rate [%]"),
        ("best_trade_pct", "Best Trade [%]"),
        ("worst_trade_pct", "Worst Trade [%]"),
        ("avg_trade_pct", "Avg. Trade [%]"),
        ("expectancy_pct", "Expectancy [%]"),
        ("sqn", "SQN"),
        ("kelly_criterion", "Kelly Criterion"),
    ] {
        close(
            ours_key,
            number(ours, ours_key),
            theirs[theirs_key].as_f64().unwrap(),
            1e-6,
        );
    }
    assert_eq!(ours["num_trades"], theirs["# Trades"]);
    for (ours_key, theirs_key) in [
        ("duration", "Duration"),
        ("max_drawdown_duration", "Max. Drawdown Duration"),
        ("avg_drawdown_duration", "Avg. Drawdown Duration"),
        ("max_trade_duration", "Max. Trade Duration"),
        ("avg_trade_duration", "Avg. Trade Duration"),
    ] {
        assert_eq!(ours[ours_key], theirs[theirs_key]["str"], "{ours_key}");
    }

    // Round trips, matched on entry time: backtesting.py lists them in closing order.
    let opens: std::collections::HashMap<&str, &aibt_store::TradeRecord> = run
        .trades
        .iter()
        .map(|t| (t.trade_id.as_str(), t))
        .collect();
    let mut trips: Vec<Trip> = run
        .trades
        .iter()
        .filter(|t| t.status == TradeStatus::Executed && t.open_id.is_some())
        .map(|close| {
            let open = opens[close.open_id.as_deref().unwrap()];
            let size = close.quantity.to_f64()
                * if matches!(close.trade_action, TradeAction::CoverShort) {
                    -1.0
                } else {
                    1.0
                };
            (
                open.trade_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
                close.trade_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
                size,
                open.price.to_f64(),
                close.price.to_f64(),
                close.realized_pnl.unwrap().to_f64(),
                close.exit_reason,
            )
        })
        .collect();
    trips.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<&Value> = fixture["trades"].as_array().unwrap().iter().collect();
    expected.sort_by_key(|t| t["EntryTime"].as_str().unwrap().to_string());
    assert_eq!(trips.len(), expected.len(), "number of round trips");
    for (ours, theirs) in trips.iter().zip(expected) {
        assert_eq!(ours.0, theirs["EntryTime"].as_str().unwrap(), "entry time");
        assert_eq!(
            ours.1,
            theirs["ExitTime"].as_str().unwrap(),
            "exit time of {}",
            ours.0
        );
        assert_eq!(
            ours.2,
            theirs["Size"].as_f64().unwrap(),
            "size of {}",
            ours.0
        );
        close(
            "entry price",
            ours.3,
            theirs["EntryPrice"].as_f64().unwrap(),
            1e-12,
        );
        let exit = theirs["ExitPrice"].as_f64().unwrap();
        if matches!(theirs["exit_reason"].as_str(), Some("SL" | "TP")) {
            // A stop or target level is a price times a factor: backtesting.py keeps the
            // float, aibt the amount at 8 places (half away from zero), no tick rounding.
            assert!(
                (ours.4 - exit).abs() <= 0.5e-8 + exit * 1e-15,
                "exit price of the trade entered {}: aibt {}, backtesting.py {exit}",
                ours.0,
                ours.4
            );
        } else {
            close("exit price", ours.4, exit, 1e-12);
        }
        assert!(
            (ours.5 - theirs["PnL"].as_f64().unwrap()).abs() < 0.005,
            "P&L of trade entered {}: aibt {}, backtesting.py {}",
            ours.0,
            ours.5,
            theirs["PnL"]
        );
        // backtesting.py names no exit cause; the order fixtures derive it from its rules.
        if let Some(reason) = theirs["exit_reason"].as_str() {
            let expected = match reason {
                "SL" => ExitReason::StopLoss,
                "TP" => ExitReason::TakeProfit,
                "signal" => ExitReason::Signal,
                other => panic!("unknown exit reason {other}"),
            };
            assert_eq!(
                ours.6,
                Some(expected),
                "exit of the trade entered {}",
                ours.0
            );
        }
    }

    // Profit factor is in money in aibt: gross profit over gross loss of the same trades.
    let pnls: Vec<f64> = fixture["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["PnL"].as_f64().unwrap())
        .collect();
    let profit: f64 = pnls.iter().filter(|p| **p > 0.0).sum();
    let loss: f64 = -pnls.iter().filter(|p| **p < 0.0).sum::<f64>();
    close(
        "profit_factor",
        number(ours, "profit_factor"),
        profit / loss,
        1e-6,
    );

    // Fees: every commission paid, including the entry of a trade still open at the end.
    let open_entry: f64 = fixture["open_trades_at_end"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["EntryCommission"].as_f64().unwrap())
        .sum();
    let fees = theirs["Commissions [$]"].as_f64().unwrap_or(0.0) + open_entry;
    assert!(
        (number(ours, "total_fees") - fees).abs() < 0.005,
        "total fees {} vs {fees}",
        ours["total_fees"]
    );

    // The textbook Sharpe: mean / std (ddof 1) of daily returns × √periods.
    let curve: Vec<f64> = fixture["equity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    if fixture["stats_context"]["returns_resample_freq"] == "D"
        && fixture["stats_context"]["data_period_seconds"] == 86400.0
    {
        let returns: Vec<f64> = curve.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let mean = returns.iter().sum::<f64>() / returns.len() as f64;
        let var =
            returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
        let periods = fixture["stats_context"]["annual_trading_days"]
            .as_f64()
            .unwrap();
        close(
            "sharpe_ratio_simple",
            number(ours, "sharpe_ratio_simple"),
            mean / var.sqrt() * periods.sqrt(),
            1e-6,
        );
    }
}

async fn scenario(name: &str, file: &str, granularity: TimeGranularity, cash: &str, short: bool) {
    let (_dir, store) = sqlite().await;
    let series = import(store.as_ref(), file, "X", MarketType::Us, granularity).await;
    let mut p = params(&[("fast", "10"), ("slow", "20")]);
    if short {
        p.insert("short".into(), "true".into());
    }
    let run = run_builtin(
        &store,
        &series,
        &settings(MarketType::Us, cash, "0.001"),
        "builtin:sma-cross",
        p,
        FillRule::NextOpen,
        1,
    )
    .await;
    assert_eq!(
        run.task.status,
        aibt_core::TaskStatus::Completed,
        "{:?}",
        run.task.error_message
    );
    assert_agrees(&run, &fixture(name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goog_sma_long_agrees_with_backtesting_py() {
    scenario(
        "goog_sma_long",
        "GOOG_1d.csv",
        TimeGranularity::Daily,
        "10000",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goog_sma_reverse_agrees_with_backtesting_py() {
    scenario(
        "goog_sma_reverse",
        "GOOG_1d.csv",
        TimeGranularity::Daily,
        "10000",
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eurusd_hourly_agrees_with_backtesting_py() {
    scenario(
        "eurusd_sma_long",
        "EURUSD_1h.csv",
        TimeGranularity::Hourly,
        "10000",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btcusd_hourly_agrees_with_backtesting_py() {
    scenario(
        "btcusd_1h_sma_long",
        "BTCUSD_1h.csv",
        TimeGranularity::Hourly,
        "100000",
        false,
    )
    .await;
}

/// A percent parameter from one of backtesting.py's price factors (0.95 → 5, 1.10 → 10).
fn percent_of(factor: f64) -> String {
    format!("{:.6}", (factor - 1.0).abs() * 100.0)
}

/// A bracket, limit or both, as the fixture's settings give them, on the SMA crossover.
async fn order_scenario(name: &str, granularity: TimeGranularity) {
    let fixture = fixture(name);
    let settings = &fixture["settings"];
    let (_dir, store) = sqlite().await;
    let file = settings["file"].as_str().unwrap();
    let series = import(store.as_ref(), file, "X", MarketType::Us, granularity).await;
    let mut p = params(&[("fast", "10"), ("slow", "20")]);
    if settings["mode"] == "reverse" {
        p.insert("short".into(), "true".into());
    }
    if let Some(factor) = settings["long_sl_factor"].as_f64() {
        p.insert("stop_loss_pct".into(), percent_of(factor));
    }
    if let Some(factor) = settings["long_tp_factor"].as_f64() {
        p.insert("take_profit_pct".into(), percent_of(factor));
    }
    // The short's bracket mirrors the long's: the same percentages, the other way.
    if let Some(factor) = settings["short_sl_factor"].as_f64() {
        assert_eq!(percent_of(factor), p["stop_loss_pct"]);
    }
    if let Some(factor) = settings["short_tp_factor"].as_f64() {
        assert_eq!(percent_of(factor), p["take_profit_pct"]);
    }
    if let Some(factor) = settings["limit_factor"].as_f64() {
        p.insert("limit_pct".into(), percent_of(factor));
    }
    if let Some(bars) = settings["order_ttl_bars"].as_u64() {
        p.insert("order_ttl_bars".into(), bars.to_string());
    }
    assert_eq!(
        settings["spread"], 0,
        "spread is backtesting.py's, not aibt's slippage"
    );
    let cash = settings["cash"].as_u64().unwrap().to_string();
    let run = run_builtin(
        &store,
        &series,
        &common::settings(MarketType::Us, &cash, "0.001"),
        "builtin:sma-cross",
        p,
        FillRule::NextOpen,
        1,
    )
    .await;
    assert_eq!(
        run.task.status,
        aibt_core::TaskStatus::Completed,
        "{:?}",
        run.task.error_message
    );
    assert_agrees(&run, &fixture);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_bracket_agrees_with_backtesting_py() {
    order_scenario("goog_sma_bracket", TimeGranularity::Daily).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirrored_short_bracket_agrees_with_backtesting_py() {
    order_scenario("goog_sma_bracket_reverse", TimeGranularity::Daily).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brackets_agree_on_hourly_bitcoin() {
    order_scenario("btcusd_1h_sma_bracket", TimeGranularity::Hourly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tight_brackets_exiting_on_their_entry_bar_agree() {
    order_scenario("eurusd_sma_bracket", TimeGranularity::Hourly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_entries_agree_with_backtesting_py() {
    order_scenario("goog_sma_limit", TimeGranularity::Daily).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_entries_with_brackets_agree_with_backtesting_py() {
    order_scenario("goog_sma_limit_bracket", TimeGranularity::Daily).await;
}
