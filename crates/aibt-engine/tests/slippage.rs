//! aibt's slippage against vectorbt 1.2.0, whose `slippage` moves every fill against the
//! trader as aibt's does (backtesting.py's `spread` adjusts only entries; see
//! tools/reference/README.md): every round trip's size, prices and P&L, and the final
//! equity to the cent. The fixtures come from `tools/reference/vectorbt_slippage_fixtures.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_core::{MarketType, Rate, TimeGranularity, TradeAction, TradeStatus};
use aibt_engine::FillRule;
use common::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/vectorbt/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

async fn scenario(name: &str, granularity: TimeGranularity) {
    let fixture = fixture(name);
    let s = &fixture["settings"];
    let whole = s["whole_units"].as_bool().unwrap();
    let market = if whole {
        MarketType::Us
    } else {
        MarketType::Coin
    };
    let (_dir, store) = sqlite().await;
    let series = import(
        store.as_ref(),
        s["file"].as_str().unwrap(),
        "X",
        market,
        granularity,
    )
    .await;
    let mut account = settings(
        market,
        &s["cash"].as_u64().unwrap().to_string(),
        &s["commission"].as_f64().unwrap().to_string(),
    );
    account.slippage = Rate::parse(&s["slippage"].as_f64().unwrap().to_string()).unwrap();
    let mut p = params(&[("fast", "10"), ("slow", "20")]);
    if s["mode"] == "reverse" {
        p.insert("short".into(), "true".into());
    }
    let run = run_builtin(
        &store,
        &series,
        &account,
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

    let opens: std::collections::HashMap<&str, &aibt_store::TradeRecord> = run
        .trades
        .iter()
        .map(|t| (t.trade_id.as_str(), t))
        .collect();
    let mut trips: Vec<_> = run
        .trades
        .iter()
        .filter(|t| t.status == TradeStatus::Executed && t.open_id.is_some())
        .map(|close| (opens[close.open_id.as_deref().unwrap()], close))
        .collect();
    trips.sort_by_key(|(open, _)| open.trade_time);
    let expected = fixture["trades"].as_array().unwrap();
    assert_eq!(trips.len(), expected.len(), "number of round trips");
    let near = |what: &str, ours: f64, theirs: f64| {
        // A slipped price is a price times (1 ± s): vectorbt keeps the float, aibt the amount
        // at 8 places, half away from zero.
        assert!(
            (ours - theirs).abs() <= 0.5e-8 + theirs.abs() * 1e-15,
            "{what}: aibt {ours}, vectorbt {theirs}"
        );
    };
    for ((open, close), theirs) in trips.iter().zip(expected) {
        let entered = open.trade_time.format("%Y-%m-%dT%H:%M:%S").to_string();
        assert_eq!(entered, theirs["EntryTime"].as_str().unwrap(), "entry time");
        assert_eq!(
            close.trade_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
            theirs["ExitTime"].as_str().unwrap(),
            "exit time of the trade entered {entered}"
        );
        let direction = if close.trade_action == TradeAction::CoverShort {
            "short"
        } else {
            "long"
        };
        assert_eq!(direction, theirs["Direction"], "direction of {entered}");
        // The size the rule gives (floor(cash / (P(1±s)(1+c))) on 8-place amounts); vectorbt's
        // float bookkeeping differs by a few 1e-8 on crypto (the README explains how).
        assert_eq!(
            close.quantity,
            aibt_core::Quantity::parse(theirs["rule_8dp_size"].as_str().unwrap()).unwrap(),
            "size of {entered}"
        );
        assert!(
            (close.quantity.to_f64() - theirs["Size"].as_f64().unwrap()).abs() <= 1e-7,
            "size of {entered}: aibt {}, vectorbt {}",
            close.quantity,
            theirs["Size"]
        );
        near(
            &format!("entry price of {entered}"),
            open.price.to_f64(),
            theirs["EntryPrice"].as_f64().unwrap(),
        );
        near(
            &format!("exit price of {entered}"),
            close.price.to_f64(),
            theirs["ExitPrice"].as_f64().unwrap(),
        );
        let pnl = close.realized_pnl.unwrap().to_f64();
        assert!(
            (pnl - theirs["PnL"].as_f64().unwrap()).abs() < 0.005,
            "P&L of the trade entered {entered}: aibt {pnl}, vectorbt {}",
            theirs["PnL"]
        );
    }
    let equity: f64 = run.stats()["equity_final"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| run.stats()["equity_final"].as_f64())
        .unwrap();
    let expected = fixture["final_equity"].as_f64().unwrap();
    assert!(
        (equity - expected).abs() < 0.005,
        "final equity: aibt {equity}, vectorbt {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slippage_on_every_fill_agrees_with_vectorbt() {
    scenario("goog_sma_slippage", TimeGranularity::Daily).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slippage_on_reversals_agrees_with_vectorbt() {
    scenario("goog_sma_slippage_reverse", TimeGranularity::Daily).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slippage_on_crypto_quantities_agrees_with_vectorbt() {
    scenario("btcusd_1h_sma_slippage", TimeGranularity::Hourly).await;
}
