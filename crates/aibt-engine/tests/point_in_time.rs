//! The point-in-time window, as a property of whole runs: changing any bar after decision t,
//! or any context item not yet visible at it (dated on its day or later), leaves every prompt
//! up to t byte-identical, whatever the template reads (bars, indicators, the account, what it
//! can trade, earlier decisions, dated context), and in tool mode every tool's result too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aibt_ai::llm::CacheMode;
use aibt_core::{
    Bar, Decimal, DecisionMode, MarketType, Money, Quantity, TaskStatus, TimeGranularity,
};
use aibt_engine::TaskOptions;
use aibt_store::{ContextItem, ImportMode, SeriesKey, Store};
use aibt_store_sqlite::SqliteStore;
use aibt_testkit::{FakeLlm, Reply, hashed_decision, prompt_of, tool_calls, tool_results};
use common::ai::*;
use common::{sample_bytes, settings};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every variable there is.
const FULL_TEMPLATE: &str = "step {{ step }} of {{ symbol }} ({{ market }}, {{ granularity }}) at {{ now }}, blind={{ blind }}\n\
{% for b in bars %}{{ b.time }} {{ b.open }} {{ b.high }} {{ b.low }} {{ b.close }} {{ b.volume }} {{ b.change_pct }} {{ b.sma_20 }} {{ b.ema_20 }} {{ b.rsi_14 }} {{ b.macd }} {{ b.macd_signal }} {{ b.macd_hist }} {{ b.bb_upper }} {{ b.bb_middle }} {{ b.bb_lower }} {{ b.atr_14 }}\n{% endfor %}\
{{ indicators }}\n{{ position }} cash={{ cash }} equity={{ equity }} {{ fees }}\n\
{% for d in last_decisions %}{{ d.time }} {{ d.action }} {{ d.confidence }} {{ d.reasoning }}\n{% endfor %}\
{{ capacity }} {{ orders }}\n{% for c in context %}{{ c }}\n{% endfor %}";

/// A context item for each day of `bars`, its values `salt` apart from day to day.
fn context_of(bars: &[Bar], salt: impl Fn(usize) -> i64) -> Vec<ContextItem> {
    bars.iter()
        .enumerate()
        .map(|(i, bar)| {
            ContextItem::new(
                "GOOG",
                bar.ts.date_naive(),
                None,
                json!({"trend": format!("t{}", salt(i)), "score": salt(i) as f64 / 7.0}),
                aibt_core::time::now(),
            )
        })
        .collect()
}

fn goog_bars() -> Vec<Bar> {
    let from = aibt_core::time::parse_timestamp("2011-06-01").expect("date");
    aibt_data::parse_bars(
        "GOOG_1d.csv",
        &sample_bytes("GOOG_1d.csv"),
        &aibt_data::ImportOptions::default(),
    )
    .expect("csv")
    .into_iter()
    .filter(|b| b.ts >= from && b.ts <= period().1)
    .collect()
}

/// `bar` with its prices times `permille / 1000` and its volume changed.
fn scaled(bar: &Bar, permille: i64) -> Bar {
    let scale = |price: Money| {
        Money::new(price.get() * Decimal::from(permille) / Decimal::from(1000)).expect("price")
    };
    Bar::new(
        bar.ts,
        scale(bar.open),
        scale(bar.high),
        scale(bar.low),
        scale(bar.close),
        Quantity::new(bar.volume.get() + Decimal::from(permille)).expect("volume"),
    )
    .expect("bar")
}

/// A fake that answers each prompt with its hashed decision; in tool mode it first calls
/// every lookup tool, with the largest counts, then submits that decision.
async fn hashing_model() -> FakeLlm {
    FakeLlm::start(|_, body| {
        let decision = hashed_decision(&prompt_of(body));
        if body.get("tools").is_none() {
            return Reply::answer(decision);
        }
        if tool_results(body).is_empty() {
            tool_calls(&[
                ("get_bars", json!({"count": 200})),
                ("get_indicator", json!({"name": "sma", "period": 20})),
                ("get_indicator", json!({"name": "ema", "period": 5})),
                ("get_indicator", json!({"name": "rsi", "period": 14})),
                ("get_indicator", json!({"name": "atr", "period": 14})),
                ("get_indicator", json!({"name": "bollinger", "period": 20})),
                ("get_indicator", json!({"name": "macd", "period": 26})),
                ("get_position", json!({})),
                ("get_decisions", json!({"count": 50})),
                ("get_context", json!({"count": 50})),
                ("validate_order", json!({"action": "BUY"})),
                (
                    "validate_order",
                    json!({"action": "SHORT", "quantity": "2"}),
                ),
            ])
        } else {
            tool_calls(&[("submit_decision", Value::String(decision))])
        }
    })
    .await
}

