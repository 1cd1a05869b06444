//! aibt against backtesting.py 0.6.6 on the same data, strategy and fees: final equity to the
//! cent, every statistic of the same name to 1e-6 relative, and every round trip (entry, exit,
//! size, P&L). The fixtures come from `tools/reference/backtesting_py_fixtures.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_core::{MarketType, TimeGranularity, TradeAction, TradeStatus};
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
    let mut trips: Vec<(String, String, f64, f64, f64, f64)> = run
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
        close(
            "exit price",
            ours.4,
            theirs["ExitPrice"].as_f64().unwrap(),
            1e-12,
        );
        assert!(
            (ours.5 - theirs["PnL"].as_f64().unwrap()).abs() < 0.005,
            "P&L of trade entered {}: aibt {}, backtesting.py {}",
            ours.0,
            ours.5,
            theirs["PnL"]
        );
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
        1e-9,
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
