//! The `capacity` a prompt shows is what the broker will honour: a model that orders exactly
//! the most it was told it can buy, and then exactly what it holds, is filled in full and never
//! refused, fees, minimum commission and whole units included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_core::{FillRule, MarketType, TaskStatus, TradeAction, TradeStatus};
use aibt_engine::TaskOptions;
use aibt_testkit::{FakeLlm, Reply, prompt_of};
use common::ai::*;
use serde_json::json;

const TEMPLATE: &str = "step {{ step }}\nclose {{ bars[-1].close }}\n\
capacity buy {{ capacity.buy }} sell {{ capacity.sell }} short {{ capacity.short }} \
cover {{ capacity.cover }} reversal {{ capacity.reversal }}\n";

/// The number after `name ` on the capacity line.
fn shown(prompt: &str, name: &str) -> String {
    let line = prompt.lines().nth(2).expect("capacity line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == name).expect(name);
    words[at + 1].to_string()
}

#[tokio::test]
async fn a_model_that_orders_its_capacity_is_filled_in_full() {
    let (_dir, store) = common::sqlite().await;
    let series = goog(store.as_ref()).await;
    // Buys everything it can, sells everything it has, in turn.
    let fake = FakeLlm::start(|_, body| {
        let prompt = prompt_of(body);
        let sell = shown(&prompt, "sell");
        let (action, quantity) = if sell.parse::<f64>().unwrap() > 0.0 {
            ("SELL", sell)
        } else {
            ("BUY", shown(&prompt, "buy"))
        };
        Reply::answer(
            json!({"action": action, "quantity": quantity, "confidence": 0.6, "reasoning": "all"})
                .to_string(),
        )
    })
    .await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    // A minimum commission that bites, and cash that is not a multiple of the price.
    let mut settings = common::settings(MarketType::Us, "10007.13", "0.0005");
    settings.min_commission = aibt_core::Money::parse("4.5").unwrap();
    let run = AiTask {
        store: &store,
        series: &series,
        settings: &settings,
        template: TEMPLATE,
        config: &config,
        // Filled at the close the capacity was computed at.
        options: TaskOptions {
            fill: FillRule::Close,
            ..uncached()
        },
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    assert_eq!(run.stats()["rejected_orders"], 0, "{:?}", run.trade_facts());
    let buys: Vec<_> = run
        .trades
        .iter()
        .filter(|t| t.trade_action == TradeAction::Buy)
        .collect();
    assert!(buys.len() >= 10, "{} buys", buys.len());
    for (decision, trade) in run.decisions.iter().zip(&run.trades) {
        assert_eq!(trade.status, TradeStatus::Executed);
        let prompt = decision.prompt.as_deref().unwrap();
        let told = match trade.trade_action {
            TradeAction::Buy => shown(prompt, "buy"),
            _ => shown(prompt, "sell"),
        };
        assert_eq!(
            trade.quantity.get(),
            told.parse::<aibt_core::Decimal>().unwrap(),
            "{prompt}"
        );
        // The capacity was the most: one more unit would not have been paid for.
        if trade.trade_action == TradeAction::Buy {
            let cash_after = trade.total_value_after.get() - trade.stock_market_value_after.get();
            let one_more = trade.price.get()
                * (aibt_core::Decimal::ONE + "0.0005".parse::<aibt_core::Decimal>().unwrap());
            assert!(cash_after < one_more, "{cash_after} left after {told}");
            // While flat the prompt says there is nothing to reverse.
            assert_eq!(shown(prompt, "reversal"), "None");
        }
    }
}