/// What each decision of a run over `bars` saw, in decision order: its prompt, and in tool
/// mode the results of its tools.
async fn prompts(
    bars: &[Bar],
    context: &[ContextItem],
    fake: &FakeLlm,
    (blind, tools): (bool, bool),
) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path().join("aibt.db"))
            .await
            .expect("open"),
    );
    let series = SeriesKey {
        symbol: "GOOG".into(),
        market_type: MarketType::Us,
        granularity: TimeGranularity::Daily,
    };
    store
        .import_bars(&series, bars.to_vec(), ImportMode::RefuseChanges)
        .await
        .expect("import");
    store.import_context(context).await.expect("context");
    let config = store_config(store.as_ref(), config_spec(&fake.base_url())).await;
    let run = AiTask {
        store: &store,
        series: &series,
        settings: &settings(MarketType::Us, "10000", "0.001"),
        template: FULL_TEMPLATE,
        config: &config,
        options: TaskOptions {
            cache: CacheMode::Off,
            blind,
            decision_mode: tools.then_some(DecisionMode::Tools),
            // Every lookup in one turn, and the submission.
            max_tool_calls: Some(13),
            ..TaskOptions::default()
        },
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    assert_eq!(
        run.task.status,
        TaskStatus::Completed,
        "{:?} {:?}",
        run.task.error_message,
        run.decisions.iter().find_map(|d| d.error.clone())
    );
    run.decisions
        .iter()
        .map(|d| {
            let prompt = d.prompt.clone().expect("prompt");
            match &d.tool_transcript {
                Some(transcript) => {
                    assert!(tools && transcript.as_array().is_some_and(|t| t.len() == 13));
                    format!("{prompt}\n{transcript}")
                }
                None => {
                    assert!(!tools, "a tool-mode decision without its transcript");
                    prompt
                }
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn changing_later_bars_leaves_earlier_prompts_byte_identical(
        t in 0usize..28,
        factors in proptest::collection::vec(500i64..1500, 40),
        blind in any::<bool>(),
        tools in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let fake = hashing_model().await;
            let bars = goog_bars();
            let period_start = bars.partition_point(|b| b.ts < period().0);
            let decision_bar = bars[period_start + t].ts;
            let mut changed = bars.clone();
            for (i, bar) in changed.iter_mut().filter(|b| b.ts > decision_bar).enumerate() {
                *bar = scaled(bar, factors[i % factors.len()]);
            }
            let context = context_of(&bars, |i| i as i64);
            let original = prompts(&bars, &context, &fake, (blind, tools)).await;
            let altered = prompts(&changed, &context, &fake, (blind, tools)).await;
            prop_assert_eq!(original.len(), altered.len());
            for step in 0..=t {
                prop_assert_eq!(&original[step], &altered[step], "prompt {} differs", step);
            }
            // The change is visible from the next decision on: the test can fail.
            prop_assert_ne!(&original[t + 1], &altered[t + 1]);
            Ok(())
        })?;
    }

    #[test]
    fn context_not_yet_visible_never_reaches_a_prompt(
        t in 0usize..28,
        salt in 1i64..1000,
        blind in any::<bool>(),
        tools in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let fake = hashing_model().await;
            let bars = goog_bars();
            let period_start = bars.partition_point(|b| b.ts < period().0);
            let decision_day = bars[period_start + t].ts.date_naive();
            let context = context_of(&bars, |i| i as i64);
            // Every item dated on the decision's day or later: not visible at decision t.
            let changed = context_of(&bars, |i| {
                if bars[i].ts.date_naive() >= decision_day { i as i64 + salt } else { i as i64 }
            });
            let original = prompts(&bars, &context, &fake, (blind, tools)).await;
            let altered = prompts(&bars, &changed, &fake, (blind, tools)).await;
            prop_assert_eq!(original.len(), altered.len());
            for step in 0..=t {
                prop_assert_eq!(&original[step], &altered[step], "prompt {} differs", step);
            }
            // The decision day's item is visible to the next decision: the test can fail.
            prop_assert_ne!(&original[t + 1], &altered[t + 1]);
            Ok(())
        })?;
    }
}
