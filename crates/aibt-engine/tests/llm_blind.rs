//! What a prompt may give away of when and what it is: blind prompts show neither the symbol
//! nor a date (on rebased prices, with quantities in rebased units both ways), and a period
//! before the model's knowledge cutoff carries a memorisation warning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_core::{MarketType, TaskStatus, TradeAction};
use aibt_engine::TaskOptions;
use aibt_engine::ai_config::AiConfigSpec;
use aibt_testkit::{FakeLlm, Reply, decision, prompt_of};
use common::ai::*;
use common::{settings, sqlite};
use serde_json::json;

#[tokio::test]
async fn blind_prompts_show_neither_the_symbol_nor_a_date() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = hashing_fake(Duration::ZERO).await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let account = settings(MarketType::Us, "10000", "0.001");
    let task = |blind| AiTask {
        store: &store,
        series: &series,
        settings: &account,
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: TaskOptions {
            blind,
            ..uncached()
        },
        period: period(),
        interval: 1,
    };
    let blind = task(true).run().await;
    let seen = task(false).run().await;
    let date = |text: &str| {
        text.as_bytes().windows(10).any(|w| {
            w[4] == b'-'
                && w[7] == b'-'
                && w.iter()
                    .enumerate()
                    .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        })
    };
    for row in &blind.decisions {
        let prompt = row.prompt.as_deref().expect("prompt");
        assert!(!prompt.contains("GOOG"), "{prompt}");
        assert!(!date(prompt), "{prompt}");
        assert!(prompt.contains("ASSET at bar "), "{prompt}");
    }
    assert!(seen.decisions.iter().all(|d| {
        d.prompt
            .as_deref()
            .is_some_and(|p| p.contains("GOOG") && date(p))
    }));
    // The prices are rebased, the money is real: both runs hold the same buy and hold return.
    assert_ne!(blind.decisions[0].prompt, seen.decisions[0].prompt);
    assert_eq!(
        blind.stats()["buy_hold_return_pct"],
        seen.stats()["buy_hold_return_pct"]
    );
    assert!(
        blind.trades.iter().all(|t| t.price.to_f64() > 300.0),
        "trades at real prices"
    );
}

#[tokio::test]
async fn a_period_before_the_models_cutoff_carries_a_memorisation_warning() {
    let (run, _) = run_against(
        |step, _, _| answer_for(step),
        |s| AiConfigSpec {
            knowledge_cutoff: chrono::NaiveDate::from_ymd_opt(2023, 10, 1),
            ..s
        },
        uncached(),
    )
    .await;
    let warning = run.stats()["memorisation_warning"]
        .as_str()
        .expect("warning");
    assert!(
        warning.contains("2023-10-01") && warning.contains("blind"),
        "{warning}"
    );

    let (run, _) = run_against(
        |step, _, _| answer_for(step),
        |s| AiConfigSpec {
            knowledge_cutoff: chrono::NaiveDate::from_ymd_opt(2011, 1, 1),
            ..s
        },
        uncached(),
    )
    .await;
    assert!(run.stats().get("memorisation_warning").is_none());
}

#[tokio::test]
async fn blind_quantities_are_in_rebased_units_both_ways() {
    let (_dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    // Step 0 buys 50 units as the prompt counts them; later steps hold.
    let fake = FakeLlm::start(|_, body| {
        let prompt = prompt_of(body);
        Reply::answer(if step_of(&prompt) == 0 {
            json!({"action": "BUY", "quantity": "50", "confidence": 0.9, "reasoning": "in"})
                .to_string()
        } else {
            decision("HOLD", 0.5, "wait")
        })
    })
    .await;
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let run = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: ACCOUNT_TEMPLATE,
        config: &config,
        options: TaskOptions {
            blind: true,
            ..uncached()
        },
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    // The rebasing reference: the first bar loaded for the task (30 shown + 100 of history).
    let history = store
        .bars_before(&series, period().0, 130)
        .await
        .expect("bars");
    let base = history[0].close.get();
    let real = (aibt_core::Decimal::from(5000) / base).floor();
    let buy = &run.trades[0];
    assert_eq!(buy.trade_action, TradeAction::Buy);
    assert_eq!(buy.quantity.get(), real, "50 rebased units at base {base}");
    let parsed = run.decisions[0].parsed_decision.as_ref().expect("parsed");
    assert_ne!(
        parsed["quantity"], "50",
        "the recorded decision is in real units"
    );
    // The next prompt shows the position in rebased units, not the real share count.
    let next = run.decisions[1].prompt.as_deref().expect("prompt");
    let shown: f64 = next
        .split("position LONG ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|q| q.parse().ok())
        .expect("a long position");
    let expected =
        real.to_string().parse::<f64>().unwrap() * base.to_string().parse::<f64>().unwrap() / 100.0;
    assert!(
        (shown - expected).abs() < 1e-6,
        "shown {shown}, expected {expected}"
    );
}
