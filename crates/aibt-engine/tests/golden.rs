//! Hand-computed ledgers run through the whole engine: shorting with margin, side-specific
//! commissions, the minimum commission, the sell-side tax, fractional crypto quantities on
//! real data, and refused orders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aibt_core::{MarketType, Money, Quantity, Rate, TimeGranularity, TradeAction, TradeStatus};
use aibt_engine::FillRule;
use aibt_store::{ImportMode, RecordQuery, SeriesKey, Store};
use common::*;

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

/// A daily series whose bars open and close at the given prices.
async fn flat_bars(
    store: &Arc<dyn Store>,
    symbol: &str,
    market: MarketType,
    closes: &[&str],
) -> SeriesKey {
    let mut csv = String::from("date,open,high,low,close,volume\n");
    for (day, close) in closes.iter().enumerate() {
        csv.push_str(&format!(
            "2024-01-{:02},{close},{close},{close},{close},1\n",
            day + 1
        ));
    }
    let bars = aibt_data::parse_bars(
        "synthetic.csv",
        csv.as_bytes(),
        &aibt_data::ImportOptions::default(),
    )
    .unwrap();
    let series = SeriesKey {
        symbol: symbol.into(),
        market_type: market,
        granularity: TimeGranularity::Daily,
    };
    store
        .import_bars(&series, bars, ImportMode::RefuseChanges)
        .await
        .unwrap();
    series
}

