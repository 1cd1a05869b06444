//! What a model task cost and how it chose: each decision's cost by the AI config's prices
//! (nothing from the cache), the task's total and per-decision cost, and the action mix that
//! flags a model answering the same whatever it is shown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_ai::llm::CacheMode;
use aibt_core::{Decimal, MarketType, Money, TaskStatus};
use aibt_engine::TaskOptions;
use aibt_engine::ai_config::AiConfigSpec;
use aibt_engine::budget::{Prices, Spend};
use aibt_testkit::{FakeLlm, Reply, decision};
use common::ai::*;
use serde_json::json;

fn priced(spec: AiConfigSpec) -> AiConfigSpec {
    AiConfigSpec {
        price_input_per_million: Some(Money::parse("0.15").unwrap()),
        price_output_per_million: Some(Money::parse("0.6").unwrap()),
        ..spec
    }
}

#[tokio::test]
async fn each_decision_costs_its_tokens_and_the_task_sums_them() {
    let (run, _fake) = run_against(|step, _, _| answer_for(step), priced, uncached()).await;
    assert_eq!(run.task.status, TaskStatus::Completed);
    let prices = Prices {
        input_per_million: Money::parse("0.15").unwrap(),
        output_per_million: Money::parse("0.6").unwrap(),
    };
    let mut total = Decimal::ZERO;
    for row in &run.decisions {
        // Computed here from the tokens the row records, independently of the engine's rule.
        let spend = Spend {
            prompt_tokens: row.prompt_tokens.unwrap() as u64,
            completion_tokens: row.completion_tokens.unwrap() as u64,
        };
        let expected = prices.cost(spend).round_dp(8);
        assert!(expected > Decimal::ZERO);
        assert_eq!(row.cost.map(|c| c.get()), Some(expected), "{row:?}");
        total += expected;
    }
    let stats = run.stats();
    assert_eq!(stats["cost"], json!(Money::new(total).unwrap().to_string()));
    let per = (total / Decimal::from(run.decisions.len() as u64)).round_dp(8);
    assert_eq!(
        stats["cost_per_decision"],
        json!(Money::new(per).unwrap().to_string())
    );
    // BUY, HOLD and SELL in turn: a third each, nothing flagged.
    assert_eq!(stats["degenerate"], false);
    let mix = &stats["action_mix"];
    assert_eq!(mix["decisions"], json!(run.decisions.len()));
    let thirds = mix["buy"].as_f64().unwrap() + mix["hold"].as_f64().unwrap();
    assert!(
        (mix["sell"].as_f64().unwrap() + thirds - 1.0).abs() < 1e-12,
        "{mix}"
    );
}

#[tokio::test]
async fn a_cached_decision_costs_nothing_and_no_prices_no_cost() {
    let (_dir, store) = common::sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = FakeLlm::start(|_, _| Reply::answer(decision("HOLD", 0.5, "wait"))).await;
    let config = store_config(store.as_ref(), priced(config_spec(&fake.base_url()))).await;
    let settings = common::settings(MarketType::Us, "10000", "0.001");
    let task = |cache| AiTask {
        store: &store,
        series: &series,
        settings: &settings,
        template: MARKET_TEMPLATE,
        config: &config,
        options: TaskOptions {
            cache,
            ..TaskOptions::default()
        },
        period: period(),
        interval: 1,
    };
    let first = task(CacheMode::ReadWrite).run().await;
    assert!(
        first
            .decisions
            .iter()
            .all(|d| d.cost.is_some_and(|c| c.get() > Decimal::ZERO))
    );
    let second = task(CacheMode::ReadOnly).run().await;
    assert!(second.decisions.iter().all(|d| d.cost == Some(Money::ZERO)));
    assert_eq!(second.stats()["cost"], json!("0.00000000"));
    // A model that holds every time is flagged.
    assert_eq!(second.stats()["degenerate"], true);
    assert_eq!(second.stats()["action_mix"]["dominant"], "HOLD");
    assert_eq!(second.stats()["action_mix"]["hold"], 1.0);

    let (unpriced, _fake) = run_against(|step, _, _| answer_for(step), |s| s, uncached()).await;
    assert!(unpriced.decisions.iter().all(|d| d.cost.is_none()));
    assert_eq!(unpriced.stats()["cost"], json!(null));
    assert_eq!(unpriced.stats()["cost_per_decision"], json!(null));
}