fn summary(run: &Run) -> Vec<(TradeAction, String, String, Option<String>)> {
    run.trades
        .iter()
        .map(|t| {
            (
                t.trade_action,
                t.quantity.to_string(),
                t.price.to_string(),
                t.open_id.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_margined_short_reverses_into_a_long_with_every_fee_charged() {
    let (_dir, store) = sqlite().await;
    let series = flat_bars(
        &store,
        "SYN",
        MarketType::Us,
        &["100", "101", "99", "98", "102", "103", "97"],
    )
    .await;
    let mut s = settings(MarketType::Us, "10000", "0.001");
    s.commission_rate_sell = Rate::parse("0.002").unwrap();
    s.tax_rate = Rate::parse("0.001").unwrap();
    s.min_commission = m("5");
    s.short_margin_ratio = Rate::parse("0.5").unwrap();
    let run = run_builtin(
        &store,
        &series,
        &s,
        "builtin:sma-cross",
        params(&[("fast", "1"), ("slow", "2"), ("short", "true")]),
        FillRule::NextOpen,
        1,
    )
    .await;
    let task_id = &run.task.task_id;
    // Death cross at bar 2 shorts at bar 3's open (98): each share locks 49 of margin and pays
    // 0.196 commission and 0.098 tax, so 202 shares (202 × 49.294 = 9957.388 ≤ 10000).
    // Golden cross at bar 4 buys at bar 5's open (103): first the short is covered, then
    // 8909.806 buys floor(8909.806 / 103.103) = 86 shares. The death cross on the last bar
    // has no next open to fill at.
    assert_eq!(
        summary(&run),
        vec![
            (
                TradeAction::ShortSell,
                "202.00000000".into(),
                "98.00000000".into(),
                None
            ),
            (
                TradeAction::CoverShort,
                "202.00000000".into(),
                "103.00000000".into(),
                Some(format!("{task_id}-t00000001"))
            ),
            (
                TradeAction::Buy,
                "86.00000000".into(),
                "103.00000000".into(),
                None
            ),
        ]
    );
    let short = &run.trades[0];
    assert_eq!(
        (short.commission, short.tax, short.margin_used_after),
        (m("39.592"), m("19.796"), m("9898"))
    );
    let cover = &run.trades[1];
    assert_eq!((cover.commission, cover.tax), (m("20.806"), Money::ZERO));
    // (98 − 103) × 202 = −1010, minus every fee of both legs.
    assert_eq!(cover.realized_pnl, Some(m("-1090.194")));
    assert_eq!(cover.margin_used_after, Money::ZERO);
    let buy = &run.trades[2];
    assert_eq!(buy.commission, m("8.858"));
    let stats = run.stats();
    assert_eq!(stats["equity_final"], "8384.94800000");
    assert_eq!(stats["total_fees"], "89.05200000");
    assert_eq!(stats["num_trades"], 1);

    let snapshots = store
        .list_snapshots(
            task_id,
            &RecordQuery {
                limit: 100,
                ..RecordQuery::default()
            },
        )
        .await
        .unwrap()
        .items;
    let values: Vec<String> = snapshots
        .iter()
        .map(|s| s.total_value.to_string())
        .collect();
    assert_eq!(
        values,
        [
            "10000.00000000",
            "10000.00000000",
            "10000.00000000",
            "9940.61200000",
            "9132.61200000",
            "8900.94800000",
            "8384.94800000"
        ]
    );
    let short_day = &snapshots[3];
    assert_eq!(short_day.stock_quantity, Quantity::parse("-202").unwrap());
    assert_eq!(short_day.margin_used, m("9898"));
    assert_eq!(short_day.short_avg_price, m("98"));
    assert_eq!(short_day.short_total_cost, m("19796"));
    assert_eq!(short_day.available_balance, m("42.612"));
    assert_eq!(short_day.current_balance, m("9940.612"));
    assert_eq!(short_day.profit_loss, m("-59.388"));
    assert_eq!(short_day.profit_loss_percent.to_string(), "-0.593880");
    assert_eq!(short_day.short_positions.len(), 1);
    let account = store.get_task_account(task_id).await.unwrap();
    assert_eq!(account.stock_quantity, Quantity::parse("86").unwrap());
    assert_eq!(account.available_balance, m("42.948"));
    assert_eq!(account.total_value, m("8384.948"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minimum_commission_binds_on_small_orders() {
    let (_dir, store) = sqlite().await;
    let series = flat_bars(&store, "MIN", MarketType::Us, &["10", "10", "12"]).await;
    let mut s = settings(MarketType::Us, "1000", "0.001");
    s.min_commission = m("5");
    s.tax_rate = Rate::parse("0.001").unwrap();
    let run = run_builtin(
        &store,
        &series,
        &s,
        "builtin:buy-and-hold",
        params(&[]),
        FillRule::Close,
        1,
    )
    .await;
    // Decided and filled at the first close: 0.1% of 990 is 0.99, so the minimum 5 applies
    // and 99 shares cost 995; buying is not taxed.
    let buy = &run.trades[0];
    assert_eq!(
        (buy.quantity, buy.commission, buy.tax),
        (Quantity::parse("99").unwrap(), m("5"), Money::ZERO)
    );
    assert_eq!(run.stats()["equity_final"], "1193.00000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sell_side_tax_is_charged_on_sales() {
    let (_dir, store) = sqlite().await;
    let series = flat_bars(
        &store,
        "TAX",
        MarketType::Us,
        &["100", "101", "99", "98", "102", "103", "97"],
    )
    .await;
    let mut s = settings(MarketType::Us, "10000", "0");
    s.tax_rate = Rate::parse("0.01").unwrap();
    let run = run_builtin(
        &store,
        &series,
        &s,
        "builtin:sma-cross",
        params(&[("fast", "1"), ("slow", "2")]),
        FillRule::NextOpen,
        1,
    )
    .await;
    // Golden cross at bar 4: 10000 / 103 buys 97 at bar 5's open; the death cross at bar 6
    // has no next bar, so nothing is sold and no tax is due.
    assert_eq!(
        summary(&run),
        vec![(
            TradeAction::Buy,
            "97.00000000".into(),
            "103.00000000".into(),
            None
        )]
    );
    assert_eq!(run.trades[0].tax, Money::ZERO);

    let run = run_builtin(
        &store,
        &series,
        &s,
        "builtin:sma-cross",
        params(&[("fast", "1"), ("slow", "2")]),
        FillRule::Close,
        1,
    )
    .await;
    // With fills at the close: bought at bar 4's close (102, 98 shares), sold at bar 6's
    // close (97): tax 1% of 9506 = 95.06.
    let sell = run
        .trades
        .iter()
        .find(|t| t.trade_action == TradeAction::Sell)
        .expect("a sale");
    assert_eq!(
        (sell.quantity, sell.price),
        (Quantity::parse("98").unwrap(), m("97"))
    );
    assert_eq!(sell.tax, m("95.06"));
    assert_eq!(sell.realized_pnl, Some(m("-585.06")));
    assert_eq!(run.stats()["equity_final"], "9414.94000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_trades_fractional_quantities_on_ethbtc() {
    let (_dir, store) = sqlite().await;
    let series = import(
        store.as_ref(),
        "ETHBTC_5m.csv",
        "ETHBTC",
        MarketType::Coin,
        TimeGranularity::Minute,
    )
    .await;
    let run = run_builtin(
        &store,
        &series,
        &settings(MarketType::Coin, "1", "0.001"),
        "builtin:buy-and-hold",
        params(&[]),
        FillRule::NextOpen,
        1,
    )
    .await;
    // Filled at bar 1's open, 0.09946999 BTC (0.09946999000000001 in the file): 10.04324022
    // ETH is the most whose rounded notional and commission fit in 1 BTC (computed
    // independently with Python's decimal module).
    let buy = &run.trades[0];
    assert_eq!(buy.quantity.to_string(), "10.04324022");
    assert_eq!(buy.price.to_string(), "0.09946999");
    assert_eq!(buy.total_amount.to_string(), "0.99900100");
    assert_eq!(buy.commission.to_string(), "0.00099900");
    assert_eq!(run.stats()["equity_final"], "1.04862044");
    assert_eq!(run.stats()["num_bars"], 5760);
    // Five-minute bars, seven days a week: annualised on 365 days.
    assert_eq!(run.stats()["periods_per_year"], 365.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_orders_are_recorded_and_counted() {
    let (_dir, store) = sqlite().await;
    let series = flat_bars(&store, "POOR", MarketType::Us, &["10", "10", "10"]).await;
    let mut s = settings(MarketType::Us, "3", "0.001");
    s.min_commission = m("5");
    let run = run_builtin(
        &store,
        &series,
        &s,
        "builtin:buy-and-hold",
        params(&[]),
        FillRule::NextOpen,
        1,
    )
    .await;
    assert_eq!(run.trades.len(), 1);
    let refused = &run.trades[0];
    assert_eq!(refused.status, TradeStatus::Failed);
    assert_eq!(
        refused.reject_reason.as_deref(),
        Some("insufficient cash: 3.00000000 available, one unit costs 15.00000000 with fees")
    );
    assert_eq!(
        refused.decision_id.as_deref(),
        Some(format!("{}-d000000000", run.task.task_id).as_str())
    );
    assert_eq!(run.stats()["rejected_orders"], 1);
    assert_eq!(run.stats()["num_trades"], 0);
    assert_eq!(run.stats()["equity_final"], "3.00000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_follow_the_interval_and_warm_up_uses_earlier_bars() {
    let (_dir, store) = sqlite().await;
    let series = import(
        store.as_ref(),
        "GOOG_1d.csv",
        "GOOG",
        MarketType::Us,
        TimeGranularity::Daily,
    )
    .await;
    let account_settings = settings(MarketType::Us, "10000", "0.001");
    let task = create(
        &store,
        &series,
        &account_settings,
        "builtin:sma-cross",
        params(&[]),
        FillRule::NextOpen,
        5,
    )
    .await;
    let run = run_to_end(&store, &task.task_id, &aibt_engine::RunConfig::new("w")).await;
    // The whole series: the first decision needs 20 bars behind it, and falls on a multiple
    // of 5, so decisions at bars 20, 25, … of 2148.
    assert_eq!(run.task.total_items, Some((2147 - 20) / 5 + 1));
    assert_eq!(run.task.processed_items, run.task.total_items.unwrap());

    // A period starting later is warmed up by the bars before it: the first bar decides.
    let start = chrono::DateTime::parse_from_rfc3339("2010-01-04T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let account = aibt_engine::accounts::new_account("acct-late", "GOOG", &account_settings, false);
    store.insert_account(&account).await.unwrap();
    let late = aibt_engine::create_task(
        store.as_ref(),
        aibt_engine::TaskSpec {
            account_id: "acct-late".into(),
            symbol: "GOOG".into(),
            market_type: MarketType::Us,
            granularity: TimeGranularity::Daily,
            start: Some(start),
            end: None,
            decision_interval: 1,
            strategy: aibt_engine::StrategyRef::builtin("sma-cross", Default::default()),
            options: Default::default(),
        },
    )
    .await
    .unwrap();
    let run = run_to_end(&store, &late.task_id, &aibt_engine::RunConfig::new("w")).await;
    let bars = run.stats()["num_bars"].as_i64().unwrap();
    assert_eq!(run.task.total_items, Some(bars));
    assert_eq!(run.stats()["start"], "2010-01-04T00:00:00Z");
}
